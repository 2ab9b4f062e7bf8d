//! The wallet app's endpoints: the wallet, its payment codes, scanning a merchant's code and
//! paying it. Every call carries the wallet's PIN in `X-Wallet-Pin`.

use crate::{
	common::{
		api::{check_amount, check_id, parse_json, request_hash, ApiError},
		auth,
		emvco::MerchantQr,
		peer::PeerError,
		qr,
		wire::{scenario_text, CheckoutOrder, CheckoutRequest},
	},
	issuer::{
		order::{self, NewOrder, Order, OrderError, OrderStatus},
		process,
		wallet::{self, Wallet, WalletError, WalletStatus},
		Issuer,
	},
};
use axum::{
	body::Bytes,
	extract::{ConnectInfo, Path, Query, Request, State},
	http::{HeaderMap, StatusCode},
	middleware::Next,
	response::{IntoResponse, Response},
	Json,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use std::{collections::HashMap, net::SocketAddr};
use std::{sync::Arc, time::Duration};

type S = State<Arc<Issuer>>;

/// Counts the call against its wallet's and its client's rate limits before anything else,
/// so that the PIN is hashed only for calls within them: past either, `429 TooManyRequests`
/// with `Retry-After`. The client is the connection's address (a balancer in front makes it
/// the balancer's: limit per client there).
pub async fn limited(
	State(s): S,
	client: Option<ConnectInfo<SocketAddr>>,
	Path(params): Path<HashMap<String, String>>,
	request: Request,
	next: Next,
) -> Response {
	let wallet = params.get("wallet_id").map(String::as_str).unwrap_or_default();
	if let Err(wait) = s.limits.check(wallet, client.map(|c| c.0.ip())) {
		s.metrics.call("wallet_app", "rate_limited");
		let secs = wait.as_secs().max(1);
		let message = format!("too many calls; try again in {secs} s");
		let mut response = ApiError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", message)
			.into_response();
		response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
		return response;
	}
	next.run(request).await
}

/// The one answer for an unknown wallet, a wrong PIN and a locked wallet: telling them apart
/// would tell a stranger which wallets exist and how many guesses are left.
fn not_accepted() -> ApiError {
	ApiError::unauthorized(
		"AuthenticationFailed",
		"the wallet id and PIN were not accepted, or the wallet is locked for now",
	)
}

/// The wallet, if the request carries its PIN. An unknown wallet costs the same PIN hashing
/// as a known one, so that its answer does not come sooner.
async fn wallet_user(s: &Issuer, headers: &HeaderMap, wallet_id: &str) -> Result<Wallet, ApiError> {
	let pin = headers
		.get("x-wallet-pin")
		.and_then(|v| v.to_str().ok())
		.ok_or_else(|| ApiError::unauthorized("PinRequired", "send the PIN in X-Wallet-Pin"))?
		.to_string();
	wallet::check_pin_format(&pin)?;
	let record = match wallet::pin_record(&s.db, wallet_id).await {
		Ok(record) => Some(record),
		Err(WalletError::UnknownWallet) => None,
		Err(e) => return Err(e.into()),
	};
	let iterations = record.as_ref().map_or(s.config.pin_iterations, |r| r.iterations);
	let (salt, hash) =
		record.as_ref().map_or((vec![0; 16], Vec::new()), |r| (r.salt.clone(), r.hash.clone()));
	let right = tokio::task::spawn_blocking(move || {
		auth::constant_time_eq(&wallet::hash_pin(&pin, &salt, iterations), &hash)
	})
	.await
	.map_err(ApiError::internal)?;
	match record {
		Some(r) if !r.locked => {}
		_ => return Err(not_accepted()),
	}
	match wallet::record_pin_attempt(&s.db, wallet_id, right, s.pin_policy()).await {
		Ok(wallet) => Ok(wallet),
		Err(
			WalletError::UnknownWallet | WalletError::WrongPin { .. } | WalletError::WalletLocked,
		) => Err(not_accepted()),
		Err(e) => Err(e.into()),
	}
}

/// [`wallet_user`], for a wallet that may pay.
async fn paying_wallet(
	s: &Issuer,
	headers: &HeaderMap,
	wallet_id: &str,
) -> Result<Wallet, ApiError> {
	let wallet = wallet_user(s, headers, wallet_id).await?;
	if wallet.status != WalletStatus::Active {
		return Err(not_accepted());
	}
	Ok(wallet)
}

/// `GET /v1/wallets/{walletId}` (wallet app): balance and status.
pub async fn get_wallet(
	State(s): S,
	headers: HeaderMap,
	Path(id): Path<String>,
) -> Result<Json<Wallet>, ApiError> {
	Ok(Json(wallet_user(&s, &headers, &id).await?))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentCode {
	code: String,
	wallet_id: String,
	expires_at: i64,
	/// The code as a QR image (SVG); merchants scan it or its barcode digits.
	qr_svg: String,
}

/// `POST /v1/wallets/{walletId}/payment-codes` (wallet app): a one-time payment code.
pub async fn new_payment_code(
	State(s): S,
	headers: HeaderMap,
	Path(id): Path<String>,
) -> Result<Json<PaymentCode>, ApiError> {
	let wallet = paying_wallet(&s, &headers, &id).await?;
	let ttl = Duration::from(s.config.code_ttl).as_millis() as i64;
	let (code, expires_at) = wallet::new_code(&s.db, &id, &s.config.code_prefix, ttl).await?;
	Ok(Json(PaymentCode { qr_svg: qr::svg(&code), code, wallet_id: wallet.wallet_id, expires_at }))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ScanRequest {
	payload: Option<String>,
	prepay_id: Option<String>,
}

fn acquirer_error(e: PeerError) -> ApiError {
	match e {
		PeerError::Refused { status, code, message } if (400..500).contains(&status) => {
			let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
			// The acquirer's codes are part of our API too (UnknownMerchant, OrderExpired, ...).
			ApiError::new(status, code, message)
		}
		PeerError::BadResponseSignature(reason) => {
			ApiError::new(StatusCode::BAD_GATEWAY, "BadResponseSignature", reason)
		}
		other => ApiError::new(StatusCode::BAD_GATEWAY, "AcquirerUnavailable", other.to_string()),
	}
}

fn check_payload(s: &Issuer, payload: &Option<String>) -> Result<Option<MerchantQr>, ApiError> {
	payload
		.as_deref()
		.map(|p| {
			MerchantQr::decode(p, &s.config.qr_scheme)
				.map_err(|e| ApiError::bad_request("InvalidQrCode", e.to_string()))
		})
		.transpose()
}

/// Asks the acquirer at `path` about a checkout.
async fn ask_acquirer(
	s: &Issuer,
	path: &str,
	request: &CheckoutRequest,
) -> Result<CheckoutOrder, ApiError> {
	s.acquirer
		.call_with_retry(
			Method::POST,
			path,
			Some(request),
			s.config.bookkeeping_timeout.into(),
			s.config.common.retry(),
			true,
		)
		.await
		.map_err(acquirer_error)
}

/// `POST /v1/wallets/{walletId}/scan` (wallet app): what a scanned code (or prepay id) asks
/// the payer to pay, as the acquirer has it.
pub async fn scan(
	State(s): S,
	headers: HeaderMap,
	Path(id): Path<String>,
	body: Bytes,
) -> Result<Json<CheckoutOrder>, ApiError> {
	wallet_user(&s, &headers, &id).await?;
	let r: ScanRequest = parse_json(&body)?;
	check_payload(&s, &r.payload)?;
	let request = CheckoutRequest {
		payload: r.payload,
		prepay_id: r.prepay_id,
		amount: None,
		issuer_order_id: None,
	};
	Ok(Json(ask_acquirer(&s, "/v1/checkout/preview", &request).await?))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PayRequest {
	/// The app's idempotency key for this payment.
	request_id: String,
	payload: Option<String>,
	prepay_id: Option<String>,
	/// The CNY the payer confirms, minor units: typed for a shop's code, as the preview showed
	/// it for a dynamic code or a prepay id (the acquirer refuses another: `AmountMismatch`).
	amount: Option<i64>,
}

/// Waits up to the app wait for the order to become final; answers it as it stands then.
async fn answer_when_final(s: &Issuer, order_id: &str) -> Result<Json<Order>, ApiError> {
	let deadline = tokio::time::Instant::now() + Duration::from(s.config.app_wait);
	loop {
		let order = order::get(&s.db, order_id).await?;
		if order.status.is_final() || tokio::time::Instant::now() >= deadline {
			return Ok(Json(order));
		}
		tokio::time::sleep(Duration::from_millis(100)).await;
	}
}

/// Checks what the payer confirmed: a code or a prepay id, and always the amount.
fn check_pay_request(s: &Issuer, r: &PayRequest) -> Result<(), ApiError> {
	check_id("requestId", &r.request_id)?;
	check_payload(s, &r.payload)?;
	if let Some(a) = r.amount {
		check_amount("amount", a)?;
	}
	if r.amount.is_none() {
		return Err(ApiError::bad_request(
			"AmountRequired",
			"confirm the amount: typed for a shop's code, as shown for any other",
		));
	}
	if r.payload.is_some() == r.prepay_id.is_some() {
		return Err(ApiError::bad_request("InvalidCheckout", "give payload or prepayId"));
	}
	Ok(())
}

/// `POST /v1/wallets/{walletId}/payments` (wallet app): the payer confirmed a scanned code or
/// a prepay id with the PIN. Answers the final result, or the order as it stands (`RECEIVED`,
/// `DEBITED` or `UNKNOWN`) once the app wait is over; the app then queries the result.
pub async fn pay(
	State(s): S,
	headers: HeaderMap,
	Path(wallet_id): Path<String>,
	body: Bytes,
) -> Result<Json<Order>, ApiError> {
	paying_wallet(&s, &headers, &wallet_id).await?;
	let r: PayRequest = parse_json(&body)?;
	check_pay_request(&s, &r)?;
	let hash = request_hash(&r);
	let id = order::app_request(&s.db, &wallet_id, &r.request_id, &hash).await?;
	if order::load(&s.db, &id).await?.is_some() {
		return answer_when_final(&s, &id).await;
	}
	let checkout = CheckoutRequest {
		payload: r.payload.clone(),
		prepay_id: r.prepay_id.clone(),
		amount: r.amount,
		issuer_order_id: Some(id.clone()),
	};
	let order = ask_acquirer(&s, "/v1/checkout", &checkout).await?;
	let (Some(acquirer_order_id), Some(aggregator_order_id), Some(amount)) =
		(order.acquirer_order_id.as_deref(), order.aggregator_order_id.as_deref(), order.amount)
	else {
		return Err(ApiError::new(
			StatusCode::BAD_GATEWAY,
			"AcquirerUnavailable",
			"the checkout named no order",
		));
	};
	// Whatever the acquirer answers, the payer pays only what it confirmed.
	if r.amount != Some(amount) {
		return Err(ApiError::new(
			StatusCode::BAD_GATEWAY,
			"AcquirerUnavailable",
			"the checkout changed the amount",
		));
	}
	order::receive_checkout(
		&s.db,
		NewOrder {
			issuer_order_id: &id,
			acquirer_order_id,
			aggregator_order_id,
			merchant_id: &order.merchant_id,
			merchant_name: &order.merchant_name,
			scenario: scenario_text(order.scenario),
			wallet_id: Some(&wallet_id),
			payment_code: None,
			request_hash: &hash,
			amount,
		},
	)
	.await?;
	s.metrics.order(OrderStatus::Received.as_str());
	process::spawn(&s, id.clone());
	answer_when_final(&s, &id).await
}

/// `GET /v1/wallets/{walletId}/payments/{issuerOrderId}` (wallet app): a payment's result.
pub async fn get_payment(
	State(s): S,
	headers: HeaderMap,
	Path((wallet_id, order_id)): Path<(String, String)>,
) -> Result<Json<Order>, ApiError> {
	wallet_user(&s, &headers, &wallet_id).await?;
	match order::load(&s.db, &order_id).await? {
		Some(o) if o.wallet_id.as_deref() == Some(wallet_id.as_str()) => Ok(Json(o)),
		_ => Err(OrderError::UnknownOrder("no such payment").into()),
	}
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeQuery {
	code: String,
}

/// `GET /v1/wallets/{walletId}/payments?code=` (wallet app): the payment a shown code paid,
/// once a merchant has scanned it.
pub async fn find_payment(
	State(s): S,
	headers: HeaderMap,
	Path(wallet_id): Path<String>,
	Query(q): Query<CodeQuery>,
) -> Result<Json<Order>, ApiError> {
	wallet_user(&s, &headers, &wallet_id).await?;
	order::paid_by_code(&s.db, &wallet_id, &q.code)
		.await?
		.map(Json)
		.ok_or_else(|| OrderError::UnknownOrder("no payment with this code yet").into())
}
