//! The issuer's order: its statuses and the moves allowed between them, and every statement
//! the issuer makes about orders, the wallet app's payment requests and the cycles' entries.
//! A status changes only here, and only along [`OrderStatus::may_become`].

use super::wallet::{self, WalletError};
use crate::common::{
	api::ApiError,
	cycles::LocalEntry,
	iso_status, now_ms,
	store::{self, next_number, Db, OrderState, Refused, StoreError, StoreResult},
};
use serde::Serialize;
use sqlx::{any::AnyRow, AnyConnection, Row};

/// Where an issuer order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
	/// Received (a debit request, or the wallet app's payment), not yet debited.
	Received,
	/// A payment code's order above the no-PIN limit: the code is spent, nothing debited, and
	/// the payer confirms (or declines) in the wallet app until `confirmBy`.
	AwaitingPayer,
	/// Debited and the instruction signed; the bookkeeping call is under way.
	Debited,
	/// Posted in a finalized block.
	Success,
	/// Debited, then reversed on the chain's word that it can never be posted.
	Failed,
	/// Refused before any debit.
	Rejected,
	/// Debited without a final answer: left for reconciliation.
	Unknown,
}

crate::text_enum!(OrderStatus {
	Received => "RECEIVED",
	AwaitingPayer => "AWAITING_PAYER",
	Debited => "DEBITED",
	Success => "SUCCESS",
	Failed => "FAILED",
	Rejected => "REJECTED",
	Unknown => "UNKNOWN",
});

impl OrderStatus {
	pub fn is_final(self) -> bool {
		matches!(self, Self::Success | Self::Failed | Self::Rejected)
	}
}

impl OrderState for OrderStatus {
	/// Whether an order may move from this status to `to`. Staying is a move too (a new
	/// reason, say), except out of a final status.
	fn may_become(self, to: Self) -> bool {
		use OrderStatus::*;
		match (self, to) {
			(Received, Debited | Rejected | AwaitingPayer) => true,
			(AwaitingPayer, Received | Rejected) => true,
			(Debited | Unknown, Success | Failed | Unknown | Debited) => true,
			(from, to) => from == to && !from.is_final(),
		}
	}
}

/// Where voiding a debited order's instruction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoidState {
	None,
	/// The acquirer answered FAILURE: the instruction is voided on chain before the debit is
	/// given back.
	Wanted,
	/// The chain refused the void by name: the debit waits for the instruction's expiry.
	Refused,
}

impl VoidState {
	fn code(self) -> i64 {
		match self {
			Self::None => 0,
			Self::Wanted => 1,
			Self::Refused => 2,
		}
	}

	fn of(code: i64) -> StoreResult<Self> {
		match code {
			0 => Ok(Self::None),
			1 => Ok(Self::Wanted),
			2 => Ok(Self::Refused),
			other => Err(StoreError::unreadable("void state", other)),
		}
	}
}

