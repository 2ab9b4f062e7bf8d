//! The test network shared by the service tests: a real chain (a dev node, or any node the
//! test runs itself), both services started as processes, the aggregator's notify endpoint
//! and, where a test asks for it, a proxy on each line between the issuer and the acquirer
//! that delays, drops or loses calls. `Net::audit` is the invariant check every fault test
//! ends with.
#![allow(dead_code)]

pub mod audit;
pub mod pki;
pub mod proxy;

use clearline_client::{
	calls, queries, ConnectOptions, Connection, SenderOptions, Signer, TxResult, TxSender,
};
use clearline_testkit::{
	free_port, start_feeder, wait_finalized, wait_for, NodeProcess, ServiceLaunch, ACQUIRER_KEYS,
	ISSUER_KEYS,
};
use clearline_workers::{
	auth::{self, Counterparty},
	common::{
		inbox::{NotifyInbox, MIGRATIONS},
		wire::Notification,
	},
	peer::{Peer, PeerError},
	store::{self, Db},
};
use pallet_fx_rate::CurrencyCode;
use reqwest::Method;
use serde_json::{json, Value};
use std::os::unix::process::ExitStatusExt;
use std::{
	path::{Path, PathBuf},
	sync::Arc,
	time::Duration,
};

pub use clearline_workers::common::inbox::NotifyMode;
pub use pki::TestPki;
pub use proxy::Proxy;

pub const ISSUER: &str = env!("CARGO_BIN_EXE_clearline-issuer");
pub const ACQUIRER: &str = env!("CARGO_BIN_EXE_clearline-acquirer");
pub const ADMIN: &str = "test-admin-token";
pub const AGG: &str = "agg-1";
pub const PIN: &str = "246810";
/// The HKD/CNY mid the tests' feeder publishes: the dev chains' opening rate, 0.9213.
pub const DEV_MID: u128 = 921_300_000;

pub fn ss58(uri: &str) -> String {
	auth::public_key_text(&Signer::from_uri(uri).unwrap())
}

/// The OpenAPI documents, and a check of a response against them.
pub struct Spec {
	pub issuer: Value,
	pub acquirer: Value,
}

impl Spec {
	pub fn load() -> Self {
		let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi");
		let read = |name: &str| -> Value {
			serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
		};
		Self { issuer: read("issuer.json"), acquirer: read("acquirer.json") }
	}

	/// Panics unless the document describes `status` for `method template` and `body` fits
	/// its schema.
	pub fn check(&self, doc: &Value, method: &Method, template: &str, status: u16, body: &Value) {
		let op = &doc["paths"][template][method.as_str().to_lowercase()];
		assert!(op.is_object(), "{method} {template} is not in the OpenAPI document");
		let mut response = &op["responses"][status.to_string()];
		if let Some(reference) = response["$ref"].as_str() {
			let name = reference.trim_start_matches("#/components/responses/");
			response = &doc["components"]["responses"][name];
		}
		assert!(
			response.is_object(),
			"{method} {template} does not document status {status}: {body}"
		);
		if response.get("content").is_none() {
			assert!(body.is_null(), "{method} {template} {status} documents no body: {body}");
			return;
		}
		let schema = &response["content"]["application/json"]["schema"];
		let mut root = doc.clone();
		for (k, v) in schema.as_object().expect("a JSON schema") {
			root[k] = v.clone();
		}
		let validator = jsonschema::validator_for(&root).expect("a valid schema");
		let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
		assert!(errors.is_empty(), "{method} {template} {status}: {errors:?}\n{body:#}");
	}
}

pub fn as_refs(v: &[String]) -> Vec<&str> {
	v.iter().map(String::as_str).collect()
}

/// Which chain the services use.
pub enum Chain {
	/// A dev node with its database in a temporary directory.
	Dev,
	/// A dev node whose database survives a stop (`--base-path`), so that it can be restarted.
	DevKept,
	/// A node the test runs itself (a validator of a local network), by its RPC URL.
	External(String),
}

/// What a test wants of its network.
pub struct Options {
	pub name: String,
	pub chain: Chain,
	pub issuer_args: Vec<String>,
	pub acquirer_args: Vec<String>,
	/// Proxies on both lines between the services, for injected faults.
	pub proxies: bool,
	/// Both services on https with certificates the test makes, mutual TLS between them.
	pub tls: bool,
}

impl Options {
	pub fn new(name: &str) -> Self {
		Self {
			name: name.into(),
			chain: Chain::Dev,
			issuer_args: Vec::new(),
			acquirer_args: Vec::new(),
			proxies: false,
			tls: false,
		}
	}

