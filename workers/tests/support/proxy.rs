//! A proxy on the line between two services that injects network faults, the way a flaky
//! link or an overloaded peer would: it delays the answer to chosen calls, drops calls before
//! they arrive, or forwards them and loses the answer; or, as an attacker on the line would, it
//! rewrites the answers to chosen calls. The services behind it are the real ones; only the
//! line misbehaves.

use axum::{
	body::{Body, Bytes},
	extract::State,
	http::{HeaderMap, Method, StatusCode, Uri},
	response::{IntoResponse, Response},
	Router,
};
use clearline_testkit::free_port;
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::{
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc, Mutex,
	},
	time::Duration,
};

/// What the proxy does to the calls it carries.
pub struct Faults {
	/// Calls whose method and path start like this get their answer this much later.
	pub late: Option<(Method, String, Duration)>,
	/// The share (0–1) of calls dropped before they reach the service (502).
	pub drop_share: f64,
	/// The share (0–1) of calls forwarded whose answer is then lost (504).
	pub lose_share: f64,
	/// Answers to calls whose path starts like this get their JSON body rewritten.
	pub rewrite: Option<(String, Rewrite)>,
	rng: StdRng,
}

/// Changes an answer's JSON body.
pub type Rewrite = fn(&mut serde_json::Value);

/// What the proxy did, for the test to report and check that faults really happened.
#[derive(Default)]
pub struct Counts {
	pub forwarded: AtomicU64,
	pub delayed: AtomicU64,
	pub dropped: AtomicU64,
	pub lost: AtomicU64,
	pub rewritten: AtomicU64,
}

#[derive(Clone)]
pub struct Proxy {
	pub url: String,
	/// The services behind the proxy: calls go to each in turn, as a load balancer sends
	/// them, and to the next when one cannot be reached.
	targets: Arc<Mutex<Vec<String>>>,
	turn: Arc<AtomicU64>,
	faults: Arc<Mutex<Faults>>,
	pub counts: Arc<Counts>,
	http: reqwest::Client,
}

impl Proxy {
	/// Listens on a free port and forwards to `target` (a base URL), faultless until told.
	pub async fn start(target: &str) -> Self {
		let port = free_port();
		let proxy = Proxy {
			url: format!("http://127.0.0.1:{port}"),
			targets: Arc::new(Mutex::new(vec![target.trim_end_matches('/').into()])),
			turn: Arc::default(),
			faults: Arc::new(Mutex::new(Faults {
				late: None,
				drop_share: 0.0,
				lose_share: 0.0,
				rewrite: None,
				rng: StdRng::seed_from_u64(0),
			})),
			counts: Arc::default(),
			http: reqwest::Client::new(),
		};
		let app = Router::new().fallback(forward).with_state(proxy.clone());
		let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
		tokio::spawn(async move { axum::serve(listener, app).await });
		proxy
	}

	/// Balances calls between the targets so far and `target`.
	pub fn add_target(&self, target: &str) {
		self.targets.lock().unwrap().push(target.trim_end_matches('/').into());
	}

	/// Answers to `method path…` calls come `delay` late (`None`: on time).
	pub fn set_late(&self, late: Option<(Method, &str, Duration)>) {
		self.faults.lock().unwrap().late = late.map(|(m, p, d)| (m, p.to_string(), d));
	}

	/// Drops and loses the given shares of calls, decided by a generator seeded with `seed`.
	pub fn set_failures(&self, drop_share: f64, lose_share: f64, seed: u64) {
		let mut f = self.faults.lock().unwrap();
		(f.drop_share, f.lose_share, f.rng) = (drop_share, lose_share, StdRng::seed_from_u64(seed));
	}

	/// Answers to calls whose path starts with `prefix` are rewritten by `rewrite`.
	pub fn set_rewrite(&self, prefix: &str, rewrite: Rewrite) {
		self.faults.lock().unwrap().rewrite = Some((prefix.to_string(), rewrite));
	}

