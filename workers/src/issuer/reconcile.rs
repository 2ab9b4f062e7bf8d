//! The issuer's reconciliation run: every unknown order is settled from the finalized chain,
//! looked up by the issuer's own order id (posted: success; voided, or not posted and past the
//! instruction's expiry: failure, and the debit is reversed; an order the acquirer failed is
//! voided again), rejections the acquirer has not heard of are sent again, and every closed
//! cycle is compared with the chain's statement.

use super::{
	process,
	store::{self, status},
	Issuer,
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
	pub status: String,
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
	let cutoff = now_ms() - 5_000;
	let open =
		s.db.read(move |tx| {
			store::orders_where(
				tx,
				&format!(
					"status = 'UNKNOWN' OR (status IN ('RECEIVED', 'DEBITED') AND updated_at < {cutoff})"
				),
			)
		})
		.await?;
	// One finalized block for the whole run: every lookup and the clock read at it.
	let (_, head) = s.conn.finalized().await.map_err(unavailable)?;
	let chain_time = queries::chain_time(&s.conn, Some(head)).await.map_err(unavailable)?;
	for order in open {
		let lock = s.order_lock(&order.issuer_order_id).await;
		let Ok(_held) = lock.try_lock() else { continue };
		// Read again under the lock: a task may have moved the order on since the list.
		let id = order.issuer_order_id.clone();
		let Some(order) = s.db.read(move |tx| store::order(tx, &id)).await? else { continue };
		if order.status == status::RECEIVED {
			// A processing task that stopped on an error (the chain unreachable for the
			// quote, say): it runs again.
			drop(_held);
			process::spawn(s, order.issuer_order_id.clone());
			continue;
		}
		if !matches!(order.status.as_str(), status::UNKNOWN | status::DEBITED) {
			continue;
		}
		let id = order.issuer_order_id.clone();
		let word = match process::chain_word(s, &order, head).await {
			Ok(word) => word,
			Err(e) => {
				tracing::error!(order = %id, error = %e, "cannot settle from the chain");
				continue;
			}
		};
		let outcome = match word {
			process::ChainWord::Posted(posting_id, cycle, block) => {
				s.db.write(move |tx| store::succeed(tx, &id, posting_id, cycle, block)).await?;
				Some(status::SUCCESS)
			}
			process::ChainWord::Voided(block) => {
				let evidence = store::NoPosting::Voided { block };
				s.db.write(move |tx| store::reverse(tx, &id, evidence)).await?;
				Some(status::FAILED)
			}
			process::ChainWord::Nothing
				if order.expires_at.is_some_and(|t| chain_time > t as u64) =>
			{
				let evidence = store::NoPosting::Expired { chain_time };
				s.db.write(move |tx| store::reverse(tx, &id, evidence)).await?;
				Some(status::FAILED)
			}
			process::ChainWord::Nothing if order.void_state == store::void_state::REFUSED => {
				None // the chain refused the void by name: the expiry decides
			}
			process::ChainWord::Nothing => {
				// Still postable. An order the acquirer failed is voided again; any other gets
				// its bookkeeping call again (the acquirer answers an order it knows as it
				// stands, and posts one it never received).
				let reason = order.reason.clone().filter(|_| order.void_state != 0);
				s.db.write(move |tx| {
					store::set_status_if(
						tx,
						&id,
						&[status::UNKNOWN],
						status::DEBITED,
						reason.as_deref(),
					)
				})
				.await?;
				drop(_held);
				process::spawn(s, order.issuer_order_id.clone());
				None
			}
		};
		if let Some(st) = outcome {
			s.metrics.order(st);
			s.metrics.reconciliation.with_label_values(&["resolved"]).inc();
			resolved.push(Resolved {
				issuer_order_id: order.issuer_order_id.clone(),
				status: st.into(),
			});
		}
	}
	let uninformed = s.db.read(|tx| store::orders_where(tx, process::UNINFORMED)).await?;
	for order in uninformed {
		process::spawn(s, order.issuer_order_id);
	}

	let cycles =
		cycles::reconcile_closed_cycles(&s.db, &s.conn, &s.chain_key.account_id(), LOCAL_ENTRIES)
			.await?;
	let counts = s.db.read(crate::store::status_counts).await?;
	let still_open = s.metrics.after_reconciliation(&cycles, &counts, |st| !status::is_final(st));
	Ok(ReconcileReport { resolved, still_open, cycles })
}

/// The issuer's successful orders of a cycle: each debited its HKD account.
const LOCAL_ENTRIES: &str = "SELECT acquirer_order_id, -debit_amount, posting_id, instruction FROM orders WHERE status = 'SUCCESS' AND cycle = ?1";
