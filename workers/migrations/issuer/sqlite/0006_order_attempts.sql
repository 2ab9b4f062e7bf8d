-- A merchant's dynamic-QR or in-app order stays payable when one payer's attempt fails, so
-- the issuer may hold several orders of one acquirer order: at most one that is not a failed
-- attempt of the wallet app. A payment code's order stays the only one of its acquirer order
-- (the acquirer's debit request is idempotent by it).
-- SQLite cannot drop a column's UNIQUE: the table is made again without it.
CREATE TABLE orders_new (
	issuer_order_id TEXT PRIMARY KEY,
	acquirer_order_id TEXT NOT NULL,
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
	updated_at INTEGER NOT NULL,
	confirm_by INTEGER,
	payer_confirmed INTEGER NOT NULL DEFAULT 0
);
INSERT INTO orders_new (issuer_order_id, acquirer_order_id, aggregator_order_id, merchant_id, merchant_name, scenario, wallet_id, payment_code, request_hash, credit_amount, credit_currency, debit_amount, rate_id, expires_at, instruction, status, reason, acquirer_informed, void_state, posting_id, cycle, block_number, created_at, updated_at, confirm_by, payer_confirmed)
	SELECT issuer_order_id, acquirer_order_id, aggregator_order_id, merchant_id, merchant_name, scenario, wallet_id, payment_code, request_hash, credit_amount, credit_currency, debit_amount, rate_id, expires_at, instruction, status, reason, acquirer_informed, void_state, posting_id, cycle, block_number, created_at, updated_at, confirm_by, payer_confirmed FROM orders;
DROP TABLE orders;
ALTER TABLE orders_new RENAME TO orders;
CREATE INDEX orders_by_status ON orders(status);
CREATE INDEX orders_awaiting_payer ON orders(wallet_id, status);
CREATE UNIQUE INDEX orders_one_live_attempt ON orders(acquirer_order_id)
	WHERE payment_code IS NOT NULL OR status NOT IN ('REJECTED', 'FAILED');
CREATE INDEX orders_by_acquirer_order ON orders(acquirer_order_id);
