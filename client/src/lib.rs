//! Client of a Clearline node: JSON-RPC over WebSocket with reconnection, signed extrinsics
//! built from the runtime's own types, nonce management, transaction tracking to finality,
//! typed queries and a resumable stream of finalized events.

pub mod calls;
pub mod camt053;
pub mod connection;
pub mod error;
pub mod events;
pub mod extrinsic;
pub mod feeder;
mod finality;
pub mod instruction;
pub mod keys;
pub mod multisig;
pub mod outcome;
pub mod queries;
pub mod rpc;
pub mod storage;
pub mod tx;

pub use connection::{ConnectOptions, Connection};
pub use error::Error;
pub use error::PoolRefusal;
pub use extrinsic::{ChainContext, Signer};
pub use keys::KeySource;
pub use outcome::{outcome, Outcome};
pub use rpc::NodeRpc;
pub use tx::{resolve, InFlight, PendingTx, SenderOptions, Step, TxReport, TxResult, TxSender};
