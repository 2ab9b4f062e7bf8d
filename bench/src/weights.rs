//! The weight of a posting beside a balance transfer's, measured by the same benchmark run of
//! the same node binary on this machine (frame-benchmarking, compiled wasm), and as the
//! runtime charges them today.

use anyhow::{bail, ensure, Context, Result};
use frame_support::weights::Weight;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// A handlebars template for the benchmark CLI that writes each benchmark's fitted figures as
/// JSON (the CLI's own output is Rust source). Numbers come as the CLI's decimal strings.
const TEMPLATE: &str = r#"{"pallet": "{{pallet}}", "cpu": "{{cpuname}}", "benchmarks": [
{{#each benchmarks as |b|}}{"name": "{{b.name}}", "base_weight": "{{b.base_weight}}", "min_execution_time_ns": "{{b.min_execution_time}}", "reads": "{{b.base_reads}}", "writes": "{{b.base_writes}}", "slopes": [{{#each b.component_weight as |cw|}}{"name": "{{cw.name}}", "slope": "{{cw.slope}}"}{{#unless @last}},{{/unless}}{{/each}}]}{{#unless @last}},{{/unless}}
{{/each}}]}
"#;

#[derive(Debug, Deserialize)]
struct File {
	benchmarks: Vec<Raw>,
}

#[derive(Debug, Deserialize)]
struct Raw {
	name: String,
	base_weight: String,
	min_execution_time_ns: String,
	reads: String,
	writes: String,
	slopes: Vec<Slope>,
}

#[derive(Debug, Deserialize)]
struct Slope {
	slope: String,
}

