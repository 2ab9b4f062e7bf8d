//! `clearline-notify-inbox`: an aggregator's notify endpoint for trying the acquirer out. It
//! verifies the acquirer's signature on every notification, made for this aggregator and
//! naming it (refusing replays through its own nonce store), prints each one as a JSON line
//! on stdout and acknowledges it with `{"code":"SUCCESS"}`, signed with the aggregator's key,
//! as the acquirer's protocol asks of an aggregator.

use clap::Parser;
use clearline_client::KeySource;
use clearline_workers::{
	auth::{self, Counterparty},
	common::{
		inbox::{NotifyInbox, MIGRATIONS},
		listener::{self, ConnectionLimits, Listener},
		tls::ServerTls,
	},
	store::Db,
};
use std::{net::SocketAddr, time::Duration};

#[derive(Debug, Parser)]
#[command(name = "clearline-notify-inbox", version, about = "An aggregator's notify endpoint")]
struct Args {
	/// Address to listen on; notifications are taken at `POST /notify`.
	#[arg(long, default_value = "127.0.0.1:8090")]
	listen: SocketAddr,
	/// The aggregator's id at the acquirer: every notification must be for it.
	#[arg(long)]
	aggregator_id: String,
	/// Secret URI of the aggregator's API key, which signs the acknowledgements (development
	/// keys only; see --key-file).
	#[arg(long, conflicts_with = "key_file")]
	key: Option<String>,
	/// File holding the secret URI (mode 0600).
	#[arg(long, env = "CLEARLINE_API_KEY_FILE")]
	key_file: Option<std::path::PathBuf>,
	/// The acquirer's aggregator key (SS58), whose signature every notification must carry.
	#[arg(long)]
	acquirer_public_key: String,
	/// The party name the acquirer signs as.
	#[arg(long, default_value = "acquirer")]
	acquirer_party: String,
	/// Where the nonces of requests seen are kept (replay protection): a SQLite file's path
	/// or a PostgreSQL URL (`postgres://…`).
	#[arg(long, alias = "db")]
	database: String,
	/// How old a signed request may be.
	#[arg(long, default_value = "5m")]
	request_window: humantime::Duration,
	#[command(flatten)]
	tls: ServerTls,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	let args = Args::parse();
	let key = auth::parse_public_key(&args.acquirer_public_key)
		.map_err(|e| anyhow::anyhow!("--acquirer-public-key: {e}"))?;
	let source = match (&args.key, &args.key_file) {
		(Some(uri), _) => KeySource::uri(uri.clone()),
		(_, Some(path)) => KeySource::File(path.clone()),
		_ => anyhow::bail!("give --key or --key-file"),
	};
	let own_key = source.load().map_err(|e| anyhow::anyhow!("aggregator key: {e}"))?;
	let inbox = NotifyInbox::new(
		Db::open(&args.database, &MIGRATIONS).await?,
		Counterparty { party: args.acquirer_party.clone(), key },
		&args.aggregator_id,
		own_key,
		args.request_window.into(),
		true,
	);
	let tls = args.tls.configs()?.api;
	let scheme = if tls.is_some() { "https" } else { "http" };
	eprintln!("notify inbox on {scheme}://{}/notify", args.listen);
	let limits = ConnectionLimits {
		max_connections: 256,
		header_timeout: Duration::from_secs(10),
		drain: Duration::from_secs(5),
	};
	let listener = Listener { name: "notify", addr: args.listen, app: inbox.router(), tls };
	listener::serve(vec![listener], limits).await
}
