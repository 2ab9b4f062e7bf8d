//! The issuer's side of one payment, step by step as the payment flows go: verify the payment code,
//! quote FX from the chain, debit the wallet and sign the instruction (one store
//! transaction), call the acquirer's bookkeeping, and settle by its answer: success (checked
//! on the chain), failure or unknown (left for reconciliation). On a bookkeeping timeout the
//! acquirer's order is queried.
//!
//! An answer is only a message, and the signed instruction stays postable until it expires:
//! so a failure is never reversed on the acquirer's word. The issuer first voids the
//! instruction on chain (`void_instruction`); once the void is final no posting can follow and
//! the debit is given back, and if the chain refuses the void because a posting holds the
//! order, the payment succeeded.

use super::{
	order::{self, Debit, NoPosting, Order, OrderStatus, VoidState},
	wallet::{self, WalletStatus},
	Issuer,
};
use crate::common::{
	api::ApiError,
	locks::OrderGuard,
	now_ms,
	peer::PeerError,
	wire::{scenario_of, BookkeepingRequest, BookkeepingResult},
};
use clearline_client::{
	calls, instruction::SignedInstruction, queries, Error as ClientError, Outcome, TxResult,
};
use pallet_clearing_bank::PaymentInstruction;
use pallet_clearing_bank_rpc::PostingLookupJson;
use pallet_fx_rate::{CurrencyCode, QuoteSide};
use reqwest::Method;
use sqlx::AnyConnection;
use std::{sync::Arc, time::Duration};

/// Starts processing an order in the background.
pub fn spawn(s: &Arc<Issuer>, order_id: String) {
	let s = s.clone();
	tokio::spawn(async move {
		if let Err(e) = drive(&s, &order_id).await {
			stopped(&order_id, e);
		}
	});
}

fn stopped(order_id: &str, e: ApiError) {
	tracing::warn!(order = %order_id, error = %e, "processing stopped; reconciliation takes over");
}

/// Starts a new debit request's order: its first step is awaited, so that the
/// acknowledgement says whether the payer must confirm (`AWAITING_PAYER`) or the order was
/// debited or rejected at once, and the rest goes on in the background. Both run in a task of
/// their own, which holds the order's lock from the first step to the last: a dropped request
/// (a timeout, a client gone) still leaves the order its task.
pub async fn start(s: &Arc<Issuer>, order_id: String) {
	let s = s.clone();
	let (first_done, first) = tokio::sync::oneshot::channel::<()>();
	tokio::spawn(async move {
		let step = async {
			let held = s.order_locks.lock(&order_id).await?;
			let order = order::get(&s.db, &order_id).await?;
			if order.status == OrderStatus::Received {
				debit(&s, &order).await?;
			}
			Ok::<_, ApiError>(held)
		};
		let stepped = step.await;
		let _ = first_done.send(());
		let outcome = match stepped {
			Ok(held) => drive_held(&s, &order_id, held).await,
			Err(e) => {
				tracing::warn!(order = %order_id, error = %e, "first step failed; the order's task retries it");
				drive(&s, &order_id).await
			}
		};
		if let Err(e) = outcome {
			stopped(&order_id, e);
		}
	});
	// Dropped unsent only if the task panicked: the answer then says what the store holds.
	let _ = first.await;
}

/// Takes up every order a crash interrupted.
pub async fn resume(s: &Arc<Issuer>) -> Result<(), ApiError> {
	for order in order::to_resume(&s.db).await? {
		tracing::info!(order = %order.issuer_order_id, status = %order.status, "resuming");
		spawn(s, order.issuer_order_id);
	}
	Ok(())
}

/// Moves the order on until it is final or unknown.
pub async fn drive(s: &Arc<Issuer>, order_id: &str) -> Result<(), ApiError> {
	let held = s.order_locks.lock(order_id).await?;
	drive_held(s, order_id, held).await
}

