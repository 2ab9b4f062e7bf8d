//! `clearline-acquirer`: the acquirer's open API for aggregators (merchants, micropay,
//! unified orders, order queries, refunds, static shop codes), the bookkeeping interface the
//! issuer calls, which posts on chain and answers only from finality, and a persistent outbox
//! that delivers debit requests to the issuer (for `--outbox-attempts` tries; reconciliation
//! then asks the issuer), refund notices to the issuer and notifications to aggregators until
//! they are acknowledged.

mod api;
mod batches;
mod destinations;
mod merchant;
mod messages;
mod order;
mod outbox;
mod poster;
mod posting;
mod reconcile;
mod refund;
mod refunder;
mod till;

use crate::common::{
	answers::AnswerKeys,
	api::ApiError,
	auth::Counterparty,
	extract::{Authenticates, Role},
	lease::{Lease, Signals},
	locks::OrderLocks,
	metrics::Metrics,
	peer::{Peer, RetryPolicy},
	service::{self, CommonArgs, HealthState},
	store::{Db, Migrations},
};
use clearline_client::{Connection, SenderOptions, TxSender};
use destinations::NotifyClients;
use sp_core::sr25519;
use std::{sync::Arc, time::Duration};

pub use reconcile::{CycleReport, ReconcileReport};

/// The acquirer's store, on either backend.
pub static MIGRATIONS: Migrations = Migrations {
	sqlite: &sqlx::migrate!("migrations/acquirer/sqlite"),
	postgres: &sqlx::migrate!("migrations/acquirer/postgres"),
};

/// `clearline-acquirer`'s options.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "clearline-acquirer", version, about = "The acquirer's off-chain service")]
pub struct Config {
	#[command(flatten)]
	pub common: CommonArgs,
	/// The acquirer's participant code, written into merchant QR codes.
	#[arg(long, default_value = "DEVACQCN")]
	pub acquirer_code: String,
	/// Scheme id in the QR codes' merchant account template (EMVCo field 26/00).
	#[arg(long, default_value = "CN.CLEARLINE")]
	pub qr_scheme: String,
	/// ISO 3166 country of the merchants.
	#[arg(long, default_value = "CN")]
	pub country: String,
	/// Prefix of the issuer's payment codes, by which aggregators recognise them.
	#[arg(long, default_value = "39")]
	pub code_prefix: String,
	/// How long a dynamic QR or in-app order can be paid.
	#[arg(long, default_value = "15m")]
	pub order_ttl: humantime::Duration,
	/// How long the debit request to the issuer waits for its acknowledgement.
	#[arg(long, default_value = "5s")]
	pub debit_request_timeout: humantime::Duration,
	/// How long an order may wait for the issuer's bookkeeping call before reconciliation asks
	/// the issuer what became of it.
	#[arg(long, default_value = "2m")]
	pub debit_window: humantime::Duration,
	/// How long a refund request waits for its refund's finality before it answers
	/// `PROCESSING` (the aggregator is notified of the end, and can query the refund).
	#[arg(long, default_value = "10s")]
	pub refund_wait: humantime::Duration,
	/// How long after its creation a micropay order may be cancelled by its merchant.
	#[arg(long, default_value = "24h")]
	pub cancel_window: humantime::Duration,
	/// How long a bookkeeping call waits for finality before it answers `UNKNOWN`.
	#[arg(long, default_value = "60s")]
	pub bookkeeping_wait: humantime::Duration,
	/// The shortest time between two posting batches, unless a full batch is waiting: the
	/// longest a payment waits for its batch to be sent, and what keeps the chain at a few
	/// transactions a second however many payments arrive.
	#[arg(long, default_value = "200ms")]
	pub batch_interval: humantime::Duration,
	/// The most postings one batch carries (0: as many as fit a block, up to the runtime's
	/// bound).
	#[arg(long, default_value_t = 0)]
	pub batch_max: usize,
	/// Lifetime of posting transactions, in blocks.
	#[arg(long, default_value_t = 64)]
	pub tx_lifetime: u64,
	/// How long one notification attempt waits for the aggregator's answer.
	#[arg(long, default_value = "5s")]
	pub notify_timeout: humantime::Duration,
	/// How long a notification is retried before it is given up (the order query then shows
	/// `GAVE_UP`; `POST /v1/admin/orders/{orderId}/notify` sends it again).
	#[arg(long, default_value = "24h")]
	pub notify_give_up: humantime::Duration,
	/// Attempts to deliver a notification or debit request before giving up.
	#[arg(long, default_value_t = 12)]
	pub outbox_attempts: u32,
	/// First wait before a notification is retried; doubled each time up to `--outbox-max`.
	#[arg(long, default_value = "1s")]
	pub outbox_base: humantime::Duration,
	#[arg(long, default_value = "60s")]
	pub outbox_max: humantime::Duration,
	/// How long a till's login lasts (a cashier's shift).
	#[arg(long, default_value = "12h")]
	pub till_session_ttl: humantime::Duration,
	/// Till logins a minute for one merchant, and six times as many from one client address
	/// (a burst of this many, then at an even pace): each hashes a password.
	#[arg(long, default_value_t = 10)]
	pub till_login_rate: u32,
	/// New payments (micropay, unified order) this process takes at once. One more is refused
	/// at once with `503 Busy` before any work is done for it: past the machine's capacity a
	/// queue would only make every payment late, until none finished in time.
	#[arg(long, default_value_t = 64)]
	pub admission_limit: usize,
	/// Secret URI of the key that signs notifications to aggregators and answers to them: not
	/// the chain key, nor the API key used toward the issuer (development keys and tests only;
	/// see the next two).
	#[arg(long, conflicts_with_all = ["aggregator_key_env", "aggregator_key_file"])]
	pub aggregator_key: Option<String>,
	#[arg(long)]
	pub aggregator_key_env: Option<String>,
	#[arg(long)]
	pub aggregator_key_file: Option<std::path::PathBuf>,
}

