-- The issuer's store: the same tables as on SQLite, with PostgreSQL's types (every integer
-- is 64-bit, as SQLite's are).
CREATE TABLE wallets (
	wallet_id TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	currency TEXT NOT NULL,
	balance BIGINT NOT NULL CHECK (balance >= 0),
	pin_salt BYTEA NOT NULL,
	pin_hash BYTEA NOT NULL,
	pin_iterations BIGINT NOT NULL,
	failed_pins BIGINT NOT NULL DEFAULT 0,
	status TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE wallet_entries (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	wallet_id TEXT NOT NULL REFERENCES wallets(wallet_id),
	kind TEXT NOT NULL,
	amount BIGINT NOT NULL,
	reference TEXT NOT NULL,
	at BIGINT NOT NULL,
	UNIQUE (kind, reference)
);
CREATE TABLE payment_codes (
	code TEXT PRIMARY KEY,
	wallet_id TEXT NOT NULL REFERENCES wallets(wallet_id),
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL,
	used_by TEXT
);
CREATE TABLE app_requests (
	wallet_id TEXT NOT NULL,
	request_id TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	issuer_order_id TEXT NOT NULL,
	PRIMARY KEY (wallet_id, request_id)
);
CREATE TABLE orders (
	issuer_order_id TEXT PRIMARY KEY,
	acquirer_order_id TEXT NOT NULL UNIQUE,
	aggregator_order_id TEXT NOT NULL,
	merchant_id TEXT NOT NULL,
	merchant_name TEXT NOT NULL,
	scenario TEXT NOT NULL,
	wallet_id TEXT,
	payment_code TEXT,
	request_hash TEXT NOT NULL,
	credit_amount BIGINT NOT NULL,
	credit_currency TEXT NOT NULL,
	debit_amount BIGINT,
	rate_id BIGINT,
	expires_at BIGINT,
	instruction TEXT,
	status TEXT NOT NULL,
	reason TEXT,
	acquirer_informed BIGINT NOT NULL DEFAULT 0,
	void_state BIGINT NOT NULL DEFAULT 0,
	posting_id BIGINT,
	cycle BIGINT,
	block_number BIGINT,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX orders_by_status ON orders(status);
CREATE TABLE cycle_reconciliations (
	cycle BIGINT PRIMARY KEY,
	ran_at BIGINT NOT NULL,
	ok BIGINT NOT NULL,
	report TEXT NOT NULL
);
CREATE TABLE request_nonces (
	party TEXT NOT NULL,
	nonce TEXT NOT NULL,
	seen_at BIGINT NOT NULL,
	PRIMARY KEY (party, nonce)
);
CREATE INDEX request_nonces_by_age ON request_nonces(seen_at);
CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
