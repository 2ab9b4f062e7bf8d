//! End-to-end latency of a customer-presented payment: from the aggregator's `micropay`
//! call to the notification the merchant's aggregator receives, with the real node (or the
//! four-validator network), both services and an aggregator notify endpoint that verifies
//! every notification, at a fixed offered load (open loop: a payment starts on schedule
//! whether or not the earlier ones have finished).

use crate::{
	procstat::{self, CpuMeter},
	stats::Percentiles,
};
use anyhow::{ensure, Context, Result};
use clearline_client::{ConnectOptions, Connection, NodeRpc, Signer};
use clearline_testkit::{
	free_port, local_validator, public_key, start_feeder, wait_finalized, NodeProcess,
	ServiceLaunch, ACQUIRER_KEYS, ISSUER_KEYS,
};
use clearline_workers::{
	auth::{self, Counterparty},
	common::inbox::NotifyInbox,
	peer::{Peer, PeerError},
	store::{create_postgres_database, Db},
};
use futures::{StreamExt, TryStreamExt};
use reqwest::Method;
use serde::Serialize;
use serde_json::{json, Value};
use std::{
	collections::HashMap,
	path::Path,
	sync::Arc,
	time::{Duration, Instant},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Network {
	/// One `--dev` node (manual seal, final at every one-second slot).
	Dev,
	/// The `local` chain's four validators (Aura and GRANDPA over p2p on loopback); the
	/// acquirer uses Alice's node, the issuer Bob's.
	Local,
}

#[derive(Debug, Clone)]
pub struct Config {
	/// Payments measured.
	pub payments: usize,
	/// Payments sent first at the same rate and left out of the figures.
	pub warmup: usize,
	/// Offered load, payments per second.
	pub rate: u32,
	pub wallets: usize,
	/// Acquirer processes sharing the acquirer's store (more than one needs `postgres`); the
	/// aggregator's calls go to each in turn.
	pub acquirers: usize,
	/// A PostgreSQL server (URL of any of its databases) to keep both services' stores on;
	/// SQLite files otherwise.
	pub postgres: Option<String>,
	/// The acquirers' `--batch-interval`, if not their default.
	pub batch_interval: Option<String>,
}

/// CPU time per payment taken (milliseconds; user and system), by process: what bounds the
/// rate each can sustain, and what that rate is on a core of its own (`1000 / ms`).
#[derive(Debug, Clone, Serialize)]
pub struct CpuPerPayment {
	/// The payments the figures are divided by: measured, not refused `Busy`.
	pub payments: usize,
	pub issuer_ms: f64,
	/// All acquirer processes together.
	pub acquirer_ms: f64,
	/// The node(s).
	pub nodes_ms: f64,
	/// The PostgreSQL server's processes, when the stores are on PostgreSQL on this machine.
	pub postgres_ms: Option<f64>,
	/// This program: the aggregator signing each micropay and verifying each notification,
	/// and the wallets' side.
	pub load_generator_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
	pub network: Network,
	pub validators: usize,
	pub offered_per_second: u32,
	pub payments: usize,
	pub warmup: usize,
	pub succeeded: usize,
	pub failed: usize,
	/// Measured payments with no notification in time (not counting `busy`).
	pub unnotified: usize,
	/// Measured micropays the acquirer refused at once with `503 Busy` (its admission limit):
	/// nothing was done for them, and the latency figures leave them out.
	pub busy: usize,
	/// Each failed payment's aggregator order id and the reason its notification gave.
	pub failures: Vec<(String, String)>,
	/// micropay → the aggregator's notification.
	pub end_to_end: Option<Percentiles>,
	/// micropay → its answer (our order id, debit requested).
	pub micropay_answer: Option<Percentiles>,
	/// Notifications per second over the measured payments.
	pub notified_per_second: f64,
	/// How far finality trailed the best block on the acquirer's node while the measured
	/// payments ran (sampled every 250 ms), in blocks.
	pub finality_lag: Option<Lag>,
	/// CPU of the node(s) and both services while the measured payments ran, in cores.
	pub nodes_cpu_cores: Option<f64>,
	pub services_cpu_cores: Option<f64>,
	/// What each party's processes spent per payment taken, from the first measured payment
	/// until the last notification.
	pub cpu_per_payment: Option<CpuPerPayment>,
	/// Least-squares slope of the end-to-end latency against the time each payment was sent,
	/// ms per second of the run: near zero when the services keep up, growing when a queue
	/// builds.
	pub slope_ms_per_s: Option<f64>,
	/// Whether the latency stayed flat: the change the slope predicts over the measured window
	/// (up or down: a falling latency is a backlog draining) is under a fifth of the p50, or
	/// under 100 ms.
	pub flat: bool,
	/// Every measured payment was taken, succeeded, was notified, and the latency stayed flat.
	pub sustained: bool,
	pub acquirers: usize,
	/// `sqlite` or `postgres`.
	pub store: &'static str,
	/// End-to-end latencies of the measured payments in the order sent, ms (for the plot).
	pub samples_ms: Vec<f64>,
}

/// The least-squares slope of `y` against `x`; `None` for fewer than two points or no spread.
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
	let n = points.len() as f64;
	if points.len() < 2 {
		return None;
	}
	let (mx, my) =
		(points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
	let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
	let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
	(sxx > 0.0).then(|| sxy / sxx)
}

#[derive(Debug, Clone, Serialize)]
pub struct Lag {
	pub samples: usize,
	pub mean_blocks: f64,
	pub max_blocks: u32,
}

/// Samples best − finalized on `url` every 250 ms until `stop` is set.
fn sample_finality_lag(
	url: String,
	stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Option<Lag>> {
	tokio::spawn(async move {
		let rpc = NodeRpc::connect(&url, Duration::from_secs(10)).await.ok()?;
		let mut lags = Vec::new();
		while !stop.load(std::sync::atomic::Ordering::SeqCst) {
			if let (Ok(best), Ok((finalized, _))) = (rpc.best_number().await, rpc.finalized().await)
			{
				lags.push(best.saturating_sub(finalized));
			}
			tokio::time::sleep(Duration::from_millis(250)).await;
		}
		(!lags.is_empty()).then(|| Lag {
			samples: lags.len(),
			mean_blocks: lags.iter().map(|l| f64::from(*l)).sum::<f64>() / lags.len() as f64,
			max_blocks: lags.iter().copied().max().unwrap_or(0),
		})
	})
}

const ADMIN: &str = "bench-admin-token";
const AGGREGATOR: &str = "agg-bench";
const AGGREGATOR_KEY: &str = "//BenchAggregator";

/// The acquirer as the aggregator knows it: its name and its key toward aggregators.
fn acquirer_toward_aggregators() -> Result<Counterparty> {
	let key = ACQUIRER_KEYS.aggregators.context("the acquirer has an aggregator key")?;
	let key = auth::parse_public_key(&public_key(key)).map_err(anyhow::Error::msg)?;
	Ok(Counterparty { party: "acquirer".into(), key })
}
const MERCHANT: &str = "SHOP-BENCH";
const PIN: &str = "246810";

/// Per aggregator order id, when its first notification arrived, its status and reason.
fn first_arrivals(inbox: &NotifyInbox) -> HashMap<String, (Instant, String, Option<String>)> {
	inbox
		.heard()
		.applied
		.values()
		.map(|a| {
			let n = &a.notification;
			(n.aggregator_order_id.clone(), (a.at, n.status.clone(), n.reason.clone()))
		})
		.collect()
}

/// The processes of one run; all stopped when dropped.
struct Processes {
	nodes: Vec<NodeProcess>,
	/// `clearline fx feed`, keeping HKD/CNY fresh; stopped with the rest.
	_feeder: NodeProcess,
	issuer: NodeProcess,
	acquirers: Vec<NodeProcess>,
}

pub async fn run(bin_dir: &Path, network: Network, config: Config) -> Result<Latency> {
	let dir = tempfile::Builder::new().prefix("clearline-bench-").tempdir()?;
	let node_binary = bin_dir.join("clearline-node");
	let nodes = start_chain(&node_binary, network).await?;
	let feeder = start_feeder(
		"bench-feeder",
		&node_binary,
		&nodes[0].rpc_url(),
		"//Ferdie",
		921_300_000,
		&[],
	);
	let feeder_conn =
		Connection::open(&nodes[0].rpc_url(), ConnectOptions::default(), None).await?;
	crate::chain::wait_for_feeder_rate(&feeder_conn).await?;
	let acquirer_node = nodes[0].rpc_url();
	let issuer_node = nodes[nodes.len().min(2) - 1].rpc_url();

	ensure!(
		config.acquirers >= 1 && (config.acquirers == 1 || config.postgres.is_some()),
		"several acquirer processes share one store on PostgreSQL: give --postgres"
	);
	let (issuer_port, notify_port) = (free_port(), free_port());
	let acquirer_ports: Vec<u16> = (0..config.acquirers).map(|_| free_port()).collect();
	let issuer_url = format!("http://127.0.0.1:{issuer_port}");
	let acquirer_urls: Vec<String> =
		acquirer_ports.iter().map(|p| format!("http://127.0.0.1:{p}")).collect();
	let acquirer_url = acquirer_urls[0].clone();
	let issuer_admin_port = free_port();
	let acquirer_admin_ports: Vec<u16> = (0..config.acquirers).map(|_| free_port()).collect();
	let admin_urls = (
		format!("http://127.0.0.1:{issuer_admin_port}"),
		format!("http://127.0.0.1:{}", acquirer_admin_ports[0]),
	);
	let (issuer_db, acquirer_db) = match &config.postgres {
		Some(server) => {
			// Fresh databases for every run of this process.
			static RUNS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
			let n = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
			let run = format!("bench_{:x}_{n}_{network:?}", std::process::id()).to_lowercase();
			(
				create_postgres_database(server, &format!("{run}_issuer")).await?,
				create_postgres_database(server, &format!("{run}_acquirer")).await?,
			)
		}
		None => (
			dir.path().join("issuer.sqlite").to_string_lossy().into_owned(),
			dir.path().join("acquirer.sqlite").to_string_lossy().into_owned(),
		),
	};
	let (issuer_binary, acquirer_binary) =
		(bin_dir.join("clearline-issuer"), bin_dir.join("clearline-acquirer"));
	let issuer = ServiceLaunch {
		binary: &issuer_binary,
		port: issuer_port,
		admin_port: issuer_admin_port,
		database: &issuer_db,
		node_url: &issuer_node,
		keys: ISSUER_KEYS,
		peer: ACQUIRER_KEYS,
		peer_url: &acquirer_url,
		admin_token: ADMIN,
	};
	let acquirer = |port, admin_port| ServiceLaunch {
		binary: &acquirer_binary,
		port,
		admin_port,
		database: &acquirer_db,
		node_url: &acquirer_node,
		keys: ACQUIRER_KEYS,
		peer: ISSUER_KEYS,
		peer_url: &issuer_url,
		admin_token: ADMIN,
	};
	let label = format!("{network:?}").to_lowercase();
	let processes = Processes {
		// The codes are made before the load starts, all of them; the wallets' PINs are
		// stretched less than in production, since making tens of thousands of codes is not
		// what is measured.
		issuer: issuer.start(
			&format!("bench-{label}-issuer"),
			&[
				"--code-ttl",
				"10m",
				"--pin-iterations",
				"1000",
				// One client making every payer's codes: not what the rate limits are for.
				"--wallet-rate",
				"1000000",
				"--client-rate",
				"1000000",
			],
		),
		acquirers: acquirer_ports
			.iter()
			.zip(&acquirer_admin_ports)
			.enumerate()
			.map(|(n, (port, admin))| {
				let interval = config.batch_interval.as_deref();
				let args: Vec<&str> =
					interval.map(|i| vec!["--batch-interval", i]).unwrap_or_default();
				acquirer(*port, *admin).start(&format!("bench-{label}-acquirer-{n}"), &args)
			})
			.collect(),
		nodes,
		_feeder: feeder,
	};

	let inbox = NotifyInbox::new(
		Db::open(
			&dir.path().join("aggregator.sqlite").to_string_lossy(),
			&clearline_workers::common::inbox::MIGRATIONS,
		)
		.await?,
		acquirer_toward_aggregators()?,
		AGGREGATOR,
		Signer::from_uri(AGGREGATOR_KEY)?,
		Duration::from_secs(300),
		false,
	);
	let app = inbox.router();
	let listener = tokio::net::TcpListener::bind(("127.0.0.1", notify_port)).await?;
	let server = tokio::spawn(async move { axum::serve(listener, app).await });

	let result = measure(
		&processes,
		network,
		&config,
		&issuer_url,
		&acquirer_urls,
		&admin_urls,
		notify_port,
		&inbox,
	)
	.await;
	server.abort();
	if result.is_err() {
		for p in
			processes.nodes.iter().take(1).chain([&processes.issuer]).chain(&processes.acquirers)
		{
			eprintln!("[bench] {} log:\n{}", p.name(), p.log_tail(15));
		}
	}
	result
}

async fn start_chain(node_binary: &Path, network: Network) -> Result<Vec<NodeProcess>> {
	let nodes = match network {
		Network::Dev => {
			let mut node = NodeProcess::start("bench-dev-node", node_binary, &["--dev", "--tmp"]);
			let rpc = node.rpc(Duration::from_secs(180)).await;
			wait_finalized(&rpc, 1, Duration::from_secs(60)).await;
			vec![node]
		}
		Network::Local => {
			let mut alice = local_validator(node_binary, "bench-alice", "alice", 1, None);
			let rpc = alice.rpc(Duration::from_secs(180)).await;
			let peer_id = rpc.local_peer_id().await?;
			let boot = format!("/ip4/127.0.0.1/tcp/{}/p2p/{peer_id}", alice.p2p_port);
			let mut nodes = vec![alice];
			for (i, name) in ["bob", "charlie", "dave"].into_iter().enumerate() {
				let label = format!("bench-{name}");
				nodes.push(local_validator(node_binary, &label, name, i as u8 + 2, Some(&boot)));
			}
			for node in &mut nodes {
				node.rpc(Duration::from_secs(180)).await;
			}
			// GRANDPA finalizes once the validators have found each other.
			wait_finalized(&rpc, 3, Duration::from_secs(120)).await;
			nodes
		}
	};
	Ok(nodes)
}

/// A POST as operations (the admin token), or as the wallet app (`Wallet`: its session and
/// the PIN; `Login`: neither).
async fn admin(
	http: &reqwest::Client,
	url: String,
	body: Option<Value>,
	caller: Caller<'_>,
) -> Result<Value> {
	let mut request = http.post(&url);
	let bearer = match caller {
		Caller::Admin => Some(ADMIN),
		Caller::Login => None,
		Caller::Wallet(session) => {
			request = request.header("x-wallet-pin", PIN);
			Some(session)
		}
	};
	if let Some(body) = body {
		request = request.json(&body);
	}
	if let Some(token) = bearer {
		request = request.header("authorization", format!("Bearer {token}"));
	}
	let response = request.send().await.with_context(|| format!("POST {url}"))?;
	let status = response.status();
	let value: Value = response.json().await.unwrap_or(Value::Null);
	ensure!(status.is_success(), "POST {url}: {status} {value}");
	Ok(value)
}

/// Who makes a set-up call.
#[derive(Clone, Copy)]
enum Caller<'a> {
	Admin,
	Login,
	Wallet(&'a str),
}

/// One payment as the aggregator saw it.
struct Sent {
	sent: Instant,
	answered: Option<Instant>,
	refused: Option<String>,
	/// Refused `Busy` by the admission limit.
	busy: bool,
}

#[allow(clippy::too_many_arguments)]
async fn measure(
	processes: &Processes,
	network: Network,
	config: &Config,
	issuer_url: &str,
	acquirer_urls: &[String],
	(issuer_admin, acquirer_admin): &(String, String),
	notify_port: u16,
	inbox: &NotifyInbox,
) -> Result<Latency> {
	let http = reqwest::Client::new();
	for url in std::iter::once(issuer_url).chain(acquirer_urls.iter().map(String::as_str)) {
		let deadline = Instant::now() + Duration::from_secs(120);
		while http
			.get(format!("{url}/health"))
			.send()
			.await
			.map(|r| r.status() != 200)
			.unwrap_or(true)
		{
			ensure!(Instant::now() < deadline, "{url}/health did not answer 200 within 2 minutes");
			tokio::time::sleep(Duration::from_millis(200)).await;
		}
	}
	let aggregator = Signer::from_uri(AGGREGATOR_KEY)?;
	admin(
		&http,
		format!("{acquirer_admin}/v1/admin/aggregators"),
		Some(json!({
			"aggregatorId": AGGREGATOR, "name": "Bench Pay",
			"publicKey": auth::public_key_text(&aggregator),
			"notifyUrl": format!("http://127.0.0.1:{notify_port}/notify"),
			"privateAddresses": true,
		})),
		Caller::Admin,
	)
	.await?;
	admin(
		&http,
		format!("{acquirer_admin}/v1/admin/merchants"),
		Some(json!({
			"aggregatorId": AGGREGATOR, "aggregatorMerchantId": MERCHANT,
			"name": "Bench Noodles", "city": "Shenzhen", "mcc": "5812",
		})),
		Caller::Admin,
	)
	.await?;
	for w in 0..config.wallets {
		let id = format!("W-BENCH-{w:04}");
		admin(
			&http,
			format!("{issuer_admin}/v1/admin/wallets"),
			Some(json!({ "walletId": id, "holder": "Bench Holder", "pin": PIN })),
			Caller::Admin,
		)
		.await?;
		admin(
			&http,
			format!("{issuer_admin}/v1/admin/wallets/{id}/topups"),
			Some(json!({
				"topupId": format!("TOPUP-{id}"), "amount": 10_000_000,
				"reference": format!("FPS-{id}"),
			})),
			Caller::Admin,
		)
		.await?;
	}
	// Each wallet's app logs in once; its session makes the payment codes.
	let mut sessions = Vec::new();
	for w in 0..config.wallets {
		let login = json!({ "walletId": format!("W-BENCH-{w:04}"), "pin": PIN });
		let session =
			admin(&http, format!("{issuer_url}/v1/sessions"), Some(login), Caller::Login).await?;
		sessions.push(session["token"].as_str().context("a session token")?.to_string());
	}
	let total = config.warmup + config.payments;
	eprintln!("[bench] {network:?}: making {total} payment codes");
	let codes: Vec<String> = futures::stream::iter((0..total).map(|i| {
		let (http, url, token) = (
			http.clone(),
			format!("{issuer_url}/v1/wallets/W-BENCH-{:04}/payment-codes", i % config.wallets),
			sessions[i % config.wallets].clone(),
		);
		async move {
			let code = admin(&http, url, None, Caller::Wallet(&token)).await?;
			code["code"].as_str().map(String::from).context("a payment code")
		}
	}))
	.buffered(32)
	.try_collect()
	.await?;

	// The aggregator calls the acquirer processes in turn, as a balancer in front of them
	// would.
	let peers: Vec<Arc<Peer>> = acquirer_urls
		.iter()
		.map(|url| {
			let acquirer = acquirer_toward_aggregators()?;
			Ok(Arc::new(Peer::new(url, AGGREGATOR, aggregator.clone(), acquirer)))
		})
		.collect::<Result<_>>()?;
	let interval = Duration::from_secs_f64(1.0 / f64::from(config.rate.max(1)));
	let cpu = |ps: &[&NodeProcess]| -> Result<Vec<CpuMeter>> {
		ps.iter().map(|p| CpuMeter::start(p.pid().context("a process stopped")?)).collect()
	};
	let nodes: Vec<&NodeProcess> = processes.nodes.iter().collect();
	let lag_stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
	let mut lag = None;
	let mut node_meters = None;
	let mut service_meters = None;
	let mut postgres_before = None;
	let mut own_meter = None;
	eprintln!("[bench] {network:?}: {total} payments at {} a second", config.rate);
	let start = tokio::time::Instant::now() + Duration::from_millis(200);
	let mut tasks = Vec::with_capacity(total);
	for (i, code) in codes.into_iter().enumerate() {
		let at = start + interval * i as u32;
		if i == config.warmup {
			tokio::time::sleep_until(at).await;
			node_meters = Some(cpu(&nodes)?);
			lag = Some(sample_finality_lag(processes.nodes[0].rpc_url(), lag_stop.clone()));
			let services: Vec<&NodeProcess> =
				std::iter::once(&processes.issuer).chain(&processes.acquirers).collect();
			service_meters = Some(cpu(&services)?);
			if config.postgres.is_some() {
				postgres_before = Some(procstat::cpu_seconds_of_command("postgres"));
			}
			own_meter = Some(CpuMeter::start(std::process::id())?);
		}
		let peer = peers[i % peers.len()].clone();
		tasks.push(tokio::spawn(async move {
			tokio::time::sleep_until(at).await;
			let body = json!({
				"aggregatorOrderId": format!("AGG-BENCH-{i:06}"), "merchantId": MERCHANT,
				"authCode": code, "amount": 100 + (i % 900), "currency": "CNY",
			});
			let sent = Instant::now();
			let r: std::result::Result<Value, PeerError> =
				peer.call(Method::POST, "/v1/micropay", Some(&body), Duration::from_secs(30)).await;
			match r {
				Ok(_) => Sent { sent, answered: Some(Instant::now()), refused: None, busy: false },
				Err(e) => {
					let busy = matches!(&e, PeerError::Refused { code, .. } if code == "Busy");
					Sent { sent, answered: None, refused: Some(e.to_string()), busy }
				}
			}
		}));
	}
	let mut sent = Vec::with_capacity(total);
	for t in tasks {
		sent.push(t.await.context("a payment task panicked")?);
	}
	let answered = sent[config.warmup..].iter().filter(|s| s.answered.is_some()).count();
	let measured: std::collections::HashSet<String> =
		(config.warmup..total).map(|i| format!("AGG-BENCH-{i:06}")).collect();
	let deadline = Instant::now() + Duration::from_secs(120);
	loop {
		let heard = {
			let heard = inbox.heard();
			let applied = heard.applied.values();
			applied.filter(|a| measured.contains(&a.notification.aggregator_order_id)).count()
		};
		if heard >= answered || Instant::now() > deadline {
			break;
		}
		tokio::time::sleep(Duration::from_millis(100)).await;
	}
	lag_stop.store(true, std::sync::atomic::Ordering::SeqCst);
	let finality_lag = match lag {
		Some(task) => task.await.ok().flatten(),
		None => None,
	};
	let nodes_cpu_cores =
		node_meters.as_ref().and_then(|m| m.iter().map(CpuMeter::cores).sum::<Result<f64>>().ok());
	let services_cpu_cores = service_meters
		.as_ref()
		.and_then(|m| m.iter().map(CpuMeter::cores).sum::<Result<f64>>().ok());
	let postgres_seconds = postgres_before.map(|before| {
		procstat::cpu_seconds_between(&before, &procstat::cpu_seconds_of_command("postgres"))
	});
	let cpu_seconds = (|| -> Option<(f64, f64, f64, f64)> {
		let services = service_meters.as_ref()?;
		let seconds = |m: &[CpuMeter]| m.iter().map(CpuMeter::seconds).sum::<Result<f64>>().ok();
		let nodes = seconds(node_meters.as_deref()?)?;
		Some((
			seconds(&services[..1])?,
			seconds(&services[1..])?,
			nodes,
			own_meter?.seconds().ok()?,
		))
	})();
	let bad = inbox.heard().refused.clone();
	ensure!(bad.is_empty(), "notifications that failed verification: {bad:?}");

	let arrivals = first_arrivals(inbox);
	let (mut samples, mut answers, mut timeline) = (Vec::new(), Vec::new(), Vec::new());
	let first_measured = sent.get(config.warmup).map(|s| s.sent);
	let (mut succeeded, mut failed, mut unnotified, mut busy) = (0, 0, 0, 0);
	let mut failures = Vec::new();
	let mut last_arrival = None::<Instant>;
	for (i, s) in sent.iter().enumerate().skip(config.warmup) {
		if let Some(a) = s.answered {
			answers.push((a - s.sent).as_secs_f64() * 1000.0);
		}
		match arrivals.get(&format!("AGG-BENCH-{i:06}")) {
			Some((at, status, reason)) => {
				let ms = (*at - s.sent).as_secs_f64() * 1000.0;
				samples.push(ms);
				if let Some(first) = first_measured {
					timeline.push((s.sent.saturating_duration_since(first).as_secs_f64(), ms));
				}
				last_arrival = Some(last_arrival.map_or(*at, |l| l.max(*at)));
				if status == "SUCCESS" {
					succeeded += 1
				} else {
					let reason =
						format!("{status}: {}", reason.as_deref().unwrap_or("no reason given"));
					eprintln!("[bench] AGG-BENCH-{i:06}: {reason}");
					failures.push((format!("AGG-BENCH-{i:06}"), reason));
					failed += 1
				}
			}
			None if s.busy => busy += 1,
			None => {
				if let Some(r) = &s.refused {
					eprintln!("[bench] AGG-BENCH-{i:06}: micropay refused: {r}");
				}
				unnotified += 1
			}
		}
	}
	let first_sent = sent[config.warmup..].iter().map(|s| s.sent).min();
	let notified_per_second = match (first_sent, last_arrival) {
		(Some(f), Some(l)) => samples.len() as f64 / (l - f).as_secs_f64(),
		_ => 0.0,
	};
	let taken = config.payments - busy;
	let cpu_per_payment =
		cpu_seconds.filter(|_| taken > 0).map(|(issuer, acquirer, nodes, own)| {
			let per = |seconds: f64| seconds * 1000.0 / taken as f64;
			CpuPerPayment {
				payments: taken,
				issuer_ms: per(issuer),
				acquirer_ms: per(acquirer),
				nodes_ms: per(nodes),
				postgres_ms: postgres_seconds.map(per),
				load_generator_ms: per(own),
			}
		});
	let end_to_end = Percentiles::of(&samples);
	let slope_ms_per_s = slope(&timeline);
	let window = timeline.last().map_or(0.0, |t| t.0);
	let flat = match (&end_to_end, slope_ms_per_s) {
		(Some(p), Some(k)) => (k * window).abs() < (p.p50_ms / 5.0).max(100.0),
		_ => false,
	};
	Ok(Latency {
		slope_ms_per_s,
		flat,
		sustained: flat
			&& failed == 0
			&& unnotified == 0
			&& busy == 0
			&& succeeded == config.payments,
		acquirers: processes.acquirers.len(),
		store: if config.postgres.is_some() { "postgres" } else { "sqlite" },
		network,
		validators: processes.nodes.len(),
		offered_per_second: config.rate,
		payments: config.payments,
		warmup: config.warmup,
		succeeded,
		failed,
		unnotified,
		busy,
		failures,
		end_to_end,
		micropay_answer: Percentiles::of(&answers),
		notified_per_second,
		finality_lag,
		nodes_cpu_cores,
		services_cpu_cores,
		cpu_per_payment,
		samples_ms: samples,
	})
}
