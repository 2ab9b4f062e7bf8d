//! The acquirer's tables and the few functions that change an order's status, so that a
//! final status and the notification it owes are always written together.

use crate::common::{api::ApiError, iso_status, now_ms, wire::Notification};
use rusqlite::{params, OptionalExtension, Row, Transaction};
use serde::Serialize;

pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS aggregators (
	aggregator_id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	public_key TEXT NOT NULL,
	notify_url TEXT NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS merchants (
	merchant_id TEXT PRIMARY KEY,
	aggregator_id TEXT NOT NULL REFERENCES aggregators(aggregator_id),
	aggregator_merchant_id TEXT NOT NULL,
	name TEXT NOT NULL,
	city TEXT NOT NULL,
	mcc TEXT NOT NULL,
	status TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	UNIQUE (aggregator_id, aggregator_merchant_id)
);
CREATE TABLE IF NOT EXISTS orders (
	order_id TEXT PRIMARY KEY,
	aggregator_id TEXT NOT NULL,
	aggregator_order_id TEXT NOT NULL,
	merchant_id TEXT NOT NULL REFERENCES merchants(merchant_id),
	scenario TEXT NOT NULL,
	amount INTEGER NOT NULL,
	currency TEXT NOT NULL,
	description TEXT,
	notify_url TEXT NOT NULL,
	request_hash TEXT NOT NULL,
	status TEXT NOT NULL,
	reason TEXT,
	payment_code TEXT,
	prepay_id TEXT UNIQUE,
	issuer_order_id TEXT UNIQUE,
	instruction TEXT,
	pending_tx TEXT,
	posting_id INTEGER,
	cycle INTEGER,
	block_number INTEGER,
	block_hash TEXT,
	pay_by INTEGER,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	UNIQUE (aggregator_id, aggregator_order_id)
);
CREATE INDEX IF NOT EXISTS orders_by_status ON orders(status);
CREATE TABLE IF NOT EXISTS outbox (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	order_id TEXT NOT NULL REFERENCES orders(order_id),
	kind TEXT NOT NULL,
	target TEXT NOT NULL,
	body TEXT NOT NULL,
	status TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	next_attempt_at INTEGER NOT NULL,
	last_error TEXT,
	delivered_at INTEGER,
	UNIQUE (order_id, kind)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at);
";

/// Order statuses. `AWAITING_PAYMENT`: a dynamic QR or in-app order nobody has paid yet;
/// `DEBIT_REQUESTED`: the issuer was asked to debit (micropay) or is paying it (checkout);
/// `POSTING`: the signed instruction is being posted; then `SUCCESS`, `FAILED`, `UNKNOWN`
/// (left for reconciliation) or `CLOSED` (never paid).
pub mod status {
	pub const AWAITING_PAYMENT: &str = "AWAITING_PAYMENT";
	pub const DEBIT_REQUESTED: &str = "DEBIT_REQUESTED";
	pub const POSTING: &str = "POSTING";
	pub const SUCCESS: &str = "SUCCESS";
	pub const FAILED: &str = "FAILED";
	pub const UNKNOWN: &str = "UNKNOWN";
	pub const CLOSED: &str = "CLOSED";

	pub fn is_final(s: &str) -> bool {
		matches!(s, SUCCESS | FAILED | CLOSED)
	}
}

/// An order as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Order {
	pub order_id: String,
	pub aggregator_id: String,
	pub aggregator_order_id: String,
	pub merchant_id: String,
	pub scenario: String,
	pub amount: i64,
	pub currency: String,
	pub description: Option<String>,
	pub status: String,
	/// ISO 20022: `ACSC`, `RJCT` or `PDNG`.
	pub iso_status: String,
	pub reason: Option<String>,
	pub prepay_id: Option<String>,
	pub issuer_order_id: Option<String>,
	pub posting_id: Option<i64>,
	pub cycle: Option<i64>,
	pub block_number: Option<i64>,
	pub block_hash: Option<String>,
	pub pay_by: Option<i64>,
	pub created_at: i64,
	pub updated_at: i64,
	#[serde(skip)]
	pub notify_url: String,
	#[serde(skip)]
	pub request_hash: String,
	#[serde(skip)]
	pub instruction: Option<String>,
	#[serde(skip)]
	pub pending_tx: Option<String>,
	#[serde(skip)]
	pub payment_code: Option<String>,
}

const ORDER_COLUMNS: &str = "order_id, aggregator_id, aggregator_order_id, merchant_id, scenario, \
	amount, currency, description, status, reason, prepay_id, issuer_order_id, posting_id, cycle, \
	block_number, block_hash, pay_by, created_at, updated_at, notify_url, request_hash, \
	instruction, pending_tx, payment_code";

fn order_from(r: &Row) -> rusqlite::Result<Order> {
	let status: String = r.get(8)?;
	Ok(Order {
		order_id: r.get(0)?,
		aggregator_id: r.get(1)?,
		aggregator_order_id: r.get(2)?,
		merchant_id: r.get(3)?,
		scenario: r.get(4)?,
		amount: r.get(5)?,
		currency: r.get(6)?,
		description: r.get(7)?,
		iso_status: iso_status(
			status == status::SUCCESS,
			matches!(status.as_str(), status::FAILED | status::CLOSED),
		)
		.into(),
		status,
		reason: r.get(9)?,
		prepay_id: r.get(10)?,
		issuer_order_id: r.get(11)?,
		posting_id: r.get(12)?,
		cycle: r.get(13)?,
		block_number: r.get(14)?,
		block_hash: r.get(15)?,
		pay_by: r.get(16)?,
		created_at: r.get(17)?,
		updated_at: r.get(18)?,
		notify_url: r.get(19)?,
		request_hash: r.get(20)?,
		instruction: r.get(21)?,
		pending_tx: r.get(22)?,
		payment_code: r.get(23)?,
	})
}

