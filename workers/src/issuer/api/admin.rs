//! Operations: wallets opened, topped up and unlocked; orders looked at; reconciliation run.

use crate::{
	common::{
		api::{check_amount, check_id, check_text, parse_json, ApiError},
		auth,
		extract::Admin,
	},
	issuer::{
		order::{self, Order},
		reconcile,
		refund::{self, CreditedRefund, RefundSource},
		wallet::{self, Wallet},
		Issuer,
	},
};
use axum::{
	body::Bytes,
	extract::{Path, State},
	Json,
};
use clearline_client::instruction::SignedInstruction;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

type S = State<Arc<Issuer>>;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewWallet {
	wallet_id: Option<String>,
	holder: String,
	pin: String,
}

/// `POST /v1/admin/wallets` (admin): opens an HKD wallet with a PIN.
pub async fn open_wallet(_: Admin, State(s): S, body: Bytes) -> Result<Json<Wallet>, ApiError> {
	let r: NewWallet = parse_json(&body)?;
	check_text("holder", &r.holder, 64)?;
	wallet::check_pin_format(&r.pin)?;
	if let Some(id) = &r.wallet_id {
		check_id("walletId", id)?;
	}
	let salt: [u8; 16] = rand::random();
	let iterations = s.config.pin_iterations;
	let hash = auth::hash_secret(&r.pin, &salt, iterations);
	Ok(Json(wallet::open(&s.db, r.wallet_id, &r.holder, &salt, &hash, iterations).await?))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TopUp {
	topup_id: String,
	amount: i64,
	/// The external transfer that funded it (a bank transfer's or FPS payment's reference).
	reference: String,
}

/// `POST /v1/admin/wallets/{walletId}/topups` (admin): credits HKD (minor units), once per
/// `topupId`.
pub async fn top_up(
	_: Admin,
	State(s): S,
	Path(wallet_id): Path<String>,
	body: Bytes,
) -> Result<Json<Wallet>, ApiError> {
	let r: TopUp = parse_json(&body)?;
	check_id("topupId", &r.topup_id)?;
	check_amount("amount", r.amount)?;
	check_text("reference", &r.reference, 140)?;
	Ok(Json(wallet::top_up(&s.db, &wallet_id, &r.topup_id, r.amount, &r.reference).await?))
}

/// `POST /v1/admin/wallets/{walletId}/unlock` (admin): after the holder proved who they are
/// by other means, a locked wallet is active again with its wrong-PIN count cleared.
pub async fn unlock_wallet(
	_: Admin,
	State(s): S,
	Path(id): Path<String>,
) -> Result<Json<Wallet>, ApiError> {
	Ok(Json(wallet::unlock(&s.db, &id).await?))
}

/// `GET /v1/admin/wallets/{walletId}` (admin).
pub async fn get_wallet(
	_: Admin,
	State(s): S,
	Path(id): Path<String>,
) -> Result<Json<Wallet>, ApiError> {
	Ok(Json(wallet::get(&s.db, &id).await?))
}

/// An order as operations see it: with the signed instruction the acquirer was given.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminOrder {
	#[serde(flatten)]
	order: Order,
	instruction: Option<SignedInstruction>,
	expires_at: Option<i64>,
}

/// `GET /v1/admin/orders/{issuerOrderId}` (admin).
pub async fn get_order(
	_: Admin,
	State(s): S,
	Path(id): Path<String>,
) -> Result<Json<AdminOrder>, ApiError> {
	let mut order = order::get(&s.db, &id).await?;
	(order.refunded_amount, order.refunded_debit_amount) =
		refund::refunded(&mut *s.db.conn().await?, &id).await?;
	let instruction = order.instruction.as_deref().and_then(|t| serde_json::from_str(t).ok());
	Ok(Json(AdminOrder { expires_at: order.expires_at, order, instruction }))
}

/// `POST /v1/admin/reconcile` (admin): runs reconciliation now and returns its report.
pub async fn reconcile(
	_: Admin,
	State(s): S,
) -> Result<Json<reconcile::ReconcileReport>, ApiError> {
	Ok(Json(reconcile::run(&s).await?))
}

/// `POST /v1/admin/refunds/{refundId}/credit` (operations): credits a refund the chain holds
/// but the acquirer never announced (reconciliation reports it `RefundNotRecorded`), from the
/// chain's record, once; a refund credited already is answered as it was.
pub async fn credit_refund(
	_: Admin,
	State(s): S,
	Path(refund_id): Path<String>,
) -> Result<Json<CreditedRefund>, ApiError> {
	check_id("refundId", &refund_id)?;
	Ok(Json(refund::credit(&s, &refund_id, None, RefundSource::Operator).await?))
}
