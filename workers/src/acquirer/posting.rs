//! Bookkeeping: the issuer's signed instruction is posted on chain, and the answer comes only
//! from the finalized chain. One order is posted by one task at a time; the chain lookup
//! before every submission and the pallet's idempotency by order id make a resubmission after
//! a crash harmless.

use super::{
	order::{self, Order, OrderStatus, Posted},
	Acquirer,
};
use crate::common::{
	api::ApiError,
	wire::{scenario_of, BookkeepingRequest, BookkeepingResult},
};
use clearline_client::{
	calls, instruction::SignedInstruction, queries, resolve, Error as ClientError, Outcome,
	PendingTx, TxResult,
};
use std::{sync::Arc, time::Duration};

/// How a posting attempt ended.
enum PostOutcome {
	Posted(Posted),
	Failed(String),
	Unknown(String),
}

/// The answer the issuer gets for an order in its current state.
pub fn result_of(order: &Order) -> BookkeepingResult {
	let result = match order.status {
		OrderStatus::Success => "SUCCESS",
		OrderStatus::Failed | OrderStatus::Closed => "FAILURE",
		OrderStatus::Posting => "PROCESSING",
		OrderStatus::Unknown => "UNKNOWN",
		OrderStatus::AwaitingPayment | OrderStatus::DebitRequested => "NOT_RECEIVED",
	};
	BookkeepingResult {
		acquirer_order_id: order.order_id.clone(),
		result: result.into(),
		posting_id: order.posting_id.map(|p| p as u64),
		cycle: order.cycle.map(|c| c as u32),
		block_number: order.block_number.map(|n| n as u32),
		block_hash: order.block_hash.clone(),
		reason: order.reason.clone(),
	}
}

fn mismatch(field: &str) -> ApiError {
	ApiError::conflict("InstructionMismatch", format!("{field} does not match the order"))
}

/// Checks that the instruction is for this order exactly as we took it.
fn check_instruction(
	s: &Acquirer,
	order: &Order,
	r: &BookkeepingRequest,
	i: &SignedInstruction,
) -> Result<(), ApiError> {
	let (decoded, _) =
		i.decode().map_err(|e| ApiError::bad_request("MalformedInstruction", e.to_string()))?;
	if i.acquirer_order_id != order.order_id {
		return Err(mismatch("acquirerOrderId"));
	}
	if i.issuer_order_id != r.issuer_order_id
		|| order.issuer_order_id.as_ref().is_some_and(|o| *o != r.issuer_order_id)
	{
		return Err(mismatch("issuerOrderId"));
	}
	if i.aggregator_order_id != order.aggregator_order_id {
		return Err(mismatch("aggregatorOrderId"));
	}
	if i.merchant_id != order.merchant_id {
		return Err(mismatch("merchantId"));
	}
	if i.scenario != scenario_of(&order.scenario) {
		return Err(mismatch("scenario"));
	}
	if i.credit_currency.0 != *b"CNY"
		|| order.currency != "CNY"
		|| i.credit_amount.0 != order.amount as u128
	{
		return Err(mismatch("creditAmount"));
	}
	if decoded.acquirer != s.sender.account() {
		return Err(mismatch("acquirer"));
	}
	if i.genesis_hash != s.conn.genesis_hash() {
		return Err(mismatch("genesisHash"));
	}
	Ok(())
}

