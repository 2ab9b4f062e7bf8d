//! The console page's API (`/api/…`): the operator's login by cookie, the overview read from
//! the chain, the finalized clearing events as server-sent events, and the cycle close.
//! Every call but the login needs a session; every call that changes something also needs the
//! `X-Console` header, which a page of another site cannot send without the console's leave.

use super::{login, Console};
use crate::common::api::{parse_json, too_many_requests, ApiError};
use axum::{
	body::Bytes,
	extract::{ConnectInfo, State},
	http::{header, HeaderMap, HeaderValue, StatusCode},
	response::{
		sse::{Event, KeepAlive, Sse},
		IntoResponse, Response,
	},
	Json,
};
use clearline_client::{
	events::{finalized_events, EventFilter},
	outcome::Outcome,
	Connection, TxResult,
};
use clearline_runtime::RuntimeEvent;
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::{collections::VecDeque, convert::Infallible, net::SocketAddr, sync::Arc};
use tokio::sync::broadcast;

type S = State<Arc<Console>>;

/// Recent events a page that opens the stream is sent first.
const RECENT: usize = 50;
/// Blocks before the finalized head the feed starts from, so that a page opened on a console
/// just started still shows the latest postings.
const BACKFILL_BLOCKS: u32 = 200;

/// The finalized clearing and FX events, as one task reads them, to every page that listens.
pub struct EventFeed {
	sender: broadcast::Sender<Value>,
	recent: Arc<std::sync::Mutex<VecDeque<Value>>>,
}

impl EventFeed {
	/// Follows the chain's finalized events from a little before the head, for as long as the
	/// console runs; a node that goes away is waited for by the connection.
	pub async fn start(conn: Arc<Connection>) -> anyhow::Result<Self> {
		let (head, _) = conn.finalized().await?;
		let (sender, _) = broadcast::channel(1024);
		let recent = Arc::new(std::sync::Mutex::new(VecDeque::with_capacity(RECENT)));
		let (tx, kept) = (sender.clone(), recent.clone());
		let from = head.saturating_sub(BACKFILL_BLOCKS).max(1);
		tokio::spawn(async move {
			let mut stream = Box::pin(finalized_events(conn, from, EventFilter::Clearing));
			while let Some(block) = stream.next().await {
				let block = match block {
					Ok(block) => block,
					Err(e) => {
						tracing::warn!(error = %e, "reading finalized events");
						continue;
					}
				};
				for event in &block.events {
					let json = clearline_client::events::event_json(event);
					let mut kept = kept.lock().unwrap();
					if kept.len() == RECENT {
						kept.pop_front();
					}
					kept.push_back(json.clone());
					drop(kept);
					// No page listening is no error.
					let _ = tx.send(json);
				}
			}
		});
		Ok(Self { sender, recent })
	}
}

fn cookie_token(headers: &HeaderMap) -> Option<String> {
	headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|cookies| {
		cookies.split(';').find_map(|c| {
			let (name, value) = c.trim().split_once('=')?;
			(name == login::COOKIE).then(|| value.to_string())
		})
	})
}

fn session_required() -> ApiError {
	ApiError::unauthorized("SessionRequired", "log in to the console first")
}

/// The operator's session, or 401.
fn session(s: &Console, headers: &HeaderMap) -> Result<String, ApiError> {
	let token = cookie_token(headers).ok_or_else(session_required)?;
	if !s.logins.is_valid(&token) {
		return Err(ApiError::unauthorized(
			"SessionInvalid",
			"the session has ended; log in again",
		));
	}
	Ok(token)
}

/// A call that changes something: a session, and the console's own header.
fn changing(s: &Console, headers: &HeaderMap) -> Result<String, ApiError> {
	if headers.get("x-console").is_none() {
		return Err(ApiError::forbidden(
			"ConsoleHeaderRequired",
			"send X-Console with every call that changes something",
		));
	}
	session(s, headers)
}

fn set_cookie(value: String) -> HeaderValue {
	HeaderValue::from_str(&value).expect("the cookie is ASCII")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
	password: String,
}

/// `POST /api/session` (anyone): logs an operator in with the console's password; the session
/// is an HttpOnly cookie. `AuthenticationFailed`, or `ConsoleLocked` after too many wrong
/// passwords in a row from one address.
pub async fn log_in(
	State(s): S,
	headers: HeaderMap,
	client: Option<ConnectInfo<SocketAddr>>,
	body: Bytes,
) -> Result<Response, ApiError> {
	if headers.get("x-console").is_none() {
		return Err(ApiError::forbidden("ConsoleHeaderRequired", "send X-Console to log in"));
	}
	let r: LoginRequest = parse_json(&body)?;
	if r.password.len() > 1024 {
		return Err(ApiError::invalid("password", "is too long"));
	}
	if let Err(wait) = s.login_limits.check("operators", client.as_ref().map(|c| c.0.ip())) {
		return Ok(too_many_requests(wait));
	}
	let token = match s.logins.log_in(client.map(|c| c.0.ip()), r.password).await {
		Ok(token) => token,
		Err(login::Refused::Locked) => {
			return Err(ApiError::unauthorized(
				"ConsoleLocked",
				"too many wrong passwords from this address; try again later",
			))
		}
		Err(login::Refused::WrongPassword) => {
			return Err(ApiError::unauthorized(
				"AuthenticationFailed",
				"the password was not accepted",
			))
		}
	};
	let secure = if s.config.server_tls.insecure_http { "" } else { "; Secure" };
	let cookie = format!(
		"{}={token}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}{secure}",
		login::COOKIE,
		s.logins.ttl().as_secs()
	);
	let mut response = StatusCode::NO_CONTENT.into_response();
	response.headers_mut().insert(header::SET_COOKIE, set_cookie(cookie));
	Ok(response)
}