	pub fn with_tls(mut self) -> Self {
		self.tls = true;
		self
	}

	pub fn issuer(mut self, args: &[&str]) -> Self {
		self.issuer_args.extend(args.iter().map(|s| s.to_string()));
		self
	}

	pub fn acquirer(mut self, args: &[&str]) -> Self {
		self.acquirer_args.extend(args.iter().map(|s| s.to_string()));
		self
	}

	pub fn chain(mut self, chain: Chain) -> Self {
		self.chain = chain;
		self
	}

	pub fn with_proxies(mut self) -> Self {
		self.proxies = true;
		self
	}
}

/// The services' side of the test network.
pub struct Net {
	/// The dev node, unless the test runs its own chain.
	pub node: Option<NodeProcess>,
	/// `clearline fx feed`, keeping HKD/CNY fresh as the dev chains' feeder (Ferdie).
	pub feeder: NodeProcess,
	pub issuer: NodeProcess,
	pub acquirer: NodeProcess,
	pub conn: Arc<Connection>,
	pub issuer_url: String,
	pub acquirer_url: String,
	/// The services' admin listeners.
	pub issuer_admin_url: String,
	pub acquirer_admin_url: String,
	/// Issuer → acquirer and acquirer → issuer, when asked for.
	pub to_acquirer: Option<Proxy>,
	pub to_issuer: Option<Proxy>,
	pub http: reqwest::Client,
	pub aggregator: Peer,
	/// The certificates, when the services run on https.
	pub pki: Option<TestPki>,
	pub inbox: NotifyInbox,
	/// Where the aggregator takes notifications.
	pub notify_url: String,
	pub spec: Spec,
	/// The services' stores: SQLite files, or PostgreSQL databases when the tests run on
	/// PostgreSQL (see [`database`]).
	pub issuer_db: String,
	pub acquirer_db: String,
	/// How the acquirer was started, for a second process on its store.
	node_url: String,
	acquirer_peer: String,
	acquirer_extra: Vec<String>,
	/// The wallet app's sessions, by wallet and the PIN that opened them.
	sessions: std::sync::Mutex<std::collections::HashMap<(String, String), String>>,
	_dir: tempfile::TempDir,
}

/// The test's HTTP client, which keeps idle connections no longer than the services' own
/// clients do (below the servers' header timeout, which closes idle connections).
pub fn http_client() -> reqwest::Client {
	reqwest::Client::builder()
		.pool_idle_timeout(clearline_workers::peer::IDLE_CONNECTIONS_KEPT)
		.build()
		.unwrap()
}

/// `party`, whose API key is `uri`'s, as a caller expects it to answer.
pub fn counterparty(party: &str, uri: &str) -> Counterparty {
	Counterparty { party: party.into(), key: auth::parse_public_key(&ss58(uri)).unwrap() }
}

/// The aggregator's client, calling the acquirer at `url`.
pub fn aggregator_via(url: &str) -> Peer {
	aggregator_with(url, http_client())
}

/// [`aggregator_via`] with an HTTP client of the test's (TLS roots, client certificate).
pub fn aggregator_with(url: &str, http: reqwest::Client) -> Peer {
	let acquirer = counterparty("acquirer", ACQUIRER_KEYS.aggregators.unwrap());
	Peer::with_http(url, AGG, Signer::from_uri("//Aggregator1").unwrap(), acquirer, http)
}

/// One request to `url`, signed with the key of secret URI `key` as `party` for `recipient`
/// and sent as it is, whatever comes back: the answer's status, JSON body and headers.
pub async fn signed_call(
	url: &str,
	(party, key): (&str, &str),
	recipient: &str,
	method: Method,
	body: Option<&Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
	let bytes = body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default();
	let url = reqwest::Url::parse(url).unwrap();
	let path = clearline_workers::peer::signed_path(&url);
	let key = Signer::from_uri(key).unwrap();
	let signed = auth::sign(&key, party, recipient, method.as_str(), &path, &bytes);
	let mut request = http_client().request(method, url.clone());
	for (name, value) in &signed.headers {
		request = request.header(*name, value);
	}
	if !bytes.is_empty() {
		request = request.header("content-type", "application/json").body(bytes);
	}
	let response = request.send().await.unwrap();
	let (status, headers) = (response.status().as_u16(), response.headers().clone());
	let text = response.text().await.unwrap();
	(status, serde_json::from_str(&text).unwrap_or(Value::String(text)), headers)
}

