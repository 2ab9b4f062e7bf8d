//! The operators' login: one password the console is started with (kept only as a salted
//! PBKDF2 hash), sessions held in memory as the SHA-256 of a random token in an HttpOnly
//! cookie, and a lock on an address after wrong passwords in a row. A restart logs everyone
//! out, which a console without a store accepts.

use crate::common::{auth, now_ms};
use sha2::{Digest, Sha256};
use std::{collections::HashMap, net::IpAddr, sync::Mutex, time::Duration};

/// The cookie holding an operator's session.
pub const COOKIE: &str = "clearline_console";
/// Wrong passwords in a row from one address before it is refused for [`LOCK`].
const ATTEMPTS: u32 = 5;
const LOCK: Duration = Duration::from_secs(15 * 60);
const ITERATIONS: u32 = 100_000;

/// Why a login was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
	WrongPassword,
	/// Too many wrong passwords in a row from this address, until the lock ends.
	Locked,
}

pub struct Logins {
	salt: [u8; 16],
	hash: [u8; 32],
	ttl: Duration,
	/// Token hash → when the session ends (ms).
	sessions: Mutex<HashMap<[u8; 32], i64>>,
	/// Address → wrong passwords in a row, and when its lock ends (ms).
	failures: Mutex<HashMap<IpAddr, (u32, i64)>>,
}

fn token_hash(token: &str) -> [u8; 32] {
	Sha256::digest(token.as_bytes()).into()
}

impl Logins {
	pub fn new(password: &str, ttl: Duration) -> Self {
		let salt: [u8; 16] = rand::random();
		Self {
			hash: auth::hash_secret(password, &salt, ITERATIONS),
			salt,
			ttl,
			sessions: Mutex::default(),
			failures: Mutex::default(),
		}
	}

	/// A new session's token, if `password` is right and `client` is not locked out.
	pub async fn log_in(
		&self,
		client: Option<IpAddr>,
		password: String,
	) -> Result<String, Refused> {
		let now = now_ms();
		if let Some(ip) = client {
			if self.failures.lock().unwrap().get(&ip).is_some_and(|(_, until)| *until > now) {
				return Err(Refused::Locked);
			}
		}
		let salt = self.salt;
		let typed =
			tokio::task::spawn_blocking(move || auth::hash_secret(&password, &salt, ITERATIONS))
				.await
				.map_err(|_| Refused::WrongPassword)?;
		if !auth::constant_time_eq(&typed, &self.hash) {
			if let Some(ip) = client {
				let mut failures = self.failures.lock().unwrap();
				let entry = failures.entry(ip).or_insert((0, 0));
				entry.0 += 1;
				if entry.0 >= ATTEMPTS {
					*entry = (0, now + LOCK.as_millis() as i64);
				}
			}
			return Err(Refused::WrongPassword);
		}
		if let Some(ip) = client {
			self.failures.lock().unwrap().remove(&ip);
		}
		let token = hex::encode(rand::random::<[u8; 32]>());
		let mut sessions = self.sessions.lock().unwrap();
		sessions.retain(|_, until| *until > now);
		sessions.insert(token_hash(&token), now + self.ttl.as_millis() as i64);
		Ok(token)
	}

	/// Whether `token` is an unexpired session's.
	pub fn is_valid(&self, token: &str) -> bool {
		let sessions = self.sessions.lock().unwrap();
		sessions.get(&token_hash(token)).is_some_and(|until| *until > now_ms())
	}

	pub fn log_out(&self, token: &str) {
		self.sessions.lock().unwrap().remove(&token_hash(token));
	}

	pub fn ttl(&self) -> Duration {
		self.ttl
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[tokio::test]
	async fn a_right_password_opens_a_session_and_wrong_ones_lock_the_address() {
		let logins = Logins::new("correct horse battery", Duration::from_secs(60));
		let ip: IpAddr = "10.0.0.1".parse().unwrap();
		let token = logins.log_in(Some(ip), "correct horse battery".into()).await.unwrap();
		assert!(logins.is_valid(&token));
		assert!(!logins.is_valid("someone else's"));
		logins.log_out(&token);
		assert!(!logins.is_valid(&token));
		for _ in 0..ATTEMPTS {
			assert_eq!(logins.log_in(Some(ip), "guess".into()).await, Err(Refused::WrongPassword));
		}
		assert_eq!(
			logins.log_in(Some(ip), "correct horse battery".into()).await,
			Err(Refused::Locked)
		);
		let other: IpAddr = "10.0.0.2".parse().unwrap();
		assert!(logins.log_in(Some(other), "correct horse battery".into()).await.is_ok());
	}
}
