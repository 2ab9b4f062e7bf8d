//! Start-up shared by both services: the options every service takes, logging, keys, the
//! chain connection, and serving until SIGTERM.

use super::{
	answers::AnswerKeys,
	api::ApiError,
	listener::{ConnectionLimits, Listener},
	metrics::Metrics,
	peer::RetryPolicy,
	store::Db,
	tls::{ClientTls, ServerConfigs, ServerTls},
};
use axum::{extract::State, Json, Router};
use clearline_client::{ConnectOptions, Connection, KeySource, Signer};
use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

/// Options both services take.
#[derive(Debug, Clone, clap::Args)]
pub struct CommonArgs {
	/// Address the HTTP API listens on.
	#[arg(long)]
	pub listen: SocketAddr,
	/// Address of the admin listener (`/v1/admin/…`, `/metrics`, `/health`): a port alone
	/// binds it to 127.0.0.1, so that operations stay on the machine unless an address says
	/// otherwise.
	#[arg(long, value_parser = parse_admin_listen)]
	pub admin_listen: SocketAddr,
	#[command(flatten)]
	pub server_tls: ServerTls,
	#[command(flatten)]
	pub client_tls: ClientTls,
	/// Connections each listener holds open at once; more wait until one closes.
	#[arg(long, default_value_t = 1024)]
	pub max_connections: usize,
	/// How long a request's headers (and a TLS handshake) may take to arrive; an idle
	/// keep-alive connection is closed after it too.
	#[arg(long, default_value = "10s")]
	pub header_timeout: humantime::Duration,
	/// How long one request may take, its body included, before it is answered 503
	/// `RequestTimedOut`; above every wait a handler makes on its own.
	#[arg(long, default_value = "120s")]
	pub request_timeout: humantime::Duration,
	/// The service's store: a SQLite file's path (created if absent) or a PostgreSQL URL
	/// (`postgres://user:password@host/database`). Migrations are applied at start.
	#[arg(long, alias = "db", env = "CLEARLINE_DATABASE", hide_env_values = true)]
	pub database: String,
	/// WebSocket URL of a Clearline node.
	#[arg(long, env = "CLEARLINE_URL", default_value = "ws://127.0.0.1:9944")]
	pub node_url: String,
	/// Secret URI of the participant's chain key (development keys and tests only).
	#[arg(long, conflicts_with_all = ["chain_key_env", "chain_key_file"])]
	pub chain_key: Option<String>,
	/// Environment variable holding the chain key's secret URI.
	#[arg(long)]
	pub chain_key_env: Option<String>,
	/// File holding the chain key's secret URI (mode 0600).
	#[arg(long)]
	pub chain_key_file: Option<PathBuf>,
	/// Secret URI of the key that signs requests to the other party and answers to it: a key
	/// of its own, never the chain key (development keys and tests only; see the next two).
	#[arg(long, conflicts_with_all = ["api_key_env", "api_key_file"])]
	pub api_key: Option<String>,
	#[arg(long)]
	pub api_key_env: Option<String>,
	#[arg(long)]
	pub api_key_file: Option<PathBuf>,
	/// The name this service signs its requests with.
	#[arg(long)]
	pub party: Option<String>,
	/// Base URL of the other party's API.
	#[arg(long)]
	pub peer_url: String,
	/// The name the other party signs its requests with.
	#[arg(long)]
	pub peer_party: Option<String>,
	/// The other party's API public key (SS58 or 0x hex).
	#[arg(long)]
	pub peer_public_key: String,
	/// File holding the bearer token of the admin endpoints (mode 0600); without it the token
	/// is read from `CLEARLINE_ADMIN_TOKEN`. Never a command-line argument: every user of the
	/// machine can read those in the process list.
	#[arg(long)]
	pub admin_token_file: Option<PathBuf>,
	/// How far a signed request's timestamp may be from our clock.
	#[arg(long, default_value = "5m")]
	pub request_window: humantime::Duration,
	/// How often reconciliation runs on its own.
	#[arg(long, default_value = "30s")]
	pub reconcile_every: humantime::Duration,
	/// Attempts of a call to the other party that did not arrive (the first included).
	#[arg(long, default_value_t = 5)]
	pub retry_attempts: u32,
	/// First wait between two attempts; doubled each time up to `--retry-max`.
	#[arg(long, default_value = "200ms")]
	pub retry_base: humantime::Duration,
	#[arg(long, default_value = "5s")]
	pub retry_max: humantime::Duration,
	/// Log lines as JSON (the default) or as text.
	#[arg(long, default_value = "json", value_parser = ["json", "text"])]
	pub log_format: String,
}

