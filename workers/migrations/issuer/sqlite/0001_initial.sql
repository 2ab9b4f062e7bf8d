-- The issuer's store as its first release laid it out. IF NOT EXISTS: a store that release
-- created (before migrations were recorded) is taken over as it is.
CREATE TABLE IF NOT EXISTS wallets (
	wallet_id TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	currency TEXT NOT NULL,
	balance INTEGER NOT NULL CHECK (balance >= 0),
	pin_salt BLOB NOT NULL,
	pin_hash BLOB NOT NULL,
	pin_iterations INTEGER NOT NULL,
	failed_pins INTEGER NOT NULL DEFAULT 0,
	status TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS wallet_entries (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	wallet_id TEXT NOT NULL REFERENCES wallets(wallet_id),
	kind TEXT NOT NULL,
	amount INTEGER NOT NULL,
	reference TEXT NOT NULL,
	at INTEGER NOT NULL,
	UNIQUE (kind, reference)
);
CREATE TABLE IF NOT EXISTS payment_codes (
	code TEXT PRIMARY KEY,
	wallet_id TEXT NOT NULL REFERENCES wallets(wallet_id),
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_by TEXT
);
CREATE TABLE IF NOT EXISTS app_requests (
	wallet_id TEXT NOT NULL,
	request_id TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	issuer_order_id TEXT NOT NULL,
	PRIMARY KEY (wallet_id, request_id)
);
CREATE TABLE IF NOT EXISTS orders (
	issuer_order_id TEXT PRIMARY KEY,
	acquirer_order_id TEXT NOT NULL UNIQUE,
	aggregator_order_id TEXT NOT NULL,
	merchant_id TEXT NOT NULL,
	merchant_name TEXT NOT NULL,
	scenario TEXT NOT NULL,
	wallet_id TEXT,
	payment_code TEXT,
	request_hash TEXT NOT NULL,
	credit_amount INTEGER NOT NULL,
	credit_currency TEXT NOT NULL,
	debit_amount INTEGER,
	rate_id INTEGER,
	expires_at INTEGER,
	instruction TEXT,
	status TEXT NOT NULL,
	reason TEXT,
	acquirer_informed INTEGER NOT NULL DEFAULT 0,
	void_state INTEGER NOT NULL DEFAULT 0,
	posting_id INTEGER,
	cycle INTEGER,
	block_number INTEGER,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders(status);
CREATE TABLE IF NOT EXISTS cycle_reconciliations (
	cycle INTEGER PRIMARY KEY,
	ran_at INTEGER NOT NULL,
	ok INTEGER NOT NULL,
	report TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS request_nonces (
	party TEXT NOT NULL,
	nonce TEXT NOT NULL,
	seen_at INTEGER NOT NULL,
	PRIMARY KEY (party, nonce)
);
CREATE INDEX IF NOT EXISTS request_nonces_by_age ON request_nonces(seen_at);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
