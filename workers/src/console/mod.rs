//! The clearing bank's console: a page for the clearing bank's operators, served by a small
//! service of its own that keeps no store. It reads everything from the chain through
//! `clearline-client` (participants and their settlement accounts, the open cycle's net
//! positions, closed cycles, the FX rates' history), streams the finalized clearing events to
//! the page as they come (server-sent events), and closes the cycle with the clearing bank's
//! key, which it holds, for an operator who logged in.

mod api;
mod chain;
mod login;

use crate::common::{
	listener::{ConnectionLimits, Listener},
	pages::{self, Page},
	service,
	tls::ServerTls,
};
use axum::{
	routing::{get, post},
	Router,
};
use clearline_client::{Connection, SenderOptions, Signer, TxSender};
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

/// `clearline-console`'s options.
#[derive(Debug, Clone, clap::Parser)]
#[command(name = "clearline-console", version, about = "The clearing bank's console")]
pub struct Config {
	/// Address the console listens on.
	#[arg(long)]
	pub listen: SocketAddr,
	#[command(flatten)]
	pub server_tls: ServerTls,
	/// WebSocket URL of a Clearline node.
	#[arg(long, env = "CLEARLINE_URL", default_value = "ws://127.0.0.1:9944")]
	pub node_url: String,
	/// Secret URI of the clearing bank's key, which closes cycles (development keys and tests
	/// only; see the next two).
	#[arg(long, conflicts_with_all = ["key_env", "key_file"])]
	pub key: Option<String>,
	/// Environment variable holding the key's secret URI.
	#[arg(long)]
	pub key_env: Option<String>,
	/// File holding the key's secret URI (mode 0600).
	#[arg(long)]
	pub key_file: Option<PathBuf>,
	/// File holding the operators' password (mode 0600); without it the password is read
	/// from `CLEARLINE_CONSOLE_PASSWORD`. At least 10 characters.
	#[arg(long)]
	pub password_file: Option<PathBuf>,
	/// Login attempts a minute from one client address, and three times as many from all
	/// together (a burst of this many, then at an even pace): each hashes a password.
	#[arg(long, default_value_t = 10)]
	pub login_rate: u32,
	/// How long an operator's login lasts.
	#[arg(long, default_value = "8h")]
	pub session_ttl: humantime::Duration,
	/// Closed cycles the console shows, newest first.
	#[arg(long, default_value_t = 10)]
	pub cycles_shown: u32,
	/// FX rate publications the chart keeps per pair; at start the console reads this many of
	/// the latest publications, all pairs together, and every one made after.
	#[arg(long, default_value_t = 200)]
	pub rates_shown: usize,
	/// Log lines as JSON (the default) or as text.
	#[arg(long, default_value = "json", value_parser = ["json", "text"])]
	pub log_format: String,
}

/// Everything a handler needs.
pub struct Console {
	pub config: Config,
	pub conn: Arc<Connection>,
	/// Signs cycle closes as the clearing bank.
	pub sender: TxSender,
	pub clearing_bank: String,
	pub logins: login::Logins,
	/// Login attempts: all operators together, and per client address.
	pub login_limits: Arc<crate::common::rate_limit::RateLimits>,
	/// One cycle close at a time.
	pub closing: tokio::sync::Mutex<()>,
	pub rates: chain::RateHistory,
	pub events: api::EventFeed,
}

/// The operators' password, from `--password-file` or `CLEARLINE_CONSOLE_PASSWORD`.
fn password(config: &Config) -> anyhow::Result<String> {
	let text = match &config.password_file {
		Some(path) => std::fs::read_to_string(path)
			.map_err(|e| anyhow::anyhow!("--password-file {}: {e}", path.display()))?,
		None => std::env::var("CLEARLINE_CONSOLE_PASSWORD").map_err(|_| {
			anyhow::anyhow!(
				"give the operators' password in --password-file or CLEARLINE_CONSOLE_PASSWORD"
			)
		})?,
	};
	let password = text.trim_end_matches(['\r', '\n']).to_string();
	anyhow::ensure!(
		password.chars().count() >= 10,
		"the operators' password is shorter than 10 characters"
	);
	Ok(password)
}

/// The console's routes: its page and the page's API.
pub fn router(state: Arc<Console>) -> Router {
	Router::new()
		.route("/api/session", post(api::log_in).delete(api::log_out))
		.route("/api/overview", get(api::overview))
		.route("/api/events", get(api::events))
		.route("/api/cycles/close", post(api::close_cycle))
		.merge(pages::routes(Page::Console, "/"))
		.fallback(|| async {
			crate::common::api::ApiError::not_found("UnknownRoute", "no such endpoint")
		})
		.with_state(state)
}

/// Runs the console until SIGTERM.
pub async fn run(config: Config) -> anyhow::Result<()> {
	service::init_logging(&config.log_format);
	let tls = config.server_tls.configs()?;
	let signer: Signer = service::load_key(
		"clearing bank's key",
		"--key",
		&config.key,
		&config.key_env,
		&config.key_file,
	)?;
	let logins = login::Logins::new(&password(&config)?, Duration::from(config.session_ttl));
	let conn = service::connect(&config.node_url).await?;
	let clearing_bank = sp_core::crypto::Ss58Codec::to_ss58check(&signer.account_id());
	let sender = TxSender::new(conn.clone(), signer, SenderOptions::default())?;
	let events = api::EventFeed::start(conn.clone()).await?;
	let state = Arc::new(Console {
		rates: chain::RateHistory::new(config.rates_shown),
		config: config.clone(),
		conn,
		sender,
		clearing_bank,
		logins,
		login_limits: crate::common::rate_limit::RateLimits::new(
			config.login_rate.saturating_mul(3),
			config.login_rate,
		)?,
		closing: tokio::sync::Mutex::new(()),
		events,
	});
	tracing::info!(clearing_bank = %state.clearing_bank, "the console is up");
	let limits = ConnectionLimits {
		max_connections: 256,
		header_timeout: Duration::from_secs(10),
		drain: Duration::from_secs(5),
	};
	let listener =
		Listener { name: "console", addr: config.listen, app: router(state), tls: tls.api };
	crate::common::listener::serve(vec![listener], limits).await
}
