//! The poster: drains the posting queue into `post_payments` batches, one transaction for as
//! many orders as are waiting (up to what fits a block), at most one every `--batch-interval`
//! unless a full one is waiting, so that the chain sees a few extrinsics a second however
//! many payments arrive. Only the process holding the lease posts ([`crate::common::lease`]).
//!
//! Every guarantee holds per payment. A batch is signed and kept in the store, with its orders
//! claimed, before it is submitted; after a crash the leader sends those very bytes again
//! (the chain includes them at most once) and follows them. Each order's answer comes from the
//! finalized batch's own events: posted, posted already (an earlier attempt), or refused with
//! the chain's error, which fails that order alone. A batch that expired unincluded gives its
//! orders back to the queue while their instructions are valid; one without a final answer
//! leaves them `UNKNOWN` for reconciliation.

use super::{
	batches::{self, Member, Verdict},
	order::{OrderStatus, Posted},
	posting::find_posting,
	Acquirer,
};
use clearline_client::{
	calls,
	instruction::{batch_outcomes, ItemOutcome, SignedInstruction},
	queries, resolve, Error as ClientError, InFlight, Outcome, PendingTx, TxResult,
};
use std::{
	collections::HashMap,
	sync::Arc,
	time::{Duration, Instant},
};

/// Signals between the acquirer's processes.
pub const QUEUED: &str = "clearline_acquirer_queued";
pub const RECORDED: &str = "clearline_acquirer_recorded";
pub const CHANNELS: &[&str] = &[QUEUED, RECORDED];

/// How many batches one order may be in before it is declared failed.
const MAX_ATTEMPTS: i64 = 5;
const TRANSACTION_EXPIRED: &str = "TransactionExpired";
/// How often the queue is read when nothing wakes the poster.
const POLL: Duration = Duration::from_millis(250);

/// Tells the poster (here, or in the process that leads) that an order was queued. The
/// leader's own orders need no signal through the store; should it have just lost the lease,
/// the new leader's poll finds them.
pub async fn queued(s: &Acquirer) {
	s.poster_wake.notify_one();
	if s.lease.is_leading() {
		return;
	}
	if let Err(e) = s.signals.send(QUEUED, "").await {
		tracing::warn!(error = %e, "could not signal the queued order");
	}
}

/// Turns the other processes' signals into local wake-ups, forever.
pub async fn listen(s: Arc<Acquirer>) {
	let mut signals = s.signals.listen(CHANNELS);
	while let Some((channel, payload)) = signals.recv().await {
		match channel.as_str() {
			QUEUED => s.poster_wake.notify_one(),
			RECORDED if !s.waiters.is_empty() => {
				let Ok(batch) = payload.parse::<i64>() else { continue };
				match batches::order_ids(&s.db, batch).await {
					Ok(ids) => s.waiters.wake(ids.iter().map(String::as_str)),
					Err(e) => tracing::warn!(error = %e, "could not read a recorded batch"),
				}
			}
			_ => {}
		}
	}
}

/// Posts while this process leads, forever.
pub async fn run(s: Arc<Acquirer>) {
	let mut leading = s.lease.watch();
	loop {
		while !*leading.borrow_and_update() {
			if leading.changed().await.is_err() {
				return;
			}
		}
		tracing::info!("poster: this process posts");
		if let Err(e) = recover(&s).await {
			tracing::warn!(error = %e, "poster: could not take up the open batches; retrying");
			tokio::time::sleep(POLL * 4).await;
			continue;
		}
		s.sender.resync().await;
		let mut last_sent: Option<Instant> = None;
		while *leading.borrow() {
			if let Err(e) = drain(&s, &mut last_sent).await {
				tracing::warn!(error = %e, "poster: the queue could not be read");
			}
			tokio::select! {
				_ = s.poster_wake.notified() => {}
				_ = tokio::time::sleep(POLL) => {}
				_ = leading.changed() => {}
			}
		}
		tracing::warn!("poster: this process no longer leads; posting stops");
	}
}

/// The most orders one batch takes from the queue.
fn batch_max(s: &Acquirer) -> usize {
	let bound = clearline_runtime::MAX_POSTINGS_PER_BATCH as usize;
	match s.config.batch_max {
		0 => bound,
		n => n.min(bound),
	}
}

/// Sends batches while orders wait, paced by `--batch-interval` unless a full batch waits.
async fn drain(s: &Arc<Acquirer>, last_sent: &mut Option<Instant>) -> anyhow::Result<()> {
	let interval: Duration = s.config.batch_interval.into();
	loop {
		let max = batch_max(s);
		let waiting = batches::queued(&s.db, max).await?;
		if waiting.is_empty() {
			return Ok(());
		}
		if let Some(wait) = last_sent.and_then(|at| interval.checked_sub(at.elapsed())) {
			if waiting.len() < max && !wait.is_zero() {
				tokio::time::sleep(wait).await;
				continue;
			}
		}
		*last_sent = Some(Instant::now());
		send_batch(s, waiting).await?;
	}
}

