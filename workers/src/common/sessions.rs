//! Sessions of people at a page: after a right secret (a wallet's PIN, a till's password) the
//! browser holds a random token for a short while and sends it with every call. The store
//! keeps only the token's SHA-256; a wallet's lock, or a till's new password, ends the
//! subject's sessions.

use crate::common::{
	now_ms,
	store::{Db, StoreResult},
};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

/// A table of sessions and the column naming whose they are.
pub struct Sessions {
	table: &'static str,
	subject: &'static str,
}

/// The wallet app's sessions (issuer).
pub const WALLETS: Sessions = Sessions { table: "wallet_sessions", subject: "wallet_id" };
/// The merchants' tills' sessions (acquirer).
pub const TILLS: Sessions = Sessions { table: "till_sessions", subject: "merchant_id" };

/// A session the browser was given: the token is shown once, here.
pub struct NewSession {
	pub token: String,
	pub expires_at: i64,
}

fn token_hash(token: &str) -> String {
	hex::encode(Sha256::digest(token.as_bytes()))
}

impl Sessions {
	/// Opens a session for `subject` lasting `ttl_ms`, and forgets every expired session.
	pub async fn open(&self, db: &Db, subject: &str, ttl_ms: i64) -> StoreResult<NewSession> {
		let token = hex::encode(rand::random::<[u8; 32]>());
		let now = now_ms();
		let expires_at = now + ttl_ms;
		let mut tx = db.begin().await?;
		sqlx::query(&format!("DELETE FROM {} WHERE expires_at <= $1", self.table))
			.bind(now)
			.execute(&mut *tx)
			.await?;
		sqlx::query(&format!(
			"INSERT INTO {} (token_hash, {}, created_at, expires_at) VALUES ($1, $2, $3, $4)",
			self.table, self.subject
		))
		.bind(token_hash(&token))
		.bind(subject)
		.bind(now)
		.bind(expires_at)
		.execute(&mut *tx)
		.await?;
		tx.commit().await?;
		Ok(NewSession { token, expires_at })
	}

	/// Whose unexpired session `token` is.
	pub async fn subject_of(&self, db: &Db, token: &str) -> StoreResult<Option<String>> {
		let row = sqlx::query(&format!(
			"SELECT {} FROM {} WHERE token_hash = $1 AND expires_at > $2",
			self.subject, self.table
		))
		.bind(token_hash(token))
		.bind(now_ms())
		.fetch_optional(db.pool())
		.await?;
		Ok(row.map(|r| r.try_get(0)).transpose()?)
	}

	/// Ends the session `token` (logging out); nothing if there is none.
	pub async fn close(&self, db: &Db, token: &str) -> StoreResult<()> {
		sqlx::query(&format!("DELETE FROM {} WHERE token_hash = $1", self.table))
			.bind(token_hash(token))
			.execute(db.pool())
			.await?;
		Ok(())
	}

	/// Ends every session of `subject`, in the caller's transaction (a lock does it).
	pub async fn close_all(&self, tx: &mut AnyConnection, subject: &str) -> StoreResult<()> {
		sqlx::query(&format!("DELETE FROM {} WHERE {} = $1", self.table, self.subject))
			.bind(subject)
			.execute(tx)
			.await?;
		Ok(())
	}
}
