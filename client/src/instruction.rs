//! A payment instruction with the issuer's signature, as the issuer hands it to the acquirer
//! (a JSON document), and the calls that post one or a batch of them without ever posting
//! one twice.

use crate::{
	calls,
	connection::Connection,
	error::{Error, Result},
	events::text,
	extrinsic::{ChainContext, Signer},
	outcome::Outcome,
	queries,
	tx::{TxReport, TxResult, TxSender},
};
use clearline_runtime::{AccountId, RuntimeEvent};
use pallet_clearing_bank::{PaymentInstruction, PostingId, Scenario};
use pallet_clearing_bank_rpc::PostingJson;
use pallet_fx_rate::{CurrencyCode, RateId};
use pallet_fx_rate_rpc::Amount;
use serde::{Deserialize, Serialize};
use sp_core::crypto::Ss58Codec;
use sp_runtime::MultiSignature;

/// The instruction's fields in their JSON form, and the issuer's sr25519 signature over
/// `pallet_clearing_bank::instruction_signing_payload` for the chain `genesisHash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignedInstruction {
	pub genesis_hash: sp_core::H256,
	pub issuer: String,
	pub acquirer: String,
	pub acquirer_order_id: String,
	pub issuer_order_id: String,
	pub aggregator_order_id: String,
	pub merchant_id: String,
	pub scenario: Scenario,
	pub debit_currency: CurrencyCode,
	pub debit_amount: Amount,
	pub credit_currency: CurrencyCode,
	pub credit_amount: Amount,
	pub rate_id: RateId,
	/// Chain time (ms since the Unix epoch) after which the chain refuses the posting.
	pub expires_at: u64,
	/// `0x` and 64 bytes of hex.
	pub issuer_signature: String,
}

impl SignedInstruction {
	/// The issuer signs `instruction` for the chain of `ctx`.
	pub fn sign(
		issuer: &Signer,
		ctx: &ChainContext,
		instruction: &PaymentInstruction<AccountId>,
	) -> Self {
		let MultiSignature::Sr25519(signature) = issuer.sign_instruction(ctx, instruction) else {
			unreachable!("Signer signs with sr25519")
		};
		SignedInstruction {
			genesis_hash: ctx.genesis_hash,
			issuer: instruction.issuer.to_ss58check(),
			acquirer: instruction.acquirer.to_ss58check(),
			acquirer_order_id: text(&instruction.acquirer_order_id),
			issuer_order_id: text(&instruction.issuer_order_id),
			aggregator_order_id: text(&instruction.aggregator_order_id),
			merchant_id: text(&instruction.merchant_id),
			scenario: instruction.scenario,
			debit_currency: instruction.debit_currency,
			debit_amount: Amount(instruction.debit_amount),
			credit_currency: instruction.credit_currency,
			credit_amount: Amount(instruction.credit_amount),
			rate_id: instruction.rate_id,
			expires_at: instruction.expires_at,
			issuer_signature: format!("0x{}", hex::encode(signature.0)),
		}
	}

	/// The instruction and signature as the pallet takes them.
	pub fn decode(&self) -> Result<(PaymentInstruction<AccountId>, MultiSignature)> {
		let instruction = PaymentInstruction {
			issuer: calls::account("issuer", &self.issuer)?,
			acquirer: calls::account("acquirer", &self.acquirer)?,
			acquirer_order_id: calls::order_id("acquirerOrderId", &self.acquirer_order_id)?,
			issuer_order_id: calls::order_id("issuerOrderId", &self.issuer_order_id)?,
			aggregator_order_id: calls::order_id("aggregatorOrderId", &self.aggregator_order_id)?,
			merchant_id: calls::order_id("merchantId", &self.merchant_id)?,
			scenario: self.scenario,
			debit_currency: self.debit_currency,
			debit_amount: self.debit_amount.0,
			credit_currency: self.credit_currency,
			credit_amount: self.credit_amount.0,
			rate_id: self.rate_id,
			expires_at: self.expires_at,
		};
		let bytes: [u8; 64] = hex::decode(self.issuer_signature.trim_start_matches("0x"))
			.ok()
			.and_then(|b| b.try_into().ok())
			.ok_or_else(|| Error::input("issuerSignature", "not 64 bytes of hex"))?;
		Ok((instruction, MultiSignature::Sr25519(sp_core::sr25519::Signature::from_raw(bytes))))
	}
}

impl SignedInstruction {
	/// The instruction and signature, if they were signed for `sender`'s chain and name
	/// `sender` as the acquirer; `which` names the instruction in the error.
	fn decode_for(
		&self,
		sender: &TxSender,
		which: &str,
	) -> Result<(PaymentInstruction<AccountId>, MultiSignature)> {
		if self.genesis_hash != sender.connection().genesis_hash() {
			return Err(Error::input(
				"genesisHash",
				format!("{which} was signed for chain {:?}", self.genesis_hash),
			));
		}
		let (instruction, signature) = self.decode()?;
		if instruction.acquirer != sender.account() {
			return Err(Error::input(
				"acquirer",
				format!("{which} names {}, not the signing key", self.acquirer),
			));
		}
		Ok((instruction, signature))
	}
}

