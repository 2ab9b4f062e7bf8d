//! Cycle reconciliation: a service's own records of a closed cycle (its payments and refunds)
//! against the chain's statement for it, entry by entry and by digest. Each entry's leaf is
//! recomputed from the service's own signed instruction and amounts, the way the pallet builds
//! it, and the leaves are folded in the statement's order: the entry-by-entry comparison
//! checks that both sides hold the same entries, the digest that the chain's cycle is made of
//! exactly what we recorded.

use super::{
	api::ApiError,
	extract::{Admin, Authenticates},
	now_ms,
	store::{Db, StoreError, StoreResult},
};
use axum::{
	extract::{Path, State},
	Json,
};
use clearline_client::{instruction::SignedInstruction, queries, Connection};
use clearline_runtime::AccountId;
use codec::Encode;
use pallet_clearing_bank::{chain_digest, payment_leaf, refund_leaf, CycleStatus};
use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::{collections::BTreeMap, sync::Arc};

/// One successful payment, or one refund of it, in the service's records.
#[derive(Debug, Clone)]
pub struct LocalEntry {
	pub acquirer_order_id: String,
	/// The refund this entry is; `None` for the payment itself.
	pub refund: Option<LocalRefund>,
	/// From the participant's side: positive when its account was credited.
	pub amount: i128,
	/// The payment's posting (a refund's too).
	pub posting_id: u64,
	/// The payment's signed instruction (a refund's too).
	pub instruction: SignedInstruction,
}

/// A refund's own figures, as its leaf on chain takes them.
#[derive(Debug, Clone)]
pub struct LocalRefund {
	pub refund_id: String,
	/// Minor units of the posting's credit currency (CNY).
	pub credit_amount: u128,
	/// Minor units of the posting's debit currency (HKD).
	pub debit_amount: u128,
}

impl LocalEntry {
	fn key(&self) -> (&str, Option<&str>) {
		(&self.acquirer_order_id, self.refund.as_ref().map(|r| r.refund_id.as_str()))
	}

	fn describe(&self) -> String {
		match &self.refund {
			None => format!("order {}", self.acquirer_order_id),
			Some(r) => format!("refund {} of order {}", r.refund_id, self.acquirer_order_id),
		}
	}

	/// The leaf this entry adds to the cycle's digests.
	fn leaf(&self) -> Result<[u8; 32], String> {
		let (instruction, _) = self.instruction.decode().map_err(|e| e.to_string())?;
		let hash = sp_crypto_hashing::blake2_256(&instruction.encode());
		Ok(match &self.refund {
			None => payment_leaf(&hash),
			Some(r) => refund_leaf(&hash, r.refund_id.as_bytes(), r.credit_amount, r.debit_amount),
		})
	}
}

/// What comparing one cycle found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
	let mut ours: BTreeMap<(&str, Option<&str>), &LocalEntry> =
		local.iter().map(|e| (e.key(), e)).collect();
	// Our entries in the chain's order, for the digest; those the chain lacks after them.
	let mut in_order: Vec<&LocalEntry> = Vec::with_capacity(local.len());
	for entry in &statement.entries {
		let key = (entry.acquirer_order_id.as_str(), entry.refund_id.as_deref());
		match (ours.remove(&key), &entry.refund_id) {
			(None, None) => mismatches.push(format!(
				"PaymentNotRecorded: order {} is on chain (posting {}) but not successful in our \
				 records",
				entry.acquirer_order_id, entry.posting_id
			)),
			(None, Some(refund)) => mismatches.push(format!(
				"RefundNotRecorded: refund {refund} of order {} is on chain ({} from our side) but \
				 not in our records",
				entry.acquirer_order_id, entry.amount.0
			)),
			(Some(e), _) => {
				if e.amount != entry.amount.0 || e.posting_id != entry.posting_id {
					mismatches.push(format!(
						"AmountMismatch: {}: chain has posting {} for {}, we have posting {} for {}",
						e.describe(),
						entry.posting_id,
						entry.amount.0,
						e.posting_id,
						e.amount
					));
				}
				in_order.push(e);
			}
		}
	}
	for e in ours.values() {
		mismatches.push(format!(
			"NotOnChain: {} is successful in our records but not in cycle {cycle}",
			e.describe()
		));
		in_order.push(e);
	}
	let mut digest = [0u8; 32];
	for e in in_order {
		match e.leaf() {
			Ok(leaf) => digest = chain_digest(&digest, &leaf),
			Err(err) => {
				mismatches.push(format!("{}: stored instruction unreadable: {err}", e.describe()))
			}
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
			refund: None,
			amount: amount as i128,
			posting_id: posting_id as u64,
			instruction,
		})
	}

	/// An entry from a service's stored refund `refund_id` of `(credit, debit)` minor units of
	/// the payment's (CNY, HKD), `amount` from the service's side.
	pub fn refund(
		acquirer_order_id: String,
		refund_id: String,
		(credit, debit): (i64, i64),
		amount: i64,
		posting_id: i64,
		instruction: &str,
	) -> StoreResult<Self> {
		let mut entry = Self::from_stored(acquirer_order_id, amount, posting_id, instruction)?;
		entry.refund = Some(LocalRefund {
			refund_id,
			credit_amount: credit as u128,
			debit_amount: debit as u128,
		});
		Ok(entry)
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

/// A cycle's latest reconciliation, as recorded: a cycle found in agreement is not compared
/// again, so this is where an operator (or a run that came after) reads its report.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleReconciliation {
	/// When the comparison ran (Unix ms).
	pub checked_at: i64,
	pub report: CycleReport,
}

/// The latest report recorded for `cycle`; `CycleNotReconciled` (404) if none is.
pub async fn reconciliation(db: &Db, cycle: u32) -> Result<CycleReconciliation, ApiError> {
	let row = sqlx::query("SELECT ran_at, report FROM cycle_reconciliations WHERE cycle = $1")
		.bind(cycle as i64)
		.fetch_optional(db.pool())
		.await
		.map_err(StoreError::from)?;
	let Some(row) = row else {
		return Err(ApiError::not_found(
			"CycleNotReconciled",
			format!("cycle {cycle} has not been compared with the chain (not closed, or not yet)"),
		));
	};
	let text: String = row.try_get(1).map_err(StoreError::from)?;
	let report = serde_json::from_str(&text).map_err(|e| StoreError::unreadable("report", e))?;
	Ok(CycleReconciliation { checked_at: row.try_get(0).map_err(StoreError::from)?, report })
}

/// `GET /v1/admin/cycles/{cycle}/reconciliation` (admin, both services): the cycle's latest
/// report, as recorded.
pub async fn cycle_reconciliation<S: Authenticates>(
	_: Admin,
	State(s): State<Arc<S>>,
	Path(cycle): Path<String>,
) -> Result<Json<CycleReconciliation>, ApiError> {
	let cycle = cycle.parse().map_err(|_| ApiError::invalid("cycle", "not a cycle number"))?;
	Ok(Json(reconciliation(s.db(), cycle).await?))
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