/// One extrinsic's benchmarked weight, priced with the runtime's database weights.
#[derive(Debug, Clone, Serialize)]
pub struct Priced {
	/// Execution (ref time, ps) as fitted by the benchmark.
	pub execution_ps: u64,
	pub min_execution_ns: u64,
	pub reads: u64,
	pub writes: u64,
	/// `reads` and `writes` at the runtime's `DbWeight` (ps).
	pub database_ps: u64,
	pub total_ps: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Weights {
	/// The runtime's price of one storage read and one write (ps).
	pub db_read_ps: u64,
	pub db_write_ps: u64,
	/// Measured here, by one binary, in one run.
	pub transfer_keep_alive: Priced,
	pub post_payment: Priced,
	/// One sr25519 signature check (frame_benchmarking's baseline), ps. `post_payment`'s weight
	/// holds one (the issuer's, over the instruction); every extrinsic's own signature is
	/// checked outside its call's weight.
	pub sr25519_verification_ps: Option<u64>,
	/// post_payment / transfer_keep_alive, totals.
	pub ratio: f64,
	/// The same two as the runtime charges them now (its compiled-in weight functions: ours
	/// from `pallets/clearing-bank/src/weights.rs`, balances' from polkadot-sdk's reference
	/// machine), and their ratio.
	pub charged_transfer_keep_alive_ps: u64,
	pub charged_post_payment_ps: u64,
	pub charged_ratio: f64,
}

fn number(field: &str, text: &str) -> Result<u64> {
	text.trim().parse().with_context(|| format!("{field}: {text:?} is not a number"))
}

/// Runs one benchmark with the JSON template; its fitted figures.
async fn benchmark(node: &Path, dir: &Path, pallet: &str, extrinsic: &str) -> Result<Raw> {
	let template = dir.join("weights-json.hbs");
	std::fs::write(&template, TEMPLATE)?;
	let output = dir.join(format!("{pallet}.json"));
	let run = tokio::process::Command::new(node)
		.kill_on_drop(true)
		.args([
			"benchmark",
			"pallet",
			"--chain",
			"dev",
			"--pallet",
			pallet,
			"--extrinsic",
			extrinsic,
		])
		.args(["--steps", "50", "--repeat", "20", "--wasm-execution", "compiled"])
		.args(["--heap-pages", "4096", "--template"])
		.arg(&template)
		.arg("--output")
		.arg(&output)
		.output()
		.await
		.with_context(|| format!("running {}", node.display()))?;
	if !run.status.success() {
		bail!(
			"benchmark {pallet}::{extrinsic} failed ({}):\n{}",
			run.status,
			String::from_utf8_lossy(&run.stderr)
		);
	}
	let text = std::fs::read_to_string(&output)
		.with_context(|| format!("reading {}", output.display()))?;
	let file: File = serde_json::from_str(&text)
		.with_context(|| format!("the benchmark's JSON for {pallet}: {text}"))?;
	file.benchmarks
		.into_iter()
		.find(|b| b.name == extrinsic)
		.with_context(|| format!("{pallet} has no benchmark {extrinsic}"))
}

fn price(raw: &Raw, db: frame_support::weights::RuntimeDbWeight) -> Result<Priced> {
	let execution_ps = number("base_weight", &raw.base_weight)?;
	let (reads, writes) = (number("reads", &raw.reads)?, number("writes", &raw.writes)?);
	let database_ps = db.reads_writes(reads, writes).ref_time();
	Ok(Priced {
		execution_ps,
		min_execution_ns: number("min_execution_time", &raw.min_execution_time_ns)?,
		reads,
		writes,
		database_ps,
		total_ps: execution_ps + database_ps,
	})
}

/// Benchmarks both extrinsics and one signature check with `node`, which must be built with
/// the `runtime-benchmarks` feature.
pub async fn measure(node: &Path) -> Result<Weights> {
	ensure!(node.is_file(), "{} not found", node.display());
	let dir = tempfile::Builder::new().prefix("clearline-weights-").tempdir()?;
	let db = <clearline_runtime::Runtime as frame_system::Config>::DbWeight::get();
	let transfer =
		price(&benchmark(node, dir.path(), "pallet_balances", "transfer_keep_alive").await?, db)?;
	let posting =
		price(&benchmark(node, dir.path(), "pallet_clearing_bank", "post_payment").await?, db)?;
	let verify = benchmark(node, dir.path(), "frame_benchmarking", "sr25519_verification").await?;
	let sr25519_verification_ps =
		verify.slopes.first().map(|s| number("slope", &s.slope)).transpose()?;
	let charged_transfer = charged_transfer_keep_alive();
	let charged_posting = charged_post_payment();
	Ok(Weights {
		db_read_ps: db.read,
		db_write_ps: db.write,
		ratio: posting.total_ps as f64 / transfer.total_ps.max(1) as f64,
		transfer_keep_alive: transfer,
		post_payment: posting,
		sr25519_verification_ps,
		charged_transfer_keep_alive_ps: charged_transfer.ref_time(),
		charged_post_payment_ps: charged_posting.ref_time(),
		charged_ratio: charged_posting.ref_time() as f64
			/ charged_transfer.ref_time().max(1) as f64,
	})
}

pub fn charged_transfer_keep_alive() -> Weight {
	use pallet_balances::WeightInfo;
	<clearline_runtime::Runtime as pallet_balances::Config>::WeightInfo::transfer_keep_alive()
}

pub fn charged_post_payment() -> Weight {
	use pallet_clearing_bank::WeightInfo;
	<clearline_runtime::Runtime as pallet_clearing_bank::Config>::WeightInfo::post_payment()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn the_template_renders_json_the_parser_reads() {
		// What the CLI makes of the template for two benchmarks, one with a component.
		let rendered = r#"{"pallet": "p", "cpu": "c", "benchmarks": [
{"name": "a", "base_weight": "39051000", "min_execution_time_ns": "38647", "reads": "1", "writes": "1", "slopes": []},
{"name": "b", "base_weight": "0", "min_execution_time_ns": "1", "reads": "0", "writes": "0", "slopes": [{"name": "i", "slope": "41000000"}]}
]}
"#;
		let file: File = serde_json::from_str(rendered).unwrap();
		let db = frame_support::weights::RuntimeDbWeight { read: 8, write: 50 };
		let a = price(&file.benchmarks[0], db).unwrap();
		assert_eq!((a.execution_ps, a.database_ps, a.total_ps), (39_051_000, 58, 39_051_058));
		assert_eq!(file.benchmarks[1].slopes[0].slope, "41000000");
		assert!(TEMPLATE.contains("{{b.base_weight}}"));
	}
}