/// What the issuer refuses of an order, by name.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
	#[error("{0}")]
	UnknownOrder(&'static str),
	#[error("this {0} was used before for another request")]
	IdempotencyKeyReused(&'static str),
	#[error("the time to confirm this payment is over")]
	ConfirmationExpired,
	#[error("another payer's payment of this order is in progress")]
	AttemptInProgress,
	#[error("an order cannot move from {from} to {to}")]
	IllegalTransition { from: OrderStatus, to: OrderStatus },
	#[error(transparent)]
	Wallet(#[from] WalletError),
	#[error(transparent)]
	Store(#[from] StoreError),
}

impl From<sqlx::Error> for OrderError {
	fn from(e: sqlx::Error) -> Self {
		Self::Store(e.into())
	}
}

/// The one place the issuer's domain refusals become HTTP answers.
impl From<OrderError> for ApiError {
	fn from(e: OrderError) -> Self {
		let message = e.to_string();
		match e {
			OrderError::UnknownOrder(_) => ApiError::not_found("UnknownOrder", message),
			OrderError::IdempotencyKeyReused(_) => {
				ApiError::conflict("IdempotencyKeyReused", message)
			}
			OrderError::ConfirmationExpired => ApiError::conflict("ConfirmationExpired", message),
			OrderError::AttemptInProgress => ApiError::conflict("OrderNotPayable", message),
			OrderError::IllegalTransition { .. } => ApiError::internal(message),
			OrderError::Wallet(e) => e.into(),
			OrderError::Store(e) => e.into(),
		}
	}
}

impl From<Refused<OrderStatus>> for OrderError {
	fn from(r: Refused<OrderStatus>) -> Self {
		match r {
			Refused::NoSuchOrder => Self::UnknownOrder("no such order"),
			Refused::Illegal { from, to } => Self::IllegalTransition { from, to },
		}
	}
}

pub type OrderResult<T> = Result<T, OrderError>;

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
	pub status: OrderStatus,
	/// ISO 20022: `ACSC`, `RJCT` or `PDNG`.
	pub iso_status: String,
	pub reason: Option<String>,
	pub posting_id: Option<i64>,
	pub cycle: Option<i64>,
	pub block_number: Option<i64>,
	pub created_at: i64,
	pub updated_at: i64,
	/// What merchants' refunds have given back of this payment: minor units of CNY, and of HKD
	/// credited to the wallet (shown where a payment is looked up).
	pub refunded_amount: i64,
	pub refunded_debit_amount: i64,
	/// While `AWAITING_PAYER`: until when the payer can confirm (ms since the epoch).
	#[serde(skip_serializing_if = "Option::is_none")]
	pub confirm_by: Option<i64>,
	#[serde(skip)]
	pub payer_confirmed: bool,
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
	pub void_state: VoidState,
}

fn order_from(r: &AnyRow) -> StoreResult<Order> {
	let status: OrderStatus = r.try_get("status")?;
	Ok(Order {
		issuer_order_id: r.try_get("issuer_order_id")?,
		acquirer_order_id: r.try_get("acquirer_order_id")?,
		aggregator_order_id: r.try_get("aggregator_order_id")?,
		merchant_id: r.try_get("merchant_id")?,
		merchant_name: r.try_get("merchant_name")?,
		scenario: r.try_get("scenario")?,
		wallet_id: r.try_get("wallet_id")?,
		amount: r.try_get("credit_amount")?,
		currency: r.try_get("credit_currency")?,
		debit_amount: r.try_get("debit_amount")?,
		debit_currency: "HKD".into(),
		rate_id: r.try_get("rate_id")?,
		iso_status: iso_status(
			status == OrderStatus::Success,
			matches!(status, OrderStatus::Failed | OrderStatus::Rejected),
		)
		.into(),
		status,
		reason: r.try_get("reason")?,
		posting_id: r.try_get("posting_id")?,
		cycle: r.try_get("cycle")?,
		block_number: r.try_get("block_number")?,
		created_at: r.try_get("created_at")?,
		updated_at: r.try_get("updated_at")?,
		refunded_amount: 0,
		refunded_debit_amount: 0,
		confirm_by: if status == OrderStatus::AwaitingPayer {
			r.try_get("confirm_by")?
		} else {
			None
		},
		payer_confirmed: r.try_get::<i64, _>("payer_confirmed")? != 0,
		payment_code: r.try_get("payment_code")?,
		request_hash: r.try_get("request_hash")?,
		instruction: r.try_get("instruction")?,
		expires_at: r.try_get("expires_at")?,
		acquirer_informed: r.try_get::<i64, _>("acquirer_informed")? != 0,
		void_state: VoidState::of(r.try_get("void_state")?)?,
	})
}

const SELECT_ORDER: &str = "SELECT * FROM orders";

async fn order_where(
	tx: &mut AnyConnection,
	condition: &str,
	value: &str,
) -> StoreResult<Option<Order>> {
	let row = sqlx::query(&format!("{SELECT_ORDER} WHERE {condition} = $1"))
		.bind(value)
		.fetch_optional(tx)
		.await?;
	row.as_ref().map(order_from).transpose()
}

/// The order with this issuer order id.
pub async fn order(tx: &mut AnyConnection, issuer_order_id: &str) -> StoreResult<Option<Order>> {
	order_where(tx, "issuer_order_id", issuer_order_id).await
}

/// The order of this acquirer order: its live attempt, or else its latest failed one (a
/// dynamic or in-app order may have had payers whose attempts failed).
pub async fn order_of_acquirer(
	tx: &mut AnyConnection,
	acquirer_order_id: &str,
) -> StoreResult<Option<Order>> {
	let row = sqlx::query(&format!(
		"{SELECT_ORDER} WHERE acquirer_order_id = $1
		 ORDER BY CASE WHEN status IN ($2, $3) THEN 1 ELSE 0 END, created_at DESC LIMIT 1"
	))
	.bind(acquirer_order_id)
	.bind(OrderStatus::Rejected)
	.bind(OrderStatus::Failed)
	.fetch_optional(tx)
	.await?;
	row.as_ref().map(order_from).transpose()
}

/// [`order`], read outside a transaction.
pub async fn load(db: &Db, issuer_order_id: &str) -> StoreResult<Option<Order>> {
	order(&mut *db.conn().await?, issuer_order_id).await
}

/// The order, which must exist.
pub async fn get(db: &Db, issuer_order_id: &str) -> OrderResult<Order> {
	load(db, issuer_order_id).await?.ok_or(OrderError::UnknownOrder("no such order"))
}

async fn orders_in(db: &Db, sql: &str, binds: &[OrderStatus]) -> StoreResult<Vec<Order>> {
	let mut query = sqlx::query(sql);
	for status in binds {
		query = query.bind(*status);
	}
	let rows = query.fetch_all(db.pool()).await?;
	rows.iter().map(order_from).collect()
}

/// Orders a processing task must take up: not yet debited, debited without an answer, or
/// failed without the acquirer knowing.
pub async fn to_resume(db: &Db) -> StoreResult<Vec<Order>> {
	orders_in(
		db,
		&format!(
			"{SELECT_ORDER} WHERE status IN ($1, $2) OR (status IN ($3, $4) AND acquirer_informed = 0)
			 ORDER BY created_at"
		),
		&[OrderStatus::Received, OrderStatus::Debited, OrderStatus::Rejected, OrderStatus::Failed],
	)
	.await
}

/// Orders that failed without the acquirer having heard it from us or told it to us.
pub async fn uninformed(db: &Db) -> StoreResult<Vec<Order>> {
	orders_in(
		db,
		&format!(
			"{SELECT_ORDER} WHERE status IN ($1, $2) AND acquirer_informed = 0 ORDER BY created_at"
		),
		&[OrderStatus::Rejected, OrderStatus::Failed],
	)
	.await
}

/// Unknown orders, and those received or debited that no task has touched since `before`.
pub async fn stalled(db: &Db, before: i64) -> StoreResult<Vec<Order>> {
	let rows = sqlx::query(&format!(
		"{SELECT_ORDER} WHERE status = $1 OR (status IN ($2, $3) AND updated_at < $4)
		 ORDER BY created_at"
	))
	.bind(OrderStatus::Unknown)
	.bind(OrderStatus::Received)
	.bind(OrderStatus::Debited)
	.bind(before)
	.fetch_all(db.pool())
	.await?;
	rows.iter().map(order_from).collect()
}

/// The issuer's successful orders of a cycle: each debited its HKD account.
pub async fn cycle_entries(db: &Db, cycle: u32) -> StoreResult<Vec<LocalEntry>> {
	let rows = sqlx::query(
		"SELECT acquirer_order_id, debit_amount, posting_id, instruction FROM orders
		 WHERE status = $1 AND cycle = $2",
	)
	.bind(OrderStatus::Success)
	.bind(cycle as i64)
	.fetch_all(db.pool())
	.await?;
	rows.iter()
		.map(|r| {
			LocalEntry::from_stored(
				r.try_get("acquirer_order_id")?,
				-r.try_get::<i64, _>("debit_amount")?,
				r.try_get("posting_id")?,
				&r.try_get::<String, _>("instruction")?,
			)
		})
		.collect()
}

async fn new_order_id(tx: &mut AnyConnection) -> StoreResult<String> {
	Ok(format!("ISS{:012}", next_number(tx, "order").await?))
}

/// What a new order holds, from the acquirer's debit request or the wallet app's checkout.
pub struct NewOrder<'a> {
	pub issuer_order_id: &'a str,
	pub acquirer_order_id: &'a str,
	pub aggregator_order_id: &'a str,
	pub merchant_id: &'a str,
	pub merchant_name: &'a str,
	pub scenario: &'a str,
	/// The paying wallet, when the payer confirmed in the app.
	pub wallet_id: Option<&'a str>,
	/// The payer's code, when the merchant scanned it.
	pub payment_code: Option<&'a str>,
	pub request_hash: &'a str,
	/// The merchant's price in minor units of CNY.
	pub amount: i64,
}

/// Records a new order as `RECEIVED`; false if it exists already.
async fn insert(tx: &mut AnyConnection, o: &NewOrder<'_>) -> StoreResult<bool> {
	let now = now_ms();
	let inserted = sqlx::query(
		"INSERT INTO orders (issuer_order_id, acquirer_order_id, aggregator_order_id, merchant_id,
		 merchant_name, scenario, wallet_id, payment_code, request_hash, credit_amount,
		 credit_currency, status, created_at, updated_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'CNY', $11, $12, $12)
		 ON CONFLICT DO NOTHING",
	)
	.bind(o.issuer_order_id)
	.bind(o.acquirer_order_id)
	.bind(o.aggregator_order_id)
	.bind(o.merchant_id)
	.bind(o.merchant_name)
	.bind(o.scenario)
	.bind(o.wallet_id)
	.bind(o.payment_code)
	.bind(o.request_hash)
	.bind(o.amount)
	.bind(OrderStatus::Received)
	.bind(now)
	.execute(tx)
	.await?;
	Ok(inserted.rows_affected() == 1)
}