/// The `expires_at` of an instruction signed now that the chain should accept for `validity`:
/// wall-clock time plus `validity`, in ms since the Unix epoch (the chain's timestamps follow
/// the validators' clocks).
pub fn expires_in(validity: std::time::Duration) -> u64 {
	let now =
		std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
	u64::try_from((now + validity).as_millis()).unwrap_or(u64::MAX)
}

/// What posting an instruction came to.
#[derive(Debug)]
pub enum PostResult {
	/// The chain already held the posting: nothing was sent.
	AlreadyPosted(Box<PostingJson<AccountId>>),
	/// The posting transaction's report (finalized with `PaymentPosted`, `PaymentAlreadyPosted`
	/// or a named error; expired; or unknown).
	Sent(Box<TxReport>),
}

/// Posts `signed` through the acquirer's `sender`, unless the chain already has a posting for
/// its acquirer order id. The lookup first, and the pallet's idempotency behind it, make this
/// safe to call again after any outcome, including `Unknown`: it never posts twice.
pub async fn post_once(sender: &TxSender, signed: &SignedInstruction) -> Result<PostResult> {
	let conn: &Connection = sender.connection();
	let (instruction, signature) = signed.decode_for(sender, "the instruction")?;
	if let Some(posting) =
		queries::posting(conn, &instruction.acquirer, &signed.acquirer_order_id, None).await?
	{
		return Ok(PostResult::AlreadyPosted(Box::new(posting)));
	}
	let report = sender.send(calls::post_payment(instruction, signature)).await?;
	Ok(PostResult::Sent(Box::new(report)))
}

/// What one instruction of a batch came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
	/// Posted by this batch, into `cycle`.
	Posted { posting_id: PostingId, cycle: pallet_clearing_bank::CycleId },
	/// The chain held its posting already (before the batch, or earlier in it).
	AlreadyPosted { posting_id: PostingId },
	/// Refused with this error (`ClearingBank(AmountMismatch)`), or its whole transaction
	/// failed with it; nothing of it was recorded.
	Refused { error: String },
	/// Its transaction has no final answer (expired, unknown, or never sent): see the
	/// transaction's report; posting the batch again is safe.
	Unresolved,
}

/// Each item of a batch with what it came to, in the order given.
#[derive(Debug)]
pub struct BatchReport {
	pub items: Vec<(String, ItemOutcome)>,
	/// The transactions sent, one per chunk (of at most [`calls::batch_capacity`] items) of
	/// those the chain did not hold.
	pub reports: Vec<TxReport>,
	/// Why sending stopped before every chunk was sent (their items are `Unresolved`).
	pub stopped: Option<String>,
}

/// What each item of a finalized `post_payments` did, in the batch's order, read from its
/// events: every item emits exactly one of `PaymentPosted`, `PaymentAlreadyPosted` and
/// `PaymentRefused`.
pub fn batch_outcomes(events: &[RuntimeEvent]) -> Vec<(String, ItemOutcome)> {
	use pallet_clearing_bank::Event as Clearing;
	events
		.iter()
		.filter_map(|e| match e {
			RuntimeEvent::ClearingBank(Clearing::PaymentPosted {
				posting_id,
				cycle,
				acquirer_order_id,
				..
			}) => Some((
				text(acquirer_order_id),
				ItemOutcome::Posted { posting_id: *posting_id, cycle: *cycle },
			)),
			RuntimeEvent::ClearingBank(Clearing::PaymentAlreadyPosted {
				posting_id,
				acquirer_order_id,
				..
			}) => Some((
				text(acquirer_order_id),
				ItemOutcome::AlreadyPosted { posting_id: *posting_id },
			)),
			RuntimeEvent::ClearingBank(Clearing::PaymentRefused {
				acquirer_order_id,
				error,
				..
			}) => Some((
				text(acquirer_order_id),
				ItemOutcome::Refused { error: crate::outcome::error_name(error) },
			)),
			_ => None,
		})
		.collect()
}

