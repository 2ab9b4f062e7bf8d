//! Refunds of successful orders: what an aggregator asked for, where each refund is, and every
//! statement the acquirer makes about them. A refund is taken `PROCESSING` with the order's
//! remaining amount checked under the order's lock; the refunder ([`super::refunder`]) settles
//! it on chain, and its final status is written in one transaction with the issuer's notice
//! (which credits the payer) and the aggregator's notification.

use super::{
	merchant,
	messages::{self, MessageKind, ISSUER_LANE},
	order::{self, OrderError, OrderResult, OrderStatus},
};
use crate::common::{
	cycles::LocalEntry,
	now_ms,
	store::{next_number, Backend, Db, StoreError, StoreResult},
	wire::{Notification, RefundNotice, RefundOutcome},
};
use serde::Serialize;
use sqlx::{any::AnyRow, AnyConnection, Row};

/// Where a refund is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
	/// Taken; being settled on chain.
	Processing,
	/// In a finalized block: the merchant's side paid it back.
	Success,
	/// The chain refused it; nothing moved.
	Failed,
}

crate::text_enum!(RefundStatus {
	Processing => "PROCESSING",
	Success => "SUCCESS",
	Failed => "FAILED",
});

/// A refund as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refund {
	/// Ours, and the refund id on chain.
	pub refund_id: String,
	pub aggregator_id: String,
	pub aggregator_refund_id: String,
	pub order_id: String,
	pub aggregator_order_id: String,
	/// Minor units of CNY.
	pub amount: i64,
	pub currency: String,
	pub reason: Option<String>,
	pub status: RefundStatus,
	/// Why the chain refused it (`FAILED`).
	pub failure: Option<String>,
	/// What the issuer got back, minor units of HKD, at the payment's own rate (`SUCCESS`).
	pub debit_amount: Option<i64>,
	pub cycle: Option<i64>,
	pub block_number: Option<i64>,
	pub block_hash: Option<String>,
	pub created_at: i64,
	pub updated_at: i64,
	#[serde(skip)]
	pub notify_url: String,
	#[serde(skip)]
	pub request_hash: String,
	/// How the refund's notification to its aggregator stands, once it is final.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub notification: Option<order::NotificationState>,
	/// The transaction last sent for it, until that one is resolved (`PendingTx` as JSON).
	#[serde(skip)]
	pub pending_tx: Option<String>,
}

fn refund_from(r: &AnyRow) -> StoreResult<Refund> {
	Ok(Refund {
		refund_id: r.try_get("refund_id")?,
		aggregator_id: r.try_get("aggregator_id")?,
		aggregator_refund_id: r.try_get("aggregator_refund_id")?,
		order_id: r.try_get("order_id")?,
		aggregator_order_id: r.try_get("aggregator_order_id")?,
		amount: r.try_get("amount")?,
		currency: "CNY".into(),
		reason: r.try_get("reason")?,
		status: r.try_get("status")?,
		failure: r.try_get("failure")?,
		debit_amount: r.try_get("debit_amount")?,
		cycle: r.try_get("cycle")?,
		block_number: r.try_get("block_number")?,
		block_hash: r.try_get("block_hash")?,
		created_at: r.try_get("created_at")?,
		updated_at: r.try_get("updated_at")?,
		notify_url: r.try_get("notify_url")?,
		request_hash: r.try_get("request_hash")?,
		pending_tx: r.try_get("pending_tx")?,
		notification: None,
	})
}

const SELECT_REFUND: &str = "SELECT r.*, o.aggregator_order_id FROM refunds r
	JOIN orders o ON o.order_id = r.order_id";

async fn refund_where(
	tx: &mut AnyConnection,
	condition: &str,
	values: &[&str],
) -> StoreResult<Option<Refund>> {
	let sql = format!("{SELECT_REFUND} WHERE {condition}");
	let mut query = sqlx::query(&sql);
	for v in values {
		query = query.bind(*v);
	}
	let row = query.fetch_optional(tx).await?;
	row.as_ref().map(refund_from).transpose()
}

pub async fn refund(tx: &mut AnyConnection, refund_id: &str) -> StoreResult<Option<Refund>> {
	refund_where(tx, "r.refund_id = $1", &[refund_id]).await
}

