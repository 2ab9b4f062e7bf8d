//! The merchant's till's endpoints (`/till/v1/…`): the cashier logs in with our merchant id
//! and the till password, and sends the session token (`Authorization: Bearer`) with every
//! other call. A till acts for its own merchant only, with its aggregator's rights; each call
//! is the aggregator's open-API call of the same name, so that an order taken at a till is
//! the same order, notified to the aggregator the same way.

use super::aggregators::{
	self, CancelResult, MicropayRequest, RefundBody, StaticQr, UnifiedOrderRequest,
	UnifiedOrderResponse,
};
use crate::{
	acquirer::{
		merchant::{self, Merchant},
		order::{self, Order, OrderError},
		refund::Refund,
		till, Acquirer,
	},
	common::{
		api::{check_id, parse_json, too_many_requests, ApiError},
		auth, qr, sessions,
	},
};
use axum::{
	async_trait,
	body::Bytes,
	extract::{ConnectInfo, FromRequestParts, Path, Query, State},
	http::{request::Parts, HeaderMap, StatusCode},
	response::{IntoResponse, Response},
	Json,
};
use serde::{Deserialize, Serialize};
use std::{net::SocketAddr, sync::Arc, time::Duration};

type S = State<Arc<Acquirer>>;

/// The aggregator's id of a till's order or refund: the till's request id, set apart from the
/// ids the aggregator's own systems choose.
fn till_id(request_id: &str) -> Result<String, ApiError> {
	check_id("requestId", request_id)?;
	let id = format!("{}{request_id}", till::ID_PREFIX);
	check_id("requestId", &id)?;
	Ok(id)
}

fn session_required() -> ApiError {
	ApiError::unauthorized(
		"SessionRequired",
		"log in (POST /till/v1/sessions) and send the token as Authorization: Bearer",
	)
}

/// A till call's session: an unexpired token of a merchant's till. A suspended merchant's till
/// still reads its orders; what takes a payment or a refund refuses it (`MerchantSuspended`).
pub struct TillSession {
	pub merchant: Merchant,
}

#[async_trait]
impl FromRequestParts<Arc<Acquirer>> for TillSession {
	type Rejection = ApiError;

	async fn from_request_parts(parts: &mut Parts, s: &Arc<Acquirer>) -> Result<Self, ApiError> {
		let token = auth::bearer(&parts.headers).ok_or_else(session_required)?;
		let merchant_id = sessions::TILLS.subject_of(&s.db, token).await?.ok_or_else(|| {
			ApiError::unauthorized("SessionInvalid", "the session has ended; log in again")
		})?;
		Ok(Self { merchant: merchant::get(&s.db, &merchant_id).await? })
	}
}

