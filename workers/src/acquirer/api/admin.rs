//! Operations: aggregators and merchants registered, merchants suspended, orders looked at,
//! reconciliation run, refunds made outside the service recorded.

use crate::{
	acquirer::{
		destinations::{self, DestinationError},
		merchant::{self, Aggregator, Merchant, MerchantStatus},
		messages,
		order::{self, Order},
		reconcile,
		refund::{self, Refund},
		refunder, till, Acquirer,
	},
	common::{
		api::{check_id, check_text, parse_json, ApiError},
		auth,
		extract::Admin,
	},
};
use axum::{
	body::Bytes,
	extract::{Path, State},
	Json,
};
use serde::Deserialize;
use std::sync::Arc;

type S = State<Arc<Acquirer>>;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewAggregator {
	aggregator_id: String,
	name: String,
	public_key: String,
	notify_url: String,
	/// Origins besides the notify URL's that an order's `notifyUrl` may be on.
	#[serde(default)]
	notify_origins: Vec<String>,
	/// Allows notifications to internal addresses (loopback, private, link-local).
	#[serde(default)]
	private_addresses: bool,
}

/// A notify URL or origin refused for where it points.
fn destination_error(field: &str, e: DestinationError) -> ApiError {
	match e {
		DestinationError::NotAUrl => ApiError::invalid(field, "must be an http(s) URL"),
		e => ApiError::bad_request("NotifyUrlNotAllowed", format!("{field}: {e}")),
	}
}

