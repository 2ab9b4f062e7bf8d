-- The wallet app logs in once with the wallet's id and PIN and then calls with a short-lived
-- session token, so that the PIN crosses the wire only to log in and to confirm a payment.
-- Only the token's SHA-256 is kept: a copy of the store gives no usable session.
CREATE TABLE wallet_sessions (
	token_hash TEXT PRIMARY KEY,
	wallet_id TEXT NOT NULL REFERENCES wallets(wallet_id),
	created_at BIGINT NOT NULL,
	expires_at BIGINT NOT NULL
);
CREATE INDEX wallet_sessions_by_wallet ON wallet_sessions(wallet_id);
CREATE INDEX wallet_sessions_by_expiry ON wallet_sessions(expires_at);
