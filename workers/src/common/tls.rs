//! TLS between the parties (rustls with the ring provider): the certificate a service serves
//! with, the client certificates it asks of its callers (mutual TLS), and what it trusts and
//! presents when it calls the other party. Plain HTTP only when started with
//! `--insecure-http`, which is logged at start.

use std::{path::PathBuf, sync::Arc};
use tokio_rustls::rustls::{
	self,
	pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
	server::WebPkiClientVerifier,
	RootCertStore, ServerConfig,
};

/// How a service's listeners speak: TLS with a certificate from files, or plain HTTP.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerTls {
	/// The server's certificate chain (PEM), leaf first.
	#[arg(long, requires = "tls_key", conflicts_with = "insecure_http")]
	pub tls_cert: Option<PathBuf>,
	/// The server certificate's private key (PEM, PKCS#8, PKCS#1 or SEC1; mode 0600).
	#[arg(long, requires = "tls_cert")]
	pub tls_key: Option<PathBuf>,
	/// CA certificates (PEM) that client certificates must chain to: with it, the API listener
	/// asks every caller for one (mutual TLS), refuses a connection whose certificate does not
	/// verify, and the other bank's endpoints refuse a request that came without one
	/// (`ClientCertificateRequired`). Wallet apps and aggregators may come without. The admin
	/// listener never asks; the admin token authenticates there.
	#[arg(long, requires = "tls_cert")]
	pub tls_client_ca: Option<PathBuf>,
	/// Serve, and call the other party, over plain HTTP: for development and tests on one
	/// machine only. Without it a service needs `--tls-cert` and `--tls-key` and refuses
	/// `http://` URLs of other parties.
	#[arg(long)]
	pub insecure_http: bool,
}

/// What a service trusts and presents when it calls another party over https.
#[derive(Debug, Clone, clap::Args)]
pub struct ClientTls {
	/// CA certificates (PEM) the other party's server certificate must chain to; without it,
	/// the system's roots.
	#[arg(long)]
	pub peer_ca: Option<PathBuf>,
	/// The client certificate chain (PEM) presented to the other party, for mutual TLS.
	#[arg(long, requires = "tls_client_key")]
	pub tls_client_cert: Option<PathBuf>,
	/// The client certificate's private key (PEM; mode 0600).
	#[arg(long, requires = "tls_client_cert")]
	pub tls_client_key: Option<PathBuf>,
}

/// The server configurations of one service: the API's (asking for client certificates
/// when `--tls-client-ca` is given) and the admin listener's; both absent for plain HTTP.
#[derive(Clone)]
pub struct ServerConfigs {
	pub api: Option<Arc<ServerConfig>>,
	pub admin: Option<Arc<ServerConfig>>,
}

impl ServerTls {
	/// The listeners' configurations, or an error naming the file or option at fault.
	pub fn configs(&self) -> anyhow::Result<ServerConfigs> {
		let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) else {
			anyhow::ensure!(
				self.insecure_http,
				"give --tls-cert and --tls-key, or --insecure-http for plain HTTP (development \
				 only)"
			);
			tracing::warn!("--insecure-http: serving and calling other parties over plain HTTP");
			return Ok(ServerConfigs { api: None, admin: None });
		};
		let chain = read_certs(cert, "--tls-cert")?;
		let key = read_key(key, "--tls-key")?;
		let admin = server_config(None, chain.clone(), key.clone_key())?;
		let verifier = match &self.tls_client_ca {
			Some(path) => {
				let roots = read_roots(path, "--tls-client-ca")?;
				let verifier =
					WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
						.allow_unauthenticated()
						.build()
						.map_err(|e| anyhow::anyhow!("--tls-client-ca: {e}"))?;
				Some(verifier)
			}
			None => None,
		};
		let api = server_config(verifier, chain, key)?;
		Ok(ServerConfigs { api: Some(Arc::new(api)), admin: Some(Arc::new(admin)) })
	}

	/// Refuses a plain `http://` URL of another party unless `--insecure-http` was given.
	pub fn check_peer_url(&self, what: &str, url: &str) -> anyhow::Result<()> {
		check_scheme(self.insecure_http, what, url)
	}
}

/// Refuses an `http://` URL unless plain HTTP is allowed.
pub fn check_scheme(insecure_http: bool, what: &str, url: &str) -> anyhow::Result<()> {
	let scheme = url.split("://").next().unwrap_or_default().to_ascii_lowercase();
	match scheme.as_str() {
		"https" => Ok(()),
		"http" if insecure_http => Ok(()),
		"http" => anyhow::bail!("{what} {url} is plain HTTP; use https, or --insecure-http"),
		_ => anyhow::bail!("{what} {url} is not an http(s) URL"),
	}
}

