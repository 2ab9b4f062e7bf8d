//! The acquirer's HTTP API: the aggregators' open API, the issuer's interface, and admin.

use super::{
	posting, reconcile,
	store::{self, status, Order},
	Acquirer,
};
use crate::common::{
	api::{check_amount, check_id, check_text, parse_json, request_hash, ApiError},
	auth,
	emvco::MerchantQr,
	now_ms, qr,
	wire::{
		scenario_of, scenario_text, BookkeepingRequest, BookkeepingResult, CheckoutOrder,
		CheckoutRequest, DebitRequest, Scenario,
	},
};
use axum::{
	body::Bytes,
	extract::{Path, Query, Request, State},
	http::HeaderMap,
	routing::{get, post},
	Json, Router,
};
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

type S = State<Arc<Acquirer>>;

pub fn router(state: Arc<Acquirer>) -> Router {
	Router::new()
		.route("/v1/micropay", post(micropay))
		.route("/v1/unified-order", post(unified_order))
		.route("/v1/orders", get(find_order))
		.route("/v1/orders/:order_id", get(get_order))
		.route("/v1/merchants/:merchant_id/static-qr", get(static_qr))
		.route("/v1/checkout", post(checkout))
		.route("/v1/checkout/preview", post(checkout_preview))
		.route("/v1/bookkeeping", post(bookkeeping))
		.route("/v1/bookkeeping/:order_id", get(bookkeeping_status))
		.route("/v1/admin/aggregators", post(add_aggregator))
		.route("/v1/admin/merchants", post(add_merchant))
		.route("/v1/admin/merchants/:merchant_id", get(admin_merchant))
		.route("/v1/admin/merchants/:merchant_id/status", post(set_merchant_status))
		.route("/v1/admin/orders/:order_id", get(admin_order))
		.route("/v1/admin/reconcile", post(run_reconcile))
		.with_state(state)
}

/// Who signed a request.
enum Caller {
	Issuer,
	Aggregator(String),
}

/// Reads and verifies a signed request: the issuer's, or a registered aggregator's.
async fn signed(s: &Acquirer, request: Request) -> Result<(Caller, Bytes), ApiError> {
	let (parts, body) = auth::body_of(request).await?;
	let party = auth::claimed_party(&parts.headers)?;
	let (caller, key) = if party == s.issuer_party {
		(Caller::Issuer, s.issuer_key)
	} else {
		let id = party.clone();
		let key: Option<String> =
			s.db.read(move |tx| {
				Ok(tx
					.query_row(
						"SELECT public_key FROM aggregators WHERE aggregator_id = ?1",
						params![id],
						|r| r.get(0),
					)
					.optional()?)
			})
			.await?;
		let key = key
			.and_then(|k| auth::parse_public_key(&k).ok())
			.ok_or_else(|| ApiError::unauthorized("UnknownParty", format!("no party {party}")))?;
		(Caller::Aggregator(party.clone()), key)
	};
	let window = s.config.common.request_window.into();
	auth::verify_request(&s.db, &parts, &body, &party, &key, window).await?;
	Ok((caller, body))
}

async fn from_aggregator(s: &Acquirer, request: Request) -> Result<(String, Bytes), ApiError> {
	match signed(s, request).await? {
		(Caller::Aggregator(id), body) => Ok((id, body)),
		_ => Err(ApiError::forbidden("NotAnAggregator", "this endpoint serves aggregators")),
	}
}

async fn from_issuer(s: &Acquirer, request: Request) -> Result<Bytes, ApiError> {
	match signed(s, request).await? {
		(Caller::Issuer, body) => Ok(body),
		_ => Err(ApiError::forbidden("NotTheIssuer", "this endpoint serves the issuer")),
	}
}

fn admin(s: &Acquirer, headers: &HeaderMap) -> Result<(), ApiError> {
	auth::check_admin(headers, &s.config.common.admin_token)
}

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

/// A merchant as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Merchant {
	merchant_id: String,
	aggregator_id: String,
	aggregator_merchant_id: String,
	name: String,
	city: String,
	mcc: String,
	status: String,
}

const MERCHANT_COLUMNS: &str =
	"merchant_id, aggregator_id, aggregator_merchant_id, name, city, mcc, status";

