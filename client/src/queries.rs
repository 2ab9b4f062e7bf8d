//! Typed reads over the node's `fx_*` and `clearing_*` RPC and its storage, in the JSON types
//! the RPC crates define, at the best block or a given one.

use crate::{connection::Connection, error::Result, storage};
use clearline_runtime::AccountId;
use pallet_clearing_bank::{CycleId, PostingId, MAX_STATEMENT_PAGE};
use pallet_clearing_bank_rpc::{
	CycleJson, ParticipantJson, PostingJson, PostingLookupJson, RefundJson, StatementEntryJson,
	StatementJson,
};
use pallet_fx_rate::{CurrencyCode, CurrencyInfo, Pair, QuoteSide, RateId};
use pallet_fx_rate_rpc::{Amount, QuoteJson, RateJson};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use sp_core::H256;

async fn query<R: DeserializeOwned>(
	conn: &Connection,
	method: &'static str,
	params: Vec<Value>,
) -> Result<R> {
	conn.run(|rpc| {
		let params = params.clone();
		async move { rpc.call(method, params).await }
	})
	.await
}

/// What `amount` of `source` converts to in `target` (or costs, for `ExactTarget`).
pub async fn quote(
	conn: &Connection,
	source: CurrencyCode,
	target: CurrencyCode,
	amount: u128,
	side: QuoteSide,
	at: Option<H256>,
) -> Result<QuoteJson> {
	let params = vec![json!(source), json!(target), json!(Amount(amount)), json!(side), json!(at)];
	query(conn, "fx_quote", params).await
}

/// The pair's effective rate.
pub async fn rate(conn: &Connection, pair: Pair, at: Option<H256>) -> Result<RateJson<AccountId>> {
	query(conn, "fx_rate", vec![json!(pair.base), json!(pair.quote), json!(at)]).await
}

pub async fn rate_by_id(
	conn: &Connection,
	rate_id: RateId,
	at: Option<H256>,
) -> Result<Option<RateJson<AccountId>>> {
	query(conn, "fx_rateById", vec![json!(rate_id), json!(at)]).await
}

/// A registered currency, read from storage.
pub async fn currency(conn: &Connection, code: CurrencyCode) -> Result<Option<CurrencyInfo>> {
	let key = pallet_fx_rate::Currencies::<clearline_runtime::Runtime>::hashed_key_for(code);
	storage::decode_at(conn, "FxRate::Currencies", key, None).await
}

/// The posting that `party` (its acquirer or its issuer) knows by `order_id`; `None` if there
/// is none (a voided issuer order id included: see [`instruction`]).
pub async fn posting(
	conn: &Connection,
	party: &AccountId,
	order_id: &str,
	at: Option<H256>,
) -> Result<Option<PostingJson<AccountId>>> {
	Ok(match instruction(conn, party, order_id, at).await? {
		Some(PostingLookupJson::Posted(p)) => Some(p),
		Some(PostingLookupJson::Voided(_)) | None => None,
	})
}

/// The postings under `party`'s order ids, in their order, `None` where there is none (at most
/// [`pallet_clearing_bank::MAX_LOOKUPS`] ids per call).
pub async fn postings(
	conn: &Connection,
	party: &AccountId,
	order_ids: &[String],
	at: Option<H256>,
) -> Result<Vec<Option<PostingJson<AccountId>>>> {
	query(conn, "clearing_postings", vec![json!(party), json!(order_ids), json!(at)]).await
}

/// What the chain holds under `party`'s `order_id`: a posting, or (an issuer's order id) its
/// void, or nothing yet.
pub async fn instruction(
	conn: &Connection,
	party: &AccountId,
	order_id: &str,
	at: Option<H256>,
) -> Result<Option<PostingLookupJson<AccountId>>> {
	query(conn, "clearing_posting", vec![json!(party), json!(order_id), json!(at)]).await
}

pub async fn posting_by_id(
	conn: &Connection,
	id: PostingId,
	at: Option<H256>,
) -> Result<Option<PostingJson<AccountId>>> {
	query(conn, "clearing_postingById", vec![json!(id), json!(at)]).await
}

/// The acquirer's refund `refund_id`.
pub async fn refund(
	conn: &Connection,
	acquirer: &AccountId,
	refund_id: &str,
	at: Option<H256>,
) -> Result<Option<RefundJson>> {
	query(conn, "clearing_refund", vec![json!(acquirer), json!(refund_id), json!(at)]).await
}