/// Takes the acquirer's debit request as a new order, or finds the order an identical request
/// made; the issuer order id and whether it is new. Two deliveries of one request at once
/// (the acquirer's outbox may send it twice) make one order: the second insert waits for the
/// first and then finds it.
pub async fn receive_debit_request(
	db: &Db,
	mut order: NewOrder<'_>,
) -> OrderResult<(String, bool)> {
	let mut tx = db.begin().await?;
	let id = match order_of_acquirer(&mut tx, order.acquirer_order_id).await? {
		Some(existing) => existing.issuer_order_id,
		None => new_order_id(&mut tx).await?,
	};
	order.issuer_order_id = &id;
	if insert(&mut tx, &order).await? {
		tx.commit().await?;
		return Ok((id, true));
	}
	drop(tx);
	let existing = order_of_acquirer(&mut *db.conn().await?, order.acquirer_order_id)
		.await?
		.ok_or(OrderError::UnknownOrder("no debit request for this order"))?;
	if existing.request_hash != order.request_hash {
		return Err(OrderError::IdempotencyKeyReused("acquirer order"));
	}
	Ok((existing.issuer_order_id, false))
}

/// The issuer order id of the wallet app's payment request `request_id`, new or the one an
/// identical request was given (also when the two arrive at once).
pub async fn app_request(
	db: &Db,
	wallet_id: &str,
	request_id: &str,
	request_hash: &str,
) -> OrderResult<String> {
	let mut tx = db.begin().await?;
	let id = new_order_id(&mut tx).await?;
	let inserted = sqlx::query(
		"INSERT INTO app_requests (wallet_id, request_id, request_hash, issuer_order_id)
		 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
	)
	.bind(wallet_id)
	.bind(request_id)
	.bind(request_hash)
	.bind(&id)
	.execute(&mut *tx)
	.await?;
	if inserted.rows_affected() == 1 {
		tx.commit().await?;
		return Ok(id);
	}
	// Seen before: nothing of this attempt is kept (on PostgreSQL its number is skipped).
	drop(tx);
	let row = sqlx::query(
		"SELECT request_hash, issuer_order_id FROM app_requests
		 WHERE wallet_id = $1 AND request_id = $2",
	)
	.bind(wallet_id)
	.bind(request_id)
	.fetch_one(db.pool())
	.await?;
	if row.try_get::<String, _>("request_hash")? != request_hash {
		return Err(OrderError::IdempotencyKeyReused("requestId"));
	}
	Ok(row.try_get("issuer_order_id")?)
}