/// A client signing as the issuer, calling the acquirer at `url`.
pub fn as_issuer(url: &str) -> Peer {
	issuer_with(url, http_client())
}

/// [`as_issuer`] with an HTTP client of the test's.
pub fn issuer_with(url: &str, http: reqwest::Client) -> Peer {
	let acquirer = counterparty("acquirer", ACQUIRER_KEYS.api);
	Peer::with_http(url, "issuer", Signer::from_uri(ISSUER_KEYS.api).unwrap(), acquirer, http)
}

/// A client signing as the acquirer, calling the issuer at `url`.
pub fn as_acquirer(url: &str) -> Peer {
	acquirer_with(url, http_client())
}

/// [`as_acquirer`] with an HTTP client of the test's.
pub fn acquirer_with(url: &str, http: reqwest::Client) -> Peer {
	let issuer = counterparty("issuer", ISSUER_KEYS.api);
	Peer::with_http(url, "acquirer", Signer::from_uri(ACQUIRER_KEYS.api).unwrap(), issuer, http)
}

/// The PostgreSQL server the tests run the services on, when the test command started one
/// (`CLEARLINE_TEST_POSTGRES`, a URL of its `postgres` database); else they run on SQLite.
pub fn postgres_server() -> Option<String> {
	std::env::var("CLEARLINE_TEST_POSTGRES").ok().filter(|u| !u.is_empty())
}

/// A new, empty store for one service of one test: a database of its own on the tests'
/// PostgreSQL server, or a SQLite file in `dir`.
pub async fn database(dir: &Path, test: &str, service: &str) -> String {
	let Some(server) = postgres_server() else {
		return dir.join(format!("{service}.sqlite")).to_string_lossy().into_owned();
	};
	let name = format!("{test}_{service}_{:08x}", rand::random::<u32>()).replace('-', "_");
	store::create_postgres_database(&server, &name).await.expect("the tests' PostgreSQL answers")
}

impl Net {
	pub async fn start(name: &str, issuer_extra: &[&str]) -> Self {
		Self::launch(Options::new(name).issuer(issuer_extra)).await
	}

