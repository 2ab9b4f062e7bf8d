//! The issuer's HTTP API, by audience: the wallet app ([`app`], a session from its PIN), the
//! acquirer's debit and refund interface ([`debits`], signed requests) and operations
//! ([`admin`]).
//! Handlers authenticate through extractors, validate, and leave every state change to the
//! order and wallet modules.

mod admin;
mod app;
mod debits;

use super::Issuer;
use crate::common::{
	cycles,
	pages::{self, Page},
};
use axum::{
	middleware::from_fn_with_state,
	routing::{delete, get, post},
	Router,
};
use std::sync::Arc;

/// The API listener's routes: the wallet app's and the acquirer's.
pub fn router(state: Arc<Issuer>) -> Router {
	let wallet_app = Router::new()
		.route("/v1/wallets/:wallet_id", get(app::get_wallet))
		.route("/v1/wallets/:wallet_id/history", get(app::history))
		.route("/v1/wallets/:wallet_id/payment-codes", post(app::new_payment_code))
		.route("/v1/wallets/:wallet_id/scan", post(app::scan))
		.route("/v1/wallets/:wallet_id/scan-image", post(app::scan_image))
		.route("/v1/wallets/:wallet_id/quote", get(app::quote))
		.route("/v1/wallets/:wallet_id/payments", post(app::pay).get(app::find_payment))
		.route("/v1/wallets/:wallet_id/payments/:order_id", get(app::get_payment))
		.route("/v1/wallets/:wallet_id/pending", get(app::pending))
		.route("/v1/wallets/:wallet_id/pending/:order_id/confirm", post(app::confirm_pending))
		.route("/v1/wallets/:wallet_id/pending/:order_id/decline", post(app::decline_pending))
		.route_layer(from_fn_with_state(state.clone(), app::limited));
	Router::new()
		.merge(wallet_app)
		.merge(pages::routes(Page::Wallet, "/wallet"))
		.route("/v1/sessions", post(app::log_in))
		.route("/v1/sessions/current", delete(app::log_out))
		.route("/v1/debits", post(debits::debit_request))
		.route("/v1/debits/:acquirer_order_id", get(debits::debit_status))
		.route("/v1/refunds", post(debits::refund_notice))
		.with_state(state)
}

/// The admin listener's routes.
pub fn admin_router(state: Arc<Issuer>) -> Router {
	Router::new()
		.route("/v1/admin/wallets", post(admin::open_wallet))
		.route("/v1/admin/wallets/:wallet_id", get(admin::get_wallet))
		.route("/v1/admin/wallets/:wallet_id/topups", post(admin::top_up))
		.route("/v1/admin/wallets/:wallet_id/unlock", post(admin::unlock_wallet))
		.route("/v1/admin/orders/:order_id", get(admin::get_order))
		.route("/v1/admin/reconcile", post(admin::reconcile))
		.route(
			"/v1/admin/cycles/:cycle/reconciliation",
			get(cycles::cycle_reconciliation::<Issuer>),
		)
		.route("/v1/admin/refunds/:refund_id/credit", post(admin::credit_refund))
		.with_state(state)
}