/// An aggregator's refund, by our id or by the aggregator's own; another aggregator's refund
/// is not found.
pub async fn of_aggregator(
	db: &Db,
	aggregator_id: &str,
	refund_id: Option<&str>,
	aggregator_refund_id: Option<&str>,
) -> OrderResult<Refund> {
	let mut conn = db.conn().await?;
	let found = match (refund_id, aggregator_refund_id) {
		(Some(id), _) => refund(&mut conn, id).await?,
		(None, Some(theirs)) => {
			let condition = "r.aggregator_id = $1 AND r.aggregator_refund_id = $2";
			refund_where(&mut conn, condition, &[aggregator_id, theirs]).await?
		}
		(None, None) => None,
	};
	let mut refund =
		found.filter(|r| r.aggregator_id == aggregator_id).ok_or(OrderError::UnknownRefund)?;
	let subject = (refund.order_id.as_str(), refund.refund_id.as_str());
	refund.notification = order::notification_state(&mut conn, subject).await?;
	Ok(refund)
}

/// The sum of the order's refunds whose status is (`=`) or is not (`<>`) `status`.
async fn total(
	tx: &mut AnyConnection,
	order_id: &str,
	comparison: &'static str,
	status: RefundStatus,
) -> StoreResult<i64> {
	let row = sqlx::query(&format!(
		"SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM refunds
		 WHERE order_id = $1 AND status {comparison} $2"
	))
	.bind(order_id)
	.bind(status)
	.fetch_one(tx)
	.await?;
	Ok(row.try_get(0)?)
}

/// What the order has had refunded or is having refunded: every refund not `FAILED`.
pub async fn refunded(tx: &mut AnyConnection, order_id: &str) -> StoreResult<i64> {
	total(tx, order_id, "<>", RefundStatus::Failed).await
}

/// What the order has had refunded on chain: its `SUCCESS` refunds.
pub async fn settled(tx: &mut AnyConnection, order_id: &str) -> StoreResult<i64> {
	total(tx, order_id, "=", RefundStatus::Success).await
}

/// An order's trade state in the spirit of WeChat Pay's `trade_state`: a successful order
/// refunded in full is `REFUND`, in part `PARTIAL_REFUND`; any other order its status.
pub fn trade_state(status: OrderStatus, amount: i64, refunded: i64) -> &'static str {
	match status {
		OrderStatus::Success if refunded >= amount => "REFUND",
		OrderStatus::Success if refunded > 0 => "PARTIAL_REFUND",
		other => other.as_str(),
	}
}

/// What an aggregator asked to refund.
pub struct RefundRequest<'a> {
	pub aggregator_id: &'a str,
	pub aggregator_refund_id: &'a str,
	pub order_id: &'a str,
	pub amount: i64,
	pub reason: Option<&'a str>,
	pub notify_url: Option<&'a str>,
	pub request_hash: &'a str,
	/// Whether a suspended merchant refuses it (an aggregator's refund); a cancel's refund
	/// gives the payer's money back whatever became of the merchant since.
	pub check_merchant: bool,
}

/// A repeated request with the same key: the same refund if it is the same request.
fn replay(existing: Refund, hash: &str) -> OrderResult<Refund> {
	if existing.request_hash != hash {
		return Err(OrderError::IdempotencyKeyReused(format!(
			"aggregator refund {} was sent before with other content",
			existing.aggregator_refund_id
		)));
	}
	Ok(existing)
}