/// A participant with its settlement accounts (balances, limits, available).
pub async fn participant(
	conn: &Connection,
	who: &AccountId,
	at: Option<H256>,
) -> Result<Option<ParticipantJson<AccountId>>> {
	query(conn, "clearing_participant", vec![json!(who), json!(at)]).await
}

/// Every registered participant's account (any status), read from the storage keys of the
/// clearing bank's participants, a page of keys at a time.
pub async fn participant_accounts(conn: &Connection, at: Option<H256>) -> Result<Vec<AccountId>> {
	use frame_support::storage::StoragePrefixedMap;
	const PAGE: usize = 1000;
	let prefix = pallet_clearing_bank::Participants::<clearline_runtime::Runtime>::final_prefix();
	let prefix_hex = format!("0x{}", hex::encode(prefix));
	let mut accounts = Vec::new();
	let mut start: Option<String> = None;
	loop {
		let params = vec![json!(prefix_hex), json!(PAGE), json!(start), json!(at)];
		let keys: Vec<String> = query(conn, "state_getKeysPaged", params).await?;
		for key in &keys {
			let raw = hex::decode(key.trim_start_matches("0x"))
				.map_err(|e| crate::Error::bad("state_getKeysPaged", e.to_string()))?;
			// The prefix, then Blake2_128Concat: 16 bytes of hash and the account itself.
			let account = raw
				.get(prefix.len() + 16..)
				.and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
				.ok_or_else(|| {
					crate::Error::bad("state_getKeysPaged", "a participant key of another length")
				})?;
			accounts.push(AccountId::from(account));
		}
		if keys.len() < PAGE {
			return Ok(accounts);
		}
		start = keys.last().cloned();
	}
}

/// The id the next FX rate publication gets: every publication so far has a smaller one.
pub async fn next_rate_id(conn: &Connection, at: Option<H256>) -> Result<RateId> {
	let key = pallet_fx_rate::NextRateId::<clearline_runtime::Runtime>::hashed_key().to_vec();
	Ok(storage::decode_at(conn, "FxRate::NextRateId", key, at).await?.unwrap_or_default())
}

/// A cycle's summary; the open cycle for `None`.
pub async fn cycle(
	conn: &Connection,
	id: Option<CycleId>,
	at: Option<H256>,
) -> Result<Option<CycleJson<AccountId>>> {
	query(conn, "clearing_cycle", vec![json!(id), json!(at)]).await
}

/// A participant's whole statement for a cycle, every page read at the same block.
pub async fn statement(
	conn: &Connection,
	cycle: CycleId,
	who: &AccountId,
	at: Option<H256>,
) -> Result<Option<StatementJson<AccountId>>> {
	let at = match at {
		Some(at) => at,
		None => conn.finalized().await?.1,
	};
	let mut start = 0u32;
	let mut entries: Vec<StatementEntryJson<AccountId>> = Vec::new();
	loop {
		let params =
			vec![json!(cycle), json!(who), json!(start), json!(MAX_STATEMENT_PAGE), json!(at)];
		let page: Option<StatementJson<AccountId>> =
			query(conn, "clearing_statement", params).await?;
		let Some(mut page) = page else { return Ok(None) };
		entries.append(&mut page.entries);
		match page.next {
			Some(next) => start = next,
			None => {
				page.entries = entries;
				return Ok(Some(page));
			}
		}
	}
}

/// The chain's time at `at` (the finalized head for `None`): the block's timestamp in ms since
/// the Unix epoch, the clock instruction expiries and rate validity are measured against.
pub async fn chain_time(conn: &Connection, at: Option<H256>) -> Result<u64> {
	let at = match at {
		Some(at) => at,
		None => conn.finalized().await?.1,
	};
	let key = frame_support::storage::storage_prefix(b"Timestamp", b"Now").to_vec();
	Ok(storage::decode_at(conn, "Timestamp::Now", key, Some(at)).await?.unwrap_or_default())
}

/// `who`'s native account (nonce and fee balance).
pub async fn native_account(
	conn: &Connection,
	who: &AccountId,
	at: Option<H256>,
) -> Result<storage::AccountInfo> {
	let key = frame_system::Account::<clearline_runtime::Runtime>::hashed_key_for(who);
	Ok(storage::decode_at(conn, "System::Account", key, at).await?.unwrap_or_default())
}
