//! `fx_quote` and `fx_rate`: the FX-rate runtime API over JSON-RPC, at the best block or a
//! given one.
//!
//! Amounts and rates are decimal strings in JSON (they are 128-bit integers, beyond what a
//! JSON number holds exactly in most clients); requests accept a string or a number.

use jsonrpsee::{
	core::RpcResult,
	proc_macros::rpc,
	types::error::{ErrorObject, ErrorObjectOwned},
};
use pallet_fx_rate::Moment;
pub use pallet_fx_rate_runtime_api::FxRateApi as FxRateRuntimeApi;
use pallet_fx_rate_runtime_api::{
	CurrencyCode, Pair, QuoteError, QuoteSide, RateId, RateRecord, RATE_SCALE,
};
use serde::{Deserialize, Deserializer, Serialize};
use sp_api::ProvideRuntimeApi;
use sp_blockchain::HeaderBackend;
use sp_runtime::{traits::Block as BlockT, Permill};
use std::{marker::PhantomData, sync::Arc};

/// A 128-bit amount: `"12345"` or `12345` in requests, always a string in answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Amount(pub u128);

impl Serialize for Amount {
	fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
		s.collect_str(&self.0)
	}
}

impl<'de> Deserialize<'de> for Amount {
	fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
		#[derive(Deserialize)]
		#[serde(untagged)]
		enum Raw {
			Text(String),
			Number(u64),
		}
		match Raw::deserialize(d)? {
			Raw::Number(n) => Ok(Amount(n.into())),
			Raw::Text(s) => s.parse().map(Amount).map_err(|_| {
				serde::de::Error::custom(format!("{s:?} is not a non-negative integer amount"))
			}),
		}
	}
}

/// A quote as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuoteJson {
	pub rate_id: RateId,
	pub source: CurrencyCode,
	pub target: CurrencyCode,
	/// What the payer gives, in minor units of `source`.
	pub source_amount: Amount,
	/// What the payee receives, in minor units of `target`.
	pub target_amount: Amount,
	/// The pair as published; `mid` and `appliedRate` are `pair.quote` per `pair.base`.
	pub pair: Pair,
	pub mid: Amount,
	pub applied_rate: Amount,
	/// Rates are integers scaled by this (10^9).
	pub rate_scale: Amount,
	/// Milliseconds since the Unix epoch; the quote holds while the chain's time is earlier.
	pub valid_until: Moment,
}

/// A published rate as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateJson<AccountId> {
	pub rate_id: RateId,
	pub pair: Pair,
	/// `null` for the admin's (and genesis) rates.
	pub feeder: Option<AccountId>,
	pub mid: Amount,
	/// Full bid/ask spread in parts per million of mid.
	pub spread_ppm: u32,
	pub rate_scale: Amount,
	pub published_at: Moment,
	pub valid_until: Moment,
}

impl<AccountId> RateJson<AccountId> {
	fn new(rate_id: RateId, r: RateRecord<AccountId>) -> Self {
		RateJson {
			rate_id,
			pair: r.pair,
			feeder: r.feeder,
			mid: Amount(r.mid),
			spread_ppm: Permill::deconstruct(r.spread),
			rate_scale: Amount(RATE_SCALE),
			published_at: r.published_at,
			valid_until: r.valid_until,
		}
	}
}

/// JSON-RPC error code of a runtime API call that could not be made at all.
pub const RUNTIME_ERROR: i32 = 1;
/// JSON-RPC error codes of refused quotes: `QUOTE_ERROR_BASE + <QuoteError variant index>`,
/// with the variant's name as the message.
pub const QUOTE_ERROR_BASE: i32 = 8000;

fn quote_error(e: QuoteError) -> ErrorObjectOwned {
	let index = codec::Encode::encode(&e)[0] as i32;
	ErrorObject::owned(QUOTE_ERROR_BASE + index, format!("{e:?}"), None::<()>)
}

pub fn runtime_error(e: impl std::fmt::Display) -> ErrorObjectOwned {
	ErrorObject::owned(RUNTIME_ERROR, "runtime API call failed", Some(e.to_string()))
}

#[rpc(server)]
pub trait FxRateApi<BlockHash, AccountId> {
	/// Converts `amount` (minor units) from `source` to `target`. `side` is `exact_source`
	/// (the payer gives `amount`) or `exact_target` (the payee must receive `amount`).
	#[method(name = "fx_quote")]
	fn quote(
		&self,
		source: CurrencyCode,
		target: CurrencyCode,
		amount: Amount,
		side: QuoteSide,
		at: Option<BlockHash>,
	) -> RpcResult<QuoteJson>;