/// [`drive`], with the order's lock already held.
async fn drive_held(s: &Arc<Issuer>, order_id: &str, _held: OrderGuard) -> Result<(), ApiError> {
	loop {
		let order = order::get(&s.db, order_id).await?;
		match order.status {
			OrderStatus::Received => debit(s, &order).await?,
			// The payer's answer (or its expiry) moves it on and starts a task again.
			OrderStatus::AwaitingPayer => return Ok(()),
			OrderStatus::Debited if order.void_state == VoidState::Wanted => {
				void_then_reverse(s, &order).await?;
				return Ok(());
			}
			OrderStatus::Debited => bookkeeping(s, &order).await?,
			OrderStatus::Rejected | OrderStatus::Failed if !order.acquirer_informed => {
				inform_rejection(s, &order).await?;
				return Ok(());
			}
			_ => return Ok(()),
		}
	}
}

async fn reject(
	s: &Issuer,
	tx: &mut AnyConnection,
	order_id: &str,
	reason: &str,
) -> Result<bool, ApiError> {
	order::reject(tx, order_id, reason).await?;
	s.metrics.order(OrderStatus::Rejected.as_str());
	Ok(false)
}

/// The chain's quote now of the HKD that pays `cny` (minor units of CNY): the quote, or why
/// the chain refused to quote; `ChainUnavailable` when it could not be asked.
pub async fn hkd_quote(
	conn: &clearline_client::Connection,
	cny: i64,
) -> Result<Result<pallet_fx_rate_rpc::QuoteJson, String>, ApiError> {
	let side = QuoteSide::ExactTarget;
	match queries::quote(conn, CurrencyCode::HKD, CurrencyCode::CNY, cny as u128, side, None).await
	{
		Ok(q) => Ok(Ok(q)),
		Err(ClientError::Refused { message, .. }) => Ok(Err(message)),
		Err(e) => Err(ApiError::unavailable("ChainUnavailable", e.to_string())),
	}
}

/// Verifies the code (flow 1), quotes, debits and signs, or rejects the order.
async fn debit(s: &Arc<Issuer>, order: &Order) -> Result<(), ApiError> {
	let quote = hkd_quote(&s.conn, order.amount)
		.await?
		.map_err(|message| format!("FxQuoteRefused: {message}"));
	crate::crash_point!(crate::common::faults::ISSUER_BEFORE_DEBIT);
	let mut tx = s.db.begin().await?;
	let debited = debit_in(s, &mut tx, order, quote).await?;
	tx.commit().await?;
	if debited {
		s.metrics.order(OrderStatus::Debited.as_str());
	}
	Ok(())
}

/// [`debit`]'s one transaction: the order debited and its instruction signed, or rejected.
async fn debit_in(
	s: &Issuer,
	tx: &mut AnyConnection,
	order: &Order,
	quote: Result<pallet_fx_rate_rpc::QuoteJson, String>,
) -> Result<bool, ApiError> {
	let id = &order.issuer_order_id;
	let wallet_id = match &order.payment_code {
		Some(code) => match order::spend_code(tx, id, code).await? {
			Ok(wallet_id) => wallet_id,
			Err(reason) => return reject(s, tx, id, reason).await,
		},
		None => {
			order.wallet_id.clone().ok_or_else(|| ApiError::internal("order without wallet"))?
		}
	};
	let quote = match quote {
		Ok(q) => q,
		Err(reason) => return reject(s, tx, id, &reason).await,
	};
	let wallet =
		wallet::wallet(tx, &wallet_id).await?.ok_or_else(|| ApiError::internal("wallet gone"))?;
	if wallet.status != WalletStatus::Active {
		return reject(s, tx, id, "WalletLocked").await;
	}
	let Some(debit_amount) =
		i64::try_from(quote.source_amount.0).ok().filter(|a| *a < 1_000_000_000_000_000)
	else {
		return reject(s, tx, id, "AmountOutOfRange").await;
	};
	if wallet.balance < debit_amount {
		return reject(s, tx, id, "InsufficientBalance").await;
	}
	// A payment code is a bearer token: above the no-PIN limit the payer confirms first.
	if order.payment_code.is_some()
		&& !order.payer_confirmed
		&& debit_amount > s.config.no_pin_limit
	{
		let window = Duration::from(s.config.confirm_window).as_millis() as i64;
		order::await_payer(tx, id, now_ms() + window).await?;
		s.metrics.order(OrderStatus::AwaitingPayer.as_str());
		return Ok(false);
	}
	let field = |name: &'static str, text: &str| {
		clearline_client::calls::order_id(name, text).map_err(ApiError::internal)
	};
	let validity = Duration::from(s.config.instruction_validity);
	let expires_at = now_ms() as u64 + validity.as_millis() as u64;
	let instruction = PaymentInstruction {
		issuer: s.chain_key.account_id(),
		acquirer: s.acquirer_account.clone(),
		acquirer_order_id: field("acquirerOrderId", &order.acquirer_order_id)?,
		issuer_order_id: field("issuerOrderId", id)?,
		aggregator_order_id: field("aggregatorOrderId", &order.aggregator_order_id)?,
		merchant_id: field("merchantId", &order.merchant_id)?,
		scenario: scenario_of(&order.scenario),
		debit_currency: CurrencyCode::HKD,
		debit_amount: debit_amount as u128,
		credit_currency: CurrencyCode::CNY,
		credit_amount: order.amount as u128,
		rate_id: quote.rate_id,
		expires_at,
	};
	let signed = SignedInstruction::sign(&s.chain_key, &s.conn.chain_context(), &instruction);
	let text = serde_json::to_string(&signed).map_err(ApiError::internal)?;
	let debit = Debit {
		wallet_id: &wallet_id,
		amount: debit_amount,
		rate_id: quote.rate_id,
		expires_at,
		instruction: &text,
	};
	order::debit(tx, id, order.status, &debit).await?;
	Ok(true)
}