/// Signs a batch of the queued orders (as many as fit a block), keeps it with its orders
/// claimed, submits it and leaves a task following it.
async fn send_batch(s: &Arc<Acquirer>, waiting: Vec<Member>) -> anyhow::Result<()> {
	let mut items = Vec::with_capacity(waiting.len());
	let mut malformed = Vec::new();
	for m in waiting {
		match serde_json::from_str::<SignedInstruction>(&m.instruction)
			.map_err(|e| e.to_string())
			.and_then(|i| i.decode().map_err(|e| e.to_string()))
		{
			Ok(item) => items.push((m.order_id, item)),
			Err(e) => {
				malformed.push((m.order_id, Verdict::Failed(format!("MalformedInstruction: {e}"))))
			}
		}
	}
	if !malformed.is_empty() {
		// Never claimed by a batch: recorded against none.
		record(s, 0, "MALFORMED", &malformed).await;
	}
	let (ids, mut signed): (Vec<String>, Vec<_>) = items.into_iter().unzip();
	let capacity = calls::batch_capacity(pallet_clearing_bank::ledger::touched_accounts(&signed));
	signed.truncate(capacity as usize);
	if signed.is_empty() {
		return Ok(());
	}
	let ids: Vec<&str> = ids.iter().take(signed.len()).map(String::as_str).collect();
	let call = calls::post_payments(signed)?;
	let tx = s.sender.sign_next(call).await?;
	let batch = match batches::create(&s.db, &serde_json::to_string(&tx)?, &ids).await {
		Ok(batch) => batch,
		Err(e) => {
			// Its nonce was never used: the next batch takes it, or every later one would wait
			// for it in the pool.
			s.sender.resync().await;
			return Err(e.into());
		}
	};
	crate::crash_point!(crate::common::faults::ACQUIRER_BEFORE_SUBMIT);
	tracing::debug!(batch, items = ids.len(), nonce = tx.nonce, "submitting a batch");
	match s.sender.submit_signed(tx.clone()).await {
		Ok(flight) => {
			s.metrics.call("chain", "submitted");
			crate::crash_point!(crate::common::faults::ACQUIRER_AFTER_SUBMIT);
			follow(s.clone(), batch, Following::Flight(flight));
		}
		Err(ClientError::Rejected { code, reason }) => {
			// The pool never took these bytes: the orders go back to the queue, for a new
			// batch with a fresh nonce, up to their last attempt.
			s.metrics.call("chain", "refused");
			tracing::warn!(batch, code, %reason, "the pool refused a batch");
			let members = batches::members(&mut *s.db.conn().await?, batch).await;
			let verdicts = members?
				.into_iter()
				.map(|m| {
					let verdict = if m.attempts >= MAX_ATTEMPTS {
						Verdict::Failed(format!("PoolRefused: {reason}"))
					} else {
						Verdict::Requeue
					};
					(m.order_id, verdict)
				})
				.collect::<Vec<_>>();
			record(s, batch, &format!("REFUSED {code}: {reason}"), &verdicts).await;
			// What the pool refused once it refuses again at once (fees, a full pool).
			tokio::time::sleep(POLL * 4).await;
		}
		// Whether it arrived is unknown: it is followed like any other.
		Err(e) => {
			tracing::warn!(batch, error = %e, "a batch's submission failed; following it");
			follow(s.clone(), batch, Following::Stored(tx));
		}
	}
	Ok(())
}

/// What a batch is followed from.
enum Following {
	/// Submitted just now.
	Flight(InFlight),
	/// Kept from before (a restart, or a submission whose arrival is unknown).
	Stored(PendingTx),
}

/// Follows batch `batch` to its final answer in a task of its own and records it.
fn follow(s: Arc<Acquirer>, batch: i64, from: Following) {
	{
		let mut following = s.following.lock().unwrap_or_else(|e| e.into_inner());
		if !following.insert(batch) {
			return;
		}
	}
	tokio::spawn(async move {
		let result = match from {
			Following::Flight(flight) => flight.follow().await.result,
			Following::Stored(tx) => {
				resolve(&s.conn, &tx, s.config.bookkeeping_wait.into()).await.result
			}
		};
		crate::crash_point!(crate::common::faults::ACQUIRER_BEFORE_RECORD);
		// Read first: the connection is given back before the verdicts need one.
		let members = batches::members(&mut *conn_or_log(&s).await, batch).await;
		match members {
			Ok(members) => {
				let (outcome, verdicts) = verdicts(&s, members, &result).await;
				record(&s, batch, &outcome, &verdicts).await;
			}
			Err(e) => tracing::error!(batch, error = %e, "could not read a batch's orders"),
		}
		s.following.lock().unwrap_or_else(|e| e.into_inner()).remove(&batch);
	});
}

async fn conn_or_log(s: &Acquirer) -> sqlx::pool::PoolConnection<sqlx::Any> {
	loop {
		match s.db.conn().await {
			Ok(c) => return c,
			Err(e) => {
				tracing::error!(error = %e, "the store is unreachable; waiting");
				tokio::time::sleep(POLL * 4).await;
			}
		}
	}
}

