//! Where the acquirer may send an aggregator's notifications.
//!
//! Only to the origins the aggregator registered (an order's `notifyUrl` anywhere else is
//! `NotifyUrlNotAllowed`), never following a redirect, and never to a loopback, private,
//! link-local or otherwise internal address unless the aggregator was registered with
//! `privateAddresses` (tests, demos, an aggregator inside the acquirer's own network). The
//! address is checked when the aggregator is registered (a host given as an IP address or
//! `localhost`) and again at every delivery, after the name is resolved: a name that resolves
//! inside the acquirer's network later is refused then.

use crate::common::service::CommonArgs;
use reqwest::{
	dns::{Addrs, Name, Resolve, Resolving},
	Url,
};
use std::{
	net::{IpAddr, SocketAddr},
	sync::Arc,
	time::Duration,
};

/// Why a notify URL or address is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
	#[error("not an http(s) URL with a host")]
	NotAUrl,
	#[error(
		"{0} is an internal address; register the aggregator with privateAddresses to allow it"
	)]
	InternalAddress(String),
	#[error("{0} resolves to internal addresses only; register the aggregator with privateAddresses to allow it")]
	ResolvesInternal(String),
	#[error("the origin {0} is not one the aggregator registered")]
	OriginNotRegistered(String),
}

/// `scheme://host:port` of an http(s) URL, the port always written.
pub fn origin_of(url: &str) -> Result<String, DestinationError> {
	let url = Url::parse(url).map_err(|_| DestinationError::NotAUrl)?;
	if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
		return Err(DestinationError::NotAUrl);
	}
	let port = url.port_or_known_default().ok_or(DestinationError::NotAUrl)?;
	Ok(format!("{}://{}:{port}", url.scheme(), url.host_str().unwrap_or_default()))
}

/// Whether `ip` is an address no aggregator on the internet has: loopback, private,
/// link-local, shared (carrier-grade NAT), unspecified, broadcast, multicast or documentation
/// ranges, in IPv4, IPv6 or IPv4 mapped into IPv6.
pub fn is_internal(ip: IpAddr) -> bool {
	match ip {
		IpAddr::V4(v4) => {
			let [a, b, ..] = v4.octets();
			v4.is_loopback()
				|| v4.is_private()
				|| v4.is_link_local()
				|| v4.is_unspecified()
				|| v4.is_broadcast()
				|| v4.is_multicast()
				|| v4.is_documentation()
				|| (a == 100 && (64..128).contains(&b))
				|| a == 0
		}
		IpAddr::V6(v6) => {
			if let Some(v4) = v6.to_ipv4_mapped() {
				return is_internal(IpAddr::V4(v4));
			}
			let first = v6.segments()[0];
			v6.is_loopback()
				|| v6.is_unspecified()
				|| v6.is_multicast()
				|| (first & 0xfe00) == 0xfc00
				|| (first & 0xffc0) == 0xfe80
		}
	}
}

/// Checks a URL an aggregator registers (or a delivery is about to use): http(s) with a host,
/// and, unless `private_ok`, not a host that is an internal address by itself. Returns its
/// origin.
pub fn check_url(url: &str, private_ok: bool) -> Result<String, DestinationError> {
	let origin = origin_of(url)?;
	if !private_ok {
		let parsed = Url::parse(url).map_err(|_| DestinationError::NotAUrl)?;
		let host = parsed.host_str().unwrap_or_default();
		let literal = host.trim_start_matches('[').trim_end_matches(']');
		let internal = match literal.parse::<IpAddr>() {
			Ok(ip) => is_internal(ip),
			Err(_) => host.eq_ignore_ascii_case("localhost") || host.ends_with(".localhost"),
		};
		if internal {
			return Err(DestinationError::InternalAddress(host.to_string()));
		}
	}
	Ok(origin)
}

/// Checks an order's notify URL against the aggregator's registered origins.
pub fn check_order_url(url: &str, origins: &[String]) -> Result<(), DestinationError> {
	let origin = origin_of(url)?;
	if origins.iter().any(|o| *o == origin) {
		Ok(())
	} else {
		Err(DestinationError::OriginNotRegistered(origin))
	}
}

