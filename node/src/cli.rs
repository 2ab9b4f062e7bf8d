//! Command-line interface of `clearline-node`.

use sc_cli::RunCmd;

#[derive(Debug, clap::Parser)]
#[command(version, about = "Clearline settlement chain node")]
pub struct Cli {
	#[command(subcommand)]
	pub subcommand: Option<Subcommand>,

	#[clap(flatten)]
	pub run: RunCmd,

	/// How blocks are authored and finalized. Defaults to `manual-seal` for a development
	/// chain (`--dev`) and `aura` for every other chain.
	#[arg(long, value_enum)]
	pub sealing: Option<Sealing>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Sealing {
	/// The node seals a block at the start of every slot and finalizes it at once: a single
	/// trusted node with deterministic one-slot finality, for development and tests. Uses the
	/// single-state transaction pool.
	ManualSeal,
	/// Aura block authoring by the chain's authorities and GRANDPA finality over p2p.
	Aura,
}

#[derive(Debug, clap::Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum Subcommand {
	/// Key management utilities.
	#[command(subcommand)]
	Key(sc_cli::KeySubcommand),

	/// Generate the keys and the chain spec of a new network, every role held by fresh keys.
	NewNetwork(crate::new_network::NewNetworkCmd),

	/// Export a chain specification (`--chain dev|local|<path>`) as JSON.
	ExportChainSpec(sc_cli::ExportChainSpecCmd),

	/// Build a chain specification (deprecated upstream; use `export-chain-spec`).
	BuildSpec(sc_cli::BuildSpecCmd),

	/// Validate blocks.
	CheckBlock(sc_cli::CheckBlockCmd),

	/// Export blocks.
	ExportBlocks(sc_cli::ExportBlocksCmd),

	/// Export the state of a given block into a chain spec.
	ExportState(sc_cli::ExportStateCmd),

	/// Import blocks.
	ImportBlocks(sc_cli::ImportBlocksCmd),

	/// Remove the whole chain.
	PurgeChain(sc_cli::PurgeChainCmd),

	/// Revert the chain to a previous state.
	Revert(sc_cli::RevertCmd),

	/// Runtime benchmarks (build with `--features runtime-benchmarks`).
	#[cfg(feature = "runtime-benchmarks")]
	#[command(subcommand)]
	Benchmark(frame_benchmarking_cli::BenchmarkCmd),

	/// Database meta columns information.
	ChainInfo(sc_cli::ChainInfoCmd),
}
