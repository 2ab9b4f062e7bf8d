//! Finalized events as a stream that resumes: a service remembers the last block it handled
//! and, after a restart, asks again from the block after it, missing nothing and seeing no
//! block twice; the stream rides over node restarts through its [`Connection`].

use crate::{connection::Connection, error::Result, queries};
use clearline_runtime::{AccountId, RuntimeEvent};
use futures::Stream;
use pallet_clearing_bank::Event as Clearing;
use serde_json::{json, Map, Value};
use sp_core::{crypto::Ss58Codec, H256};
use std::{sync::Arc, time::Duration};

/// One event of a finalized block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEvent {
	pub block: u32,
	pub block_hash: H256,
	/// The extrinsic that emitted it, if one did (not block initialisation or finalisation).
	pub extrinsic: Option<u32>,
	/// Its position among the block's events.
	pub index: u32,
	pub event: RuntimeEvent,
}

/// A finalized block's events that passed the filter (perhaps none). A consumer that has
/// handled it records `number`, and after a restart asks from `number + 1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockEvents {
	pub number: u32,
	pub hash: H256,
	pub events: Vec<ChainEvent>,
}

/// Which events a stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventFilter {
	/// Every event, including fees and extrinsic results.
	All,
	/// The clearing bank's and the FX-rate pallet's events.
	Clearing,
	/// The clearing bank's events that concern this participant: its registration, limits,
	/// fundings, postings and refunds on either side, and every cycle close and settlement.
	Participant(AccountId),
}

/// How often the stream asks for a new finalized block once it has caught up.
const POLL: Duration = Duration::from_millis(500);

struct State {
	conn: Arc<Connection>,
	next: u32,
	filter: EventFilter,
}

/// Every finalized block from `from` on, in order, with its events that pass `filter`;
/// forever. An error (the node unreachable past the connection's reconnect time) is yielded
/// and the stream goes on from the same block.
pub fn finalized_events(
	conn: Arc<Connection>,
	from: u32,
	filter: EventFilter,
) -> impl Stream<Item = Result<BlockEvents>> {
	let state = State { conn, next: from, filter };
	futures::stream::unfold(state, |mut state| async move {
		loop {
			match next_block(&mut state).await {
				Ok(Some(block)) => return Some((Ok(block), state)),
				Ok(None) => tokio::time::sleep(POLL).await,
				Err(e) => {
					tokio::time::sleep(POLL).await;
					return Some((Err(e), state));
				}
			}
		}
	})
}

/// The next block's events, once it is finalized (`None` before).
async fn next_block(state: &mut State) -> Result<Option<BlockEvents>> {
	let (finalized, _) = state.conn.finalized().await?;
	if state.next > finalized {
		return Ok(None);
	}
	let block = state.conn.finalized_block(state.next).await?;
	let mut events = Vec::new();
	for (index, record) in block.events.iter().enumerate() {
		let extrinsic = match record.phase {
			frame_system::Phase::ApplyExtrinsic(i) => Some(i),
			_ => None,
		};
		let event = ChainEvent {
			block: block.number,
			block_hash: block.hash,
			extrinsic,
			index: index as u32,
			event: record.event.clone(),
		};
		if concerns(&state.conn, &state.filter, &event).await? {
			events.push(event);
		}
	}
	state.next += 1;
	Ok(Some(BlockEvents { number: block.number, hash: block.hash, events }))
}

async fn concerns(conn: &Connection, filter: &EventFilter, event: &ChainEvent) -> Result<bool> {
	let who = match filter {
		EventFilter::All => return Ok(true),
		EventFilter::Clearing => {
			return Ok(matches!(
				event.event,
				RuntimeEvent::ClearingBank(_) | RuntimeEvent::FxRate(_)
			))
		}
		EventFilter::Participant(who) => who,
	};
	let RuntimeEvent::ClearingBank(e) = &event.event else { return Ok(false) };
	Ok(match e {
		Clearing::ParticipantRegistered { who: w, .. }
		| Clearing::ParticipantSuspended { who: w }
		| Clearing::ParticipantReinstated { who: w }
		| Clearing::DebitLimitSet { who: w, .. }
		| Clearing::AccountFunded { who: w, .. }
		| Clearing::AccountWithdrawn { who: w, .. }
		| Clearing::ParticipantDeregistered { who: w, .. } => w == who,
		Clearing::InstructionVoided { issuer, .. }
		| Clearing::InstructionAlreadyVoided { issuer, .. } => issuer == who,
		Clearing::PaymentPosted { issuer, acquirer, .. } => issuer == who || acquirer == who,
		Clearing::PaymentAlreadyPosted { acquirer, .. }
		| Clearing::PaymentRefused { acquirer, .. }
		| Clearing::RefundAlreadyRecorded { acquirer, .. } => acquirer == who,
		// A refund names its acquirer; the issuer it returns money to is the posting's.
		Clearing::PaymentRefunded { acquirer, posting_id, .. } => {
			acquirer == who
				|| queries::posting_by_id(conn, *posting_id, Some(event.block_hash))
					.await?
					.is_some_and(|p| &p.issuer == who)
		}
		Clearing::CycleClosed { .. } | Clearing::CycleSettled { .. } => true,
		Clearing::ClearingBankSet { .. } | Clearing::TransferAlreadyRecorded { .. } => false,
		_ => false,
	})
}