/// Everything a handler needs.
pub struct Acquirer {
	pub config: Config,
	pub db: Db,
	pub conn: Arc<Connection>,
	pub sender: TxSender,
	pub issuer: Peer,
	pub issuer_party: String,
	/// The name the acquirer signs as.
	pub name: String,
	pub admin_token: String,
	/// Signs notifications to aggregators, and answers to them.
	pub aggregator_key: clearline_client::Signer,
	/// Where notifications go out (public addresses only, or any), never following redirects.
	pub notify_clients: NotifyClients,
	pub issuer_key: sr25519::Public,
	pub metrics: Arc<Metrics>,
	/// One lock per order whose bookkeeping call is being taken: a second call for the same
	/// order waits for the first.
	pub posting_locks: OrderLocks,
	pub outbox_wake: tokio::sync::Notify,
	/// Whether this process posts, delivers the outbox and reconciles (one of the processes
	/// sharing the store does).
	pub lease: Lease,
	pub signals: Signals,
	pub poster_wake: tokio::sync::Notify,
	/// Bookkeeping calls waiting for their order's batch.
	pub waiters: posting::Waiters,
	/// The batches this process follows.
	pub following: std::sync::Mutex<std::collections::HashSet<i64>>,
	/// One permit per new payment being taken (`--admission-limit`).
	pub admission: Arc<tokio::sync::Semaphore>,
	/// Till logins, per merchant and per client address (`--till-login-rate`).
	pub till_logins: Arc<crate::common::rate_limit::RateLimits>,
	pub refund_wake: tokio::sync::Notify,
	/// The refunds this process is settling.
	pub refunding: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl Acquirer {
	pub fn outbox_policy(&self) -> RetryPolicy {
		RetryPolicy {
			attempts: self.config.outbox_attempts.max(1),
			base: self.config.outbox_base.into(),
			max: self.config.outbox_max.into(),
		}
	}

	pub fn party(&self) -> &str {
		&self.name
	}
}

impl Authenticates for Acquirer {
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

