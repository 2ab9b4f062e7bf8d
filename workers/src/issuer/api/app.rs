//! The wallet app's endpoints: logging in, the wallet, its payment codes, scanning a
//! merchant's code and paying it. The app logs in with the wallet's id and PIN and sends the
//! session token (`Authorization: Bearer`) with every other call; a payment is confirmed with
//! the PIN again (`X-Wallet-Pin`).

use crate::{
	common::{
		api::{check_amount, check_id, parse_json, request_hash, too_many_requests, ApiError},
		auth,
		emvco::MerchantQr,
		peer::PeerError,
		qr, sessions,
		wire::{scenario_text, CheckoutOrder, CheckoutRequest},
	},
	issuer::{
		order::{self, NewOrder, Order, OrderError, OrderStatus},
		process, refund,
		wallet::{self, Wallet, WalletError, WalletStatus},
		Issuer,
	},
};
use axum::{
	async_trait,
	body::Bytes,
	extract::{ConnectInfo, FromRequestParts, Path, Query, Request, State},
	http::{request::Parts, HeaderMap, StatusCode},
	middleware::Next,
	response::{IntoResponse, Response},
	Json,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use std::{
	collections::HashMap,
	net::{IpAddr, SocketAddr},
	sync::Arc,
	time::Duration,
};

type S = State<Arc<Issuer>>;

/// Counts a call against the limits of `wallet` and of the client's address: past either,
/// `429 TooManyRequests` with `Retry-After`. The client is the connection's address (a
/// balancer in front makes it the balancer's: limit per client there).
fn within_limits(s: &Issuer, wallet: &str, client: Option<IpAddr>) -> Result<(), Response> {
	let Err(wait) = s.limits.check(wallet, client) else { return Ok(()) };
	s.metrics.call("wallet_app", "rate_limited");
	Err(too_many_requests(wait))
}

/// Counts every wallet call against its wallet's and its client's rate limits before
/// anything else, so that a session is looked up and a PIN hashed only for calls within them.
pub async fn limited(
	State(s): S,
	client: Option<ConnectInfo<SocketAddr>>,
	Path(params): Path<HashMap<String, String>>,
	request: Request,
	next: Next,
) -> Response {
	let wallet = params.get("wallet_id").map(String::as_str).unwrap_or_default();
	match within_limits(&s, wallet, client.map(|c| c.0.ip())) {
		Ok(()) => next.run(request).await,
		Err(refused) => refused,
	}
}

/// The one answer for an unknown wallet, a wrong PIN and a locked wallet: telling them apart
/// would tell a stranger which wallets exist and how many guesses are left.
fn not_accepted() -> ApiError {
	ApiError::unauthorized(
		"AuthenticationFailed",
		"the wallet id and PIN were not accepted, or the wallet is locked for now",
	)
}

/// The wallet, if `pin` is its PIN; counted toward its lock when it is not. An unknown wallet
/// costs the same PIN hashing as a known one, so that its answer does not come sooner.
async fn check_pin(s: &Issuer, wallet_id: &str, pin: String) -> Result<Wallet, ApiError> {
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
		auth::constant_time_eq(&auth::hash_secret(&pin, &salt, iterations), &hash)
	})
	.await
	.map_err(ApiError::internal)?;
	match record {
		Some(r) if !r.locked => {}
		_ => return Err(not_accepted()),
	}
	match wallet::record_pin_attempt(&s.db, wallet_id, right, s.pin_policy()).await {
		Ok(wallet) if wallet.status == WalletStatus::Active => Ok(wallet),
		Ok(_) => Err(not_accepted()),
		Err(
			WalletError::UnknownWallet | WalletError::WrongPin { .. } | WalletError::WalletLocked,
		) => Err(not_accepted()),
		Err(e) => Err(e.into()),
	}
}

