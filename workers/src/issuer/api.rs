//! The issuer's HTTP API: the wallet app's endpoints (PIN in `X-Wallet-Pin`), the acquirer's
//! debit interface (signed requests), and admin.

use super::{
	process, reconcile,
	store::{self, status, Order, Wallet},
	Issuer,
};
use crate::common::{
	api::{check_amount, check_id, check_text, parse_json, request_hash, ApiError},
	auth,
	emvco::MerchantQr,
	now_ms,
	peer::PeerError,
	qr,
	wire::{
		scenario_text, CheckoutOrder, CheckoutRequest, DebitAccepted, DebitRequest, DebitStatus,
	},
};
use axum::{
	body::Bytes,
	extract::{Path, Query, Request, State},
	http::{HeaderMap, StatusCode},
	routing::{get, post},
	Json, Router,
};
use clearline_client::instruction::SignedInstruction;
use reqwest::Method;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::{sync::Arc, time::Duration};

type S = State<Arc<Issuer>>;

pub fn router(state: Arc<Issuer>) -> Router {
	Router::new()
		.route("/v1/wallets/:wallet_id", get(get_wallet))
		.route("/v1/wallets/:wallet_id/payment-codes", post(new_payment_code))
		.route("/v1/wallets/:wallet_id/scan", post(scan))
		.route("/v1/wallets/:wallet_id/payments", post(pay).get(find_payment))
		.route("/v1/wallets/:wallet_id/payments/:order_id", get(get_payment))
		.route("/v1/debits", post(debit_request))
		.route("/v1/debits/:acquirer_order_id", get(debit_status))
		.route("/v1/admin/wallets", post(open_wallet))
		.route("/v1/admin/wallets/:wallet_id", get(admin_wallet))
		.route("/v1/admin/wallets/:wallet_id/topups", post(top_up))
		.route("/v1/admin/wallets/:wallet_id/unlock", post(unlock_wallet))
		.route("/v1/admin/orders/:order_id", get(admin_order))
		.route("/v1/admin/reconcile", post(run_reconcile))
		.with_state(state)
}

fn admin(s: &Issuer, headers: &HeaderMap) -> Result<(), ApiError> {
	auth::check_admin(headers, &s.config.common.admin_token)
}

/// The wallet, if the request carries its PIN.
async fn wallet_user(s: &Issuer, headers: &HeaderMap, wallet_id: &str) -> Result<Wallet, ApiError> {
	let pin = headers
		.get("x-wallet-pin")
		.and_then(|v| v.to_str().ok())
		.ok_or_else(|| ApiError::unauthorized("PinRequired", "send the PIN in X-Wallet-Pin"))?
		.to_string();
	store::check_pin_format(&pin)?;
	let id = wallet_id.to_string();
	let record =
		s.db.read(move |tx| store::pin_record(tx, &id))
			.await?
			.ok_or_else(|| ApiError::not_found("UnknownWallet", "no such wallet"))?;
	if record.locked {
		return Err(store::wallet_locked());
	}
	let right = tokio::task::spawn_blocking(move || {
		auth::constant_time_eq(
			&store::hash_pin(&pin, &record.salt, record.iterations),
			&record.hash,
		)
	})
	.await
	.map_err(ApiError::internal)?;
	let (id, limit) = (wallet_id.to_string(), s.config.pin_attempts);
	// A wrong PIN is counted (committed), then refused.
	s.db.write(move |tx| store::record_pin_attempt(tx, &id, right, limit)).await?
}

