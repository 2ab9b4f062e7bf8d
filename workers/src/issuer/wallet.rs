//! HKD wallets: their PINs, their ledger and their one-time payment codes. Every money
//! movement is a ledger entry unique by its kind and reference, written in the same
//! transaction as the balance and the order status it belongs to: a debit or a reversal
//! happens once or not at all.

use crate::common::{
	api::ApiError,
	now_ms,
	store::{Db, StoreError, StoreResult},
};
use axum::http::StatusCode;
use serde::Serialize;
use sqlx::{any::AnyRow, AnyConnection, Row};

/// Whether a wallet can pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalletStatus {
	Active,
	/// Too many wrong PINs in a row; unlocked by admin.
	Locked,
}

crate::text_enum!(WalletStatus { Active => "ACTIVE", Locked => "LOCKED" });

/// Why a wallet's money moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
	Topup,
	Debit,
	Reversal,
	/// A merchant's refund, credited from the chain's record of it.
	Refund,
}

crate::text_enum!(EntryKind {
	Topup => "TOPUP",
	Debit => "DEBIT",
	Reversal => "REVERSAL",
	Refund => "REFUND",
});

/// One line of a wallet's history: money in or out, and what moved it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryLine {
	/// `TOPUP`, `DEBIT` (a payment), `REVERSAL` (a payment that never settled, given back) or
	/// `REFUND` (a merchant's refund of a payment).
	pub kind: EntryKind,
	/// Minor units of HKD: positive into the wallet, negative out of it.
	pub amount: i64,
	/// The top-up's id, the payment's issuer order id, or the refund's id.
	pub reference: String,
	/// The payment a debit, reversal or refund belongs to.
	pub issuer_order_id: Option<String>,
	pub merchant_name: Option<String>,
	/// The merchant's side of a payment or refund: minor units of CNY.
	pub merchant_amount: Option<i64>,
	pub at: i64,
}

/// The wallet's latest `limit` entries, newest first.
pub async fn history(db: &Db, wallet_id: &str, limit: i64) -> WalletResult<Vec<HistoryLine>> {
	let mut conn = db.conn().await?;
	wallet(&mut conn, wallet_id).await?.ok_or(WalletError::UnknownWallet)?;
	let rows = sqlx::query(
		"SELECT e.kind, e.amount, e.reference, e.at,
		 COALESCE(o.issuer_order_id, ro.issuer_order_id) AS issuer_order_id,
		 COALESCE(o.merchant_name, ro.merchant_name) AS merchant_name,
		 COALESCE(r.credit_amount, o.credit_amount) AS merchant_amount
		 FROM wallet_entries e
		 LEFT JOIN orders o ON e.kind IN ($2, $3) AND o.issuer_order_id = e.reference
		 LEFT JOIN refunds r ON e.kind = $4 AND r.refund_id = e.reference
		 LEFT JOIN orders ro ON ro.issuer_order_id = r.issuer_order_id
		 WHERE e.wallet_id = $1 ORDER BY e.id DESC LIMIT $5",
	)
	.bind(wallet_id)
	.bind(EntryKind::Debit)
	.bind(EntryKind::Reversal)
	.bind(EntryKind::Refund)
	.bind(limit)
	.fetch_all(&mut *conn)
	.await?;
	let line = |r: &AnyRow| -> StoreResult<HistoryLine> {
		Ok(HistoryLine {
			kind: r.try_get("kind")?,
			amount: r.try_get("amount")?,
			reference: r.try_get("reference")?,
			issuer_order_id: r.try_get("issuer_order_id")?,
			merchant_name: r.try_get("merchant_name")?,
			merchant_amount: r.try_get("merchant_amount")?,
			at: r.try_get("at")?,
		})
	};
	Ok(rows.iter().map(line).collect::<StoreResult<_>>()?)
}

