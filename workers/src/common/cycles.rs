//! Cycle reconciliation: a service's own records of a closed cycle against the chain's
//! statement for it, entry by entry and by digest. The digest is recomputed from the service's
//! own signed instructions alone, the way the pallet builds it.

use super::{
	api::ApiError,
	now_ms,
	store::{Db, StoreError, StoreResult},
};
use clearline_client::{instruction::SignedInstruction, queries, Connection};
use clearline_runtime::AccountId;
use codec::Encode;
use pallet_clearing_bank::{chain_digest, payment_leaf, CycleStatus};
use serde::Serialize;
use sqlx::Row;
use std::collections::BTreeMap;

/// One successful payment in the service's records.
#[derive(Debug, Clone)]
pub struct LocalEntry {
	pub acquirer_order_id: String,
	/// From the participant's side: positive when its account was credited.
	pub amount: i128,
	pub posting_id: u64,
	pub instruction: SignedInstruction,
}

/// What comparing one cycle found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleReport {
	pub cycle: u32,
	pub chain_entries: u32,
	pub local_entries: u32,
	pub chain_digest: String,
	pub local_digest: String,
	pub mismatches: Vec<String>,
	pub ok: bool,
}

/// Compares a cycle's statement with the local entries of that cycle.
pub fn compare(
	cycle: u32,
	statement: &pallet_clearing_bank_rpc::StatementJson<AccountId>,
	local: &[LocalEntry],
) -> CycleReport {
	let mut mismatches = Vec::new();
	let mut ours: BTreeMap<&str, &LocalEntry> =
		local.iter().map(|e| (e.acquirer_order_id.as_str(), e)).collect();
	for entry in &statement.entries {
		if entry.kind != "payment" {
			mismatches.push(format!(
				"{} {} on chain: this service books no {}s",
				entry.kind, entry.acquirer_order_id, entry.kind
			));
			continue;
		}
		match ours.remove(entry.acquirer_order_id.as_str()) {
			None => mismatches.push(format!(
				"order {} is on chain (posting {}) but not successful in our records",
				entry.acquirer_order_id, entry.posting_id
			)),
			Some(e) if e.amount != entry.amount.0 || e.posting_id != entry.posting_id => mismatches
				.push(format!(
					"order {}: chain has posting {} for {}, we have posting {} for {}",
					entry.acquirer_order_id,
					entry.posting_id,
					entry.amount.0,
					e.posting_id,
					e.amount
				)),
			Some(_) => {}
		}
	}
	for order in ours.keys() {
		mismatches
			.push(format!("order {order} is successful in our records but not in cycle {cycle}"));
	}
	let mut sorted: Vec<&LocalEntry> = local.iter().collect();
	sorted.sort_by_key(|e| e.posting_id);
	let mut digest = [0u8; 32];
	for e in sorted {
		match e.instruction.decode() {
			Ok((instruction, _)) => {
				let hash = sp_crypto_hashing::blake2_256(&instruction.encode());
				digest = chain_digest(&digest, &payment_leaf(&hash));
			}
			Err(err) => mismatches.push(format!(
				"order {}: stored instruction unreadable: {err}",
				e.acquirer_order_id
			)),
		}
	}
	let local_digest = format!("0x{}", hex::encode(digest));
	if local_digest != statement.digest {
		mismatches.push(format!("digest: chain {}, ours {local_digest}", statement.digest));
	}
	if statement.entries_total as usize != local.len() {
		mismatches.push(format!(
			"entries: chain {}, ours {}",
			statement.entries_total,
			local.len()
		));
	}
	CycleReport {
		cycle,
		chain_entries: statement.entries_total,
		local_entries: local.len() as u32,
		chain_digest: statement.digest.clone(),
		local_digest,
		ok: mismatches.is_empty(),
		mismatches,
	}
}

impl LocalEntry {
	/// An entry from a service's stored successful order.
	pub fn from_stored(
		acquirer_order_id: String,
		amount: i64,
		posting_id: i64,
		instruction: &str,
	) -> StoreResult<Self> {
		let instruction = serde_json::from_str(instruction).map_err(|e| {
			StoreError::unreadable("signed instruction", format!("of {acquirer_order_id}: {e}"))
		})?;
		Ok(Self {
			acquirer_order_id,
			amount: amount as i128,
			posting_id: posting_id as u64,
			instruction,
		})
	}
}

/// The cycles whose reconciliation found them in agreement with the chain.
async fn agreed_cycles(db: &Db) -> StoreResult<Vec<u32>> {
	let rows = sqlx::query("SELECT cycle FROM cycle_reconciliations WHERE ok = 1")
		.fetch_all(db.pool())
		.await?;
	rows.iter().map(|r| Ok(r.try_get::<i64, _>(0)? as u32)).collect()
}

/// Records the latest report of a cycle.
async fn save_report(db: &Db, report: &CycleReport) -> StoreResult<()> {
	let text = serde_json::to_string(report).map_err(|e| StoreError::unreadable("report", e))?;
	sqlx::query(
		"INSERT INTO cycle_reconciliations (cycle, ran_at, ok, report) VALUES ($1, $2, $3, $4)
		 ON CONFLICT (cycle) DO UPDATE SET ran_at = $2, ok = $3, report = $4",
	)
	.bind(report.cycle as i64)
	.bind(now_ms())
	.bind(report.ok as i64)
	.bind(text)
	.execute(db.pool())
	.await?;
	Ok(())
}

/// The latest report recorded for `cycle`, as stored (JSON).
pub async fn report(db: &Db, cycle: u32) -> StoreResult<Option<String>> {
	let row = sqlx::query("SELECT report FROM cycle_reconciliations WHERE cycle = $1")
		.bind(cycle as i64)
		.fetch_optional(db.pool())
		.await?;
	Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// Compares every closed cycle not yet found in agreement with the chain; records each
/// report. `local` reads the service's own entries of a cycle.
pub async fn reconcile_closed_cycles<F, Fut>(
	db: &Db,
	conn: &Connection,
	who: &AccountId,
	local: F,
) -> Result<Vec<CycleReport>, ApiError>
where
	F: Fn(u32) -> Fut,
	Fut: std::future::Future<Output = StoreResult<Vec<LocalEntry>>>,
{
	let unavailable =
		|e: clearline_client::Error| ApiError::unavailable("ChainUnavailable", e.to_string());
	let agreed = agreed_cycles(db).await?;
	let (_, head) = conn.finalized().await.map_err(unavailable)?;
	let mut reports = Vec::new();
	let mut cycle = 1u32;
	loop {
		if agreed.contains(&cycle) {
			cycle += 1;
			continue;
		}
		let Some(info) =
			queries::cycle(conn, Some(cycle), Some(head)).await.map_err(unavailable)?
		else {
			break;
		};
		if info.status == CycleStatus::Open {
			break;
		}
		let statement = queries::statement(conn, cycle, who, Some(head))
			.await
			.map_err(unavailable)?
			.ok_or_else(|| {
				ApiError::unavailable("ChainUnavailable", "no statement for a closed cycle")
			})?;
		let entries = local(cycle).await?;
		let report = compare(cycle, &statement, &entries);
		if !report.ok {
			tracing::error!(cycle, mismatches = ?report.mismatches, "cycle does not reconcile");
		}
		save_report(db, &report).await?;
		reports.push(report);
		cycle += 1;
	}
	Ok(reports)
}
