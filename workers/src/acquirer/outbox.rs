//! The outbox: debit requests to the issuer and notifications to aggregators, written in the
//! same transaction as the order change that owes them, and delivered until acknowledged
//! (with backoff, up to a bound).

use super::{
	merchant,
	messages::{self, Message, MessageKind},
	order::{self, OrderError},
	Acquirer,
};
use crate::common::{
	auth::{parse_public_key, Counterparty},
	now_ms,
	peer::{send_signed, PeerError},
	wire::{DebitAccepted, DebitRequest, NotificationAck},
};
use reqwest::Method;
use std::{sync::Arc, time::Duration};

/// Delivers due messages forever, while this process leads.
pub async fn run(s: Arc<Acquirer>) {
	loop {
		if !s.lease.is_leading() {
			tokio::time::sleep(Duration::from_millis(250)).await;
			continue;
		}
		match messages::due(&s.db, 256).await {
			Ok(messages) => {
				futures::future::join_all(messages.into_iter().map(|m| deliver(&s, m))).await;
			}
			Err(e) => tracing::warn!(error = %e, "outbox read failed"),
		}
		tokio::select! {
			_ = tokio::time::sleep(Duration::from_millis(250)) => {},
			_ = s.outbox_wake.notified() => {},
		}
	}
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
		MessageKind::Notify => notify(s, &m).await,
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
			// issuer went ahead changes nothing).
			let mut tx = s.db.begin().await?;
			messages::refused(&mut tx, m.id, attempts, &reason).await?;
			let reason = format!("IssuerRefused: {reason}");
			order::fail_if_waiting(&mut tx, &m.order_id, &reason).await?;
			Ok(tx.commit().await?)
		}
		Err(Delivery::Retry(error)) => {
			// Notifications are owed until acknowledged: past the bound they go on at the
			// longest interval. A debit request gives up (reconciliation asks the issuer what
			// became of it).
			let gave_up = m.kind == MessageKind::DebitRequest && attempts >= policy.attempts;
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
		Ok(_) => Ok(()),
		Err(PeerError::Refused { status, code, message }) if (400..500).contains(&status) => {
			Err(Delivery::Refused(format!("{code} ({message})")))
		}
		Err(e) => Err(Delivery::Retry(e.to_string())),
	}
}

async fn notify(s: &Acquirer, m: &Message) -> Result<(), Delivery> {
	// The aggregator the order belongs to is the only party whose signed answer counts.
	let (aggregator, body) = addressed(s, m).await?;
	let result: Result<NotificationAck, _> = send_signed(
		&s.http,
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

/// The aggregator a notification goes to (its name and public key, from the order and the
/// registry) and the body to send. A notification queued by an earlier release lacks the
/// aggregator's id, which the aggregator checks; it gets it here.
async fn addressed(s: &Acquirer, m: &Message) -> Result<(Counterparty, Vec<u8>), Delivery> {
	let retry = |e: &dyn std::fmt::Display| Delivery::Retry(e.to_string());
	let order = order::load(&s.db, &m.order_id)
		.await
		.map_err(|e| retry(&e))?
		.ok_or_else(|| Delivery::Refused(format!("no order {}", m.order_id)))?;
	let mut conn = s.db.conn().await.map_err(|e| retry(&e))?;
	let key = merchant::aggregator_key(&mut conn, &order.aggregator_id)
		.await
		.map_err(|e| retry(&e))?
		.and_then(|k| parse_public_key(&k).ok())
		.ok_or_else(|| {
			Delivery::Refused(format!("aggregator {} has no usable key", order.aggregator_id))
		})?;
	let mut body: serde_json::Value =
		serde_json::from_str(&m.body).map_err(|e| Delivery::Refused(e.to_string()))?;
	if body.get("aggregatorId").is_none() {
		body["aggregatorId"] = order.aggregator_id.clone().into();
	}
	let body = serde_json::to_vec(&body).map_err(|e| Delivery::Refused(e.to_string()))?;
	Ok((Counterparty { party: order.aggregator_id, key }, body))
}
