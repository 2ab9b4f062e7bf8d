//! Calls to the other party: signed for it, its answers verified as its own, with a timeout,
//! and retried with backoff (within a bound) only where a retry cannot do harm: when the
//! request never reached the other side, or the call is idempotent by its key.

use super::{
	api::ErrorBody,
	auth::{self, Counterparty},
};
use clearline_client::Signer;
use reqwest::Method;
use serde::{de::DeserializeOwned, Serialize};
use std::time::Duration;

/// How often and how patiently a call is repeated.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
	/// Attempts in all, the first included.
	pub attempts: u32,
	/// Wait after the first failure; doubled after each further one.
	pub base: Duration,
	/// The longest wait between two attempts.
	pub max: Duration,
}

impl RetryPolicy {
	/// The wait before attempt `attempt` (1-based, after `attempt` failures).
	pub fn backoff(&self, failures: u32) -> Duration {
		let factor = 1u32.checked_shl(failures.saturating_sub(1).min(20)).unwrap_or(u32::MAX);
		self.base.saturating_mul(factor).min(self.max)
	}
}

/// Why a call to the other party did not return an answer.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
	/// No answer within the timeout: the request may or may not have been acted on.
	#[error("no answer within {0:?}")]
	Timeout(Duration),
	/// The connection could not be made: the request did not reach the other side.
	#[error("unreachable: {0}")]
	Unreachable(String),
	/// The other side answered with an error.
	#[error("refused with {status}: {code} ({message})")]
	Refused { status: u16, code: String, message: String },
	/// The other side answered something that is not what the API describes.
	#[error("unexpected answer: {0}")]
	BadResponse(String),
	/// The answer is not signed by the other side over this request: it was made or changed
	/// on the way, and says nothing (the request may or may not have been acted on).
	#[error("BadResponseSignature: {0}")]
	BadResponseSignature(String),
}

impl PeerError {
	/// Whether the request certainly did not reach the other side.
	pub fn never_arrived(&self) -> bool {
		matches!(self, PeerError::Unreachable(_))
	}
}

/// The other party's HTTP API (`to`), signed for as `party`.
#[derive(Clone)]
pub struct Peer {
	base: String,
	party: String,
	key: Signer,
	to: Counterparty,
	http: reqwest::Client,
}

/// How long a client keeps an idle connection for reuse: below the servers' default
/// `--header-timeout` (10 s), which closes idle connections, so that a call does not go out on
/// a connection the server is closing at that moment (a reset, not an answer).
pub const IDLE_CONNECTIONS_KEPT: Duration = Duration::from_secs(5);

impl Peer {
	/// A peer reached with a default HTTP client (the system's roots, no client certificate).
	pub fn new(base: &str, party: &str, key: Signer, to: Counterparty) -> Self {
		let http = reqwest::Client::builder()
			.pool_idle_timeout(IDLE_CONNECTIONS_KEPT)
			.connect_timeout(Duration::from_secs(3))
			.build()
			.expect("a default HTTP client builds");
		Self::with_http(base, party, key, to, http)
	}

	/// A peer reached with `http` (TLS roots and client certificate of its own).
	pub fn with_http(
		base: &str,
		party: &str,
		key: Signer,
		to: Counterparty,
		http: reqwest::Client,
	) -> Self {
		let base = base.trim_end_matches('/').to_string();
		Self { base, party: party.to_string(), key, to, http }
	}

	/// One signed call; `path` includes any query string.
	pub async fn call<B: Serialize, R: DeserializeOwned>(
		&self,
		method: Method,
		path: &str,
		body: Option<&B>,
		timeout: Duration,
	) -> Result<R, PeerError> {
		let bytes = match body {
			Some(b) => serde_json::to_vec(b).map_err(|e| PeerError::BadResponse(e.to_string()))?,
			None => Vec::new(),
		};
		let (http, key, party, to) = (&self.http, &self.key, &self.party, &self.to);
		send_signed(http, key, party, to, method, &self.base, path, bytes, timeout).await
	}

	/// [`Peer::call`], repeated under `policy` while the request did not arrive (and, when
	/// `idempotent`, also after a timeout or a server error).
	pub async fn call_with_retry<B: Serialize, R: DeserializeOwned>(
		&self,
		method: Method,
		path: &str,
		body: Option<&B>,
		timeout: Duration,
		policy: RetryPolicy,
		idempotent: bool,
	) -> Result<R, PeerError> {
		let mut failures = 0;
		loop {
			let result = self.call(method.clone(), path, body, timeout).await;
			let retry = match &result {
				Err(e) if e.never_arrived() => true,
				Err(PeerError::Timeout(_) | PeerError::BadResponseSignature(_)) => idempotent,
				Err(PeerError::Refused { status, .. }) => idempotent && *status >= 500,
				_ => false,
			};
			failures += 1;
			if !retry || failures >= policy.attempts {
				return result;
			}
			tracing::warn!(path, failures, error = %result.as_ref().err().unwrap(), "retrying call");
			tokio::time::sleep(policy.backoff(failures)).await;
		}
	}
}

