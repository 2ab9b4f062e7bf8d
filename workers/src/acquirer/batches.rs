//! The posting queue and the batches it is drained into, in the store. An order waiting to be
//! posted is `POSTING` with no batch; a batch is one `post_payments` transaction, kept signed
//! before it is submitted and open until its outcome is recorded. An order is in at most one
//! open batch: it is claimed only while it has none, and given back to the queue only when its
//! batch can no longer be included.

use super::order::{self, OrderError, OrderResult, OrderStatus, Posted};
use crate::common::{
	now_ms,
	store::{Db, StoreResult},
};
use sqlx::{AnyConnection, Row};

/// An order in the queue or in a batch: its id, its signed instruction (JSON) and how many
/// batches it has been in.
#[derive(Debug, Clone)]
pub struct Member {
	pub order_id: String,
	pub instruction: String,
	pub attempts: i64,
}

fn member(r: &sqlx::any::AnyRow) -> StoreResult<Member> {
	Ok(Member {
		order_id: r.try_get("order_id")?,
		instruction: r.try_get::<Option<String>, _>("instruction")?.unwrap_or_default(),
		attempts: r.try_get("post_attempts")?,
	})
}

/// The oldest orders waiting to be posted, at most `limit`.
pub async fn queued(db: &Db, limit: usize) -> StoreResult<Vec<Member>> {
	let rows = sqlx::query(
		"SELECT order_id, instruction, post_attempts FROM orders
		 WHERE status = $1 AND batch_id IS NULL ORDER BY updated_at LIMIT $2",
	)
	.bind(OrderStatus::Posting)
	.bind(limit as i64)
	.fetch_all(db.pool())
	.await?;
	rows.iter().map(member).collect()
}

/// Keeps the signed batch `pending_tx` (JSON) and claims `orders` for it, those still queued;
/// the batch's number.
pub async fn create(db: &Db, pending_tx: &str, orders: &[&str]) -> StoreResult<i64> {
	let mut tx = db.begin().await?;
	let row = sqlx::query(
		"INSERT INTO posting_batches (pending_tx, items, created_at) VALUES ($1, $2, $3)
		 RETURNING batch_id",
	)
	.bind(pending_tx)
	.bind(orders.len() as i64)
	.bind(now_ms())
	.fetch_one(&mut *tx)
	.await?;
	let batch: i64 = row.try_get(0)?;
	for chunk in orders.chunks(500) {
		let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 3)).collect();
		let sql = format!(
			"UPDATE orders SET batch_id = $1, post_attempts = post_attempts + 1
			 WHERE status = $2 AND batch_id IS NULL AND order_id IN ({})",
			list.join(", ")
		);
		let mut query = sqlx::query(&sql).bind(batch).bind(OrderStatus::Posting);
		for id in chunk {
			query = query.bind(*id);
		}
		query.execute(&mut *tx).await?;
	}
	tx.commit().await?;
	Ok(batch)
}

/// The batches submitted (or about to be) whose outcome is not recorded, oldest first: their
/// number and signed transaction (JSON).
pub async fn open(db: &Db) -> StoreResult<Vec<(i64, String)>> {
	let rows = sqlx::query(
		"SELECT batch_id, pending_tx FROM posting_batches WHERE resolved_at IS NULL
		 ORDER BY batch_id",
	)
	.fetch_all(db.pool())
	.await?;
	rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// The orders of batch `batch` still waiting for its outcome.
pub async fn members(tx: &mut AnyConnection, batch: i64) -> StoreResult<Vec<Member>> {
	let rows = sqlx::query(
		"SELECT order_id, instruction, post_attempts FROM orders
		 WHERE batch_id = $1 AND status = $2",
	)
	.bind(batch)
	.bind(OrderStatus::Posting)
	.fetch_all(tx)
	.await?;
	rows.iter().map(member).collect()
}

/// Every order of batch `batch`, whatever its status (to wake those waiting for them).
pub async fn order_ids(db: &Db, batch: i64) -> StoreResult<Vec<String>> {
	let rows = sqlx::query("SELECT order_id FROM orders WHERE batch_id = $1")
		.bind(batch)
		.fetch_all(db.pool())
		.await?;
	rows.iter().map(|r| Ok(r.try_get(0)?)).collect()
}

/// The signed transaction (JSON) of the batch an order was last in.
pub async fn pending_tx_of(db: &Db, order_id: &str) -> StoreResult<Option<String>> {
	let row = sqlx::query(
		"SELECT b.pending_tx FROM posting_batches b JOIN orders o ON o.batch_id = b.batch_id
		 WHERE o.order_id = $1",
	)
	.bind(order_id)
	.fetch_optional(db.pool())
	.await?;
	Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// What became of one order of a batch.
#[derive(Debug, Clone)]
pub enum Verdict {
	Posted(Posted),
	Failed(String),
	/// The batch can no longer be included: the order goes back to the queue.
	Requeue,
	/// No final answer: left for reconciliation.
	Unknown(String),
}

/// Records every order's verdict and closes the batch, in one transaction (one commit for the
/// whole batch, not one per order). The orders whose status changed, with their new status.
pub async fn record(
	db: &Db,
	batch: i64,
	outcome: &str,
	verdicts: &[(String, Verdict)],
) -> OrderResult<Vec<(String, OrderStatus)>> {
	let mut tx = db.begin().await?;
	let mut changed = Vec::new();
	for (id, verdict) in verdicts {
		let status = match verdict {
			Verdict::Posted(p) => {
				order::finish_in(&mut tx, id, Some(p), None).await?.then_some(OrderStatus::Success)
			}
			Verdict::Failed(reason) => order::finish_in(&mut tx, id, None, Some(reason))
				.await?
				.then_some(OrderStatus::Failed),
			Verdict::Requeue => {
				sqlx::query(
					"UPDATE orders SET batch_id = NULL, updated_at = $3
					 WHERE order_id = $1 AND batch_id = $2 AND status = $4",
				)
				.bind(id)
				.bind(batch)
				.bind(now_ms())
				.bind(OrderStatus::Posting)
				.execute(&mut *tx)
				.await?;
				None
			}
			Verdict::Unknown(reason) => {
				order::leave_unknown_in(&mut tx, id, reason).await?.then_some(OrderStatus::Unknown)
			}
		};
		changed.extend(status.map(|s| (id.clone(), s)));
	}
	sqlx::query("UPDATE posting_batches SET resolved_at = $2, outcome = $3 WHERE batch_id = $1")
		.bind(batch)
		.bind(now_ms())
		.bind(outcome)
		.execute(&mut *tx)
		.await?;
	tx.commit().await.map_err(OrderError::from)?;
	Ok(changed)
}