fn merchant_from(r: &rusqlite::Row) -> rusqlite::Result<Merchant> {
	Ok(Merchant {
		merchant_id: r.get(0)?,
		aggregator_id: r.get(1)?,
		aggregator_merchant_id: r.get(2)?,
		name: r.get(3)?,
		city: r.get(4)?,
		mcc: r.get(5)?,
		status: r.get(6)?,
	})
}

fn merchant_by_id(tx: &rusqlite::Transaction, merchant_id: &str) -> Result<Merchant, ApiError> {
	let sql = format!("SELECT {MERCHANT_COLUMNS} FROM merchants WHERE merchant_id = ?1");
	tx.query_row(&sql, params![merchant_id], merchant_from)
		.optional()?
		.ok_or_else(|| ApiError::not_found("UnknownMerchant", "no such merchant"))
}

/// The aggregator's merchant, which must be active.
fn active_merchant(
	tx: &rusqlite::Transaction,
	column: &str,
	value: &[&str],
) -> Result<Merchant, ApiError> {
	let sql = format!("SELECT {MERCHANT_COLUMNS} FROM merchants WHERE {column}");
	let merchant = tx
		.query_row(&sql, rusqlite::params_from_iter(value.iter()), merchant_from)
		.optional()?
		.ok_or_else(|| ApiError::not_found("UnknownMerchant", "no such merchant"))?;
	if merchant.status != "ACTIVE" {
		return Err(ApiError::forbidden("MerchantSuspended", "the merchant is suspended"));
	}
	Ok(merchant)
}

fn aggregator_merchant(
	tx: &rusqlite::Transaction,
	aggregator: &str,
	merchant: &str,
) -> Result<Merchant, ApiError> {
	active_merchant(
		tx,
		"aggregator_id = ?1 AND aggregator_merchant_id = ?2",
		&[aggregator, merchant],
	)
}

fn new_order_id(tx: &rusqlite::Transaction) -> Result<String, ApiError> {
	Ok(format!("ACQ{:012}", crate::store::next_number(tx, "order")?))
}

/// Inserts an order; `aggregator_order_id` `None` means the order's own id.
#[allow(clippy::too_many_arguments)]
fn insert_order(
	tx: &rusqlite::Transaction,
	order_id: &str,
	aggregator_id: &str,
	aggregator_order_id: Option<&str>,
	merchant_id: &str,
	scenario: Scenario,
	amount: i64,
	description: Option<&str>,
	notify_url: &str,
	request_hash: &str,
	status: &str,
) -> Result<(), ApiError> {
	tx.execute(
		"INSERT INTO orders (order_id, aggregator_id, aggregator_order_id, merchant_id, scenario,
		 amount, currency, description, notify_url, request_hash, status, created_at, updated_at)
		 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'CNY', ?7, ?8, ?9, ?10, ?11, ?11)",
		params![
			order_id,
			aggregator_id,
			aggregator_order_id.unwrap_or(order_id),
			merchant_id,
			scenario_text(scenario),
			amount,
			description,
			notify_url,
			request_hash,
			status,
			now_ms()
		],
	)?;
	Ok(())
}

/// The notify URL of an order: its own, or its aggregator's.
fn notify_url(
	tx: &rusqlite::Transaction,
	aggregator: &str,
	given: &Option<String>,
) -> Result<String, ApiError> {
	if let Some(url) = given {
		check_url("notifyUrl", url)?;
		return Ok(url.clone());
	}
	Ok(tx.query_row(
		"SELECT notify_url FROM aggregators WHERE aggregator_id = ?1",
		params![aggregator],
		|r| r.get(0),
	)?)
}