	pub fn count(&self) -> String {
		let c = &self.counts;
		format!(
			"{} forwarded, {} answered late, {} dropped, {} answers lost, {} rewritten",
			c.forwarded.load(Ordering::Relaxed),
			c.delayed.load(Ordering::Relaxed),
			c.dropped.load(Ordering::Relaxed),
			c.lost.load(Ordering::Relaxed),
			c.rewritten.load(Ordering::Relaxed)
		)
	}
}

enum Fate {
	Drop,
	Lose,
	Late(Duration),
	Deliver,
}

async fn forward(
	State(proxy): State<Proxy>,
	method: Method,
	uri: Uri,
	headers: HeaderMap,
	body: Bytes,
) -> Response {
	let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_string();
	let (fate, rewrite) = {
		let mut f = proxy.faults.lock().unwrap();
		let rewrite = f
			.rewrite
			.as_ref()
			.filter(|(prefix, _)| path.starts_with(prefix.as_str()))
			.map(|(_, r)| *r);
		let roll: f64 = f.rng.gen();
		let fate = match &f.late {
			Some((m, prefix, delay)) if *m == method && path.starts_with(prefix.as_str()) => {
				Fate::Late(*delay)
			}
			_ if roll < f.drop_share => Fate::Drop,
			_ if roll < f.drop_share + f.lose_share => Fate::Lose,
			_ => Fate::Deliver,
		};
		(fate, rewrite)
	};
	if matches!(fate, Fate::Drop) {
		proxy.counts.dropped.fetch_add(1, Ordering::Relaxed);
		return (StatusCode::BAD_GATEWAY, "dropped by the test proxy").into_response();
	}
	let mut headers = headers;
	headers.remove("host");
	headers.remove("content-length");
	let targets = proxy.targets.lock().unwrap().clone();
	let first = proxy.turn.fetch_add(1, Ordering::Relaxed) as usize;
	let mut answer = Err(String::new());
	for n in 0..targets.len() {
		let target = &targets[(first + n) % targets.len()];
		let request = proxy
			.http
			.request(method.clone(), format!("{target}{path}"))
			.headers(headers.clone())
			.body(body.clone());
		match request.send().await {
			Ok(a) => {
				answer = Ok(a);
				break;
			}
			// Never arrived: the next target gets it, as a balancer's retry on connect errors.
			Err(e) if e.is_connect() => answer = Err(e.to_string()),
			Err(e) => {
				answer = Err(e.to_string());
				break;
			}
		}
	}
	let answer = match answer {
		Ok(a) => a,
		Err(e) => return (StatusCode::BAD_GATEWAY, e).into_response(),
	};
	proxy.counts.forwarded.fetch_add(1, Ordering::Relaxed);
	let status = answer.status();
	// The answer's headers go on as they came (its signature among them), as through any
	// proxy; the length is set again for the body as sent.
	let mut answer_headers = answer.headers().clone();
	for hop in ["content-length", "transfer-encoding", "connection"] {
		answer_headers.remove(hop);
	}
	let mut bytes = answer.bytes().await.unwrap_or_default();
	if let Some(rewrite) = rewrite {
		if let Ok(mut body) = serde_json::from_slice::<serde_json::Value>(&bytes) {
			rewrite(&mut body);
			bytes = Bytes::from(serde_json::to_vec(&body).expect("JSON"));
			proxy.counts.rewritten.fetch_add(1, Ordering::Relaxed);
		}
	}
	match fate {
		Fate::Lose => {
			proxy.counts.lost.fetch_add(1, Ordering::Relaxed);
			return (StatusCode::GATEWAY_TIMEOUT, "answer lost by the test proxy").into_response();
		}
		Fate::Late(delay) => {
			proxy.counts.delayed.fetch_add(1, Ordering::Relaxed);
			tokio::time::sleep(delay).await;
		}
		_ => {}
	}
	let mut response = Response::builder().status(status.as_u16());
	if let Some(headers) = response.headers_mut() {
		headers.extend(answer_headers);
	}
	response.body(Body::from(bytes)).unwrap()
}