/// The payer's confirmation of a payment: the PIN in `X-Wallet-Pin`, checked as at login.
async fn confirmed_by_pin(
	s: &Issuer,
	headers: &HeaderMap,
	wallet_id: &str,
) -> Result<Wallet, ApiError> {
	let pin = headers
		.get("x-wallet-pin")
		.and_then(|v| v.to_str().ok())
		.ok_or_else(|| {
			ApiError::unauthorized("PinRequired", "confirm with the PIN in X-Wallet-Pin")
		})?
		.to_string();
	check_pin(s, wallet_id, pin).await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoginRequest {
	wallet_id: String,
	pin: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAnswer {
	/// Sent as `Authorization: Bearer <token>` with every wallet call until `expiresAt`.
	token: String,
	wallet_id: String,
	expires_at: i64,
}

/// `POST /v1/sessions` (wallet app): logs in with the wallet's id and PIN. Counted against the
/// wallet's and the client's rate limits like every wallet call; every refusal of the id and
/// PIN is the one `AuthenticationFailed`.
pub async fn log_in(
	State(s): S,
	client: Option<ConnectInfo<SocketAddr>>,
	body: Bytes,
) -> Result<Json<SessionAnswer>, Response> {
	let r: LoginRequest = parse_json(&body).map_err(IntoResponse::into_response)?;
	check_id("walletId", &r.wallet_id).map_err(IntoResponse::into_response)?;
	within_limits(&s, &r.wallet_id, client.map(|c| c.0.ip()))?;
	check_pin(&s, &r.wallet_id, r.pin).await.map_err(IntoResponse::into_response)?;
	let ttl = Duration::from(s.config.session_ttl).as_millis() as i64;
	let new = sessions::WALLETS
		.open(&s.db, &r.wallet_id, ttl)
		.await
		.map_err(|e| ApiError::from(e).into_response())?;
	s.metrics.call("wallet_app", "logged_in");
	Ok(Json(SessionAnswer { token: new.token, wallet_id: r.wallet_id, expires_at: new.expires_at }))
}

/// `DELETE /v1/sessions/current` (wallet app): logs out; the token is no use after.
pub async fn log_out(State(s): S, headers: HeaderMap) -> Result<StatusCode, ApiError> {
	let token = auth::bearer(&headers).ok_or_else(session_required)?;
	sessions::WALLETS.close(&s.db, token).await?;
	Ok(StatusCode::NO_CONTENT)
}

fn session_required() -> ApiError {
	ApiError::unauthorized(
		"SessionRequired",
		"log in (POST /v1/sessions) and send the token as Authorization: Bearer",
	)
}

/// A wallet call's session: an unexpired token of the wallet in the path.
pub struct WalletSession {
	pub wallet_id: String,
}

#[async_trait]
impl FromRequestParts<Arc<Issuer>> for WalletSession {
	type Rejection = ApiError;

	async fn from_request_parts(parts: &mut Parts, s: &Arc<Issuer>) -> Result<Self, ApiError> {
		let token = auth::bearer(&parts.headers).ok_or_else(session_required)?;
		let invalid = || {
			ApiError::unauthorized(
				"SessionInvalid",
				"the session has ended or is not this wallet's; log in again",
			)
		};
		let wallet_id = sessions::WALLETS.subject_of(&s.db, token).await?.ok_or_else(invalid)?;
		let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, s)
			.await
			.map_err(|e| ApiError::bad_request("InvalidPath", e.body_text()))?;
		if params.get("wallet_id") != Some(&wallet_id) {
			return Err(invalid());
		}
		Ok(Self { wallet_id })
	}
}

/// `GET /v1/wallets/{walletId}` (wallet app, session): balance and status.
pub async fn get_wallet(State(s): S, session: WalletSession) -> Result<Json<Wallet>, ApiError> {
	Ok(Json(wallet::get(&s.db, &session.wallet_id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HistoryQuery {
	limit: Option<i64>,
}

/// `GET /v1/wallets/{walletId}/history?limit=` (wallet app, session): the wallet's money in
/// and out, newest first (top-ups, payments, reversals and refunds; at most `limit`, 50 unless
/// given, 500 at most).
pub async fn history(
	State(s): S,
	session: WalletSession,
	Query(q): Query<HistoryQuery>,
) -> Result<Json<Vec<wallet::HistoryLine>>, ApiError> {
	let limit = q.limit.unwrap_or(50);
	if !(1..=500).contains(&limit) {
		return Err(ApiError::invalid("limit", "must be 1 to 500"));
	}
	Ok(Json(wallet::history(&s.db, &session.wallet_id, limit).await?))
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

/// `POST /v1/wallets/{walletId}/payment-codes` (wallet app, session and PIN): a one-time
/// payment code. A code pays up to the no-PIN limit without the payer, so making one takes
/// the PIN: a session alone (a stolen token) makes none.
pub async fn new_payment_code(
	State(s): S,
	session: WalletSession,
	headers: HeaderMap,
) -> Result<Json<PaymentCode>, ApiError> {
	let wallet = confirmed_by_pin(&s, &headers, &session.wallet_id).await?;
	let ttl = Duration::from(s.config.code_ttl).as_millis() as i64;
	let (code, expires_at) =
		wallet::new_code(&s.db, &wallet.wallet_id, &s.config.code_prefix, ttl).await?;
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

/// `POST /v1/wallets/{walletId}/scan` (wallet app, session): what a scanned code (or prepay
/// id) asks the payer to pay, as the acquirer has it.
pub async fn scan(
	State(s): S,
	_: WalletSession,
	body: Bytes,
) -> Result<Json<CheckoutOrder>, ApiError> {
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

/// The largest picture of a QR code the wallet app may send to be read.
const MAX_QR_IMAGE: usize = 4 * 1024 * 1024;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScannedImage {
	/// The text the picture's QR code holds: what the app then pays with.
	payload: String,
	#[serde(flatten)]
	checkout: CheckoutOrder,
}

/// `POST /v1/wallets/{walletId}/scan-image` (wallet app, session): the payer's picture of a
/// merchant's QR code (PNG, JPEG, GIF or WebP, at most 4 MiB and 4096 × 4096 pixels), for a
/// browser without a camera it can read codes with. Read here, then answered as `scan`
/// answers the code it holds.
pub async fn scan_image(
	State(s): S,
	_: WalletSession,
	body: axum::body::Body,
) -> Result<Json<ScannedImage>, ApiError> {
	let image = axum::body::to_bytes(body, MAX_QR_IMAGE).await.map_err(|_| {
		ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "ImageTooLarge", "send at most 4 MiB")
	})?;
	// Two pictures at a time: reading one is the costliest thing a wallet can ask for.
	let permit = s.qr_reads.acquire().await.map_err(ApiError::internal)?;
	let read = tokio::task::spawn_blocking(move || qr::read(&image)).await;
	drop(permit);
	let payload = read.map_err(ApiError::internal)?.map_err(|e| {
		let status = match e {
			qr::QrReadError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
			_ => StatusCode::BAD_REQUEST,
		};
		ApiError::new(status, e.code(), e.to_string())
	})?;
	let payload = Some(payload);
	check_payload(&s, &payload)?;
	let request = CheckoutRequest {
		payload: payload.clone(),
		prepay_id: None,
		amount: None,
		issuer_order_id: None,
	};
	let checkout = ask_acquirer(&s, "/v1/checkout/preview", &request).await?;
	Ok(Json(ScannedImage { payload: payload.unwrap_or_default(), checkout }))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuoteQuery {
	amount: i64,
}

/// What a payment of a merchant's CNY price would cost the payer, at the chain's rate now.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PayerQuote {
	/// HKD minor units: what the wallet would be debited.
	debit_amount: i64,
	debit_currency: &'static str,
	/// CNY minor units: what the merchant is paid.
	amount: i64,
	rate_id: u64,
	/// CNY per HKD, scaled by `rateScale`, with the payer's side of the spread applied.
	applied_rate: pallet_fx_rate_rpc::Amount,
	rate_scale: pallet_fx_rate_rpc::Amount,
	/// The quote holds until then (ms); the payment is quoted again when it is debited.
	valid_until: u64,
}

/// `GET /v1/wallets/{walletId}/quote?amount=` (wallet app, session): what paying `amount`
/// (CNY minor units) would debit the wallet now, for the payment's preview. The debit itself
/// is quoted again from the chain when it happens.
pub async fn quote(
	State(s): S,
	_: WalletSession,
	Query(q): Query<QuoteQuery>,
) -> Result<Json<PayerQuote>, ApiError> {
	check_amount("amount", q.amount)?;
	let quote = process::hkd_quote(&s.conn, q.amount)
		.await?
		.map_err(|message| ApiError::unprocessable("FxQuoteRefused", message))?;
	let debit_amount = i64::try_from(quote.source_amount.0)
		.map_err(|_| ApiError::unprocessable("FxQuoteRefused", "the HKD amount is too large"))?;
	Ok(Json(PayerQuote {
		debit_amount,
		debit_currency: "HKD",
		amount: q.amount,
		rate_id: quote.rate_id,
		applied_rate: quote.applied_rate,
		rate_scale: quote.rate_scale,
		valid_until: quote.valid_until,
	}))
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

/// `POST /v1/wallets/{walletId}/payments` (wallet app, session and PIN): the payer confirmed
/// a scanned code or a prepay id with the PIN. Answers the final result, or the order as it
/// stands (`RECEIVED`, `DEBITED` or `UNKNOWN`) once the app wait is over; the app then queries
/// the result.
pub async fn pay(
	State(s): S,
	session: WalletSession,
	headers: HeaderMap,
	body: Bytes,
) -> Result<Json<Order>, ApiError> {
	let wallet_id = session.wallet_id;
	confirmed_by_pin(&s, &headers, &wallet_id).await?;
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

/// `GET /v1/wallets/{walletId}/payments/{issuerOrderId}` (wallet app, session): a payment's
/// result.
pub async fn get_payment(
	State(s): S,
	session: WalletSession,
	Path((_, order_id)): Path<(String, String)>,
) -> Result<Json<Order>, ApiError> {
	let wallet_id = session.wallet_id;
	let mut conn = s.db.conn().await?;
	match order::order(&mut conn, &order_id).await? {
		Some(mut o) if o.wallet_id.as_deref() == Some(wallet_id.as_str()) => {
			(o.refunded_amount, o.refunded_debit_amount) =
				refund::refunded(&mut conn, &o.issuer_order_id).await?;
			Ok(Json(o))
		}
		_ => Err(OrderError::UnknownOrder("no such payment").into()),
	}
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeQuery {
	code: String,
}

/// `GET /v1/wallets/{walletId}/payments?code=` (wallet app, session): the payment a shown
/// code paid, once a merchant has scanned it.
pub async fn find_payment(
	State(s): S,
	session: WalletSession,
	Query(q): Query<CodeQuery>,
) -> Result<Json<Order>, ApiError> {
	order::paid_by_code(&s.db, &session.wallet_id, &q.code)
		.await?
		.map(Json)
		.ok_or_else(|| OrderError::UnknownOrder("no payment with this code yet").into())
}

/// `GET /v1/wallets/{walletId}/pending` (wallet app, session): the payments of its codes that
/// wait for the payer's confirmation (above the no-PIN limit), oldest first.
pub async fn pending(State(s): S, session: WalletSession) -> Result<Json<Vec<Order>>, ApiError> {
	Ok(Json(order::awaiting_payer(&s.db, &session.wallet_id).await?))
}

/// `POST /v1/wallets/{walletId}/pending/{issuerOrderId}/confirm` (wallet app, session and
/// PIN): the payer confirms a payment above the no-PIN limit; it is debited and posted, and
/// answered like a payment (final, or as it stands when the app wait is over). The merchant's
/// aggregator learns the result from its order query and its notification.
pub async fn confirm_pending(
	State(s): S,
	session: WalletSession,
	headers: HeaderMap,
	Path((_, order_id)): Path<(String, String)>,
) -> Result<Json<Order>, ApiError> {
	confirmed_by_pin(&s, &headers, &session.wallet_id).await?;
	order::payer_answered(&s.db, &session.wallet_id, &order_id, true).await?;
	process::spawn(&s, order_id.clone());
	answer_when_final(&s, &order_id).await
}

/// `POST /v1/wallets/{walletId}/pending/{issuerOrderId}/decline` (wallet app, session): the
/// payer refuses the payment; nothing is debited and the merchant's order fails.
pub async fn decline_pending(
	State(s): S,
	session: WalletSession,
	Path((_, order_id)): Path<(String, String)>,
) -> Result<Json<Order>, ApiError> {
	let order = order::payer_answered(&s.db, &session.wallet_id, &order_id, false).await?;
	s.metrics.order(OrderStatus::Rejected.as_str());
	process::spawn(&s, order_id);
	Ok(Json(order))
}
