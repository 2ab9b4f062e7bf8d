-- Refunds an aggregator asked for: all or part of a successful order, each under the
-- aggregator's refund id (its idempotency key) and ours, which is the refund id on chain.
CREATE TABLE refunds (
	refund_id TEXT PRIMARY KEY,
	aggregator_id TEXT NOT NULL,
	aggregator_refund_id TEXT NOT NULL,
	order_id TEXT NOT NULL REFERENCES orders(order_id),
	amount BIGINT NOT NULL,
	reason TEXT,
	notify_url TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	status TEXT NOT NULL,
	failure TEXT,
	debit_amount BIGINT,
	cycle BIGINT,
	block_number BIGINT,
	block_hash TEXT,
	-- The refund transaction last sent, until it is resolved: no other is sent while it can land.
	pending_tx TEXT,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	UNIQUE (aggregator_id, aggregator_refund_id)
);
CREATE INDEX refunds_by_order ON refunds(order_id);
CREATE INDEX refunds_by_status ON refunds(status);
CREATE SEQUENCE refund_numbers;
-- An order may owe several messages of one kind now (one per refund): a message is unique by
-- its order, kind and refund ('' for the order's own).
ALTER TABLE outbox ADD COLUMN refund_id TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox DROP CONSTRAINT outbox_order_id_kind_key;
ALTER TABLE outbox ADD CONSTRAINT outbox_order_kind_refund UNIQUE (order_id, kind, refund_id);
-- When the merchant asked to cancel the order (a micropay whose result its till never learned).
ALTER TABLE orders ADD COLUMN cancel_requested_at BIGINT;
-- The refunder looks for cancelled orders every second: only they are indexed.
CREATE INDEX orders_cancelled ON orders(cancel_requested_at) WHERE cancel_requested_at IS NOT NULL;