	/// The effective rate of the pair `base`/`quote` (in its published direction).
	#[method(name = "fx_rate")]
	fn rate(
		&self,
		base: CurrencyCode,
		quote: CurrencyCode,
		at: Option<BlockHash>,
	) -> RpcResult<RateJson<AccountId>>;

	/// A publication by id, while it is retained; `null` if there is none.
	#[method(name = "fx_rateById")]
	fn rate_by_id(
		&self,
		rate_id: RateId,
		at: Option<BlockHash>,
	) -> RpcResult<Option<RateJson<AccountId>>>;
}

/// Serves the FX-rate RPC methods from a client's runtime API.
pub struct FxRate<C, Block, AccountId> {
	client: Arc<C>,
	_marker: PhantomData<(Block, AccountId)>,
}

impl<C, Block, AccountId> FxRate<C, Block, AccountId> {
	pub fn new(client: Arc<C>) -> Self {
		Self { client, _marker: PhantomData }
	}
}

/// The block a query asked about, or the best block.
pub fn block_or_best<Block: BlockT>(
	client: &impl HeaderBackend<Block>,
	at: Option<Block::Hash>,
) -> Block::Hash {
	at.unwrap_or_else(|| client.info().best_hash)
}

impl<C, Block, AccountId> FxRateApiServer<<Block as BlockT>::Hash, AccountId>
	for FxRate<C, Block, AccountId>
where
	Block: BlockT,
	AccountId: codec::Codec + Clone + Send + Sync + Serialize + 'static,
	C: ProvideRuntimeApi<Block> + HeaderBackend<Block> + Send + Sync + 'static,
	C::Api: FxRateRuntimeApi<Block, AccountId>,
{
	fn quote(
		&self,
		source: CurrencyCode,
		target: CurrencyCode,
		amount: Amount,
		side: QuoteSide,
		at: Option<Block::Hash>,
	) -> RpcResult<QuoteJson> {
		let at = block_or_best(&*self.client, at);
		let q = self
			.client
			.runtime_api()
			.quote(at, source, target, amount.0, side)
			.map_err(runtime_error)?
			.map_err(quote_error)?;
		Ok(QuoteJson {
			rate_id: q.rate_id,
			source: q.source,
			target: q.target,
			source_amount: Amount(q.source_amount),
			target_amount: Amount(q.target_amount),
			pair: q.pair,
			mid: Amount(q.mid),
			applied_rate: Amount(q.applied_rate),
			rate_scale: Amount(RATE_SCALE),
			valid_until: q.valid_until,
		})
	}

	fn rate(
		&self,
		base: CurrencyCode,
		quote: CurrencyCode,
		at: Option<Block::Hash>,
	) -> RpcResult<RateJson<AccountId>> {
		let at = block_or_best(&*self.client, at);
		let (id, record) = self
			.client
			.runtime_api()
			.current_rate(at, Pair::new(base, quote))
			.map_err(runtime_error)?
			.map_err(quote_error)?;
		Ok(RateJson::new(id, record))
	}

	fn rate_by_id(
		&self,
		rate_id: RateId,
		at: Option<Block::Hash>,
	) -> RpcResult<Option<RateJson<AccountId>>> {
		let at = block_or_best(&*self.client, at);
		let record = self.client.runtime_api().rate(at, rate_id).map_err(runtime_error)?;
		Ok(record.map(|r| RateJson::new(rate_id, r)))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn amounts_read_strings_or_numbers_and_write_strings() {
		let a: Amount =
			serde_json::from_str("\"340282366920938463463374607431768211455\"").unwrap();
		assert_eq!(a, Amount(u128::MAX));
		assert_eq!(serde_json::from_str::<Amount>("9213").unwrap(), Amount(9213));
		assert!(serde_json::from_str::<Amount>("\"-1\"").is_err());
		assert!(serde_json::from_str::<Amount>("\"12.5\"").is_err());
		assert_eq!(
			serde_json::to_string(&Amount(u128::MAX)).unwrap(),
			"\"340282366920938463463374607431768211455\""
		);
	}

	#[test]
	fn refused_quotes_are_named_errors_with_stable_codes() {
		let e = quote_error(QuoteError::NoFreshRate);
		assert_eq!(e.code(), QUOTE_ERROR_BASE + 3);
		assert_eq!(e.message(), "NoFreshRate");
		assert_eq!(quote_error(QuoteError::UnknownCurrency).code(), QUOTE_ERROR_BASE);
	}
}