/// Reads and verifies a request signed by the acquirer.
async fn from_acquirer(s: &Issuer, request: Request) -> Result<Bytes, ApiError> {
	let (parts, body) = auth::body_of(request).await?;
	let party = auth::claimed_party(&parts.headers)?;
	if party != s.acquirer_party {
		return Err(ApiError::unauthorized("UnknownParty", format!("no party {party}")));
	}
	let window = s.config.common.request_window.into();
	auth::verify_request(&s.db, &parts, &body, &party, &s.acquirer_key, window).await?;
	Ok(body)
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewWallet {
	wallet_id: Option<String>,
	holder: String,
	pin: String,
}

/// `POST /v1/admin/wallets` (admin): opens an HKD wallet with a PIN.
async fn open_wallet(
	State(s): S,
	headers: HeaderMap,
	body: Bytes,
) -> Result<Json<Wallet>, ApiError> {
	admin(&s, &headers)?;
	let r: NewWallet = parse_json(&body)?;
	check_text("holder", &r.holder, 64)?;
	store::check_pin_format(&r.pin)?;
	if let Some(id) = &r.wallet_id {
		check_id("walletId", id)?;
	}
	let salt: [u8; 16] = rand::random();
	let iterations = s.config.pin_iterations;
	let hash = store::hash_pin(&r.pin, &salt, iterations);
	s.db.write(move |tx| {
		let id = match r.wallet_id {
			Some(id) => id,
			None => format!("W{:010}", crate::store::next_number(tx, "wallet")?),
		};
		if store::wallet(tx, &id)?.is_some() {
			return Err(ApiError::conflict("WalletExists", format!("wallet {id} exists")));
		}
		tx.execute(
			"INSERT INTO wallets (wallet_id, holder, currency, balance, pin_salt, pin_hash,
			 pin_iterations, status, created_at) VALUES (?1, ?2, 'HKD', 0, ?3, ?4, ?5, 'ACTIVE', ?6)",
			params![id, r.holder, salt.to_vec(), hash.to_vec(), iterations, now_ms()],
		)?;
		Ok(Json(store::wallet(tx, &id)?.expect("just written")))
	})
	.await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TopUp {
	topup_id: String,
	amount: i64,
}

/// `POST /v1/admin/wallets/{walletId}/topups` (admin): credits HKD (minor units), once per
/// `topupId`.
async fn top_up(
	State(s): S,
	headers: HeaderMap,
	Path(wallet_id): Path<String>,
	body: Bytes,
) -> Result<Json<Wallet>, ApiError> {
	admin(&s, &headers)?;
	let r: TopUp = parse_json(&body)?;
	check_id("topupId", &r.topup_id)?;
	check_amount("amount", r.amount)?;
	s.db.write(move |tx| {
		store::wallet(tx, &wallet_id)?
			.ok_or_else(|| ApiError::not_found("UnknownWallet", "no such wallet"))?;
		let seen: Option<(String, i64)> = tx
			.query_row(
				"SELECT wallet_id, amount FROM wallet_entries WHERE kind = 'TOPUP' AND reference = ?1",
				params![r.topup_id],
				|row| Ok((row.get(0)?, row.get(1)?)),
			)
			.optional()?;
		match seen {
			Some((w, a)) if w != wallet_id || a != r.amount => {
				return Err(ApiError::conflict(
					"IdempotencyKeyReused",
					"this topupId was used for another top-up",
				))
			}
			Some(_) => {}
			None => {
				store::book(tx, &wallet_id, "TOPUP", r.amount, &r.topup_id)?;
			}
		}
		Ok(Json(store::wallet(tx, &wallet_id)?.expect("exists")))
	})
	.await
}

/// `POST /v1/admin/wallets/{walletId}/unlock` (admin): after the holder proved who they are
/// by other means, a locked wallet is active again with its wrong-PIN count cleared.
async fn unlock_wallet(
	State(s): S,
	headers: HeaderMap,
	Path(id): Path<String>,
) -> Result<Json<Wallet>, ApiError> {
	admin(&s, &headers)?;
	s.db.write(move |tx| {
		let changed = tx.execute(
			"UPDATE wallets SET status = 'ACTIVE', failed_pins = 0 WHERE wallet_id = ?1",
			params![id],
		)?;
		if changed == 0 {
			return Err(ApiError::not_found("UnknownWallet", "no such wallet"));
		}
		Ok(Json(store::wallet(tx, &id)?.expect("exists")))
	})
	.await
}

async fn admin_wallet(
	State(s): S,
	headers: HeaderMap,
	Path(id): Path<String>,
) -> Result<Json<Wallet>, ApiError> {
	admin(&s, &headers)?;
	s.db.read(move |tx| store::wallet(tx, &id))
		.await?
		.map(Json)
		.ok_or_else(|| ApiError::not_found("UnknownWallet", "no such wallet"))
}

/// An order as operations see it: with the signed instruction the acquirer was given.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct AdminOrder {
	#[serde(flatten)]
	order: Order,
	instruction: Option<SignedInstruction>,
	expires_at: Option<i64>,
}

/// `GET /v1/admin/orders/{issuerOrderId}` (admin).
async fn admin_order(
	State(s): S,
	headers: HeaderMap,
	Path(id): Path<String>,
) -> Result<Json<AdminOrder>, ApiError> {
	admin(&s, &headers)?;
	let order =
		s.db.read(move |tx| store::order(tx, &id))
			.await?
			.ok_or_else(|| ApiError::not_found("UnknownOrder", "no such order"))?;
	let instruction = order.instruction.as_deref().and_then(|t| serde_json::from_str(t).ok());
	Ok(Json(AdminOrder { expires_at: order.expires_at, order, instruction }))
}

