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
	/// Address → attempts counted in a row, when its lock ends and when it last tried (ms).
	failures: Mutex<HashMap<IpAddr, Failures>>,
}

#[derive(Default)]
struct Failures {
	count: u32,
	locked_until: i64,
	last: i64,
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

	/// A new session's token, if `password` is right and `client` is not locked out. Each
	/// attempt is counted before the password is hashed, so that guesses sent at once from one
	/// address are counted as they arrive: at most [`ATTEMPTS`] are checked before its lock.
	pub async fn log_in(
		&self,
		client: Option<IpAddr>,
		password: String,
	) -> Result<String, Refused> {
		let now = now_ms();
		let lock_ms = LOCK.as_millis() as i64;
		// A connection without an address (none in practice) counts as one address.
		let ip = client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
		{
			let mut failures = self.failures.lock().unwrap();
			failures.retain(|_, f| f.locked_until > now || f.last + lock_ms > now);
			let f = failures.entry(ip).or_default();
			if f.locked_until > now {
				return Err(Refused::Locked);
			}
			if f.count >= ATTEMPTS {
				(f.count, f.locked_until) = (0, now + lock_ms);
				return Err(Refused::Locked);
			}
			f.count += 1;
			f.last = now;
		}
		let salt = self.salt;
		let typed =
			tokio::task::spawn_blocking(move || auth::hash_secret(&password, &salt, ITERATIONS))
				.await
				.map_err(|_| Refused::WrongPassword)?;
		let mut failures = self.failures.lock().unwrap();
		if !auth::constant_time_eq(&typed, &self.hash) {
			if let Some(f) = failures.get_mut(&ip) {
				if f.count >= ATTEMPTS {
					(f.count, f.locked_until) = (0, now + lock_ms);
				}
			}
			return Err(Refused::WrongPassword);
		}
		failures.remove(&ip);
		drop(failures);
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

	#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
	async fn guesses_sent_at_once_are_counted_as_they_arrive() {
		let logins =
			std::sync::Arc::new(Logins::new("correct horse battery", Duration::from_secs(60)));
		let ip: IpAddr = "10.0.0.3".parse().unwrap();
		let guesses: Vec<_> = (0..20)
			.map(|_| {
				let logins = logins.clone();
				tokio::spawn(async move { logins.log_in(Some(ip), "guess".into()).await })
			})
			.collect();
		let mut checked = 0;
		for guess in guesses {
			if guess.await.unwrap() == Err(Refused::WrongPassword) {
				checked += 1;
			}
		}
		assert_eq!(
			checked, ATTEMPTS,
			"only the first guesses are checked; the others find the lock"
		);
		assert_eq!(
			logins.log_in(Some(ip), "correct horse battery".into()).await,
			Err(Refused::Locked)
		);
	}
}