/// A repeated request with the same key: the same order if it is the same request.
fn replay(existing: Order, hash: &str) -> Result<Order, ApiError> {
	if existing.request_hash != hash {
		return Err(ApiError::conflict(
			"IdempotencyKeyReused",
			format!(
				"aggregator order {} was sent before with other content",
				existing.aggregator_order_id
			),
		));
	}
	Ok(existing)
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MicropayRequest {
	aggregator_order_id: String,
	merchant_id: String,
	auth_code: String,
	amount: i64,
	currency: String,
	description: Option<String>,
	notify_url: Option<String>,
}

/// `POST /v1/micropay` (aggregator): the merchant scanned the payer's code. Answers with our
/// order id once the issuer has the debit request (or it is queued for it).
async fn micropay(State(s): S, request: Request) -> Result<Json<Order>, ApiError> {
	let (aggregator, body) = from_aggregator(&s, request).await?;
	let r: MicropayRequest = parse_json(&body)?;
	check_id("aggregatorOrderId", &r.aggregator_order_id)?;
	check_id("merchantId", &r.merchant_id)?;
	check_amount("amount", r.amount)?;
	check_currency(&r.currency)?;
	if let Some(d) = &r.description {
		check_text("description", d, 128)?;
	}
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
	let hash = request_hash(&r);
	let (order, created) =
		s.db.write(move |tx| {
			if let Some(existing) =
				store::order_for_aggregator(tx, &aggregator, &r.aggregator_order_id)?
			{
				return Ok((replay(existing, &hash)?, false));
			}
			let merchant = aggregator_merchant(tx, &aggregator, &r.merchant_id)?;
			let url = notify_url(tx, &aggregator, &r.notify_url)?;
			let order_id = new_order_id(tx)?;
			insert_order(
				tx,
				&order_id,
				&aggregator,
				Some(&r.aggregator_order_id),
				&merchant.merchant_id,
				Scenario::CustomerPresented,
				r.amount,
				r.description.as_deref(),
				&url,
				&hash,
				status::DEBIT_REQUESTED,
			)?;
			tx.execute(
				"UPDATE orders SET payment_code = ?2 WHERE order_id = ?1",
				params![order_id, r.auth_code],
			)?;
			let debit = DebitRequest {
				acquirer_order_id: order_id.clone(),
				aggregator_order_id: r.aggregator_order_id.clone(),
				merchant_id: merchant.merchant_id.clone(),
				merchant_name: merchant.name.clone(),
				payment_code: r.auth_code.clone(),
				amount: r.amount,
				currency: r.currency.clone(),
			};
			store::enqueue(
				tx,
				&order_id,
				"DEBIT_REQUEST",
				"issuer",
				&serde_json::to_string(&debit).map_err(ApiError::internal)?,
			)?;
			let order = store::order(tx, &order_id)?.expect("just written");
			Ok((order, true))
		})
		.await?;
	if created {
		s.metrics.order(status::DEBIT_REQUESTED);
		super::outbox::deliver_now(&s, &order.order_id).await;
	}
	let id = order.order_id.clone();
	Ok(Json(s.db.read(move |tx| store::order(tx, &id)).await?.unwrap_or(order)))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UnifiedOrderRequest {
	aggregator_order_id: String,
	merchant_id: String,
	amount: i64,
	currency: String,
	/// `NATIVE` (a dynamic QR code) or `APP` (a prepay id for the wallet app).
	trade_type: String,
	description: Option<String>,
	notify_url: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UnifiedOrderResponse {
	#[serde(flatten)]
	order: Order,
	/// The EMVCo payload to show as a QR code (`NATIVE`).
	code_url: Option<String>,
}

/// `POST /v1/unified-order` (aggregator): an order for the payer to pay by scanning
/// (`NATIVE`: a dynamic QR code) or in the wallet app (`APP`: a prepay id).
async fn unified_order(
	State(s): S,
	request: Request,
) -> Result<Json<UnifiedOrderResponse>, ApiError> {
	let (aggregator, body) = from_aggregator(&s, request).await?;
	let r: UnifiedOrderRequest = parse_json(&body)?;
	check_id("aggregatorOrderId", &r.aggregator_order_id)?;
	check_id("merchantId", &r.merchant_id)?;
	check_amount("amount", r.amount)?;
	check_currency(&r.currency)?;
	if let Some(d) = &r.description {
		check_text("description", d, 128)?;
	}
	let scenario = match r.trade_type.as_str() {
		"NATIVE" => Scenario::DynamicQr,
		"APP" => Scenario::InApp,
		_ => return Err(ApiError::invalid("tradeType", "must be NATIVE or APP")),
	};
	let hash = request_hash(&r);
	let ttl = std::time::Duration::from(s.config.order_ttl).as_millis() as i64;
	let (order, merchant, created) =
		s.db.write(move |tx| {
			let merchant = aggregator_merchant(tx, &aggregator, &r.merchant_id)?;
			if let Some(existing) =
				store::order_for_aggregator(tx, &aggregator, &r.aggregator_order_id)?
			{
				return Ok((replay(existing, &hash)?, merchant, false));
			}
			let url = notify_url(tx, &aggregator, &r.notify_url)?;
			let order_id = new_order_id(tx)?;
			insert_order(
				tx,
				&order_id,
				&aggregator,
				Some(&r.aggregator_order_id),
				&merchant.merchant_id,
				scenario,
				r.amount,
				r.description.as_deref(),
				&url,
				&hash,
				status::AWAITING_PAYMENT,
			)?;
			let prepay = (scenario == Scenario::InApp)
				.then(|| format!("PP{}", hex::encode(rand::random::<[u8; 12]>())));
			tx.execute(
				"UPDATE orders SET pay_by = ?2, prepay_id = ?3 WHERE order_id = ?1",
				params![order_id, now_ms() + ttl, prepay],
			)?;
			Ok((store::order(tx, &order_id)?.expect("just written"), merchant, true))
		})
		.await?;
	if created {
		s.metrics.order(status::AWAITING_PAYMENT);
	}
	let code_url = (order.scenario == "dynamic_qr").then(|| {
		merchant_qr(&s, &merchant, Some(order.amount as u128), Some(order.order_id.clone()))
			.encode()
	});
	Ok(Json(UnifiedOrderResponse { order, code_url }))
}

fn merchant_qr(
	s: &Acquirer,
	m: &Merchant,
	amount: Option<u128>,
	bill: Option<String>,
) -> MerchantQr {
	MerchantQr {
		dynamic: amount.is_some(),
		scheme: s.config.qr_scheme.clone(),
		acquirer: s.config.acquirer_code.clone(),
		merchant_id: m.merchant_id.clone(),
		mcc: m.mcc.clone(),
		currency: 156,
		amount,
		country: s.config.country.clone(),
		name: m.name.chars().take(25).collect(),
		city: m.city.chars().take(15).collect(),
		bill_number: bill,
		store: None,
	}
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StaticQr {
	merchant_id: String,
	payload: String,
	qr_svg: String,
}

/// `GET /v1/merchants/{merchantId}/static-qr` (aggregator): the shop's fixed code.
async fn static_qr(
	State(s): S,
	Path(merchant_id): Path<String>,
	request: Request,
) -> Result<Json<StaticQr>, ApiError> {
	let (aggregator, _) = from_aggregator(&s, request).await?;
	let merchant = s.db.read(move |tx| aggregator_merchant(tx, &aggregator, &merchant_id)).await?;
	let payload = merchant_qr(&s, &merchant, None, None).encode();
	Ok(Json(StaticQr {
		merchant_id: merchant.aggregator_merchant_id,
		qr_svg: qr::svg(&payload),
		payload,
	}))
}

/// `GET /v1/orders/{orderId}` (aggregator): one of its orders.
async fn get_order(
	State(s): S,
	Path(order_id): Path<String>,
	request: Request,
) -> Result<Json<Order>, ApiError> {
	let (aggregator, _) = from_aggregator(&s, request).await?;
	let order = s.db.read(move |tx| store::order(tx, &order_id)).await?;
	match order {
		Some(o) if o.aggregator_id == aggregator => Ok(Json(o)),
		_ => Err(ApiError::not_found("UnknownOrder", "no such order")),
	}
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OrderQuery {
	aggregator_order_id: String,
}

/// `GET /v1/orders?aggregatorOrderId=` (aggregator): its order by its own id.
async fn find_order(
	State(s): S,
	Query(q): Query<OrderQuery>,
	request: Request,
) -> Result<Json<Order>, ApiError> {
	let (aggregator, _) = from_aggregator(&s, request).await?;
	s.db.read(move |tx| store::order_for_aggregator(tx, &aggregator, &q.aggregator_order_id))
		.await?
		.map(Json)
		.ok_or_else(|| ApiError::not_found("UnknownOrder", "no such order"))
}

/// The order a checkout names, and whether the payer may pay it now.
fn checkout_target(
	s: &Acquirer,
	tx: &rusqlite::Transaction,
	r: &CheckoutRequest,
) -> Result<(Merchant, Option<Order>), ApiError> {
	let order = match (&r.payload, &r.prepay_id) {
		(Some(payload), None) => {
			let qr = MerchantQr::decode(payload, &s.config.qr_scheme).map_err(|e| {
				ApiError::bad_request("InvalidQrCode", format!("not a code of ours: {e}"))
			})?;
			if qr.acquirer != s.config.acquirer_code {
				return Err(ApiError::bad_request(
					"InvalidQrCode",
					"the code is another acquirer's",
				));
			}
			let merchant = active_merchant(tx, "merchant_id = ?1", &[&qr.merchant_id])?;
			if !qr.dynamic {
				return Ok((merchant, None));
			}
			let bill = qr.bill_number.clone().ok_or_else(|| {
				ApiError::bad_request("InvalidQrCode", "a dynamic code without a bill number")
			})?;
			let order = store::order(tx, &bill)?
				.filter(|o| o.merchant_id == qr.merchant_id && Some(o.amount as u128) == qr.amount)
				.ok_or_else(|| ApiError::not_found("UnknownOrder", "the code names no order"))?;
			return Ok((merchant, Some(order)));
		}
		(None, Some(prepay)) => store::order_by(tx, "prepay_id", prepay)?
			.ok_or_else(|| ApiError::not_found("UnknownOrder", "no order has this prepay id"))?,
		_ => return Err(ApiError::bad_request("InvalidCheckout", "give payload or prepayId")),
	};
	let merchant = active_merchant(tx, "merchant_id = ?1", &[&order.merchant_id])?;
	Ok((merchant, Some(order)))
}

fn checkout_view(m: &Merchant, order: Option<&Order>, scenario: Scenario) -> CheckoutOrder {
	CheckoutOrder {
		acquirer_order_id: order.map(|o| o.order_id.clone()),
		aggregator_order_id: order.map(|o| o.aggregator_order_id.clone()),
		merchant_id: m.merchant_id.clone(),
		merchant_name: m.name.clone(),
		city: m.city.clone(),
		mcc: m.mcc.clone(),
		amount: order.map(|o| o.amount),
		currency: "CNY".into(),
		scenario: order.map(|o| scenario_of(&o.scenario)).unwrap_or(scenario),
		description: order.and_then(|o| o.description.clone()),
	}
}

/// An unpaid order that can still be paid.
fn payable(order: &Order) -> Result<(), ApiError> {
	if order.status != status::AWAITING_PAYMENT {
		return Err(ApiError::conflict(
			"OrderNotPayable",
			format!("the order is {}", order.status),
		));
	}
	if order.pay_by.is_some_and(|t| t < now_ms()) {
		return Err(ApiError::conflict("OrderExpired", "the order can no longer be paid"));
	}
	Ok(())
}

/// `POST /v1/checkout/preview` (issuer): what the payer is about to pay, for the wallet to
/// show before the PIN.
async fn checkout_preview(State(s): S, request: Request) -> Result<Json<CheckoutOrder>, ApiError> {
	let body = from_issuer(&s, request).await?;
	let r: CheckoutRequest = parse_json(&body)?;
	let s2 = s.clone();
	s.db.read(move |tx| {
		let (merchant, order) = checkout_target(&s2, tx, &r)?;
		if let Some(o) = &order {
			payable(o)?;
		}
		Ok(Json(checkout_view(&merchant, order.as_ref(), Scenario::StaticQr)))
	})
	.await
}

/// `POST /v1/checkout` (issuer): the payer confirmed; binds the order to the issuer's order
/// (creating it for a static code). Idempotent by `issuerOrderId`.
async fn checkout(State(s): S, request: Request) -> Result<Json<CheckoutOrder>, ApiError> {
	let body = from_issuer(&s, request).await?;
	let r: CheckoutRequest = parse_json(&body)?;
	let issuer_order =
		r.issuer_order_id.clone().ok_or_else(|| ApiError::invalid("issuerOrderId", "required"))?;
	check_id("issuerOrderId", &issuer_order)?;
	let s2 = s.clone();
	let view =
		s.db.write(move |tx| {
			let (merchant, order) = checkout_target(&s2, tx, &r)?;
			if let Some(bound) = store::order_by(tx, "issuer_order_id", &issuer_order)? {
				let same = match &order {
					Some(o) => o.order_id == bound.order_id,
					None => {
						bound.merchant_id == merchant.merchant_id && Some(bound.amount) == r.amount
					}
				};
				if !same {
					return Err(ApiError::conflict(
						"IdempotencyKeyReused",
						"this issuer order id was used for another checkout",
					));
				}
				return Ok(checkout_view(&merchant, Some(&bound), Scenario::StaticQr));
			}
			let order_id = match order {
				Some(o) => {
					payable(&o)?;
					o.order_id
				}
				None => {
					let amount = check_amount(
						"amount",
						r.amount.ok_or_else(|| {
							ApiError::bad_request(
								"AmountRequired",
								"a static code needs the amount",
							)
						})?,
					)?;
					let url = notify_url(tx, &merchant.aggregator_id, &None)?;
					let order_id = new_order_id(tx)?;
					insert_order(
						tx,
						&order_id,
						&merchant.aggregator_id,
						None,
						&merchant.merchant_id,
						Scenario::StaticQr,
						amount,
						None,
						&url,
						&issuer_order,
						status::AWAITING_PAYMENT,
					)?;
					order_id
				}
			};
			tx.execute(
				"UPDATE orders SET issuer_order_id = ?2, status = ?3, updated_at = ?4 WHERE order_id = ?1",
				params![order_id, issuer_order, status::DEBIT_REQUESTED, now_ms()],
			)?;
			let order = store::order(tx, &order_id)?.expect("just written");
			Ok(checkout_view(&merchant, Some(&order), Scenario::StaticQr))
		})
		.await?;
	s.metrics.order(status::DEBIT_REQUESTED);
	Ok(Json(view))
}

/// `POST /v1/bookkeeping` (issuer): the debit's status; when debited, the signed instruction,
/// which is posted on chain. Answers only from finality.
async fn bookkeeping(State(s): S, request: Request) -> Result<Json<BookkeepingResult>, ApiError> {
	let body = from_issuer(&s, request).await?;
	let r: BookkeepingRequest = parse_json(&body)?;
	check_id("acquirerOrderId", &r.acquirer_order_id)?;
	check_id("issuerOrderId", &r.issuer_order_id)?;
	Ok(Json(posting::bookkeep(&s, r).await?))
}

/// `GET /v1/bookkeeping/{orderId}` (issuer): where the bookkeeping of an order stands, for an
/// issuer whose bookkeeping call timed out.
async fn bookkeeping_status(
	State(s): S,
	Path(order_id): Path<String>,
	request: Request,
) -> Result<Json<BookkeepingResult>, ApiError> {
	from_issuer(&s, request).await?;
	let order =
		s.db.read(move |tx| store::order(tx, &order_id))
			.await?
			.ok_or_else(|| ApiError::not_found("UnknownOrder", "no such order"))?;
	Ok(Json(posting::result_of(&order)))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewAggregator {
	aggregator_id: String,
	name: String,
	public_key: String,
	notify_url: String,
}

/// `POST /v1/admin/aggregators` (admin): registers an aggregator, or updates its key and
/// notify URL.
async fn add_aggregator(
	State(s): S,
	headers: HeaderMap,
	body: Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
	admin(&s, &headers)?;
	let r: NewAggregator = parse_json(&body)?;
	check_id("aggregatorId", &r.aggregator_id)?;
	if r.aggregator_id == s.issuer_party || r.aggregator_id == s.party() {
		return Err(ApiError::invalid("aggregatorId", "is the name of a bank"));
	}
	check_text("name", &r.name, 64)?;
	auth::parse_public_key(&r.public_key).map_err(|e| ApiError::invalid("publicKey", e))?;
	check_url("notifyUrl", &r.notify_url)?;
	s.db.write(move |tx| {
		tx.execute(
			"INSERT INTO aggregators (aggregator_id, name, public_key, notify_url, created_at)
			 VALUES (?1, ?2, ?3, ?4, ?5)
			 ON CONFLICT(aggregator_id) DO UPDATE SET name = ?2, public_key = ?3, notify_url = ?4",
			params![r.aggregator_id, r.name, r.public_key, r.notify_url, now_ms()],
		)?;
		Ok(Json(serde_json::json!({
			"aggregatorId": r.aggregator_id, "name": r.name,
			"publicKey": r.public_key, "notifyUrl": r.notify_url,
		})))
	})
	.await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewMerchant {
	aggregator_id: String,
	aggregator_merchant_id: String,
	name: String,
	city: String,
	mcc: String,
}

/// `POST /v1/admin/merchants` (admin): registers an aggregator's merchant under our id.
/// Registering the same merchant again returns it.
async fn add_merchant(
	State(s): S,
	headers: HeaderMap,
	body: Bytes,
) -> Result<Json<Merchant>, ApiError> {
	admin(&s, &headers)?;
	let r: NewMerchant = parse_json(&body)?;
	check_id("aggregatorId", &r.aggregator_id)?;
	check_id("aggregatorMerchantId", &r.aggregator_merchant_id)?;
	// EMVCo fields 59 and 60 are printable ASCII, 25 and 15 long at most.
	for (field, text, max) in [("name", &r.name, 25), ("city", &r.city, 15)] {
		check_text(field, text, max)?;
		if !text.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
			return Err(ApiError::invalid(
				field,
				"must be printable ASCII (EMVCo merchant fields)",
			));
		}
	}
	if r.mcc.len() != 4 || !r.mcc.bytes().all(|b| b.is_ascii_digit()) {
		return Err(ApiError::invalid("mcc", "must be 4 digits (ISO 18245)"));
	}
	s.db.write(move |tx| {
		let known: bool = tx
			.query_row("SELECT 1 FROM aggregators WHERE aggregator_id = ?1", params![r.aggregator_id], |_| Ok(true))
			.optional()?
			.unwrap_or(false);
		if !known {
			return Err(ApiError::not_found("UnknownAggregator", "register the aggregator first"));
		}
		let sql = format!(
			"SELECT {MERCHANT_COLUMNS} FROM merchants WHERE aggregator_id = ?1 AND aggregator_merchant_id = ?2"
		);
		if let Some(m) = tx
			.query_row(&sql, params![r.aggregator_id, r.aggregator_merchant_id], merchant_from)
			.optional()?
		{
			return Ok(Json(m));
		}
		let id = format!("M{:08}", crate::store::next_number(tx, "merchant")?);
		tx.execute(
			"INSERT INTO merchants (merchant_id, aggregator_id, aggregator_merchant_id, name, city,
			 mcc, status, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'ACTIVE', ?7)",
			params![id, r.aggregator_id, r.aggregator_merchant_id, r.name, r.city, r.mcc, now_ms()],
		)?;
		Ok(Json(merchant_by_id(tx, &id)?))
	})
	.await
}

async fn admin_merchant(
	State(s): S,
	headers: HeaderMap,
	Path(merchant_id): Path<String>,
) -> Result<Json<Merchant>, ApiError> {
	admin(&s, &headers)?;
	s.db.read(move |tx| merchant_by_id(tx, &merchant_id)).await.map(Json)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MerchantStatus {
	status: String,
}

/// `POST /v1/admin/merchants/{merchantId}/status` (admin): `ACTIVE` or `SUSPENDED`.
async fn set_merchant_status(
	State(s): S,
	headers: HeaderMap,
	Path(merchant_id): Path<String>,
	body: Bytes,
) -> Result<Json<Merchant>, ApiError> {
	admin(&s, &headers)?;
	let r: MerchantStatus = parse_json(&body)?;
	if !matches!(r.status.as_str(), "ACTIVE" | "SUSPENDED") {
		return Err(ApiError::invalid("status", "must be ACTIVE or SUSPENDED"));
	}
	s.db.write(move |tx| {
		let changed = tx.execute(
			"UPDATE merchants SET status = ?2 WHERE merchant_id = ?1",
			params![merchant_id, r.status],
		)?;
		if changed == 0 {
			return Err(ApiError::not_found("UnknownMerchant", "no such merchant"));
		}
		Ok(Json(merchant_by_id(tx, &merchant_id)?))
	})
	.await
}

async fn admin_order(
	State(s): S,
	headers: HeaderMap,
	Path(order_id): Path<String>,
) -> Result<Json<Order>, ApiError> {
	admin(&s, &headers)?;
	s.db.read(move |tx| store::order(tx, &order_id))
		.await?
		.map(Json)
		.ok_or_else(|| ApiError::not_found("UnknownOrder", "no such order"))
}

/// `POST /v1/admin/reconcile` (admin): runs reconciliation now and returns its report.
async fn run_reconcile(
	State(s): S,
	headers: HeaderMap,
) -> Result<Json<reconcile::ReconcileReport>, ApiError> {
	admin(&s, &headers)?;
	Ok(Json(reconcile::run(&s).await?))
}
