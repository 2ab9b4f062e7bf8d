//! The issuer's tables: wallets and their ledger, payment codes, orders. Every money movement
//! is a ledger entry unique by its kind and reference, written in the same transaction as the
//! balance and the order status it belongs to: a debit or a reversal happens once or not at all.

use crate::common::{api::ApiError, iso_status, now_ms};
use pbkdf2::pbkdf2_hmac;
use rusqlite::{params, OptionalExtension, Row, Transaction};
use serde::Serialize;
use sha2::Sha256;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS wallets (
	wallet_id TEXT PRIMARY KEY,
	holder TEXT NOT NULL,
	currency TEXT NOT NULL,
	balance INTEGER NOT NULL CHECK (balance >= 0),
	pin_salt BLOB NOT NULL,
	pin_hash BLOB NOT NULL,
	pin_iterations INTEGER NOT NULL,
	failed_pins INTEGER NOT NULL DEFAULT 0,
	status TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS wallet_entries (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	wallet_id TEXT NOT NULL REFERENCES wallets(wallet_id),
	kind TEXT NOT NULL,
	amount INTEGER NOT NULL,
	reference TEXT NOT NULL,
	at INTEGER NOT NULL,
	UNIQUE (kind, reference)
);
CREATE TABLE IF NOT EXISTS payment_codes (
	code TEXT PRIMARY KEY,
	wallet_id TEXT NOT NULL REFERENCES wallets(wallet_id),
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_by TEXT
);
CREATE TABLE IF NOT EXISTS app_requests (
	wallet_id TEXT NOT NULL,
	request_id TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	issuer_order_id TEXT NOT NULL,
	PRIMARY KEY (wallet_id, request_id)
);
CREATE TABLE IF NOT EXISTS orders (
	issuer_order_id TEXT PRIMARY KEY,
	acquirer_order_id TEXT NOT NULL UNIQUE,
	aggregator_order_id TEXT NOT NULL,
	merchant_id TEXT NOT NULL,
	merchant_name TEXT NOT NULL,
	scenario TEXT NOT NULL,
	wallet_id TEXT,
	payment_code TEXT,
	request_hash TEXT NOT NULL,
	credit_amount INTEGER NOT NULL,
	credit_currency TEXT NOT NULL,
	debit_amount INTEGER,
	rate_id INTEGER,
	expires_at INTEGER,
	instruction TEXT,
	status TEXT NOT NULL,
	reason TEXT,
	acquirer_informed INTEGER NOT NULL DEFAULT 0,
	void_state INTEGER NOT NULL DEFAULT 0,
	posting_id INTEGER,
	cycle INTEGER,
	block_number INTEGER,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders(status);
";

/// Columns added to `orders` after its first release, for stores created before them.
pub const ADDED_COLUMNS: &[(&str, &str, &str)] =
	&[("orders", "void_state", "INTEGER NOT NULL DEFAULT 0")];

/// Where voiding a debited order's instruction stands: `NONE`, `WANTED` (the acquirer answered
/// FAILURE: the instruction is voided on chain before the debit is given back) or `REFUSED`
/// (the chain refused the void by name: the debit waits for the instruction's expiry).
pub mod void_state {
	pub const NONE: i64 = 0;
	pub const WANTED: i64 = 1;
	pub const REFUSED: i64 = 2;
}

/// `RECEIVED` (not yet debited), `DEBITED` (instruction signed, bookkeeping under way),
/// `SUCCESS` (posted in a finalized block), `FAILED` (debited, then reversed), `REJECTED`
/// (refused before any debit), `UNKNOWN` (left for reconciliation).
pub mod status {
	pub const RECEIVED: &str = "RECEIVED";
	pub const DEBITED: &str = "DEBITED";
	pub const SUCCESS: &str = "SUCCESS";
	pub const FAILED: &str = "FAILED";
	pub const REJECTED: &str = "REJECTED";
	pub const UNKNOWN: &str = "UNKNOWN";

	pub fn is_final(s: &str) -> bool {
		matches!(s, SUCCESS | FAILED | REJECTED)
	}
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Wallet {
	pub wallet_id: String,
	pub holder: String,
	pub currency: String,
	/// Minor units (cents).
	pub balance: i64,
	/// `ACTIVE` or `LOCKED` (too many wrong PINs).
	pub status: String,
}

pub fn wallet(tx: &Transaction, id: &str) -> Result<Option<Wallet>, ApiError> {
	Ok(tx
		.query_row(
			"SELECT wallet_id, holder, currency, balance, status FROM wallets WHERE wallet_id = ?1",
			params![id],
			|r| {
				Ok(Wallet {
					wallet_id: r.get(0)?,
					holder: r.get(1)?,
					currency: r.get(2)?,
					balance: r.get(3)?,
					status: r.get(4)?,
				})
			},
		)
		.optional()?)
}

pub fn hash_pin(pin: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
	let mut out = [0u8; 32];
	pbkdf2_hmac::<Sha256>(pin.as_bytes(), salt, iterations, &mut out);
	out
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

pub fn pin_record(tx: &Transaction, wallet_id: &str) -> Result<Option<PinRecord>, ApiError> {
	Ok(tx
		.query_row(
			"SELECT pin_salt, pin_hash, pin_iterations, status FROM wallets WHERE wallet_id = ?1",
			params![wallet_id],
			|r| {
				Ok(PinRecord {
					salt: r.get(0)?,
					hash: r.get(1)?,
					iterations: r.get(2)?,
					locked: r.get::<_, String>(3)? == "LOCKED",
				})
			},
		)
		.optional()?)
}

pub fn wallet_locked() -> ApiError {
	ApiError::new(
		axum::http::StatusCode::LOCKED,
		"WalletLocked",
		"too many wrong PINs; the wallet is locked",
	)
}

/// Records a PIN attempt checked outside the store (hashing is slow; the store's lock is not
/// held meanwhile): a wrong one is counted and locks the wallet at `limit`, a right one
/// clears the count. The outer result is the store's; the inner one the caller's answer,
/// committed either way.
pub fn record_pin_attempt(
	tx: &Transaction,
	wallet_id: &str,
	right: bool,
	limit: u32,
) -> Result<Result<Wallet, ApiError>, ApiError> {
	let Some(wallet) = wallet(tx, wallet_id)? else {
		return Ok(Err(ApiError::not_found("UnknownWallet", "no such wallet")));
	};
	if wallet.status == "LOCKED" {
		return Ok(Err(wallet_locked()));
	}
	if right {
		tx.execute("UPDATE wallets SET failed_pins = 0 WHERE wallet_id = ?1", params![wallet_id])?;
		return Ok(Ok(wallet));
	}
	tx.execute(
		"UPDATE wallets SET failed_pins = failed_pins + 1,
		 status = CASE WHEN failed_pins + 1 >= ?2 THEN 'LOCKED' ELSE status END
		 WHERE wallet_id = ?1",
		params![wallet_id, limit],
	)?;
	let failed: u32 = tx.query_row(
		"SELECT failed_pins FROM wallets WHERE wallet_id = ?1",
		params![wallet_id],
		|r| r.get(0),
	)?;
	Ok(Err(ApiError::unauthorized(
		"WrongPin",
		format!("wrong PIN ({} attempts left)", limit.saturating_sub(failed)),
	)))
}

/// Moves money in or out of a wallet once per (kind, reference). Returns false if that entry
/// exists already.
pub fn book(
	tx: &Transaction,
	wallet_id: &str,
	kind: &str,
	amount: i64,
	reference: &str,
) -> Result<bool, ApiError> {
	let inserted = tx.execute(
		"INSERT OR IGNORE INTO wallet_entries (wallet_id, kind, amount, reference, at)
		 VALUES (?1, ?2, ?3, ?4, ?5)",
		params![wallet_id, kind, amount, reference, now_ms()],
	)?;
	if inserted == 0 {
		return Ok(false);
	}
	let updated = tx.execute(
		"UPDATE wallets SET balance = balance + ?2 WHERE wallet_id = ?1 AND balance + ?2 >= 0",
		params![wallet_id, amount],
	)?;
	if updated == 0 {
		return Err(ApiError::unprocessable(
			"InsufficientBalance",
			"the wallet's balance is too low",
		));
	}
	Ok(true)
}

/// An order as the API shows it (the wallet app's payment, or the acquirer's debit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
	pub issuer_order_id: String,
	pub acquirer_order_id: String,
	pub aggregator_order_id: String,
	pub merchant_id: String,
	pub merchant_name: String,
	pub scenario: String,
	pub wallet_id: Option<String>,
	/// The merchant's price: minor units of `currency` (CNY).
	pub amount: i64,
	pub currency: String,
	/// What the wallet pays: minor units of HKD.
	pub debit_amount: Option<i64>,
	pub debit_currency: String,
	pub rate_id: Option<i64>,
	pub status: String,
	/// ISO 20022: `ACSC`, `RJCT` or `PDNG`.
	pub iso_status: String,
	pub reason: Option<String>,
	pub posting_id: Option<i64>,
	pub cycle: Option<i64>,
	pub block_number: Option<i64>,
	pub created_at: i64,
	pub updated_at: i64,
	#[serde(skip)]
	pub payment_code: Option<String>,
	#[serde(skip)]
	pub request_hash: String,
	#[serde(skip)]
	pub instruction: Option<String>,
	#[serde(skip)]
	pub expires_at: Option<i64>,
	#[serde(skip)]
	pub acquirer_informed: bool,
	#[serde(skip)]
	pub void_state: i64,
}

const ORDER_COLUMNS: &str = "issuer_order_id, acquirer_order_id, aggregator_order_id, merchant_id, \
	merchant_name, scenario, wallet_id, credit_amount, credit_currency, debit_amount, rate_id, status, \
	reason, posting_id, cycle, block_number, created_at, updated_at, payment_code, request_hash, \
	instruction, expires_at, acquirer_informed, void_state";

fn order_from(r: &Row) -> rusqlite::Result<Order> {
	let status: String = r.get(11)?;
	Ok(Order {
		issuer_order_id: r.get(0)?,
		acquirer_order_id: r.get(1)?,
		aggregator_order_id: r.get(2)?,
		merchant_id: r.get(3)?,
		merchant_name: r.get(4)?,
		scenario: r.get(5)?,
		wallet_id: r.get(6)?,
		amount: r.get(7)?,
		currency: r.get(8)?,
		debit_amount: r.get(9)?,
		debit_currency: "HKD".into(),
		rate_id: r.get(10)?,
		iso_status: iso_status(
			status == status::SUCCESS,
			matches!(status.as_str(), status::FAILED | status::REJECTED),
		)
		.into(),
		status,
		reason: r.get(12)?,
		posting_id: r.get(13)?,
		cycle: r.get(14)?,
		block_number: r.get(15)?,
		created_at: r.get(16)?,
		updated_at: r.get(17)?,
		payment_code: r.get(18)?,
		request_hash: r.get(19)?,
		instruction: r.get(20)?,
		expires_at: r.get(21)?,
		acquirer_informed: r.get(22)?,
		void_state: r.get(23)?,
	})
}

pub fn order_by(tx: &Transaction, column: &str, value: &str) -> Result<Option<Order>, ApiError> {
	let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE {column} = ?1");
	Ok(tx.query_row(&sql, params![value], order_from).optional()?)
}

pub fn order(tx: &Transaction, issuer_order_id: &str) -> Result<Option<Order>, ApiError> {
	order_by(tx, "issuer_order_id", issuer_order_id)
}

pub fn orders_where(tx: &Transaction, condition: &str) -> Result<Vec<Order>, ApiError> {
	let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE {condition} ORDER BY created_at");
	let mut stmt = tx.prepare(&sql)?;
	let rows = stmt.query_map([], order_from)?.collect::<rusqlite::Result<Vec<_>>>()?;
	Ok(rows)
}

pub fn new_order_id(tx: &Transaction) -> Result<String, ApiError> {
	Ok(format!("ISS{:012}", crate::store::next_number(tx, "order")?))
}

/// Moves an order to `status`, whatever it was.
pub fn set_status(
	tx: &Transaction,
	order_id: &str,
	status: &str,
	reason: Option<&str>,
) -> Result<(), ApiError> {
	crate::store::move_status(tx, "issuer_order_id", order_id, None, status, reason).map(|_| ())
}

/// Moves an order to `status` only if it is in one of `from`; whether it moved.
pub fn set_status_if(
	tx: &Transaction,
	order_id: &str,
	from: &[&str],
	status: &str,
	reason: Option<&str>,
) -> Result<bool, ApiError> {
	crate::store::move_status(tx, "issuer_order_id", order_id, Some(from), status, reason)
}

/// The chain's word that no posting can ever hold an order's instruction: the only thing that
/// lets the issuer give a debit back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoPosting {
	/// The issuer's void of the order id is in this finalized block.
	Voided { block: u64 },
	/// A finalized block whose time is past the instruction's expiry holds no posting.
	Expired { chain_time: u64 },
}

/// Marks a debited order's instruction to be voided before its debit is given back, with the
/// acquirer's reason; the acquirer told us, so it needs no word back.
pub fn want_void(tx: &Transaction, order_id: &str, reason: &str) -> Result<bool, ApiError> {
	let changed = tx.execute(
		"UPDATE orders SET void_state = ?2, reason = ?3, acquirer_informed = 1, updated_at = ?4
		 WHERE issuer_order_id = ?1 AND status IN ('DEBITED', 'UNKNOWN') AND void_state = ?5",
		params![order_id, void_state::WANTED, reason, now_ms(), void_state::NONE],
	)?;
	Ok(changed > 0)
}

/// Records that the chain refused the order's void by name: its debit waits for the expiry.
pub fn void_refused(tx: &Transaction, order_id: &str, error: &str) -> Result<(), ApiError> {
	tx.execute(
		"UPDATE orders SET void_state = ?2, status = ?3, reason = ?4, updated_at = ?5
		 WHERE issuer_order_id = ?1 AND status IN ('DEBITED', 'UNKNOWN')",
		params![
			order_id,
			void_state::REFUSED,
			status::UNKNOWN,
			format!("VoidRefused: {error}; the debit is given back once the instruction expires"),
			now_ms()
		],
	)?;
	Ok(())
}

/// Gives a debited order's money back to the wallet, once, and fails the order, on the
/// chain's word that it can never be posted. The order keeps the acquirer's reason where it
/// gave one.
pub fn reverse(tx: &Transaction, order_id: &str, evidence: NoPosting) -> Result<bool, ApiError> {
	let Some(order) = order(tx, order_id)? else { return Ok(false) };
	if !matches!(order.status.as_str(), status::DEBITED | status::UNKNOWN) {
		return Ok(false);
	}
	let (Some(wallet), Some(amount)) = (&order.wallet_id, order.debit_amount) else {
		return Err(ApiError::internal(format!(
			"debited order {order_id} without wallet or amount"
		)));
	};
	let reason = match evidence {
		NoPosting::Voided { block } => match order.reason.as_deref() {
			Some(r) if order.void_state == void_state::WANTED => {
				format!("{r} (instruction voided in block #{block})")
			}
			_ => format!("InstructionVoided: voided in block #{block}"),
		},
		NoPosting::Expired { .. } => {
			"InstructionExpired: not posted before the instruction's expiry".to_string()
		}
	};
	book(tx, wallet, "REVERSAL", amount, order_id)?;
	set_status(tx, order_id, status::FAILED, Some(&reason))?;
	Ok(true)
}

/// Records the posting of a successful order.
pub fn succeed(
	tx: &Transaction,
	order_id: &str,
	posting_id: u64,
	cycle: u32,
	block_number: u64,
) -> Result<bool, ApiError> {
	let changed = tx.execute(
		"UPDATE orders SET status = ?2, reason = NULL, posting_id = ?3, cycle = ?4, block_number = ?5,
		 updated_at = ?6 WHERE issuer_order_id = ?1 AND status IN (?7, ?8)",
		params![
			order_id,
			status::SUCCESS,
			posting_id as i64,
			cycle,
			block_number as i64,
			now_ms(),
			status::DEBITED,
			status::UNKNOWN
		],
	)?;
	Ok(changed > 0)
}
