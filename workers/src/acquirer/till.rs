//! The merchant's till: the page a cashier uses in the shop, logged in with the merchant's id
//! and a till password the acquirer's operator sets. A till acts for its merchant only, with
//! the merchant's aggregator's rights: its orders are the aggregator's, and the aggregator is
//! notified of them as of any other.

use super::{
	merchant::{self, Merchant},
	order::{self, Order, OrderError, OrderResult},
};
use crate::common::{
	auth, now_ms, sessions,
	store::{Db, StoreResult},
};
use sqlx::Row;

/// How a till's orders and refunds are named among its aggregator's: the till's request id
/// after this prefix, which the aggregator's own calls may not use.
pub const ID_PREFIX: &str = "till-";
/// Wrong passwords in a row before the till's logins are refused for [`LOCK_MS`].
pub const ATTEMPTS: i64 = 5;
/// How long a till's logins are refused after [`ATTEMPTS`] wrong passwords in a row.
pub const LOCK_MS: i64 = 15 * 60 * 1000;
/// PBKDF2-HMAC-SHA256 iterations of till passwords.
pub const ITERATIONS: u32 = 100_000;

/// Checks a new till password: long enough to resist guessing within the lock's pace.
pub fn check_password(password: &str) -> Result<(), crate::common::api::ApiError> {
	let length = password.chars().count();
	if !(10..=128).contains(&length) || password.chars().any(char::is_control) {
		return Err(crate::common::api::ApiError::invalid(
			"password",
			"must be 10 to 128 printable characters",
		));
	}
	Ok(())
}

/// Sets (or replaces) the till password of our merchant `merchant_id`; the till's sessions
/// end with the old password.
pub async fn set_password(db: &Db, merchant_id: &str, password: &str) -> OrderResult<()> {
	let salt: [u8; 16] = rand::random();
	let hash = {
		let password = password.to_string();
		tokio::task::spawn_blocking(move || auth::hash_secret(&password, &salt, ITERATIONS))
			.await
			.map_err(|e| OrderError::Store(crate::common::store::StoreError::unreadable("hash", e)))?
	};
	let mut tx = db.begin().await?;
	merchant::merchant(&mut tx, merchant_id).await?;
	sqlx::query(
		"INSERT INTO till_logins (merchant_id, salt, hash, iterations, failed_attempts,
		 locked_until, updated_at) VALUES ($1, $2, $3, $4, 0, 0, $5)
		 ON CONFLICT (merchant_id) DO UPDATE SET salt = $2, hash = $3, iterations = $4,
		 failed_attempts = 0, locked_until = 0, updated_at = $5",
	)
	.bind(merchant_id)
	.bind(salt.to_vec())
	.bind(hash.to_vec())
	.bind(ITERATIONS as i64)
	.bind(now_ms())
	.execute(&mut *tx)
	.await?;
	sessions::TILLS.close_all(&mut tx, merchant_id).await?;
	tx.commit().await?;
	Ok(())
}

/// The merchant, if `password` is its till's and its logins are not locked; `None` for every
/// refusal (no such merchant, no till password, a wrong password, a lock), which the till is
/// told alike, so that nobody learns which merchants have a till or how many guesses are left.
///
/// Each attempt is counted before the password is hashed, in one conditional statement, so
/// that guesses sent at once are counted as they arrive: at most [`ATTEMPTS`] are checked
/// before the lock, however many come together. A merchant without a till costs the same
/// hashing.
pub async fn log_in(db: &Db, merchant_id: &str, password: &str) -> StoreResult<Option<Merchant>> {
	let now = now_ms();
	let claimed = sqlx::query(
		"UPDATE till_logins SET failed_attempts = failed_attempts + 1, updated_at = $2
		 WHERE merchant_id = $1 AND locked_until <= $2 AND failed_attempts < $3",
	)
	.bind(merchant_id)
	.bind(now)
	.bind(ATTEMPTS)
	.execute(db.pool())
	.await?
	.rows_affected()
		== 1;
	let row = sqlx::query("SELECT salt, hash, iterations FROM till_logins WHERE merchant_id = $1")
		.bind(merchant_id)
		.fetch_optional(db.pool())
		.await?;
	let (salt, hash, iterations): (Vec<u8>, Vec<u8>, i64) = match &row {
		Some(r) => (r.try_get("salt")?, r.try_get("hash")?, r.try_get("iterations")?),
		None => (vec![0; 16], Vec::new(), ITERATIONS as i64),
	};
	let typed = password.to_string();
	let right = tokio::task::spawn_blocking(move || {
		auth::constant_time_eq(&auth::hash_secret(&typed, &salt, iterations as u32), &hash)
	})
	.await
	.map_err(|e| crate::common::store::StoreError::unreadable("hash", e))?;
	if !claimed {
		return Ok(None);
	}
	if right {
		sqlx::query("UPDATE till_logins SET failed_attempts = 0 WHERE merchant_id = $1")
			.bind(merchant_id)
			.execute(db.pool())
			.await?;
		return match merchant::get(db, merchant_id).await {
			Ok(m) => Ok(Some(m)),
			Err(OrderError::Store(e)) => Err(e),
			Err(_) => Ok(None),
		};
	}
	// The attempt that used up the count locks the till, and the count starts again after.
	sqlx::query(
		"UPDATE till_logins SET locked_until = $2, failed_attempts = 0
		 WHERE merchant_id = $1 AND failed_attempts >= $3",
	)
	.bind(merchant_id)
	.bind(now + LOCK_MS)
	.bind(ATTEMPTS)
	.execute(db.pool())
	.await?;
	Ok(None)
}

/// The merchant's orders made since `since` (ms), newest first, at most `limit`, with what
/// each has had refunded.
pub async fn orders_since(
	db: &Db,
	merchant_id: &str,
	since: i64,
	limit: i64,
) -> StoreResult<Vec<Order>> {
	let mut conn = db.conn().await?;
	let mut orders = order::of_merchant_since(&mut conn, merchant_id, since, limit).await?;
	for o in &mut orders {
		order::with_refunds(&mut conn, o).await?;
	}
	Ok(orders)
}
