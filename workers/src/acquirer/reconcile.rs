//! The acquirer's reconciliation run: unknown postings settled from the finalized chain,
//! unpaid orders closed, orders the issuer never answered resolved with it, and every closed
//! cycle compared with the chain's statement, payments and refunds.

use super::{
	order::{self, OrderStatus},
	posting, refund, Acquirer,
};
use crate::common::{
	api::ApiError,
	cycles::{self, LocalEntry},
	now_ms,
	peer::PeerError,
	store::{Db, StoreResult},
	wire::DebitStatus,
};
use reqwest::Method;
use serde::Serialize;
use std::sync::Arc;

pub use cycles::CycleReport;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
	pub order_id: String,
	pub status: OrderStatus,
}

/// What one run did and found.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileReport {
	pub resolved: Vec<Resolved>,
	/// Orders still without a final status after the run.
	pub still_open: u32,
	pub cycles: Vec<CycleReport>,
}

pub async fn run(s: &Arc<Acquirer>) -> Result<ReconcileReport, ApiError> {
	let mut resolved = Vec::new();
	// Postings without a final answer (the poster follows every other `POSTING` order).
	let stuck = order::in_statuses(&s.db, &[OrderStatus::Unknown]).await?;
	for order in stuck {
		if let Some(status) = posting::settle_unknown(s, &order).await? {
			s.metrics.reconciliation.with_label_values(&["resolved"]).inc();
			resolved.push(Resolved { order_id: order.order_id.clone(), status });
		}
	}

	// Unpaid orders whose time ran out.
	let closed = order::close_expired(&s.db).await?;
	resolved.extend(
		closed.into_iter().map(|order_id| Resolved { order_id, status: OrderStatus::Closed }),
	);

	// Orders waiting for the issuer longer than the debit window, with no debit request
	// still being delivered: the issuer says what became of them.
	let cutoff = now_ms() - std::time::Duration::from(s.config.debit_window).as_millis() as i64;
	let waiting = order::waiting_for_issuer(&s.db, cutoff).await?;
	for (order_id, held) in waiting {
		let path = format!("/v1/debits/{order_id}");
		let answer: Result<DebitStatus, _> = s
			.issuer
			.call::<(), _>(Method::GET, &path, None, s.config.debit_request_timeout.into())
			.await;
		let no_order = || ("IssuerHasNoOrder".to_string(), None);
		let (reason, attempt) = match answer {
			// The issuer never had it; a payment code it carried has expired since.
			Err(PeerError::Refused { status: 404, .. }) => no_order(),
			// The issuer answers an order's live attempt, else its latest: another attempt
			// than the one bound here means the issuer never recorded this one.
			Ok(d) if held.as_ref().is_some_and(|h| *h != d.issuer_order_id) => no_order(),
			Ok(d) if matches!(d.status.as_str(), "REJECTED" | "FAILED") => {
				let reason = format!("IssuerDebitFailed: {}", d.reason.unwrap_or_default());
				(reason, Some(d.issuer_order_id))
			}
			// The issuer's first step failed at the debit request, and its task has since
			// found the payer must confirm.
			Ok(d) if d.status == "AWAITING_PAYER" => {
				order::payer_confirming(&s.db, &order_id).await?;
				continue;
			}
			_ => continue,
		};
		// Under the posting lock: a bookkeeping call of the same order waits.
		let Some(_held) = s.posting_locks.try_lock(&order_id).await? else { continue };
		if let Some(status) =
			order::attempt_failed(&s.db, &order_id, attempt.as_deref(), &reason).await?
		{
			resolved.push(Resolved { order_id, status });
		}
	}
	if !resolved.is_empty() {
		s.outbox_wake.notify_one();
	}

	let cycles = cycles::reconcile_closed_cycles(&s.db, &s.conn, &s.sender.account(), |c| {
		cycle_entries(&s.db, c)
	})
	.await?;
	let counts = crate::store::status_counts(&s.db).await?;
	let still_open = s.metrics.after_reconciliation(&cycles, &counts, |st| {
		st.parse::<OrderStatus>()
			.is_ok_and(|st| !st.is_final() && st != OrderStatus::AwaitingPayment)
	});
	Ok(ReconcileReport { resolved, still_open, cycles })
}

/// The acquirer's entries of a cycle: its successful orders and refunds.
async fn cycle_entries(db: &Db, cycle: u32) -> StoreResult<Vec<LocalEntry>> {
	let mut entries = order::cycle_entries(db, cycle).await?;
	entries.extend(refund::cycle_entries(db, cycle).await?);
	Ok(entries)
}
