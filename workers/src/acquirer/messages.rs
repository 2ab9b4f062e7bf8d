//! The outbox's table: messages owed to the issuer (debit requests, refund notices) and to
//! aggregators (notifications of orders and refunds), each written in the same transaction as
//! the change that owes it, once per order, kind and refund.

use crate::common::{
	now_ms,
	store::{Db, StoreResult},
};
use sqlx::{any::AnyRow, AnyConnection, Row};

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
	/// Flow 1: asks the issuer to debit the payment code's wallet.
	DebitRequest,
	/// An order's final status, to its aggregator.
	Notify,
	/// A refund settled on chain: the issuer credits the payer's wallet.
	RefundNotice,
	/// A refund's final status, to its aggregator.
	RefundNotify,
}

crate::text_enum!(MessageKind {
	DebitRequest => "DEBIT_REQUEST",
	Notify => "NOTIFY",
	RefundNotice => "REFUND_NOTICE",
	RefundNotify => "REFUND_NOTIFY",
});

/// Where a message's delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
	Pending,
	Delivered,
	/// The issuer refused the debit request outright.
	Refused,
	/// A debit request not delivered within its attempts (reconciliation asks the issuer), or
	/// a notification not acknowledged within `--notify-give-up` (the order query shows it;
	/// admin can send it again).
	GaveUp,
}

crate::text_enum!(Delivery {
	Pending => "PENDING",
	Delivered => "DELIVERED",
	Refused => "REFUSED",
	GaveUp => "GAVE_UP",
});

pub struct Message {
	pub id: i64,
	pub order_id: String,
	pub kind: MessageKind,
	/// The refund a refund's message is about; empty for an order's own.
	pub refund_id: String,
	/// `issuer`, or the aggregator's notify URL.
	pub target: String,
	/// The recipient's queue: `issuer`, or the aggregator's id.
	pub lane: String,
	pub body: String,
	pub attempts: u32,
	pub created_at: i64,
}

/// The lane of the issuer's messages.
pub const ISSUER_LANE: &str = "issuer";

fn message_from(r: &AnyRow) -> StoreResult<Message> {
	Ok(Message {
		id: r.try_get("id")?,
		order_id: r.try_get("order_id")?,
		kind: r.try_get("kind")?,
		refund_id: r.try_get("refund_id")?,
		target: r.try_get("target")?,
		lane: r.try_get("lane")?,
		body: r.try_get("body")?,
		attempts: r.try_get::<i64, _>("attempts")? as u32,
		created_at: r.try_get("created_at")?,
	})
}

const SELECT_MESSAGE: &str =
	"SELECT id, order_id, kind, refund_id, target, lane, body, attempts, created_at FROM outbox";

/// Queues a message for delivery in `lane` (once per order, kind and refund: `refund_id` is
/// empty for an order's own messages), due at `due_at` (ms).
pub async fn enqueue(
	tx: &mut AnyConnection,
	(order_id, refund_id): (&str, &str),
	kind: MessageKind,
	(target, lane): (&str, &str),
	body: &str,
	due_at: i64,
) -> StoreResult<()> {
	sqlx::query(
		"INSERT INTO outbox (order_id, kind, target, lane, body, status, next_attempt_at, created_at,
		 refund_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
	)
	.bind(order_id)
	.bind(kind)
	.bind(target)
	.bind(lane)
	.bind(body)
	.bind(Delivery::Pending)
	.bind(due_at)
	.bind(now_ms())
	.bind(refund_id)
	.execute(tx)
	.await?;
	Ok(())
}

/// Pending messages whose next attempt is due, oldest first, at most `limit`, leaving out the
/// lanes in `busy` (a recipient still working through its last round).
pub async fn due(db: &Db, limit: i64, busy: &[String]) -> StoreResult<Vec<Message>> {
	let skip = (0..busy.len()).map(|i| format!("${}", i + 4)).collect::<Vec<_>>().join(", ");
	let skip = if busy.is_empty() { String::new() } else { format!("AND lane NOT IN ({skip})") };
	let sql = format!(
		"{SELECT_MESSAGE} WHERE status = $1 AND next_attempt_at <= $2 {skip}
		 ORDER BY next_attempt_at LIMIT $3"
	);
	let mut query = sqlx::query(&sql).bind(Delivery::Pending).bind(now_ms()).bind(limit);
	for lane in busy {
		query = query.bind(lane);
	}
	let rows = query.fetch_all(db.pool()).await?;
	rows.iter().map(message_from).collect()
}