	pub async fn launch(options: Options) -> Self {
		let name = options.name.as_str();
		let node_binary = PathBuf::from(ISSUER).with_file_name("clearline-node");
		let (node, node_url) = match &options.chain {
			Chain::External(url) => (None, url.clone()),
			chain => {
				let storage = match chain {
					Chain::DevKept => ["--base-path", "{dir}/chain"].as_slice(),
					_ => ["--tmp"].as_slice(),
				};
				let mut args = vec!["--dev"];
				args.extend(storage);
				let mut node = NodeProcess::start(&format!("{name}-node"), &node_binary, &args);
				let rpc = node.rpc(Duration::from_secs(180)).await;
				wait_finalized(&rpc, 1, Duration::from_secs(60)).await;
				let url = node.rpc_url();
				(Some(node), url)
			}
		};
		let conn = Connection::open(&node_url, ConnectOptions::default(), None).await.unwrap();
		let feeder = start_feeder(
			&format!("{name}-feeder"),
			&node_binary,
			&node_url,
			"//Ferdie",
			DEV_MID,
			&["--poll", "2s"],
		);
		let dir = tempfile::tempdir().unwrap();

		let (issuer_port, acquirer_port, notify_port) = (free_port(), free_port(), free_port());
		let (issuer_admin, acquirer_admin) = (free_port(), free_port());
		let pki = options.tls.then(|| TestPki::new(dir.path()));
		let scheme = if pki.is_some() { "https" } else { "http" };
		let issuer_url = format!("{scheme}://127.0.0.1:{issuer_port}");
		let acquirer_url = format!("{scheme}://127.0.0.1:{acquirer_port}");
		let (to_acquirer, to_issuer) = if options.proxies {
			(Some(Proxy::start(&acquirer_url).await), Some(Proxy::start(&issuer_url).await))
		} else {
			(None, None)
		};
		let issuer_peer = to_acquirer.as_ref().map_or(acquirer_url.clone(), |p| p.url.clone());
		let acquirer_peer = to_issuer.as_ref().map_or(issuer_url.clone(), |p| p.url.clone());
		let issuer_db = database(dir.path(), name, "issuer").await;
		let acquirer_db = database(dir.path(), name, "acquirer").await;
		let issuer_launch = ServiceLaunch {
			binary: Path::new(ISSUER),
			port: issuer_port,
			admin_port: issuer_admin,
			database: &issuer_db,
			node_url: &node_url,
			keys: ISSUER_KEYS,
			peer: ACQUIRER_KEYS,
			peer_url: &issuer_peer,
			admin_token: ADMIN,
		};
		let acquirer_launch = ServiceLaunch {
			binary: Path::new(ACQUIRER),
			port: acquirer_port,
			admin_port: acquirer_admin,
			database: &acquirer_db,
			node_url: &node_url,
			keys: ACQUIRER_KEYS,
			peer: ISSUER_KEYS,
			peer_url: &acquirer_peer,
			admin_token: ADMIN,
		};
		let mut issuer_extra = vec!["--reconcile-every", "2s", "--pin-iterations", "1000"];
		// The tests play many payers from one address, faster than people: no rate limits,
		// unless the test sets its own.
		for flag in ["--wallet-rate", "--client-rate"] {
			if !options.issuer_args.iter().any(|a| a == flag) {
				issuer_extra.extend([flag, "1000000"]);
			}
		}
		let (mut issuer_tls, mut acquirer_tls) = (Vec::new(), Vec::new());
		if let Some(pki) = &pki {
			issuer_tls = pki.service_args(&pki.issuer);
			acquirer_tls = pki.service_args(&pki.acquirer);
		}
		issuer_extra.extend(as_refs(&issuer_tls));
		issuer_extra.extend(as_refs(&options.issuer_args));
		// Notifications retried quickly, so that an aggregator back up hears within a second.
		let mut acquirer_extra =
			vec!["--reconcile-every", "2s", "--outbox-base", "200ms", "--outbox-max", "1s"];
		acquirer_extra.extend(as_refs(&acquirer_tls));
		acquirer_extra.extend(as_refs(&options.acquirer_args));
		let issuer = issuer_launch.start(&format!("{name}-issuer"), &issuer_extra);
		let acquirer = acquirer_launch.start(&format!("{name}-acquirer"), &acquirer_extra);

		let inbox = NotifyInbox::new(
			Db::open(&dir.path().join("aggregator.sqlite").to_string_lossy(), &MIGRATIONS)
				.await
				.unwrap(),
			counterparty("acquirer", ACQUIRER_KEYS.aggregators.unwrap()),
			AGG,
			Signer::from_uri("//Aggregator1").unwrap(),
			Duration::from_secs(300),
			false,
		);
		let app = inbox.router();
		let listener = tokio::net::TcpListener::bind(("127.0.0.1", notify_port)).await.unwrap();
		tokio::spawn(async move { axum::serve(listener, app).await });

		let mut net = Net {
			sessions: Default::default(),
			node,
			feeder,
			issuer,
			acquirer,
			conn,
			issuer_url,
			acquirer_url: acquirer_url.clone(),
			issuer_admin_url: format!("{scheme}://127.0.0.1:{issuer_admin}"),
			acquirer_admin_url: format!("{scheme}://127.0.0.1:{acquirer_admin}"),
			to_acquirer,
			to_issuer,
			http: pki.as_ref().map_or_else(http_client, |p| p.client(None)),
			aggregator: match &pki {
				Some(p) => aggregator_with(&acquirer_url, p.client(Some(&p.aggregator))),
				None => aggregator_via(&acquirer_url),
			},
			pki,
			inbox,
			notify_url: format!("http://127.0.0.1:{notify_port}/notify"),
			spec: Spec::load(),
			issuer_db,
			acquirer_db,
			node_url: node_url.clone(),
			acquirer_peer: acquirer_peer.clone(),
			acquirer_extra: acquirer_extra.iter().map(|s| s.to_string()).collect(),
			_dir: dir,
		};
		net.wait_healthy().await;
		let agg = net
			.admin_acquirer(
				Method::POST,
				"/v1/admin/aggregators",
				"/v1/admin/aggregators",
				Some(json!({
					"aggregatorId": AGG, "name": "Pearl River Pay",
					"publicKey": ss58("//Aggregator1"),
					"notifyUrl": format!("http://127.0.0.1:{notify_port}/notify"),
					// The test's aggregator listens on loopback.
					"privateAddresses": true,
				})),
			)
			.await;
		assert_eq!(agg.0, 200, "{}", agg.1);
		net
	}

