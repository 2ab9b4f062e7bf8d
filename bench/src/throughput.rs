//! On-chain throughput: balance transfers, then single postings, then batches of postings,
//! from many signers into one dev node, each kind for a fixed stretch of chain time, counted
//! from the finalized blocks.
//!
//! Every transaction is signed before its phase starts, so that the node, not the
//! benchmark's signing, is what the figures measure. The submitters keep the pool a few
//! blocks ahead of the chain and no further, which is what a steady stream of payments
//! looks like to the node.

use crate::{
	blocks::{self, BlockSample, Seen},
	chain::{self, send_all},
	procstat::{self, CpuMeter},
};
use anyhow::{bail, Context, Result};
use clearline_client::{
	calls, extrinsic::Mortality, queries, ChainContext, ConnectOptions, Connection, Error, NodeRpc,
	Signer,
};
use clearline_runtime::{AccountId, RuntimeCall, UNIT};
use clearline_testkit::{free_port, start_feeder, wait_finalized, NodeProcess};
use codec::Encode;
use pallet_clearing_bank::{ParticipantRole, PaymentInstruction, Scenario};
use pallet_fx_rate::{CurrencyCode, QuoteSide};
use serde::Serialize;
use serde_json::json;
use std::{
	collections::BTreeSet,
	path::Path,
	sync::{
		atomic::{AtomicBool, AtomicU64, Ordering},
		Arc,
	},
	time::{Duration, Instant},
};

/// What to run.
#[derive(Debug, Clone)]
pub struct Config {
	/// Measured chain time per kind, seconds.
	pub seconds: u64,
	/// Chain time left out at the start of each kind, seconds.
	pub warmup: u64,
	/// Accounts that sign the transactions (registered as acquirers, so that the chain lets
	/// them transact and post).
	pub signers: usize,
	/// Issuers whose signed instructions the postings carry.
	pub issuers: usize,
	/// WebSocket connections the submissions are spread over.
	pub connections: usize,
	/// Profile the node with `perf` for 20 s of each kind, where `perf` works.
	pub perf: bool,
	/// Instructions per `post_payments` batch; `None`: as many as fit a block.
	pub batch: Option<usize>,
	/// Which kinds to run, in this order.
	pub kinds: Vec<Kind>,
	/// Keep the node's database here (for `benchmark storage` on the state the run leaves)
	/// instead of a temporary directory.
	pub base_path: Option<std::path::PathBuf>,
}

/// The CNY price of every benchmark posting, in minor units.
const PRICE: u128 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
	Transfer,
	Posting,
	/// `post_payments` transactions; counted by the postings they make.
	Batch,
}

impl Kind {
	fn count(self, seen: &Seen) -> u64 {
		match self {
			Kind::Transfer => seen.transfers.load(Ordering::SeqCst),
			Kind::Posting | Kind::Batch => seen.postings.load(Ordering::SeqCst),
		}
	}

	fn of(self, block: &BlockSample) -> u32 {
		match self {
			Kind::Transfer => block.transfers,
			Kind::Posting | Kind::Batch => block.postings,
		}
	}

	fn name(self) -> &'static str {
		match self {
			Kind::Transfer => "transfers",
			Kind::Posting => "postings",
			Kind::Batch => "batches",
		}
	}
}

/// One point of the throughput-over-time series: a finalized block.
#[derive(Debug, Clone, Serialize)]
pub struct Point {
	/// Seconds of chain time since the measured window began (negative: warm-up).
	pub t_s: f64,
	pub count: u32,
	/// Share of the block's normal-class weight limit used.
	pub weight_share: f64,
}

