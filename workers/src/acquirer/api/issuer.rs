//! The issuer's interface: the wallet app's checkout of a merchant's code or a prepay id, and
//! the bookkeeping calls, which post on chain and answer from finality.

use crate::{
	acquirer::{
		merchant::Merchant,
		order::{self, CheckoutTarget, Order, OrderStatus},
		posting, Acquirer,
	},
	common::{
		api::{check_amount, check_id, parse_json, ApiError},
		emvco::MerchantQr,
		extract::{IssuerCall, SignedBy},
		wire::{
			scenario_of, BookkeepingRequest, BookkeepingResult, CheckoutOrder, CheckoutRequest,
			Scenario,
		},
	},
};
use axum::{
	extract::{Path, State},
	Json,
};
use std::sync::Arc;

type S = State<Arc<Acquirer>>;

/// What a checkout names, read from the code (which must be one of ours) or the prepay id.
fn target_of<'a>(
	s: &Acquirer,
	r: &'a CheckoutRequest,
	qr: &'a mut Option<MerchantQr>,
) -> Result<CheckoutTarget<'a>, ApiError> {
	match (&r.payload, &r.prepay_id) {
		(Some(payload), None) => {
			let code = MerchantQr::decode(payload, &s.config.qr_scheme).map_err(|e| {
				ApiError::bad_request("InvalidQrCode", format!("not a code of ours: {e}"))
			})?;
			if code.acquirer != s.config.acquirer_code {
				return Err(ApiError::bad_request(
					"InvalidQrCode",
					"the code is another acquirer's",
				));
			}
			if code.dynamic && code.bill_number.is_none() {
				return Err(ApiError::bad_request(
					"InvalidQrCode",
					"a dynamic code without a bill number",
				));
			}
			let code = qr.insert(code);
			Ok(match &code.bill_number {
				Some(bill) if code.dynamic => CheckoutTarget::Bill {
					merchant_id: &code.merchant_id,
					order_id: bill,
					amount: code.amount,
				},
				_ => CheckoutTarget::Shop { merchant_id: &code.merchant_id },
			})
		}
		(None, Some(prepay_id)) => Ok(CheckoutTarget::Prepay { prepay_id }),
		_ => Err(ApiError::bad_request("InvalidCheckout", "give payload or prepayId")),
	}
}

fn checkout_view(m: &Merchant, order: Option<&Order>) -> CheckoutOrder {
	CheckoutOrder {
		acquirer_order_id: order.map(|o| o.order_id.clone()),
		aggregator_order_id: order.map(|o| o.aggregator_order_id.clone()),
		merchant_id: m.merchant_id.clone(),
		merchant_name: m.name.clone(),
		city: m.city.clone(),
		mcc: m.mcc.clone(),
		amount: order.map(|o| o.amount),
		currency: "CNY".into(),
		scenario: order.map(|o| scenario_of(&o.scenario)).unwrap_or(Scenario::StaticQr),
		description: order.and_then(|o| o.description.clone()),
	}
}

/// `POST /v1/checkout/preview` (issuer): what the payer is about to pay, for the wallet to
/// show before the PIN.
pub async fn checkout_preview(
	State(s): S,
	signed: SignedBy<IssuerCall>,
) -> Result<Json<CheckoutOrder>, ApiError> {
	let r: CheckoutRequest = parse_json(&signed.body)?;
	let mut qr = None;
	let target = target_of(&s, &r, &mut qr)?;
	let (merchant, order) = order::preview(&s.db, &target).await?;
	Ok(Json(checkout_view(&merchant, order.as_ref())))
}

/// `POST /v1/checkout` (issuer): the payer confirmed; binds the order to the issuer's order
/// (creating it for a static code). Idempotent by `issuerOrderId`.
pub async fn checkout(
	State(s): S,
	signed: SignedBy<IssuerCall>,
) -> Result<Json<CheckoutOrder>, ApiError> {
	let r: CheckoutRequest = parse_json(&signed.body)?;
	let issuer_order =
		r.issuer_order_id.clone().ok_or_else(|| ApiError::invalid("issuerOrderId", "required"))?;
	check_id("issuerOrderId", &issuer_order)?;
	let mut qr = None;
	let target = target_of(&s, &r, &mut qr)?;
	if let (CheckoutTarget::Shop { .. }, Some(amount)) = (&target, r.amount) {
		check_amount("amount", amount)?;
	}
	let (merchant, order) = order::check_out(&s.db, &target, &issuer_order, r.amount).await?;
	s.metrics.order(OrderStatus::DebitRequested.as_str());
	Ok(Json(checkout_view(&merchant, Some(&order))))
}

/// `POST /v1/bookkeeping` (issuer): the debit's status; when debited, the signed instruction,
/// which is posted on chain. Answers only from finality.
pub async fn bookkeeping(
	State(s): S,
	signed: SignedBy<IssuerCall>,
) -> Result<Json<BookkeepingResult>, ApiError> {
	let r: BookkeepingRequest = parse_json(&signed.body)?;
	check_id("acquirerOrderId", &r.acquirer_order_id)?;
	check_id("issuerOrderId", &r.issuer_order_id)?;
	Ok(Json(posting::bookkeep(&s, r).await?))
}

/// `GET /v1/bookkeeping/{orderId}` (issuer): where the bookkeeping of an order stands, for an
/// issuer whose bookkeeping call timed out.
pub async fn bookkeeping_status(
	State(s): S,
	Path(order_id): Path<String>,
	_: SignedBy<IssuerCall>,
) -> Result<Json<BookkeepingResult>, ApiError> {
	Ok(Json(posting::result_of(&order::get(&s.db, &order_id).await?)))
}
