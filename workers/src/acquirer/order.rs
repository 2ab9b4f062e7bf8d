//! The acquirer's order: its statuses and the moves allowed between them, and every
//! statement the acquirer makes about orders. A status changes only here, along
//! [`OrderStatus::may_become`]; a final status and the notification it owes are written in
//! one transaction.

use super::{
	merchant::{self, Merchant},
	messages::{self, MessageKind},
};
use crate::common::{
	api::ApiError,
	cycles::LocalEntry,
	iso_status, now_ms,
	store::{self, next_number, Db, OrderState, Refused, StoreError, StoreResult},
	wire::{scenario_text, DebitRequest, Notification, Scenario},
};
use serde::Serialize;
use sqlx::{any::AnyRow, AnyConnection, Row};

/// Where an acquirer order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OrderStatus {
	/// A dynamic-QR or in-app order nobody has paid yet.
	AwaitingPayment,
	/// The issuer was asked to debit (micropay) or is paying it (checkout).
	DebitRequested,
	/// The payment code's amount is above the issuer's no-PIN limit: the payer is asked to
	/// confirm in the wallet app (WeChat Pay's `USERPAYING`); the merchant queries the order.
	UserPaying,
	/// The signed instruction is being posted.
	Posting,
	Success,
	Failed,
	/// Left for reconciliation.
	Unknown,
	/// Never paid.
	Closed,
}

crate::text_enum!(OrderStatus {
	AwaitingPayment => "AWAITING_PAYMENT",
	DebitRequested => "DEBIT_REQUESTED",
	UserPaying => "USERPAYING",
	Posting => "POSTING",
	Success => "SUCCESS",
	Failed => "FAILED",
	Unknown => "UNKNOWN",
	Closed => "CLOSED",
});

impl OrderStatus {
	pub fn is_final(self) -> bool {
		matches!(self, Self::Success | Self::Failed | Self::Closed)
	}
}

impl OrderState for OrderStatus {
	/// Whether an order may move from this status to `to`. Staying is a move too (a posting
	/// resumed), except in a final status.
	fn may_become(self, to: Self) -> bool {
		use OrderStatus::*;
		match (self, to) {
			(AwaitingPayment, DebitRequested | Failed | Closed) => true,
			(DebitRequested, Posting | Failed | UserPaying | AwaitingPayment) => true,
			(UserPaying, Posting | Failed) => true,
			(Posting, Success | Failed | Unknown) => true,
			(Unknown, Success | Failed) => true,
			(from, to) => from == to && !from.is_final(),
		}
	}
}