/// Tells the acquirer a payment came to nothing (rejected before the debit, or reversed after
/// its instruction expired unposted), so that its order fails too.
async fn inform_rejection(s: &Issuer, order: &Order) -> Result<(), ApiError> {
	let request = BookkeepingRequest {
		acquirer_order_id: order.acquirer_order_id.clone(),
		issuer_order_id: order.issuer_order_id.clone(),
		debit_status: "FAILED".into(),
		instruction: None,
		reason: order.reason.clone(),
	};
	let answer: Result<BookkeepingResult, _> = s
		.acquirer
		.call_with_retry(
			Method::POST,
			"/v1/bookkeeping",
			Some(&request),
			s.config.bookkeeping_timeout.into(),
			s.config.common.retry(),
			true,
		)
		.await;
	match answer {
		// A refusal says the acquirer has nothing to fail (or failed it already).
		Ok(_) | Err(PeerError::Refused { status: 400..=499, .. }) => {
			Ok(order::acquirer_informed(&s.db, &order.issuer_order_id).await?)
		}
		Err(e) => Err(ApiError::unavailable("AcquirerUnavailable", e.to_string())),
	}
}

/// What the acquirer's answer means for the order.
enum Answer {
	Success,
	Failure(String),
	Unknown(String),
	/// The acquirer never got the instruction: send it again.
	NotReceived,
	/// Still being posted: ask again.
	Processing,
}

fn answer_of(r: &BookkeepingResult) -> Answer {
	match r.result.as_str() {
		"SUCCESS" => Answer::Success,
		"FAILURE" => Answer::Failure(r.reason.clone().unwrap_or_else(|| "AcquirerFailure".into())),
		"NOT_RECEIVED" => Answer::NotReceived,
		"PROCESSING" => Answer::Processing,
		_ => {
			Answer::Unknown(r.reason.clone().unwrap_or_else(|| "acquirer answered UNKNOWN".into()))
		}
	}
}

