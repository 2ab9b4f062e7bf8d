//! The aggregators' open API: micropay (the merchant scanned the payer's code), unified
//! orders (a dynamic QR or an in-app payment), order queries, refunds and the shop's static
//! code.

use super::merchant_qr;
use crate::{
	acquirer::{
		merchant::{self, Merchant},
		order::{self, Order, OrderRequest, OrderStatus},
		outbox,
		refund::{self, Refund, RefundRequest, RefundStatus},
		till, Acquirer,
	},
	common::{
		api::{check_amount, check_id, check_text, parse_json, request_hash, ApiError},
		extract::{AggregatorCall, SignedBy},
		qr,
		wire::Scenario,
	},
};
use axum::{
	extract::{Path, Query, State},
	Json,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

type S = State<Arc<Acquirer>>;

fn check_currency(currency: &str) -> Result<(), ApiError> {
	if currency != "CNY" {
		return Err(ApiError::bad_request("UnsupportedCurrency", "merchants are paid in CNY"));
	}
	Ok(())
}

fn check_url(field: &str, url: &str) -> Result<(), ApiError> {
	match reqwest::Url::parse(url) {
		Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(()),
		_ => Err(ApiError::invalid(field, "must be an http(s) URL")),
	}
}

/// Refuses an id an aggregator's own call may not choose: its merchants' tills name theirs so.
fn check_not_till_id(field: &str, id: &str) -> Result<(), ApiError> {
	if id.starts_with(till::ID_PREFIX) {
		let reserved =
			format!("{} is reserved for the orders and refunds of tills", till::ID_PREFIX);
		return Err(ApiError::invalid(field, reserved));
	}
	Ok(())
}

/// What every new order of an aggregator must have right.
fn check_order(
	aggregator_order_id: &str,
	merchant_id: &str,
	amount: i64,
	currency: &str,
	description: &Option<String>,
	notify_url: &Option<String>,
) -> Result<(), ApiError> {
	check_id("aggregatorOrderId", aggregator_order_id)?;
	check_id("merchantId", merchant_id)?;
	check_amount("amount", amount)?;
	check_currency(currency)?;
	if let Some(d) = description {
		check_text("description", d, 128)?;
	}
	if let Some(url) = notify_url {
		check_url("notifyUrl", url)?;
	}
	Ok(())
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct MicropayRequest {
	pub aggregator_order_id: String,
	pub merchant_id: String,
	pub auth_code: String,
	pub amount: i64,
	pub currency: String,
	pub description: Option<String>,
	pub notify_url: Option<String>,
}

/// `POST /v1/micropay` (aggregator): the merchant scanned the payer's code. Answers with our
/// order id once the issuer has the debit request (or it is queued for it).
pub async fn micropay(
	State(s): S,
	signed: SignedBy<AggregatorCall>,
) -> Result<Json<Order>, ApiError> {
	let r: MicropayRequest = parse_json(&signed.body)?;
	check_not_till_id("aggregatorOrderId", &r.aggregator_order_id)?;
	Ok(Json(take_micropay(&s, &signed.party, r).await?))
}

/// A micropay order of `aggregator`'s, from its open API or a till.
pub(super) async fn take_micropay(
	s: &Arc<Acquirer>,
	aggregator: &str,
	r: MicropayRequest,
) -> Result<Order, ApiError> {
	check_order(
		&r.aggregator_order_id,
		&r.merchant_id,
		r.amount,
		&r.currency,
		&r.description,
		&r.notify_url,
	)?;
	let prefix = &s.config.code_prefix;
	if !(r.auth_code.len() == 18
		&& r.auth_code.starts_with(prefix.as_str())
		&& r.auth_code.bytes().all(|b| b.is_ascii_digit()))
	{
		return Err(ApiError::bad_request(
			"NotOurPaymentCode",
			format!("payment codes of this scheme are 18 digits starting {prefix}"),
		));
	}
	let request = OrderRequest {
		aggregator_id: aggregator,
		aggregator_order_id: &r.aggregator_order_id,
		merchant: &r.merchant_id,
		amount: r.amount,
		description: r.description.as_deref(),
		notify_url: r.notify_url.as_deref(),
		request_hash: &request_hash(&r),
	};
	// The debit request is sent by this call first (below); the outbox takes it only if that
	// attempt has not been recorded by the time it would have timed out, so that the two do
	// not both send it.
	let timeout: std::time::Duration = s.config.debit_request_timeout.into();
	let outbox_from = crate::common::now_ms() + timeout.as_millis() as i64 + 1_000;
	let (order, created) =
		order::micropay(&s.db, &request, &r.auth_code, &r.currency, outbox_from).await?;
	if created {
		s.metrics.order(OrderStatus::DebitRequested.as_str());
		outbox::deliver_now(s, &order.order_id).await;
	}
	Ok(order::load(&s.db, &order.order_id).await?.unwrap_or(order))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct UnifiedOrderRequest {
	pub aggregator_order_id: String,
	pub merchant_id: String,
	pub amount: i64,
	pub currency: String,
	/// `NATIVE` (a dynamic QR code) or `APP` (a prepay id for the wallet app).
	pub trade_type: String,
	pub description: Option<String>,
	pub notify_url: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UnifiedOrderResponse {
	#[serde(flatten)]
	pub order: Order,
	/// The EMVCo payload to show as a QR code (`NATIVE`).
	pub code_url: Option<String>,
}

/// `POST /v1/unified-order` (aggregator): an order for the payer to pay by scanning
/// (`NATIVE`: a dynamic QR code) or in the wallet app (`APP`: a prepay id).
pub async fn unified_order(
	State(s): S,
	signed: SignedBy<AggregatorCall>,
) -> Result<Json<UnifiedOrderResponse>, ApiError> {
	let r: UnifiedOrderRequest = parse_json(&signed.body)?;
	check_not_till_id("aggregatorOrderId", &r.aggregator_order_id)?;
	Ok(Json(take_unified_order(&s, &signed.party, r).await?))
}

/// A unified order of `aggregator`'s, from its open API or a till.
pub(super) async fn take_unified_order(
	s: &Acquirer,
	aggregator: &str,
	r: UnifiedOrderRequest,
) -> Result<UnifiedOrderResponse, ApiError> {
	check_order(
		&r.aggregator_order_id,
		&r.merchant_id,
		r.amount,
		&r.currency,
		&r.description,
		&r.notify_url,
	)?;
	let scenario = match r.trade_type.as_str() {
		"NATIVE" => Scenario::DynamicQr,
		"APP" => Scenario::InApp,
		_ => return Err(ApiError::invalid("tradeType", "must be NATIVE or APP")),
	};
	let request = OrderRequest {
		aggregator_id: aggregator,
		aggregator_order_id: &r.aggregator_order_id,
		merchant: &r.merchant_id,
		amount: r.amount,
		description: r.description.as_deref(),
		notify_url: r.notify_url.as_deref(),
		request_hash: &request_hash(&r),
	};
	let ttl = std::time::Duration::from(s.config.order_ttl).as_millis() as i64;
	let pay_by = crate::common::now_ms() + ttl;
	let (order, merchant, created) = order::unified(&s.db, &request, scenario, pay_by).await?;
	if created {
		s.metrics.order(OrderStatus::AwaitingPayment.as_str());
	}
	let code_url = (order.scenario == "dynamic_qr").then(|| {
		merchant_qr(s, &merchant, Some(order.amount as u128), Some(order.order_id.clone())).encode()
	});
	Ok(UnifiedOrderResponse { order, code_url })
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StaticQr {
	merchant_id: String,
	payload: String,
	qr_svg: String,
}

impl StaticQr {
	/// The shop's fixed code, named by the aggregator's id for the merchant.
	pub(super) fn of(s: &Acquirer, merchant: &Merchant) -> Self {
		let payload = merchant_qr(s, merchant, None, None).encode();
		StaticQr {
			merchant_id: merchant.aggregator_merchant_id.clone(),
			qr_svg: qr::svg(&payload),
			payload,
		}
	}
}

/// `GET /v1/merchants/{merchantId}/static-qr` (aggregator): the shop's fixed code.
pub async fn static_qr(
	State(s): S,
	Path(merchant_id): Path<String>,
	signed: SignedBy<AggregatorCall>,
) -> Result<Json<StaticQr>, ApiError> {
	let merchant = merchant::load_aggregator_merchant(&s.db, &signed.party, &merchant_id).await?;
	Ok(Json(StaticQr::of(&s, &merchant)))
}

/// `GET /v1/orders/{orderId}` (aggregator): one of its orders.
pub async fn get_order(
	State(s): S,
	Path(order_id): Path<String>,
	signed: SignedBy<AggregatorCall>,
) -> Result<Json<Order>, ApiError> {
	Ok(Json(order::of_aggregator(&s.db, &signed.party, Some(&order_id), None).await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OrderQuery {
	aggregator_order_id: String,
}

/// `GET /v1/orders?aggregatorOrderId=` (aggregator): its order by its own id.
pub async fn find_order(
	State(s): S,
	Query(q): Query<OrderQuery>,
	signed: SignedBy<AggregatorCall>,
) -> Result<Json<Order>, ApiError> {
	let found = order::of_aggregator(&s.db, &signed.party, None, Some(&q.aggregator_order_id));
	Ok(Json(found.await?))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(super) struct RefundBody {
	/// The order, by our id or by the aggregator's.
	pub order_id: Option<String>,
	pub aggregator_order_id: Option<String>,
	/// The aggregator's id for the refund: its idempotency key.
	pub aggregator_refund_id: String,
	pub amount: i64,
	pub currency: String,
	pub reason: Option<String>,
	pub notify_url: Option<String>,
}

/// `POST /v1/refunds` (aggregator): gives back all or part of a successful order, at the
/// payment's own rate; several partial refunds may follow one another up to the order's
/// amount. Answers once the refund is final, or `PROCESSING` after `--refund-wait`; the
/// aggregator is notified of its end either way. Idempotent by `aggregatorRefundId`.
pub async fn refund(
	State(s): S,
	signed: SignedBy<AggregatorCall>,
) -> Result<Json<Refund>, ApiError> {
	let r: RefundBody = parse_json(&signed.body)?;
	check_not_till_id("aggregatorRefundId", &r.aggregator_refund_id)?;
	Ok(Json(take_refund(&s, &signed.party, r).await?))
}

/// A refund of `aggregator`'s, from its open API or a till.
pub(super) async fn take_refund(
	s: &Acquirer,
	aggregator: &str,
	r: RefundBody,
) -> Result<Refund, ApiError> {
	check_id("aggregatorRefundId", &r.aggregator_refund_id)?;
	if r.aggregator_refund_id.starts_with(refund::CANCEL_PREFIX) {
		let reserved = format!("{} is reserved for the refunds of cancels", refund::CANCEL_PREFIX);
		return Err(ApiError::invalid("aggregatorRefundId", reserved));
	}
	check_amount("amount", r.amount)?;
	check_currency(&r.currency)?;
	if let Some(reason) = &r.reason {
		check_text("reason", reason, 80)?;
	}
	if let Some(url) = &r.notify_url {
		check_url("notifyUrl", url)?;
	}
	if r.order_id.is_none() && r.aggregator_order_id.is_none() {
		return Err(ApiError::invalid("orderId", "give orderId or aggregatorOrderId"));
	}
	let order = order::of_aggregator(
		&s.db,
		aggregator,
		r.order_id.as_deref(),
		r.aggregator_order_id.as_deref(),
	)
	.await?;
	let request = RefundRequest {
		aggregator_id: aggregator,
		aggregator_refund_id: &r.aggregator_refund_id,
		order_id: &order.order_id,
		amount: r.amount,
		reason: r.reason.as_deref(),
		notify_url: r.notify_url.as_deref(),
		request_hash: &request_hash(&r),
		check_merchant: true,
	};
	// Under the order's lock: two refunds of one order never both take its remainder.
	let held = s.posting_locks.lock(&order.order_id).await?;
	let (taken, created) = refund::request(&s.db, &request).await?;
	drop(held);
	if created {
		s.metrics.call("refund", "taken");
		s.refund_wake.notify_one();
	}
	wait_final(s, taken).await
}

/// The refund once final, or as it stands after `--refund-wait`.
async fn wait_final(s: &Acquirer, mut refund: Refund) -> Result<Refund, ApiError> {
	let deadline = tokio::time::Instant::now() + s.config.refund_wait.into();
	while refund.status == RefundStatus::Processing && tokio::time::Instant::now() < deadline {
		tokio::time::sleep(std::time::Duration::from_millis(200)).await;
		let id = Some(refund.refund_id.as_str());
		refund = refund::of_aggregator(&s.db, &refund.aggregator_id, id, None).await?;
	}
	Ok(refund)
}

/// `GET /v1/refunds/{refundId}` (aggregator): one of its refunds.
pub async fn get_refund(
	State(s): S,
	Path(refund_id): Path<String>,
	signed: SignedBy<AggregatorCall>,
) -> Result<Json<Refund>, ApiError> {
	Ok(Json(refund::of_aggregator(&s.db, &signed.party, Some(&refund_id), None).await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundQuery {
	aggregator_refund_id: String,
}

/// `GET /v1/refunds?aggregatorRefundId=` (aggregator): its refund by its own id.
pub async fn find_refund(
	State(s): S,
	Query(q): Query<RefundQuery>,
	signed: SignedBy<AggregatorCall>,
) -> Result<Json<Refund>, ApiError> {
	let found = refund::of_aggregator(&s.db, &signed.party, None, Some(&q.aggregator_refund_id));
	Ok(Json(found.await?))
}

/// `POST /v1/orders/{orderId}/close` (aggregator): closes an unpaid dynamic-QR or in-app
/// order; a later payment of it is refused `OrderClosed`.
pub async fn close_order(
	State(s): S,
	Path(order_id): Path<String>,
	signed: SignedBy<AggregatorCall>,
) -> Result<Json<Order>, ApiError> {
	Ok(Json(close(&s, &signed.party, &order_id).await?))
}

/// Closes an unpaid order of `aggregator`'s, from its open API or a till.
pub(super) async fn close(
	s: &Acquirer,
	aggregator: &str,
	order_id: &str,
) -> Result<Order, ApiError> {
	let held = s.posting_locks.lock(order_id).await?;
	let closed = order::close(&s.db, aggregator, order_id).await?;
	drop(held);
	Ok(order::of_aggregator(&s.db, aggregator, Some(&closed.order_id), None).await?)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelResult {
	/// `CANCELLED` (never settled: the order failed, any debit is given back), `REFUNDED`
	/// (settled, and refunded in full), `REFUNDING` (settled; its refund is being settled, or
	/// follows one the chain refused) or `CANCELLING` (being posted: the chain decides, and a
	/// posting is then refunded in full).
	result: &'static str,
	order: Order,
	refund: Option<Refund>,
}

/// `POST /v1/orders/{orderId}/cancel` (aggregator): the merchant's till never learned a
/// micropay's result (WeChat Pay's reverse). Within `--cancel-window` of the order: if it has
/// not posted it never will, if it has it is refunded in full; either way the payer ends with
/// their money. Idempotent.
pub async fn cancel_order(
	State(s): S,
	Path(order_id): Path<String>,
	signed: SignedBy<AggregatorCall>,
) -> Result<Json<CancelResult>, ApiError> {
	Ok(Json(cancel(&s, &signed.party, &order_id).await?))
}

/// Cancels a micropay order of `aggregator`'s, from its open API or a till.
pub(super) async fn cancel(
	s: &Acquirer,
	aggregator: &str,
	order_id: &str,
) -> Result<CancelResult, ApiError> {
	let window = std::time::Duration::from(s.config.cancel_window).as_millis() as i64;
	let held = s.posting_locks.lock(order_id).await?;
	let order = order::cancel(&s.db, aggregator, order_id, window).await?;
	let refund = match order.status {
		OrderStatus::Success => refund::refund_in_full(&s.db, &order).await?,
		_ => None,
	};
	drop(held);
	if order.status == OrderStatus::Success {
		s.refund_wake.notify_one();
	}
	let refund = match refund {
		Some(r) => Some(wait_final(s, r).await?),
		None => None,
	};
	let order = order::of_aggregator(&s.db, aggregator, Some(order_id), None).await?;
	let result = match order.status {
		// Refunded on chain in full, by the cancel's refund or by others.
		OrderStatus::Success if order.refunded_amount >= order.amount => "REFUNDED",
		OrderStatus::Success => "REFUNDING",
		OrderStatus::Failed => {
			s.outbox_wake.notify_one();
			"CANCELLED"
		}
		_ => "CANCELLING",
	};
	tracing::info!(order = %order_id, result, "the merchant cancelled a micropay order");
	Ok(CancelResult { result, order, refund })
}