/// Records the order the wallet app's checkout made (once; a repeat changes nothing).
/// Refused while another payer's attempt at the same acquirer order is still live:
/// `AttemptInProgress`.
pub async fn receive_checkout(db: &Db, new: NewOrder<'_>) -> OrderResult<()> {
	let mut conn = db.conn().await?;
	if !insert(&mut conn, &new).await? && order(&mut conn, new.issuer_order_id).await?.is_none() {
		return Err(OrderError::AttemptInProgress);
	}
	Ok(())
}

/// The order a payment code paid, if the code is `wallet_id`'s.
pub async fn paid_by_code(db: &Db, wallet_id: &str, code: &str) -> StoreResult<Option<Order>> {
	let mut conn = db.conn().await?;
	if wallet::code_owner(&mut conn, code).await?.as_deref() != Some(wallet_id) {
		return Ok(None);
	}
	order_where(&mut conn, "payment_code", code).await
}

/// Moves the order to `to` from whatever status it is in, if that move is allowed; refuses
/// any other move by name.
async fn move_to(
	tx: &mut AnyConnection,
	id: &str,
	to: OrderStatus,
	reason: Option<&str>,
) -> OrderResult<()> {
	Ok(store::move_order(tx, KEY, id, to, reason).await??)
}

/// Moves the order to `to` only if it is in one of `from` (each an allowed move); whether it
/// moved.
async fn move_if(
	tx: &mut AnyConnection,
	id: &str,
	from: &[OrderStatus],
	to: OrderStatus,
	reason: Option<&str>,
) -> OrderResult<bool> {
	Ok(store::move_order_if(tx, KEY, id, from, to, reason).await??)
}

