-- Where an aggregator's notifications may go: the origins it registered beside its notify
-- URL's (newline-separated), and whether internal addresses are allowed for it. Existing
-- aggregators keep their notify URL's origin only, and public addresses only.
ALTER TABLE aggregators ADD COLUMN notify_origins TEXT NOT NULL DEFAULT '';
ALTER TABLE aggregators ADD COLUMN private_addresses BIGINT NOT NULL DEFAULT 0;
-- Each message travels in its recipient's lane ('issuer', or the aggregator's id), so that
-- one recipient that hangs delays no other; and its age decides when a notification is
-- given up.
ALTER TABLE outbox ADD COLUMN lane TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN created_at BIGINT NOT NULL DEFAULT 0;
UPDATE outbox SET lane = 'issuer' WHERE kind = 'DEBIT_REQUEST';
UPDATE outbox SET lane = (SELECT aggregator_id FROM orders WHERE orders.order_id = outbox.order_id)
	WHERE kind = 'NOTIFY';
UPDATE outbox SET created_at = (SELECT created_at FROM orders WHERE orders.order_id = outbox.order_id);
CREATE INDEX outbox_lanes ON outbox(status, lane, next_attempt_at);
