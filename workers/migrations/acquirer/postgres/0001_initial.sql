-- The acquirer's store: the same tables as on SQLite, with PostgreSQL's types (every
-- integer is 64-bit, as SQLite's are).
CREATE TABLE aggregators (
	aggregator_id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	public_key TEXT NOT NULL,
	notify_url TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE TABLE merchants (
	merchant_id TEXT PRIMARY KEY,
	aggregator_id TEXT NOT NULL REFERENCES aggregators(aggregator_id),
	aggregator_merchant_id TEXT NOT NULL,
	name TEXT NOT NULL,
	city TEXT NOT NULL,
	mcc TEXT NOT NULL,
	status TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	UNIQUE (aggregator_id, aggregator_merchant_id)
);
CREATE TABLE orders (
	order_id TEXT PRIMARY KEY,
	aggregator_id TEXT NOT NULL,
	aggregator_order_id TEXT NOT NULL,
	merchant_id TEXT NOT NULL REFERENCES merchants(merchant_id),
	scenario TEXT NOT NULL,
	amount BIGINT NOT NULL,
	currency TEXT NOT NULL,
	description TEXT,
	notify_url TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	status TEXT NOT NULL,
	reason TEXT,
	payment_code TEXT,
	prepay_id TEXT UNIQUE,
	issuer_order_id TEXT UNIQUE,
	instruction TEXT,
	pending_tx TEXT,
	posting_id BIGINT,
	cycle BIGINT,
	block_number BIGINT,
	block_hash TEXT,
	pay_by BIGINT,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	UNIQUE (aggregator_id, aggregator_order_id)
);
CREATE INDEX orders_by_status ON orders(status);
CREATE TABLE outbox (
	id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	order_id TEXT NOT NULL REFERENCES orders(order_id),
	kind TEXT NOT NULL,
	target TEXT NOT NULL,
	body TEXT NOT NULL,
	status TEXT NOT NULL,
	attempts BIGINT NOT NULL DEFAULT 0,
	next_attempt_at BIGINT NOT NULL,
	last_error TEXT,
	delivered_at BIGINT,
	UNIQUE (order_id, kind)
);
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
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
