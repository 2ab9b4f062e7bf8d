//! Certificates a test makes for itself: a CA, and certificates it signs for 127.0.0.1 that
//! serve both as server and as client certificates; and a stranger signed by another CA.

use clearline_workers::tls::ClientTls;
use rcgen::{
	BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
	SanType,
};
use std::path::{Path, PathBuf};

/// A certificate's and its key's PEM files.
#[derive(Debug, Clone)]
pub struct Identity {
	pub cert: PathBuf,
	pub key: PathBuf,
}

/// The test's CA and the certificates it signed, in `dir`.
pub struct TestPki {
	pub ca: PathBuf,
	pub issuer: Identity,
	pub acquirer: Identity,
	pub aggregator: Identity,
	/// Signed by a CA nobody trusts.
	pub stranger: Identity,
}

impl TestPki {
	pub fn new(dir: &Path) -> Self {
		let ca = authority("Clearline test CA");
		let other_ca = authority("Someone else's CA");
		let ca_path = dir.join("ca.pem");
		std::fs::write(&ca_path, ca.serialize_pem().unwrap()).unwrap();
		Self {
			ca: ca_path,
			issuer: leaf(dir, "issuer", &ca),
			acquirer: leaf(dir, "acquirer", &ca),
			aggregator: leaf(dir, "aggregator", &ca),
			stranger: leaf(dir, "stranger", &other_ca),
		}
	}

	/// A client trusting this CA only, presenting `identity` if given: the services' own
	/// client options, as a party's configuration would give them.
	pub fn client(&self, identity: Option<&Identity>) -> reqwest::Client {
		let options = ClientTls {
			peer_ca: Some(self.ca.clone()),
			tls_client_cert: identity.map(|i| i.cert.clone()),
			tls_client_key: identity.map(|i| i.key.clone()),
		};
		options.client(true).unwrap().build().unwrap()
	}

	/// A service's options: its certificate as server and as client, mutual TLS toward the
	/// other bank, this CA for both directions.
	pub fn service_args(&self, own: &Identity) -> Vec<String> {
		let path = |p: &PathBuf| p.to_string_lossy().into_owned();
		[
			("--tls-cert", path(&own.cert)),
			("--tls-key", path(&own.key)),
			("--tls-client-ca", path(&self.ca)),
			("--peer-ca", path(&self.ca)),
			("--tls-client-cert", path(&own.cert)),
			("--tls-client-key", path(&own.key)),
		]
		.into_iter()
		.flat_map(|(flag, value)| [flag.to_string(), value])
		.collect()
	}
}

fn authority(name: &str) -> Certificate {
	let mut params = CertificateParams::new(Vec::<String>::new());
	params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
	params.distinguished_name.push(DnType::CommonName, name);
	Certificate::from_params(params).unwrap()
}

fn leaf(dir: &Path, name: &str, ca: &Certificate) -> Identity {
	let mut params = CertificateParams::new(vec!["localhost".to_string()]);
	params.subject_alt_names.push(SanType::IpAddress([127, 0, 0, 1].into()));
	params.distinguished_name.push(DnType::CommonName, name);
	params.extended_key_usages =
		vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
	let cert = Certificate::from_params(params).unwrap();
	let identity =
		Identity { cert: dir.join(format!("{name}.pem")), key: dir.join(format!("{name}.key")) };
	std::fs::write(&identity.cert, cert.serialize_pem_with_signer(ca).unwrap()).unwrap();
	std::fs::write(&identity.key, cert.serialize_private_key_pem()).unwrap();
	identity
}
