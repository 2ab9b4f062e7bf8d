//! `clearline-call`: sends one request signed as a party (an aggregator, the issuer, the
//! acquirer) to a Clearline service and prints the answer: what `curl` is for the endpoints
//! that need no signature. `--qr TEXT` draws a payment code or a merchant's QR payload in the
//! terminal instead.

use clap::Parser;
use clearline_client::KeySource;
use clearline_workers::{
	auth::Counterparty,
	peer::{send_signed, PeerError},
	tls::ClientTls,
};
use std::{path::PathBuf, process::ExitCode, time::Duration};

#[derive(Debug, Parser)]
#[command(name = "clearline-call", version, about = "Send a signed request to a Clearline service")]
struct Args {
	/// Secret URI of the party's API key (development keys only; see --key-file).
	#[arg(long, conflicts_with = "key_file")]
	key: Option<String>,
	/// File holding the secret URI (mode 0600).
	#[arg(long, env = "CLEARLINE_API_KEY_FILE")]
	key_file: Option<PathBuf>,
	/// The name the party signs as (`agg-1`, `issuer`, `acquirer`).
	#[arg(long, required_unless_present_any = ["public_key", "qr"])]
	party: Option<String>,
	/// The name the service answering signs as (`acquirer`, `issuer`, an aggregator's id).
	#[arg(long, default_value = "acquirer")]
	to: String,
	/// The answering service's public key (SS58) toward this party: its answer must verify
	/// under it (the acquirer's aggregator key, for an aggregator).
	#[arg(long, required_unless_present_any = ["public_key", "qr"])]
	to_public_key: Option<String>,
	/// Print the key's public key (SS58), which the other party registers, and exit.
	#[arg(long)]
	public_key: bool,
	/// Draw TEXT (a payment code, a merchant's QR payload) as a QR code for a terminal, and
	/// exit. Needs no key.
	#[arg(long, value_name = "TEXT")]
	qr: Option<String>,
	#[arg(long, default_value = "30s")]
	timeout: humantime::Duration,
	/// GET or POST.
	#[arg(required_unless_present_any = ["public_key", "qr"])]
	method: Option<reqwest::Method>,
	/// Full URL, with any query string.
	#[arg(required_unless_present_any = ["public_key", "qr"])]
	url: Option<String>,
	/// JSON body.
	body: Option<String>,
	#[command(flatten)]
	tls: ClientTls,
	/// Allow a plain `http://` URL (development only).
	#[arg(long)]
	insecure_http: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
	let args = Args::parse();
	if let Some(text) = &args.qr {
		// The most a QR code holds at the lowest error correction, in byte mode.
		if text.is_empty() || text.len() > 2953 {
			eprintln!("error: --qr takes 1 to 2953 bytes");
			return ExitCode::from(2);
		}
		println!("{}", clearline_workers::qr::terminal(text));
		return ExitCode::SUCCESS;
	}
	let source = match (&args.key, &args.key_file) {
		(Some(uri), _) => KeySource::uri(uri.clone()),
		(_, Some(path)) => KeySource::File(path.clone()),
		_ => {
			eprintln!("error: give --key or --key-file");
			return ExitCode::from(2);
		}
	};
	let key = match source.load() {
		Ok(k) => k,
		Err(e) => {
			eprintln!("error: {e}");
			return ExitCode::from(2);
		}
	};
	if args.public_key {
		println!("{}", clearline_workers::auth::public_key_text(&key));
		return ExitCode::SUCCESS;
	}
	let (Some(party), Some(method), Some(url), Some(to_key)) =
		(&args.party, &args.method, &args.url, &args.to_public_key)
	else {
		eprintln!("error: give --party, --to-public-key, the method and the URL");
		return ExitCode::from(2);
	};
	let to = match clearline_workers::auth::parse_public_key(to_key) {
		Ok(key) => Counterparty { party: args.to.clone(), key },
		Err(e) => {
			eprintln!("error: --to-public-key: {e}");
			return ExitCode::from(2);
		}
	};
	let body = args.body.clone().unwrap_or_default().into_bytes();
	if !body.is_empty() && serde_json::from_slice::<serde_json::Value>(&body).is_err() {
		eprintln!("error: the body is not JSON");
		return ExitCode::from(2);
	}
	let http = match args.tls.client(args.insecure_http).and_then(|b| Ok(b.build()?)) {
		Ok(http) => http,
		Err(e) => {
			eprintln!("error: {e}");
			return ExitCode::from(2);
		}
	};
	if let Err(e) = clearline_workers::tls::check_scheme(args.insecure_http, "the URL", url) {
		eprintln!("error: {e}");
		return ExitCode::from(2);
	}
	let timeout: Duration = args.timeout.into();
	let answer: Result<serde_json::Value, _> =
		send_signed(&http, &key, party, &to, method.clone(), url, "", body, timeout).await;
	match answer {
		Ok(v) => {
			println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
			ExitCode::SUCCESS
		}
		Err(PeerError::Refused { status, code, message }) => {
			println!("{}", serde_json::json!({ "code": code, "message": message }));
			eprintln!("error: HTTP {status}: {code} ({message})");
			ExitCode::from(1)
		}
		Err(e) => {
			eprintln!("error: {e}");
			ExitCode::from(5)
		}
	}
}