/// What the acquirer refuses of an order or a merchant, by name.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
	#[error("{0}")]
	UnknownOrder(&'static str),
	#[error("no such merchant")]
	UnknownMerchant,
	#[error("the merchant is suspended")]
	MerchantSuspended,
	#[error("no such aggregator; register the aggregator first")]
	UnknownAggregator,
	#[error("notifyUrl: {0}")]
	NotifyUrlNotAllowed(String),
	#[error("{0}")]
	IdempotencyKeyReused(String),
	#[error("the order is {0}")]
	OrderNotPayable(OrderStatus),
	#[error("the order can no longer be paid")]
	OrderExpired,
	#[error("the merchant closed the order")]
	OrderClosed,
	#[error("the order is {0}; only an order awaiting payment is closed")]
	OrderNotClosable(OrderStatus),
	#[error("only a micropay order is cancelled; close an unpaid dynamic-QR or in-app order")]
	OrderNotCancellable,
	#[error("the order is older than the cancel window")]
	CancelWindowOver,
	#[error("the payer's confirmation must name the amount")]
	AmountRequired,
	#[error("the payer confirmed {confirmed} but the order is for {order}")]
	AmountMismatch { confirmed: i64, order: i64 },
	#[error("the order is {0}; only a successful order is refunded")]
	OrderNotSuccessful(OrderStatus),
	#[error("the refund of {requested} exceeds what remains of the order ({remaining})")]
	RefundExceedsRemaining { requested: i64, remaining: i64 },
	#[error("no such refund")]
	UnknownRefund,
	#[error("an order cannot move from {from} to {to}")]
	IllegalTransition { from: OrderStatus, to: OrderStatus },
	#[error(transparent)]
	Store(#[from] StoreError),
}

impl From<sqlx::Error> for OrderError {
	fn from(e: sqlx::Error) -> Self {
		Self::Store(e.into())
	}
}

/// The one place the acquirer's domain refusals become HTTP answers.
impl From<OrderError> for ApiError {
	fn from(e: OrderError) -> Self {
		let message = e.to_string();
		match e {
			OrderError::UnknownOrder(_) => ApiError::not_found("UnknownOrder", message),
			OrderError::UnknownMerchant => ApiError::not_found("UnknownMerchant", message),
			OrderError::MerchantSuspended => ApiError::forbidden("MerchantSuspended", message),
			OrderError::UnknownAggregator => ApiError::not_found("UnknownAggregator", message),
			OrderError::NotifyUrlNotAllowed(_) => {
				ApiError::bad_request("NotifyUrlNotAllowed", message)
			}
			OrderError::IdempotencyKeyReused(_) => {
				ApiError::conflict("IdempotencyKeyReused", message)
			}
			OrderError::OrderNotPayable(_) => ApiError::conflict("OrderNotPayable", message),
			OrderError::OrderExpired => ApiError::conflict("OrderExpired", message),
			OrderError::OrderClosed => ApiError::conflict("OrderClosed", message),
			OrderError::OrderNotClosable(_) => ApiError::conflict("OrderNotClosable", message),
			OrderError::OrderNotCancellable => ApiError::conflict("OrderNotCancellable", message),
			OrderError::CancelWindowOver => ApiError::conflict("CancelWindowOver", message),
			OrderError::AmountRequired => ApiError::bad_request("AmountRequired", message),
			OrderError::AmountMismatch { .. } => ApiError::conflict("AmountMismatch", message),
			OrderError::OrderNotSuccessful(_) => ApiError::conflict("OrderNotSuccessful", message),
			OrderError::RefundExceedsRemaining { .. } => {
				ApiError::conflict("RefundExceedsRemaining", message)
			}
			OrderError::UnknownRefund => ApiError::not_found("UnknownRefund", message),
			OrderError::IllegalTransition { .. } => ApiError::internal(message),
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
	pub status: OrderStatus,
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
	/// What refunds have given back on chain, minor units of CNY.
	pub refunded_amount: i64,
	/// The status as WeChat Pay's `trade_state` would say it: a successful order refunded in
	/// full is `REFUND`, in part `PARTIAL_REFUND`; otherwise the status.
	pub trade_state: String,
	/// The merchant asked to cancel this micropay order.
	pub cancel_requested: bool,
	/// How the order's notification to the aggregator stands, once it is final.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub notification: Option<NotificationState>,
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

/// An order's notification, as its aggregator sees it in the order query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NotificationState {
	/// `PENDING` (being delivered), `DELIVERED`, or `GAVE_UP` (not acknowledged within the
	/// acquirer's give-up time; admin can send it again).
	pub status: String,
	pub attempts: u32,
	pub last_error: Option<String>,
}

fn order_from(r: &AnyRow) -> StoreResult<Order> {
	let status: OrderStatus = r.try_get("status")?;
	Ok(Order {
		order_id: r.try_get("order_id")?,
		aggregator_id: r.try_get("aggregator_id")?,
		aggregator_order_id: r.try_get("aggregator_order_id")?,
		merchant_id: r.try_get("merchant_id")?,
		scenario: r.try_get("scenario")?,
		amount: r.try_get("amount")?,
		currency: r.try_get("currency")?,
		description: r.try_get("description")?,
		iso_status: iso_status(
			status == OrderStatus::Success,
			matches!(status, OrderStatus::Failed | OrderStatus::Closed),
		)
		.into(),
		status,
		reason: r.try_get("reason")?,
		prepay_id: r.try_get("prepay_id")?,
		issuer_order_id: r.try_get("issuer_order_id")?,
		posting_id: r.try_get("posting_id")?,
		cycle: r.try_get("cycle")?,
		block_number: r.try_get("block_number")?,
		block_hash: r.try_get("block_hash")?,
		pay_by: r.try_get("pay_by")?,
		created_at: r.try_get("created_at")?,
		updated_at: r.try_get("updated_at")?,
		refunded_amount: 0,
		trade_state: status.to_string(),
		cancel_requested: r.try_get::<Option<i64>, _>("cancel_requested_at")?.is_some(),
		notification: None,
		notify_url: r.try_get("notify_url")?,
		request_hash: r.try_get("request_hash")?,
		instruction: r.try_get("instruction")?,
		pending_tx: r.try_get("pending_tx")?,
		payment_code: r.try_get("payment_code")?,
	})
}

const SELECT_ORDER: &str = "SELECT * FROM orders";

/// The column that names an acquirer order.
const KEY: &str = "order_id";

async fn order_where(
	tx: &mut AnyConnection,
	column: &'static str,
	value: &str,
) -> StoreResult<Option<Order>> {
	let row = sqlx::query(&format!("{SELECT_ORDER} WHERE {column} = $1"))
		.bind(value)
		.fetch_optional(tx)
		.await?;
	row.as_ref().map(order_from).transpose()
}

pub async fn order(tx: &mut AnyConnection, order_id: &str) -> StoreResult<Option<Order>> {
	order_where(tx, KEY, order_id).await
}

/// [`order`], read outside a transaction.
pub async fn load(db: &Db, order_id: &str) -> StoreResult<Option<Order>> {
	order(&mut *db.conn().await?, order_id).await
}

/// The order, which must exist.
pub async fn get(db: &Db, order_id: &str) -> OrderResult<Order> {
	load(db, order_id).await?.ok_or(OrderError::UnknownOrder("no such order"))
}

/// An aggregator's order, by its id or by the aggregator's own id for it; another
/// aggregator's order is not found.
pub async fn of_aggregator(
	db: &Db,
	aggregator_id: &str,
	order_id: Option<&str>,
	aggregator_order_id: Option<&str>,
) -> OrderResult<Order> {
	let mut conn = db.conn().await?;
	let found = match (order_id, aggregator_order_id) {
		(Some(id), _) => order(&mut conn, id).await?,
		(None, Some(theirs)) => by_aggregator_id(&mut conn, aggregator_id, theirs).await?,
		(None, None) => None,
	};
	let mut order = found
		.filter(|o| o.aggregator_id == aggregator_id)
		.ok_or(OrderError::UnknownOrder("no such order"))?;
	// On the connection already held: a SQLite store has only one.
	with_refunds(&mut conn, &mut order).await?;
	order.notification = notification_state(&mut conn, (&order.order_id, "")).await?;
	Ok(order)
}

/// How the notification of an order (`refund_id` empty) or of one of its refunds stands, as
/// its aggregator sees it.
pub async fn notification_state(
	conn: &mut AnyConnection,
	subject: (&str, &str),
) -> StoreResult<Option<NotificationState>> {
	Ok(messages::notification(conn, subject).await?.map(|(status, attempts, last_error)| {
		NotificationState { status: status.to_string(), attempts, last_error }
	}))
}

/// Fills in what the order has had refunded, and its trade state with it.
pub async fn with_refunds(conn: &mut AnyConnection, order: &mut Order) -> StoreResult<()> {
	if order.status == OrderStatus::Success {
		order.refunded_amount = super::refund::settled(conn, &order.order_id).await?;
		order.trade_state =
			super::refund::trade_state(order.status, order.amount, order.refunded_amount).into();
	}
	Ok(())
}

async fn by_aggregator_id(
	tx: &mut AnyConnection,
	aggregator_id: &str,
	aggregator_order_id: &str,
) -> StoreResult<Option<Order>> {
	let row = sqlx::query(&format!(
		"{SELECT_ORDER} WHERE aggregator_id = $1 AND aggregator_order_id = $2"
	))
	.bind(aggregator_id)
	.bind(aggregator_order_id)
	.fetch_optional(tx)
	.await?;
	row.as_ref().map(order_from).transpose()
}

/// Our merchant's orders made since `since` (ms), newest first, at most `limit`.
pub async fn of_merchant_since(
	conn: &mut AnyConnection,
	merchant_id: &str,
	since: i64,
	limit: i64,
) -> StoreResult<Vec<Order>> {
	let rows = sqlx::query(&format!(
		"{SELECT_ORDER} WHERE merchant_id = $1 AND created_at >= $2
		 ORDER BY created_at DESC, order_id DESC LIMIT $3"
	))
	.bind(merchant_id)
	.bind(since)
	.bind(limit)
	.fetch_all(conn)
	.await?;
	rows.iter().map(order_from).collect()
}

/// Orders in one of `statuses`, oldest first.
pub async fn in_statuses(db: &Db, statuses: &[OrderStatus]) -> StoreResult<Vec<Order>> {
	let placeholders: Vec<String> = (1..=statuses.len()).map(|i| format!("${i}")).collect();
	let sql =
		format!("{SELECT_ORDER} WHERE status IN ({}) ORDER BY created_at", placeholders.join(", "));
	let mut query = sqlx::query(&sql);
	for s in statuses {
		query = query.bind(*s);
	}
	let rows = query.fetch_all(db.pool()).await?;
	rows.iter().map(order_from).collect()
}

/// The acquirer's successful orders of a cycle: each credited its CNY account.
pub async fn cycle_entries(db: &Db, cycle: u32) -> StoreResult<Vec<LocalEntry>> {
	let rows = sqlx::query(
		"SELECT order_id, amount, posting_id, instruction FROM orders WHERE status = $1 AND cycle = $2",
	)
	.bind(OrderStatus::Success)
	.bind(cycle as i64)
	.fetch_all(db.pool())
	.await?;
	rows.iter()
		.map(|r| {
			LocalEntry::from_stored(
				r.try_get("order_id")?,
				r.try_get("amount")?,
				r.try_get("posting_id")?,
				&r.try_get::<String, _>("instruction")?,
			)
		})
		.collect()
}

async fn new_order_id(tx: &mut AnyConnection) -> StoreResult<String> {
	Ok(format!("ACQ{:012}", next_number(tx, "order").await?))
}

/// What an aggregator asked for: a micropay, or a unified order.
pub struct OrderRequest<'a> {
	pub aggregator_id: &'a str,
	pub aggregator_order_id: &'a str,
	/// The aggregator's id for the merchant.
	pub merchant: &'a str,
	pub amount: i64,
	pub description: Option<&'a str>,
	/// The order's own notify URL (checked), else the aggregator's.
	pub notify_url: Option<&'a str>,
	pub request_hash: &'a str,
}

/// A row of `orders` about to be written.
struct NewOrder<'a> {
	order_id: &'a str,
	aggregator_id: &'a str,
	aggregator_order_id: &'a str,
	merchant_id: &'a str,
	scenario: Scenario,
	amount: i64,
	description: Option<&'a str>,
	notify_url: &'a str,
	request_hash: &'a str,
	status: OrderStatus,
	payment_code: Option<&'a str>,
	prepay_id: Option<&'a str>,
	pay_by: Option<i64>,
}

/// Writes a new order; false if the aggregator's order id is taken (an identical request
/// that arrived at the same moment, which then committed first).
async fn insert(tx: &mut AnyConnection, o: &NewOrder<'_>) -> StoreResult<bool> {
	let now = now_ms();
	let inserted = sqlx::query(
		"INSERT INTO orders (order_id, aggregator_id, aggregator_order_id, merchant_id, scenario,
		 amount, currency, description, notify_url, request_hash, status, payment_code,
		 prepay_id, pay_by, created_at, updated_at)
		 VALUES ($1, $2, $3, $4, $5, $6, 'CNY', $7, $8, $9, $10, $11, $12, $13, $14, $14)
		 ON CONFLICT DO NOTHING",
	)
	.bind(o.order_id)
	.bind(o.aggregator_id)
	.bind(o.aggregator_order_id)
	.bind(o.merchant_id)
	.bind(scenario_text(o.scenario))
	.bind(o.amount)
	.bind(o.description)
	.bind(o.notify_url)
	.bind(o.request_hash)
	.bind(o.status)
	.bind(o.payment_code)
	.bind(o.prepay_id)
	.bind(o.pay_by)
	.bind(now)
	.execute(tx)
	.await?;
	Ok(inserted.rows_affected() == 1)
}