/// An on-chain identifier (order id, code, reference) as text.
pub(crate) fn text(bytes: &[u8]) -> String {
	String::from_utf8_lossy(bytes).into_owned()
}

/// `Pallet.Event` and the event's fields as JSON: amounts as decimal strings, ids as text,
/// accounts as SS58. Events of other pallets carry their debug form as `detail`.
pub fn describe(event: &RuntimeEvent) -> (String, Value) {
	let account = |a: &AccountId| json!(a.to_ss58check());
	let amount = |a: &u128| json!(a.to_string());
	let (name, fields) = match event {
		RuntimeEvent::ClearingBank(e) => match e {
			Clearing::ClearingBankSet { account: a } => {
				("ClearingBankSet", json!({ "account": account(a) }))
			}
			Clearing::ParticipantRegistered { who, role, code } => (
				"ParticipantRegistered",
				json!({ "who": account(who), "role": role, "code": text(code) }),
			),
			Clearing::ParticipantSuspended { who } => {
				("ParticipantSuspended", json!({ "who": account(who) }))
			}
			Clearing::ParticipantReinstated { who } => {
				("ParticipantReinstated", json!({ "who": account(who) }))
			}
			Clearing::DebitLimitSet { who, currency, limit } => (
				"DebitLimitSet",
				json!({ "who": account(who), "currency": currency, "limit": amount(limit) }),
			),
			Clearing::AccountFunded { who, currency, amount: a, reference, balance } => (
				"AccountFunded",
				json!({ "who": account(who), "currency": currency, "amount": amount(a),
					"reference": text(reference), "balance": balance.to_string() }),
			),
			Clearing::AccountWithdrawn { who, currency, amount: a, reference, balance } => (
				"AccountWithdrawn",
				json!({ "who": account(who), "currency": currency, "amount": amount(a),
					"reference": text(reference), "balance": balance.to_string() }),
			),
			Clearing::TransferAlreadyRecorded { reference } => {
				("TransferAlreadyRecorded", json!({ "reference": text(reference) }))
			}
			Clearing::PaymentPosted {
				posting_id,
				cycle,
				issuer,
				acquirer,
				acquirer_order_id,
				issuer_order_id,
				debit_currency,
				debit_amount,
				credit_currency,
				credit_amount,
				rate_id,
			} => (
				"PaymentPosted",
				json!({ "postingId": posting_id, "cycle": cycle, "issuer": account(issuer),
					"acquirer": account(acquirer), "acquirerOrderId": text(acquirer_order_id),
					"issuerOrderId": text(issuer_order_id), "debitCurrency": debit_currency,
					"debitAmount": amount(debit_amount), "creditCurrency": credit_currency,
					"creditAmount": amount(credit_amount), "rateId": rate_id }),
			),
			Clearing::PaymentAlreadyPosted { posting_id, acquirer, acquirer_order_id } => (
				"PaymentAlreadyPosted",
				json!({ "postingId": posting_id, "acquirer": account(acquirer),
					"acquirerOrderId": text(acquirer_order_id) }),
			),
			Clearing::PaymentRefused { acquirer, acquirer_order_id, error } => (
				"PaymentRefused",
				json!({ "acquirer": account(acquirer),
					"acquirerOrderId": text(acquirer_order_id),
					"error": crate::outcome::error_name(error) }),
			),
			Clearing::PaymentRefunded {
				posting_id,
				cycle,
				acquirer,
				refund_id,
				credit_amount,
				debit_amount,
			} => (
				"PaymentRefunded",
				json!({ "postingId": posting_id, "cycle": cycle, "acquirer": account(acquirer),
					"refundId": text(refund_id), "creditAmount": amount(credit_amount),
					"debitAmount": amount(debit_amount) }),
			),
			Clearing::RefundAlreadyRecorded { posting_id, acquirer, refund_id } => (
				"RefundAlreadyRecorded",
				json!({ "postingId": posting_id, "acquirer": account(acquirer),
					"refundId": text(refund_id) }),
			),
			Clearing::CycleClosed { cycle, entries, digest, next } => (
				"CycleClosed",
				json!({ "cycle": cycle, "entries": entries,
					"digest": format!("0x{}", hex::encode(digest)), "next": next }),
			),
			Clearing::CycleSettled { cycle, reference } => {
				("CycleSettled", json!({ "cycle": cycle, "reference": text(reference) }))
			}
			Clearing::ParticipantDeregistered { who, code } => {
				("ParticipantDeregistered", json!({ "who": account(who), "code": text(code) }))
			}
			Clearing::InstructionVoided { issuer, issuer_order_id } => (
				"InstructionVoided",
				json!({ "issuer": account(issuer), "issuerOrderId": text(issuer_order_id) }),
			),
			Clearing::InstructionAlreadyVoided { issuer, issuer_order_id } => (
				"InstructionAlreadyVoided",
				json!({ "issuer": account(issuer), "issuerOrderId": text(issuer_order_id) }),
			),
			_ => return from_debug(event),
		},
		RuntimeEvent::FxRate(e) => return describe_fx(e),
		other => return from_debug(other),
	};
	(format!("ClearingBank.{name}"), fields)
}