/// The column that names an issuer order.
const KEY: &str = "issuer_order_id";

/// Refuses a received order before any debit.
pub async fn reject(tx: &mut AnyConnection, id: &str, reason: &str) -> OrderResult<()> {
	move_to(tx, id, OrderStatus::Rejected, Some(reason)).await
}

/// The code a merchant scanned, checked and spent for order `id`: the paying wallet, or the
/// reason the order is refused.
pub async fn spend_code(
	tx: &mut AnyConnection,
	id: &str,
	code: &str,
) -> OrderResult<Result<String, &'static str>> {
	let Some(wallet_id) = wallet::spend_code(tx, code, id).await? else {
		return Ok(Err("UnknownPaymentCode"));
	};
	match wallet_id {
		Ok(wallet_id) => {
			sqlx::query("UPDATE orders SET wallet_id = $2 WHERE issuer_order_id = $1")
				.bind(id)
				.bind(&wallet_id)
				.execute(tx)
				.await?;
			Ok(Ok(wallet_id))
		}
		Err(refusal) => Ok(Err(refusal)),
	}
}

/// The debit of a received order: the wallet's money taken (once), the signed instruction
/// kept, the order `DEBITED`.
pub struct Debit<'a> {
	pub wallet_id: &'a str,
	pub amount: i64,
	pub rate_id: u64,
	pub expires_at: u64,
	/// The signed instruction, as JSON.
	pub instruction: &'a str,
}

/// Debits order `id`, read in status `from` under its lock; refused by name if it is no
/// longer in `from` (the transaction is then the caller's to drop).
pub async fn debit(
	tx: &mut AnyConnection,
	id: &str,
	from: OrderStatus,
	d: &Debit<'_>,
) -> OrderResult<()> {
	if !move_if(tx, id, &[from], OrderStatus::Debited, None).await? {
		let now = order(tx, id).await?.ok_or(OrderError::UnknownOrder("no such order"))?;
		return Err(OrderError::IllegalTransition { from: now.status, to: OrderStatus::Debited });
	}
	wallet::book(tx, d.wallet_id, wallet::EntryKind::Debit, -d.amount, id).await?;
	sqlx::query(
		"UPDATE orders SET debit_amount = $2, rate_id = $3, expires_at = $4, instruction = $5
		 WHERE issuer_order_id = $1",
	)
	.bind(id)
	.bind(d.amount)
	.bind(d.rate_id as i64)
	.bind(d.expires_at as i64)
	.bind(d.instruction)
	.execute(&mut *tx)
	.await?;
	Ok(())
}

/// Holds a payment code's order above the no-PIN limit for the payer's confirmation until
/// `confirm_by` (the code stays spent for it).
pub async fn await_payer(tx: &mut AnyConnection, id: &str, confirm_by: i64) -> OrderResult<()> {
	sqlx::query("UPDATE orders SET confirm_by = $2 WHERE issuer_order_id = $1")
		.bind(id)
		.bind(confirm_by)
		.execute(&mut *tx)
		.await?;
	move_to(tx, id, OrderStatus::AwaitingPayer, None).await
}

