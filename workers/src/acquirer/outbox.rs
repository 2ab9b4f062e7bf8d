//! The outbox: debit requests to the issuer and notifications to aggregators, written in the
//! same transaction as the order change that owes them, and delivered until acknowledged
//! (with backoff, up to a bound).

use super::{store, Acquirer};
use crate::common::{
	now_ms,
	peer::{send_signed, PeerError},
	wire::{DebitAccepted, DebitRequest, NotificationAck},
};
use reqwest::Method;
use rusqlite::params;
use std::{sync::Arc, time::Duration};

struct Message {
	id: i64,
	order_id: String,
	kind: String,
	target: String,
	body: String,
	attempts: u32,
}

const COLUMNS: &str = "id, order_id, kind, target, body, attempts";

fn message_from(r: &rusqlite::Row) -> rusqlite::Result<Message> {
	Ok(Message {
		id: r.get(0)?,
		order_id: r.get(1)?,
		kind: r.get(2)?,
		target: r.get(3)?,
		body: r.get(4)?,
		attempts: r.get(5)?,
	})
}

/// Delivers due messages forever.
pub async fn run(s: Arc<Acquirer>) {
	loop {
		match due(&s).await {
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

async fn due(s: &Acquirer) -> Result<Vec<Message>, crate::api::ApiError> {
	s.db.read(|tx| {
		let sql = format!(
			"SELECT {COLUMNS} FROM outbox WHERE status = 'PENDING' AND next_attempt_at <= ?1
			 ORDER BY next_attempt_at LIMIT 64"
		);
		let mut stmt = tx.prepare(&sql)?;
		let rows = stmt.query_map(params![now_ms()], message_from)?.collect::<Result<_, _>>()?;
		Ok(rows)
	})
	.await
}

/// Sends the order's debit request at once (the micropay answer waits for it), leaving it to
/// the outbox if it does not arrive.
pub async fn deliver_now(s: &Arc<Acquirer>, order_id: &str) {
	let id = order_id.to_string();
	let message = s
		.db
		.read(move |tx| {
			let sql = format!(
				"SELECT {COLUMNS} FROM outbox WHERE order_id = ?1 AND kind = 'DEBIT_REQUEST' AND status = 'PENDING'"
			);
			Ok(rusqlite::OptionalExtension::optional(tx.query_row(&sql, params![id], message_from))?)
		})
		.await;
	if let Ok(Some(m)) = message {
		deliver(s, m).await;
	}
}

async fn deliver(s: &Arc<Acquirer>, m: Message) {
	let attempt = match m.kind.as_str() {
		"DEBIT_REQUEST" => debit_request(s, &m).await,
		_ => notify(s, &m).await,
	};
	let attempts = m.attempts + 1;
	let policy = s.outbox_policy();
	let (id, order_id, kind) = (m.id, m.order_id.clone(), m.kind.clone());
	let result =
		s.db.write(move |tx| {
			match attempt {
				Ok(()) => {
					tx.execute(
						"UPDATE outbox SET status = 'DELIVERED', attempts = ?2, delivered_at = ?3,
						 last_error = NULL WHERE id = ?1",
						params![id, attempts, now_ms()],
					)?;
				}
				Err(Delivery::Refused(reason)) => {
					// The issuer refused the debit request outright: the order fails.
					tx.execute(
						"UPDATE outbox SET status = 'REFUSED', attempts = ?2, last_error = ?3 WHERE id = ?1",
						params![id, attempts, reason],
					)?;
					// Only an order still waiting for its debit fails by it (a retried request
					// refused after the issuer went ahead changes nothing).
					let waiting = store::order(tx, &order_id)?
						.is_some_and(|o| o.status == store::status::DEBIT_REQUESTED);
					if waiting {
						store::finish(
							tx,
							&order_id,
							None,
							Some(&format!("IssuerRefused: {reason}")),
						)?;
					}
				}
				Err(Delivery::Retry(error)) => {
					// Notifications are owed until acknowledged: past the bound they go on at
					// the longest interval. A debit request gives up (reconciliation asks the
					// issuer what became of it).
					let gave_up = kind == "DEBIT_REQUEST" && attempts >= policy.attempts;
					let next = now_ms() + policy.backoff(attempts).as_millis() as i64;
					tx.execute(
						"UPDATE outbox SET status = ?2, attempts = ?3, next_attempt_at = ?4,
						 last_error = ?5 WHERE id = ?1",
						params![
							id,
							if gave_up { "GAVE_UP" } else { "PENDING" },
							attempts,
							next,
							error
						],
					)?;
					if gave_up {
						tracing::error!(message = id, %kind, %error, "gave up delivering");
					} else if attempts >= policy.attempts {
						tracing::error!(message = id, %kind, attempts, %error, "still undelivered");
					}
				}
			}
			Ok(())
		})
		.await;
	if let Err(e) = result {
		tracing::warn!(message = m.id, error = %e, "could not record a delivery");
	}
	s.metrics.call(&m.kind.to_lowercase(), "attempt");
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
	let result: Result<NotificationAck, _> = send_signed(
		&s.http,
		&s.api_key,
		&s.party(),
		Method::POST,
		&m.target,
		"",
		m.body.clone().into_bytes(),
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