/// Takes a refund of a successful order of the aggregator's, `PROCESSING`, if it fits what
/// remains of the order; the caller holds the order's lock, so that two refunds of one order
/// never both take the same remainder. The refund, and whether it is new.
pub async fn request(db: &Db, r: &RefundRequest<'_>) -> OrderResult<(Refund, bool)> {
	let mut tx = db.begin().await?;
	let condition = "r.aggregator_id = $1 AND r.aggregator_refund_id = $2";
	if let Some(existing) =
		refund_where(&mut tx, condition, &[r.aggregator_id, r.aggregator_refund_id]).await?
	{
		return Ok((replay(existing, r.request_hash)?, false));
	}
	let order = order::order(&mut tx, r.order_id)
		.await?
		.filter(|o| o.aggregator_id == r.aggregator_id)
		.ok_or(OrderError::UnknownOrder("no such order"))?;
	if order.status != OrderStatus::Success {
		return Err(OrderError::OrderNotSuccessful(order.status));
	}
	if db.backend() == Backend::Postgres {
		// Another process taking a refund of this order waits here until this one commits,
		// and then counts this one's amount: the per-order lock alone saves work, not money.
		sqlx::query("SELECT 1 FROM orders WHERE order_id = $1 FOR UPDATE")
			.bind(&order.order_id)
			.execute(&mut *tx)
			.await?;
	}
	if r.check_merchant {
		merchant::active_merchant(&mut tx, &order.merchant_id).await?;
	}
	let remaining = order.amount - refunded(&mut tx, &order.order_id).await?;
	if r.amount > remaining {
		return Err(OrderError::RefundExceedsRemaining { requested: r.amount, remaining });
	}
	let notify_url = match r.notify_url {
		Some(url) => merchant::notify_url_for(&mut tx, r.aggregator_id, Some(url)).await?,
		None => order.notify_url.clone(),
	};
	let refund_id = format!("RFD{:012}", next_number(&mut tx, "refund").await?);
	let now = now_ms();
	let inserted = sqlx::query(
		"INSERT INTO refunds (refund_id, aggregator_id, aggregator_refund_id, order_id, amount,
		 reason, notify_url, request_hash, status, created_at, updated_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) ON CONFLICT DO NOTHING",
	)
	.bind(&refund_id)
	.bind(r.aggregator_id)
	.bind(r.aggregator_refund_id)
	.bind(&order.order_id)
	.bind(r.amount)
	.bind(r.reason)
	.bind(&notify_url)
	.bind(r.request_hash)
	.bind(RefundStatus::Processing)
	.bind(now)
	.execute(&mut *tx)
	.await?;
	if inserted.rows_affected() == 0 {
		// A request with the same key committed first.
		drop(tx);
		let first = of_aggregator(db, r.aggregator_id, None, Some(r.aggregator_refund_id)).await?;
		return Ok((replay(first, r.request_hash)?, false));
	}
	let refund = refund(&mut tx, &refund_id).await?.ok_or(OrderError::UnknownRefund)?;
	tx.commit().await?;
	Ok((refund, true))
}

/// How the aggregator refund ids of a cancelled order's refunds begin, before the order id
/// and the attempt's number; aggregators may not use it.
pub const CANCEL_PREFIX: &str = "CANCEL-";

/// How many refunds a cancel tries before it leaves the order to an operator: a refusal
/// that repeats (a suspended issuer, the acquirer's debit limit until settlement) must not
/// become a refund attempt, a fee and a notification every block.
pub const CANCEL_ATTEMPTS: usize = 3;

/// Refunds what remains of a successful order whose merchant cancelled it, under the
/// aggregator refund id [`CANCEL_PREFIX`], the order id and the attempt's number (a cancel's
/// refund that the chain refused is followed by another, up to [`CANCEL_ATTEMPTS`]). The
/// cancel's latest refund, or `None` if it has none and other refunds gave everything back.
/// The caller holds the order's lock.
pub async fn refund_in_full(db: &Db, order: &order::Order) -> OrderResult<Option<Refund>> {
	let prefix = format!("{CANCEL_PREFIX}{}-", order.order_id);
	let mut conn = db.conn().await?;
	let rows = sqlx::query(&format!(
		"{SELECT_REFUND} WHERE r.order_id = $1 AND r.aggregator_refund_id LIKE $2
		 ORDER BY r.created_at DESC"
	))
	.bind(&order.order_id)
	.bind(format!("{prefix}%"))
	.fetch_all(&mut *conn)
	.await?;
	let earlier: Vec<Refund> = rows.iter().map(refund_from).collect::<StoreResult<_>>()?;
	let remaining = order.amount - refunded(&mut conn, &order.order_id).await?;
	drop(conn);
	if remaining <= 0 {
		return Ok(earlier.into_iter().next());
	}
	if earlier.len() >= CANCEL_ATTEMPTS {
		tracing::error!(order = %order.order_id, refused = earlier.len(),
			"the chain refused every refund of a cancelled order; an operator must refund it");
		return Ok(earlier.into_iter().next());
	}
	let key = format!("{prefix}{}", earlier.len() + 1);
	let asked = RefundRequest {
		aggregator_id: &order.aggregator_id,
		aggregator_refund_id: &key,
		order_id: &order.order_id,
		amount: remaining,
		reason: Some("CancelledByMerchant"),
		notify_url: None,
		request_hash: &key,
		check_merchant: false,
	};
	Ok(Some(request(db, &asked).await?.0))
}

