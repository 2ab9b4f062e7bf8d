-- Refunds an aggregator asked for: all or part of a successful order, each under the
-- aggregator's refund id (its idempotency key) and ours, which is the refund id on chain.
CREATE TABLE refunds (
	refund_id TEXT PRIMARY KEY,
	aggregator_id TEXT NOT NULL,
	aggregator_refund_id TEXT NOT NULL,
	order_id TEXT NOT NULL REFERENCES orders(order_id),
	amount INTEGER NOT NULL,
	reason TEXT,
	notify_url TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	status TEXT NOT NULL,
	failure TEXT,
	debit_amount INTEGER,
	cycle INTEGER,
	block_number INTEGER,
	block_hash TEXT,
	-- The refund transaction last sent, until it is resolved: no other is sent while it can land.
	pending_tx TEXT,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (aggregator_id, aggregator_refund_id)
);
CREATE INDEX refunds_by_order ON refunds(order_id);
CREATE INDEX refunds_by_status ON refunds(status);
-- An order may owe several messages of one kind now (one per refund): a message is unique by
-- its order, kind and refund ('' for the order's own). SQLite cannot drop a table's UNIQUE:
-- the table is made again.
CREATE TABLE outbox_new (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	order_id TEXT NOT NULL REFERENCES orders(order_id),
	kind TEXT NOT NULL,
	refund_id TEXT NOT NULL DEFAULT '',
	target TEXT NOT NULL,
	body TEXT NOT NULL,
	status TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	last_error TEXT,
	delivered_at INTEGER,
	lane TEXT NOT NULL DEFAULT '',
	created_at INTEGER NOT NULL DEFAULT 0,
	UNIQUE (order_id, kind, refund_id)
);
INSERT INTO outbox_new (id, order_id, kind, target, body, status, attempts, next_attempt_at,
	last_error, delivered_at, lane, created_at)
	SELECT id, order_id, kind, target, body, status, attempts, next_attempt_at, last_error,
	delivered_at, lane, created_at FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
CREATE INDEX outbox_lanes ON outbox(status, lane, next_attempt_at);
-- When the merchant asked to cancel the order (a micropay whose result its till never learned).
ALTER TABLE orders ADD COLUMN cancel_requested_at INTEGER;
-- The refunder looks for cancelled orders every second: only they are indexed.
CREATE INDEX orders_cancelled ON orders(cancel_requested_at) WHERE cancel_requested_at IS NOT NULL;