	/// Another acquirer process on the acquirer's store (PostgreSQL), on a port of its own,
	/// once it answers `/health`; and its URL.
	pub async fn second_acquirer(&self, name: &str) -> (NodeProcess, String) {
		let port = free_port();
		let url = format!("http://127.0.0.1:{port}");
		let launch = ServiceLaunch {
			binary: Path::new(ACQUIRER),
			port,
			admin_port: free_port(),
			database: &self.acquirer_db,
			node_url: &self.node_url,
			keys: ACQUIRER_KEYS,
			peer: ISSUER_KEYS,
			peer_url: &self.acquirer_peer,
			admin_token: ADMIN,
		};
		let process = launch.start(name, &as_refs(&self.acquirer_extra));
		self.health(&url).await;
		(process, url)
	}

	/// `GET /health` of the service at `url`, once it answers 200.
	pub async fn health(&self, url: &str) -> Value {
		let http = self.http.clone();
		wait_for(Duration::from_secs(60), &format!("{url}/health"), || {
			let (http, url) = (http.clone(), url.to_string());
			async move {
				let r = http.get(format!("{url}/health")).send().await.ok()?;
				(r.status() == 200).then_some(())?;
				r.json::<Value>().await.ok()
			}
		})
		.await
	}

	pub fn set_notify_mode(&self, mode: NotifyMode) {
		self.inbox.set_mode(mode);
	}

	/// Stops `service` (SIGKILL), then starts it again on its store with `crash_at` armed
	/// (`CLEARLINE_CRASH_AT`), or with nothing armed; waits until both answer `/health`.
	pub async fn restart_service(&mut self, issuer: bool, crash_at: Option<&str>) {
		let service = if issuer { &mut self.issuer } else { &mut self.acquirer };
		service.kill();
		service.set_env("CLEARLINE_CRASH_AT", crash_at);
		service.restart();
		self.wait_healthy().await;
	}

	/// Waits for `service` to die of SIGKILL at its armed crash point `point` (panics if it
	/// does not within 60 s), then starts it again with nothing armed.
	pub async fn restart_after_crash(&mut self, issuer: bool, point: &str) {
		let service = if issuer { &mut self.issuer } else { &mut self.acquirer };
		let ended = service.wait_exit(Duration::from_secs(60)).await;
		assert_eq!(
			ended.and_then(|s| s.signal()),
			Some(libc::SIGKILL),
			"{point}: the service did not die there\n{}",
			self.logs()
		);
		eprintln!("{point}: killed there; restarting");
		self.restart_service(issuer, None).await;
	}

	pub async fn wait_healthy(&mut self) {
		for (url, doc) in [(self.issuer_url.clone(), true), (self.acquirer_url.clone(), false)] {
			let body = self.health(&url).await;
			let spec = if doc { &self.spec.issuer } else { &self.spec.acquirer };
			self.spec.check(spec, &Method::GET, "/health", 200, &body);
			self.issuer.assert_running();
			self.acquirer.assert_running();
		}
	}

	pub async fn plain(
		&self,
		issuer: bool,
		method: Method,
		template: &str,
		path: &str,
		headers: &[(&str, String)],
		body: Option<Value>,
	) -> (u16, Value) {
		let base = if issuer { &self.issuer_url } else { &self.acquirer_url };
		self.call_at(base, issuer, method, template, path, headers, body).await
	}

	/// A call to `base` + `path`, checked against the issuer's document (`issuer`) or the
	/// acquirer's.
	#[allow(clippy::too_many_arguments)]
	pub async fn call_at(
		&self,
		base: &str,
		issuer: bool,
		method: Method,
		template: &str,
		path: &str,
		headers: &[(&str, String)],
		body: Option<Value>,
	) -> (u16, Value) {
		let mut request = self.http.request(method.clone(), format!("{base}{path}"));
		for (k, v) in headers {
			request = request.header(*k, v);
		}
		if let Some(b) = body {
			request = request.json(&b);
		}
		let response = request.send().await.expect("the service answers");
		let status = response.status().as_u16();
		let value: Value = response.json().await.unwrap_or(Value::Null);
		let doc = if issuer { &self.spec.issuer } else { &self.spec.acquirer };
		self.spec.check(doc, &method, template, status, &value);
		(status, value)
	}

	pub async fn admin_acquirer(
		&self,
		m: Method,
		template: &str,
		path: &str,
		body: Option<Value>,
	) -> (u16, Value) {
		self.admin(false, m, template, path, body).await
	}

	pub async fn admin_issuer(
		&self,
		m: Method,
		template: &str,
		path: &str,
		body: Option<Value>,
	) -> (u16, Value) {
		self.admin(true, m, template, path, body).await
	}

