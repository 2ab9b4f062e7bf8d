//! The runtime's weights measured on a release node (`scripts/benchmark.sh`), for what
//! polkadot-sdk would otherwise price with Parity's reference machine and database: the
//! database's reads and writes (`benchmark storage` on a state of about 600,000 postings),
//! `pallet_balances` and frame-system's transaction extensions. Our own pallets keep theirs
//! in their crates.

pub mod frame_system_extensions;
pub mod pallet_balances;
// The generated file documents each field of a struct expression, which rustdoc cannot show.
#[allow(unused_doc_comments)]
pub mod paritydb_weights;
