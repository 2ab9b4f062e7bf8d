//! Where a signing key comes from. The secret is read, turned into a key pair and wiped; it
//! is never printed, not even in errors.

use crate::{
	error::{Error, Result},
	extrinsic::Signer,
};
use std::path::PathBuf;
use zeroize::Zeroizing;

/// A secret URI (mnemonic, `0x` seed, or `//Dev` derivation), taken from one of three places.
#[derive(Clone, PartialEq, Eq)]
pub enum KeySource {
	/// Given directly. Visible to anyone who can list the process's arguments: for the
	/// development keys (`//Alice`) and tests only.
	Uri(Zeroizing<String>),
	/// The value of this environment variable.
	Env(String),
	/// The first line of this file, which only its owner may read (mode 0600 or stricter).
	File(PathBuf),
}

impl std::fmt::Debug for KeySource {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		match self {
			KeySource::Uri(_) => f.write_str("Uri(<secret>)"),
			KeySource::Env(var) => write!(f, "Env({var})"),
			KeySource::File(path) => write!(f, "File({})", path.display()),
		}
	}
}

impl KeySource {
	pub fn uri(uri: impl Into<String>) -> Self {
		KeySource::Uri(Zeroizing::new(uri.into()))
	}

	/// Reads the secret and derives the key.
	pub fn load(&self) -> Result<Signer> {
		let secret = match self {
			KeySource::Uri(uri) => uri.clone(),
			KeySource::Env(var) => Zeroizing::new(
				std::env::var(var)
					.map_err(|e| Error::InvalidKey(format!("environment variable {var}: {e}")))?,
			),
			KeySource::File(path) => read_key_file(path)?,
		};
		let secret = secret.trim();
		if secret.is_empty() {
			return Err(Error::InvalidKey(format!("{self:?} is empty")));
		}
		Signer::from_uri(secret).map_err(|e| match e {
			Error::InvalidKey(why) => Error::InvalidKey(format!("{self:?}: {why}")),
			other => other,
		})
	}
}

fn read_key_file(path: &std::path::Path) -> Result<Zeroizing<String>> {
	let shown = path.display();
	let meta =
		std::fs::metadata(path).map_err(|e| Error::InvalidKey(format!("key file {shown}: {e}")))?;
	#[cfg(unix)]
	{
		use std::os::unix::fs::PermissionsExt;
		let mode = meta.permissions().mode() & 0o777;
		if mode & 0o077 != 0 {
			return Err(Error::InvalidKey(format!(
				"key file {shown} may be read by other users (mode {mode:o}); chmod 600 it"
			)));
		}
	}
	let text = Zeroizing::new(
		std::fs::read_to_string(path)
			.map_err(|e| Error::InvalidKey(format!("key file {shown}: {e}")))?,
	);
	Ok(Zeroizing::new(text.lines().next().unwrap_or_default().to_string()))
}

#[cfg(test)]
mod tests {
	use super::*;
	use std::{io::Write, os::unix::fs::PermissionsExt};

	fn key_file(contents: &str, mode: u32) -> tempfile::NamedTempFile {
		let mut file = tempfile::NamedTempFile::new().unwrap();
		file.write_all(contents.as_bytes()).unwrap();
		std::fs::set_permissions(file.path(), std::fs::Permissions::from_mode(mode)).unwrap();
		file
	}

	#[test]
	fn every_source_gives_the_same_key() {
		let alice = Signer::from_uri("//Alice").unwrap().account_id();
		assert_eq!(KeySource::uri("//Alice").load().unwrap().account_id(), alice);
		let file = key_file("//Alice\n", 0o600);
		assert_eq!(KeySource::File(file.path().into()).load().unwrap().account_id(), alice);
		std::env::set_var("CLEARLINE_TEST_KEY_SOURCE", "//Alice");
		let from_env = KeySource::Env("CLEARLINE_TEST_KEY_SOURCE".into()).load().unwrap();
		assert_eq!(from_env.account_id(), alice);
	}

	#[test]
	fn a_key_file_others_can_read_is_refused() {
		let file = key_file("//Alice", 0o644);
		let err = KeySource::File(file.path().into()).load().unwrap_err().to_string();
		assert!(err.contains("chmod 600"), "{err}");
	}

	#[test]
	fn errors_and_debug_output_never_show_the_secret() {
		// The development mnemonic with its last word changed: the checksum fails.
		let source =
			KeySource::uri("bottom drive obey lake curtain smoke basket hold race lonely fit wall");
		assert!(!format!("{source:?}").contains("bottom"));
		let err = source.load().unwrap_err().to_string();
		assert!(!err.contains("bottom"), "{err}");
		let file = key_file("", 0o600);
		assert!(KeySource::File(file.path().into()).load().is_err());
		let missing = KeySource::Env("CLEARLINE_TEST_KEY_UNSET".into()).load().unwrap_err();
		assert!(matches!(missing, Error::InvalidKey(_)));
	}
}