	/// An operations call with the admin token, checked against that service's document.
	pub async fn admin(
		&self,
		issuer: bool,
		m: Method,
		template: &str,
		path: &str,
		body: Option<Value>,
	) -> (u16, Value) {
		let token = [("authorization", format!("Bearer {ADMIN}"))];
		let base = if issuer { &self.issuer_admin_url } else { &self.acquirer_admin_url };
		self.call_at(base, issuer, m, template, path, &token, body).await
	}

	/// A closed cycle's reconciliation report from one service. The service reads the chain
	/// from its own connection, which may learn of the closing block a moment after the test's,
	/// and its background run may find the cycle in agreement first (after which a run no
	/// longer lists it): asked again until a run reports it or its recorded report is in
	/// agreement.
	pub async fn closed_cycle_report(&self, issuer: bool, cycle: u32) -> Value {
		wait_for(Duration::from_secs(30), "the closed cycle reconciled", || async move {
			let run = "/v1/admin/reconcile";
			let (status, report) = self.admin(issuer, Method::POST, run, run, None).await;
			assert_eq!(status, 200, "{report}");
			if let Some(found) = report["cycles"].as_array().unwrap().first() {
				assert_eq!(found["cycle"], cycle, "{report}");
				return Some(found.clone());
			}
			let template = "/v1/admin/cycles/{cycle}/reconciliation";
			let path = format!("/v1/admin/cycles/{cycle}/reconciliation");
			let (status, recorded) = self.admin(issuer, Method::GET, template, &path, None).await;
			match status {
				200 => (recorded["report"]["ok"] == true).then(|| recorded["report"].clone()),
				404 => {
					assert_eq!(recorded["code"], "CycleNotReconciled", "{recorded}");
					None
				}
				_ => panic!("{status}: {recorded}"),
			}
		})
		.await
	}

	/// The wallet app's login; its status and answer.
	pub async fn login(&self, wallet: &str, pin: &str) -> (u16, Value) {
		let body = json!({ "walletId": wallet, "pin": pin });
		self.plain(true, Method::POST, "/v1/sessions", "/v1/sessions", &[], Some(body)).await
	}

	/// A wallet app call as the app makes it: with a session opened by `pin` (logging in when
	/// there is none, or when the one it had was ended), and `pin` as the payment's
	/// confirmation. A refused login is the answer.
	pub async fn app(
		&self,
		pin: &str,
		m: Method,
		template: &str,
		path: &str,
		body: Option<Value>,
	) -> (u16, Value) {
		let wallet = path.split(['/', '?']).nth(3).unwrap_or_default().to_string();
		let key = (wallet.clone(), pin.to_string());
		for fresh in [false, true] {
			let cached = match fresh {
				false => self.sessions.lock().unwrap().get(&key).cloned(),
				true => None,
			};
			let token = match cached {
				Some(token) => token,
				None => {
					let (status, session) = self.login(&wallet, pin).await;
					if status != 200 {
						return (status, session);
					}
					let token = session["token"].as_str().unwrap().to_string();
					self.sessions.lock().unwrap().insert(key.clone(), token.clone());
					token
				}
			};
			let headers =
				[("authorization", format!("Bearer {token}")), ("x-wallet-pin", pin.to_string())];
			let (status, value) =
				self.plain(true, m.clone(), template, path, &headers, body.clone()).await;
			if !(status == 401 && value["code"] == "SessionInvalid" && !fresh) {
				return (status, value);
			}
		}
		unreachable!("the second round logs in afresh")
	}

	/// A signed call as the aggregator; checked against the acquirer's document.
	pub async fn agg(
		&self,
		m: Method,
		template: &str,
		path: &str,
		body: Option<Value>,
	) -> (u16, Value) {
		self.agg_as(&self.aggregator, m, template, path, body).await
	}

	/// [`Self::agg`] as another aggregator, `aggregator`.
	pub async fn agg_as(
		&self,
		aggregator: &Peer,
		m: Method,
		template: &str,
		path: &str,
		body: Option<Value>,
	) -> (u16, Value) {
		let result: Result<Value, PeerError> =
			aggregator.call(m.clone(), path, body.as_ref(), Duration::from_secs(30)).await;
		let (status, value) = match result {
			Ok(v) => (200, v),
			Err(PeerError::Refused { status, code, message }) => {
				(status, json!({ "code": code, "message": message }))
			}
			Err(e) => panic!("{m} {path}: {e}"),
		};
		self.spec.check(&self.spec.acquirer, &m, template, status, &value);
		(status, value)
	}