/// `POST /v1/admin/aggregators` (admin): registers an aggregator, or updates its key and
/// where it is notified: its notify URL, the origins an order's `notifyUrl` may be on besides
/// that URL's, and whether internal addresses are allowed.
pub async fn add_aggregator(
	_: Admin,
	State(s): S,
	body: Bytes,
) -> Result<Json<Aggregator>, ApiError> {
	let r: NewAggregator = parse_json(&body)?;
	check_id("aggregatorId", &r.aggregator_id)?;
	if r.aggregator_id == s.issuer_party || r.aggregator_id == s.party() {
		return Err(ApiError::invalid("aggregatorId", "is the name of a bank"));
	}
	check_text("name", &r.name, 64)?;
	auth::parse_public_key(&r.public_key).map_err(|e| ApiError::invalid("publicKey", e))?;
	let private_ok = r.private_addresses;
	let mut origins = vec![destinations::check_url(&r.notify_url, private_ok)
		.map_err(|e| destination_error("notifyUrl", e))?];
	if r.notify_origins.len() > 16 {
		return Err(ApiError::invalid("notifyOrigins", "at most 16"));
	}
	for origin in &r.notify_origins {
		let normal = destinations::check_url(origin, private_ok)
			.map_err(|e| destination_error("notifyOrigins", e))?;
		if !origins.contains(&normal) {
			origins.push(normal);
		}
	}
	let aggregator = Aggregator {
		aggregator_id: r.aggregator_id,
		name: r.name,
		public_key: r.public_key,
		notify_url: r.notify_url,
		notify_origins: origins,
		private_addresses: private_ok,
	};
	merchant::register_aggregator(&s.db, &aggregator).await?;
	Ok(Json(aggregator))
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
pub async fn add_merchant(_: Admin, State(s): S, body: Bytes) -> Result<Json<Merchant>, ApiError> {
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
	let m =
		merchant::add(&s.db, &r.aggregator_id, &r.aggregator_merchant_id, &r.name, &r.city, &r.mcc)
			.await?;
	Ok(Json(m))
}

/// `GET /v1/admin/merchants/{merchantId}` (admin).
pub async fn get_merchant(
	_: Admin,
	State(s): S,
	Path(merchant_id): Path<String>,
) -> Result<Json<Merchant>, ApiError> {
	Ok(Json(merchant::get(&s.db, &merchant_id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewStatus {
	status: String,
}

/// `POST /v1/admin/merchants/{merchantId}/status` (admin): `ACTIVE` or `SUSPENDED`.
pub async fn set_merchant_status(
	_: Admin,
	State(s): S,
	Path(merchant_id): Path<String>,
	body: Bytes,
) -> Result<Json<Merchant>, ApiError> {
	let r: NewStatus = parse_json(&body)?;
	let status: MerchantStatus =
		r.status.parse().map_err(|_| ApiError::invalid("status", "must be ACTIVE or SUSPENDED"))?;
	Ok(Json(merchant::set_status(&s.db, &merchant_id, status).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TillPassword {
	password: String,
}

/// `POST /v1/admin/merchants/{merchantId}/till-password` (admin): sets the password the
/// merchant's till logs in with (10 to 128 characters); its sessions end, and a lock from
/// wrong passwords is lifted.
pub async fn set_till_password(
	_: Admin,
	State(s): S,
	Path(merchant_id): Path<String>,
	body: Bytes,
) -> Result<axum::http::StatusCode, ApiError> {
	let r: TillPassword = parse_json(&body)?;
	till::check_password(&r.password)?;
	till::set_password(&s.db, &merchant_id, &r.password).await?;
	tracing::info!(merchant = %merchant_id, "the till password was set");
	Ok(axum::http::StatusCode::NO_CONTENT)
}

/// `GET /v1/admin/orders/{orderId}` (admin).
pub async fn get_order(
	_: Admin,
	State(s): S,
	Path(order_id): Path<String>,
) -> Result<Json<Order>, ApiError> {
	let mut order = order::get(&s.db, &order_id).await?;
	order::with_refunds(&mut *s.db.conn().await?, &mut order).await?;
	Ok(Json(order))
}

/// `POST /v1/admin/orders/{orderId}/notify` (admin): sends the order's notification again,
/// at once and with a fresh give-up time (after the aggregator fixed its endpoint, say).
/// Answers the order as its aggregator sees it.
pub async fn redrive_notification(
	_: Admin,
	State(s): S,
	Path(order_id): Path<String>,
) -> Result<Json<Order>, ApiError> {
	let order = order::get(&s.db, &order_id).await?;
	redrive(&s, (&order_id, ""), "order").await?;
	let shown = order::of_aggregator(&s.db, &order.aggregator_id, Some(&order_id), None);
	Ok(Json(shown.await?))
}

/// `POST /v1/admin/reconcile` (admin): runs reconciliation now and returns its report.
pub async fn reconcile(
	_: Admin,
	State(s): S,
) -> Result<Json<reconcile::ReconcileReport>, ApiError> {
	Ok(Json(reconcile::run(&s).await?))
}

/// `POST /v1/admin/refunds/{refundId}/record` (admin): records a refund of ours the chain
/// holds but this service never took (made with the CLI; reconciliation reports it
/// `RefundNotRecorded`), as its order's aggregator's refund under the same id. The issuer is
/// told and credits the payer once; the aggregator is notified.
pub async fn record_refund(
	_: Admin,
	State(s): S,
	Path(refund_id): Path<String>,
) -> Result<Json<Refund>, ApiError> {
	check_id("refundId", &refund_id)?;
	Ok(Json(refunder::record_from_chain(&s, &refund_id).await?))
}

/// `POST /v1/admin/refunds/{refundId}/notify` (admin): sends a refund's notification again,
/// at once and with a fresh give-up time. Answers the refund as its aggregator sees it.
pub async fn redrive_refund_notification(
	_: Admin,
	State(s): S,
	Path(refund_id): Path<String>,
) -> Result<Json<Refund>, ApiError> {
	let mut conn = s.db.conn().await?;
	let found = refund::refund(&mut conn, &refund_id).await?;
	drop(conn);
	let refund = found.ok_or(order::OrderError::UnknownRefund)?;
	redrive(&s, (&refund.order_id, &refund.refund_id), "refund").await?;
	let shown = refund::of_aggregator(&s.db, &refund.aggregator_id, Some(&refund_id), None);
	Ok(Json(shown.await?))
}

/// Queues the notification of an order (`refund_id` empty) or of a refund of it again, or
/// refuses by name while there is none (the `what` is not final).
async fn redrive(s: &Acquirer, subject: (&str, &str), what: &str) -> Result<(), ApiError> {
	if !messages::redrive_notification(&s.db, subject).await? {
		return Err(ApiError::conflict(
			"NoNotification",
			format!("the {what} has no notification yet: it is not final"),
		));
	}
	s.outbox_wake.notify_one();
	Ok(())
}