/// What one kind came to.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
	pub kind: Kind,
	/// Postings (or transfers) one transaction makes: the batch size for batches, else 1.
	pub items_per_transaction: u64,
	pub extrinsic_bytes: usize,
	/// Block weight (ref time, ps) one transaction of this kind is charged before it runs,
	/// base weight included.
	pub block_weight_ps: u64,
	/// How many items (transfers, postings) fit in one block's normal-class limits (weight and
	/// length), at the weight charged before dispatch.
	pub ceiling_per_block: u64,
	pub presigned: usize,
	pub signing_seconds: f64,
	pub submitted: u64,
	pub finalized: u64,
	pub window_seconds: f64,
	pub finalized_in_window: u64,
	/// The headline: finalized in the window per second of chain time.
	pub per_second: f64,
	pub blocks_in_window: usize,
	/// Slots of the window in which no block was made (the node was still busy).
	pub missed_slots: usize,
	pub max_per_block: u32,
	/// Blocks of the window whose normal weight left no room for one more of this kind.
	pub weight_full_blocks: usize,
	pub failed: u64,
	/// Instructions in the window that posted nothing (refused, or posted before).
	pub not_posted: u64,
	pub pool_full_retries: u64,
	/// CPU used in the window, in cores (of the machine's).
	pub node_cpu_cores: Option<f64>,
	pub bench_cpu_cores: Option<f64>,
	/// The node's own figure for building a block in the window (its Prometheus histogram).
	pub block_construction_ms: Option<f64>,
	/// The `perf` profile of the node, relative to the results directory.
	pub profile: Option<String>,
	/// The signed transactions ran out before the window ended.
	pub exhausted: bool,
	pub series: Vec<Point>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
	pub signers: usize,
	pub issuers: usize,
	pub transfer: Option<Phase>,
	pub posting: Option<Phase>,
	pub batched: Option<Phase>,
	/// Single postings per second over transfers per second.
	pub ratio: Option<f64>,
	/// Batched postings per second over transfers per second.
	pub batched_ratio: Option<f64>,
}

impl Throughput {
	pub fn phases(&self) -> impl Iterator<Item = &Phase> {
		[&self.transfer, &self.posting, &self.batched].into_iter().flatten()
	}
}

struct Bench {
	conn: Arc<Connection>,
	rpcs: Vec<Arc<NodeRpc>>,
	ctx: ChainContext,
	signers: Vec<Signer>,
	issuers: Vec<Signer>,
	/// Where the transfers go.
	payee: AccountId,
	node_pid: u32,
	prometheus: u16,
	http: reqwest::Client,
	config: Config,
	/// Instructions per batch.
	batch: u64,
}

pub async fn run(node_binary: &Path, config: Config, out: &Path) -> Result<Throughput> {
	let prometheus = free_port();
	let prometheus_arg = prometheus.to_string();
	let base_path = match &config.base_path {
		Some(dir) => dir.to_str().context("the base path is not UTF-8")?.to_string(),
		None => "{dir}/chain".to_string(),
	};
	let node = NodeProcess::start_program(
		"bench-node",
		node_binary,
		&[
			"--dev",
			"--base-path",
			&base_path,
			"--rpc-port",
			"{rpc_port}",
			"--port",
			"{p2p_port}",
			"--no-mdns",
			"--prometheus-port",
			&prometheus_arg,
			"--no-telemetry",
		],
	);
	let mut node = node;
	// The chain's feeder, publishing once at the start with an hour's validity: the postings
	// are signed ahead at the rate it publishes and must stay the effective rate.
	let feeder = start_feeder(
		"bench-feeder",
		node_binary,
		&node.rpc_url(),
		"//Ferdie",
		921_300_000,
		&["--valid-for", "1h", "--refresh-before", "10m"],
	);
	let result = measure(&mut node, prometheus, config, out).await;
	if result.is_err() {
		eprintln!("[bench] node log:\n{}", node.log_tail(20));
		eprintln!("[bench] feeder log:\n{}", feeder.log_tail(10));
	}
	result
}

