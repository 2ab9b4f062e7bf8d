//! The acquirer's reconciliation run: unknown postings settled from the finalized chain,
//! unpaid orders closed, orders the issuer never answered resolved with it, and every closed
//! cycle compared with the chain's statement.

use super::{
	posting,
	store::{self, status},
	Acquirer,
};
use crate::common::{api::ApiError, cycles, now_ms, peer::PeerError, wire::DebitStatus};
use reqwest::Method;
use rusqlite::params;
use serde::Serialize;
use std::sync::Arc;

pub use cycles::CycleReport;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
	pub order_id: String,
	pub status: String,
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
	let stuck = s.db.read(|tx| store::orders_in(tx, &[status::UNKNOWN, status::POSTING])).await?;
	for order in stuck {
		if order.status == status::POSTING && now_ms() - order.updated_at < 5_000 {
			continue;
		}
		if let Some(st) = posting::settle_unknown(s, &order).await? {
			s.metrics.reconciliation.with_label_values(&["resolved"]).inc();
			resolved.push(Resolved { order_id: order.order_id.clone(), status: st.into() });
		}
	}

	// Unpaid orders whose time ran out.
	let closed =
		s.db.write(|tx| {
			let expired: Vec<String> = {
				let mut stmt = tx.prepare(
					"SELECT order_id FROM orders WHERE status = ?1 AND pay_by IS NOT NULL AND pay_by < ?2",
				)?;
				let rows = stmt
					.query_map(params![status::AWAITING_PAYMENT, now_ms()], |r| r.get(0))?
					.collect::<Result<_, _>>()?;
				rows
			};
			for id in &expired {
				store::set_status(tx, id, status::CLOSED, Some("OrderExpired"))?;
			}
			Ok(expired)
		})
		.await?;
	resolved.extend(
		closed.into_iter().map(|order_id| Resolved { order_id, status: status::CLOSED.into() }),
	);

	// Orders waiting for the issuer longer than the debit window, with no debit request
	// still being delivered: the issuer says what became of them.
	let cutoff = now_ms() - std::time::Duration::from(s.config.debit_window).as_millis() as i64;
	let waiting: Vec<String> =
		s.db.read(move |tx| {
			let mut stmt = tx.prepare(
				"SELECT o.order_id FROM orders o WHERE o.status = ?1 AND o.updated_at < ?2
				 AND NOT EXISTS (SELECT 1 FROM outbox b WHERE b.order_id = o.order_id
				   AND b.kind = 'DEBIT_REQUEST' AND b.status = 'PENDING')",
			)?;
			let rows = stmt
				.query_map(params![status::DEBIT_REQUESTED, cutoff], |r| r.get(0))?
				.collect::<Result<_, _>>()?;
			Ok(rows)
		})
		.await?;
	for order_id in waiting {
		let path = format!("/v1/debits/{order_id}");
		let answer: Result<DebitStatus, _> = s
			.issuer
			.call::<(), _>(Method::GET, &path, None, s.config.debit_request_timeout.into())
			.await;
		let reason = match answer {
			// The issuer never had it; a payment code it carried has expired since.
			Err(PeerError::Refused { status: 404, .. }) => "IssuerHasNoOrder".to_string(),
			Ok(d) if matches!(d.status.as_str(), "REJECTED" | "FAILED") => {
				format!("IssuerDebitFailed: {}", d.reason.unwrap_or_default())
			}
			_ => continue,
		};
		let id = order_id.clone();
		let failed =
			s.db.write(move |tx| {
				let still =
					store::order(tx, &id)?.is_some_and(|o| o.status == status::DEBIT_REQUESTED);
				if still {
					store::finish(tx, &id, None, Some(&reason))?;
				}
				Ok(still)
			})
			.await?;
		if failed {
			resolved.push(Resolved { order_id, status: status::FAILED.into() });
		}
	}
	if !resolved.is_empty() {
		s.outbox_wake.notify_one();
	}

	let cycles =
		cycles::reconcile_closed_cycles(&s.db, &s.conn, &s.sender.account(), LOCAL_ENTRIES).await?;
	let counts = s.db.read(crate::store::status_counts).await?;
	let still_open = s.metrics.after_reconciliation(&cycles, &counts, |st| {
		!status::is_final(st) && st != status::AWAITING_PAYMENT
	});
	Ok(ReconcileReport { resolved, still_open, cycles })
}

/// The acquirer's successful orders of a cycle: each credited its CNY account.
const LOCAL_ENTRIES: &str = "SELECT order_id, amount, posting_id, instruction FROM orders WHERE status = 'SUCCESS' AND cycle = ?1";