/// A resolver that leaves out internal addresses, so that a public client never connects to
/// one whatever a name resolves to.
struct PublicOnly;

impl Resolve for PublicOnly {
	fn resolve(&self, name: Name) -> Resolving {
		Box::pin(async move {
			let host = name.as_str().to_string();
			let found: Vec<SocketAddr> =
				tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
			let public: Vec<SocketAddr> =
				found.into_iter().filter(|a| !is_internal(a.ip())).collect();
			if public.is_empty() {
				return Err(Box::new(DestinationError::ResolvesInternal(host)) as _);
			}
			Ok(Box::new(public.into_iter()) as Addrs)
		})
	}
}

/// The two HTTP clients notifications go out on: one that reaches public addresses only, for
/// every aggregator but those registered with `privateAddresses`. Neither follows redirects.
#[derive(Clone)]
pub struct NotifyClients {
	public: reqwest::Client,
	any: reqwest::Client,
}

impl NotifyClients {
	/// The clients, over https only unless the acquirer runs with `--insecure-http`, trusting
	/// the system's roots (an aggregator's server is not the issuer's, whose CA `--peer-ca`
	/// names).
	pub fn new(common: &CommonArgs) -> anyhow::Result<Self> {
		let builder = || {
			reqwest::Client::builder()
				.use_rustls_tls()
				.https_only(!common.server_tls.insecure_http)
				.pool_idle_timeout(crate::common::peer::IDLE_CONNECTIONS_KEPT)
				.connect_timeout(Duration::from_secs(3))
				.redirect(reqwest::redirect::Policy::none())
		};
		Ok(Self {
			public: builder().dns_resolver(Arc::new(PublicOnly)).build()?,
			any: builder().build()?,
		})
	}

	/// The client for a delivery to `url`; refused outright when the URL's host is an internal
	/// address (which no resolver is asked about) and the aggregator may not use one.
	pub fn for_url(
		&self,
		url: &str,
		private_ok: bool,
	) -> Result<&reqwest::Client, DestinationError> {
		if private_ok {
			return Ok(&self.any);
		}
		check_url(url, false)?;
		Ok(&self.public)
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn internal_addresses_are_known_in_every_form() {
		for ip in [
			"127.0.0.1",
			"10.1.2.3",
			"172.16.0.1",
			"192.168.1.1",
			"169.254.169.254",
			"0.0.0.0",
			"100.64.0.1",
			"::1",
			"fd00::1",
			"fe80::1",
			"::ffff:127.0.0.1",
			"::ffff:10.0.0.1",
		] {
			assert!(is_internal(ip.parse().unwrap()), "{ip}");
		}
		for ip in ["8.8.8.8", "203.0.114.1", "2001:4860:4860::8888", "::ffff:1.1.1.1"] {
			assert!(!is_internal(ip.parse().unwrap()), "{ip}");
		}
	}

	#[test]
	fn urls_are_checked_by_origin_and_address() {
		assert_eq!(
			check_url("https://pay.example.com/n", false).unwrap(),
			"https://pay.example.com:443"
		);
		assert_eq!(
			check_url("http://pay.example.com:8080/n?x=1", false).unwrap(),
			"http://pay.example.com:8080"
		);
		for url in [
			"http://127.0.0.1:9/notify",
			"http://localhost/n",
			"http://[::1]/n",
			"http://169.254.169.254/latest",
		] {
			assert!(
				matches!(check_url(url, false), Err(DestinationError::InternalAddress(_))),
				"{url}"
			);
			assert!(check_url(url, true).is_ok(), "{url}");
		}
		for url in ["ftp://pay.example.com/", "not a url", "mailto:ops@pay.example.com"] {
			assert_eq!(check_url(url, true), Err(DestinationError::NotAUrl), "{url}");
		}
		let origins = vec!["https://pay.example.com:443".to_string()];
		assert!(check_order_url("https://pay.example.com/orders/1", &origins).is_ok());
		for url in [
			"https://evil.example.com/",
			"http://pay.example.com/",
			"https://pay.example.com:8443/",
		] {
			assert!(
				matches!(
					check_order_url(url, &origins),
					Err(DestinationError::OriginNotRegistered(_))
				),
				"{url}"
			);
		}
	}
}