/// The bookkeeping call: records the issuer's debit status, posts a debited payment and
/// answers from finality.
pub async fn bookkeep(
	s: &Arc<Acquirer>,
	r: BookkeepingRequest,
) -> Result<BookkeepingResult, ApiError> {
	let held = s.posting_locks.lock(&r.acquirer_order_id).await?;
	let order = order::get(&s.db, &r.acquirer_order_id).await?;
	if order.issuer_order_id.as_ref().is_some_and(|o| *o != r.issuer_order_id) {
		return Err(mismatch("issuerOrderId"));
	}
	match r.debit_status.as_str() {
		"FAILED" => {
			let reason =
				format!("IssuerDebitFailed: {}", r.reason.as_deref().unwrap_or("unspecified"));
			// A posting in flight or done cannot be failed by word; an unknown one can, because
			// the issuer says so only once the chain proved the instruction can never post
			// (voided, or expired unposted).
			if matches!(order.status, OrderStatus::Posting | OrderStatus::Success) {
				return Err(ApiError::conflict(
					"OrderAlreadyDebited",
					"the issuer sent a debited instruction for this order before",
				));
			}
			if order::finish(&s.db, &order.order_id, None, Some(&reason)).await? {
				s.metrics.order(OrderStatus::Failed.as_str());
				s.outbox_wake.notify_one();
			}
		}
		"DEBITED" => {
			let instruction = r
				.instruction
				.as_ref()
				.ok_or_else(|| ApiError::invalid("instruction", "required when DEBITED"))?;
			check_instruction(s, &order, &r, instruction)?;
			match order.status {
				OrderStatus::DebitRequested | OrderStatus::Posting => {
					let text = serde_json::to_string(instruction).map_err(ApiError::internal)?;
					if let Some(stored) = &order.instruction {
						if *stored != text {
							return Err(mismatch("instruction"));
						}
					}
					order::start_posting(&s.db, &order.order_id, &text, &r.issuer_order_id).await?;
					s.metrics.order(OrderStatus::Posting.as_str());
					// Posting goes on in its own task, holding the order's lock: the issuer hanging
					// up must not leave the order half-way, nor open it to a second poster.
					let pending =
						order.pending_tx.as_deref().and_then(|t| serde_json::from_str(t).ok());
					let (s2, id, instruction) =
						(s.clone(), order.order_id.clone(), instruction.clone());
					tokio::spawn(async move {
						let _held = held;
						post_and_record(&s2, &id, &instruction, pending).await
					})
					.await
					.map_err(ApiError::internal)??;
				}
				OrderStatus::AwaitingPayment => {
					return Err(ApiError::conflict(
						"OrderNotCheckedOut",
						"check the order out first",
					))
				}
				// Final or unknown: answered as it stands, never posted again from here.
				_ => {}
			}
		}
		_ => return Err(ApiError::invalid("debitStatus", "must be DEBITED or FAILED")),
	}
	Ok(result_of(&order::get(&s.db, &r.acquirer_order_id).await?))
}

/// Posts (or, with `pending`, first looks for the transaction of an earlier attempt) and
/// records the final status or `UNKNOWN`.
async fn post_and_record(
	s: &Arc<Acquirer>,
	order_id: &str,
	instruction: &SignedInstruction,
	pending: Option<PendingTx>,
) -> Result<(), ApiError> {
	let outcome = post(s, order_id, instruction, pending).await;
	crate::crash_point!(crate::common::faults::ACQUIRER_BEFORE_RECORD);
	let (status, changed) = match outcome {
		PostOutcome::Posted(p) => {
			(OrderStatus::Success, order::finish(&s.db, order_id, Some(&p), None).await?)
		}
		PostOutcome::Failed(reason) => {
			(OrderStatus::Failed, order::finish(&s.db, order_id, None, Some(&reason)).await?)
		}
		PostOutcome::Unknown(reason) => {
			tracing::warn!(order = order_id, %reason, "posting outcome unknown");
			(OrderStatus::Unknown, order::leave_unknown(&s.db, order_id, &reason).await?)
		}
	};
	if changed {
		s.metrics.order(status.as_str());
		s.outbox_wake.notify_one();
	}
	Ok(())
}

/// Where the posting of `order_id` is, if the finalized chain has it.
async fn find_posting(
	s: &Acquirer,
	order_id: &str,
	at: Option<sp_core::H256>,
) -> Result<Option<Posted>, ClientError> {
	// Only the finalized chain counts: a posting in a best block may still be dropped.
	let at = match at {
		Some(at) => at,
		None => s.conn.finalized().await?.1,
	};
	let Some(p) = queries::posting(&s.conn, &s.sender.account(), order_id, Some(at)).await? else {
		return Ok(None);
	};
	let number = p.block as u32;
	let block = s.conn.finalized_block(number).await?;
	Ok(Some(Posted {
		posting_id: p.posting_id,
		cycle: p.cycle,
		block_number: number,
		block_hash: format!("{:?}", block.hash),
	}))
}

