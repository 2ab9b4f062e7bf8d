//! The outbox: debit requests and refund notices to the issuer and notifications to
//! aggregators, written in the same transaction as the order or refund change that owes them, and delivered until acknowledged
//! (with backoff, up to a bound). Each recipient has a lane of its own: one whose endpoint
//! hangs holds up its own messages only, never another aggregator's or the issuer's.

use super::{
	merchant,
	messages::{self, Message, MessageKind},
	order::{self, OrderError, OrderStatus},
	Acquirer,
};
use crate::common::{
	auth::{parse_public_key, Counterparty},
	now_ms,
	peer::{send_signed, PeerError},
	wire::{DebitAccepted, DebitRequest, NotificationAck, RefundCredited, RefundNotice},
};
use reqwest::Method;
use std::{
	collections::{BTreeMap, BTreeSet},
	sync::{Arc, Mutex},
	time::Duration,
};

/// Delivers due messages forever, while this process leads: each round takes the due
/// messages of every lane not still busy with its last round, and delivers each lane's on a
/// task of its own.
pub async fn run(s: Arc<Acquirer>) {
	let busy: Arc<Mutex<BTreeSet<String>>> = Arc::default();
	loop {
		if !s.lease.is_leading() {
			tokio::time::sleep(Duration::from_millis(250)).await;
			continue;
		}
		let skip: Vec<String> = lock(&busy).iter().cloned().collect();
		match messages::due(&s.db, 256, &skip).await {
			Ok(messages) => {
				let mut lanes: BTreeMap<String, Vec<Message>> = BTreeMap::new();
				for m in messages {
					lanes.entry(m.lane.clone()).or_default().push(m);
				}
				for (lane, round) in lanes {
					lock(&busy).insert(lane.clone());
					let (s, busy) = (s.clone(), busy.clone());
					tokio::spawn(async move {
						futures::future::join_all(round.into_iter().map(|m| deliver(&s, m))).await;
						lock(&busy).remove(&lane);
						s.outbox_wake.notify_one();
					});
				}
			}
			Err(e) => tracing::warn!(error = %e, "outbox read failed"),
		}
		tokio::select! {
			_ = tokio::time::sleep(Duration::from_millis(250)) => {},
			_ = s.outbox_wake.notified() => {},
		}
	}
}

fn lock(busy: &Mutex<BTreeSet<String>>) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
	busy.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends the order's debit request at once (the micropay answer waits for it), leaving it to
/// the outbox if it does not arrive.
pub async fn deliver_now(s: &Arc<Acquirer>, order_id: &str) {
	if let Ok(Some(m)) = messages::pending_debit_request(&s.db, order_id).await {
		deliver(s, m).await;
	}
}

async fn deliver(s: &Arc<Acquirer>, m: Message) {
	let attempt = match m.kind {
		MessageKind::DebitRequest => debit_request(s, &m).await,
		MessageKind::Notify | MessageKind::RefundNotify => notify(s, &m).await,
		MessageKind::RefundNotice => refund_notice(s, &m).await,
	};
	if let Err(e) = record(s, &m, attempt).await {
		tracing::warn!(message = m.id, error = %e, "could not record a delivery");
	}
	s.metrics.call(&m.kind.as_str().to_lowercase(), "attempt");
}

/// Records how an attempt went.
async fn record(
	s: &Acquirer,
	m: &Message,
	attempt: Result<(), Delivery>,
) -> Result<(), OrderError> {
	let attempts = m.attempts + 1;
	let policy = s.outbox_policy();
	match attempt {
		Ok(()) => Ok(messages::delivered(&s.db, m.id, attempts).await?),
		Err(Delivery::Refused(reason)) => {
			// The issuer refused the debit request outright: the order fails. Only an order
			// still waiting for its debit fails by it (a retried request refused after the
			// issuer went ahead changes nothing). A refused refund notice leaves the refund as
			// the chain has it; the issuer's reconciliation reports the wallet not credited.
			let mut tx = s.db.begin().await?;
			messages::refused(&mut tx, m.id, attempts, &reason).await?;
			if m.kind == MessageKind::DebitRequest {
				let reason = format!("IssuerRefused: {reason}");
				order::fail_if_waiting(&mut tx, &m.order_id, &reason).await?;
			} else {
				let refund = &m.refund_id;
				tracing::error!(message = m.id, kind = %m.kind, %refund, %reason, "refused outright");
			}
			Ok(tx.commit().await?)
		}
		Err(Delivery::Retry(error)) => {
			// A debit request gives up after its attempts (reconciliation asks the issuer what
			// became of it). Notifications go on at the longest interval past the bound, until
			// `--notify-give-up` after they were queued; the order query shows it then, and
			// admin can send it again. A refund notice is the payer's money: it never gives up.
			let gave_up = match m.kind {
				MessageKind::DebitRequest => attempts >= policy.attempts,
				MessageKind::Notify | MessageKind::RefundNotify => {
					let give_up = Duration::from(s.config.notify_give_up).as_millis() as i64;
					now_ms().saturating_sub(m.created_at) >= give_up
				}
				MessageKind::RefundNotice => false,
			};
			let next = now_ms() + policy.backoff(attempts).as_millis() as i64;
			messages::attempt_failed(&s.db, m.id, attempts, next, gave_up, &error).await?;
			if gave_up {
				tracing::error!(message = m.id, kind = %m.kind, %error, "gave up delivering");
			} else if attempts >= policy.attempts {
				tracing::error!(message = m.id, kind = %m.kind, attempts, %error, "still undelivered");
			}
			Ok(())
		}
	}
}