	pub async fn merchant(&self, id: &str, name: &str) -> Value {
		let (status, m) = self
			.admin_acquirer(
				Method::POST,
				"/v1/admin/merchants",
				"/v1/admin/merchants",
				Some(json!({
					"aggregatorId": AGG, "aggregatorMerchantId": id, "name": name,
					"city": "Shenzhen", "mcc": "5812",
				})),
			)
			.await;
		assert_eq!(status, 200, "{m}");
		m
	}

	pub async fn wallet(&self, id: &str, hkd: i64) {
		let (status, w) = self
			.admin_issuer(
				Method::POST,
				"/v1/admin/wallets",
				"/v1/admin/wallets",
				Some(json!({
					"walletId": id, "holder": "Chan Tai Man", "pin": PIN,
				})),
			)
			.await;
		assert_eq!(status, 200, "{w}");
		let path = format!("/v1/admin/wallets/{id}/topups");
		let (status, w) = self
			.admin_issuer(
				Method::POST,
				"/v1/admin/wallets/{walletId}/topups",
				&path,
				Some(json!({
					"topupId": format!("TOPUP-{id}"), "amount": hkd,
					"reference": format!("FPS-{id}"),
				})),
			)
			.await;
		assert_eq!(status, 200, "{w}");
		assert_eq!(w["balance"], hkd);
	}

	pub async fn balance(&self, wallet: &str) -> i64 {
		let (status, w) = self
			.app(PIN, Method::GET, "/v1/wallets/{walletId}", &format!("/v1/wallets/{wallet}"), None)
			.await;
		assert_eq!(status, 200, "{w}");
		w["balance"].as_i64().unwrap()
	}

	pub async fn payment_code(&self, wallet: &str) -> String {
		let path = format!("/v1/wallets/{wallet}/payment-codes");
		let (status, c) =
			self.app(PIN, Method::POST, "/v1/wallets/{walletId}/payment-codes", &path, None).await;
		assert_eq!(status, 200, "{c}");
		assert!(c["qrSvg"].as_str().unwrap().contains("<svg"));
		c["code"].as_str().unwrap().to_string()
	}

	/// Micropay, then waits for the acquirer's order to be final; the final order.
	pub async fn micropay(&self, agg_order: &str, merchant: &str, code: &str, cny: i64) -> Value {
		let (status, order) = self
			.agg(
				Method::POST,
				"/v1/micropay",
				"/v1/micropay",
				Some(json!({
					"aggregatorOrderId": agg_order, "merchantId": merchant, "authCode": code,
					"amount": cny, "currency": "CNY", "description": "noodles",
				})),
			)
			.await;
		assert_eq!(status, 200, "{order}");
		assert!(order["orderId"].as_str().unwrap().starts_with("ACQ"), "our own order id: {order}");
		self.final_acquirer_order(order["orderId"].as_str().unwrap()).await
	}

	pub async fn final_acquirer_order(&self, order_id: &str) -> Value {
		self.final_acquirer_order_as(&self.aggregator, order_id).await
	}

	/// [`Self::final_acquirer_order`], asked by another aggregator.
	pub async fn final_acquirer_order_as(&self, aggregator: &Peer, order_id: &str) -> Value {
		let path = format!("/v1/orders/{order_id}");
		let final_order = async {
			loop {
				let (_, o) =
					self.agg_as(aggregator, Method::GET, "/v1/orders/{orderId}", &path, None).await;
				if matches!(o["status"].as_str(), Some("SUCCESS" | "FAILED")) {
					return o;
				}
				tokio::time::sleep(Duration::from_millis(200)).await;
			}
		};
		tokio::time::timeout(Duration::from_secs(60), final_order)
			.await
			.unwrap_or_else(|_| panic!("order {order_id} not final in 60 s\n{}", self.logs()))
	}

	pub async fn issuer_order_for(&self, wallet: &str, code: &str) -> Value {
		let path = format!("/v1/wallets/{wallet}/payments?code={code}");
		let (status, o) =
			self.app(PIN, Method::GET, "/v1/wallets/{walletId}/payments", &path, None).await;
		assert_eq!(status, 200, "{o}");
		o
	}

