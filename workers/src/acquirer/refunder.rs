//! Settles refunds on chain, while this process leads: each `PROCESSING` refund is looked up
//! on the finalized chain first (a crash after its block, or an answer lost on the way), and
//! only if the chain has none is the `refund` call sent and followed to finality. The chain
//! keeps a refund under its id and takes the same refund again as a no-op, so sending it once
//! more after any failure can never refund twice.

use super::order;
use super::{
	refund::{self, Refund, Settled},
	Acquirer,
};
use crate::common::api::ApiError;
use clearline_client::{calls, queries, Outcome, TxResult};
use std::{sync::Arc, time::Duration};

/// Takes up every refund still processing, forever; a refund already being settled by this
/// process is left to its task.
pub async fn run(s: Arc<Acquirer>) {
	loop {
		if s.lease.is_leading() {
			if let Err(e) = refund_cancelled(&s).await {
				tracing::warn!(error = %e, "cancelled orders not refunded yet");
			}
			match refund::processing(&s.db).await {
				Ok(refunds) => {
					for r in refunds {
						if !s
							.refunding
							.lock()
							.unwrap_or_else(|e| e.into_inner())
							.insert(r.refund_id.clone())
						{
							continue;
						}
						let s = s.clone();
						tokio::spawn(async move {
							let id = r.refund_id.clone();
							if let Err(e) = settle(&s, &r).await {
								tracing::warn!(refund = %id, error = %e, "refund not settled yet");
							}
							s.refunding.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
						});
					}
				}
				Err(e) => tracing::warn!(error = %e, "refunds not read"),
			}
		}
		tokio::select! {
			_ = tokio::time::sleep(Duration::from_secs(1)) => {},
			_ = s.refund_wake.notified() => {},
		}
	}
}

/// Refunds in full each order its merchant cancelled while it was being posted, and that
/// posted.
async fn refund_cancelled(s: &Acquirer) -> Result<(), ApiError> {
	for o in order::cancelled_successes(&s.db).await? {
		let _held = s.posting_locks.lock(&o.order_id).await?;
		if let Some(r) = refund::refund_in_full(&s.db, &o).await? {
			tracing::info!(order = %o.order_id, refund = %r.refund_id, "a cancelled payment posted; refunded in full");
		}
	}
	Ok(())
}

/// Settles one refund: from the chain's record if there is one, else by sending it. An
/// answer that is not final (the transaction expired or its fate is unknown) leaves the
/// refund processing for the next round.
async fn settle(s: &Acquirer, r: &Refund) -> anyhow::Result<()> {
	let (_, head) = s.conn.finalized().await?;
	if let Some(settled) = on_chain(s, &r.refund_id, head, None).await? {
		return record(s, r, Ok(&settled)).await;
	}
	let call = match calls::refund(&r.order_id, &r.refund_id, r.amount as u128) {
		Ok(call) => call,
		Err(e) => return record(s, r, Err(&format!("MalformedRefund: {e}"))).await,
	};
	crate::crash_point!(crate::common::faults::ACQUIRER_REFUND_BEFORE_SUBMIT);
	let report = s.sender.send(call).await?;
	match report.result {
		TxResult::Finalized { block, number, outcome: Outcome::Succeeded(_), .. } => {
			crate::crash_point!(crate::common::faults::ACQUIRER_REFUND_BEFORE_RECORD);
			let settled = on_chain(s, &r.refund_id, block, Some(number))
				.await?
				.ok_or_else(|| anyhow::anyhow!("the refund's block holds no record of it"))?;
			record(s, r, Ok(&settled)).await
		}
		TxResult::Finalized { outcome: Outcome::Failed { error, .. }, .. } => {
			tracing::warn!(refund = %r.refund_id, %error, "the chain refused a refund");
			record(s, r, Err(&error)).await
		}
		TxResult::Expired { death } => {
			anyhow::bail!("the refund's transaction expired unincluded at block {death}")
		}
		TxResult::Unknown { reason } => anyhow::bail!("no final answer: {reason}"),
	}
}

/// The refund as finalized block `at` records it, if it does; `number` is `at`'s number when
/// the refund's own transaction is in it (the chain's record does not say its block).
async fn on_chain(
	s: &Acquirer,
	refund_id: &str,
	at: sp_core::H256,
	number: Option<u32>,
) -> anyhow::Result<Option<Settled>> {
	let Some(record) = queries::refund(&s.conn, &s.sender.account(), refund_id, Some(at)).await?
	else {
		return Ok(None);
	};
	Ok(Some(Settled {
		debit_amount: record.debit_amount.0,
		cycle: record.cycle,
		block: number.map(|n| (n, format!("{at:?}"))),
	}))
}

async fn record(s: &Acquirer, r: &Refund, outcome: Result<&Settled, &str>) -> anyhow::Result<()> {
	if refund::finish(&s.db, &r.refund_id, outcome).await? {
		let status = if outcome.is_ok() { "success" } else { "failed" };
		s.metrics.call("refund", status);
		tracing::info!(refund = %r.refund_id, order = %r.order_id, status, "refund settled");
		s.outbox_wake.notify_one();
	}
	Ok(())
}

/// Records a refund the finalized chain holds under our account and `refund_id` that we never
/// took (reconciliation reports it `RefundNotRecorded`): an operator's resolution. The issuer
/// is told, and credits the payer once.
pub async fn record_from_chain(s: &Acquirer, refund_id: &str) -> Result<Refund, ApiError> {
	let unavailable =
		|e: &dyn std::fmt::Display| ApiError::unavailable("ChainUnavailable", e.to_string());
	let (_, head) = s.conn.finalized().await.map_err(|e| unavailable(&e))?;
	let record = queries::refund(&s.conn, &s.sender.account(), refund_id, Some(head))
		.await
		.map_err(|e| unavailable(&e))?
		.ok_or_else(|| {
			ApiError::not_found("RefundNotOnChain", "the chain has no refund of ours by this id")
		})?;
	let posting = queries::posting_by_id(&s.conn, record.posting_id, Some(head))
		.await
		.map_err(|e| unavailable(&e))?
		.ok_or_else(|| ApiError::internal("a refund's posting is missing on chain"))?;
	let order = order::get(&s.db, &posting.acquirer_order_id).await?;
	let settled = Settled { debit_amount: record.debit_amount.0, cycle: record.cycle, block: None };
	let recorded = refund::record_from_chain(
		&s.db,
		refund_id,
		&order,
		record.credit_amount.0 as i64,
		&settled,
	)
	.await?;
	s.outbox_wake.notify_one();
	Ok(recorded)
}
