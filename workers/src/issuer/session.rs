//! The wallet app's sessions: after a right PIN the app holds a random token for a short
//! while and sends it with every call. The store keeps only the token's SHA-256, and a wallet
//! that locks loses its sessions.

use crate::common::{
	now_ms,
	store::{Db, StoreResult},
};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

/// A session the app was given: the token is shown once, here.
pub struct NewSession {
	pub token: String,
	pub expires_at: i64,
}

fn token_hash(token: &str) -> String {
	hex::encode(Sha256::digest(token.as_bytes()))
}

/// Opens a session for `wallet_id` lasting `ttl_ms`, and forgets every expired session.
pub async fn open(db: &Db, wallet_id: &str, ttl_ms: i64) -> StoreResult<NewSession> {
	let token = hex::encode(rand::random::<[u8; 32]>());
	let now = now_ms();
	let expires_at = now + ttl_ms;
	let mut tx = db.begin().await?;
	sqlx::query("DELETE FROM wallet_sessions WHERE expires_at <= $1")
		.bind(now)
		.execute(&mut *tx)
		.await?;
	sqlx::query(
		"INSERT INTO wallet_sessions (token_hash, wallet_id, created_at, expires_at)
		 VALUES ($1, $2, $3, $4)",
	)
	.bind(token_hash(&token))
	.bind(wallet_id)
	.bind(now)
	.bind(expires_at)
	.execute(&mut *tx)
	.await?;
	tx.commit().await?;
	Ok(NewSession { token, expires_at })
}

/// The wallet whose unexpired session `token` is.
pub async fn wallet_of(db: &Db, token: &str) -> StoreResult<Option<String>> {
	let row = sqlx::query(
		"SELECT wallet_id FROM wallet_sessions WHERE token_hash = $1 AND expires_at > $2",
	)
	.bind(token_hash(token))
	.bind(now_ms())
	.fetch_optional(db.pool())
	.await?;
	Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Ends the session `token` (logging out); nothing if there is none.
pub async fn close(db: &Db, token: &str) -> StoreResult<()> {
	sqlx::query("DELETE FROM wallet_sessions WHERE token_hash = $1")
		.bind(token_hash(token))
		.execute(db.pool())
		.await?;
	Ok(())
}

/// Ends every session of a wallet, in the caller's transaction (a lock does it).
pub async fn close_all(tx: &mut AnyConnection, wallet_id: &str) -> StoreResult<()> {
	sqlx::query("DELETE FROM wallet_sessions WHERE wallet_id = $1")
		.bind(wallet_id)
		.execute(tx)
		.await?;
	Ok(())
}
