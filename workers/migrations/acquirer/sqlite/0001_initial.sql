-- The acquirer's store as its first release laid it out. IF NOT EXISTS: a store that release
-- created (before migrations were recorded) is taken over as it is.
CREATE TABLE IF NOT EXISTS aggregators (
	aggregator_id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	public_key TEXT NOT NULL,
	notify_url TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS merchants (
	merchant_id TEXT PRIMARY KEY,
	aggregator_id TEXT NOT NULL REFERENCES aggregators(aggregator_id),
	aggregator_merchant_id TEXT NOT NULL,
	name TEXT NOT NULL,
	city TEXT NOT NULL,
	mcc TEXT NOT NULL,
	status TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (aggregator_id, aggregator_merchant_id)
);
CREATE TABLE IF NOT EXISTS orders (
	order_id TEXT PRIMARY KEY,
	aggregator_id TEXT NOT NULL,
	aggregator_order_id TEXT NOT NULL,
	merchant_id TEXT NOT NULL REFERENCES merchants(merchant_id),
	scenario TEXT NOT NULL,
	amount INTEGER NOT NULL,
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
	posting_id INTEGER,
	cycle INTEGER,
	block_number INTEGER,
	block_hash TEXT,
	pay_by INTEGER,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (aggregator_id, aggregator_order_id)
);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders(status);
CREATE TABLE IF NOT EXISTS outbox (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	order_id TEXT NOT NULL REFERENCES orders(order_id),
	kind TEXT NOT NULL,
	target TEXT NOT NULL,
	body TEXT NOT NULL,
	status TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	last_error TEXT,
	delivered_at INTEGER,
	UNIQUE (order_id, kind)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at);
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