impl TillSession {
	/// One of this merchant's orders; another merchant's is not found.
	async fn order(&self, s: &Acquirer, order_id: &str) -> Result<Order, ApiError> {
		let m = &self.merchant;
		let order = order::of_aggregator(&s.db, &m.aggregator_id, Some(order_id), None).await?;
		if order.merchant_id != m.merchant_id {
			return Err(OrderError::UnknownOrder("no such order").into());
		}
		Ok(order)
	}
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
	merchant_id: String,
	password: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TillSessionAnswer {
	token: String,
	merchant_id: String,
	expires_at: i64,
}

/// `POST /till/v1/sessions` (till): logs in with our merchant id and the till password.
/// Counted against `--till-login-rate` per merchant and per client address first (`429
/// TooManyRequests`), so that guessing, or making the service hash passwords, goes no faster
/// than a cashier. Every refusal of the pair, a till locked by wrong passwords included, is
/// the one `AuthenticationFailed`.
pub async fn log_in(
	State(s): S,
	client: Option<ConnectInfo<SocketAddr>>,
	body: Bytes,
) -> Result<Json<TillSessionAnswer>, Response> {
	let r: LoginRequest = parse_json(&body).map_err(IntoResponse::into_response)?;
	check_id("merchantId", &r.merchant_id).map_err(IntoResponse::into_response)?;
	if r.password.len() > 1024 {
		return Err(ApiError::invalid("password", "is too long").into_response());
	}
	if let Err(wait) = s.till_logins.check(&r.merchant_id, client.map(|c| c.0.ip())) {
		s.metrics.call("till", "rate_limited");
		return Err(too_many_requests(wait));
	}
	let Some(merchant) = till::log_in(&s.db, &r.merchant_id, &r.password)
		.await
		.map_err(|e| ApiError::from(e).into_response())?
	else {
		s.metrics.call("till", "login_refused");
		return Err(ApiError::unauthorized(
			"AuthenticationFailed",
			"the merchant id and till password were not accepted, or the till is locked for now",
		)
		.into_response());
	};
	let ttl = Duration::from(s.config.till_session_ttl).as_millis() as i64;
	let new = sessions::TILLS
		.open(&s.db, &merchant.merchant_id, ttl)
		.await
		.map_err(|e| ApiError::from(e).into_response())?;
	s.metrics.call("till", "logged_in");
	Ok(Json(TillSessionAnswer {
		token: new.token,
		merchant_id: merchant.merchant_id,
		expires_at: new.expires_at,
	}))
}

/// `DELETE /till/v1/sessions/current` (till): logs out; the token is no use after.
pub async fn log_out(State(s): S, headers: HeaderMap) -> Result<StatusCode, ApiError> {
	let token = auth::bearer(&headers).ok_or_else(session_required)?;
	sessions::TILLS.close(&s.db, token).await?;
	Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TillMerchant {
	merchant_id: String,
	name: String,
	city: String,
	mcc: String,
	status: String,
	aggregator_id: String,
	aggregator_merchant_id: String,
	static_qr: StaticQr,
}

/// `GET /till/v1/merchant` (till): the merchant the till is for, with its shop's static code.
pub async fn get_merchant(State(s): S, till: TillSession) -> Json<TillMerchant> {
	let m = till.merchant;
	Json(TillMerchant {
		static_qr: StaticQr::of(&s, &m),
		status: m.status.as_str().to_string(),
		merchant_id: m.merchant_id,
		name: m.name,
		city: m.city,
		mcc: m.mcc,
		aggregator_id: m.aggregator_id,
		aggregator_merchant_id: m.aggregator_merchant_id,
	})
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChargeRequest {
	/// The till's idempotency key for this charge.
	request_id: String,
	/// The payer's payment code, as a scanner typed it.
	auth_code: String,
	amount: i64,
	description: Option<String>,
}

/// `POST /till/v1/charges` (till): the cashier scanned the payer's payment code; a micropay
/// order for it, answered as the aggregator's `POST /v1/micropay` is.
pub async fn charge(State(s): S, till: TillSession, body: Bytes) -> Result<Json<Order>, ApiError> {
	let r: ChargeRequest = parse_json(&body)?;
	let m = &till.merchant;
	let request = MicropayRequest {
		aggregator_order_id: till_id(&r.request_id)?,
		merchant_id: m.aggregator_merchant_id.clone(),
		auth_code: r.auth_code.trim().to_string(),
		amount: r.amount,
		currency: "CNY".into(),
		description: r.description,
		notify_url: None,
	};
	Ok(Json(aggregators::take_micropay(&s, &m.aggregator_id, request).await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QrOrderRequest {
	request_id: String,
	amount: i64,
	description: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QrOrder {
	#[serde(flatten)]
	order: UnifiedOrderResponse,
	/// `codeUrl` as a QR image (SVG) for the payer to scan.
	qr_svg: String,
}

/// `POST /till/v1/orders` (till): a dynamic-QR order for the payer to scan, answered as the
/// aggregator's `POST /v1/unified-order` with `NATIVE` is, with the code's image.
pub async fn new_qr_order(
	State(s): S,
	till: TillSession,
	body: Bytes,
) -> Result<Json<QrOrder>, ApiError> {
	let r: QrOrderRequest = parse_json(&body)?;
	let m = &till.merchant;
	let request = UnifiedOrderRequest {
		aggregator_order_id: till_id(&r.request_id)?,
		merchant_id: m.aggregator_merchant_id.clone(),
		amount: r.amount,
		currency: "CNY".into(),
		trade_type: "NATIVE".into(),
		description: r.description,
		notify_url: None,
	};
	let order = aggregators::take_unified_order(&s, &m.aggregator_id, request).await?;
	let qr_svg = qr::svg(order.code_url.as_deref().unwrap_or_default());
	Ok(Json(QrOrder { order, qr_svg }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrdersQuery {
	since: i64,
	limit: Option<i64>,
}

/// `GET /till/v1/orders?since=&limit=` (till): the merchant's orders made since `since` (ms;
/// the till asks from its local midnight), newest first, at most `limit` (100 unless given,
/// 500 at most).
pub async fn orders(
	State(s): S,
	till: TillSession,
	Query(q): Query<OrdersQuery>,
) -> Result<Json<Vec<Order>>, ApiError> {
	let limit = q.limit.unwrap_or(100);
	if !(1..=500).contains(&limit) {
		return Err(ApiError::invalid("limit", "must be 1 to 500"));
	}
	if q.since < 0 {
		return Err(ApiError::invalid("since", "must be milliseconds since the epoch"));
	}
	Ok(Json(till::orders_since(&s.db, &till.merchant.merchant_id, q.since, limit).await?))
}

/// `GET /till/v1/orders/{orderId}` (till): one of the merchant's orders.
pub async fn get_order(
	State(s): S,
	till: TillSession,
	Path(order_id): Path<String>,
) -> Result<Json<Order>, ApiError> {
	Ok(Json(till.order(&s, &order_id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TillRefundRequest {
	request_id: String,
	amount: i64,
	reason: Option<String>,
}

/// `POST /till/v1/orders/{orderId}/refunds` (till): gives back all or part of one of the
/// merchant's successful orders, answered as the aggregator's `POST /v1/refunds` is.
pub async fn refund(
	State(s): S,
	till: TillSession,
	Path(order_id): Path<String>,
	body: Bytes,
) -> Result<Json<Refund>, ApiError> {
	let r: TillRefundRequest = parse_json(&body)?;
	let order = till.order(&s, &order_id).await?;
	let request = RefundBody {
		order_id: Some(order.order_id),
		aggregator_order_id: None,
		aggregator_refund_id: till_id(&r.request_id)?,
		amount: r.amount,
		currency: "CNY".into(),
		reason: r.reason,
		notify_url: None,
	};
	Ok(Json(aggregators::take_refund(&s, &till.merchant.aggregator_id, request).await?))
}

/// `POST /till/v1/orders/{orderId}/cancel` (till): cancels one of the merchant's micropay
/// orders whose result the till never learned, as the aggregator's cancel does.
pub async fn cancel(
	State(s): S,
	till: TillSession,
	Path(order_id): Path<String>,
) -> Result<Json<CancelResult>, ApiError> {
	let order = till.order(&s, &order_id).await?;
	Ok(Json(aggregators::cancel(&s, &till.merchant.aggregator_id, &order.order_id).await?))
}

/// `POST /till/v1/orders/{orderId}/close` (till): closes one of the merchant's unpaid
/// dynamic-QR orders.
pub async fn close(
	State(s): S,
	till: TillSession,
	Path(order_id): Path<String>,
) -> Result<Json<Order>, ApiError> {
	let order = till.order(&s, &order_id).await?;
	Ok(Json(aggregators::close(&s, &till.merchant.aggregator_id, &order.order_id).await?))
}