/// What the issuer refuses of a wallet, by name.
#[derive(Debug, thiserror::Error)]
pub enum WalletError {
	#[error("no such wallet")]
	UnknownWallet,
	#[error("wallet {0} exists")]
	WalletExists(String),
	#[error("the wallet is locked")]
	WalletLocked,
	#[error("wrong PIN ({attempts_left} attempts left)")]
	WrongPin { attempts_left: u32 },
	#[error("the wallet's balance is too low")]
	InsufficientBalance,
	#[error("this topupId was used for another top-up")]
	TopupIdReused,
	#[error(transparent)]
	Store(#[from] StoreError),
}

impl From<sqlx::Error> for WalletError {
	fn from(e: sqlx::Error) -> Self {
		Self::Store(e.into())
	}
}

impl From<WalletError> for ApiError {
	fn from(e: WalletError) -> Self {
		let message = e.to_string();
		match e {
			WalletError::UnknownWallet => ApiError::not_found("UnknownWallet", message),
			WalletError::WalletExists(_) => ApiError::conflict("WalletExists", message),
			WalletError::WalletLocked => ApiError::new(StatusCode::LOCKED, "WalletLocked", message),
			WalletError::WrongPin { .. } => ApiError::unauthorized("WrongPin", message),
			WalletError::InsufficientBalance => {
				ApiError::unprocessable("InsufficientBalance", message)
			}
			WalletError::TopupIdReused => ApiError::conflict("IdempotencyKeyReused", message),
			WalletError::Store(e) => e.into(),
		}
	}
}

pub type WalletResult<T> = Result<T, WalletError>;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Wallet {
	pub wallet_id: String,
	pub holder: String,
	pub currency: String,
	/// Minor units (cents).
	pub balance: i64,
	/// `ACTIVE` or `LOCKED` (too many wrong PINs, until `lockedUntil`).
	pub status: WalletStatus,
	/// While `LOCKED`, when the lock ends (ms since the epoch).
	#[serde(skip_serializing_if = "Option::is_none")]
	pub locked_until: Option<i64>,
}

/// A wallet's status as it stands now: a lock whose time is over is no lock.
fn status_now(stored: WalletStatus, locked_until: i64) -> (WalletStatus, Option<i64>) {
	match stored {
		WalletStatus::Locked if now_ms() < locked_until => {
			(WalletStatus::Locked, Some(locked_until))
		}
		_ => (WalletStatus::Active, None),
	}
}

fn wallet_from(r: &AnyRow) -> StoreResult<Wallet> {
	let (status, locked_until) = status_now(r.try_get("status")?, r.try_get("locked_until")?);
	Ok(Wallet {
		wallet_id: r.try_get("wallet_id")?,
		holder: r.try_get("holder")?,
		currency: r.try_get("currency")?,
		balance: r.try_get("balance")?,
		status,
		locked_until,
	})
}

pub async fn wallet(tx: &mut AnyConnection, id: &str) -> StoreResult<Option<Wallet>> {
	let row = sqlx::query(
		"SELECT wallet_id, holder, currency, balance, status, locked_until FROM wallets
		 WHERE wallet_id = $1",
	)
	.bind(id)
	.fetch_optional(tx)
	.await?;
	row.as_ref().map(wallet_from).transpose()
}

/// The wallet, which must exist.
pub async fn get(db: &Db, id: &str) -> WalletResult<Wallet> {
	wallet(&mut *db.conn().await?, id).await?.ok_or(WalletError::UnknownWallet)
}

pub fn check_pin_format(pin: &str) -> Result<(), ApiError> {
	if pin.len() != 6 || !pin.bytes().all(|b| b.is_ascii_digit()) {
		return Err(ApiError::invalid("pin", "must be 6 digits"));
	}
	Ok(())
}

/// What checking a PIN needs of its wallet.
pub struct PinRecord {
	pub salt: Vec<u8>,
	pub hash: Vec<u8>,
	pub iterations: u32,
	pub locked: bool,
}

pub async fn pin_record(db: &Db, wallet_id: &str) -> WalletResult<PinRecord> {
	let row = sqlx::query(
		"SELECT pin_salt, pin_hash, pin_iterations, status, locked_until FROM wallets
		 WHERE wallet_id = $1",
	)
	.bind(wallet_id)
	.fetch_optional(db.pool())
	.await?
	.ok_or(WalletError::UnknownWallet)?;
	Ok(PinRecord {
		salt: row.try_get("pin_salt")?,
		hash: row.try_get("pin_hash")?,
		iterations: row.try_get::<i64, _>("pin_iterations")? as u32,
		locked: status_now(row.try_get("status")?, row.try_get("locked_until")?).0
			== WalletStatus::Locked,
	})
}

/// How wrong PINs lock a wallet: after `attempts` in a row, for `first_lock`, doubled for each
/// lock in a row, at most a day. A lock ends by itself: nobody can lock a wallet for good.
#[derive(Debug, Clone, Copy)]
pub struct PinPolicy {
	pub attempts: u32,
	pub first_lock: std::time::Duration,
}

impl PinPolicy {
	/// How long the `nth` lock in a row (1-based) lasts.
	pub fn lock_length(&self, nth: u32) -> std::time::Duration {
		let longest = std::time::Duration::from_secs(24 * 3600);
		let factor = 1u32.checked_shl(nth.saturating_sub(1).min(20)).unwrap_or(u32::MAX);
		self.first_lock.saturating_mul(factor).min(longest)
	}
}

/// Records a PIN attempt checked outside the store (hashing is slow; no transaction is held
/// meanwhile): a wrong one is counted and locks the wallet at the policy's limit (a wrong PIN
/// right after a lock ended locks it again, for twice as long), a right one clears the count.
/// The wallet when the PIN was right; a wrong PIN is counted (committed), then refused.
pub async fn record_pin_attempt(
	db: &Db,
	wallet_id: &str,
	right: bool,
	policy: PinPolicy,
) -> WalletResult<Wallet> {
	let mut tx = db.begin().await?;
	let wallet = wallet(&mut tx, wallet_id).await?.ok_or(WalletError::UnknownWallet)?;
	if wallet.status == WalletStatus::Locked {
		return Err(WalletError::WalletLocked);
	}
	if right {
		sqlx::query(
			"UPDATE wallets SET failed_pins = 0, locks = 0, status = $2 WHERE wallet_id = $1",
		)
		.bind(wallet_id)
		.bind(WalletStatus::Active)
		.execute(&mut *tx)
		.await?;
		tx.commit().await?;
		return Ok(wallet);
	}
	// The row stays locked by this update until the commit: concurrent attempts count one
	// after the other.
	let row = sqlx::query(
		"UPDATE wallets SET failed_pins = failed_pins + 1 WHERE wallet_id = $1
		 RETURNING failed_pins, locks",
	)
	.bind(wallet_id)
	.fetch_one(&mut *tx)
	.await?;
	let failed = row.try_get::<i64, _>("failed_pins")? as u32;
	if failed >= policy.attempts {
		let nth = row.try_get::<i64, _>("locks")? as u32 + 1;
		let until = now_ms() + policy.lock_length(nth).as_millis() as i64;
		sqlx::query(
			"UPDATE wallets SET status = $2, locks = $3, locked_until = $4 WHERE wallet_id = $1",
		)
		.bind(wallet_id)
		.bind(WalletStatus::Locked)
		.bind(nth as i64)
		.bind(until)
		.execute(&mut *tx)
		.await?;
		// Whoever holds a session must log in again once the lock is over.
		crate::common::sessions::WALLETS.close_all(&mut tx, wallet_id).await?;
	}
	tx.commit().await?;
	Err(WalletError::WrongPin { attempts_left: policy.attempts.saturating_sub(failed) })
}

/// A new wallet's id: `W` and 20 random hex digits (80 bits), so that knowing one wallet's
/// id tells nothing of another's.
fn random_wallet_id() -> String {
	format!("W{}", hex::encode_upper(rand::random::<[u8; 10]>()))
}

/// Opens an HKD wallet with its PIN's hash; `wallet_id` `None` gives it a random id.
pub async fn open(
	db: &Db,
	wallet_id: Option<String>,
	holder: &str,
	salt: &[u8],
	hash: &[u8],
	iterations: u32,
) -> WalletResult<Wallet> {
	let mut tx = db.begin().await?;
	let id = wallet_id.unwrap_or_else(random_wallet_id);
	let inserted = sqlx::query(
		"INSERT INTO wallets (wallet_id, holder, currency, balance, pin_salt, pin_hash,
		 pin_iterations, status, created_at) VALUES ($1, $2, 'HKD', 0, $3, $4, $5, $6, $7)
		 ON CONFLICT DO NOTHING",
	)
	.bind(&id)
	.bind(holder)
	.bind(salt.to_vec())
	.bind(hash.to_vec())
	.bind(iterations as i64)
	.bind(WalletStatus::Active)
	.bind(now_ms())
	.execute(&mut *tx)
	.await?;
	if inserted.rows_affected() == 0 {
		return Err(WalletError::WalletExists(id));
	}
	let wallet = wallet(&mut tx, &id).await?.ok_or(WalletError::UnknownWallet)?;
	tx.commit().await?;
	Ok(wallet)
}