async fn measure(
	node: &mut NodeProcess,
	prometheus: u16,
	config: Config,
	out: &Path,
) -> Result<Throughput> {
	let url = node.rpc_url();
	let first = node.rpc(Duration::from_secs(180)).await;
	wait_finalized(&first, 1, Duration::from_secs(60)).await;
	let conn = Connection::open(&url, ConnectOptions::default(), None).await?;
	chain::wait_for_feeder_rate(&conn).await?;
	let mut rpcs = vec![Arc::new(first)];
	for _ in 1..config.connections.max(1) {
		rpcs.push(Arc::new(NodeRpc::connect(&url, Duration::from_secs(60)).await?));
	}
	let signers: Vec<Signer> = (0..config.signers)
		.map(|i| Signer::from_uri(&format!("//BenchAcquirer{i}")))
		.collect::<std::result::Result<_, _>>()?;
	let issuers: Vec<Signer> = (0..config.issuers)
		.map(|i| Signer::from_uri(&format!("//BenchIssuer{i}")))
		.collect::<std::result::Result<_, _>>()?;
	let bench = Bench {
		ctx: conn.chain_context(),
		conn,
		rpcs,
		signers,
		issuers,
		payee: Signer::from_uri("//Eve")?.account_id(),
		node_pid: node.pid().context("the node is not running")?,
		prometheus,
		http: reqwest::Client::new(),
		batch: config
			.batch
			.unwrap_or_else(|| calls::batch_capacity(config.issuers as u32) as usize)
			.max(1) as u64,
		config,
	};
	bench.set_up().await?;
	let accounts: BTreeSet<AccountId> = bench.signers.iter().map(Signer::account_id).collect();
	let (from, _) = bench.conn.finalized().await?;
	let seen = blocks::follow(bench.conn.clone(), from + 1, accounts);
	let mut phases = Vec::new();
	for kind in bench.config.kinds.clone() {
		match bench.phase(kind, &seen, out).await {
			Ok(phase) => phases.push(phase),
			Err(e) => {
				seen.stop();
				return Err(e.context(format!("the {} phase", kind.name())));
			}
		}
	}
	seen.stop();
	let take = |kind: Kind| phases.iter().find(|p| p.kind == kind).cloned();
	let (transfer, posting, batched) =
		(take(Kind::Transfer), take(Kind::Posting), take(Kind::Batch));
	let ratio = |p: &Option<Phase>| {
		let per_transfer = transfer.as_ref()?.per_second.max(f64::MIN_POSITIVE);
		Some(p.as_ref()?.per_second / per_transfer)
	};
	Ok(Throughput {
		signers: bench.config.signers,
		issuers: bench.config.issuers,
		ratio: ratio(&posting),
		batched_ratio: ratio(&batched),
		transfer,
		posting,
		batched,
	})
}

impl Bench {
	/// Fee money for the signers; the signers registered as acquirers, the issuers as issuers
	/// with HKD to pay from.
	async fn set_up(&self) -> Result<()> {
		let fees = self.signers.iter().map(|s| calls::transfer(s.account_id(), 10_000 * UNIT));
		send_all(&self.conn, "//Alice", fees.collect()).await?;
		let roles = [
			(&self.signers, ParticipantRole::Acquirer, "ACQ"),
			(&self.issuers, ParticipantRole::Issuer, "ISS"),
		];
		let mut calls = Vec::new();
		for (keys, role, tag) in roles {
			for (i, s) in keys.iter().enumerate() {
				let (code, name) = (format!("BENCH-{tag}-{i:03}"), format!("Bench {tag} {i}"));
				calls.push(calls::register_participant(s.account_id(), role, &code, &name)?);
			}
		}
		send_all(&self.conn, "//Charlie", calls).await?;
		let funding = self.issuers.iter().enumerate().map(|(i, s)| {
			calls::fund(
				s.account_id(),
				CurrencyCode::HKD,
				1_000_000_000_000,
				&format!("BENCH-FUND-{i}"),
			)
		});
		send_all(&self.conn, "//Charlie", funding.collect::<std::result::Result<_, _>>()?).await
	}

	/// Items (transfers, postings) one transaction of `kind` makes.
	fn items(&self, kind: Kind) -> u64 {
		match kind {
			Kind::Batch => self.batch,
			Kind::Transfer | Kind::Posting => 1,
		}
	}

	/// The `k`th instruction of `signer`'s `n`th transaction, with its issuer's signature.
	fn instruction(
		&self,
		signer: usize,
		n: u64,
		k: u64,
		quote: &(u128, u32),
	) -> Result<(PaymentInstruction<AccountId>, sp_runtime::MultiSignature)> {
		let issuer = &self.issuers[(n + k + signer as u64) as usize % self.issuers.len()];
		let order = format!("B{signer:03}-{n:07}-{k:04}");
		let instruction = PaymentInstruction {
			issuer: issuer.account_id(),
			acquirer: self.signers[signer].account_id(),
			acquirer_order_id: calls::order_id("order", &order)?,
			issuer_order_id: calls::order_id("order", &format!("I{order}"))?,
			aggregator_order_id: calls::order_id("order", &format!("G{order}"))?,
			merchant_id: calls::order_id("merchant", "M-BENCH")?,
			scenario: Scenario::CustomerPresented,
			debit_currency: CurrencyCode::HKD,
			debit_amount: quote.0,
			credit_currency: CurrencyCode::CNY,
			credit_amount: PRICE,
			rate_id: quote.1.into(),
			expires_at: clearline_client::instruction::expires_in(Duration::from_secs(3600)),
		};
		let signature = issuer.sign_instruction(&self.ctx, &instruction);
		Ok((instruction, signature))
	}

