//! `clearing_*`: the clearing-bank runtime API over JSON-RPC, at the best block or a given one.
//!
//! Amounts are decimal strings (128-bit integers; signed where they are balances or net
//! positions), ids and codes are strings, hashes `0x`-prefixed hex. A query for something that
//! does not exist answers `null`.

use jsonrpsee::{
	core::RpcResult,
	proc_macros::rpc,
	types::error::{ErrorObject, ErrorObjectOwned, INVALID_PARAMS_CODE},
};
use pallet_clearing_bank::{
	CycleEntry, CycleId, CycleStatus, CycleView, InstructionState, OrderId, ParticipantRole,
	ParticipantStatus, ParticipantView, PostingId, PostingStatus, PostingView, RefundRecord,
	Scenario, StatementEntry, StatementPage, VoidRecord, MAX_LOOKUPS,
};
pub use pallet_clearing_bank_runtime_api::ClearingBankApi as ClearingBankRuntimeApi;
use pallet_fx_rate::{CurrencyCode, Moment, RateId};
use pallet_fx_rate_rpc::{block_or_best, runtime_error, Amount};
use serde::{Deserialize, Serialize};
use sp_api::{ApiExt, ProvideRuntimeApi};
use sp_blockchain::HeaderBackend;
use sp_runtime::traits::Block as BlockT;
use std::{marker::PhantomData, sync::Arc};

/// A signed 128-bit amount (a balance or a net position) as a decimal string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct SignedAmount(pub i128);

impl Serialize for SignedAmount {
	fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
		s.collect_str(&self.0)
	}
}

impl TryFrom<String> for SignedAmount {
	type Error = String;
	fn try_from(s: String) -> Result<Self, String> {
		s.parse().map(SignedAmount).map_err(|_| format!("{s:?} is not an integer amount"))
	}
}

fn text(bytes: &[u8]) -> String {
	String::from_utf8_lossy(bytes).into_owned()
}

fn hex32(h: &[u8; 32]) -> String {
	format!("0x{}", hex::encode(h))
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PostingJson<AccountId> {
	pub posting_id: PostingId,
	pub status: PostingStatus,
	pub cycle: CycleId,
	pub cycle_status: CycleStatus,
	pub issuer: AccountId,
	pub acquirer: AccountId,
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
	pub instruction_hash: String,
	/// Milliseconds since the Unix epoch (the block's timestamp).
	pub posted_at: Moment,
	pub block: u64,
	pub refunded_credit: Amount,
	pub refunded_debit: Amount,
	pub refunds: u32,
}

impl<AccountId, BlockNumber: Into<u64>> From<PostingView<AccountId, BlockNumber>>
	for PostingJson<AccountId>
{
	fn from(v: PostingView<AccountId, BlockNumber>) -> Self {
		let p = v.posting;
		let i = p.instruction;
		PostingJson {
			posting_id: v.id,
			status: v.status,
			cycle: p.cycle,
			cycle_status: v.cycle_status,
			issuer: i.issuer,
			acquirer: i.acquirer,
			acquirer_order_id: text(&i.acquirer_order_id),
			issuer_order_id: text(&i.issuer_order_id),
			aggregator_order_id: text(&i.aggregator_order_id),
			merchant_id: text(&i.merchant_id),
			scenario: i.scenario,
			debit_currency: i.debit_currency,
			debit_amount: Amount(i.debit_amount),
			credit_currency: i.credit_currency,
			credit_amount: Amount(i.credit_amount),
			rate_id: i.rate_id,
			instruction_hash: hex32(&p.instruction_hash),
			posted_at: p.posted_at,
			block: p.block.into(),
			refunded_credit: Amount(p.refunded_credit),
			refunded_debit: Amount(p.refunded_debit),
			refunds: p.refunds,
		}
	}
}

/// The status of a voided issuer order id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VoidStatus {
	Voided,
}