/// The open batches a crash (or another leader) left: each sent again as signed (the chain
/// includes those bytes at most once) and followed.
async fn recover(s: &Arc<Acquirer>) -> anyhow::Result<()> {
	for (batch, text) in batches::open(&s.db).await? {
		if s.following.lock().unwrap_or_else(|e| e.into_inner()).contains(&batch) {
			continue;
		}
		let tx: PendingTx = serde_json::from_str(&text)
			.map_err(|e| anyhow::anyhow!("batch {batch}: stored transaction: {e}"))?;
		tracing::info!(batch, nonce = tx.nonce, "resuming a batch");
		match s.sender.submit_signed(tx.clone()).await {
			Ok(flight) => follow(s.clone(), batch, Following::Flight(flight)),
			// Refused as outdated (included already, or its nonce used) or otherwise: the
			// finalized blocks say which.
			Err(_) => follow(s.clone(), batch, Following::Stored(tx)),
		}
	}
	Ok(())
}

/// What each order of a batch came to, from the batch's final answer.
async fn verdicts(
	s: &Acquirer,
	members: Vec<Member>,
	result: &TxResult,
) -> (String, Vec<(String, Verdict)>) {
	match result {
		TxResult::Finalized { block, number, outcome: Outcome::Succeeded(events), .. } => {
			let items: HashMap<String, ItemOutcome> = batch_outcomes(events).into_iter().collect();
			let mut verdicts = Vec::with_capacity(members.len());
			for m in members {
				let verdict = match items.get(&m.order_id) {
					Some(ItemOutcome::Posted { posting_id, cycle }) => Verdict::Posted(Posted {
						posting_id: *posting_id,
						cycle: *cycle,
						block_number: *number,
						block_hash: format!("{block:?}"),
					}),
					// Posted by an earlier batch: where it is.
					Some(ItemOutcome::AlreadyPosted { .. }) => {
						match find_posting(s, &m.order_id, Some(*block)).await {
							Ok(Some(p)) => Verdict::Posted(p),
							Ok(None) => Verdict::Unknown("posted already, but not found".into()),
							Err(e) => Verdict::Unknown(format!("chain lookup: {e}")),
						}
					}
					Some(ItemOutcome::Refused { error }) => Verdict::Failed(error.clone()),
					Some(ItemOutcome::Unresolved) | None => {
						Verdict::Unknown(format!("not among batch #{number}'s events"))
					}
				};
				verdicts.push((m.order_id, verdict));
			}
			(format!("FINALIZED #{number}"), verdicts)
		}
		// The whole call failed: no order of it was posted.
		TxResult::Finalized { number, outcome: Outcome::Failed { error, .. }, .. } => (
			format!("FAILED #{number}: {error}"),
			members.into_iter().map(|m| (m.order_id, Verdict::Failed(error.clone()))).collect(),
		),
		// Never included, never will be: back to the queue while the chain would still accept
		// the instruction.
		TxResult::Expired { death } => {
			let now = queries::chain_time(&s.conn, None).await.ok();
			let verdicts = members
				.into_iter()
				.map(|m| {
					let valid = serde_json::from_str::<SignedInstruction>(&m.instruction)
						.ok()
						.zip(now)
						.is_some_and(|(i, now)| now < i.expires_at);
					let verdict = if valid && m.attempts < MAX_ATTEMPTS {
						Verdict::Requeue
					} else {
						Verdict::Failed(TRANSACTION_EXPIRED.into())
					};
					(m.order_id, verdict)
				})
				.collect();
			(format!("EXPIRED at #{death}"), verdicts)
		}
		TxResult::Unknown { reason } => (
			format!("UNKNOWN: {reason}"),
			members.into_iter().map(|m| (m.order_id, Verdict::Unknown(reason.clone()))).collect(),
		),
	}
}

/// Records the verdicts (batch 0: orders no batch claimed) and wakes whoever waits for them,
/// here and in the other processes.
async fn record(s: &Acquirer, batch: i64, outcome: &str, verdicts: &[(String, Verdict)]) {
	let mut tries = 0;
	let changed = loop {
		tries += 1;
		match batches::record(&s.db, batch, outcome, verdicts).await {
			Ok(changed) => break changed,
			Err(e) if tries < 10 => {
				tracing::error!(batch, error = %e, "could not record a batch; retrying");
				tokio::time::sleep(POLL * 4).await;
			}
			// Left open: the next leader (or this one after a restart) follows it again.
			Err(e) => {
				tracing::error!(batch, error = %e, "could not record a batch; left open");
				return;
			}
		}
	};
	for (_, status) in &changed {
		s.metrics.order(status.as_str());
		if *status == OrderStatus::Unknown {
			tracing::warn!(batch, %outcome, "posting outcome unknown");
		}
	}
	if !changed.is_empty() {
		s.outbox_wake.notify_one();
	}
	s.waiters.wake(verdicts.iter().map(|(id, _)| id.as_str()));
	if let Err(e) = s.signals.send(RECORDED, &batch.to_string()).await {
		tracing::warn!(error = %e, "could not signal a recorded batch");
	}
}