	/// The call the `n`th transaction of `signer` makes.
	fn call(&self, kind: Kind, signer: usize, n: u64, quote: &(u128, u32)) -> Result<RuntimeCall> {
		Ok(match kind {
			Kind::Transfer => calls::transfer(self.payee.clone(), 1),
			Kind::Posting => {
				let (instruction, signature) = self.instruction(signer, n, 0, quote)?;
				calls::post_payment(instruction, signature)
			}
			Kind::Batch => calls::post_payments(
				(0..self.batch)
					.map(|k| self.instruction(signer, n, k, quote))
					.collect::<Result<_>>()?,
			)?,
		})
	}

	fn sign(
		&self,
		kind: Kind,
		signer: usize,
		nonce: u32,
		n: u64,
		quote: &(u128, u32),
	) -> Result<Vec<u8>> {
		let call = self.call(kind, signer, n, quote)?;
		// Immortal: signed up to a minute and a half before they are sent.
		Ok(self.signers[signer].sign(&self.ctx, call, nonce, Mortality::Immortal, 0).encode())
	}

	async fn phase(&self, kind: Kind, seen: &Arc<Seen>, out: &Path) -> Result<Phase> {
		let q = queries::quote(
			&self.conn,
			CurrencyCode::HKD,
			CurrencyCode::CNY,
			PRICE,
			QuoteSide::ExactTarget,
			None,
		)
		.await?;
		let quote = (q.source_amount.0, q.rate_id as u32);
		let mut nonces = Vec::new();
		for s in &self.signers {
			let account = s.account_id().to_string();
			nonces.push(
				self.conn
					.run(|rpc| {
						let account = account.clone();
						async move { rpc.account_next_index(&account).await }
					})
					.await?,
			);
		}
		let sample = self.sign(kind, 0, nonces[0], 0, &quote)?;
		let weight = chain::block_weight_of(&self.conn, &sample).await?;
		// In transactions; `items` per transaction.
		let ceiling = chain::per_block_ceiling(weight, sample.len());
		let items = self.items(kind);
		let blocks = self.config.warmup + self.config.seconds + 15;
		let per_signer = (ceiling * blocks).div_ceil(self.signers.len() as u64);
		eprintln!(
			"[bench] {}: {items} a transaction, {} bytes, block weight {} µs, at most {ceiling} \
			 a block; signing {} ...",
			kind.name(),
			sample.len(),
			weight / 1_000_000,
			per_signer * self.signers.len() as u64
		);
		let started = Instant::now();
		let txs = self.presign(kind, &nonces, per_signer, &quote)?;
		let signing_seconds = started.elapsed().as_secs_f64();
		let presigned: usize = txs.iter().map(Vec::len).sum();
		eprintln!("[bench] {}: signed {presigned} in {signing_seconds:.1} s", kind.name());

		let base = kind.count(seen);
		// Blocks before this phase may hold an earlier phase's postings.
		let blocks_before = seen.blocks.lock().unwrap_or_else(|e| e.into_inner()).len();
		// What has left the pool since the phase began, failed transactions included.
		let base_landed = landed(kind, seen, items);
		let submitted = Arc::new(AtomicU64::new(0));
		let pool_full = Arc::new(AtomicU64::new(0));
		let stop = Arc::new(AtomicBool::new(false));
		let failure: Arc<std::sync::Mutex<Option<String>>> = Default::default();
		// A few blocks' worth: for batches, a few transactions of hundreds of postings each.
		let window = (ceiling * 3).clamp(if items > 1 { 3 } else { 500 }, 6000);
		let mut tasks = Vec::new();
		for (i, list) in txs.into_iter().enumerate() {
			let rpc = self.rpcs[i % self.rpcs.len()].clone();
			let (seen, submitted, pool_full, stop, failure) =
				(seen.clone(), submitted.clone(), pool_full.clone(), stop.clone(), failure.clone());
			tasks.push(tokio::spawn(async move {
				for hex in list {
					loop {
						if stop.load(Ordering::SeqCst) {
							return Ok(());
						}
						let landed = landed(kind, &seen, items) - base_landed;
						if submitted.load(Ordering::SeqCst).saturating_sub(landed) < window {
							break;
						}
						tokio::time::sleep(Duration::from_millis(10)).await;
					}
					loop {
						let r: std::result::Result<serde_json::Value, Error> =
							rpc.call("author_submitExtrinsic", vec![json!(hex)]).await;
						match r {
							Ok(_) => break,
							// The pool is full: wait for a block to make room.
							Err(Error::Refused { code: 1016, .. }) => {
								pool_full.fetch_add(1, Ordering::SeqCst);
								tokio::time::sleep(Duration::from_millis(50)).await;
							}
							Err(e) => {
								let e = format!("submitting: {e}");
								*failure.lock().unwrap_or_else(|e| e.into_inner()) =
									Some(e.clone());
								stop.store(true, Ordering::SeqCst);
								return Err(anyhow::anyhow!(e));
							}
						}
					}
					submitted.fetch_add(1, Ordering::SeqCst);
				}
				Ok::<(), anyhow::Error>(())
			}));
		}

		// The window opens `warmup` seconds after the first block with this kind in it.
		let start_wait = Instant::now();
		let first_ms = loop {
			if let Some(b) = seen
				.blocks
				.lock()
				.unwrap_or_else(|e| e.into_inner())
				.iter()
				.skip(blocks_before)
				.find(|b| kind.of(b) > 0)
			{
				break b.timestamp_ms;
			}
			check(&failure, &seen)?;
			if start_wait.elapsed() > Duration::from_secs(120) {
				bail!("no {} reached a finalized block within 2 minutes", kind.name());
			}
			tokio::time::sleep(Duration::from_millis(50)).await;
		};
		// Blocks come one a slot, their timestamps a few ms after the slot's start: a block
		// belongs to the window if it is one of the `seconds` slots after `window_start`,
		// whatever its jitter, so the bounds sit half a slot off the slots' starts.
		let half_slot = clearline_runtime::SLOT_DURATION / 2;
		let window_start = first_ms + self.config.warmup * 1000 + half_slot;
		let window_end = window_start + self.config.seconds * 1000;
		while seen.latest_ms.load(Ordering::SeqCst) < window_start {
			check(&failure, &seen)?;
			tokio::time::sleep(Duration::from_millis(20)).await;
		}
		let node_cpu = CpuMeter::start(self.node_pid)?;
		let bench_cpu = CpuMeter::start(std::process::id())?;
		let metrics_before = procstat::scrape(&self.http, self.prometheus).await.ok();
		let profile_name = format!("perf-{}.txt", kind.name());
		let profiling = (self.config.perf && self.config.seconds >= 30).then(|| {
			let (pid, path) = (self.node_pid, out.join(&profile_name));
			tokio::spawn(async move {
				tokio::time::sleep(Duration::from_secs(5)).await;
				procstat::profile(pid, 20, &path).await
			})
		});
		let mut exhausted = false;
		while seen.latest_ms.load(Ordering::SeqCst) < window_end {
			check(&failure, &seen)?;
			if tasks.iter().all(|t| t.is_finished()) {
				// Everything signed is out; the window ends when the pool has drained.
				let landed = landed(kind, seen, items) - base_landed;
				if landed >= submitted.load(Ordering::SeqCst) {
					exhausted = true;
					break;
				}
			}
			tokio::time::sleep(Duration::from_millis(20)).await;
		}
		let node_cpu_cores = node_cpu.cores().ok();
		let bench_cpu_cores = bench_cpu.cores().ok();
		let metrics_after = procstat::scrape(&self.http, self.prometheus).await.ok();
		stop.store(true, Ordering::SeqCst);
		for t in tasks {
			t.await.context("a submitter panicked")??;
		}
		let profile = match profiling {
			Some(p) => match p.await {
				Ok(Ok(())) => Some(profile_name),
				Ok(Err(e)) => {
					eprintln!("[bench] no profile of the node: {e:#}");
					None
				}
				Err(e) => {
					eprintln!("[bench] no profile of the node: {e}");
					None
				}
			},
			None => None,
		};
		// Drain: what is in the pool still lands, and is counted in the totals.
		let submitted = submitted.load(Ordering::SeqCst);
		let drain = Instant::now();
		while landed(kind, seen, items) - base_landed < submitted
			&& drain.elapsed() < Duration::from_secs(60)
		{
			tokio::time::sleep(Duration::from_millis(100)).await;
		}
		let window_end = if exhausted { seen.latest_ms.load(Ordering::SeqCst) } else { window_end };
		let in_window = seen.between(window_start, window_end);
		let window_seconds = (window_end - window_start) as f64 / 1000.0;
		let finalized_in_window: u64 = in_window.iter().map(|b| u64::from(kind.of(b))).sum();
		let max_normal = chain::normal_limits().max_total.map(|w| w.ref_time()).unwrap_or(u64::MAX);
		let series = seen
			.between(first_ms.saturating_sub(1000), window_end + 5000)
			.iter()
			.map(|b| Point {
				t_s: (b.timestamp_ms as f64 - (window_start - half_slot) as f64) / 1000.0,
				count: kind.of(b),
				weight_share: b.normal_ref_time as f64 / max_normal as f64,
			})
			.collect();
		let construction = match (&metrics_before, &metrics_after) {
			(Some(a), Some(b)) => {
				procstat::mean_between(a, b, "substrate_proposer_block_constructed")
			}
			_ => None,
		};
		Ok(Phase {
			kind,
			items_per_transaction: items,
			extrinsic_bytes: sample.len(),
			block_weight_ps: weight,
			ceiling_per_block: ceiling * items,
			presigned,
			signing_seconds,
			submitted,
			finalized: kind.count(seen) - base,
			window_seconds,
			finalized_in_window,
			per_second: finalized_in_window as f64 / window_seconds.max(f64::MIN_POSITIVE),
			blocks_in_window: in_window.len(),
			missed_slots: (window_seconds as usize).saturating_sub(in_window.len()),
			max_per_block: in_window.iter().map(|b| kind.of(b)).max().unwrap_or(0),
			weight_full_blocks: in_window
				.iter()
				.filter(|b| b.normal_ref_time + weight > max_normal)
				.count(),
			failed: in_window.iter().map(|b| u64::from(b.failed)).sum(),
			not_posted: in_window.iter().map(|b| u64::from(b.not_posted)).sum(),
			pool_full_retries: pool_full.load(Ordering::SeqCst),
			node_cpu_cores,
			bench_cpu_cores,
			block_construction_ms: construction.map(|s| s * 1000.0),
			profile,
			exhausted,
			series,
		})
	}