/// Credits a top-up once per `topup_id`, with the reference of the external transfer that
/// funded it; the same top-up again changes nothing.
pub async fn top_up(
	db: &Db,
	wallet_id: &str,
	topup_id: &str,
	amount: i64,
	external_reference: &str,
) -> WalletResult<Wallet> {
	let mut tx = db.begin().await?;
	wallet(&mut tx, wallet_id).await?.ok_or(WalletError::UnknownWallet)?;
	let seen = sqlx::query(
		"SELECT wallet_id, amount, external_reference FROM wallet_entries
		 WHERE kind = $1 AND reference = $2",
	)
	.bind(EntryKind::Topup)
	.bind(topup_id)
	.fetch_optional(&mut *tx)
	.await?;
	match seen {
		Some(row)
			if row.try_get::<String, _>("wallet_id")? != wallet_id
				|| row.try_get::<i64, _>("amount")? != amount
				|| row.try_get::<Option<String>, _>("external_reference")?.as_deref()
					!= Some(external_reference) =>
		{
			return Err(WalletError::TopupIdReused)
		}
		Some(_) => {}
		None => {
			book(&mut tx, wallet_id, EntryKind::Topup, amount, topup_id).await?;
			sqlx::query(
				"UPDATE wallet_entries SET external_reference = $3 WHERE kind = $1 AND reference = $2",
			)
			.bind(EntryKind::Topup)
			.bind(topup_id)
			.bind(external_reference)
			.execute(&mut *tx)
			.await?;
		}
	}
	let wallet = wallet(&mut tx, wallet_id).await?.ok_or(WalletError::UnknownWallet)?;
	tx.commit().await?;
	Ok(wallet)
}