/// Sends one JSON request signed as `party` for `to` to `base` + `path`, and reads the JSON
/// answer once it verifies as `to`'s.
#[allow(clippy::too_many_arguments)]
pub async fn send_signed<R: DeserializeOwned>(
	http: &reqwest::Client,
	key: &Signer,
	party: &str,
	to: &Counterparty,
	method: Method,
	base: &str,
	path: &str,
	body: Vec<u8>,
	timeout: Duration,
) -> Result<R, PeerError> {
	let url = format!("{base}{path}");
	let signed_path = reqwest::Url::parse(&url)
		.map(|u| signed_path(&u))
		.map_err(|e| PeerError::BadResponse(format!("bad URL {url}: {e}")))?;
	let mut request = http.request(method.clone(), &url).timeout(timeout);
	let signed = auth::sign(key, party, &to.party, method.as_str(), &signed_path, &body);
	for (name, value) in &signed.headers {
		request = request.header(*name, value);
	}
	if !body.is_empty() {
		request = request.header("content-type", "application/json").body(body);
	}
	// Nothing leaves before the store holds on disk what the request may say (group commit).
	super::durability::make_durable().await;
	let response = request.send().await.map_err(|e| classify(e, timeout))?;
	let status = response.status();
	let headers = response.headers().clone();
	let bytes = read_bounded(response, ANSWER_LIMIT, timeout).await?;
	auth::verify_answer(&headers, to, party, &signed, status.as_u16(), &bytes)
		.map_err(PeerError::BadResponseSignature)?;
	if !status.is_success() {
		let err: ErrorBody = serde_json::from_slice(&bytes).unwrap_or(ErrorBody {
			code: "Unknown".into(),
			message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
		});
		return Err(PeerError::Refused {
			status: status.as_u16(),
			code: err.code,
			message: err.message,
		});
	}
	serde_json::from_slice(&bytes).map_err(|e| PeerError::BadResponse(e.to_string()))
}

/// The path a request signature covers: the path and query as the server sees them, without
/// scheme and host.
pub fn signed_path(url: &reqwest::Url) -> String {
	match url.query() {
		Some(q) => format!("{}?{q}", url.path()),
		None => url.path().to_string(),
	}
}

/// The most an answer from another party may hold: every answer in the protocol is a small
/// JSON document, and a peer (or a line) must not make us buffer without bound.
const ANSWER_LIMIT: usize = 1 << 20;

/// The answer's body, refused once it passes `limit` bytes.
async fn read_bounded(
	mut response: reqwest::Response,
	limit: usize,
	timeout: Duration,
) -> Result<Vec<u8>, PeerError> {
	let too_large = || PeerError::BadResponse(format!("the answer exceeds {limit} bytes"));
	if response.content_length().is_some_and(|n| n > limit as u64) {
		return Err(too_large());
	}
	let mut body = Vec::new();
	while let Some(chunk) = response.chunk().await.map_err(|e| classify(e, timeout))? {
		if body.len() + chunk.len() > limit {
			return Err(too_large());
		}
		body.extend_from_slice(&chunk);
	}
	Ok(body)
}

fn classify(e: reqwest::Error, timeout: Duration) -> PeerError {
	if e.is_timeout() {
		PeerError::Timeout(timeout)
	} else if e.is_connect() {
		PeerError::Unreachable(e.to_string())
	} else {
		// The connection broke after the request went out: it may have been acted on.
		PeerError::Timeout(timeout)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[tokio::test]
	async fn an_answer_larger_than_the_bound_is_refused_unread() {
		let app = axum::Router::new()
			.route("/big", axum::routing::get(|| async { vec![b'x'; ANSWER_LIMIT + 1] }));
		let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
		let base = format!("http://{}", listener.local_addr().unwrap());
		tokio::spawn(async move { axum::serve(listener, app).await });
		let key = Signer::from_uri("//Caller").unwrap();
		let to = Counterparty {
			party: "acquirer".into(),
			key: auth::parse_public_key(&auth::public_key_text(&key)).unwrap(),
		};
		let http = reqwest::Client::new();
		let timeout = Duration::from_secs(10);
		let answer: Result<serde_json::Value, _> =
			send_signed(&http, &key, "agg", &to, Method::GET, &base, "/big", Vec::new(), timeout)
				.await;
		assert!(
			matches!(&answer, Err(PeerError::BadResponse(m)) if m.contains("exceeds")),
			"{answer:?}"
		);
	}

	#[test]
	fn backoff_doubles_up_to_the_bound() {
		let p = RetryPolicy {
			attempts: 10,
			base: Duration::from_millis(100),
			max: Duration::from_secs(1),
		};
		let waits: Vec<u128> = (1..=6).map(|n| p.backoff(n).as_millis()).collect();
		assert_eq!(waits, [100, 200, 400, 800, 1000, 1000]);
		assert_eq!(p.backoff(64), Duration::from_secs(1));
	}
}