impl CommonArgs {
	pub fn retry(&self) -> RetryPolicy {
		RetryPolicy {
			attempts: self.retry_attempts.max(1),
			base: self.retry_base.into(),
			max: self.retry_max.into(),
		}
	}

	pub fn chain_key(&self) -> anyhow::Result<Signer> {
		let (uri, env, file) = (&self.chain_key, &self.chain_key_env, &self.chain_key_file);
		load_key("chain key", "--chain-key", uri, env, file)
	}

	pub fn api_key(&self) -> anyhow::Result<Signer> {
		load_key("API key", "--api-key", &self.api_key, &self.api_key_env, &self.api_key_file)
	}

	/// The admin endpoints' bearer token, from `--admin-token-file` or `CLEARLINE_ADMIN_TOKEN`.
	pub fn admin_token(&self) -> anyhow::Result<String> {
		let token = match &self.admin_token_file {
			Some(path) => std::fs::read_to_string(path)
				.map_err(|e| anyhow::anyhow!("--admin-token-file {}: {e}", path.display()))?,
			None => std::env::var("CLEARLINE_ADMIN_TOKEN").map_err(|_| {
				anyhow::anyhow!(
					"give the admin token in CLEARLINE_ADMIN_TOKEN or --admin-token-file"
				)
			})?,
		};
		let token = token.trim().to_string();
		anyhow::ensure!(!token.is_empty(), "the admin token is empty");
		Ok(token)
	}

	/// How the service speaks HTTP, read and checked before anything else starts: its
	/// listeners' TLS, and the client for calls to the other party at `--peer-url` (refused
	/// when it is plain HTTP without `--insecure-http`).
	pub fn transport(&self) -> anyhow::Result<(ServerConfigs, reqwest::Client)> {
		let tls = self.server_tls.configs()?;
		self.server_tls.check_peer_url("--peer-url", &self.peer_url)?;
		let builder = self.client_tls.client(self.server_tls.insecure_http)?;
		Ok((tls, builder.connect_timeout(Duration::from_secs(3)).build()?))
	}

	/// Serves `api` on `--listen` and `admin` on `--admin-listen` until SIGTERM.
	pub async fn serve(
		&self,
		tls: ServerConfigs,
		api: Router,
		admin: Router,
	) -> anyhow::Result<()> {
		let limits = ConnectionLimits {
			max_connections: self.max_connections,
			header_timeout: self.header_timeout.into(),
			drain: Duration::from_secs(30),
		};
		let listeners = vec![
			Listener { name: "api", addr: self.listen, app: api, tls: tls.api },
			Listener { name: "admin", addr: self.admin_listen, app: admin, tls: tls.admin },
		];
		super::listener::serve(listeners, limits).await
	}

	/// The name this service signs as: `--party`, else `default`.
	pub fn name(&self, default: &str) -> String {
		self.party.clone().unwrap_or_else(|| default.into())
	}
}

/// `--admin-listen`: an address, or a port on 127.0.0.1.
fn parse_admin_listen(text: &str) -> Result<SocketAddr, String> {
	if let Ok(port) = text.parse::<u16>() {
		return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
	}
	text.parse().map_err(|_| format!("{text} is neither an address nor a port"))
}

