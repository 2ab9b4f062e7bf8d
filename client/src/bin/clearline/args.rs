//! The command line.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::{path::PathBuf, time::Duration};

#[derive(Debug, Parser)]
#[command(
	name = "clearline",
	version,
	about = "Operate a Clearline chain: participants, funds, FX rates, payments, cycles, statements.",
	after_help = "Exit codes: 0 done; 1 refused by the chain (named error) or the node; 2 bad \
	              arguments; 3 transaction expired (never included); 4 outcome unknown (resolve \
	              it later with `clearline tx resolve`); 5 node unreachable."
)]
pub struct Cli {
	/// The node's WebSocket RPC endpoint.
	#[arg(long, global = true, env = "CLEARLINE_URL", default_value = "ws://127.0.0.1:9944")]
	pub url: String,

	/// Print JSON (one document, or one object per line for `watch`) instead of text.
	#[arg(long, global = true)]
	pub json: bool,

	/// No progress lines on standard error.
	#[arg(long, short, global = true)]
	pub quiet: bool,

	#[command(flatten)]
	pub key: KeyArgs,

	/// A transaction's lifetime in blocks (4 to 4096, rounded up to a power of two).
	#[arg(long, global = true, default_value_t = 64)]
	pub lifetime: u64,

	/// Sign as one signatory of a multisig account (`THRESHOLD:SIGNATORY,SIGNATORY,...`, all
	/// signatories, the signer's own key among them): the command's call is approved for that
	/// account, and executed as it once the threshold of signatories sent the same command.
	#[arg(long, global = true, env = "CLEARLINE_MULTISIG")]
	pub multisig: Option<String>,

	/// How long to wait for a transaction's final answer before reporting it unknown.
	#[arg(long, global = true, default_value = "5m", value_parser = humantime::parse_duration)]
	pub timeout: Duration,

	#[command(subcommand)]
	pub command: Command,
}

/// The signing key, for commands that send a transaction. The secret is never printed.
#[derive(Debug, Args)]
pub struct KeyArgs {
	/// Secret URI (`//Alice`, a mnemonic, a hex seed). Visible in the process list: for
	/// development keys only.
	#[arg(long, global = true, conflicts_with_all = ["key_env", "key_file"])]
	pub key: Option<String>,
	/// Environment variable holding the secret URI.
	#[arg(long, global = true, conflicts_with = "key_file")]
	pub key_env: Option<String>,
	/// File whose first line is the secret URI; must not be readable by others (chmod 600).
	#[arg(long, global = true, env = "CLEARLINE_KEY_FILE")]
	pub key_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
	/// The node's chain, runtime and latest blocks.
	Status,
	/// Participants (clearing bank).
	#[command(subcommand)]
	Participant(ParticipantCmd),
	/// Set a participant's debit limit in a currency (clearing bank).
	Limit {
		account: String,
		currency: String,
		/// Minor units.
		amount: String,
	},
	/// Record a funding of a settlement account (clearing bank).
	Fund(TransferArgs),
	/// Record a withdrawal from a settlement account (clearing bank).
	Withdraw(TransferArgs),
	/// Set the clearing bank's account (root: signed by the sudo key).
	SetClearingBank { account: String },
	/// FX currencies, pairs, feeders and rates.
	#[command(subcommand)]
	Fx(FxCmd),
	/// What an amount converts to at the current rate.
	Quote {
		/// Minor units.
		amount: String,
		/// The currency paid from.
		source: String,
		/// The currency paid to.
		target: String,
		/// `amount` is what the payee must receive (default: what the payer gives).
		#[arg(long)]
		exact_target: bool,
	},
	/// Payments: sign (issuer), post and refund (acquirer), look up.
	#[command(subcommand)]
	Payment(PaymentCmd),
	/// Clearing cycles (clearing bank closes and settles).
	#[command(subcommand)]
	Cycle(CycleCmd),
	/// A participant's statement for a cycle.
	Statement {
		cycle: u32,
		account: String,
		#[arg(long, value_enum, default_value_t = StatementFormat::Json)]
		format: StatementFormat,
	},
	/// Transfer native tokens (fees) to an account.
	Transfer { to: String, amount: String },
	/// An account's native balance and nonce.
	Balance { account: String },
	/// Print finalized events as they come.
	Watch {
		/// First block to print (default: the next finalized one).
		#[arg(long)]
		from: Option<u32>,
		/// Only the clearing-bank events that concern this participant.
		#[arg(long, conflicts_with = "all")]
		participant: Option<String>,
		/// Every event, fees and extrinsic results included (default: clearing and FX).
		#[arg(long)]
		all: bool,
		/// Stop after this block (default: never).
		#[arg(long)]
		to: Option<u32>,
	},
	/// Transactions sent earlier.
	#[command(subcommand)]
	Tx(TxCmd),
}