/// The FX-rate pallet's publications and rate changes; its configuration events by their
/// debug form.
fn describe_fx(event: &pallet_fx_rate::Event<clearline_runtime::Runtime>) -> (String, Value) {
	use pallet_fx_rate::Event as Fx;
	let pair = |p: &pallet_fx_rate::Pair| format!("{:?}/{:?}", p.base, p.quote);
	let (name, fields) = match event {
		Fx::RatePublished { rate_id, pair: p, feeder, mid, spread, valid_until } => (
			"RatePublished",
			json!({ "rateId": rate_id, "pair": pair(p),
				"feeder": feeder.as_ref().map(|f| f.to_ss58check()), "mid": mid.to_string(),
				"spreadPpm": spread.deconstruct(), "validUntil": valid_until }),
		),
		Fx::EffectiveRateChanged { pair: p, rate_id } => {
			("EffectiveRateChanged", json!({ "pair": pair(p), "rateId": rate_id }))
		}
		Fx::RatesPruned { count } => ("RatesPruned", json!({ "count": count })),
		other => return from_debug(&RuntimeEvent::FxRate(other.clone())),
	};
	(format!("FxRate.{name}"), fields)
}

/// `Pallet(Variant { .. })`: the pallet and variant names from the debug form, the whole of
/// it as the detail.
fn from_debug(event: &RuntimeEvent) -> (String, Value) {
	let debug = format!("{event:?}");
	let (pallet, rest) = debug.split_once('(').unwrap_or((&debug, ""));
	let variant: String = rest
		.trim_start_matches("Event::")
		.chars()
		.take_while(|c| c.is_alphanumeric() || *c == '_')
		.collect();
	(format!("{pallet}.{variant}"), json!({ "detail": debug }))
}

/// A chain event as one JSON object: block, extrinsic, event name and fields.
pub fn event_json(e: &ChainEvent) -> Value {
	let (name, fields) = describe(&e.event);
	let mut object = Map::new();
	object.insert("block".into(), json!(e.block));
	object.insert("blockHash".into(), json!(e.block_hash));
	object.insert("extrinsic".into(), json!(e.extrinsic));
	object.insert("index".into(), json!(e.index));
	object.insert("event".into(), json!(name));
	object.insert("fields".into(), fields);
	Value::Object(object)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn clearing_events_are_described_with_readable_fields() {
		let who = AccountId::new([1; 32]);
		let event = RuntimeEvent::ClearingBank(Clearing::PaymentAlreadyPosted {
			posting_id: 7,
			acquirer: who.clone(),
			acquirer_order_id: b"ACQ-1".to_vec().try_into().unwrap(),
		});
		let (name, fields) = describe(&event);
		assert_eq!(name, "ClearingBank.PaymentAlreadyPosted");
		assert_eq!(fields["acquirerOrderId"], "ACQ-1");
		assert_eq!(fields["acquirer"], who.to_ss58check());
		let published = RuntimeEvent::FxRate(pallet_fx_rate::Event::RatePublished {
			rate_id: 4,
			pair: pallet_fx_rate::Pair {
				base: pallet_fx_rate::CurrencyCode::HKD,
				quote: pallet_fx_rate::CurrencyCode::CNY,
			},
			feeder: None,
			mid: 921_300_000,
			spread: sp_runtime::Permill::from_parts(2_000),
			valid_until: 7,
		});
		let (name, fields) = describe(&published);
		assert_eq!(name, "FxRate.RatePublished");
		assert_eq!(fields["pair"], "HKD/CNY");
		assert_eq!(fields["mid"], "921300000");
		assert_eq!(fields["spreadPpm"], 2_000);
		let other =
			RuntimeEvent::System(frame_system::Event::CodeUpdated { hash: Default::default() });
		assert_eq!(describe(&other).0, "System.CodeUpdated");
	}
}
