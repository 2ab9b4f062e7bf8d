//! The acquirer's HTTP API, by audience: the aggregators' open API ([`aggregators`]), the
//! issuer's interface ([`issuer`]) and operations ([`admin`]). Handlers authenticate through
//! extractors, validate, and leave every state change to the order and merchant modules.

mod admin;
mod aggregators;
mod issuer;
mod till;

use super::{merchant::Merchant, Acquirer};
use crate::common::api::ApiError;
use crate::common::emvco::MerchantQr;
use crate::common::{
	cycles,
	pages::{self, Page},
};
use axum::{
	extract::{Request, State},
	middleware::{from_fn_with_state, Next},
	response::{IntoResponse, Response},
	routing::{delete, get, post},
	Router,
};
use std::sync::Arc;

/// The API listener's routes: the aggregators' and the issuer's.
pub fn router(state: Arc<Acquirer>) -> Router {
	let admitted = || from_fn_with_state(state.clone(), admit);
	Router::new()
		.route("/v1/micropay", post(aggregators::micropay).route_layer(admitted()))
		.route("/v1/unified-order", post(aggregators::unified_order).route_layer(admitted()))
		.route("/v1/orders", get(aggregators::find_order))
		.route("/v1/orders/:order_id", get(aggregators::get_order))
		.route("/v1/orders/:order_id/close", post(aggregators::close_order))
		.route("/v1/orders/:order_id/cancel", post(aggregators::cancel_order))
		.route("/v1/merchants/:merchant_id/static-qr", get(aggregators::static_qr))
		.route("/v1/refunds", post(aggregators::refund).get(aggregators::find_refund))
		.route("/v1/refunds/:refund_id", get(aggregators::get_refund))
		.route("/v1/checkout", post(issuer::checkout))
		.route("/v1/checkout/preview", post(issuer::checkout_preview))
		.route("/v1/bookkeeping", post(issuer::bookkeeping))
		.route("/v1/bookkeeping/:order_id", get(issuer::bookkeeping_status))
		.route("/till/v1/sessions", post(till::log_in))
		.route("/till/v1/sessions/current", delete(till::log_out))
		.route("/till/v1/merchant", get(till::get_merchant))
		.route("/till/v1/charges", post(till::charge).route_layer(admitted()))
		.route(
			"/till/v1/orders",
			post(till::new_qr_order).route_layer(admitted()).get(till::orders),
		)
		.route("/till/v1/orders/:order_id", get(till::get_order))
		.route("/till/v1/orders/:order_id/refunds", post(till::refund))
		.route("/till/v1/orders/:order_id/cancel", post(till::cancel))
		.route("/till/v1/orders/:order_id/close", post(till::close))
		.merge(pages::routes(Page::Till, "/till"))
		.with_state(state)
}

/// The admin listener's routes.
pub fn admin_router(state: Arc<Acquirer>) -> Router {
	Router::new()
		.route("/v1/admin/aggregators", post(admin::add_aggregator))
		.route("/v1/admin/merchants", post(admin::add_merchant))
		.route("/v1/admin/merchants/:merchant_id", get(admin::get_merchant))
		.route("/v1/admin/merchants/:merchant_id/status", post(admin::set_merchant_status))
		.route("/v1/admin/merchants/:merchant_id/till-password", post(admin::set_till_password))
		.route("/v1/admin/orders/:order_id", get(admin::get_order))
		.route("/v1/admin/orders/:order_id/notify", post(admin::redrive_notification))
		.route("/v1/admin/reconcile", post(admin::reconcile))
		.route(
			"/v1/admin/cycles/:cycle/reconciliation",
			get(cycles::cycle_reconciliation::<Acquirer>),
		)
		.route("/v1/admin/refunds/:refund_id/record", post(admin::record_refund))
		.route("/v1/admin/refunds/:refund_id/notify", post(admin::redrive_refund_notification))
		.with_state(state)
}

/// Takes a new payment only while fewer than `--admission-limit` are being taken; refuses it
/// at once otherwise, before its signature is checked, so that refusing costs next to nothing.
async fn admit(State(s): State<Arc<Acquirer>>, request: Request, next: Next) -> Response {
	let Ok(_permit) = s.admission.clone().try_acquire_owned() else {
		s.metrics.call("admission", "refused");
		let mut response = ApiError::unavailable(
			"Busy",
			"the acquirer is taking as many new payments as it can; send this one again shortly",
		)
		.into_response();
		response.headers_mut().insert(axum::http::header::RETRY_AFTER, 1.into());
		return response;
	};
	next.run(request).await
}

/// The merchant's QR payload: a shop's (no amount) or an order's (amount and bill number).
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
