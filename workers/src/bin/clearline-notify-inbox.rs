//! `clearline-notify-inbox`: an aggregator's notify endpoint for trying the acquirer out. It
//! verifies the acquirer's signature on every notification (refusing replays through its own
//! nonce store), prints each one as a JSON line on stdout and acknowledges it with
//! `{"code":"SUCCESS"}`, as the acquirer's protocol asks of an aggregator.

use clap::Parser;
use clearline_workers::{
	auth,
	common::inbox::{NotifyInbox, MIGRATIONS},
	store::Db,
};
use std::net::SocketAddr;

#[derive(Debug, Parser)]
#[command(name = "clearline-notify-inbox", version, about = "An aggregator's notify endpoint")]
struct Args {
	/// Address to listen on; notifications are taken at `POST /notify`.
	#[arg(long, default_value = "127.0.0.1:8090")]
	listen: SocketAddr,
	/// The acquirer's API public key (SS58), whose signature every notification must carry.
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	let args = Args::parse();
	let key = auth::parse_public_key(&args.acquirer_public_key)
		.map_err(|e| anyhow::anyhow!("--acquirer-public-key: {e}"))?;
	let inbox = NotifyInbox::new(
		Db::open(&args.database, &MIGRATIONS).await?,
		key,
		&args.acquirer_party,
		args.request_window.into(),
		true,
	);
	let app = inbox.router();
	let listener = tokio::net::TcpListener::bind(args.listen).await?;
	eprintln!("notify inbox on http://{}/notify", args.listen);
	axum::serve(listener, app).await?;
	Ok(())
}
