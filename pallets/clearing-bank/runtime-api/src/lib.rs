//! The runtime API through which the node (and so the `clearing_*` JSON-RPC methods) reads the
//! clearing-bank ledger at a given block.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;
use alloc::vec::Vec;

pub use pallet_clearing_bank::{
	CycleId, CycleView, InstructionState, OrderId, ParticipantView, PostingId, PostingView,
	RefundRecord, StatementPage, VoidRecord,
};

sp_api::decl_runtime_apis! {
	/// Postings, voids, participants, cycles and statements.
	///
	/// Version 2 added `instruction_state`, version 3 `postings`.
	#[api_version(3)]
	pub trait ClearingBankApi<AccountId, BlockNumber>
	where
		AccountId: codec::Codec,
		BlockNumber: codec::Codec,
	{
		/// A posting by a party's own order id: the acquirer's when `party` is an acquirer, the
		/// issuer's when it is an issuer.
		fn posting(party: AccountId, order_id: OrderId) -> Option<PostingView<AccountId, BlockNumber>>;

		/// What the chain holds under an issuer's order id: its posting or its void (from
		/// version 2).
		fn instruction_state(issuer: AccountId, issuer_order_id: OrderId) -> Option<InstructionState<AccountId, BlockNumber>>;

		/// The postings under `party`'s order ids, in order (`None` where there is none); at
		/// most `MAX_LOOKUPS` ids are answered (from version 3).
		fn postings(party: AccountId, order_ids: Vec<OrderId>) -> Vec<Option<PostingView<AccountId, BlockNumber>>>;

		/// A posting by id.
		fn posting_by_id(id: PostingId) -> Option<PostingView<AccountId, BlockNumber>>;

		/// A refund by the acquirer's refund id.
		fn refund(acquirer: AccountId, refund_id: OrderId) -> Option<RefundRecord>;

		/// A participant with its settlement accounts (balances and debit limits).
		fn participant(who: AccountId) -> Option<ParticipantView<AccountId>>;

		/// A cycle, the open one for `None`, with every participant's net positions.
		fn cycle(id: Option<CycleId>) -> Option<CycleView<AccountId>>;

		/// Up to `limit` of `who`'s entries in `cycle` from its `start`-th, with its summary.
		fn statement(cycle: CycleId, who: AccountId, start: u32, limit: u32) -> Option<StatementPage<AccountId>>;
	}
}