/// The key `flag` (or `flag-env`, `flag-file`) names.
pub fn load_key(
	what: &str,
	flag: &str,
	uri: &Option<String>,
	env: &Option<String>,
	file: &Option<PathBuf>,
) -> anyhow::Result<Signer> {
	let source = match (uri, env, file) {
		(Some(uri), _, _) => KeySource::uri(uri.clone()),
		(_, Some(var), _) => KeySource::Env(var.clone()),
		(_, _, Some(path)) => KeySource::File(path.clone()),
		_ => anyhow::bail!("give {flag}, {flag}-env or {flag}-file"),
	};
	source.load().map_err(|e| anyhow::anyhow!("{what}: {e}"))
}

/// Refuses to start with one key in two roles: a key that leaks from one use (an HTTP
/// signing host, say) must not also sign on the chain, or toward another party.
pub fn check_keys_distinct(keys: &[(&str, &Signer)]) -> anyhow::Result<()> {
	for (i, (a, key_a)) in keys.iter().enumerate() {
		for (b, key_b) in &keys[i + 1..] {
			if key_a.account_id() == key_b.account_id() {
				anyhow::bail!(
					"KeysNotDistinct: the {a} and the {b} are the same key; give each its own"
				);
			}
		}
	}
	Ok(())
}

/// Structured logs on stderr; `RUST_LOG` filters (default `info`).
pub fn init_logging(format: &str) {
	let filter = tracing_subscriber::EnvFilter::try_from_default_env()
		.unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
	let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
	let builder = tracing_subscriber::fmt()
		.with_env_filter(filter)
		.with_writer(std::io::stderr)
		.with_ansi(ansi);
	if format == "json" {
		builder.json().flatten_event(true).init();
	} else {
		builder.init();
	}
}

/// Connects to the node, waiting for it for up to a minute at start.
pub async fn connect(url: &str) -> anyhow::Result<Arc<Connection>> {
	let options = ConnectOptions {
		request_timeout: Duration::from_secs(30),
		reconnect_for: Duration::from_secs(60),
	};
	let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
	loop {
		match Connection::open(url, options, None).await {
			Ok(conn) => return Ok(conn),
			Err(e) if tokio::time::Instant::now() < deadline && e.is_connection() => {
				tracing::warn!(error = %e, "node not reachable yet");
				tokio::time::sleep(Duration::from_secs(1)).await;
			}
			Err(e) => return Err(anyhow::anyhow!("node at {url}: {e}")),
		}
	}
}

/// What `GET /health` reports.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Health {
	pub status: &'static str,
	pub store: &'static str,
	pub chain: &'static str,
	pub finalized: Option<u32>,
	/// Whether this process holds its service's lease (the acquirer's poster); absent for a
	/// service without one.
	#[serde(skip_serializing_if = "Option::is_none")]
	pub leading: Option<bool>,
}

/// Handler state for the health endpoint.
#[derive(Clone)]
pub struct HealthState {
	pub db: Db,
	pub conn: Arc<Connection>,
	pub lease: Option<super::lease::Lease>,
}

/// `GET /health`: 200 when the store answers and the node's finalized head can be read,
/// 503 otherwise.
pub async fn health(
	State(s): State<HealthState>,
) -> Result<Json<Health>, (axum::http::StatusCode, Json<Health>)> {
	let store_ok =
		tokio::time::timeout(Duration::from_secs(3), s.db.ping()).await.is_ok_and(|r| r.is_ok());
	let finalized = tokio::time::timeout(Duration::from_secs(3), s.conn.finalized())
		.await
		.ok()
		.and_then(|r| r.ok());
	let health = Health {
		status: if store_ok && finalized.is_some() { "ok" } else { "degraded" },
		store: if store_ok { "ok" } else { "failing" },
		chain: if finalized.is_some() { "ok" } else { "unreachable" },
		finalized: finalized.map(|(n, _)| n),
		leading: s.lease.as_ref().map(|l| l.is_leading()),
	};
	if health.status == "ok" {
		Ok(Json(health))
	} else {
		Err((axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(health)))
	}
}