/// Records `sent` as the transaction of a processing refund that has none; whether it did
/// (another process may have stored one since, during a lease handover, or finished it).
pub async fn attempt(db: &Db, refund_id: &str, sent: &str) -> StoreResult<bool> {
	let stored = sqlx::query(
		"UPDATE refunds SET pending_tx = $2 WHERE refund_id = $1 AND status = $3
		 AND pending_tx IS NULL",
	)
	.bind(refund_id)
	.bind(sent)
	.bind(RefundStatus::Processing)
	.execute(db.pool())
	.await?;
	Ok(stored.rows_affected() == 1)
}

/// Forgets the refund's transaction `sent`, which can never land now, so that another may be
/// sent; a transaction stored since in its place is kept.
pub async fn attempt_over(db: &Db, refund_id: &str, sent: &str) -> StoreResult<()> {
	sqlx::query("UPDATE refunds SET pending_tx = NULL WHERE refund_id = $1 AND pending_tx = $2")
		.bind(refund_id)
		.bind(sent)
		.execute(db.pool())
		.await?;
	Ok(())
}

/// Records a refund the chain holds under `refund_id` but we never took (made with the CLI,
/// say), as the aggregator's refund of `order` under that same id; it then ends `SUCCESS` by
/// [`finish`] like any other, which tells the issuer and the aggregator. A refund recorded
/// already is answered as it is.
pub async fn record_from_chain(
	db: &Db,
	refund_id: &str,
	order: &order::Order,
	amount: i64,
	settled: &Settled,
) -> OrderResult<Refund> {
	let mut tx = db.begin().await?;
	if refund(&mut tx, refund_id).await?.is_none() {
		let now = now_ms();
		let inserted = sqlx::query(
			"INSERT INTO refunds (refund_id, aggregator_id, aggregator_refund_id, order_id, amount,
			 reason, notify_url, request_hash, status, created_at, updated_at)
			 VALUES ($1, $2, $1, $3, $4, $5, $6, '', $7, $8, $8) ON CONFLICT DO NOTHING",
		)
		.bind(refund_id)
		.bind(&order.aggregator_id)
		.bind(&order.order_id)
		.bind(amount)
		.bind("made on chain without the acquirer's service; recorded by an operator")
		.bind(&order.notify_url)
		.bind(RefundStatus::Processing)
		.bind(now)
		.execute(&mut *tx)
		.await?;
		if inserted.rows_affected() == 0 {
			return Err(OrderError::IdempotencyKeyReused(format!(
				"the aggregator has a refund {refund_id} of its own"
			)));
		}
		tx.commit().await?;
	} else {
		drop(tx);
	}
	finish(db, refund_id, Ok(settled)).await?;
	refund(&mut *db.conn().await?, refund_id).await?.ok_or(OrderError::UnknownRefund)
}

/// Refunds still being settled, oldest first.
pub async fn processing(db: &Db) -> StoreResult<Vec<Refund>> {
	let rows = sqlx::query(&format!("{SELECT_REFUND} WHERE r.status = $1 ORDER BY r.created_at"))
		.bind(RefundStatus::Processing)
		.fetch_all(db.pool())
		.await?;
	rows.iter().map(refund_from).collect()
}

/// Where a refund settled on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settled {
	pub debit_amount: u128,
	pub cycle: u32,
	/// The finalized block (number, hash) of its transaction, when this process saw it there;
	/// a refund found in the chain's records after a crash has none.
	pub block: Option<(u32, String)>,
}

