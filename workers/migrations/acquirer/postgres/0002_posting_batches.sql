-- Postings go to the chain in batches (`post_payments`). A batch is kept, with the signed
-- transaction, before it is submitted, so that a restart follows or resends exactly what was
-- signed. An order waiting to be posted is POSTING with no batch: that is the posting queue.
CREATE TABLE posting_batches (
	batch_id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	pending_tx TEXT NOT NULL,
	items BIGINT NOT NULL,
	created_at BIGINT NOT NULL,
	resolved_at BIGINT,
	outcome TEXT
);
CREATE INDEX posting_batches_open ON posting_batches(resolved_at);
ALTER TABLE orders ADD COLUMN batch_id BIGINT REFERENCES posting_batches(batch_id);
ALTER TABLE orders ADD COLUMN post_attempts BIGINT NOT NULL DEFAULT 0;
CREATE INDEX orders_by_batch ON orders(batch_id);
