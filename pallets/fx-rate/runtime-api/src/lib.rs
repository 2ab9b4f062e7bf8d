//! The runtime API through which the node (and so the `fx_quote` / `fx_rate` JSON-RPC methods)
//! asks the FX-rate pallet for quotes and rates at a given block.

#![cfg_attr(not(feature = "std"), no_std)]

pub use pallet_fx_rate::{
	CurrencyCode, Pair, Quote, QuoteError, QuoteSide, RateId, RateRecord, RATE_SCALE,
};

sp_api::decl_runtime_apis! {
	/// FX quotes and rates.
	pub trait FxRateApi<AccountId> where AccountId: codec::Codec {
		/// Converts `amount` from `source` to `target` at the pair's effective rate now (the
		/// block's timestamp).
		fn quote(
			source: CurrencyCode,
			target: CurrencyCode,
			amount: u128,
			side: QuoteSide,
		) -> Result<Quote, QuoteError>;

		/// The effective rate of `pair` (in its published direction) now, with its id.
		fn current_rate(pair: Pair) -> Result<(RateId, RateRecord<AccountId>), QuoteError>;

		/// A publication by id, while it is retained.
		fn rate(id: RateId) -> Option<RateRecord<AccountId>>;
	}
}
