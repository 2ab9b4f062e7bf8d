//! What the console shows, read from the chain at one finalized block: participants with
//! their settlement accounts, the open cycle and the latest closed ones, and each pair's FX
//! rate publications over time.

use clearline_client::{queries, Connection};
use clearline_runtime::AccountId;
use pallet_clearing_bank_rpc::{CycleJson, ParticipantJson};
use pallet_fx_rate::{Pair, RateId};
use pallet_fx_rate_rpc::RateJson;
use serde::Serialize;
use sp_core::H256;
use std::{collections::BTreeMap, sync::Mutex};

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Finalized {
	pub number: u32,
	pub hash: H256,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PairRates {
	pub pair: Pair,
	/// Oldest first.
	pub points: Vec<RateJson<AccountId>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Overview {
	pub finalized: Finalized,
	/// The chain's time at that block (ms).
	pub chain_time: u64,
	/// The account the console closes cycles with.
	pub clearing_bank: String,
	pub participants: Vec<ParticipantJson<AccountId>>,
	pub open_cycle: Option<CycleJson<AccountId>>,
	/// Newest first.
	pub closed_cycles: Vec<CycleJson<AccountId>>,
	pub rates: Vec<PairRates>,
}

/// The FX rate publications read so far, by id. A publication never changes once made, so
/// each is read from the chain once; the pallet prunes old ones, which stay here.
pub struct RateHistory {
	shown: usize,
	known: Mutex<(RateId, BTreeMap<RateId, RateJson<AccountId>>)>,
}

impl RateHistory {
	pub fn new(shown: usize) -> Self {
		Self { shown: shown.max(1), known: Mutex::new((0, BTreeMap::new())) }
	}

	/// Reads the publications made since the last call (at most `shown` of them), and
	/// answers each pair's latest `shown`.
	async fn read(
		&self,
		conn: &Connection,
		at: H256,
	) -> clearline_client::error::Result<Vec<PairRates>> {
		let next = queries::next_rate_id(conn, Some(at)).await?;
		let from = {
			let known = self.known.lock().unwrap();
			known.0.max(next.saturating_sub(self.shown as RateId))
		};
		let mut read = Vec::new();
		for id in from..next {
			if let Some(rate) = queries::rate_by_id(conn, id, Some(at)).await? {
				read.push(rate);
			}
		}
		let mut known = self.known.lock().unwrap();
		known.0 = known.0.max(next);
		for rate in read {
			known.1.insert(rate.rate_id, rate);
		}
		let mut by_pair: BTreeMap<Pair, PairRates> = BTreeMap::new();
		for rate in known.1.values() {
			let entry = by_pair
				.entry(rate.pair)
				.or_insert_with(|| PairRates { pair: rate.pair, points: Vec::new() });
			entry.points.push(rate.clone());
		}
		// Old publications beyond what is shown are forgotten.
		let mut pairs: Vec<PairRates> = by_pair.into_values().collect();
		for pair in &mut pairs {
			let excess = pair.points.len().saturating_sub(self.shown);
			pair.points.drain(..excess);
		}
		let keep: std::collections::HashSet<RateId> =
			pairs.iter().flat_map(|p| p.points.iter().map(|r| r.rate_id)).collect();
		known.1.retain(|id, _| keep.contains(id));
		Ok(pairs)
	}
}

/// Everything the console's page shows, at the finalized head.
pub async fn overview(
	conn: &Connection,
	rates: &RateHistory,
	clearing_bank: &str,
	cycles_shown: u32,
) -> clearline_client::error::Result<Overview> {
	let (number, hash) = conn.finalized().await?;
	let at = Some(hash);
	let mut participants = Vec::new();
	for account in queries::participant_accounts(conn, at).await? {
		if let Some(p) = queries::participant(conn, &account, at).await? {
			participants.push(p);
		}
	}
	participants.sort_by(|a, b| a.code.cmp(&b.code));
	let open_cycle = queries::cycle(conn, None, at).await?;
	let mut closed_cycles = Vec::new();
	if let Some(open) = &open_cycle {
		let mut id = open.cycle;
		while id > 0 && (closed_cycles.len() as u32) < cycles_shown {
			id -= 1;
			match queries::cycle(conn, Some(id), at).await? {
				Some(c) => closed_cycles.push(c),
				None => break,
			}
		}
	}
	Ok(Overview {
		finalized: Finalized { number, hash },
		chain_time: queries::chain_time(conn, at).await?,
		clearing_bank: clearing_bank.to_string(),
		participants,
		open_cycle,
		closed_cycles,
		rates: rates.read(conn, hash).await?,
	})
}
