//! Rate limits on calls a stranger can make: per key (a wallet's id) and per client address,
//! so that guessing PINs, or probing wallets, goes no faster than a person at a phone. Keyed
//! GCRA limiters from `governor`; the keys not seen for a while are forgotten every minute.

use governor::{
	clock::{Clock, DefaultClock},
	DefaultKeyedRateLimiter, Quota,
};
use std::{net::IpAddr, num::NonZeroU32, sync::Arc, time::Duration};

/// Two limiters: per key and per client address.
pub struct RateLimits {
	per_key: DefaultKeyedRateLimiter<String>,
	per_client: DefaultKeyedRateLimiter<IpAddr>,
}

impl RateLimits {
	/// At most `per_key` calls a minute for one key and `per_client` from one address, each
	/// allowed in a burst and then at an even pace. Zero is refused as a mistake.
	pub fn new(per_key: u32, per_client: u32) -> anyhow::Result<Arc<Self>> {
		let quota = |n: u32, what: &str| {
			NonZeroU32::new(n)
				.map(Quota::per_minute)
				.ok_or_else(|| anyhow::anyhow!("{what} must be at least 1 a minute"))
		};
		let limits = Arc::new(Self {
			per_key: DefaultKeyedRateLimiter::keyed(quota(per_key, "the per-wallet limit")?),
			per_client: DefaultKeyedRateLimiter::keyed(quota(per_client, "the per-client limit")?),
		});
		let weak = Arc::downgrade(&limits);
		tokio::spawn(async move {
			let mut tick = tokio::time::interval(Duration::from_secs(60));
			loop {
				tick.tick().await;
				let Some(limits) = weak.upgrade() else { return };
				limits.per_key.retain_recent();
				limits.per_key.shrink_to_fit();
				limits.per_client.retain_recent();
				limits.per_client.shrink_to_fit();
			}
		});
		Ok(limits)
	}

	/// Counts one call for `key` from `client`; how long to wait if either limit is reached.
	pub fn check(&self, key: &str, client: Option<IpAddr>) -> Result<(), Duration> {
		let now = DefaultClock::default().now();
		if let Some(ip) = client {
			self.per_client.check_key(&ip).map_err(|n| n.wait_time_from(now))?;
		}
		self.per_key.check_key(&key.to_string()).map_err(|n| n.wait_time_from(now))
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[tokio::test]
	async fn each_key_and_each_client_has_its_own_budget() {
		let limits = RateLimits::new(3, 5).unwrap();
		let (a, b): (IpAddr, IpAddr) = ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
		for _ in 0..3 {
			limits.check("W-1", Some(a)).unwrap();
		}
		let wait = limits.check("W-1", Some(b)).unwrap_err();
		assert!(wait > Duration::ZERO && wait <= Duration::from_secs(20), "{wait:?}");
		// Another wallet from the first address, until that address's budget is spent.
		limits.check("W-2", Some(a)).unwrap();
		limits.check("W-3", Some(a)).unwrap();
		assert!(limits.check("W-4", Some(a)).is_err());
		limits.check("W-4", Some(b)).unwrap();
		assert!(RateLimits::new(0, 5).is_err());
	}
}
