-- A wallet locked by wrong PINs is locked until a time, not until an operator unlocks it:
-- otherwise anyone could lock every wallet for good with a few requests each. locks counts
-- the locks in a row (each one twice as long); a right PIN clears it. Wallets locked before
-- this release stay locked for the first period from now.
ALTER TABLE wallets ADD COLUMN locked_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE wallets ADD COLUMN locks BIGINT NOT NULL DEFAULT 0;
UPDATE wallets SET locked_until = CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT) + 900000, locks = 1 WHERE status = 'LOCKED';
