//! `clearline-issuer`: the issuer's front. HKD wallets with a PIN and app sessions, one-time payment codes,
//! the debit requests of the acquirer (acknowledged at once, then processed: verify the code,
//! quote FX from the chain, debit, sign the instruction, call the acquirer's bookkeeping),
//! reversal of a failed debit once the chain guarantees it can never be posted (the
//! instruction voided on chain, or expired), the wallet app's side of merchant-presented
//! payments, and reconciliation of unknown orders from the finalized chain.

mod api;
mod order;
mod process;
mod reconcile;
mod refund;
mod wallet;

use crate::common::{
	answers::AnswerKeys,
	api::ApiError,
	auth::Counterparty,
	extract::{Authenticates, Role},
	locks::OrderLocks,
	metrics::Metrics,
	peer::Peer,
	rate_limit::RateLimits,
	service::{self, CommonArgs, HealthState},
	store::{Db, Migrations},
};
use clearline_client::{Connection, SenderOptions, Signer, TxSender};
use clearline_runtime::AccountId;
use sp_core::sr25519;
use std::{sync::Arc, time::Duration};

/// The issuer's store, on either backend.
pub static MIGRATIONS: Migrations = Migrations {
	sqlite: &sqlx::migrate!("migrations/issuer/sqlite"),
	postgres: &sqlx::migrate!("migrations/issuer/postgres"),
};

/// `clearline-issuer`'s options.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "clearline-issuer", version, about = "The issuer's off-chain service")]
pub struct Config {
	#[command(flatten)]
	pub common: CommonArgs,
	/// The acquirer's chain account (SS58), named in every instruction (not its API key:
	/// each party's chain and HTTP keys differ).
	#[arg(long)]
	pub acquirer_account: String,
	/// Prefix of our payment codes (18 digits in all), by which aggregators recognise them.
	#[arg(long, default_value = "39")]
	pub code_prefix: String,
	/// How long a payment code can be used.
	#[arg(long, default_value = "60s")]
	pub code_ttl: humantime::Duration,
	/// Wrong PINs in a row that lock a wallet.
	#[arg(long, default_value_t = 5)]
	pub pin_attempts: u32,
	/// How long the first lock lasts; each lock in a row lasts twice as long as the one before,
	/// at most a day. A right PIN after a lock starts the count again.
	#[arg(long, default_value = "15m")]
	pub pin_lock: humantime::Duration,
	/// Wallet-app calls a minute for one wallet (a burst of this many, then at an even pace).
	/// The wallet page asks every second whether a shown code was charged, and refreshes the
	/// balance every few seconds.
	#[arg(long, default_value_t = 120)]
	pub wallet_rate: u32,
	/// Wallet-app calls a minute from one client address, all wallets together.
	#[arg(long, default_value_t = 300)]
	pub client_rate: u32,
	/// The most a payment code pays without the payer's PIN, HKD minor units. Above it the
	/// merchant's order waits (`USERPAYING` at the acquirer) for the payer to confirm in the
	/// wallet app.
	#[arg(long, default_value_t = 50_000)]
	pub no_pin_limit: i64,
	/// How long a payment above the no-PIN limit waits for the payer's confirmation before it
	/// is refused (`PayerDidNotConfirm`).
	#[arg(long, default_value = "2m")]
	pub confirm_window: humantime::Duration,
	/// How long a wallet app's session lasts after its login.
	#[arg(long, default_value = "15m")]
	pub session_ttl: humantime::Duration,
	/// PBKDF2-HMAC-SHA256 iterations of stored PINs.
	#[arg(long, default_value_t = 20_000)]
	pub pin_iterations: u32,
	/// How long the issuer waits for the acquirer's bookkeeping answer before it queries the
	/// order instead.
	#[arg(long, default_value = "75s")]
	pub bookkeeping_timeout: humantime::Duration,
	/// How long a payment request from the app waits for the final result before answering
	/// with the order as it stands (the app then queries the result). Keep it below the app's
	/// own timeout.
	#[arg(long, default_value = "10s")]
	pub app_wait: humantime::Duration,
	/// How long the chain accepts a signed instruction.
	#[arg(long, default_value = "120s")]
	pub instruction_validity: humantime::Duration,
	/// How long a void transaction waits for finality before the order is left for
	/// reconciliation.
	#[arg(long, default_value = "60s")]
	pub void_wait: humantime::Duration,
	/// Scheme id expected in merchant QR codes (EMVCo field 26/00).
	#[arg(long, default_value = "CN.CLEARLINE")]
	pub qr_scheme: String,
}

