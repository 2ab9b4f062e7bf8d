//! An aggregator's notify endpoint, as the acquirer's protocol asks of one: `POST /notify`
//! verifies the acquirer's signature on every notification, made for this aggregator and
//! naming it (refusing replays through its own nonce store), and acknowledges it with
//! `{"code":"SUCCESS"}`, an answer signed with the aggregator's key. It keeps what it heard, so that
//! `clearline-notify-inbox`, the services' tests and the latency benchmark all play the
//! aggregator with this one endpoint; the tests can also make it go down or lose its
//! acknowledgements.

use super::{
	answers::{sign_answers, AnswerKeys},
	api::ApiError,
	auth::{self, Counterparty},
	store::{Db, Migrations},
	wire::Notification,
};
use axum::{extract::State, http::HeaderMap, http::StatusCode, routing::post, Json, Router};
use std::{
	collections::BTreeMap,
	sync::{Arc, Mutex, MutexGuard},
	time::{Duration, Instant},
};

/// The inbox's store: the nonces of the notifications it verified.
pub static MIGRATIONS: Migrations = Migrations {
	sqlite: &sqlx::migrate!("migrations/inbox/sqlite"),
	postgres: &sqlx::migrate!("migrations/inbox/postgres"),
};

/// How the endpoint answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyMode {
	/// Verifies, applies and acknowledges.
	Acknowledge,
	/// Down: answers 503 and applies nothing.
	Down,
	/// Applies the notification, then answers 500, as if the acknowledgement were lost: the
	/// acquirer must send it again, and the aggregator acknowledge it again.
	LoseAck,
}

/// What the aggregator has heard: every delivery, and per order the one notification it
/// applied (a repeat must say the same as the first).
#[derive(Debug, Default)]
pub struct Heard {
	/// Every delivery that verified, in the order they arrived.
	pub deliveries: Vec<Notification>,
	/// Per order (the acquirer's order id) or refund (`order/refund`), the first notification
	/// and when it arrived.
	pub applied: BTreeMap<String, Applied>,
	/// Deliveries that contradicted the applied notification of their order.
	pub conflicts: Vec<(Notification, Notification)>,
	/// Deliveries that failed verification, by the error's code.
	pub refused: Vec<String>,
}

/// The notification an order's first delivery brought.
#[derive(Debug, Clone)]
pub struct Applied {
	pub at: Instant,
	pub notification: Notification,
}

impl Heard {
	fn record(&mut self, n: Notification, at: Instant) {
		self.deliveries.push(n.clone());
		match self.applied.get(&n.subject()) {
			Some(first) if first.notification != n => {
				self.conflicts.push((first.notification.clone(), n))
			}
			Some(_) => {}
			None => {
				self.applied.insert(n.subject(), Applied { at, notification: n });
			}
		}
	}
}

/// The endpoint's state; clones share it.
#[derive(Clone)]
pub struct NotifyInbox {
	inner: Arc<Inner>,
}

struct Inner {
	db: Db,
	acquirer: Counterparty,
	/// This aggregator's id, and the key it answers with.
	us: Arc<AnswerKeys>,
	window: Duration,
	echo: bool,
	heard: Mutex<Heard>,
	mode: Mutex<NotifyMode>,
}

impl NotifyInbox {
	/// Aggregator `us`'s inbox, taking notifications signed by `acquirer` for `us`, no older
	/// than `window`, with the nonces it has seen in `db`, and answering signed with `key`.
	/// With `echo`, each accepted notification is printed as one JSON line on stdout.
	pub fn new(
		db: Db,
		acquirer: Counterparty,
		us: &str,
		key: clearline_client::Signer,
		window: Duration,
		echo: bool,
	) -> Self {
		let inner = Inner {
			db,
			acquirer,
			us: Arc::new(AnswerKeys { name: us.to_string(), by_caller: Vec::new(), others: key }),
			window,
			echo,
			heard: Mutex::default(),
			mode: Mutex::new(NotifyMode::Acknowledge),
		};
		Self { inner: Arc::new(inner) }
	}

	/// `POST /notify`, served by this inbox.
	pub fn router(&self) -> Router {
		Router::new()
			.route("/notify", post(notified))
			.with_state(self.clone())
			.layer(axum::middleware::from_fn_with_state(self.inner.us.clone(), sign_answers))
	}

	pub fn set_mode(&self, mode: NotifyMode) {
		*self.inner.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
	}

	pub fn heard(&self) -> MutexGuard<'_, Heard> {
		self.inner.heard.lock().unwrap_or_else(|e| e.into_inner())
	}
}

async fn notified(
	State(inbox): State<NotifyInbox>,
	headers: HeaderMap,
	body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
	let at = Instant::now();
	let inner = &inbox.inner;
	let mode = *inner.mode.lock().unwrap_or_else(|e| e.into_inner());
	if mode == NotifyMode::Down {
		return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "Down", "the inbox is down"));
	}
	let checked = auth::verify_notification(
		&inner.db,
		&headers,
		&body,
		&inner.acquirer,
		&inner.us.name,
		inner.window,
	)
	.await;
	let n = match checked {
		Ok(n) => n,
		Err(e) => {
			inbox.heard().refused.push(e.code.clone());
			return Err(e);
		}
	};
	if inner.echo {
		println!("{}", serde_json::to_string(&n).map_err(ApiError::internal)?);
	}
	inbox.heard().record(n, at);
	if mode == NotifyMode::LoseAck {
		return Err(ApiError::new(
			StatusCode::INTERNAL_SERVER_ERROR,
			"AckLost",
			"applied, acknowledgement lost",
		));
	}
	Ok(Json(serde_json::json!({ "code": "SUCCESS" })))
}