/// The order an identical request made, read after losing the race to write it.
async fn replay_of(db: &Db, r: &OrderRequest<'_>) -> OrderResult<Order> {
	let mut conn = db.conn().await?;
	let existing = by_aggregator_id(&mut conn, r.aggregator_id, r.aggregator_order_id)
		.await?
		.ok_or(OrderError::UnknownOrder("no such order"))?;
	replay(existing, r.request_hash)
}

/// A repeated request with the same key: the same order if it is the same request.
fn replay(existing: Order, hash: &str) -> OrderResult<Order> {
	if existing.request_hash != hash {
		return Err(OrderError::IdempotencyKeyReused(format!(
			"aggregator order {} was sent before with other content",
			existing.aggregator_order_id
		)));
	}
	Ok(existing)
}

/// The merchant scanned the payer's code: a new order `DEBIT_REQUESTED`, with its debit
/// request queued for the issuer in the same transaction. The order, and whether it is new.
pub async fn micropay(
	db: &Db,
	r: &OrderRequest<'_>,
	payment_code: &str,
	currency: &str,
	outbox_from: i64,
) -> OrderResult<(Order, bool)> {
	let mut tx = db.begin().await?;
	if let Some(existing) =
		by_aggregator_id(&mut tx, r.aggregator_id, r.aggregator_order_id).await?
	{
		return Ok((replay(existing, r.request_hash)?, false));
	}
	let merchant = merchant::aggregator_merchant(&mut tx, r.aggregator_id, r.merchant).await?;
	let notify_url = notify_url(&mut tx, r).await?;
	let order_id = new_order_id(&mut tx).await?;
	let inserted = insert(
		&mut tx,
		&NewOrder {
			order_id: &order_id,
			aggregator_id: r.aggregator_id,
			aggregator_order_id: r.aggregator_order_id,
			merchant_id: &merchant.merchant_id,
			scenario: Scenario::CustomerPresented,
			amount: r.amount,
			description: r.description,
			notify_url: &notify_url,
			request_hash: r.request_hash,
			status: OrderStatus::DebitRequested,
			payment_code: Some(payment_code),
			prepay_id: None,
			pay_by: None,
		},
	)
	.await?;
	if !inserted {
		drop(tx);
		return Ok((replay_of(db, r).await?, false));
	}
	let debit = DebitRequest {
		acquirer_order_id: order_id.clone(),
		aggregator_order_id: r.aggregator_order_id.to_string(),
		merchant_id: merchant.merchant_id.clone(),
		merchant_name: merchant.name.clone(),
		payment_code: payment_code.to_string(),
		amount: r.amount,
		currency: currency.to_string(),
	};
	let body =
		serde_json::to_string(&debit).map_err(|e| StoreError::unreadable("debit request", e))?;
	let kind = MessageKind::DebitRequest;
	let to = (messages::ISSUER_LANE, messages::ISSUER_LANE);
	messages::enqueue(&mut tx, (&order_id, ""), kind, to, &body, outbox_from).await?;
	let order = order(&mut tx, &order_id).await?.ok_or(OrderError::UnknownOrder("just written"))?;
	tx.commit().await?;
	Ok((order, true))
}