/// The notification's kind of an order's own (`refund_id` empty) or of one of its refunds.
fn notification_kind(refund_id: &str) -> MessageKind {
	if refund_id.is_empty() {
		MessageKind::Notify
	} else {
		MessageKind::RefundNotify
	}
}

/// How the notification of an order (`refund_id` empty) or of one of its refunds stands: its
/// delivery, attempts so far and last error.
pub async fn notification(
	conn: &mut AnyConnection,
	(order_id, refund_id): (&str, &str),
) -> StoreResult<Option<(Delivery, u32, Option<String>)>> {
	let row = sqlx::query(
		"SELECT status, attempts, last_error FROM outbox WHERE order_id = $1 AND kind = $2
		 AND refund_id = $3",
	)
	.bind(order_id)
	.bind(notification_kind(refund_id))
	.bind(refund_id)
	.fetch_optional(conn)
	.await?;
	row.map(|r| {
		Ok((
			r.try_get("status")?,
			r.try_get::<i64, _>("attempts")? as u32,
			r.try_get("last_error")?,
		))
	})
	.transpose()
}

/// Queues the notification of an order (`refund_id` empty) or of one of its refunds again, at
/// once and with a fresh count (admin re-drive): whether there was one to send again.
pub async fn redrive_notification(
	db: &Db,
	(order_id, refund_id): (&str, &str),
) -> StoreResult<bool> {
	let changed = sqlx::query(
		"UPDATE outbox SET status = $3, attempts = 0, next_attempt_at = $4, created_at = $4
		 WHERE order_id = $1 AND kind = $2 AND refund_id = $5",
	)
	.bind(order_id)
	.bind(notification_kind(refund_id))
	.bind(Delivery::Pending)
	.bind(now_ms())
	.bind(refund_id)
	.execute(db.pool())
	.await?;
	Ok(changed.rows_affected() > 0)
}

/// The order's debit request, while it is pending.
pub async fn pending_debit_request(db: &Db, order_id: &str) -> StoreResult<Option<Message>> {
	let row =
		sqlx::query(&format!("{SELECT_MESSAGE} WHERE order_id = $1 AND kind = $2 AND status = $3"))
			.bind(order_id)
			.bind(MessageKind::DebitRequest)
			.bind(Delivery::Pending)
			.fetch_optional(db.pool())
			.await?;
	row.as_ref().map(message_from).transpose()
}

/// Records that message `id` was acknowledged at its `attempts`th attempt.
pub async fn delivered(db: &Db, id: i64, attempts: u32) -> StoreResult<()> {
	sqlx::query(
		"UPDATE outbox SET status = $2, attempts = $3, delivered_at = $4, last_error = NULL
		 WHERE id = $1",
	)
	.bind(id)
	.bind(Delivery::Delivered)
	.bind(attempts as i64)
	.bind(now_ms())
	.execute(db.pool())
	.await?;
	Ok(())
}

/// Records that the recipient refused message `id` outright.
pub async fn refused(
	tx: &mut AnyConnection,
	id: i64,
	attempts: u32,
	reason: &str,
) -> StoreResult<()> {
	sqlx::query("UPDATE outbox SET status = $2, attempts = $3, last_error = $4 WHERE id = $1")
		.bind(id)
		.bind(Delivery::Refused)
		.bind(attempts as i64)
		.bind(reason)
		.execute(tx)
		.await?;
	Ok(())
}

/// Records a failed attempt: tried again at `next_attempt_at`, or given up.
pub async fn attempt_failed(
	db: &Db,
	id: i64,
	attempts: u32,
	next_attempt_at: i64,
	gave_up: bool,
	error: &str,
) -> StoreResult<()> {
	sqlx::query(
		"UPDATE outbox SET status = $2, attempts = $3, next_attempt_at = $4, last_error = $5
		 WHERE id = $1",
	)
	.bind(id)
	.bind(if gave_up { Delivery::GaveUp } else { Delivery::Pending })
	.bind(attempts as i64)
	.bind(next_attempt_at)
	.bind(error)
	.execute(db.pool())
	.await?;
	Ok(())
}
