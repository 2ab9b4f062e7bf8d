-- The merchant's till, a page in the shop: the cashier logs in with the merchant's id and a
-- till password the acquirer's operator set. Only the password's PBKDF2 hash is kept; wrong
-- passwords in a row lock the till's logins for a while.
CREATE TABLE till_logins (
	merchant_id TEXT PRIMARY KEY REFERENCES merchants(merchant_id),
	salt BYTEA NOT NULL,
	hash BYTEA NOT NULL,
	iterations BIGINT NOT NULL,
	failed_attempts BIGINT NOT NULL DEFAULT 0,
	locked_until BIGINT NOT NULL DEFAULT 0,
	updated_at BIGINT NOT NULL
);
-- A logged-in till holds a random token; only its SHA-256 is kept.
CREATE TABLE till_sessions (
	token_hash TEXT PRIMARY KEY,
	merchant_id TEXT NOT NULL REFERENCES merchants(merchant_id),
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX till_sessions_by_merchant ON till_sessions(merchant_id);
CREATE INDEX till_sessions_by_expiry ON till_sessions(expires_at);
-- Today's orders of one merchant, newest first, for its till.
CREATE INDEX orders_by_merchant ON orders(merchant_id, created_at);