/// The two routers a service serves, with what every service has: `/health` on both,
/// `/metrics` on the admin listener only, requests counted, each request bounded by
/// `request_timeout`, every answer to a signed request signed (`answers`), and no answer
/// leaving before the store holds on disk what it may have read (group commit).
pub fn with_common_routes(
	api: Router,
	admin: Router,
	health_state: HealthState,
	metrics: Arc<Metrics>,
	answers: Arc<AnswerKeys>,
	request_timeout: Duration,
) -> (Router, Router) {
	let health = || {
		Router::new().route("/health", axum::routing::get(health)).with_state(health_state.clone())
	};
	let common = |app: Router| {
		app.fallback(|| async { ApiError::not_found("UnknownRoute", "no such endpoint") })
			.layer(axum::middleware::from_fn_with_state(
				metrics.clone(),
				super::metrics::count_requests,
			))
			.layer(axum::middleware::from_fn_with_state(request_timeout, bounded_request))
	};
	let api = common(api.merge(health()))
		.layer(axum::middleware::from_fn_with_state(answers, super::answers::sign_answers))
		.layer(axum::middleware::from_fn(durable_answers));
	let metrics_route = Router::new()
		.route("/metrics", axum::routing::get(super::metrics::serve))
		.with_state(metrics.clone());
	let admin = common(admin.merge(health()).merge(metrics_route))
		.layer(axum::middleware::from_fn(durable_answers));
	(api, admin)
}

/// Answers 503 `RequestTimedOut` to a request not done within the limit. The handler is
/// dropped there, as it is when the client goes away: every handler leaves its order in a
/// state that the service takes up again.
async fn bounded_request(
	State(limit): State<Duration>,
	request: axum::extract::Request,
	next: axum::middleware::Next,
) -> axum::response::Response {
	match tokio::time::timeout(limit, next.run(request)).await {
		Ok(response) => response,
		Err(_) => axum::response::IntoResponse::into_response(ApiError::unavailable(
			"RequestTimedOut",
			"the request took longer than the service allows",
		)),
	}
}

async fn durable_answers(
	request: axum::extract::Request,
	next: axum::middleware::Next,
) -> axum::response::Response {
	let response = next.run(request).await;
	super::durability::make_durable().await;
	response
}

/// Runs `job` every `every`, logging failures, forever.
pub fn every<F, Fut>(every: Duration, name: &'static str, mut job: F)
where
	F: FnMut() -> Fut + Send + 'static,
	Fut: std::future::Future<Output = Result<(), ApiError>> + Send,
{
	tokio::spawn(async move {
		let mut tick = tokio::time::interval(every);
		tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
		loop {
			tick.tick().await;
			if let Err(e) = job().await {
				tracing::warn!(job = name, error = %e, "periodic job failed");
			}
		}
	});
}

#[cfg(test)]
mod tests {
	use super::*;
	use axum::{body::Body, http::Request, routing::get};
	use tower_service::Service;

	#[tokio::test]
	async fn a_request_past_its_time_is_answered_request_timed_out() {
		let slow = || async {
			tokio::time::sleep(Duration::from_secs(5)).await;
			"late"
		};
		let mut app = Router::new().route("/slow", get(slow)).layer(
			axum::middleware::from_fn_with_state(Duration::from_millis(50), bounded_request),
		);
		let request = Request::get("/slow").body(Body::empty()).unwrap();
		let response = app.call(request).await.unwrap();
		assert_eq!(response.status(), 503);
		let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
		assert!(String::from_utf8_lossy(&body).contains("RequestTimedOut"));
	}

	#[test]
	fn an_admin_port_alone_binds_loopback() {
		assert_eq!(parse_admin_listen("9181").unwrap().to_string(), "127.0.0.1:9181");
		assert_eq!(parse_admin_listen("0.0.0.0:9181").unwrap().to_string(), "0.0.0.0:9181");
		assert!(parse_admin_listen("localhost").is_err());
	}
}