	/// The wallet app pays a scanned payload or prepay id; waits for the final result.
	pub async fn pay(&self, wallet: &str, request_id: &str, what: Value) -> (u16, Value) {
		let mut body = what;
		body["requestId"] = json!(request_id);
		let path = format!("/v1/wallets/{wallet}/payments");
		let (status, order) =
			self.app(PIN, Method::POST, "/v1/wallets/{walletId}/payments", &path, Some(body)).await;
		if status != 200
			|| matches!(order["status"].as_str(), Some("SUCCESS" | "FAILED" | "REJECTED"))
		{
			return (status, order);
		}
		let path =
			format!("/v1/wallets/{wallet}/payments/{}", order["issuerOrderId"].as_str().unwrap());
		let order = wait_for(Duration::from_secs(60), "payment final", || async {
			let (_, o) = self
				.app(PIN, Method::GET, "/v1/wallets/{walletId}/payments/{orderId}", &path, None)
				.await;
			matches!(o["status"].as_str(), Some("SUCCESS" | "FAILED" | "REJECTED")).then_some(o)
		})
		.await;
		(200, order)
	}

	/// A settlement account's balance on chain, in the finalized state.
	pub async fn chain_balance(&self, who: &str, currency: CurrencyCode) -> i128 {
		let account = calls::account("who", &ss58(who)).unwrap();
		let p =
			queries::participant(&self.conn, &account, None).await.unwrap().expect("a participant");
		p.accounts.iter().find(|a| a.currency == currency).map(|a| a.balance.0).unwrap_or(0)
	}

	/// Every delivery of a notification for `order_id` the aggregator received.
	pub async fn notifications_for(&self, order_id: &str) -> Vec<Notification> {
		let heard = self.inbox.heard();
		heard.deliveries.iter().filter(|n| n.order_id == order_id).cloned().collect()
	}

	pub async fn sudo_tx(&self, key: &str, call: clearline_runtime::RuntimeCall) {
		let sender = TxSender::new(
			self.conn.clone(),
			Signer::from_uri(key).unwrap(),
			SenderOptions::default(),
		)
		.unwrap();
		let report = sender.send(call).await.unwrap();
		assert!(
			matches!(
				report.result,
				TxResult::Finalized { outcome: clearline_client::Outcome::Succeeded(_), .. }
			),
			"{:?}",
			report.result
		);
	}

	pub fn logs(&self) -> String {
		format!(
			"{}\n{}\n{}\n{}",
			self.issuer.log_tail(30),
			self.acquirer.log_tail(30),
			self.feeder.log_tail(5),
			self.node.as_ref().map(|n| n.log_tail(5)).unwrap_or_default()
		)
	}
}

/// A payment the aggregator started: the acquirer's order id.
pub struct Started {
	pub order_id: String,
}

impl Net {
	/// A customer-presented payment as an aggregator makes it: micropay, repeated with the
	/// same order id while the acquirer does not answer (a 5xx or no answer), as the
	/// aggregator's own retry would. `None` if the acquirer refused it by name.
	pub async fn start_micropay(
		&self,
		agg_order: &str,
		merchant: &str,
		code: &str,
		cny: i64,
	) -> Option<Started> {
		self.try_micropay(agg_order, merchant, code, cny, 20)
			.await
			.unwrap_or_else(|e| panic!("{agg_order}: {e}\n{}", self.logs()))
	}

	/// [`Self::start_micropay`] with at most `attempts` tries; an error if none was answered.
	pub async fn try_micropay(
		&self,
		agg_order: &str,
		merchant: &str,
		code: &str,
		cny: i64,
		attempts: u32,
	) -> Result<Option<Started>, String> {
		let body = json!({
			"aggregatorOrderId": agg_order, "merchantId": merchant, "authCode": code,
			"amount": cny, "currency": "CNY",
		});
		let mut last = String::new();
		for attempt in 1..=attempts {
			let result: Result<Value, PeerError> = self
				.aggregator
				.call(Method::POST, "/v1/micropay", Some(&body), Duration::from_secs(30))
				.await;
			match result {
				Ok(order) => {
					self.spec.check(
						&self.spec.acquirer,
						&Method::POST,
						"/v1/micropay",
						200,
						&order,
					);
					return Ok(Some(Started {
						order_id: order["orderId"].as_str().unwrap().into(),
					}));
				}
				Err(PeerError::Refused { status, .. }) if status < 500 => return Ok(None),
				Err(e) => {
					eprintln!("{agg_order}: micropay attempt {attempt}: {e}");
					last = e.to_string();
					tokio::time::sleep(Duration::from_millis(500)).await;
				}
			}
		}
		Err(format!("micropay unanswered after {attempts} attempts: {last}"))
	}
}