	/// Signs `per_signer` transactions for every signer from its next nonce on, on every core.
	fn presign(
		&self,
		kind: Kind,
		nonces: &[u32],
		per_signer: u64,
		quote: &(u128, u32),
	) -> Result<Vec<Vec<String>>> {
		let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
		let mut lists: Vec<Vec<String>> = vec![Vec::new(); self.signers.len()];
		std::thread::scope(|scope| {
			let handles: Vec<_> = (0..threads)
				.map(|t| {
					scope.spawn(move || -> Result<Vec<(usize, Vec<String>)>> {
						let mut mine = Vec::new();
						for s in (t..self.signers.len()).step_by(threads) {
							let mut list = Vec::with_capacity(per_signer as usize);
							for n in 0..per_signer {
								let bytes = self.sign(kind, s, nonces[s] + n as u32, n, quote)?;
								list.push(format!("0x{}", hex::encode(bytes)));
							}
							mine.push((s, list));
						}
						Ok(mine)
					})
				})
				.collect();
			for h in handles {
				for (s, list) in h.join().expect("a signing thread panicked")? {
					lists[s] = list;
				}
			}
			Ok::<(), anyhow::Error>(())
		})?;
		Ok(lists)
	}
}

/// Transactions of `kind` (of `items` each) and failed ones in the finalized blocks so far:
/// both have left the pool. A batch's items that posted nothing count too.
fn landed(kind: Kind, seen: &Seen, items: u64) -> u64 {
	let items_seen = match kind {
		Kind::Batch => kind.count(seen) + seen.not_posted.load(Ordering::SeqCst),
		Kind::Transfer | Kind::Posting => kind.count(seen),
	};
	items_seen / items + seen.failed.load(Ordering::SeqCst)
}

/// Fails if a submitter failed or the block follower cannot read the chain.
fn check(failure: &std::sync::Mutex<Option<String>>, seen: &Seen) -> Result<()> {
	if let Some(e) = seen.error.lock().unwrap_or_else(|e| e.into_inner()).take() {
		bail!("reading finalized blocks: {e}");
	}
	if let Some(e) = failure.lock().unwrap_or_else(|e| e.into_inner()).clone() {
		bail!("{e}");
	}
	Ok(())
}