/// The bookkeeping call and what follows from its answer.
async fn bookkeeping(s: &Arc<Issuer>, order: &Order) -> Result<(), ApiError> {
	let instruction: SignedInstruction = serde_json::from_str(
		order
			.instruction
			.as_deref()
			.ok_or_else(|| ApiError::internal("debited without instruction"))?,
	)
	.map_err(ApiError::internal)?;
	let request = BookkeepingRequest {
		acquirer_order_id: order.acquirer_order_id.clone(),
		issuer_order_id: order.issuer_order_id.clone(),
		debit_status: "DEBITED".into(),
		instruction: Some(instruction),
		reason: None,
	};
	crate::crash_point!(crate::common::faults::ISSUER_AFTER_DEBIT);
	let policy = s.config.common.retry();
	let timeout: Duration = s.config.bookkeeping_timeout.into();
	let status_path = format!("/v1/bookkeeping/{}", order.acquirer_order_id);
	let mut rounds = 0;
	let answer = loop {
		rounds += 1;
		let sent: Result<BookkeepingResult, _> = s
			.acquirer
			.call_with_retry(
				Method::POST,
				"/v1/bookkeeping",
				Some(&request),
				timeout,
				policy,
				false,
			)
			.await;
		let query = || async {
			let queried: Result<BookkeepingResult, _> = s
				.acquirer
				.call_with_retry::<(), _>(Method::GET, &status_path, None, timeout, policy, true)
				.await;
			queried.map(|r| answer_of(&r))
		};
		let mut answer = match sent {
			Ok(r) => answer_of(&r),
			// A refusal of the call is not a failure of the payment (a clock out of the
			// window, a key being rotated): the order's status decides, and without one the
			// order waits for reconciliation, which reverses only once the instruction expired.
			Err(PeerError::Refused { status: 400..=499, code, message }) => {
				tracing::warn!(order = %order.issuer_order_id, %code, %message, "bookkeeping call refused; querying");
				match query().await {
					Ok(Answer::NotReceived) | Err(_) => Answer::Unknown(format!(
						"the acquirer refused the bookkeeping call: {code} ({message})"
					)),
					Ok(answer) => answer,
				}
			}
			Err(e) => {
				// No answer: ask where the order stands (the flows' order query).
				s.metrics.call("acquirer", "bookkeeping_timeout");
				tracing::warn!(order = %order.issuer_order_id, error = %e, "bookkeeping unanswered; querying");
				query()
					.await
					.unwrap_or_else(|e| Answer::Unknown(format!("acquirer unreachable: {e}")))
			}
		};
		while matches!(answer, Answer::Processing) && rounds < policy.attempts {
			rounds += 1;
			tokio::time::sleep(policy.backoff(rounds)).await;
			answer = query()
				.await
				.unwrap_or_else(|e| Answer::Unknown(format!("acquirer unreachable: {e}")));
		}
		match answer {
			Answer::NotReceived if rounds < policy.attempts => continue,
			Answer::NotReceived | Answer::Processing => {
				break Answer::Unknown("the acquirer has not finished the bookkeeping".into())
			}
			other => break other,
		}
	};
	crate::crash_point!(crate::common::faults::ISSUER_AFTER_BOOKKEEPING);
	let id = order.issuer_order_id.clone();
	match answer {
		Answer::Success => confirm_success(s, order).await,
		Answer::Failure(reason) => {
			// The acquirer told us: it needs no word back. But its word does not stop a
			// posting; the void does.
			order::want_void(&s.db, &id, &reason).await?;
			match order::load(&s.db, &id).await? {
				Some(order) => void_then_reverse(s, &order).await,
				None => Ok(()),
			}
		}
		Answer::Unknown(reason) => leave_unknown(s, id, reason).await,
		Answer::NotReceived | Answer::Processing => unreachable!("resolved in the loop"),
	}
}

/// Voids the order's instruction on chain and settles the order by what the chain says: the
/// void final (the debit is given back), a posting there already (the payment succeeded), or
/// no final answer (left for reconciliation, which voids again or waits for the expiry).
async fn void_then_reverse(s: &Arc<Issuer>, order: &Order) -> Result<(), ApiError> {
	let id = order.issuer_order_id.clone();
	let call = calls::void_instruction(&id).map_err(ApiError::internal)?;
	let report = match s.sender.send(call).await {
		Ok(report) => report,
		Err(e) => return leave_unknown(s, id, format!("void not submitted: {e}")).await,
	};
	match report.result {
		TxResult::Finalized { outcome: Outcome::Succeeded(_), number, .. } => {
			s.metrics.call("chain", "voided");
			let evidence = NoPosting::Voided { block: number.into() };
			if order::reverse(&s.db, &id, evidence).await? {
				s.metrics.order(OrderStatus::Failed.as_str());
			}
			Ok(())
		}
		TxResult::Finalized { outcome: Outcome::Failed { error, .. }, .. }
			if error.ends_with("AlreadyPosted)") =>
		{
			tracing::warn!(order = %id, "the acquirer answered FAILURE but the order is posted");
			s.metrics.call("chain", "void_found_posted");
			confirm_success(s, order).await
		}
		TxResult::Finalized { outcome: Outcome::Failed { error, .. }, .. } => {
			tracing::error!(order = %id, %error, "the chain refused the void");
			order::void_refused(&s.db, &id, &error).await?;
			s.metrics.order(OrderStatus::Unknown.as_str());
			Ok(())
		}
		TxResult::Expired { .. } => {
			leave_unknown(s, id, "the void expired unfinalized".into()).await
		}
		TxResult::Unknown { reason } => leave_unknown(s, id, format!("void: {reason}")).await,
	}
}

