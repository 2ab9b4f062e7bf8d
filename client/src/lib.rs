//! Client of a Clearline node: JSON-RPC over WebSocket, signed extrinsics built from the
//! runtime's own types, and transaction tracking to finality.

pub mod error;
pub mod extrinsic;
pub mod outcome;
pub mod rpc;
pub mod storage;
pub mod submit;

pub use error::Error;
pub use extrinsic::{ChainContext, Signer};
pub use outcome::{outcome, Outcome};
pub use rpc::{NodeRpc, TxStatus};
pub use submit::{sign_and_finalize, Finalized};