/// An order for the payer to pay by scanning (a dynamic QR) or in the wallet app (a prepay
/// id), payable until `pay_by`: `AWAITING_PAYMENT`. The order, its merchant, and whether the
/// order is new.
pub async fn unified(
	db: &Db,
	r: &OrderRequest<'_>,
	scenario: Scenario,
	pay_by: i64,
) -> OrderResult<(Order, Merchant, bool)> {
	let mut tx = db.begin().await?;
	let merchant = merchant::aggregator_merchant(&mut tx, r.aggregator_id, r.merchant).await?;
	if let Some(existing) =
		by_aggregator_id(&mut tx, r.aggregator_id, r.aggregator_order_id).await?
	{
		return Ok((replay(existing, r.request_hash)?, merchant, false));
	}
	let notify_url = notify_url(&mut tx, r).await?;
	let order_id = new_order_id(&mut tx).await?;
	let prepay = (scenario == Scenario::InApp)
		.then(|| format!("PP{}", hex::encode(rand::random::<[u8; 12]>())));
	let inserted = insert(
		&mut tx,
		&NewOrder {
			order_id: &order_id,
			aggregator_id: r.aggregator_id,
			aggregator_order_id: r.aggregator_order_id,
			merchant_id: &merchant.merchant_id,
			scenario,
			amount: r.amount,
			description: r.description,
			notify_url: &notify_url,
			request_hash: r.request_hash,
			status: OrderStatus::AwaitingPayment,
			payment_code: None,
			prepay_id: prepay.as_deref(),
			pay_by: Some(pay_by),
		},
	)
	.await?;
	if !inserted {
		drop(tx);
		return Ok((replay_of(db, r).await?, merchant, false));
	}
	let order = order(&mut tx, &order_id).await?.ok_or(OrderError::UnknownOrder("just written"))?;
	tx.commit().await?;
	Ok((order, merchant, true))
}