async fn run_reconcile(
	State(s): S,
	headers: HeaderMap,
) -> Result<Json<reconcile::ReconcileReport>, ApiError> {
	admin(&s, &headers)?;
	Ok(Json(reconcile::run(&s).await?))
}

/// `GET /v1/wallets/{walletId}` (wallet app): balance and status.
async fn get_wallet(
	State(s): S,
	headers: HeaderMap,
	Path(id): Path<String>,
) -> Result<Json<Wallet>, ApiError> {
	Ok(Json(wallet_user(&s, &headers, &id).await?))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PaymentCode {
	code: String,
	wallet_id: String,
	expires_at: i64,
	/// The code as a QR image (SVG); merchants scan it or its barcode digits.
	qr_svg: String,
}

/// `POST /v1/wallets/{walletId}/payment-codes` (wallet app): a one-time payment code.
async fn new_payment_code(
	State(s): S,
	headers: HeaderMap,
	Path(id): Path<String>,
) -> Result<Json<PaymentCode>, ApiError> {
	let wallet = wallet_user(&s, &headers, &id).await?;
	if wallet.status != "ACTIVE" {
		return Err(ApiError::new(StatusCode::LOCKED, "WalletLocked", "the wallet is locked"));
	}
	let prefix = s.config.code_prefix.clone();
	let ttl = Duration::from(s.config.code_ttl).as_millis() as i64;
	let (code, expires_at) =
		s.db.write(move |tx| loop {
			let digits: String = (0..18 - prefix.len())
				.map(|_| char::from(b'0' + rand::random::<u8>() % 10))
				.collect();
			let code = format!("{prefix}{digits}");
			let expires_at = now_ms() + ttl;
			let inserted = tx.execute(
				"INSERT OR IGNORE INTO payment_codes (code, wallet_id, created_at, expires_at)
					 VALUES (?1, ?2, ?3, ?4)",
				params![code, id, now_ms(), expires_at],
			)?;
			if inserted == 1 {
				return Ok((code, expires_at));
			}
		})
		.await?;
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

/// `POST /v1/wallets/{walletId}/scan` (wallet app): what a scanned code (or prepay id) asks
/// the payer to pay, as the acquirer has it.
async fn scan(
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
	let preview: CheckoutOrder = s
		.acquirer
		.call_with_retry(
			Method::POST,
			"/v1/checkout/preview",
			Some(&request),
			s.config.bookkeeping_timeout.into(),
			s.config.common.retry(),
			true,
		)
		.await
		.map_err(acquirer_error)?;
	Ok(Json(preview))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PayRequest {
	/// The app's idempotency key for this payment.
	request_id: String,
	payload: Option<String>,
	prepay_id: Option<String>,
	/// Typed by the payer for a static code: minor units of CNY.
	amount: Option<i64>,
}

/// Waits up to the app wait for the order to become final; answers it as it stands then.
async fn answer_when_final(s: &Issuer, order_id: &str) -> Result<Json<Order>, ApiError> {
	let deadline = tokio::time::Instant::now() + Duration::from(s.config.app_wait);
	loop {
		let id = order_id.to_string();
		let order =
			s.db.read(move |tx| store::order(tx, &id))
				.await?
				.ok_or_else(|| ApiError::not_found("UnknownOrder", "no such payment"))?;
		if status::is_final(&order.status) || tokio::time::Instant::now() >= deadline {
			return Ok(Json(order));
		}
		tokio::time::sleep(Duration::from_millis(100)).await;
	}
}

/// `POST /v1/wallets/{walletId}/payments` (wallet app): the payer confirmed a scanned code or
/// a prepay id with the PIN. Answers the final result, or the order as it stands (`RECEIVED`,
/// `DEBITED` or `UNKNOWN`) once the app wait is over; the app then queries the result.
async fn pay(
	State(s): S,
	headers: HeaderMap,
	Path(wallet_id): Path<String>,
	body: Bytes,
) -> Result<Json<Order>, ApiError> {
	let wallet = wallet_user(&s, &headers, &wallet_id).await?;
	if wallet.status != "ACTIVE" {
		return Err(ApiError::new(StatusCode::LOCKED, "WalletLocked", "the wallet is locked"));
	}
	let r: PayRequest = parse_json(&body)?;
	check_id("requestId", &r.request_id)?;
	let qr = check_payload(&s, &r.payload)?;
	if let Some(a) = r.amount {
		check_amount("amount", a)?;
	}
	let static_code = qr.as_ref().is_some_and(|q| !q.dynamic);
	if static_code && r.amount.is_none() {
		return Err(ApiError::bad_request("AmountRequired", "type the amount for a shop's code"));
	}
	if !static_code && r.amount.is_some() {
		return Err(ApiError::invalid("amount", "only a shop's code takes a typed amount"));
	}
	if r.payload.is_some() == r.prepay_id.is_some() {
		return Err(ApiError::bad_request("InvalidCheckout", "give payload or prepayId"));
	}
	let hash = request_hash(&r);
	let (w, req, h) = (wallet_id.clone(), r.request_id.clone(), hash.clone());
	let issuer_order_id = s
		.db
		.write(move |tx| {
			let seen: Option<(String, String)> = tx
				.query_row(
					"SELECT request_hash, issuer_order_id FROM app_requests WHERE wallet_id = ?1 AND request_id = ?2",
					params![w, req],
					|row| Ok((row.get(0)?, row.get(1)?)),
				)
				.optional()?;
			match seen {
				Some((seen_hash, _)) if seen_hash != h => Err(ApiError::conflict(
					"IdempotencyKeyReused",
					"this requestId was used for another payment",
				)),
				Some((_, id)) => Ok(id),
				None => {
					let id = store::new_order_id(tx)?;
					tx.execute(
						"INSERT INTO app_requests (wallet_id, request_id, request_hash, issuer_order_id)
						 VALUES (?1, ?2, ?3, ?4)",
						params![w, req, h, id],
					)?;
					Ok(id)
				},
			}
		})
		.await?;
	let id = issuer_order_id.clone();
	if s.db.read(move |tx| store::order(tx, &id)).await?.is_some() {
		return answer_when_final(&s, &issuer_order_id).await;
	}
	let checkout = CheckoutRequest {
		payload: r.payload.clone(),
		prepay_id: r.prepay_id.clone(),
		amount: r.amount,
		issuer_order_id: Some(issuer_order_id.clone()),
	};
	let order: CheckoutOrder = s
		.acquirer
		.call_with_retry(
			Method::POST,
			"/v1/checkout",
			Some(&checkout),
			s.config.bookkeeping_timeout.into(),
			s.config.common.retry(),
			true,
		)
		.await
		.map_err(acquirer_error)?;
	let (Some(acquirer_order_id), Some(aggregator_order_id), Some(amount)) =
		(order.acquirer_order_id.clone(), order.aggregator_order_id.clone(), order.amount)
	else {
		return Err(ApiError::new(
			StatusCode::BAD_GATEWAY,
			"AcquirerUnavailable",
			"the checkout named no order",
		));
	};
	if let (Some(typed), false) = (r.amount, qr.as_ref().is_some_and(|q| q.dynamic)) {
		if typed != amount {
			return Err(ApiError::new(
				StatusCode::BAD_GATEWAY,
				"AcquirerUnavailable",
				"the checkout changed the amount",
			));
		}
	}
	let scenario = scenario_text(order.scenario);
	let id = issuer_order_id.clone();
	s.db.write(move |tx| {
		tx.execute(
			"INSERT OR IGNORE INTO orders (issuer_order_id, acquirer_order_id, aggregator_order_id,
			 merchant_id, merchant_name, scenario, wallet_id, request_hash, credit_amount,
			 credit_currency, status, created_at, updated_at)
			 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'CNY', ?10, ?11, ?11)",
			params![
				id,
				acquirer_order_id,
				aggregator_order_id,
				order.merchant_id,
				order.merchant_name,
				scenario,
				wallet_id,
				hash,
				amount,
				status::RECEIVED,
				now_ms()
			],
		)?;
		Ok(())
	})
	.await?;
	s.metrics.order(status::RECEIVED);
	process::spawn(&s, issuer_order_id.clone());
	answer_when_final(&s, &issuer_order_id).await
}

/// `GET /v1/wallets/{walletId}/payments/{issuerOrderId}` (wallet app): a payment's result.
async fn get_payment(
	State(s): S,
	headers: HeaderMap,
	Path((wallet_id, order_id)): Path<(String, String)>,
) -> Result<Json<Order>, ApiError> {
	wallet_user(&s, &headers, &wallet_id).await?;
	let order = s.db.read(move |tx| store::order(tx, &order_id)).await?;
	match order {
		Some(o) if o.wallet_id.as_deref() == Some(wallet_id.as_str()) => Ok(Json(o)),
		_ => Err(ApiError::not_found("UnknownOrder", "no such payment")),
	}
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CodeQuery {
	code: String,
}

/// `GET /v1/wallets/{walletId}/payments?code=` (wallet app): the payment a shown code paid,
/// once a merchant has scanned it.
async fn find_payment(
	State(s): S,
	headers: HeaderMap,
	Path(wallet_id): Path<String>,
	Query(q): Query<CodeQuery>,
) -> Result<Json<Order>, ApiError> {
	wallet_user(&s, &headers, &wallet_id).await?;
	let order =
		s.db.read(move |tx| {
			let owner: Option<String> = tx
				.query_row(
					"SELECT wallet_id FROM payment_codes WHERE code = ?1",
					params![q.code],
					|r| r.get(0),
				)
				.optional()?;
			if owner.as_deref() != Some(wallet_id.as_str()) {
				return Ok(None);
			}
			store::order_by(tx, "payment_code", &q.code)
		})
		.await?;
	order
		.map(Json)
		.ok_or_else(|| ApiError::not_found("UnknownOrder", "no payment with this code yet"))
}

/// `POST /v1/debits` (acquirer): the merchant scanned a payment code; acknowledged at once
/// (202) and processed after. Idempotent by `acquirerOrderId`.
async fn debit_request(
	State(s): S,
	request: Request,
) -> Result<(StatusCode, Json<DebitAccepted>), ApiError> {
	let body = from_acquirer(&s, request).await?;
	let r: DebitRequest = parse_json(&body)?;
	check_id("acquirerOrderId", &r.acquirer_order_id)?;
	check_id("aggregatorOrderId", &r.aggregator_order_id)?;
	check_id("merchantId", &r.merchant_id)?;
	check_text("merchantName", &r.merchant_name, 64)?;
	check_amount("amount", r.amount)?;
	if r.currency != "CNY" {
		return Err(ApiError::bad_request("UnsupportedCurrency", "merchants are paid in CNY"));
	}
	if r.payment_code.len() != 18
		|| !r.payment_code.starts_with(s.config.code_prefix.as_str())
		|| !r.payment_code.bytes().all(|b| b.is_ascii_digit())
	{
		return Err(ApiError::bad_request(
			"NotOurPaymentCode",
			"not a payment code of this issuer",
		));
	}
	let hash = request_hash(&r);
	let (order_id, created) =
		s.db.write(move |tx| {
			if let Some(existing) = store::order_by(tx, "acquirer_order_id", &r.acquirer_order_id)?
			{
				if existing.request_hash != hash {
					return Err(ApiError::conflict(
						"IdempotencyKeyReused",
						"this acquirer order was sent before with other content",
					));
				}
				return Ok((existing.issuer_order_id, false));
			}
			let id = store::new_order_id(tx)?;
			tx.execute(
				"INSERT INTO orders (issuer_order_id, acquirer_order_id, aggregator_order_id,
				 merchant_id, merchant_name, scenario, payment_code, request_hash, credit_amount,
				 credit_currency, status, created_at, updated_at)
				 VALUES (?1, ?2, ?3, ?4, ?5, 'customer_presented', ?6, ?7, ?8, 'CNY', ?9, ?10, ?10)",
				params![
					id,
					r.acquirer_order_id,
					r.aggregator_order_id,
					r.merchant_id,
					r.merchant_name,
					r.payment_code,
					hash,
					r.amount,
					status::RECEIVED,
					now_ms()
				],
			)?;
			Ok((id, true))
		})
		.await?;
	let id = order_id.clone();
	let order = s.db.read(move |tx| store::order(tx, &id)).await?.expect("just written");
	if created {
		s.metrics.order(status::RECEIVED);
		process::spawn(&s, order_id);
	}
	Ok((
		StatusCode::ACCEPTED,
		Json(DebitAccepted { acquirer_order_id: order.acquirer_order_id, status: order.status }),
	))
}

/// `GET /v1/debits/{acquirerOrderId}` (acquirer): what became of a debit request.
async fn debit_status(
	State(s): S,
	Path(acquirer_order_id): Path<String>,
	request: Request,
) -> Result<Json<DebitStatus>, ApiError> {
	from_acquirer(&s, request).await?;
	let order = s
		.db
		.read(move |tx| store::order_by(tx, "acquirer_order_id", &acquirer_order_id))
		.await?
		.ok_or_else(|| ApiError::not_found("UnknownOrder", "no debit request for this order"))?;
	Ok(Json(DebitStatus {
		acquirer_order_id: order.acquirer_order_id,
		issuer_order_id: order.issuer_order_id,
		status: order.status,
		reason: order.reason,
	}))
}
