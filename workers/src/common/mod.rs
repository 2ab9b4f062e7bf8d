//! What both services share: errors on the wire, request signatures between parties, the
//! store, calls to the other party, metrics, EMVCo QR payloads and their images, and the
//! small pieces of start-up; and the aggregator's notify endpoint that plays their peer.

pub mod answers;
pub mod api;
pub mod auth;
pub mod cycles;
pub mod durability;
pub mod emvco;
pub mod extract;
pub mod faults;
pub mod inbox;
pub mod lease;
pub mod listener;
pub mod locks;
pub mod metrics;
pub mod pages;
pub mod peer;
pub mod qr;
pub mod rate_limit;
pub mod service;
pub mod sessions;
pub mod store;
pub mod tls;
pub mod wire;

use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds since the Unix epoch: what every timestamp in the stores holds.
pub fn now_ms() -> i64 {
	SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// ISO 20022 (pacs.002) transaction status of an order status, where a bank would look for it.
pub fn iso_status(final_success: bool, final_failure: bool) -> &'static str {
	match (final_success, final_failure) {
		(true, _) => "ACSC",
		(_, true) => "RJCT",
		_ => "PDNG",
	}
}
