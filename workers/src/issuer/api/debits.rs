//! The acquirer's debit interface: a merchant scanned one of our payment codes; and its
//! refund notices: a merchant refunded a payment on chain.

use crate::{
	common::{
		api::{check_amount, check_id, check_text, parse_json, request_hash, ApiError},
		extract::{AcquirerCall, SignedBy},
		wire::{DebitAccepted, DebitRequest, DebitStatus, RefundCredited, RefundNotice},
	},
	issuer::{
		order::{self, NewOrder, OrderError, OrderStatus},
		process,
		refund::{self, RefundSource},
		Issuer,
	},
};
use axum::{
	extract::{Path, State},
	http::StatusCode,
	Json,
};
use std::sync::Arc;

type S = State<Arc<Issuer>>;

fn check(s: &Issuer, r: &DebitRequest) -> Result<(), ApiError> {
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
	Ok(())
}

/// `POST /v1/debits` (acquirer): the merchant scanned a payment code; acknowledged (202)
/// once the debit was tried (`DEBITED`, `REJECTED`, `AWAITING_PAYER` above the no-PIN limit,
/// or still `RECEIVED`), and processed on after. Idempotent by `acquirerOrderId`.
pub async fn debit_request(
	State(s): S,
	signed: SignedBy<AcquirerCall>,
) -> Result<(StatusCode, Json<DebitAccepted>), ApiError> {
	let r: DebitRequest = parse_json(&signed.body)?;
	check(&s, &r)?;
	let (id, created) = order::receive_debit_request(
		&s.db,
		NewOrder {
			issuer_order_id: "",
			acquirer_order_id: &r.acquirer_order_id,
			aggregator_order_id: &r.aggregator_order_id,
			merchant_id: &r.merchant_id,
			merchant_name: &r.merchant_name,
			scenario: "customer_presented",
			wallet_id: None,
			payment_code: Some(&r.payment_code),
			request_hash: &request_hash(&r),
			amount: r.amount,
		},
	)
	.await?;
	if created {
		s.metrics.order(OrderStatus::Received.as_str());
		process::start(&s, id.clone()).await;
	}
	let order = order::get(&s.db, &id).await?;
	Ok((
		StatusCode::ACCEPTED,
		Json(DebitAccepted {
			acquirer_order_id: order.acquirer_order_id,
			status: order.status.to_string(),
		}),
	))
}

/// `GET /v1/debits/{acquirerOrderId}` (acquirer): what became of a debit request.
pub async fn debit_status(
	State(s): S,
	Path(acquirer_order_id): Path<String>,
	_: SignedBy<AcquirerCall>,
) -> Result<Json<DebitStatus>, ApiError> {
	let order = order::order_of_acquirer(&mut *s.db.conn().await?, &acquirer_order_id)
		.await?
		.ok_or(OrderError::UnknownOrder("no debit request for this order"))?;
	Ok(Json(DebitStatus {
		acquirer_order_id: order.acquirer_order_id,
		issuer_order_id: order.issuer_order_id,
		status: order.status.to_string(),
		reason: order.reason,
	}))
}

/// `POST /v1/refunds` (acquirer): a refund of one of our payments is in a finalized block.
/// The wallet that paid is credited what the chain returned to us, once; answered when it is
/// (now or before). A refund our node cannot see finalized yet is `503 RefundNotOnChain`.
pub async fn refund_notice(
	State(s): S,
	signed: SignedBy<AcquirerCall>,
) -> Result<Json<RefundCredited>, ApiError> {
	let r: RefundNotice = parse_json(&signed.body)?;
	check_id("refundId", &r.refund_id)?;
	check_id("acquirerOrderId", &r.acquirer_order_id)?;
	check_amount("amount", r.amount)?;
	let done = refund::credit(&s, &r.refund_id, Some(&r.acquirer_order_id), RefundSource::Acquirer)
		.await?;
	Ok(Json(done.into()))
}
