//! `clearline-bench`: the settlement path's throughput and latency, measured on this machine
//! with the real node and services (see `scripts/bench.sh`, which builds and runs it).
//!
//! 1. On-chain throughput on one dev node: balance transfers (`transfer_keep_alive`), then
//!    single postings (`post_payment`), then batches of them (`post_payments`), each from many
//!    signers for a fixed stretch of chain time, counted from the finalized blocks; postings
//!    over transfers is the headline.
//! 2. End-to-end latency, micropay → the merchant's notification, at a fixed offered load
//!    (500 a second on the dev chain, 200 on the four-validator `local` network, 60 s each),
//!    and, with `--search-rates`, the highest rate each sustains.
//!
//! Writes `results.json`, `throughput.png`, `latency.png` (and the node's `perf` profiles
//! where `perf` works) to `--out`.

mod blocks;
mod chain;
mod latency;
mod plot;
mod procstat;
mod stats;
mod throughput;
mod weights;

use anyhow::{Context, Result};
use clap::{builder::TypedValueParser, Parser, ValueEnum};
use serde::Serialize;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Part {
	/// Transfers and postings on one dev node.
	Throughput,
	/// Latency on the dev chain.
	LatencyDev,
	/// Latency on the four-validator local network.
	LatencyLocal,
	/// post_payment's and transfer_keep_alive's benchmarked weights (needs
	/// `--benchmark-node`).
	Weights,
}

#[derive(Debug, Parser)]
#[command(
	name = "clearline-bench",
	version,
	about = "Throughput and latency of the settlement path"
)]
struct Args {
	/// Directory for results.json and the plots.
	#[arg(long, default_value = "bench-results")]
	out: PathBuf,
	/// Where clearline-node, clearline-issuer and clearline-acquirer are (default: beside
	/// this program).
	#[arg(long)]
	bin_dir: Option<PathBuf>,
	/// What to run (repeat the flag for several); all of it by default.
	#[arg(long, value_enum)]
	only: Vec<Part>,
	/// Measured seconds of chain time per transaction kind.
	#[arg(long, value_parser = clap::value_parser!(u64).range(1..), default_value_t = 60)]
	seconds: u64,
	/// Seconds of chain time left out at the start of each kind.
	#[arg(long, default_value_t = 5)]
	warmup: u64,
	/// Accounts signing the transactions.
	#[arg(long, value_parser = clap::value_parser!(u64).range(1..).map(|n| n as usize), default_value_t = 16)]
	signers: usize,
	/// Issuers whose instructions the postings carry.
	#[arg(long, value_parser = clap::value_parser!(u64).range(1..).map(|n| n as usize), default_value_t = 4)]
	issuers: usize,
	/// The throughput kinds to run, in order (default: all three).
	#[arg(long, value_enum, value_delimiter = ',')]
	kinds: Vec<throughput::Kind>,
	/// Keep the throughput node's database in this directory (a state to run `clearline-node
	/// benchmark storage` on) instead of a temporary one.
	#[arg(long)]
	base_path: Option<PathBuf>,
	/// Instructions per `post_payments` batch (default: as many as fit a block).
	#[arg(long, value_parser = clap::value_parser!(u64).range(1..).map(|n| n as usize))]
	batch: Option<usize>,
	/// WebSocket connections the submissions are spread over.
	#[arg(long, value_parser = clap::value_parser!(u64).range(1..).map(|n| n as usize), default_value_t = 4)]
	connections: usize,
	/// Seconds of offered load per latency run; the first tenth of the payments is left out
	/// of the figures.
	#[arg(long, value_parser = clap::value_parser!(u64).range(2..), default_value_t = 60)]
	latency_seconds: u64,
	/// Offered load of the dev-chain latency run, payments per second.
	#[arg(long, value_parser = clap::value_parser!(u32).range(1..), default_value_t = 500)]
	rate_dev: u32,
	/// Offered load of the local network's latency run, payments per second.
	#[arg(long, value_parser = clap::value_parser!(u32).range(1..), default_value_t = 200)]
	rate_local: u32,
	/// After each latency run, runs again at each of these rates (ascending) until one is not
	/// sustained (every payment notified as successful, latency flat), for `--search-seconds`
	/// each: the highest rate the setup sustains.
	#[arg(long, value_delimiter = ',')]
	search_rates: Vec<u32>,
	#[arg(long, value_parser = clap::value_parser!(u64).range(2..), default_value_t = 30)]
	search_seconds: u64,
	/// Acquirer processes sharing one store (more than one needs `--postgres`).
	#[arg(long, value_parser = clap::value_parser!(u64).range(1..).map(|n| n as usize), default_value_t = 1)]
	acquirers: usize,
	/// Keep the services' stores on this PostgreSQL server (a URL of any of its databases,
	/// as a user who may create databases) instead of SQLite files.
	#[arg(long)]
	postgres: Option<String>,
	/// The acquirers' `--batch-interval` (their default otherwise): the longest a payment waits
	/// for its batch to be sent.
	#[arg(long)]
	batch_interval: Option<String>,
	/// Wallets the payments are spread over.
	#[arg(long, value_parser = clap::value_parser!(u64).range(1..).map(|n| n as usize), default_value_t = 100)]
	wallets: usize,
	/// A clearline-node built with the `runtime-benchmarks` feature, for the weights (default:
	/// clearline-node-benchmarks beside clearline-node, where scripts/bench.sh puts it).
	#[arg(long)]
	benchmark_node: Option<PathBuf>,
	/// Do not profile the node with perf.
	#[arg(long)]
	no_perf: bool,
}

