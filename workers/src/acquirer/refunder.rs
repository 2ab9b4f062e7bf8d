//! Settles refunds on chain, while this process leads. Each `PROCESSING` refund is looked up
//! on the finalized chain first (a crash after its block, or an answer lost on the way). The
//! transaction sent for it is stored before it is submitted, and another is sent only once
//! that one can no longer land (in a finalized block, or past its lifetime): so a refusal of
//! the refund is final only when no earlier attempt can still book it. The chain keeps a refund
//! under its id and takes the same refund again as a no-op, so no attempt refunds twice.

use super::{
	order,
	refund::{self, Refund, Settled},
	Acquirer,
};
use crate::common::api::ApiError;
use clearline_client::{
	calls, queries, resolve, Error as ClientError, Outcome, PendingTx, TxReport, TxResult,
};
use clearline_runtime::RuntimeEvent;
use std::{sync::Arc, time::Duration};

/// How long a refund waits after an attempt that ended without an answer.
const BACKOFF: Duration = Duration::from_secs(5);

/// Takes up every refund still processing, forever; a refund already being settled by this
/// process is left to its task.
pub async fn run(s: Arc<Acquirer>) {
	loop {
		if s.lease.is_leading() {
			refund_cancelled(&s).await;
			match refund::processing(&s.db).await {
				Ok(refunds) => {
					for r in refunds {
						let Some(settling) = Settling::start(&s, &r.refund_id) else { continue };
						let s = s.clone();
						tokio::spawn(async move {
							if let Err(e) = settle(&s, &r).await {
								tracing::warn!(refund = %r.refund_id, error = %e, "refund not settled yet");
								tokio::time::sleep(BACKOFF).await;
							}
							drop(settling);
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

/// A refund this process is settling; it is free again when this is dropped, however the
/// task ended.
struct Settling {
	s: Arc<Acquirer>,
	refund_id: String,
}

impl Settling {
	fn start(s: &Arc<Acquirer>, refund_id: &str) -> Option<Self> {
		let mut settling = s.refunding.lock().unwrap_or_else(|e| e.into_inner());
		settling
			.insert(refund_id.to_string())
			.then(|| Self { s: s.clone(), refund_id: refund_id.to_string() })
	}
}

impl Drop for Settling {
	fn drop(&mut self) {
		self.s.refunding.lock().unwrap_or_else(|e| e.into_inner()).remove(&self.refund_id);
	}
}

/// Refunds what remains of each order its merchant cancelled while it was being posted, and
/// that posted; one order's refusal holds up no other.
async fn refund_cancelled(s: &Acquirer) {
	let orders = match order::cancelled_successes(&s.db).await {
		Ok(orders) => orders,
		Err(e) => return tracing::warn!(error = %e, "cancelled orders not read"),
	};
	for o in orders {
		let refunded = async {
			let _held = s.posting_locks.lock(&o.order_id).await?;
			refund::refund_in_full(&s.db, &o).await
		};
		match refunded.await {
			Ok(Some(r)) => tracing::info!(order = %o.order_id, refund = %r.refund_id,
				"a cancelled payment posted; refunding what remains of it"),
			Ok(None) => {}
			Err(e) => {
				tracing::warn!(order = %o.order_id, error = %e, "a cancelled order not refunded")
			}
		}
	}
}

/// Settles one refund: from the chain's record if there is one; else from the attempt sent
/// before, once it is over; else by sending one. An attempt without a final answer yet leaves
/// the refund processing for the next round.
async fn settle(s: &Acquirer, r: &Refund) -> anyhow::Result<()> {
	let (_, head) = s.conn.finalized().await?;
	if let Some(settled) = on_chain(s, &r.refund_id, head, None).await? {
		return record(s, r, Ok(&settled)).await;
	}
	// The transaction this round follows, as stored.
	let (report, sent) = match &r.pending_tx {
		Some(text) => {
			let sent: PendingTx = serde_json::from_str(text)?;
			// The same bytes again: the pool may never have had them (a crash before their
			// submission, or a node restarted since). They are included once at most, and a
			// refusal of them (their nonce used) leaves the chain to say what became of them.
			if let Err(e) = s.sender.submit_signed(sent.clone()).await {
				tracing::debug!(refund = %r.refund_id, error = %e, "a refund's transaction not sent again");
			}
			(resolve(&s.conn, &sent, s.config.bookkeeping_wait.into()).await, text.clone())
		}
		None => match send(s, r).await? {
			Some(followed) => followed,
			None => return Ok(()),
		},
	};
	match report.result {
		TxResult::Finalized { block, number, outcome: Outcome::Succeeded(events), .. } => {
			crate::crash_point!(crate::common::faults::ACQUIRER_REFUND_BEFORE_RECORD);
			// The block is the refund's only if this transaction booked it (not if it found
			// the refund recorded already).
			let booked_here = events.iter().any(|e| {
				matches!(e, RuntimeEvent::ClearingBank(
					pallet_clearing_bank::Event::PaymentRefunded { refund_id, .. }
				) if refund_id.as_slice() == r.refund_id.as_bytes())
			});
			let settled = on_chain(s, &r.refund_id, block, booked_here.then_some(number))
				.await?
				.ok_or_else(|| anyhow::anyhow!("the refund's block holds no record of it"))?;
			record(s, r, Ok(&settled)).await
		}
		TxResult::Finalized { outcome: Outcome::Failed { error, .. }, .. } => {
			tracing::warn!(refund = %r.refund_id, %error, "the chain refused a refund");
			record(s, r, Err(&error)).await
		}
		TxResult::Expired { death } => {
			// It can never land now: the next round sends another.
			refund::attempt_over(&s.db, &r.refund_id, &sent).await?;
			s.refund_wake.notify_one();
			tracing::info!(refund = %r.refund_id, death, "a refund's transaction expired unincluded");
			Ok(())
		}
		TxResult::Unknown { reason } => anyhow::bail!("no final answer yet: {reason}"),
	}
}

/// Signs the refund's transaction, stores it, and submits it; its report and the transaction
/// as stored, or `None` if nothing was sent (another process stored a transaction first, or
/// the refund ended).
async fn send(s: &Acquirer, r: &Refund) -> anyhow::Result<Option<(TxReport, String)>> {
	let call = match calls::refund(&r.order_id, &r.refund_id, r.amount as u128) {
		Ok(call) => call,
		Err(e) => {
			record(s, r, Err(&format!("MalformedRefund: {e}"))).await?;
			return Ok(None);
		}
	};
	if !s.lease.is_leading() {
		anyhow::bail!("this process no longer leads; the leader settles the refund");
	}
	let tx = s.sender.sign_next(call).await?;
	let text = serde_json::to_string(&tx)?;
	let stored = refund::attempt(&s.db, &r.refund_id, &text).await;
	if !matches!(stored, Ok(true)) {
		// Never sent, so its nonce is free for the next transaction.
		s.sender.resync().await;
		stored?;
		return Ok(None);
	}
	crate::crash_point!(crate::common::faults::ACQUIRER_REFUND_BEFORE_SUBMIT);
	match s.sender.submit_signed(tx.clone()).await {
		Ok(flight) => Ok(Some((flight.follow().await, text))),
		Err(ClientError::Rejected { code, reason }) => {
			tracing::warn!(refund = %r.refund_id, code, %reason, "the pool refused a refund");
			refund::attempt_over(&s.db, &r.refund_id, &text).await?;
			anyhow::bail!("the pool refused the refund's transaction: {reason}")
		}
		// Whether it arrived is unknown: followed from the chain like any other.
		Err(e) => {
			tracing::warn!(refund = %r.refund_id, error = %e, "a refund's submission failed");
			Ok(Some((resolve(&s.conn, &tx, s.config.bookkeeping_wait.into()).await, text)))
		}
	}
}

/// The refund as finalized block `at` records it, if it does; `number` is `at`'s number when
/// the refund was booked in it (the chain's record does not say its block).
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