/// Ends a refund, `SUCCESS` (settled on chain) or `FAILED` (refused, with the chain's
/// reason), with the aggregator's notification and, for a success, the issuer's notice, in
/// one transaction; a refund that is final already is left as it is. Whether it changed.
pub async fn finish(
	db: &Db,
	refund_id: &str,
	outcome: Result<&Settled, &str>,
) -> OrderResult<bool> {
	let mut tx = db.begin().await?;
	let refund = refund(&mut tx, refund_id).await?.ok_or(OrderError::UnknownRefund)?;
	if refund.status != RefundStatus::Processing {
		return Ok(false);
	}
	let now = now_ms();
	let (status, failure) = match outcome {
		Ok(_) => (RefundStatus::Success, None),
		Err(reason) => (RefundStatus::Failed, Some(reason)),
	};
	let on_chain = outcome.ok();
	let moved = sqlx::query(
		"UPDATE refunds SET status = $2, failure = $3, debit_amount = $4, cycle = $5,
		 block_number = $6, block_hash = $7, updated_at = $8 WHERE refund_id = $1 AND status = $9",
	)
	.bind(refund_id)
	.bind(status)
	.bind(failure)
	.bind(on_chain.map(|s| s.debit_amount as i64))
	.bind(on_chain.map(|s| s.cycle as i64))
	.bind(on_chain.and_then(|s| s.block.as_ref()).map(|b| b.0 as i64))
	.bind(on_chain.and_then(|s| s.block.as_ref()).map(|b| b.1.clone()))
	.bind(now)
	.bind(RefundStatus::Processing)
	.execute(&mut *tx)
	.await?;
	if moved.rows_affected() != 1 {
		// Another process finished it since it was read: nothing of this is written.
		return Ok(false);
	}
	let order = order::order(&mut tx, &refund.order_id)
		.await?
		.ok_or(OrderError::UnknownOrder("the refund's order"))?;
	let refunded = settled(&mut tx, &order.order_id).await?;
	let merchant = merchant::merchant(&mut tx, &order.merchant_id).await?;
	let notification = Notification {
		aggregator_id: order.aggregator_id.clone(),
		order_id: order.order_id.clone(),
		aggregator_order_id: order.aggregator_order_id.clone(),
		merchant_id: merchant.aggregator_merchant_id,
		status: trade_state(order.status, order.amount, refunded).into(),
		iso_status: "ACSC".into(),
		amount: order.amount,
		currency: order.currency.clone(),
		posting_id: order.posting_id.map(|p| p as u64),
		block_number: order.block_number.map(|b| b as u32),
		reason: None,
		refund: Some(RefundOutcome {
			refund_id: refund.refund_id.clone(),
			aggregator_refund_id: refund.aggregator_refund_id.clone(),
			status: status.to_string(),
			amount: refund.amount,
			refunded_amount: refunded,
			block_number: on_chain.and_then(|s| s.block.as_ref()).map(|b| b.0),
			reason: failure.map(str::to_string),
		}),
	};
	let subject = (order.order_id.as_str(), refund_id);
	let body = serde_json::to_string(&notification)
		.map_err(|e| StoreError::unreadable("notification", e))?;
	let to = (refund.notify_url.as_str(), order.aggregator_id.as_str());
	messages::enqueue(&mut tx, subject, MessageKind::RefundNotify, to, &body, now).await?;
	if on_chain.is_some() {
		let notice = RefundNotice {
			refund_id: refund_id.to_string(),
			acquirer_order_id: order.order_id.clone(),
			amount: refund.amount,
		};
		let body = serde_json::to_string(&notice)
			.map_err(|e| StoreError::unreadable("refund notice", e))?;
		let to = (ISSUER_LANE, ISSUER_LANE);
		messages::enqueue(&mut tx, subject, MessageKind::RefundNotice, to, &body, now).await?;
	}
	tx.commit().await?;
	Ok(true)
}

/// The acquirer's successful refunds of a cycle: each debited its CNY account.
pub async fn cycle_entries(db: &Db, cycle: u32) -> StoreResult<Vec<LocalEntry>> {
	let rows = sqlx::query(
		"SELECT r.refund_id, r.order_id, r.amount, r.debit_amount, o.posting_id, o.instruction
		 FROM refunds r JOIN orders o ON o.order_id = r.order_id
		 WHERE r.status = $1 AND r.cycle = $2",
	)
	.bind(RefundStatus::Success)
	.bind(cycle as i64)
	.fetch_all(db.pool())
	.await?;
	rows.iter()
		.map(|r| {
			let credit: i64 = r.try_get("amount")?;
			let debit: i64 = r.try_get("debit_amount")?;
			LocalEntry::refund(
				r.try_get("order_id")?,
				r.try_get("refund_id")?,
				(credit, debit),
				-credit,
				r.try_get("posting_id")?,
				&r.try_get::<String, _>("instruction")?,
			)
		})
		.collect()
}