/// Where the figures were measured.
#[derive(Debug, Serialize)]
struct Machine {
	cpu: String,
	cores: usize,
	memory_gib: u64,
	kernel: String,
	/// The build profile of the node and services measured.
	build: &'static str,
	commit: Option<String>,
	date: String,
}

#[derive(Debug, Serialize)]
struct Targets {
	postings_per_second_at_least_1000: Option<bool>,
	ratio_at_least_0_8: Option<bool>,
	batched_postings_per_second_at_least_2000: Option<bool>,
	batched_ratio_at_least_1: Option<bool>,
	dev_all_succeeded_p50_under_700_ms_p99_under_1500_ms_flat: Option<bool>,
	local_all_succeeded_p50_under_2000_ms_p99_under_4000_ms_flat: Option<bool>,
	posting_weight_within_2x_of_transfer: Option<bool>,
}

#[derive(Debug, Serialize)]
struct Results {
	machine: Machine,
	throughput: Option<throughput::Throughput>,
	latency: Vec<latency::Latency>,
	/// The rate searches: every run, in the order run.
	searches: Vec<Search>,
	weights: Option<weights::Weights>,
	targets: Targets,
}

#[derive(Debug, Serialize)]
struct Search {
	network: latency::Network,
	/// The highest rate tried that was sustained (the fixed-rate run's included).
	highest_sustained: Option<u32>,
	runs: Vec<latency::Latency>,
}

/// One latency run's summary line.
fn report(l: &latency::Latency) {
	match &l.end_to_end {
		Some(p) => eprintln!(
			"[bench] latency {:?} ({} acquirer(s), {}): {} notified ({} failed, {} not notified, {} refused Busy) at {}/s offered: p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms, max {:.0} ms; slope {:.2} ms/s ({}); finality {:.1} blocks behind the best on average (max {})",
			l.network, l.acquirers, l.store, p.count, l.failed, l.unnotified, l.busy, l.offered_per_second, p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms,
			l.slope_ms_per_s.unwrap_or(f64::NAN),
			if l.flat { "flat" } else { "not flat" },
			l.finality_lag.as_ref().map_or(f64::NAN, |g| g.mean_blocks),
			l.finality_lag.as_ref().map_or(0, |g| g.max_blocks),
		),
		None => eprintln!(
			"[bench] latency {:?}: no payment was notified ({} refused Busy)",
			l.network, l.busy
		),
	}
	if let Some(c) = &l.cpu_per_payment {
		let postgres = c.postgres_ms.map(|ms| format!(", PostgreSQL {ms:.2}")).unwrap_or_default();
		eprintln!(
			"[bench]   CPU per payment (ms, {} payments): issuer {:.2} ({:.0}/s on a core of its own), acquirer {:.2} ({:.0}/s){postgres}, node(s) {:.2}, this program {:.2}",
			c.payments, c.issuer_ms, 1000.0 / c.issuer_ms, c.acquirer_ms, 1000.0 / c.acquirer_ms, c.nodes_ms, c.load_generator_ms,
		);
	}
}

impl Args {
	fn latency_config(&self, rate: u32, seconds: u64) -> latency::Config {
		let total = (u64::from(rate) * seconds) as usize;
		latency::Config {
			payments: total - total / 10,
			warmup: total / 10,
			rate,
			wallets: self.wallets,
			acquirers: self.acquirers,
			postgres: self.postgres.clone(),
			batch_interval: self.batch_interval.clone(),
		}
	}
}

