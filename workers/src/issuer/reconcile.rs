//! The issuer's reconciliation run: every unknown order is settled from the finalized chain,
//! looked up by the issuer's own order id (posted: success; voided, or not posted and past the
//! instruction's expiry: failure, and the debit is reversed; an order the acquirer failed is
//! voided again), rejections the acquirer has not heard of are sent again, and every closed
//! cycle is compared with the chain's statement, payments and refunds (a refund on chain that
//! no wallet was credited is `RefundNotRecorded`: `POST /v1/admin/refunds/{id}/credit`).

use super::{
	order::{self, NoPosting, OrderStatus, VoidState},
	process, refund, wallet, Issuer,
};
use crate::common::{
	api::ApiError,
	cycles::{self, CycleReport, LocalEntry},
	now_ms,
	store::{Db, StoreResult},
};
use clearline_client::queries;
use pallet_fx_rate::CurrencyCode;
use serde::Serialize;
use std::sync::Arc;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
	pub issuer_order_id: String,
	pub status: OrderStatus,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileReport {
	pub resolved: Vec<Resolved>,
	/// Orders still without a final status after the run.
	pub still_open: u32,
	pub cycles: Vec<CycleReport>,
	pub funding: Funding,
}

/// The wallets' HKD beside the settlement account that must back it: every HKD a wallet
/// holds was paid in by an external transfer (its top-up's reference) that the issuer must
/// have funded its HKD settlement account with, since each payment from a wallet is debited
/// from that account.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Funding {
	/// The issuer's participant account (SS58) and its HKD settlement balance at the
	/// finalized block the run read (minor units; negative while the debit limit is used).
	pub settlement_account: String,
	pub settlement_balance: i64,
	pub wallet_balances: i64,
	/// Whether the settlement balance covers every wallet's balance, and by how much it falls
	/// short if not.
	pub backed: bool,
	pub shortfall: i64,
	pub topup_count: i64,
	pub topup_total: i64,
	pub unreferenced_topups: i64,
	/// The latest top-ups (at most 50), newest first, each with its external reference.
	pub recent_topups: Vec<wallet::TopupLine>,
}

/// The funding section of a run, read at `head`.
async fn funding(s: &Issuer, head: sp_core::H256) -> Result<Funding, ApiError> {
	let account = s.chain_key.account_id();
	let participant = queries::participant(&s.conn, &account, Some(head))
		.await
		.map_err(|e| ApiError::unavailable("ChainUnavailable", e.to_string()))?;
	let settlement_balance = participant
		.and_then(|p| p.accounts.into_iter().find(|a| a.currency == CurrencyCode::HKD))
		.map(|a| i64::try_from(a.balance.0).unwrap_or(i64::MAX))
		.unwrap_or(0);
	let owed = wallet::liabilities(&s.db, 50).await?;
	let shortfall = owed.wallet_balances.saturating_sub(settlement_balance).max(0);
	if shortfall > 0 {
		tracing::warn!(
			settlement_balance,
			wallet_balances = owed.wallet_balances,
			shortfall,
			"the wallets hold more HKD than the settlement account backs"
		);
	}
	Ok(Funding {
		settlement_account: sp_core::crypto::Ss58Codec::to_ss58check(&account),
		settlement_balance,
		wallet_balances: owed.wallet_balances,
		backed: shortfall == 0,
		shortfall,
		topup_count: owed.topup_count,
		topup_total: owed.topup_total,
		unreferenced_topups: owed.unreferenced_topups,
		recent_topups: owed.recent_topups,
	})
}