/// One top-up as the reconciliation report lists it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TopupLine {
	pub topup_id: String,
	pub wallet_id: String,
	pub amount: i64,
	/// The external transfer that funded it; absent for top-ups made before references.
	pub reference: Option<String>,
	pub at: i64,
}

/// What the wallets owe their holders, and the top-ups that funded them.
#[derive(Debug, Clone)]
pub struct Liabilities {
	/// The sum of every wallet's balance (HKD minor units).
	pub wallet_balances: i64,
	pub topup_count: i64,
	pub topup_total: i64,
	/// Top-ups without an external reference (made before references were required).
	pub unreferenced_topups: i64,
	/// The latest top-ups, newest first.
	pub recent_topups: Vec<TopupLine>,
}

/// The wallets' liabilities and their top-ups, read in one transaction.
pub async fn liabilities(db: &Db, recent: i64) -> WalletResult<Liabilities> {
	let mut tx = db.begin().await?;
	let balances: i64 =
		sqlx::query("SELECT CAST(COALESCE(SUM(balance), 0) AS BIGINT) FROM wallets")
			.fetch_one(&mut *tx)
			.await?
			.try_get(0)?;
	let totals = sqlx::query(
		"SELECT COUNT(*), CAST(COALESCE(SUM(amount), 0) AS BIGINT),
			COUNT(*) - COUNT(external_reference)
		 FROM wallet_entries WHERE kind = $1",
	)
	.bind(EntryKind::Topup)
	.fetch_one(&mut *tx)
	.await?;
	let rows = sqlx::query(
		"SELECT reference, wallet_id, amount, external_reference, at FROM wallet_entries
		 WHERE kind = $1 ORDER BY id DESC LIMIT $2",
	)
	.bind(EntryKind::Topup)
	.bind(recent)
	.fetch_all(&mut *tx)
	.await?;
	let recent_topups = rows
		.iter()
		.map(|r| {
			Ok(TopupLine {
				topup_id: r.try_get(0)?,
				wallet_id: r.try_get(1)?,
				amount: r.try_get(2)?,
				reference: r.try_get(3)?,
				at: r.try_get(4)?,
			})
		})
		.collect::<Result<_, sqlx::Error>>()?;
	tx.commit().await?;
	Ok(Liabilities {
		wallet_balances: balances,
		topup_count: totals.try_get(0)?,
		topup_total: totals.try_get(1)?,
		unreferenced_topups: totals.try_get(2)?,
		recent_topups,
	})
}