/// What a transaction's final answer means for the order.
async fn from_report(s: &Acquirer, order_id: &str, result: TxResult) -> PostOutcome {
	let lookup = |at| async move {
		find_posting(s, order_id, at)
			.await
			.map_err(|e| PostOutcome::Unknown(format!("chain lookup: {e}")))
	};
	match result {
		TxResult::Finalized { outcome: Outcome::Failed { error, .. }, .. } => {
			PostOutcome::Failed(error)
		}
		// Posted (or found posted already) in that finalized block.
		TxResult::Finalized { block, .. } => match lookup(Some(block)).await {
			Ok(Some(posted)) => PostOutcome::Posted(posted),
			Ok(None) => PostOutcome::Unknown("succeeded, but no posting at its block".into()),
			Err(unknown) => unknown,
		},
		// Never in a finalized block; an earlier transaction may still have posted it.
		TxResult::Expired { .. } => match lookup(None).await {
			Ok(Some(posted)) => PostOutcome::Posted(posted),
			Ok(None) => PostOutcome::Failed(TRANSACTION_EXPIRED.into()),
			Err(unknown) => unknown,
		},
		TxResult::Unknown { reason } => PostOutcome::Unknown(reason),
	}
}

async fn post(
	s: &Arc<Acquirer>,
	order_id: &str,
	instruction: &SignedInstruction,
	pending: Option<PendingTx>,
) -> PostOutcome {
	if let Some(tx) = pending {
		// The transaction of an earlier attempt answers first. Only its expiry lets a new
		// one go out; a finalized failure is final.
		let report = resolve(&s.conn, &tx, s.config.bookkeeping_wait.into()).await;
		match from_report(s, order_id, report.result).await {
			PostOutcome::Failed(reason) if reason == TRANSACTION_EXPIRED => {}
			outcome => return outcome,
		}
	}
	// A transaction the node lost (restarted, or dropped from its pool) expires unfinalized;
	// the payer is debited already, so while the instruction is valid it goes out again.
	let mut round = 1;
	loop {
		match submit_and_follow(s, order_id, instruction).await {
			PostOutcome::Failed(reason)
				if reason == TRANSACTION_EXPIRED
					&& round < MAX_SUBMISSIONS
					&& still_valid(s, instruction).await =>
			{
				tracing::warn!(
					order = order_id,
					round,
					"posting transaction expired unfinalized; submitting again"
				);
				round += 1;
			}
			outcome => return outcome,
		}
	}
}

/// How many transactions one posting may use before it is declared failed.
const MAX_SUBMISSIONS: u32 = 5;
const TRANSACTION_EXPIRED: &str = "TransactionExpired";

/// Whether the chain would still accept the instruction (its clock, at the finalized head,
/// is before the expiry).
async fn still_valid(s: &Acquirer, instruction: &SignedInstruction) -> bool {
	match queries::chain_time(&s.conn, None).await {
		Ok(now) => now < instruction.expires_at,
		Err(_) => false,
	}
}

/// Looks for the posting on the finalized chain; submits one if there is none and follows it
/// to its end.
async fn submit_and_follow(
	s: &Arc<Acquirer>,
	order_id: &str,
	instruction: &SignedInstruction,
) -> PostOutcome {
	match find_posting(s, order_id, None).await {
		Ok(Some(posted)) => return PostOutcome::Posted(posted),
		Ok(None) => {}
		Err(e) => return PostOutcome::Unknown(format!("chain lookup: {e}")),
	}
	let (decoded, signature) = match instruction.decode() {
		Ok(d) => d,
		Err(e) => return PostOutcome::Failed(format!("MalformedInstruction: {e}")),
	};
	crate::crash_point!(crate::common::faults::ACQUIRER_BEFORE_SUBMIT);
	let flight = match s.sender.submit(calls::post_payment(decoded, signature)).await {
		Ok(f) => f,
		Err(ClientError::Rejected { reason, .. }) => {
			s.metrics.call("chain", "refused");
			return PostOutcome::Failed(format!("PoolRefused: {reason}"));
		}
		Err(e) => return PostOutcome::Unknown(format!("submission: {e}")),
	};
	s.metrics.call("chain", "submitted");
	let pending_json = serde_json::to_string(flight.tx()).unwrap_or_default();
	if let Err(e) = order::set_pending_tx(&s.db, order_id, &pending_json).await {
		tracing::error!(order = order_id, error = %e, "could not store the pending transaction");
	}
	crate::crash_point!(crate::common::faults::ACQUIRER_AFTER_SUBMIT);
	let report = flight.follow().await;
	from_report(s, order_id, report.result).await
}