async fn notify_url(tx: &mut AnyConnection, r: &OrderRequest<'_>) -> OrderResult<String> {
	merchant::notify_url_for(tx, r.aggregator_id, r.notify_url).await
}

/// What a wallet's checkout names: a merchant's code (with the dynamic code's order) or a
/// prepay id.
pub enum CheckoutTarget<'a> {
	/// A shop's static code: no order yet.
	Shop {
		merchant_id: &'a str,
	},
	/// A dynamic code: its bill number is our order id, for that merchant and amount.
	Bill {
		merchant_id: &'a str,
		order_id: &'a str,
		amount: Option<u128>,
	},
	Prepay {
		prepay_id: &'a str,
	},
}

/// The merchant a checkout pays, which must be active, and its order if it has one.
pub async fn checkout_target(
	tx: &mut AnyConnection,
	target: &CheckoutTarget<'_>,
) -> OrderResult<(Merchant, Option<Order>)> {
	let order = match *target {
		CheckoutTarget::Shop { merchant_id } => {
			return Ok((merchant::active_merchant(tx, merchant_id).await?, None))
		}
		CheckoutTarget::Bill { merchant_id, order_id, amount } => {
			let merchant = merchant::active_merchant(tx, merchant_id).await?;
			let order = order(tx, order_id)
				.await?
				.filter(|o| o.merchant_id == merchant_id && Some(o.amount as u128) == amount)
				.ok_or(OrderError::UnknownOrder("the code names no order"))?;
			return Ok((merchant, Some(order)));
		}
		CheckoutTarget::Prepay { prepay_id } => order_where(tx, "prepay_id", prepay_id)
			.await?
			.ok_or(OrderError::UnknownOrder("no order has this prepay id"))?,
	};
	let merchant = merchant::active_merchant(tx, &order.merchant_id).await?;
	Ok((merchant, Some(order)))
}

/// An unpaid order that can still be paid.
pub fn payable(order: &Order) -> OrderResult<()> {
	if order.status == OrderStatus::Closed && order.reason.as_deref() == Some(CLOSED_BY_MERCHANT) {
		return Err(OrderError::OrderClosed);
	}
	if order.status != OrderStatus::AwaitingPayment {
		return Err(OrderError::OrderNotPayable(order.status));
	}
	if order.pay_by.is_some_and(|t| t < now_ms()) {
		return Err(OrderError::OrderExpired);
	}
	Ok(())
}

/// The merchant and order a checkout would pay, as a preview (nothing written).
pub async fn preview(
	db: &Db,
	target: &CheckoutTarget<'_>,
) -> OrderResult<(Merchant, Option<Order>)> {
	let (merchant, order) = checkout_target(&mut *db.conn().await?, target).await?;
	if let Some(o) = &order {
		payable(o)?;
	}
	Ok((merchant, order))
}