	/// The issuer, or a registered aggregator.
	async fn party_key(&self, party: &str) -> Result<Option<(Role, sr25519::Public)>, ApiError> {
		if party == self.issuer_party {
			return Ok(Some((Role::Issuer, self.issuer_key)));
		}
		let key = merchant::aggregator_key(&mut *self.db.conn().await?, party).await?;
		Ok(key.and_then(|k| crate::auth::parse_public_key(&k).ok()).map(|k| (Role::Aggregator, k)))
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
	let aggregator_key = service::load_key(
		"aggregator key",
		"--aggregator-key",
		&config.aggregator_key,
		&config.aggregator_key_env,
		&config.aggregator_key_file,
	)?;
	service::check_keys_distinct(&[
		("chain key", &chain_key),
		("API key", &api_key),
		("aggregator key", &aggregator_key),
	])?;
	let (tls, peer_http) = config.common.transport()?;
	let issuer_key = crate::auth::parse_public_key(&config.common.peer_public_key)
		.map_err(|e| anyhow::anyhow!("--peer-public-key: {e}"))?;
	let conn = service::connect(&config.common.node_url).await?;
	let options = SenderOptions {
		lifetime: config.tx_lifetime,
		give_up: config.bookkeeping_wait.into(),
		..SenderOptions::default()
	};
	let sender = TxSender::new(conn.clone(), chain_key, options)?;
	let name = config.common.name("acquirer");
	let issuer_party = config.common.peer_party.clone().unwrap_or_else(|| "issuer".into());
	let to_issuer = Counterparty { party: issuer_party.clone(), key: issuer_key };
	let issuer =
		Peer::with_http(&config.common.peer_url, &name, api_key.clone(), to_issuer, peer_http);
	let answers = Arc::new(AnswerKeys {
		name: name.clone(),
		by_caller: vec![(issuer_party.clone(), api_key.clone())],
		others: aggregator_key.clone(),
	});
	let metrics = Metrics::new("acquirer");
	let state = Arc::new(Acquirer {
		issuer_party,
		name,
		admin_token,
		config: config.clone(),
		db: db.clone(),
		conn: conn.clone(),
		sender,
		issuer,
		issuer_key,
		aggregator_key,
		notify_clients: NotifyClients::new(&config.common)?,
		metrics: metrics.clone(),
		posting_locks: OrderLocks::new(db.clone(), "acquirer-order"),
		outbox_wake: tokio::sync::Notify::new(),
		lease: Lease::start(&db, "clearline-acquirer-poster"),
		signals: Signals::new(&db),
		poster_wake: tokio::sync::Notify::new(),
		waiters: posting::Waiters::default(),
		following: Default::default(),
		admission: Arc::new(tokio::sync::Semaphore::new(config.admission_limit.max(1))),
		till_logins: crate::common::rate_limit::RateLimits::new(
			config.till_login_rate,
			config.till_login_rate.saturating_mul(6),
		)?,
		refund_wake: tokio::sync::Notify::new(),
		refunding: Default::default(),
	});
	tracing::info!(
		account = %state.sender.account(),
		api_key = %crate::auth::public_key_text(&api_key),
		aggregator_key = %crate::auth::public_key_text(&state.aggregator_key),
		"acquirer starting"
	);

	// The leader posts (taking up whatever batches a crash left first), delivers the outbox
	// and reconciles; every process answers requests.
	tokio::spawn(poster::listen(state.clone()));
	tokio::spawn(poster::run(state.clone()));
	tokio::spawn(outbox::run(state.clone()));
	tokio::spawn(refunder::run(state.clone()));
	let every: Duration = config.common.reconcile_every.into();
	let s = state.clone();
	service::every(every, "reconcile", move || {
		let s = s.clone();
		async move {
			if !s.lease.is_leading() {
				return Ok(());
			}
			reconcile::run(&s).await.map(|_| ())
		}
	});

	let (api, admin) = service::with_common_routes(
		api::router(state.clone()),
		api::admin_router(state.clone()),
		HealthState { db, conn, lease: Some(state.lease.clone()) },
		metrics,
		answers,
		config.common.request_timeout.into(),
	);
	config.common.serve(tls, api, admin).await
}
