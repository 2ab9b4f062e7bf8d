//! The documents issuer and acquirer exchange (see `openapi/*.json`).

use clearline_client::instruction::SignedInstruction;
use serde::{Deserialize, Serialize};

/// How the payment was initiated, as the chain records it.
pub use pallet_clearing_bank::Scenario;

/// A scenario as the services' stores and APIs write it.
pub fn scenario_text(s: Scenario) -> &'static str {
	match s {
		Scenario::CustomerPresented => "customer_presented",
		Scenario::DynamicQr => "dynamic_qr",
		Scenario::StaticQr => "static_qr",
		Scenario::InApp => "in_app",
	}
}

/// The scenario of a stored text written by [`scenario_text`].
pub fn scenario_of(text: &str) -> Scenario {
	match text {
		"dynamic_qr" => Scenario::DynamicQr,
		"static_qr" => Scenario::StaticQr,
		"in_app" => Scenario::InApp,
		_ => Scenario::CustomerPresented,
	}
}

/// Amounts travel as JSON integers of minor units. Every amount here is below 10^15, well
/// inside the range JSON numbers hold exactly.
pub type Minor = i64;

/// Acquirer → issuer: debit the wallet behind this payment code for this order (flow 1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DebitRequest {
	pub acquirer_order_id: String,
	pub aggregator_order_id: String,
	pub merchant_id: String,
	pub merchant_name: String,
	pub payment_code: String,
	/// The merchant's price in minor units of `currency`.
	pub amount: Minor,
	pub currency: String,
}

/// The issuer's acknowledgement: the request is stored and will be processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DebitAccepted {
	pub acquirer_order_id: String,
	pub status: String,
}

/// What the issuer knows of a debit request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DebitStatus {
	pub acquirer_order_id: String,
	pub issuer_order_id: String,
	/// `RECEIVED`, `AWAITING_PAYER`, `DEBITED`, `SUCCESS`, `FAILED`, `REJECTED`, `UNKNOWN`.
	pub status: String,
	pub reason: Option<String>,
}

/// Issuer → acquirer: the payer scanned a merchant's code (or was handed a prepay id) and
/// confirmed; give the order to pay (flows 2–4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CheckoutRequest {
	/// The scanned EMVCo payload (dynamic or static).
	pub payload: Option<String>,
	/// The in-app prepay reference.
	pub prepay_id: Option<String>,
	/// The amount the payer confirmed, minor units of CNY: typed for a shop's code; for a
	/// dynamic code or a prepay id the amount the preview showed, which the order must be for
	/// (`AmountMismatch`). Absent for a preview.
	pub amount: Option<Minor>,
	/// Binds the acquirer's order to this issuer order; the idempotency key of the checkout.
	/// Absent for a preview.
	pub issuer_order_id: Option<String>,
}

/// The order a checkout names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutOrder {
	/// Absent in the preview of a static code (no order exists before the payer confirms).
	pub acquirer_order_id: Option<String>,
	pub aggregator_order_id: Option<String>,
	pub merchant_id: String,
	pub merchant_name: String,
	pub city: String,
	pub mcc: String,
	/// Absent in the preview of a static code.
	pub amount: Option<Minor>,
	pub currency: String,
	pub scenario: Scenario,
	pub description: Option<String>,
}

/// Issuer → acquirer: the debit's status and, when debited, the signed instruction to post.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BookkeepingRequest {
	pub acquirer_order_id: String,
	pub issuer_order_id: String,
	/// `DEBITED` (with `instruction`) or `FAILED` (with `reason`).
	pub debit_status: String,
	pub instruction: Option<SignedInstruction>,
	pub reason: Option<String>,
}

/// The acquirer's answer, given only from finality: `SUCCESS` (posted in a finalized block),
/// `FAILURE` (refused, or its transaction expired unposted) or `UNKNOWN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookkeepingResult {
	pub acquirer_order_id: String,
	/// `SUCCESS`, `FAILURE`, `UNKNOWN`; in a status query also `PROCESSING` and
	/// `NOT_RECEIVED`.
	pub result: String,
	pub posting_id: Option<u64>,
	pub cycle: Option<u32>,
	pub block_number: Option<u32>,
	pub block_hash: Option<String>,
	pub reason: Option<String>,
}

/// Acquirer → aggregator: an order reached its final status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
	/// The aggregator the notification is for; it refuses one naming another.
	pub aggregator_id: String,
	pub order_id: String,
	pub aggregator_order_id: String,
	pub merchant_id: String,
	/// `SUCCESS` or `FAILED`.
	pub status: String,
	/// ISO 20022: `ACSC` or `RJCT`.
	pub iso_status: String,
	pub amount: Minor,
	pub currency: String,
	pub posting_id: Option<u64>,
	pub block_number: Option<u32>,
	pub reason: Option<String>,
	/// In a refund's notification: the refund. `status` is then the order's trade state after
	/// it (`REFUND`, `PARTIAL_REFUND`, or `SUCCESS` when nothing is refunded).
	#[serde(default, skip_serializing_if = "Option::is_none")]
	pub refund: Option<RefundOutcome>,
}

impl Notification {
	/// What the notification is about: the order, or one refund of it. An aggregator applies
	/// each once.
	pub fn subject(&self) -> String {
		match &self.refund {
			None => self.order_id.clone(),
			Some(r) => format!("{}/{}", self.order_id, r.refund_id),
		}
	}
}

/// A refund as its notification tells it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundOutcome {
	pub refund_id: String,
	pub aggregator_refund_id: String,
	/// `SUCCESS` or `FAILED`.
	pub status: String,
	/// Minor units of CNY.
	pub amount: Minor,
	/// What the order has had refunded in all, this refund included.
	pub refunded_amount: Minor,
	pub block_number: Option<u32>,
	pub reason: Option<String>,
}

/// Acquirer → issuer: a refund of one of its orders is in a finalized block; credit the payer.
/// The issuer takes every amount from the chain, not from this notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RefundNotice {
	/// The refund id on chain (the acquirer's).
	pub refund_id: String,
	pub acquirer_order_id: String,
	/// Minor units of CNY, as the acquirer refunded it.
	pub amount: Minor,
}

/// The issuer's answer to a refund notice: the wallet is credited (now or before).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundCredited {
	pub refund_id: String,
	pub issuer_order_id: String,
	pub acquirer_order_id: String,
	/// Minor units of CNY given back on the merchant's side.
	pub credit_amount: Minor,
	/// Minor units of HKD credited to the wallet: the chain's figure at the posting's rate.
	pub debit_amount: Minor,
	/// `CREDITED`.
	pub status: String,
}

/// What an aggregator answers a notification with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationAck {
	/// `SUCCESS` acknowledges.
	pub code: String,
}