/// The payer confirmed: the order (created for a shop's code, of `amount`) is bound to the
/// issuer's order and `DEBIT_REQUESTED`. Idempotent by the issuer order id.
pub async fn check_out(
	db: &Db,
	target: &CheckoutTarget<'_>,
	issuer_order_id: &str,
	amount: Option<i64>,
) -> OrderResult<(Merchant, Order)> {
	let mut tx = db.begin().await?;
	let (merchant, named) = checkout_target(&mut tx, target).await?;
	if let Some(bound) = order_where(&mut tx, "issuer_order_id", issuer_order_id).await? {
		let same = match &named {
			Some(o) => o.order_id == bound.order_id,
			None => bound.merchant_id == merchant.merchant_id && Some(bound.amount) == amount,
		};
		if !same {
			return Err(OrderError::IdempotencyKeyReused(
				"this issuer order id was used for another checkout".into(),
			));
		}
		return Ok((merchant, bound));
	}
	let order_id = match named {
		Some(o) => {
			payable(&o)?;
			// The payer confirmed an amount; the order must be for exactly that, or a merchant
			// could change what a confirmation pays.
			let confirmed = amount.ok_or(OrderError::AmountRequired)?;
			if confirmed != o.amount {
				return Err(OrderError::AmountMismatch { confirmed, order: o.amount });
			}
			o.order_id
		}
		None => {
			let amount = amount.ok_or(OrderError::AmountRequired)?;
			let notify_url =
				merchant::notify_url_for(&mut tx, &merchant.aggregator_id, None).await?;
			let order_id = new_order_id(&mut tx).await?;
			insert(
				&mut tx,
				&NewOrder {
					order_id: &order_id,
					// A shop's code has no aggregator order: the order is its own.
					aggregator_id: &merchant.aggregator_id,
					aggregator_order_id: &order_id,
					merchant_id: &merchant.merchant_id,
					scenario: Scenario::StaticQr,
					amount,
					description: None,
					notify_url: &notify_url,
					request_hash: issuer_order_id,
					status: OrderStatus::AwaitingPayment,
					payment_code: None,
					prepay_id: None,
					pay_by: None,
				},
			)
			.await?;
			order_id
		}
	};
	sqlx::query("UPDATE orders SET issuer_order_id = $2 WHERE order_id = $1")
		.bind(&order_id)
		.bind(issuer_order_id)
		.execute(&mut *tx)
		.await?;
	// Only as read: a close or another payer's checkout that committed since wins, and this
	// transaction (the binding above with it) is dropped.
	let from = [OrderStatus::AwaitingPayment];
	let to = OrderStatus::DebitRequested;
	if !store::move_order_if(&mut tx, KEY, &order_id, &from, to, None).await?? {
		let now = order(&mut tx, &order_id).await?.ok_or(OrderError::UnknownOrder("just read"))?;
		// The same checkout, sent twice at once, committed first: answered as a replay.
		if now.issuer_order_id.as_deref() == Some(issuer_order_id)
			&& now.status != OrderStatus::AwaitingPayment
		{
			return Ok((merchant, now));
		}
		payable(&now)?;
		return Err(OrderError::OrderNotPayable(now.status));
	}
	let order = order(&mut tx, &order_id).await?.ok_or(OrderError::UnknownOrder("just written"))?;
	tx.commit().await?;
	Ok((merchant, order))
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

/// The issuer's debited instruction is taken for posting: the order, read in status `from`
/// under its posting lock, becomes `POSTING`. Refused by name if it is no longer in `from`.
pub async fn start_posting(
	db: &Db,
	id: &str,
	from: OrderStatus,
	instruction: &str,
	issuer_order_id: &str,
) -> OrderResult<()> {
	let mut tx = db.begin().await?;
	if !store::move_order_if(&mut tx, KEY, id, &[from], OrderStatus::Posting, None).await?? {
		let now = order(&mut tx, id).await?.ok_or(OrderError::UnknownOrder("no such order"))?;
		return Err(OrderError::IllegalTransition { from: now.status, to: OrderStatus::Posting });
	}
	sqlx::query("UPDATE orders SET instruction = $2, issuer_order_id = $3 WHERE order_id = $1")
		.bind(id)
		.bind(instruction)
		.bind(issuer_order_id)
		.execute(&mut *tx)
		.await?;
	tx.commit().await?;
	Ok(())
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
/// that is final already is left as it is. Whether the order changed.
pub(super) async fn finish_in(
	tx: &mut AnyConnection,
	id: &str,
	posted: Option<&Posted>,
	reason: Option<&str>,
) -> OrderResult<bool> {
	let order = order(tx, id).await?.ok_or(OrderError::UnknownOrder("no such order"))?;
	if order.status.is_final() {
		return Ok(false);
	}
	let status = if posted.is_some() { OrderStatus::Success } else { OrderStatus::Failed };
	// From the status just read, so the row is not read again; an order another process
	// ended in between does not move, and is left as it is.
	if !store::move_order_if(tx, KEY, id, &[order.status], status, reason).await?? {
		return Ok(false);
	}
	sqlx::query(
		"UPDATE orders SET posting_id = $2, cycle = $3, block_number = $4, block_hash = $5
		 WHERE order_id = $1",
	)
	.bind(id)
	.bind(posted.map(|p| p.posting_id as i64))
	.bind(posted.map(|p| p.cycle as i64))
	.bind(posted.map(|p| p.block_number as i64))
	.bind(posted.map(|p| p.block_hash.clone()))
	.execute(&mut *tx)
	.await?;
	let merchant = merchant::merchant(tx, &order.merchant_id).await?;
	let notification = Notification {
		aggregator_id: order.aggregator_id.clone(),
		order_id: order.order_id.clone(),
		aggregator_order_id: order.aggregator_order_id.clone(),
		merchant_id: merchant.aggregator_merchant_id,
		status: status.to_string(),
		iso_status: iso_status(posted.is_some(), posted.is_none()).into(),
		amount: order.amount,
		currency: order.currency.clone(),
		posting_id: posted.map(|p| p.posting_id),
		block_number: posted.map(|p| p.block_number),
		reason: reason.map(str::to_string),
		refund: None,
	};
	let body = serde_json::to_string(&notification)
		.map_err(|e| StoreError::unreadable("notification", e))?;
	let to = (order.notify_url.as_str(), order.aggregator_id.as_str());
	messages::enqueue(tx, (id, ""), MessageKind::Notify, to, &body, now_ms()).await?;
	Ok(true)
}

/// [`finish_in`] in a transaction of its own.
pub async fn finish(
	db: &Db,
	id: &str,
	posted: Option<&Posted>,
	reason: Option<&str>,
) -> OrderResult<bool> {
	let mut tx = db.begin().await?;
	let changed = finish_in(&mut tx, id, posted, reason).await?;
	tx.commit().await?;
	Ok(changed)
}

/// Fails the order, only while it still waits for its debit; whether it did.
pub async fn fail_if_waiting(tx: &mut AnyConnection, id: &str, reason: &str) -> OrderResult<bool> {
	let waiting = order(tx, id)
		.await?
		.is_some_and(|o| matches!(o.status, OrderStatus::DebitRequested | OrderStatus::UserPaying));
	if waiting {
		finish_in(tx, id, None, Some(reason)).await?;
	}
	Ok(waiting)
}

/// The issuer answered the debit request `AWAITING_PAYER`: the order waits for the payer's
/// confirmation (`USERPAYING`); only an order still waiting for its debit moves.
pub async fn payer_confirming(db: &Db, id: &str) -> OrderResult<bool> {
	let mut tx = db.begin().await?;
	let from = [OrderStatus::DebitRequested];
	let moved =
		store::move_order_if(&mut tx, KEY, id, &from, OrderStatus::UserPaying, None).await??;
	tx.commit().await?;
	Ok(moved)
}

/// One payer's attempt at a dynamic-QR or in-app order came to nothing before any signed
/// instruction reached us (`attempt` is the issuer's order of that attempt, if it named one):
/// while the order can still be paid it is open again for the next payer, with nothing of
/// the attempt kept; any other order waiting for its debit fails. What became of it, if it
/// moved.
pub async fn attempt_failed(
	db: &Db,
	id: &str,
	attempt: Option<&str>,
	reason: &str,
) -> OrderResult<Option<OrderStatus>> {
	let mut tx = db.begin().await?;
	let Some(o) = order(&mut tx, id).await? else { return Ok(None) };
	if attempt.is_some_and(|a| o.issuer_order_id.as_deref().is_some_and(|held| held != a)) {
		// Another payer's attempt holds the order by now (a micropay's order learns the
		// issuer's order id only with its instruction).
		return Ok(None);
	}
	let reopen = o.status == OrderStatus::DebitRequested
		&& o.instruction.is_none()
		&& o.pay_by.is_some_and(|t| t > now_ms());
	// Only as read: still waiting for its debit, no instruction, the same attempt bound (a
	// concurrent checkout or posting wins, and the order then fails or posts as it would).
	let unbound = reopen
		&& sqlx::query(
			"UPDATE orders SET issuer_order_id = NULL WHERE order_id = $1 AND status = $2
			 AND instruction IS NULL AND COALESCE(issuer_order_id, '') = $3",
		)
		.bind(id)
		.bind(OrderStatus::DebitRequested)
		.bind(o.issuer_order_id.clone().unwrap_or_default())
		.execute(&mut *tx)
		.await?
		.rows_affected()
			== 1;
	let became = if unbound {
		move_to(&mut tx, id, OrderStatus::AwaitingPayment, None).await?;
		tracing::info!(order = %id, %reason, "a payer's attempt failed; the order is open again");
		Some(OrderStatus::AwaitingPayment)
	} else {
		fail_if_waiting(&mut tx, id, reason).await?.then_some(OrderStatus::Failed)
	};
	tx.commit().await?;
	Ok(became)
}

/// A posting without a final answer is left for reconciliation; whether it moved.
pub(super) async fn leave_unknown_in(
	tx: &mut AnyConnection,
	id: &str,
	reason: &str,
) -> OrderResult<bool> {
	let from = [OrderStatus::Posting];
	Ok(store::move_order_if(tx, KEY, id, &from, OrderStatus::Unknown, Some(reason)).await??)
}

/// The reason of an order its merchant closed.
pub const CLOSED_BY_MERCHANT: &str = "OrderClosed";

/// The merchant abandons an unpaid dynamic-QR or in-app order of its aggregator's: `CLOSED`,
/// and a later payment of it is refused `OrderClosed`. A closed order is answered as it is.
/// The caller holds the order's lock.
pub async fn close(db: &Db, aggregator_id: &str, id: &str) -> OrderResult<Order> {
	let mut tx = db.begin().await?;
	let o = order(&mut tx, id)
		.await?
		.filter(|o| o.aggregator_id == aggregator_id)
		.ok_or(OrderError::UnknownOrder("no such order"))?;
	let unpaid = o.pay_by.is_some() && o.status == OrderStatus::AwaitingPayment;
	if o.status != OrderStatus::Closed {
		if !unpaid {
			return Err(OrderError::OrderNotClosable(o.status));
		}
		let from = [OrderStatus::AwaitingPayment];
		let reason = Some(CLOSED_BY_MERCHANT);
		if !store::move_order_if(&mut tx, KEY, id, &from, OrderStatus::Closed, reason).await?? {
			let now = order(&mut tx, id).await?.map(|o| o.status).unwrap_or(o.status);
			return Err(OrderError::OrderNotClosable(now));
		}
	}
	let closed = order(&mut tx, id).await?.ok_or(OrderError::UnknownOrder("just written"))?;
	tx.commit().await?;
	Ok(closed)
}

/// The merchant's till never learned a micropay's result and cancels it, within `window_ms`
/// of the order's creation: the request is recorded, and an order still waiting for its debit
/// fails at once (a debited instruction that arrives later is answered `FAILURE`, so the issuer
/// voids it and gives the payer's money back). A posting in flight ends as the chain says; a
/// successful order is then refunded in full ([`super::refund::refund_in_full`]). The order as
/// it stands. The caller holds the order's lock.
pub async fn cancel(db: &Db, aggregator_id: &str, id: &str, window_ms: i64) -> OrderResult<Order> {
	let mut tx = db.begin().await?;
	let o = order(&mut tx, id)
		.await?
		.filter(|o| o.aggregator_id == aggregator_id)
		.ok_or(OrderError::UnknownOrder("no such order"))?;
	if o.scenario != scenario_text(Scenario::CustomerPresented) {
		return Err(OrderError::OrderNotCancellable);
	}
	if !o.cancel_requested {
		if now_ms() - o.created_at > window_ms {
			return Err(OrderError::CancelWindowOver);
		}
		sqlx::query("UPDATE orders SET cancel_requested_at = $2 WHERE order_id = $1")
			.bind(id)
			.bind(now_ms())
			.execute(&mut *tx)
			.await?;
	}
	fail_if_waiting(&mut tx, id, "CancelledByMerchant").await?;
	let now = order(&mut tx, id).await?.ok_or(OrderError::UnknownOrder("just written"))?;
	tx.commit().await?;
	Ok(now)
}

/// Successful orders whose merchant asked to cancel them and of which something is neither
/// refunded nor being refunded: what remains of each is refunded.
pub async fn cancelled_successes(db: &Db) -> StoreResult<Vec<Order>> {
	let rows = sqlx::query(&format!(
		"{SELECT_ORDER} WHERE cancel_requested_at IS NOT NULL AND status = $1
		 AND (SELECT COALESCE(SUM(r.amount), 0) FROM refunds r
		   WHERE r.order_id = orders.order_id AND r.status <> $2) < orders.amount"
	))
	.bind(OrderStatus::Success)
	.bind(super::refund::RefundStatus::Failed)
	.fetch_all(db.pool())
	.await?;
	rows.iter().map(order_from).collect()
}

/// Closes unpaid orders whose time ran out; their ids.
pub async fn close_expired(db: &Db) -> OrderResult<Vec<String>> {
	let mut tx = db.begin().await?;
	let rows = sqlx::query(
		"SELECT order_id FROM orders WHERE status = $1 AND pay_by IS NOT NULL AND pay_by < $2",
	)
	.bind(OrderStatus::AwaitingPayment)
	.bind(now_ms())
	.fetch_all(&mut *tx)
	.await?;
	let mut closed = Vec::new();
	for row in rows {
		let id: String = row.try_get(0)?;
		move_to(&mut tx, &id, OrderStatus::Closed, Some("OrderExpired")).await?;
		closed.push(id);
	}
	tx.commit().await?;
	Ok(closed)
}

/// Orders waiting for the issuer since before `cutoff` with no debit request still being
/// delivered, each with the issuer's order (the payer's attempt) bound to it, if any.
pub async fn waiting_for_issuer(
	db: &Db,
	cutoff: i64,
) -> StoreResult<Vec<(String, Option<String>)>> {
	let rows = sqlx::query(
		"SELECT o.order_id, o.issuer_order_id FROM orders o WHERE o.status IN ($1, $5) AND o.updated_at < $2
		 AND NOT EXISTS (SELECT 1 FROM outbox b WHERE b.order_id = o.order_id
		   AND b.kind = $3 AND b.status = $4)",
	)
	.bind(OrderStatus::DebitRequested)
	.bind(cutoff)
	.bind(MessageKind::DebitRequest)
	.bind(messages::Delivery::Pending)
	.bind(OrderStatus::UserPaying)
	.fetch_all(db.pool())
	.await?;
	rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

#[cfg(test)]
mod tests {
	use super::{
		OrderState,
		OrderStatus::{self, *},
	};

	#[test]
	fn final_statuses_never_move_and_only_a_posting_succeeds() {
		for from in OrderStatus::ALL.iter().filter(|s| s.is_final()) {
			for to in OrderStatus::ALL {
				assert!(!from.may_become(*to), "{from} -> {to}");
			}
		}
		for from in OrderStatus::ALL {
			assert_eq!(from.may_become(Success), matches!(from, Posting | Unknown), "{from}");
		}
		assert!(AwaitingPayment.may_become(Closed) && !DebitRequested.may_become(Closed));
		assert!(!Unknown.may_become(Posting) && Posting.may_become(Posting));
	}
}
