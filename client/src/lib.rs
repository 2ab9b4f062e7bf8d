//! Client of a Clearline node: JSON-RPC over WebSocket, signed extrinsics built from the
//! runtime's own types, and transaction tracking to finality.

pub mod error;
pub mod extrinsic;
pub mod rpc;
pub mod storage;

pub use error::Error;
pub use extrinsic::{ChainContext, Signer};
pub use rpc::{NodeRpc, TxStatus};
