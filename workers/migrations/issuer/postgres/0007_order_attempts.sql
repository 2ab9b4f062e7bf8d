-- A merchant's dynamic-QR or in-app order stays payable when one payer's attempt fails, so
-- the issuer may hold several orders of one acquirer order: at most one that is not a failed
-- attempt of the wallet app. A payment code's order stays the only one of its acquirer order
-- (the acquirer's debit request is idempotent by it).
ALTER TABLE orders DROP CONSTRAINT orders_acquirer_order_id_key;
CREATE UNIQUE INDEX orders_one_live_attempt ON orders(acquirer_order_id)
	WHERE payment_code IS NOT NULL OR status NOT IN ('REJECTED', 'FAILED');
CREATE INDEX orders_by_acquirer_order ON orders(acquirer_order_id);
