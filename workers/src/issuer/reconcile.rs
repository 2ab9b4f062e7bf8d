//! The issuer's reconciliation run: every unknown order is settled from the finalized chain,
//! looked up by the issuer's own order id (posted: success; voided, or not posted and past the
//! instruction's expiry: failure, and the debit is reversed; an order the acquirer failed is
//! voided again), rejections the acquirer has not heard of are sent again, and every closed
//! cycle is compared with the chain's statement.

use super::{
	order::{self, NoPosting, OrderStatus, VoidState},
	process, Issuer,
};
use crate::common::{
	api::ApiError,
	cycles::{self, CycleReport},
	now_ms,
};
use clearline_client::queries;
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
}

pub async fn run(s: &Arc<Issuer>) -> Result<ReconcileReport, ApiError> {
	let unavailable =
		|e: clearline_client::Error| ApiError::unavailable("ChainUnavailable", e.to_string());
	let mut resolved = Vec::new();
	// Unknown orders, and debited ones no task has touched for a while (a task in progress
	// holds the order's lock and is skipped). Failures the acquirer has not heard of (a
	// rejection, a reversal after the instruction expired) are sent to it again.
	let open = order::stalled(&s.db, now_ms() - 5_000).await?;
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
		order::cycle_entries(&s.db, c)
	})
	.await?;
	let counts = crate::store::status_counts(&s.db).await?;
	let still_open = s.metrics.after_reconciliation(&cycles, &counts, |st| {
		!st.parse::<OrderStatus>().is_ok_and(OrderStatus::is_final)
	});
	Ok(ReconcileReport { resolved, still_open, cycles })
}