#[derive(Debug, Subcommand)]
pub enum ParticipantCmd {
	/// Register an issuer or acquirer.
	Register {
		account: String,
		#[arg(long, value_enum)]
		role: Role,
		/// 1-16 of A-Z, 0-9 and -.
		#[arg(long)]
		code: String,
		#[arg(long)]
		name: String,
	},
	Suspend {
		account: String,
	},
	Reinstate {
		account: String,
	},
	/// Deregister a participant whose accounts are empty and who has no entry in the open
	/// cycle.
	Deregister {
		account: String,
	},
	/// A participant with its settlement accounts.
	Show {
		account: String,
	},
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Role {
	Issuer,
	Acquirer,
}

#[derive(Debug, Args)]
pub struct TransferArgs {
	pub account: String,
	pub currency: String,
	/// Minor units.
	pub amount: String,
	/// The bank transfer's reference (at most 35 characters); recorded once.
	#[arg(long)]
	pub reference: String,
}

#[derive(Debug, Subcommand)]
pub enum FxCmd {
	/// Register a currency (clearing bank).
	Currency {
		code: String,
		#[arg(long)]
		numeric: u16,
		#[arg(long)]
		minor_units: u8,
	},
	/// Configure a pair `BASE/QUOTE` (clearing bank).
	Pair {
		pair: String,
		/// The widest bid/ask spread a publication may have, in parts per million.
		#[arg(long)]
		max_spread_ppm: u32,
		/// The longest a rate may be used after its publication.
		#[arg(long)]
		max_validity_ms: u64,
		/// How long a superseded rate may still be posted at.
		#[arg(long, default_value_t = 60_000)]
		grace_ms: u64,
		/// Fresh feeder publications needed for an effective rate.
		#[arg(long, default_value_t = 1)]
		min_feeds: u32,
		/// How far a feeder's mid may be from the current rate, in parts per million.
		#[arg(long)]
		max_deviation_ppm: u32,
	},
	/// Enable a pair for publication and quotes (clearing bank).
	Enable {
		pair: String,
	},
	/// Disable a pair (clearing bank).
	Disable {
		pair: String,
	},
	/// Allow an account to publish a pair's rate (clearing bank).
	AddFeeder {
		pair: String,
		account: String,
	},
	RemoveFeeder {
		pair: String,
		account: String,
	},
	/// Publish a rate (a feeder of the pair).
	Publish {
		pair: String,
		/// Mid rate: QUOTE per BASE scaled by 10^9 (0.9213 is 921300000).
		#[arg(long)]
		mid: String,
		/// Full bid/ask spread in parts per million of mid.
		#[arg(long)]
		spread_ppm: u32,
		/// Milliseconds from the block's time.
		#[arg(long)]
		valid_for_ms: u64,
	},
	/// Publish a rate of any level as the admin (clearing bank): effective at once, and
	/// feeders' earlier publications no longer count.
	ForcePublish {
		pair: String,
		/// Mid rate: QUOTE per BASE scaled by 10^9.
		#[arg(long)]
		mid: String,
		#[arg(long)]
		spread_ppm: u32,
		#[arg(long)]
		valid_for_ms: u64,
	},
	/// Keep a pair's rate fresh (a feeder of the pair): publish the source's mid before the
	/// latest publication goes stale, or when the source moved; runs until stopped. Waits for
	/// a node that is not up yet (for --timeout, at most a minute).
	Feed(FeedArgs),
	/// The pair's current rate, or a publication by id.
	Rate {
		#[arg(required_unless_present = "id")]
		pair: Option<String>,
		#[arg(long, conflicts_with = "pair")]
		id: Option<u64>,
	},
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["mid", "mid_file", "mid_url"])))]
pub struct FeedArgs {
	pub pair: String,
	/// A fixed mid, QUOTE per BASE scaled by 10^9 (921300000 for 0.9213).
	#[arg(long)]
	pub mid: Option<String>,
	/// A file holding the rate as decimal text (0.9213), read at every poll.
	#[arg(long)]
	pub mid_file: Option<PathBuf>,
	/// An HTTP(S) endpoint answering JSON; the rate is at `--mid-pointer`, a decimal string.
	#[arg(long)]
	pub mid_url: Option<String>,
	/// Where the rate is in the endpoint's JSON (RFC 6901).
	#[arg(long, default_value = "/mid", requires = "mid_url")]
	pub mid_pointer: String,
	/// Full bid/ask spread in parts per million of mid.
	#[arg(long, default_value_t = 2_000)]
	pub spread_ppm: u32,
	/// How long each publication is valid (at most the pair's maximum).
	#[arg(long, default_value = "10m", value_parser = humantime::parse_duration)]
	pub valid_for: Duration,
	/// Publish again once the latest publication has less than this left.
	#[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
	pub refresh_before: Duration,
	/// Publish again when the source moved this far from the latest publication, in parts
	/// per million (0: only to refresh).
	#[arg(long, default_value_t = 0)]
	pub min_change_ppm: u32,
	/// How often the chain and the source are read.
	#[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
	pub poll: Duration,
}

