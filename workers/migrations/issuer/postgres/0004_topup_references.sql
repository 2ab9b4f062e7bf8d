-- A top-up names the external transfer that funded it (a bank transfer's or FPS payment's
-- reference), so that the issuer's reconciliation lists it beside the settlement account it
-- must be backed by. Top-ups made before this release have none.
ALTER TABLE wallet_entries ADD COLUMN external_reference TEXT;