/// `DELETE /api/session` (operator): logs out.
pub async fn log_out(State(s): S, headers: HeaderMap) -> Result<Response, ApiError> {
	let token = changing(&s, &headers)?;
	s.logins.log_out(&token);
	let mut response = StatusCode::NO_CONTENT.into_response();
	let expired = format!("{}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0", login::COOKIE);
	response.headers_mut().insert(header::SET_COOKIE, set_cookie(expired));
	Ok(response)
}

fn chain_unavailable(e: clearline_client::Error) -> ApiError {
	ApiError::unavailable("ChainUnavailable", e.to_string())
}

/// `GET /api/overview` (operator): participants, the open cycle's net positions, the latest
/// closed cycles and the FX rates' history, all at the finalized head.
pub async fn overview(
	State(s): S,
	headers: HeaderMap,
) -> Result<Json<super::chain::Overview>, ApiError> {
	session(&s, &headers)?;
	let cycles = s.config.cycles_shown;
	super::chain::overview(&s.conn, &s.rates, &s.clearing_bank, cycles)
		.await
		.map(Json)
		.map_err(chain_unavailable)
}

/// `GET /api/events` (operator): the finalized clearing and FX events as server-sent events,
/// the latest ones first, then each as its block is finalized.
pub async fn events(
	State(s): S,
	headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
	session(&s, &headers)?;
	let receiver = s.events.sender.subscribe();
	let recent: Vec<Value> = s.events.recent.lock().unwrap().iter().cloned().collect();
	let live = futures::stream::unfold(receiver, |mut receiver| async move {
		loop {
			match receiver.recv().await {
				Ok(event) => return Some((event, receiver)),
				// A page too slow to take every event skips some; the overview it reloads
				// after each event still shows every position right.
				Err(broadcast::error::RecvError::Lagged(_)) => continue,
				Err(broadcast::error::RecvError::Closed) => return None,
			}
		}
	});
	let stream = futures::stream::iter(recent)
		.chain(live)
		.map(|event| Ok(Event::default().event("clearing").data(event.to_string())));
	Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleClosed {
	closed_cycle: u32,
	entries: u32,
	digest: String,
	next_cycle: u32,
	block: u32,
	block_hash: sp_core::H256,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CloseRequest {
	/// The cycle the operator saw open: the close is for it and no other.
	cycle: u32,
}

/// `POST /api/cycles/close` (operator, `X-Console`): closes the open cycle, which must be the
/// one named, with the clearing bank's key, and answers once the close is finalized. Closes
/// are made one at a time, and a cycle already closed is not closed again by a second click,
/// a second operator or a retry: `CycleNotOpen` (409). `CycleCloseFailed` (409) names the
/// chain's refusal; `CycleCloseUnknown` (504) when no final answer came in time (the close
/// may yet be finalized: the overview tells).
pub async fn close_cycle(
	State(s): S,
	headers: HeaderMap,
	body: Bytes,
) -> Result<Json<CycleClosed>, ApiError> {
	changing(&s, &headers)?;
	let r: CloseRequest = parse_json(&body)?;
	let _one_at_a_time = s.closing.lock().await;
	// At the best block (no block named): a close made a moment ago is there before it is
	// final.
	let open = clearline_client::queries::cycle(&s.conn, None, None)
		.await
		.map_err(chain_unavailable)?
		.ok_or_else(|| ApiError::unavailable("ChainUnavailable", "the chain has no open cycle"))?;
	if open.cycle != r.cycle {
		return Err(ApiError::conflict(
			"CycleNotOpen",
			format!("cycle {} is not open; cycle {} is", r.cycle, open.cycle),
		));
	}
	let report = s
		.sender
		.send(clearline_client::calls::close_cycle())
		.await
		.map_err(|e| ApiError::unavailable("ChainUnavailable", e.to_string()))?;
	match report.result {
		TxResult::Finalized { block, number, outcome: Outcome::Succeeded(events), .. } => {
			let closed = events.iter().find_map(|e| match e {
				RuntimeEvent::ClearingBank(pallet_clearing_bank::Event::CycleClosed {
					cycle,
					entries,
					digest,
					next,
				}) => Some((*cycle, *entries, *digest, *next)),
				_ => None,
			});
			let (cycle, entries, digest, next) = closed.ok_or_else(|| {
				ApiError::internal("a finalized cycle close without its CycleClosed event")
			})?;
			tracing::info!(cycle, entries, block = number, "an operator closed the cycle");
			Ok(Json(CycleClosed {
				closed_cycle: cycle,
				entries,
				digest: format!("0x{}", hex::encode(digest)),
				next_cycle: next,
				block: number,
				block_hash: block,
			}))
		}
		TxResult::Finalized { outcome: Outcome::Failed { error, .. }, .. } => Err(
			ApiError::conflict("CycleCloseFailed", format!("the chain refused the close: {error}")),
		),
		TxResult::Expired { .. } => Err(ApiError::unavailable(
			"CycleCloseExpired",
			"the close was not included in its lifetime; nothing changed, try again",
		)),
		TxResult::Unknown { reason } => Err(ApiError::new(
			StatusCode::GATEWAY_TIMEOUT,
			"CycleCloseUnknown",
			format!("no final answer yet ({reason}); the overview shows whether the cycle closed"),
		)),
	}
}