fn machine() -> Machine {
	let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
	let cpuinfo = read("/proc/cpuinfo");
	let cpu = cpuinfo
		.lines()
		.find_map(|l| {
			l.strip_prefix("model name")
				.and_then(|r| r.split_once(':'))
				.map(|(_, v)| v.trim().to_string())
		})
		.unwrap_or_else(|| "unknown".into());
	let memory_kib: u64 = read("/proc/meminfo")
		.lines()
		.find_map(|l| l.strip_prefix("MemTotal:"))
		.and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
		.unwrap_or(0);
	let run = |cmd: &str, args: &[&str]| {
		std::process::Command::new(cmd)
			.args(args)
			.output()
			.ok()
			.filter(|o| o.status.success())
			.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
	};
	Machine {
		cpu,
		cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
		memory_gib: (memory_kib + (1 << 19)) >> 20,
		kernel: run("uname", &["-r"]).unwrap_or_default(),
		build: if cfg!(debug_assertions) {
			"dev profile (dependencies at opt-level 1, workspace crates at 0)"
		} else {
			"release profile"
		},
		commit: run("git", &["describe", "--always", "--dirty"]),
		date: run("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default(),
	}
}

fn bin_dir(args: &Args) -> Result<PathBuf> {
	match &args.bin_dir {
		Some(d) => Ok(d.clone()),
		None => Ok(std::env::current_exe()?.parent().context("the program's directory")?.into()),
	}
}

fn require(dir: &Path, names: &[&str]) -> Result<()> {
	for name in names {
		anyhow::ensure!(
			dir.join(name).is_file(),
			"{} not found: build the workspace first (scripts/bench.sh does)",
			dir.join(name).display()
		);
	}
	Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
	let args = Args::parse();
	let parts = if args.only.is_empty() {
		vec![Part::Weights, Part::Throughput, Part::LatencyDev, Part::LatencyLocal]
	} else {
		args.only.clone()
	};
	let bins = bin_dir(&args)?;
	require(&bins, &["clearline-node", "clearline-issuer", "clearline-acquirer"])?;
	std::fs::create_dir_all(&args.out)?;
	plot::load_font()?;
	let perf = !args.no_perf && procstat::perf_available();
	if !args.no_perf && !perf {
		eprintln!("[bench] perf cannot sample here: no profiles");
	}

	let mut results = Results {
		machine: machine(),
		throughput: None,
		latency: Vec::new(),
		searches: Vec::new(),
		weights: None,
		targets: Targets {
			postings_per_second_at_least_1000: None,
			ratio_at_least_0_8: None,
			batched_postings_per_second_at_least_2000: None,
			batched_ratio_at_least_1: None,
			dev_all_succeeded_p50_under_700_ms_p99_under_1500_ms_flat: None,
			local_all_succeeded_p50_under_2000_ms_p99_under_4000_ms_flat: None,
			posting_weight_within_2x_of_transfer: None,
		},
	};
	if parts.contains(&Part::Weights) {
		let node =
			args.benchmark_node.clone().unwrap_or_else(|| bins.join("clearline-node-benchmarks"));
		eprintln!("[bench] weights: benchmarking with {}", node.display());
		let w = weights::measure(&node).await?;
		eprintln!(
			"[bench] weights: transfer_keep_alive {} µs ({} µs execution, {} reads, {} writes), post_payment {} µs ({} µs execution, {} reads, {} writes): {:.2}x; one sr25519 check {} µs; charged now {:.2}x",
			w.transfer_keep_alive.total_ps / 1_000_000,
			w.transfer_keep_alive.execution_ps / 1_000_000,
			w.transfer_keep_alive.reads,
			w.transfer_keep_alive.writes,
			w.post_payment.total_ps / 1_000_000,
			w.post_payment.execution_ps / 1_000_000,
			w.post_payment.reads,
			w.post_payment.writes,
			w.ratio,
			w.sr25519_verification_ps.map(|p| (p / 1_000_000).to_string()).unwrap_or_else(|| "?".into()),
			w.charged_ratio,
		);
		results.targets.posting_weight_within_2x_of_transfer = Some(w.ratio <= 2.0);
		results.weights = Some(w);
	}
	if parts.contains(&Part::Throughput) {
		let config = throughput::Config {
			seconds: args.seconds,
			warmup: args.warmup,
			signers: args.signers,
			issuers: args.issuers,
			connections: args.connections,
			perf,
			batch: args.batch,
			kinds: if args.kinds.is_empty() {
				vec![throughput::Kind::Transfer, throughput::Kind::Posting, throughput::Kind::Batch]
			} else {
				args.kinds.clone()
			},
			base_path: args.base_path.clone(),
		};
		eprintln!("[bench] throughput: {config:?}");
		let t = throughput::run(&bins.join("clearline-node"), config, &args.out).await?;
		for p in t.phases() {
			eprintln!(
				"[bench] {:?} ({} a transaction): {:.1}/s finalized over {:.0} s ({} in the window; at most {} a block by weight; {} of {} blocks full by weight; node {:.2} cores, bench {:.2} cores; block built in {:.0} ms)",
				p.kind,
				p.items_per_transaction,
				p.per_second,
				p.window_seconds,
				p.finalized_in_window,
				p.ceiling_per_block,
				p.weight_full_blocks,
				p.blocks_in_window,
				p.node_cpu_cores.unwrap_or(f64::NAN),
				p.bench_cpu_cores.unwrap_or(f64::NAN),
				p.block_construction_ms.unwrap_or(f64::NAN),
			);
		}
		let show = |r: Option<f64>| r.map(|r| format!("{r:.3}")).unwrap_or_else(|| "-".into());
		eprintln!(
			"[bench] postings/transfers = {}; batched postings/transfers = {}",
			show(t.ratio),
			show(t.batched_ratio)
		);
		let targets = &mut results.targets;
		targets.postings_per_second_at_least_1000 =
			t.posting.as_ref().map(|p| p.per_second >= 1000.0);
		targets.ratio_at_least_0_8 = t.ratio.map(|r| r >= 0.8);
		targets.batched_postings_per_second_at_least_2000 =
			t.batched.as_ref().map(|p| p.per_second >= 2000.0);
		targets.batched_ratio_at_least_1 = t.batched_ratio.map(|r| r >= 1.0);
		plot::throughput(&t, &args.out.join("throughput.png"))?;
		results.throughput = Some(t);
	}
	for (part, network) in
		[(Part::LatencyDev, latency::Network::Dev), (Part::LatencyLocal, latency::Network::Local)]
	{
		if !parts.contains(&part) {
			continue;
		}
		let rate = match network {
			latency::Network::Dev => args.rate_dev,
			latency::Network::Local => args.rate_local,
		};
		let l =
			latency::run(&bins, network, args.latency_config(rate, args.latency_seconds)).await?;
		report(&l);
		let p = l.end_to_end.as_ref();
		let met = |p50: f64, p99: f64| {
			Some(l.sustained && p.is_some_and(|p| p.p50_ms < p50 && p.p99_ms < p99))
		};
		match network {
			latency::Network::Dev => {
				results.targets.dev_all_succeeded_p50_under_700_ms_p99_under_1500_ms_flat =
					met(700.0, 1500.0)
			}
			latency::Network::Local => {
				results.targets.local_all_succeeded_p50_under_2000_ms_p99_under_4000_ms_flat =
					met(2000.0, 4000.0)
			}
		}
		// The fixed-rate run counts for the search when it was sustained.
		let base = l.sustained.then_some(rate);
		results.latency.push(l);
		if !args.search_rates.is_empty() {
			let mut rates = args.search_rates.clone();
			rates.sort_unstable();
			let mut search = Search { network, highest_sustained: base, runs: Vec::new() };
			for rate in rates {
				let config = args.latency_config(rate, args.search_seconds);
				let l = latency::run(&bins, network, config).await?;
				report(&l);
				let sustained = l.sustained;
				search.runs.push(l);
				if !sustained {
					break;
				}
				search.highest_sustained = search.highest_sustained.max(Some(rate));
			}
			eprintln!(
				"[bench] {network:?}: highest rate sustained {:?} per second",
				search.highest_sustained
			);
			results.searches.push(search);
		}
	}
	if !results.latency.is_empty() {
		plot::latency(&results.latency, &args.out.join("latency.png"))?;
	}
	let json = serde_json::to_string_pretty(&results)?;
	std::fs::write(args.out.join("results.json"), json)?;
	eprintln!("[bench] targets: {:?}", results.targets);
	eprintln!("[bench] results in {}", args.out.display());
	Ok(())
}