/// Posts `signed` through the acquirer's `sender` in as few `post_payments` transactions as
/// fit a block ([`calls::batch_capacity`]), leaving out what the chain holds already; like [`post_once`],
/// safe to call again after any outcome. Every instruction is checked (chain, acquirer, form)
/// before anything is sent.
pub async fn post_batch(sender: &TxSender, signed: &[SignedInstruction]) -> Result<BatchReport> {
	let conn: &Connection = sender.connection();
	if signed.is_empty() {
		return Err(Error::input("instructions", "none given"));
	}
	let mut decoded = Vec::with_capacity(signed.len());
	for (n, s) in signed.iter().enumerate() {
		decoded.push(s.decode_for(sender, &format!("instruction {n}"))?);
	}
	let orders: Vec<String> = signed.iter().map(|s| s.acquirer_order_id.clone()).collect();
	let mut held = Vec::with_capacity(orders.len());
	for chunk in orders.chunks(pallet_clearing_bank::MAX_LOOKUPS as usize) {
		held.extend(queries::postings(conn, &sender.account(), chunk, None).await?);
	}
	let mut items: Vec<(String, ItemOutcome)> =
		orders.iter().map(|o| (o.clone(), ItemOutcome::Unresolved)).collect();
	let mut to_send = Vec::new();
	for (n, (item, posting)) in decoded.into_iter().zip(held).enumerate() {
		match posting {
			Some(p) => items[n].1 = ItemOutcome::AlreadyPosted { posting_id: p.posting_id },
			None => to_send.push((n, item)),
		}
	}
	let mut reports = Vec::new();
	let accounts = pallet_clearing_bank::ledger::touched_accounts(
		&to_send.iter().map(|(_, item)| item.clone()).collect::<Vec<_>>(),
	);
	let max = calls::batch_capacity(accounts) as usize;
	let mut stopped = None;
	while !to_send.is_empty() {
		let rest = to_send.split_off(to_send.len().min(max));
		let chunk = std::mem::replace(&mut to_send, rest);
		let (positions, chunk): (Vec<usize>, Vec<_>) = chunk.into_iter().unzip();
		let report = match sender.send(calls::post_payments(chunk)?).await {
			Ok(report) => report,
			// What was sent before keeps its answers; nothing more is sent.
			Err(e) if reports.is_empty() => return Err(e),
			Err(e) => {
				stopped = Some(e.to_string());
				break;
			}
		};
		if let TxResult::Finalized { outcome, .. } = &report.result {
			let outcomes = match outcome {
				Outcome::Succeeded(events) => batch_outcomes(events),
				// The whole call failed: a final answer for every item in it.
				Outcome::Failed { error, .. } => positions
					.iter()
					.map(|&n| (orders[n].clone(), ItemOutcome::Refused { error: error.clone() }))
					.collect(),
			};
			let matches = outcomes.len() == positions.len()
				&& positions.iter().zip(&outcomes).all(|(&n, (order, _))| *order == orders[n]);
			if !matches {
				return Err(Error::bad(
					"post_payments events",
					format!(
						"{} outcomes that do not match its {} items",
						outcomes.len(),
						positions.len()
					),
				));
			}
			for (n, (_, outcome)) in positions.into_iter().zip(outcomes) {
				items[n].1 = outcome;
			}
		}
		reports.push(report);
	}
	Ok(BatchReport { items, reports, stopped })
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_core::H256;

	#[test]
	fn a_signed_instruction_survives_json_and_verifies() {
		let bob = Signer::from_uri("//Bob").unwrap();
		let dave = Signer::from_uri("//Dave").unwrap();
		let ctx = ChainContext {
			genesis_hash: H256::repeat_byte(3),
			spec_version: 1,
			transaction_version: 1,
		};
		let instruction = PaymentInstruction {
			issuer: bob.account_id(),
			acquirer: dave.account_id(),
			acquirer_order_id: calls::order_id("o", "ACQ-1").unwrap(),
			issuer_order_id: calls::order_id("o", "ISS-1").unwrap(),
			aggregator_order_id: calls::order_id("o", "AGG-1").unwrap(),
			merchant_id: calls::order_id("o", "M-1").unwrap(),
			scenario: Scenario::DynamicQr,
			debit_currency: CurrencyCode::HKD,
			debit_amount: 10_000,
			credit_currency: CurrencyCode::CNY,
			credit_amount: 9_213,
			rate_id: 0,
			expires_at: 1_800_000_000_000,
		};
		let signed = SignedInstruction::sign(&bob, &ctx, &instruction);
		let json = serde_json::to_string(&signed).unwrap();
		let back: SignedInstruction = serde_json::from_str(&json).unwrap();
		let (decoded, signature) = back.decode().unwrap();
		assert_eq!(decoded, instruction);
		let payload =
			pallet_clearing_bank::instruction_signing_payload(&ctx.genesis_hash, &instruction);
		use sp_runtime::traits::Verify;
		assert!(signature.verify(&payload[..], &bob.account_id()));

		let mut tampered = back.clone();
		tampered.issuer_signature = "0x1234".into();
		assert!(matches!(
			tampered.decode(),
			Err(Error::InvalidInput { field: "issuerSignature", .. })
		));
		assert!(serde_json::from_str::<SignedInstruction>(&json.replace("rateId", "rate")).is_err());
	}
}