/// An issuer order id its issuer voided: no posting can ever use it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VoidJson<AccountId> {
	/// Always `voided`.
	pub status: VoidStatus,
	pub issuer: AccountId,
	pub issuer_order_id: String,
	/// Milliseconds since the Unix epoch (the block's timestamp).
	pub voided_at: Moment,
	pub block: u64,
}

impl<AccountId> VoidJson<AccountId> {
	fn new<BlockNumber: Into<u64>>(
		issuer: AccountId,
		issuer_order_id: &[u8],
		record: VoidRecord<BlockNumber>,
	) -> Self {
		VoidJson {
			status: VoidStatus::Voided,
			issuer,
			issuer_order_id: text(issuer_order_id),
			voided_at: record.voided_at,
			block: record.block.into(),
		}
	}
}

/// What `clearing_posting` answers for an order id: its posting or, for an issuer's order id
/// that was voided, the void. Told apart by `status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PostingLookupJson<AccountId> {
	Posted(PostingJson<AccountId>),
	Voided(VoidJson<AccountId>),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundJson {
	pub posting_id: PostingId,
	pub credit_amount: Amount,
	pub debit_amount: Amount,
	pub cycle: CycleId,
	pub refunded_at: Moment,
}

impl From<RefundRecord> for RefundJson {
	fn from(r: RefundRecord) -> Self {
		RefundJson {
			posting_id: r.posting_id,
			credit_amount: Amount(r.credit_amount),
			debit_amount: Amount(r.debit_amount),
			cycle: r.cycle,
			refunded_at: r.refunded_at,
		}
	}
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountJson {
	pub currency: CurrencyCode,
	pub balance: SignedAmount,
	pub debit_limit: Amount,
	/// What postings may still debit: balance plus debit limit.
	pub available: SignedAmount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantJson<AccountId> {
	pub account: AccountId,
	pub role: ParticipantRole,
	pub code: String,
	pub name: String,
	pub status: ParticipantStatus,
	pub accounts: Vec<AccountJson>,
}

impl<AccountId> From<ParticipantView<AccountId>> for ParticipantJson<AccountId> {
	fn from(v: ParticipantView<AccountId>) -> Self {
		ParticipantJson {
			account: v.account,
			role: v.participant.role,
			code: text(&v.participant.code),
			name: text(&v.participant.name),
			status: v.participant.status,
			accounts: v
				.accounts
				.into_iter()
				.map(|(currency, a)| AccountJson {
					currency,
					balance: SignedAmount(a.balance),
					debit_limit: Amount(a.debit_limit),
					available: SignedAmount(a.available()),
				})
				.collect(),
		}
	}
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetPositionJson<AccountId> {
	pub participant: AccountId,
	pub currency: CurrencyCode,
	/// Credits minus debits in the cycle.
	pub net: SignedAmount,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleJson<AccountId> {
	pub cycle: CycleId,
	pub status: CycleStatus,
	pub opened_at: Moment,
	pub closed_at: Option<Moment>,
	pub entries: u32,
	pub digest: String,
	pub settlement_ref: Option<String>,
	pub settled_at: Option<Moment>,
	pub net_positions: Vec<NetPositionJson<AccountId>>,
}

impl<AccountId> From<CycleView<AccountId>> for CycleJson<AccountId> {
	fn from(v: CycleView<AccountId>) -> Self {
		let c = v.cycle;
		CycleJson {
			cycle: v.id,
			status: c.status,
			opened_at: c.opened_at,
			closed_at: c.closed_at,
			entries: c.entries,
			digest: hex32(&c.digest),
			settlement_ref: c.settlement_ref.map(|r| text(&r)),
			settled_at: c.settled_at,
			net_positions: v
				.net_positions
				.into_iter()
				.map(|(participant, currency, net)| NetPositionJson {
					participant,
					currency,
					net: SignedAmount(net),
				})
				.collect(),
		}
	}
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementEntryJson<AccountId> {
	pub cycle_index: u32,
	/// `payment` or `refund`.
	pub kind: String,
	pub posting_id: PostingId,
	pub refund_id: Option<String>,
	pub acquirer_order_id: String,
	pub issuer_order_id: String,
	pub counterparty: AccountId,
	pub currency: CurrencyCode,
	/// Positive when the participant's account was credited.
	pub amount: SignedAmount,
	pub rate_id: RateId,
	pub booked_at: Moment,
	pub leaf: String,
}

impl<AccountId> From<StatementEntry<AccountId>> for StatementEntryJson<AccountId> {
	fn from(e: StatementEntry<AccountId>) -> Self {
		let (kind, posting_id, refund_id) = match e.entry {
			CycleEntry::Payment { posting_id } => ("payment", posting_id, None),
			CycleEntry::Refund { posting_id, refund_id } => {
				("refund", posting_id, Some(text(&refund_id)))
			}
		};
		StatementEntryJson {
			cycle_index: e.cycle_index,
			kind: kind.into(),
			posting_id,
			refund_id,
			acquirer_order_id: text(&e.acquirer_order_id),
			issuer_order_id: text(&e.issuer_order_id),
			counterparty: e.counterparty,
			currency: e.currency,
			amount: SignedAmount(e.amount),
			rate_id: e.rate_id,
			booked_at: e.booked_at,
			leaf: hex32(&e.leaf),
		}
	}
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatementJson<AccountId> {
	pub cycle: CycleId,
	pub cycle_status: CycleStatus,
	pub participant: AccountId,
	/// The participant's entries in the whole cycle, and the digest over all of them.
	pub entries_total: u32,
	pub digest: String,
	pub net_positions: Vec<(CurrencyCode, SignedAmount)>,
	pub entries: Vec<StatementEntryJson<AccountId>>,
	/// Pass as `start` for the next page; absent on the last.
	pub next: Option<u32>,
}

impl<AccountId> From<StatementPage<AccountId>> for StatementJson<AccountId> {
	fn from(p: StatementPage<AccountId>) -> Self {
		StatementJson {
			cycle: p.cycle,
			cycle_status: p.cycle_status,
			participant: p.participant,
			entries_total: p.summary.entries,
			digest: hex32(&p.summary.digest),
			net_positions: p.net_positions.into_iter().map(|(c, n)| (c, SignedAmount(n))).collect(),
			entries: p.entries.into_iter().map(Into::into).collect(),
			next: p.next,
		}
	}
}

fn order_id(id: String) -> Result<OrderId, ErrorObjectOwned> {
	pallet_clearing_bank::parse_order_id(id.as_bytes()).ok_or_else(|| {
		ErrorObject::owned(
			INVALID_PARAMS_CODE,
			"an order or refund id is 1 to 64 visible ASCII characters",
			None::<()>,
		)
	})
}

#[rpc(server)]
pub trait ClearingBankApi<BlockHash, AccountId> {
	/// A posting by a party's own order id (the acquirer's or the issuer's, by `party`'s
	/// role); for an issuer's order id that was voided, the void (`status` `voided`).
	#[method(name = "clearing_posting")]
	fn posting(
		&self,
		party: AccountId,
		order_id: String,
		at: Option<BlockHash>,
	) -> RpcResult<Option<PostingLookupJson<AccountId>>>;

	/// The postings under `party`'s order ids, in order, `null` where there is none: how a
	/// batch's poster learns in one call which instructions the chain holds. At most 1024 ids.
	#[method(name = "clearing_postings")]
	fn postings(
		&self,
		party: AccountId,
		order_ids: Vec<String>,
		at: Option<BlockHash>,
	) -> RpcResult<Vec<Option<PostingJson<AccountId>>>>;

	/// A posting by id.
	#[method(name = "clearing_postingById")]
	fn posting_by_id(
		&self,
		posting_id: PostingId,
		at: Option<BlockHash>,
	) -> RpcResult<Option<PostingJson<AccountId>>>;

	/// A refund by the acquirer's refund id.
	#[method(name = "clearing_refund")]
	fn refund(
		&self,
		acquirer: AccountId,
		refund_id: String,
		at: Option<BlockHash>,
	) -> RpcResult<Option<RefundJson>>;

	/// A participant with its settlement accounts.
	#[method(name = "clearing_participant")]
	fn participant(
		&self,
		who: AccountId,
		at: Option<BlockHash>,
	) -> RpcResult<Option<ParticipantJson<AccountId>>>;

	/// A cycle (the open one when `cycle` is null) with every net position in it.
	#[method(name = "clearing_cycle")]
	fn cycle(
		&self,
		cycle: Option<CycleId>,
		at: Option<BlockHash>,
	) -> RpcResult<Option<CycleJson<AccountId>>>;

	/// A page of `who`'s entries in `cycle` (at most 1000 per page) with its summary.
	#[method(name = "clearing_statement")]
	fn statement(
		&self,
		cycle: CycleId,
		who: AccountId,
		start: u32,
		limit: u32,
		at: Option<BlockHash>,
	) -> RpcResult<Option<StatementJson<AccountId>>>;
}

/// Serves the clearing-bank RPC methods from a client's runtime API.
pub struct ClearingBank<C, Block, AccountId, BlockNumber> {
	client: Arc<C>,
	_marker: PhantomData<(Block, AccountId, BlockNumber)>,
}

impl<C, Block, AccountId, BlockNumber> ClearingBank<C, Block, AccountId, BlockNumber> {
	pub fn new(client: Arc<C>) -> Self {
		Self { client, _marker: PhantomData }
	}
}

impl<C, Block, AccountId, BlockNumber> ClearingBankApiServer<<Block as BlockT>::Hash, AccountId>
	for ClearingBank<C, Block, AccountId, BlockNumber>
where
	Block: BlockT,
	AccountId: codec::Codec + Clone + Send + Sync + Serialize + 'static,
	BlockNumber: codec::Codec + Into<u64> + Send + Sync + 'static,
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C::Api: ClearingBankRuntimeApi<Block, AccountId, BlockNumber>,
{
	fn posting(
		&self,
		party: AccountId,
		order_id_text: String,
		at: Option<Block::Hash>,
	) -> RpcResult<Option<PostingLookupJson<AccountId>>> {
		let order = order_id(order_id_text)?;
		let at = block_or_best(&*self.client, at);
		let api = self.client.runtime_api();
		let view = api.posting(at, party.clone(), order.clone()).map_err(runtime_error)?;
		if let Some(view) = view {
			return Ok(Some(PostingLookupJson::Posted(view.into())));
		}
		// Voids exist from version 2 of the API on; an older block has none.
		let version = api
			.api_version::<dyn ClearingBankRuntimeApi<Block, AccountId, BlockNumber>>(at)
			.map_err(runtime_error)?
			.unwrap_or(1);
		if version < 2 {
			return Ok(None);
		}
		let state =
			api.instruction_state(at, party.clone(), order.clone()).map_err(runtime_error)?;
		Ok(match state {
			Some(InstructionState::Voided(record)) => {
				Some(PostingLookupJson::Voided(VoidJson::new(party, &order, record)))
			}
			Some(InstructionState::Posted(view)) => Some(PostingLookupJson::Posted(view.into())),
			None => None,
		})
	}

	fn postings(
		&self,
		party: AccountId,
		order_ids: Vec<String>,
		at: Option<Block::Hash>,
	) -> RpcResult<Vec<Option<PostingJson<AccountId>>>> {
		if order_ids.len() > MAX_LOOKUPS as usize {
			return Err(ErrorObject::owned(
				INVALID_PARAMS_CODE,
				format!("at most {MAX_LOOKUPS} order ids per call"),
				None::<()>,
			));
		}
		let orders = order_ids.into_iter().map(order_id).collect::<Result<Vec<_>, _>>()?;
		let at = block_or_best(&*self.client, at);
		let api = self.client.runtime_api();
		let version = api
			.api_version::<dyn ClearingBankRuntimeApi<Block, AccountId, BlockNumber>>(at)
			.map_err(runtime_error)?
			.unwrap_or(1);
		let views = if version >= 3 {
			api.postings(at, party, orders).map_err(runtime_error)?
		} else {
			// Blocks of an older runtime: one look-up per id.
			let mut views = Vec::with_capacity(orders.len());
			for order in orders {
				views.push(api.posting(at, party.clone(), order).map_err(runtime_error)?);
			}
			views
		};
		Ok(views.into_iter().map(|v| v.map(Into::into)).collect())
	}

	fn posting_by_id(
		&self,
		posting_id: PostingId,
		at: Option<Block::Hash>,
	) -> RpcResult<Option<PostingJson<AccountId>>> {
		let at = block_or_best(&*self.client, at);
		let view =
			self.client.runtime_api().posting_by_id(at, posting_id).map_err(runtime_error)?;
		Ok(view.map(Into::into))
	}

	fn refund(
		&self,
		acquirer: AccountId,
		refund_id: String,
		at: Option<Block::Hash>,
	) -> RpcResult<Option<RefundJson>> {
		let refund_id = order_id(refund_id)?;
		let at = block_or_best(&*self.client, at);
		let record =
			self.client.runtime_api().refund(at, acquirer, refund_id).map_err(runtime_error)?;
		Ok(record.map(Into::into))
	}

	fn participant(
		&self,
		who: AccountId,
		at: Option<Block::Hash>,
	) -> RpcResult<Option<ParticipantJson<AccountId>>> {
		let at = block_or_best(&*self.client, at);
		let view = self.client.runtime_api().participant(at, who).map_err(runtime_error)?;
		Ok(view.map(Into::into))
	}

	fn cycle(
		&self,
		cycle: Option<CycleId>,
		at: Option<Block::Hash>,
	) -> RpcResult<Option<CycleJson<AccountId>>> {
		let at = block_or_best(&*self.client, at);
		let view = self.client.runtime_api().cycle(at, cycle).map_err(runtime_error)?;
		Ok(view.map(Into::into))
	}

	fn statement(
		&self,
		cycle: CycleId,
		who: AccountId,
		start: u32,
		limit: u32,
		at: Option<Block::Hash>,
	) -> RpcResult<Option<StatementJson<AccountId>>> {
		let at = block_or_best(&*self.client, at);
		let page = self
			.client
			.runtime_api()
			.statement(at, cycle, who, start, limit)
			.map_err(runtime_error)?;
		Ok(page.map(Into::into))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn signed_amounts_are_strings_both_ways() {
		assert_eq!(serde_json::to_string(&SignedAmount(-12)).unwrap(), "\"-12\"");
		let a: SignedAmount =
			serde_json::from_str("\"-170141183460469231731687303715884105728\"").unwrap();
		assert_eq!(a, SignedAmount(i128::MIN));
		assert!(serde_json::from_str::<SignedAmount>("\"1.5\"").is_err());
	}

	#[test]
	fn a_void_and_a_posting_are_told_apart_by_status() {
		let void = PostingLookupJson::Voided(VoidJson::new(
			"5Issuer".to_string(),
			b"ISS-1",
			VoidRecord { voided_at: 7, block: 3u32 },
		));
		let text = serde_json::to_string(&void).unwrap();
		assert_eq!(
			text,
			r#"{"status":"voided","issuer":"5Issuer","issuerOrderId":"ISS-1","voidedAt":7,"block":3}"#
		);
		assert_eq!(serde_json::from_str::<PostingLookupJson<String>>(&text).unwrap(), void);
	}

	#[test]
	fn order_ids_longer_than_64_bytes_are_invalid_params() {
		assert_eq!(order_id("A".repeat(64)).unwrap().len(), 64);
		assert_eq!(order_id("A".repeat(65)).unwrap_err().code(), INVALID_PARAMS_CODE);
	}
}