#[derive(Debug, Subcommand)]
pub enum PaymentCmd {
	/// Sign a payment instruction as the issuer; prints the signed instruction (JSON) that the
	/// acquirer posts. Without `--debit-amount`, quotes the credit amount at the current rate.
	Sign(InstructionArgs),
	/// Post a signed instruction as its acquirer, unless it is posted already; or a JSON list
	/// of them, in as few `post_payments` transactions as fit a block, each instruction posted
	/// or refused on its own.
	Post {
		/// The output of `payment sign`, or a JSON array of such outputs; `-` for standard
		/// input.
		signed: PathBuf,
	},
	/// Void an issuer order id, as its issuer, so that no posting can ever use it; refused with
	/// `AlreadyPosted` (naming the posting) if one holds it already.
	Void {
		/// The issuer's order id.
		issuer_order: String,
	},
	/// Refund a posting in part or in full, as its acquirer.
	Refund {
		/// The acquirer order id of the posting.
		order: String,
		#[arg(long)]
		refund_id: String,
		/// Minor units of the posting's credit currency.
		#[arg(long)]
		amount: String,
	},
	/// A posting, by a party's order id or by posting id.
	Show {
		/// The acquirer's or issuer's order id (with `--party`).
		#[arg(required_unless_present = "id", requires = "party")]
		order: Option<String>,
		#[arg(long)]
		party: Option<String>,
		#[arg(long, conflicts_with = "order")]
		id: Option<u64>,
	},
}

#[derive(Debug, Args)]
pub struct InstructionArgs {
	/// The acquirer account that will post it.
	#[arg(long)]
	pub acquirer: String,
	#[arg(long)]
	pub order: String,
	/// Default: `ISS-<order>`.
	#[arg(long)]
	pub issuer_order: Option<String>,
	/// Default: `AGG-<order>`.
	#[arg(long)]
	pub aggregator_order: Option<String>,
	#[arg(long)]
	pub merchant: String,
	#[arg(long, value_enum, default_value_t = ScenarioArg::CustomerPresented)]
	pub scenario: ScenarioArg,
	/// The merchant's price, in minor units of `--credit-currency`.
	#[arg(long)]
	pub credit_amount: String,
	#[arg(long, default_value = "CNY")]
	pub credit_currency: String,
	#[arg(long, default_value = "HKD")]
	pub debit_currency: String,
	/// What the issuer pays; with `--rate-id`. Default: the chain's quote.
	#[arg(long, requires = "rate_id")]
	pub debit_amount: Option<String>,
	#[arg(long, requires = "debit_amount")]
	pub rate_id: Option<u64>,
	/// How long the chain accepts the posting (the instruction's `expiresAt`).
	#[arg(long, default_value = "10m")]
	pub expires_in: humantime::Duration,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ScenarioArg {
	CustomerPresented,
	DynamicQr,
	StaticQr,
	InApp,
}

#[derive(Debug, Subcommand)]
pub enum CycleCmd {
	/// Close the open cycle and open the next (clearing bank).
	Close,
	/// Record a closed cycle's settlement reference (clearing bank).
	Settle {
		cycle: u32,
		#[arg(long)]
		reference: String,
	},
	/// A cycle's summary and net positions (default: the open cycle).
	Show { cycle: Option<u32> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatementFormat {
	Json,
	/// camt.053-style XML.
	Camt053,
}

#[derive(Debug, Subcommand)]
pub enum TxCmd {
	/// The final answer for a transaction reported unknown: give the `pending` JSON that
	/// was printed with it (a file, or `-`).
	Resolve {
		pending: PathBuf,
		/// How long to wait for its lifetime to end.
		#[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
		wait: Duration,
	},
}