/// Everything a handler needs.
pub struct Issuer {
	pub config: Config,
	pub db: Db,
	pub conn: Arc<Connection>,
	/// Signs payment instructions.
	pub chain_key: Signer,
	/// Sends the issuer's own transactions (voids), signed with `chain_key`.
	pub sender: TxSender,
	/// The name the issuer signs as.
	pub name: String,
	pub admin_token: String,
	pub acquirer: Peer,
	pub acquirer_party: String,
	pub acquirer_key: sr25519::Public,
	pub acquirer_account: AccountId,
	pub metrics: Arc<Metrics>,
	/// One processing task per order at a time.
	pub order_locks: OrderLocks,
	/// The wallet app's calls, per wallet and per client address.
	pub limits: Arc<RateLimits>,
	/// Pictures of QR codes being read (`scan-image`), two at a time.
	pub qr_reads: tokio::sync::Semaphore,
}

impl Issuer {
	pub fn pin_policy(&self) -> wallet::PinPolicy {
		wallet::PinPolicy {
			attempts: self.config.pin_attempts.max(1),
			first_lock: self.config.pin_lock.into(),
		}
	}
}

impl Authenticates for Issuer {
	fn db(&self) -> &Db {
		&self.db
	}

	fn common(&self) -> &CommonArgs {
		&self.config.common
	}

	fn name(&self) -> &str {
		&self.name
	}

	fn admin_token(&self) -> &str {
		&self.admin_token
	}

	async fn party_key(&self, party: &str) -> Result<Option<(Role, sr25519::Public)>, ApiError> {
		Ok((party == self.acquirer_party).then_some((Role::Acquirer, self.acquirer_key)))
	}
}

/// Runs the service until SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
	service::init_logging(&config.common.log_format);
	crate::common::faults::arm_from_env()?;
	let db = Db::open(&config.common.database, &MIGRATIONS).await?;
	let chain_key = config.common.chain_key()?;
	let api_key = config.common.api_key()?;
	let admin_token = config.common.admin_token()?;
	service::check_keys_distinct(&[("chain key", &chain_key), ("API key", &api_key)])?;
	let (tls, peer_http) = config.common.transport()?;
	let acquirer_key = crate::auth::parse_public_key(&config.common.peer_public_key)
		.map_err(|e| anyhow::anyhow!("--peer-public-key: {e}"))?;
	let acquirer_account =
		clearline_client::calls::account("acquirer account", &config.acquirer_account)
			.map_err(|e| anyhow::anyhow!("--acquirer-account: {e}"))?;
	let conn = service::connect(&config.common.node_url).await?;
	let options = SenderOptions { give_up: config.void_wait.into(), ..SenderOptions::default() };
	let sender = TxSender::new(conn.clone(), chain_key.clone(), options)?;
	let name = config.common.name("issuer");
	let acquirer_party = config.common.peer_party.clone().unwrap_or_else(|| "acquirer".into());
	let to_acquirer = Counterparty { party: acquirer_party.clone(), key: acquirer_key };
	let answers =
		Arc::new(AnswerKeys { name: name.clone(), by_caller: Vec::new(), others: api_key.clone() });
	let metrics = Metrics::new("issuer");
	let state = Arc::new(Issuer {
		acquirer: Peer::with_http(
			&config.common.peer_url,
			&name,
			api_key.clone(),
			to_acquirer,
			peer_http,
		),
		acquirer_party,
		name,
		admin_token,
		config: config.clone(),
		db: db.clone(),
		conn: conn.clone(),
		chain_key,
		sender,
		acquirer_key,
		acquirer_account,
		metrics: metrics.clone(),
		order_locks: OrderLocks::new(db.clone(), "issuer-order"),
		limits: RateLimits::new(config.wallet_rate, config.client_rate)?,
		qr_reads: tokio::sync::Semaphore::new(2),
	});
	tracing::info!(
		account = %state.chain_key.account_id(),
		api_key = %crate::auth::public_key_text(&api_key),
		"issuer starting"
	);

	// Orders a crash interrupted are taken up again.
	process::resume(&state).await?;
	let every: Duration = config.common.reconcile_every.into();
	let s = state.clone();
	service::every(every, "reconcile", move || {
		let s = s.clone();
		async move { reconcile::run(&s).await.map(|_| ()) }
	});

	let (api, admin) = service::with_common_routes(
		api::router(state.clone()),
		api::admin_router(state.clone()),
		HealthState { db, conn, lease: None },
		metrics,
		answers,
		config.common.request_timeout.into(),
	);
	config.common.serve(tls, api, admin).await
}
