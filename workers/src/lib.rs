//! The issuer's and the acquirer's off-chain services. Each holds the off-chain half of a
//! payment in its own SQLite store and keeps it consistent with the finalized chain: a
//! payment is reported successful only once its posting is final, a failed one is reversed
//! once, and an unknown one is left for reconciliation, which settles it from the chain.

pub mod acquirer;
pub mod common;
pub mod console;
pub mod issuer;

pub use common::{api, auth, emvco, metrics, peer, qr, store, tls};