impl ClientTls {
	/// An HTTP client for calls to the other party: trusting `--peer-ca` only when given,
	/// presenting the client certificate when given, and refusing plain HTTP unless
	/// `insecure_http`.
	pub fn client(&self, insecure_http: bool) -> anyhow::Result<reqwest::ClientBuilder> {
		let mut builder = reqwest::Client::builder()
			.use_rustls_tls()
			.https_only(!insecure_http)
			.pool_idle_timeout(super::peer::IDLE_CONNECTIONS_KEPT);
		if let Some(path) = &self.peer_ca {
			builder = builder.tls_built_in_root_certs(false);
			for cert in read_certs(path, "--peer-ca")? {
				let cert = reqwest::Certificate::from_der(&cert)
					.map_err(|e| anyhow::anyhow!("--peer-ca {}: {e}", path.display()))?;
				builder = builder.add_root_certificate(cert);
			}
		}
		if let (Some(cert), Some(key)) = (&self.tls_client_cert, &self.tls_client_key) {
			let mut pem = read_file(cert, "--tls-client-cert")?;
			pem.push(b'\n');
			pem.extend(read_file(key, "--tls-client-key")?);
			let identity = reqwest::Identity::from_pem(&pem)
				.map_err(|e| anyhow::anyhow!("--tls-client-cert/--tls-client-key: {e}"))?;
			builder = builder.identity(identity);
		}
		Ok(builder)
	}
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
	Arc::new(rustls::crypto::ring::default_provider())
}

fn server_config(
	verifier: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
	chain: Vec<CertificateDer<'static>>,
	key: PrivateKeyDer<'static>,
) -> anyhow::Result<ServerConfig> {
	let builder = ServerConfig::builder_with_provider(provider())
		.with_safe_default_protocol_versions()
		.map_err(|e| anyhow::anyhow!("TLS versions: {e}"))?;
	let builder = match verifier {
		Some(v) => builder.with_client_cert_verifier(v),
		None => builder.with_no_client_auth(),
	};
	let mut config = builder
		.with_single_cert(chain, key)
		.map_err(|e| anyhow::anyhow!("--tls-cert and --tls-key do not make a pair: {e}"))?;
	config.alpn_protocols = vec![b"http/1.1".to_vec()];
	Ok(config)
}

fn read_file(path: &PathBuf, flag: &str) -> anyhow::Result<Vec<u8>> {
	std::fs::read(path).map_err(|e| anyhow::anyhow!("{flag} {}: {e}", path.display()))
}

fn read_certs(path: &PathBuf, flag: &str) -> anyhow::Result<Vec<CertificateDer<'static>>> {
	let pem = read_file(path, flag)?;
	let certs = CertificateDer::pem_slice_iter(&pem)
		.collect::<Result<Vec<_>, _>>()
		.map_err(|e| anyhow::anyhow!("{flag} {}: {e}", path.display()))?;
	anyhow::ensure!(!certs.is_empty(), "{flag} {}: no certificate in it", path.display());
	Ok(certs)
}

fn read_key(path: &PathBuf, flag: &str) -> anyhow::Result<PrivateKeyDer<'static>> {
	let pem = read_file(path, flag)?;
	PrivateKeyDer::from_pem_slice(&pem)
		.map_err(|e| anyhow::anyhow!("{flag} {}: no private key read: {e}", path.display()))
}

fn read_roots(path: &PathBuf, flag: &str) -> anyhow::Result<RootCertStore> {
	let mut roots = RootCertStore::empty();
	for cert in read_certs(path, flag)? {
		roots.add(cert).map_err(|e| anyhow::anyhow!("{flag} {}: {e}", path.display()))?;
	}
	Ok(roots)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn plain_http_urls_are_refused_unless_allowed() {
		assert!(check_scheme(false, "--peer-url", "https://acquirer.example").is_ok());
		let err = check_scheme(false, "--peer-url", "http://acquirer.example").unwrap_err();
		assert!(err.to_string().contains("plain HTTP"), "{err}");
		assert!(check_scheme(true, "--peer-url", "http://127.0.0.1:1").is_ok());
		assert!(check_scheme(true, "--peer-url", "ftp://x").is_err());
	}

	#[test]
	fn a_service_without_a_certificate_starts_only_with_insecure_http() {
		let none =
			ServerTls { tls_cert: None, tls_key: None, tls_client_ca: None, insecure_http: false };
		let err = none.configs().err().expect("refused");
		assert!(err.to_string().contains("--insecure-http"), "{err}");
		let plain = ServerTls { insecure_http: true, ..none };
		assert!(plain.configs().unwrap().api.is_none());
	}
}