enum Delivery {
	Retry(String),
	Refused(String),
}

async fn debit_request(s: &Acquirer, m: &Message) -> Result<(), Delivery> {
	let request: DebitRequest =
		serde_json::from_str(&m.body).map_err(|e| Delivery::Refused(e.to_string()))?;
	let timeout = s.config.debit_request_timeout.into();
	let result: Result<DebitAccepted, _> =
		s.issuer.call(Method::POST, "/v1/debits", Some(&request), timeout).await;
	match result {
		Ok(accepted) => {
			if accepted.status == "AWAITING_PAYER" {
				match order::payer_confirming(&s.db, &m.order_id).await {
					Ok(true) => s.metrics.order(OrderStatus::UserPaying.as_str()),
					Ok(false) => {}
					// The order query shows DEBIT_REQUESTED meanwhile; the payment is unchanged.
					Err(e) => {
						tracing::warn!(order = %m.order_id, error = %e, "USERPAYING not recorded")
					}
				}
			}
			Ok(())
		}
		Err(PeerError::Refused { status, code, message }) if (400..500).contains(&status) => {
			Err(Delivery::Refused(format!("{code} ({message})")))
		}
		Err(e) => Err(Delivery::Retry(e.to_string())),
	}
}

/// Tells the issuer a refund is on chain. It credits the payer from the chain's record (once,
/// whatever the number of notices) and answers only once it has.
async fn refund_notice(s: &Acquirer, m: &Message) -> Result<(), Delivery> {
	let notice: RefundNotice =
		serde_json::from_str(&m.body).map_err(|e| Delivery::Refused(e.to_string()))?;
	let timeout = s.config.debit_request_timeout.into();
	let result: Result<RefundCredited, _> =
		s.issuer.call(Method::POST, "/v1/refunds", Some(&notice), timeout).await;
	match result {
		Ok(_) => Ok(()),
		// Only the refund itself can make the issuer refuse it for good; anything else (a
		// stale signature, its node behind ours) is worth sending again.
		Err(PeerError::Refused { code, message, .. })
			if matches!(code.as_str(), "RefundOrderMismatch" | "NotOurPayment") =>
		{
			Err(Delivery::Refused(format!("{code} ({message})")))
		}
		Err(e) => Err(Delivery::Retry(e.to_string())),
	}
}

async fn notify(s: &Acquirer, m: &Message) -> Result<(), Delivery> {
	// The aggregator the order belongs to is the only party whose signed answer counts.
	let (aggregator, private_ok, body) = addressed(s, m).await?;
	let http = s
		.notify_clients
		.for_url(&m.target, private_ok)
		.map_err(|e| Delivery::Retry(format!("NotifyAddressNotAllowed: {e}")))?;
	let result: Result<NotificationAck, _> = send_signed(
		http,
		&s.aggregator_key,
		&s.party(),
		&aggregator,
		Method::POST,
		&m.target,
		"",
		body,
		s.config.notify_timeout.into(),
	)
	.await;
	match result {
		Ok(ack) if ack.code == "SUCCESS" => {
			s.metrics.call("notify", "acknowledged");
			Ok(())
		}
		Ok(ack) => Err(Delivery::Retry(format!("answered {}", ack.code))),
		Err(e) => Err(Delivery::Retry(e.to_string())),
	}
}

/// The aggregator a notification goes to (its lane names it; its key comes from the
/// registry), whether it may be at an internal address, and the body to send. A notification
/// queued by an earlier release lacks the aggregator's id, which the aggregator checks; it
/// gets it here.
async fn addressed(s: &Acquirer, m: &Message) -> Result<(Counterparty, bool, Vec<u8>), Delivery> {
	let retry = |e: &dyn std::fmt::Display| Delivery::Retry(e.to_string());
	let mut conn = s.db.conn().await.map_err(|e| retry(&e))?;
	let aggregator = merchant::aggregator(&mut conn, &m.lane)
		.await
		.map_err(|e| retry(&e))?
		.ok_or_else(|| Delivery::Refused(format!("no aggregator {}", m.lane)))?;
	drop(conn);
	let key = parse_public_key(&aggregator.public_key)
		.map_err(|e| Delivery::Refused(format!("aggregator {} has no usable key: {e}", m.lane)))?;
	let mut body: serde_json::Value =
		serde_json::from_str(&m.body).map_err(|e| Delivery::Refused(e.to_string()))?;
	if body.get("aggregatorId").is_none() {
		body["aggregatorId"] = m.lane.clone().into();
	}
	let body = serde_json::to_vec(&body).map_err(|e| Delivery::Refused(e.to_string()))?;
	let to = Counterparty { party: aggregator.aggregator_id, key };
	Ok((to, aggregator.private_addresses, body))
}