/// Continues every posting a crash interrupted.
pub async fn resume(s: Arc<Acquirer>) -> Result<(), ApiError> {
	let orders = order::in_statuses(&s.db, &[OrderStatus::Posting]).await?;
	for order in orders {
		let s = s.clone();
		tokio::spawn(async move {
			if let Err(e) = finish_interrupted(&s, &order.order_id).await {
				tracing::warn!(order = %order.order_id, error = %e, "could not resume posting");
			}
		});
	}
	Ok(())
}

/// Ends a `POSTING` or `UNKNOWN` order from what the chain says; `repost` allows a new
/// submission while the instruction is still valid.
pub async fn finish_interrupted(s: &Arc<Acquirer>, order_id: &str) -> Result<(), ApiError> {
	let _held = s.posting_locks.lock(order_id).await?;
	// Read under the lock: a bookkeeping call may have finished the order meanwhile.
	let Some(order) = order::load(&s.db, order_id).await? else { return Ok(()) };
	let (true, Some(text)) = (order.status == OrderStatus::Posting, &order.instruction) else {
		return Ok(());
	};
	let instruction: SignedInstruction = serde_json::from_str(text)
		.map_err(|e| ApiError::internal(format!("stored instruction: {e}")))?;
	let pending: Option<PendingTx> =
		order.pending_tx.as_deref().and_then(|t| serde_json::from_str(t).ok());
	tracing::info!(order = %order.order_id, "resuming posting");
	post_and_record(s, &order.order_id, &instruction, pending).await
}

/// Reconciliation's view of an unknown order: posted (success), refused or expired
/// (failure), or still undecided.
pub async fn settle_unknown(
	s: &Arc<Acquirer>,
	order: &Order,
) -> Result<Option<OrderStatus>, ApiError> {
	let Some(_held) = s.posting_locks.try_lock(&order.order_id).await? else { return Ok(None) };
	let current = order::load(&s.db, &order.order_id).await?;
	let Some(order) =
		current.filter(|o| matches!(o.status, OrderStatus::Unknown | OrderStatus::Posting))
	else {
		return Ok(None);
	};
	let order = &order;
	let id = order.order_id.as_str();
	let unavailable = |e: ClientError| ApiError::unavailable("ChainUnavailable", e.to_string());
	// The lookup and the clock are read at one block, so that a posting cannot slip in
	// between them.
	let (_, head) = s.conn.finalized().await.map_err(unavailable)?;
	let posted = find_posting(s, &order.order_id, Some(head)).await.map_err(unavailable)?;
	if let Some(p) = posted {
		order::finish(&s.db, id, Some(&p), None).await?;
		return Ok(Some(OrderStatus::Success));
	}
	if let Some(tx) =
		order.pending_tx.as_deref().and_then(|t| serde_json::from_str::<PendingTx>(t).ok())
	{
		let report = resolve(&s.conn, &tx, Duration::ZERO).await;
		if let TxResult::Finalized { outcome: Outcome::Failed { error, .. }, .. } = report.result {
			order::finish(&s.db, id, None, Some(&error)).await?;
			return Ok(Some(OrderStatus::Failed));
		}
	}
	// No posting, and the chain would refuse one now: nothing can ever post it.
	let expires_at = order
		.instruction
		.as_deref()
		.and_then(|t| serde_json::from_str::<SignedInstruction>(t).ok())
		.map(|i| i.expires_at);
	let chain_time = queries::chain_time(&s.conn, Some(head)).await.map_err(unavailable)?;
	if expires_at.is_none_or(|t| chain_time > t) {
		let reason = "InstructionExpired: not posted before the instruction's expiry";
		order::finish(&s.db, id, None, Some(reason)).await?;
		return Ok(Some(OrderStatus::Failed));
	}
	Ok(None)
}