/// The orders of `wallet_id` waiting for its holder's confirmation, oldest first.
pub async fn awaiting_payer(db: &Db, wallet_id: &str) -> StoreResult<Vec<Order>> {
	let rows = sqlx::query(&format!(
		"{SELECT_ORDER} WHERE wallet_id = $1 AND status = $2 AND confirm_by > $3
		 ORDER BY created_at"
	))
	.bind(wallet_id)
	.bind(OrderStatus::AwaitingPayer)
	.bind(now_ms())
	.fetch_all(db.pool())
	.await?;
	rows.iter().map(order_from).collect()
}

/// The payer's answer to an order awaiting it: confirmed, it is received again to be debited
/// (without the limit); declined, it is rejected. Refused unless the order is the wallet's
/// and still waits (`UnknownOrder`), and once its time is over (`ConfirmationExpired`).
pub async fn payer_answered(
	db: &Db,
	wallet_id: &str,
	id: &str,
	confirmed: bool,
) -> OrderResult<Order> {
	let mut tx = db.begin().await?;
	let pending = order(&mut tx, id).await?.filter(|o| {
		o.wallet_id.as_deref() == Some(wallet_id) && o.status == OrderStatus::AwaitingPayer
	});
	let Some(pending) = pending else {
		return Err(OrderError::UnknownOrder("no payment of this wallet awaits its confirmation"));
	};
	if pending.confirm_by.unwrap_or(0) <= now_ms() {
		return Err(OrderError::ConfirmationExpired);
	}
	let from = [OrderStatus::AwaitingPayer];
	let (to, reason) = match confirmed {
		true => (OrderStatus::Received, None),
		false => (OrderStatus::Rejected, Some("PayerDeclined")),
	};
	if !move_if(&mut tx, id, &from, to, reason).await? {
		return Err(OrderError::UnknownOrder("no payment of this wallet awaits its confirmation"));
	}
	if confirmed {
		sqlx::query("UPDATE orders SET payer_confirmed = 1 WHERE issuer_order_id = $1")
			.bind(id)
			.execute(&mut *tx)
			.await?;
	}
	let answered = order(&mut tx, id).await?.ok_or(OrderError::UnknownOrder("no such order"))?;
	tx.commit().await?;
	Ok(answered)
}

/// Rejects the orders whose payer did not confirm in time; their ids.
pub async fn expire_unconfirmed(db: &Db) -> OrderResult<Vec<String>> {
	let mut tx = db.begin().await?;
	let rows =
		sqlx::query("SELECT issuer_order_id FROM orders WHERE status = $1 AND confirm_by <= $2")
			.bind(OrderStatus::AwaitingPayer)
			.bind(now_ms())
			.fetch_all(&mut *tx)
			.await?;
	let mut expired = Vec::new();
	let from = [OrderStatus::AwaitingPayer];
	for row in rows {
		let id: String = row.try_get(0)?;
		// Only if the payer has not answered since the list was read.
		if move_if(&mut tx, &id, &from, OrderStatus::Rejected, Some("PayerDidNotConfirm")).await? {
			expired.push(id);
		}
	}
	tx.commit().await?;
	Ok(expired)
}

/// Records that the acquirer knows the order came to nothing.
pub async fn acquirer_informed(db: &Db, id: &str) -> StoreResult<()> {
	sqlx::query("UPDATE orders SET acquirer_informed = 1 WHERE issuer_order_id = $1")
		.bind(id)
		.execute(db.pool())
		.await?;
	Ok(())
}

/// Marks a debited order's instruction to be voided before its debit is given back, with the
/// acquirer's reason; the acquirer told us, so it needs no word back.
pub async fn want_void(db: &Db, id: &str, reason: &str) -> StoreResult<bool> {
	let changed = sqlx::query(
		"UPDATE orders SET void_state = $2, reason = $3, acquirer_informed = 1, updated_at = $4
		 WHERE issuer_order_id = $1 AND status IN ($5, $6) AND void_state = $7",
	)
	.bind(id)
	.bind(VoidState::Wanted.code())
	.bind(reason)
	.bind(now_ms())
	.bind(OrderStatus::Debited)
	.bind(OrderStatus::Unknown)
	.bind(VoidState::None.code())
	.execute(db.pool())
	.await?;
	Ok(changed.rows_affected() > 0)
}

