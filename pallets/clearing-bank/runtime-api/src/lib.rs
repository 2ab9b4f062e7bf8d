//! The runtime API through which the node (and so the `clearing_*` JSON-RPC methods) reads the
//! clearing-bank ledger at a given block.

#![cfg_attr(not(feature = "std"), no_std)]

pub use pallet_clearing_bank::{
	CycleId, CycleView, OrderId, ParticipantView, PostingId, PostingView, RefundRecord,
	StatementPage,
};

sp_api::decl_runtime_apis! {
	/// Postings, participants, cycles and statements.
	pub trait ClearingBankApi<AccountId, BlockNumber>
	where
		AccountId: codec::Codec,
		BlockNumber: codec::Codec,
	{
		/// A posting by a party's own order id: the acquirer's when `party` is an acquirer, the
		/// issuer's when it is an issuer.
		fn posting(party: AccountId, order_id: OrderId) -> Option<PostingView<AccountId, BlockNumber>>;

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