/// The order with `column` = `value` (a unique column).
pub fn order_by(tx: &Transaction, column: &str, value: &str) -> Result<Option<Order>, ApiError> {
	let sql = format!("SELECT {ORDER_COLUMNS} FROM orders WHERE {column} = ?1");
	Ok(tx.query_row(&sql, params![value], order_from).optional()?)
}

pub fn order(tx: &Transaction, order_id: &str) -> Result<Option<Order>, ApiError> {
	order_by(tx, "order_id", order_id)
}

pub fn orders_in(tx: &Transaction, statuses: &[&str]) -> Result<Vec<Order>, ApiError> {
	let list = statuses.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(",");
	let sql =
		format!("SELECT {ORDER_COLUMNS} FROM orders WHERE status IN ({list}) ORDER BY created_at");
	let mut stmt = tx.prepare(&sql)?;
	let rows = stmt.query_map([], order_from)?.collect::<rusqlite::Result<Vec<_>>>()?;
	Ok(rows)
}

pub fn order_for_aggregator(
	tx: &Transaction,
	aggregator_id: &str,
	aggregator_order_id: &str,
) -> Result<Option<Order>, ApiError> {
	let sql = format!(
		"SELECT {ORDER_COLUMNS} FROM orders WHERE aggregator_id = ?1 AND aggregator_order_id = ?2"
	);
	Ok(tx.query_row(&sql, params![aggregator_id, aggregator_order_id], order_from).optional()?)
}

/// Moves an order to `status`, whatever it was.
pub fn set_status(
	tx: &Transaction,
	order_id: &str,
	status: &str,
	reason: Option<&str>,
) -> Result<(), ApiError> {
	crate::store::move_status(tx, "order_id", order_id, None, status, reason).map(|_| ())
}

/// Moves an order to `status` only if it is in one of `from`; whether it moved.
pub fn set_status_if(
	tx: &Transaction,
	order_id: &str,
	from: &[&str],
	status: &str,
	reason: Option<&str>,
) -> Result<bool, ApiError> {
	crate::store::move_status(tx, "order_id", order_id, Some(from), status, reason)
}

/// Where a successful posting is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
	pub posting_id: u64,
	pub cycle: u32,
	pub block_number: u32,
	pub block_hash: String,
}

/// Ends an order, SUCCESS (with its posting) or FAILED, and queues its notification; an order
/// that is final already is left as it is. Returns whether the order changed.
pub fn finish(
	tx: &Transaction,
	order_id: &str,
	posted: Option<&Posted>,
	reason: Option<&str>,
) -> Result<bool, ApiError> {
	let Some(order) = order(tx, order_id)? else {
		return Err(ApiError::not_found("UnknownOrder", format!("no order {order_id}")));
	};
	if status::is_final(&order.status) {
		return Ok(false);
	}
	let status = if posted.is_some() { status::SUCCESS } else { status::FAILED };
	tx.execute(
		"UPDATE orders SET status = ?2, reason = ?3, posting_id = ?4, cycle = ?5, block_number = ?6,
		 block_hash = ?7, updated_at = ?8 WHERE order_id = ?1",
		params![
			order_id,
			status,
			reason,
			posted.map(|p| p.posting_id as i64),
			posted.map(|p| p.cycle),
			posted.map(|p| p.block_number),
			posted.map(|p| p.block_hash.clone()),
			now_ms()
		],
	)?;
	let merchant: String = tx.query_row(
		"SELECT aggregator_merchant_id FROM merchants WHERE merchant_id = ?1",
		params![order.merchant_id],
		|r| r.get(0),
	)?;
	let notification = Notification {
		order_id: order.order_id.clone(),
		aggregator_order_id: order.aggregator_order_id.clone(),
		merchant_id: merchant,
		status: status.into(),
		iso_status: iso_status(posted.is_some(), posted.is_none()).into(),
		amount: order.amount,
		currency: order.currency.clone(),
		posting_id: posted.map(|p| p.posting_id),
		block_number: posted.map(|p| p.block_number),
		reason: reason.map(str::to_string),
	};
	enqueue(
		tx,
		order_id,
		"NOTIFY",
		&order.notify_url,
		&serde_json::to_string(&notification).map_err(ApiError::internal)?,
	)?;
	Ok(true)
}

/// Queues a message for delivery (once per order and kind).
pub fn enqueue(
	tx: &Transaction,
	order_id: &str,
	kind: &str,
	target: &str,
	body: &str,
) -> Result<(), ApiError> {
	tx.execute(
		"INSERT OR IGNORE INTO outbox (order_id, kind, target, body, status, next_attempt_at)
		 VALUES (?1, ?2, ?3, ?4, 'PENDING', ?5)",
		params![order_id, kind, target, body, now_ms()],
	)?;
	Ok(())
}