/// After the holder proved who they are by other means: active again, wrong PINs forgotten.
pub async fn unlock(db: &Db, wallet_id: &str) -> WalletResult<Wallet> {
	let mut tx = db.begin().await?;
	let changed = sqlx::query(
		"UPDATE wallets SET status = $2, failed_pins = 0, locks = 0, locked_until = 0
			 WHERE wallet_id = $1",
	)
	.bind(wallet_id)
	.bind(WalletStatus::Active)
	.execute(&mut *tx)
	.await?;
	if changed.rows_affected() == 0 {
		return Err(WalletError::UnknownWallet);
	}
	let wallet = wallet(&mut tx, wallet_id).await?.ok_or(WalletError::UnknownWallet)?;
	tx.commit().await?;
	Ok(wallet)
}

/// Moves money in or out of a wallet once per (kind, reference); false if that entry exists
/// already.
pub async fn book(
	tx: &mut AnyConnection,
	wallet_id: &str,
	kind: EntryKind,
	amount: i64,
	reference: &str,
) -> WalletResult<bool> {
	let inserted = sqlx::query(
		"INSERT INTO wallet_entries (wallet_id, kind, amount, reference, at)
		 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
	)
	.bind(wallet_id)
	.bind(kind)
	.bind(amount)
	.bind(reference)
	.bind(now_ms())
	.execute(&mut *tx)
	.await?;
	if inserted.rows_affected() == 0 {
		return Ok(false);
	}
	let updated = sqlx::query(
		"UPDATE wallets SET balance = balance + $2 WHERE wallet_id = $1 AND balance + $2 >= 0",
	)
	.bind(wallet_id)
	.bind(amount)
	.execute(&mut *tx)
	.await?;
	if updated.rows_affected() == 0 {
		return Err(WalletError::InsufficientBalance);
	}
	Ok(true)
}

/// A new one-time payment code of `prefix` and random digits (18 in all) for the wallet,
/// valid for `ttl_ms`; the code and its expiry.
pub async fn new_code(
	db: &Db,
	wallet_id: &str,
	prefix: &str,
	ttl_ms: i64,
) -> StoreResult<(String, i64)> {
	let mut conn = db.conn().await?;
	loop {
		let digits: String =
			(0..18 - prefix.len()).map(|_| char::from(b'0' + rand::random::<u8>() % 10)).collect();
		let code = format!("{prefix}{digits}");
		let expires_at = now_ms() + ttl_ms;
		let inserted = sqlx::query(
			"INSERT INTO payment_codes (code, wallet_id, created_at, expires_at)
			 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
		)
		.bind(&code)
		.bind(wallet_id)
		.bind(now_ms())
		.bind(expires_at)
		.execute(&mut *conn)
		.await?;
		if inserted.rows_affected() == 1 {
			return Ok((code, expires_at));
		}
	}
}

/// The wallet a payment code belongs to.
pub async fn code_owner(tx: &mut AnyConnection, code: &str) -> StoreResult<Option<String>> {
	let row = sqlx::query("SELECT wallet_id FROM payment_codes WHERE code = $1")
		.bind(code)
		.fetch_optional(tx)
		.await?;
	Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Spends a payment code for order `order_id` (single use: spent whatever then happens to
/// the payment). `None` if there is no such code; else its wallet, or why it cannot pay.
pub async fn spend_code(
	tx: &mut AnyConnection,
	code: &str,
	order_id: &str,
) -> StoreResult<Option<Result<String, &'static str>>> {
	let Some(row) =
		sqlx::query("SELECT wallet_id, expires_at, used_by FROM payment_codes WHERE code = $1")
			.bind(code)
			.fetch_optional(&mut *tx)
			.await?
	else {
		return Ok(None);
	};
	let used_by: Option<String> = row.try_get("used_by")?;
	match used_by.as_deref() {
		// Spent for this order while it was valid (an order that waited for its payer's
		// confirmation comes back to it).
		Some(by) if by == order_id => return Ok(Some(Ok(row.try_get("wallet_id")?))),
		Some(_) => return Ok(Some(Err("PaymentCodeUsed"))),
		None => {}
	}
	if row.try_get::<i64, _>("expires_at")? < now_ms() {
		return Ok(Some(Err("PaymentCodeExpired")));
	}
	// Taken only if still free (or already ours): a concurrent spender loses.
	let taken = sqlx::query(
		"UPDATE payment_codes SET used_by = $2 WHERE code = $1 AND (used_by IS NULL OR used_by = $2)",
	)
	.bind(code)
	.bind(order_id)
	.execute(&mut *tx)
	.await?;
	if taken.rows_affected() == 0 {
		return Ok(Some(Err("PaymentCodeUsed")));
	}
	Ok(Some(Ok(row.try_get("wallet_id")?)))
}