pub async fn run(s: &Arc<Issuer>) -> Result<ReconcileReport, ApiError> {
	let unavailable =
		|e: clearline_client::Error| ApiError::unavailable("ChainUnavailable", e.to_string());
	let mut resolved = Vec::new();
	// Unknown orders, and debited ones no task has touched for a while (a task in progress
	// holds the order's lock and is skipped). Failures the acquirer has not heard of (a
	// rejection, a reversal after the instruction expired) are sent to it again.
	let open = order::stalled(&s.db, now_ms() - 5_000).await?;
	// Payments the payer did not confirm in time are refused, and the acquirer told.
	for id in order::expire_unconfirmed(&s.db).await? {
		s.metrics.order(OrderStatus::Rejected.as_str());
		resolved.push(Resolved { issuer_order_id: id.clone(), status: OrderStatus::Rejected });
		process::spawn(s, id);
	}
	// One finalized block for the whole run: every lookup and the clock read at it.
	let (_, head) = s.conn.finalized().await.map_err(unavailable)?;
	let chain_time = queries::chain_time(&s.conn, Some(head)).await.map_err(unavailable)?;
	for order in open {
		let Some(held) = s.order_locks.try_lock(&order.issuer_order_id).await? else { continue };
		// Read again under the lock: a task may have moved the order on since the list.
		let id = order.issuer_order_id.clone();
		let Some(order) = order::load(&s.db, &id).await? else { continue };
		if order.status == OrderStatus::Received {
			// A processing task that stopped on an error (the chain unreachable for the
			// quote, say): it runs again.
			drop(held);
			process::spawn(s, id);
			continue;
		}
		if !matches!(order.status, OrderStatus::Unknown | OrderStatus::Debited) {
			continue;
		}
		let word = match process::chain_word(s, &order, head).await {
			Ok(word) => word,
			Err(e) => {
				tracing::error!(order = %id, error = %e, "cannot settle from the chain");
				continue;
			}
		};
		let outcome = match word {
			process::ChainWord::Posted(posting_id, cycle, block) => {
				order::succeed(&s.db, &id, posting_id, cycle, block).await?;
				Some(OrderStatus::Success)
			}
			process::ChainWord::Voided(block) => {
				order::reverse(&s.db, &id, NoPosting::Voided { block }).await?;
				Some(OrderStatus::Failed)
			}
			process::ChainWord::Nothing
				if order.expires_at.is_some_and(|t| chain_time > t as u64) =>
			{
				order::reverse(&s.db, &id, NoPosting::Expired { chain_time }).await?;
				Some(OrderStatus::Failed)
			}
			process::ChainWord::Nothing if order.void_state == VoidState::Refused => {
				None // the chain refused the void by name: the expiry decides
			}
			process::ChainWord::Nothing => {
				// Still postable. An order the acquirer failed is voided again; any other gets
				// its bookkeeping call again (the acquirer answers an order it knows as it
				// stands, and posts one it never received).
				order::retry_unknown(&s.db, &order).await?;
				drop(held);
				process::spawn(s, id);
				None
			}
		};
		if let Some(st) = outcome {
			s.metrics.order(st.as_str());
			s.metrics.reconciliation.with_label_values(&["resolved"]).inc();
			resolved.push(Resolved { issuer_order_id: order.issuer_order_id.clone(), status: st });
		}
	}
	for order in order::uninformed(&s.db).await? {
		process::spawn(s, order.issuer_order_id);
	}

	let cycles = cycles::reconcile_closed_cycles(&s.db, &s.conn, &s.chain_key.account_id(), |c| {
		cycle_entries(&s.db, c)
	})
	.await?;
	let counts = crate::store::status_counts(&s.db).await?;
	let still_open = s.metrics.after_reconciliation(&cycles, &counts, |st| {
		!st.parse::<OrderStatus>().is_ok_and(OrderStatus::is_final)
	});
	let funding = funding(s, head).await?;
	Ok(ReconcileReport { resolved, still_open, cycles, funding })
}

/// The issuer's entries of a cycle: its successful payments and credited refunds.
async fn cycle_entries(db: &Db, cycle: u32) -> StoreResult<Vec<LocalEntry>> {
	let mut entries = order::cycle_entries(db, cycle).await?;
	entries.extend(refund::cycle_entries(db, cycle).await?);
	Ok(entries)
}