/// Records that the chain refused the order's void by name: its debit waits for the expiry.
pub async fn void_refused(db: &Db, id: &str, error: &str) -> OrderResult<()> {
	let mut tx = db.begin().await?;
	let reason =
		format!("VoidRefused: {error}; the debit is given back once the instruction expires");
	let moved = move_if(
		&mut tx,
		id,
		&[OrderStatus::Debited, OrderStatus::Unknown],
		OrderStatus::Unknown,
		Some(&reason),
	)
	.await?;
	if moved {
		sqlx::query("UPDATE orders SET void_state = $2 WHERE issuer_order_id = $1")
			.bind(id)
			.bind(VoidState::Refused.code())
			.execute(&mut *tx)
			.await?;
	}
	tx.commit().await?;
	Ok(())
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

/// Gives a debited order's money back to the wallet, once, and fails the order, on the
/// chain's word that it can never be posted; whether it did. The order keeps the acquirer's
/// reason where it gave one.
pub async fn reverse(db: &Db, id: &str, evidence: NoPosting) -> OrderResult<bool> {
	let mut tx = db.begin().await?;
	let Some(order) = order(&mut tx, id).await? else { return Ok(false) };
	if !matches!(order.status, OrderStatus::Debited | OrderStatus::Unknown) {
		return Ok(false);
	}
	let (Some(wallet), Some(amount)) = (&order.wallet_id, order.debit_amount) else {
		return Err(StoreError::unreadable(
			"debited order",
			format!("{id} without wallet or amount"),
		)
		.into());
	};
	let reason = match evidence {
		NoPosting::Voided { block } => match order.reason.as_deref() {
			Some(r) if order.void_state == VoidState::Wanted => {
				format!("{r} (instruction voided in block #{block})")
			}
			_ => format!("InstructionVoided: voided in block #{block}"),
		},
		NoPosting::Expired { .. } => {
			"InstructionExpired: not posted before the instruction's expiry".to_string()
		}
	};
	wallet::book(&mut tx, wallet, wallet::EntryKind::Reversal, amount, id).await?;
	move_to(&mut tx, id, OrderStatus::Failed, Some(&reason)).await?;
	tx.commit().await?;
	Ok(true)
}

/// Records the posting of a successful order; whether the order changed.
pub async fn succeed(
	db: &Db,
	id: &str,
	posting_id: u64,
	cycle: u32,
	block_number: u64,
) -> OrderResult<bool> {
	let mut tx = db.begin().await?;
	let moved = move_if(
		&mut tx,
		id,
		&[OrderStatus::Debited, OrderStatus::Unknown],
		OrderStatus::Success,
		None,
	)
	.await?;
	if moved {
		sqlx::query(
			"UPDATE orders SET posting_id = $2, cycle = $3, block_number = $4
			 WHERE issuer_order_id = $1",
		)
		.bind(id)
		.bind(posting_id as i64)
		.bind(cycle as i64)
		.bind(block_number as i64)
		.execute(&mut *tx)
		.await?;
	}
	tx.commit().await?;
	Ok(moved)
}

/// A debited order without a final answer is left for reconciliation; an order whose void is
/// wanted keeps the acquirer's reason, which is the payer's answer. Whether it moved.
pub async fn leave_unknown(db: &Db, id: &str, reason: &str) -> OrderResult<bool> {
	let mut tx = db.begin().await?;
	let kept = order(&mut tx, id)
		.await?
		.filter(|o| o.void_state == VoidState::Wanted)
		.and_then(|o| o.reason);
	let reason = kept.as_deref().unwrap_or(reason);
	let moved =
		move_if(&mut tx, id, &[OrderStatus::Debited], OrderStatus::Unknown, Some(reason)).await?;
	tx.commit().await?;
	Ok(moved)
}

/// An unknown order still postable goes back to `DEBITED`, for its bookkeeping call (or its
/// void) to be made again; an order whose void was wanted keeps its reason.
pub async fn retry_unknown(db: &Db, order: &Order) -> OrderResult<bool> {
	let reason = order.reason.as_deref().filter(|_| order.void_state != VoidState::None);
	let mut tx = db.begin().await?;
	let moved = move_if(
		&mut tx,
		&order.issuer_order_id,
		&[OrderStatus::Unknown],
		OrderStatus::Debited,
		reason,
	)
	.await?;
	tx.commit().await?;
	Ok(moved)
}

#[cfg(test)]
mod tests {
	use super::{
		OrderStatus::{self, *},
		*,
	};
	use crate::issuer::MIGRATIONS;

	async fn migrations_recorded(db: &Db) -> i64 {
		let row = sqlx::query("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
			.fetch_one(db.pool())
			.await
			.unwrap();
		row.try_get(0).unwrap()
	}

	#[tokio::test]
	async fn an_empty_store_is_laid_out_by_the_migrations_once() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("new").join("issuer.sqlite");
		let db = Db::open(path.to_str().unwrap(), &MIGRATIONS).await.unwrap();
		let all = MIGRATIONS.sqlite.iter().count() as i64;
		assert_eq!(migrations_recorded(&db).await, all);
		let id = app_request(&db, "W1", "R1", "h").await.unwrap();
		assert_eq!(id, "ISS000000000001");
		assert_eq!(app_request(&db, "W1", "R1", "h").await.unwrap(), id);
		assert!(matches!(
			app_request(&db, "W1", "R1", "other").await,
			Err(OrderError::IdempotencyKeyReused(_))
		));
		drop(db);
		let again = Db::open(path.to_str().unwrap(), &MIGRATIONS).await.unwrap();
		assert_eq!(migrations_recorded(&again).await, all);
		assert_eq!(app_request(&again, "W1", "R2", "h").await.unwrap(), "ISS000000000002");
	}

	#[tokio::test]
	async fn a_store_of_the_release_before_migrations_is_taken_over_with_its_data() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("issuer.sqlite");
		sqlx::any::install_default_drivers();
		let old =
			sqlx::AnyPool::connect(&format!("sqlite://{}?mode=rwc", path.display())).await.unwrap();
		// That release's start-up: the first migration's statements, not recorded; then data.
		for sql in [
			include_str!("../../migrations/issuer/sqlite/0001_initial.sql"),
			include_str!("../../tests/fixtures/issuer-store-before-migrations.sql"),
		] {
			sqlx::raw_sql(sql).execute(&old).await.unwrap();
		}
		let recorded =
			sqlx::query("SELECT name FROM sqlite_master WHERE name = '_sqlx_migrations'");
		assert!(recorded.fetch_optional(&old).await.unwrap().is_none());
		old.close().await;

		let db = Db::open(path.to_str().unwrap(), &MIGRATIONS).await.unwrap();
		assert_eq!(migrations_recorded(&db).await, MIGRATIONS.sqlite.iter().count() as i64);
		let order = load(&db, "ISS000000000001").await.unwrap().expect("the old order");
		assert_eq!(order.status, Debited);
		assert_eq!(order.void_state, VoidState::Wanted);
		assert_eq!((order.amount, order.debit_amount), (920, Some(1000)));
		assert_eq!(wallet::get(&db, "W0000000001").await.unwrap().balance, 99_000);
		// The sequences go on where the old store left them.
		assert_eq!(app_request(&db, "W0000000001", "R1", "h").await.unwrap(), "ISS000000000002");
		// And its order moves on as any other.
		assert!(reverse(&db, "ISS000000000001", NoPosting::Voided { block: 9 }).await.unwrap());
		assert_eq!(wallet::get(&db, "W0000000001").await.unwrap().balance, 100_000);
		let failed = load(&db, "ISS000000000001").await.unwrap().unwrap();
		assert_eq!(failed.status, Failed);
		assert!(!reverse(&db, "ISS000000000001", NoPosting::Voided { block: 9 }).await.unwrap());
	}

	#[test]
	fn final_statuses_never_move_and_a_received_order_is_debited_or_rejected() {
		for from in OrderStatus::ALL.iter().filter(|s| s.is_final()) {
			for to in OrderStatus::ALL {
				assert!(!from.may_become(*to), "{from} -> {to}");
			}
		}
		assert!(Received.may_become(Debited) && Received.may_become(Rejected));
		assert!(!Received.may_become(Success) && !Received.may_become(Failed));
		assert!(Debited.may_become(Unknown) && Unknown.may_become(Debited));
		assert!(!Unknown.may_become(Rejected) && !Debited.may_become(Received));
	}

	#[test]
	fn statuses_are_stored_by_name_and_an_unknown_name_is_refused() {
		for s in OrderStatus::ALL {
			assert_eq!(s.as_str().parse::<OrderStatus>().unwrap(), *s);
		}
		assert!("PAID".parse::<OrderStatus>().is_err());
	}
}
