//! Bookkeeping: the issuer's signed instruction goes to the posting queue (the poster,
//! [`super::poster`], posts it in a batch), and the answer comes only from the finalized
//! chain.

use super::{
	batches,
	order::{self, Order, OrderStatus, Posted},
	poster, Acquirer,
};
use crate::common::{
	api::ApiError,
	wire::{scenario_of, BookkeepingRequest, BookkeepingResult},
};
use clearline_client::{
	instruction::{batch_outcomes, ItemOutcome, SignedInstruction},
	queries, resolve, Error as ClientError, Outcome, PendingTx, TxResult,
};
use std::{collections::HashMap, sync::Arc, time::Duration};
use tokio::sync::Notify;

/// The answer the issuer gets for an order in its current state.
pub fn result_of(order: &Order) -> BookkeepingResult {
	let result = match order.status {
		OrderStatus::Success => "SUCCESS",
		OrderStatus::Failed | OrderStatus::Closed => "FAILURE",
		OrderStatus::Posting => "PROCESSING",
		OrderStatus::Unknown => "UNKNOWN",
		OrderStatus::AwaitingPayment | OrderStatus::DebitRequested | OrderStatus::UserPaying => {
			"NOT_RECEIVED"
		}
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

/// The bookkeeping call: records the issuer's debit status; a debited order goes to the
/// posting queue, and the answer waits (up to `--bookkeeping-wait`) for the order's final
/// status, which only the finalized chain gives. Still posting by then: `PROCESSING`.
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
			let became = match order.status {
				// Open for payers: no attempt holds it (a repeated call for an attempt that
				// failed before changes nothing).
				OrderStatus::AwaitingPayment => None,
				// A dynamic or in-app order whose payer's attempt failed waits for another.
				OrderStatus::DebitRequested => {
					let attempt = Some(r.issuer_order_id.as_str());
					order::attempt_failed(&s.db, &order.order_id, attempt, &reason).await?
				}
				_ => order::finish(&s.db, &order.order_id, None, Some(&reason))
					.await?
					.then_some(OrderStatus::Failed),
			};
			if let Some(became) = became {
				s.metrics.order(became.as_str());
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
				OrderStatus::DebitRequested | OrderStatus::UserPaying | OrderStatus::Posting => {
					let text = serde_json::to_string(instruction).map_err(ApiError::internal)?;
					if let Some(stored) = &order.instruction {
						if *stored != text {
							return Err(mismatch("instruction"));
						}
					}
					if order.status != OrderStatus::Posting {
						let (id, from) = (&order.order_id, order.status);
						order::start_posting(&s.db, id, from, &text, &r.issuer_order_id).await?;
						s.metrics.order(OrderStatus::Posting.as_str());
						poster::queued(s).await;
					}
					drop(held);
					return Ok(result_of(&wait_final(s, &order.order_id).await?));
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

/// The order once it is no longer `POSTING`, or as it stands when `--bookkeeping-wait` has
/// passed. Woken by the recording of its batch, in this process or (through the store's
/// signals) another; the store is read again every second in case a wake-up was lost.
async fn wait_final(s: &Acquirer, order_id: &str) -> Result<Order, ApiError> {
	let deadline = tokio::time::Instant::now() + Duration::from(s.config.bookkeeping_wait);
	let waiter = s.waiters.register(order_id);
	loop {
		let woken = waiter.notified();
		tokio::pin!(woken);
		woken.as_mut().enable();
		let order = order::get(&s.db, order_id).await?;
		if order.status != OrderStatus::Posting || tokio::time::Instant::now() >= deadline {
			return Ok(order);
		}
		tokio::select! {
			_ = woken => {}
			_ = tokio::time::sleep(Duration::from_secs(1)) => {}
			_ = tokio::time::sleep_until(deadline) => {}
		}
	}
}

/// Those waiting for orders to leave `POSTING`, by order id.
#[derive(Default)]
pub struct Waiters {
	waiting: std::sync::Mutex<HashMap<String, Arc<Notify>>>,
}

/// One waiter's registration, dropped when it stops waiting.
pub struct Waiter<'a> {
	waiters: &'a Waiters,
	order_id: String,
	notify: Arc<Notify>,
}

impl std::ops::Deref for Waiter<'_> {
	type Target = Notify;
	fn deref(&self) -> &Notify {
		&self.notify
	}
}

impl Drop for Waiter<'_> {
	fn drop(&mut self) {
		let mut waiting = self.waiters.waiting.lock().unwrap_or_else(|e| e.into_inner());
		// The map's reference and this one: nobody else waits for the order.
		if Arc::strong_count(&self.notify) == 2 {
			waiting.remove(&self.order_id);
		}
	}
}

impl Waiters {
	pub fn register(&self, order_id: &str) -> Waiter<'_> {
		let mut waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
		let notify = waiting.entry(order_id.to_string()).or_default().clone();
		Waiter { waiters: self, order_id: order_id.to_string(), notify }
	}

	pub fn is_empty(&self) -> bool {
		self.waiting.lock().unwrap_or_else(|e| e.into_inner()).is_empty()
	}

	/// Wakes whoever waits for any of `orders`.
	pub fn wake<'a>(&self, orders: impl IntoIterator<Item = &'a str>) {
		let waiting = self.waiting.lock().unwrap_or_else(|e| e.into_inner());
		for id in orders {
			if let Some(n) = waiting.get(id) {
				n.notify_waiters();
			}
		}
	}
}

/// Where the posting of `order_id` is, if the finalized chain has it.
pub(super) async fn find_posting(
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

/// Reconciliation's view of an unknown order (its batch's outcome is unknown): posted
/// (success), refused or expired (failure), or still undecided. `POSTING` orders are the
/// poster's.
pub async fn settle_unknown(
	s: &Arc<Acquirer>,
	order: &Order,
) -> Result<Option<OrderStatus>, ApiError> {
	let Some(_held) = s.posting_locks.try_lock(&order.order_id).await? else { return Ok(None) };
	let current = order::load(&s.db, &order.order_id).await?;
	let Some(order) = current.filter(|o| o.status == OrderStatus::Unknown) else {
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
	// The transaction of its batch (or, for an order posted before batches, its own).
	let pending = match batches::pending_tx_of(&s.db, id).await? {
		Some(tx) => Some(tx),
		None => order.pending_tx.clone(),
	};
	if let Some(tx) = pending.as_deref().and_then(|t| serde_json::from_str::<PendingTx>(t).ok()) {
		let report = resolve(&s.conn, &tx, Duration::ZERO).await;
		let refused = match report.result {
			TxResult::Finalized { outcome: Outcome::Failed { error, .. }, .. } => Some(error),
			TxResult::Finalized { outcome: Outcome::Succeeded(events), .. } => {
				batch_outcomes(&events).into_iter().find_map(|(o, item)| match item {
					ItemOutcome::Refused { error } if o == id => Some(error),
					_ => None,
				})
			}
			_ => None,
		};
		if let Some(error) = refused {
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
