-- A payment code pays without the PIN only up to the no-PIN limit: above it the order waits
-- for the payer to confirm in the wallet app (AWAITING_PAYER) until confirm_by, and
-- payer_confirmed records that the payer did.
ALTER TABLE orders ADD COLUMN confirm_by BIGINT;
ALTER TABLE orders ADD COLUMN payer_confirmed BIGINT NOT NULL DEFAULT 0;
CREATE INDEX orders_awaiting_payer ON orders(wallet_id, status);