/// What the finalized chain says of an order, read at `head`.
pub enum ChainWord {
	/// Posted: `(posting id, cycle, block)`.
	Posted(u64, u32, u64),
	/// Voided in this block.
	Voided(u64),
	/// Neither, yet.
	Nothing,
}

/// The finalized chain's word on `order`, looked up by the issuer's own order id. A posting
/// under it for another acquirer order would mean an instruction signed twice under one id,
/// which the issuer never does; it is reported as an error, never settled.
pub async fn chain_word(
	s: &Issuer,
	order: &Order,
	head: sp_core::H256,
) -> Result<ChainWord, ApiError> {
	let unavailable =
		|e: clearline_client::Error| ApiError::unavailable("ChainUnavailable", e.to_string());
	let me = s.chain_key.account_id();
	let found = queries::instruction(&s.conn, &me, &order.issuer_order_id, Some(head))
		.await
		.map_err(unavailable)?;
	Ok(match found {
		Some(PostingLookupJson::Posted(p)) => {
			if p.acquirer_order_id != order.acquirer_order_id || p.issuer != me {
				return Err(ApiError::internal(format!(
					"posting {} holds issuer order {} for acquirer order {}",
					p.posting_id, order.issuer_order_id, p.acquirer_order_id
				)));
			}
			ChainWord::Posted(p.posting_id, p.cycle, p.block)
		}
		Some(PostingLookupJson::Voided(v)) => ChainWord::Voided(v.block),
		None => ChainWord::Nothing,
	})
}

/// The acquirer says success (or the chain refused our void because of a posting): the
/// issuer believes the finalized chain, not the message.
pub async fn confirm_success(s: &Issuer, order: &Order) -> Result<(), ApiError> {
	let unavailable =
		|e: clearline_client::Error| ApiError::unavailable("ChainUnavailable", e.to_string());
	for attempt in 0..10 {
		// The finalized state only: a posting in a best block may still be dropped.
		let (_, head) = s.conn.finalized().await.map_err(unavailable)?;
		let id = order.issuer_order_id.clone();
		match chain_word(s, order, head).await {
			Ok(ChainWord::Posted(posting_id, cycle, block)) => {
				if order::succeed(&s.db, &id, posting_id, cycle, block).await? {
					s.metrics.order(OrderStatus::Success.as_str());
				}
				return Ok(());
			}
			Ok(ChainWord::Voided(block)) => {
				// We voided it earlier: the acquirer's success cannot be.
				if order::reverse(&s.db, &id, NoPosting::Voided { block }).await? {
					s.metrics.order(OrderStatus::Failed.as_str());
				}
				return Ok(());
			}
			Ok(ChainWord::Nothing) => {}
			Err(e) => return leave_unknown(s, id, e.to_string()).await,
		}
		// Our node may be a block behind the acquirer's.
		tokio::time::sleep(Duration::from_millis(300 * (attempt + 1))).await;
	}
	let reason = "the acquirer reported success but the finalized chain has no posting yet";
	leave_unknown(s, order.issuer_order_id.clone(), reason.into()).await
}

/// A debited order without a final answer: left for reconciliation.
async fn leave_unknown(s: &Issuer, id: String, reason: String) -> Result<(), ApiError> {
	tracing::warn!(order = %id, %reason, "left for reconciliation");
	if order::leave_unknown(&s.db, &id, &reason).await? {
		s.metrics.order(OrderStatus::Unknown.as_str());
	}
	Ok(())
}
