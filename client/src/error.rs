//! The client's errors.

/// Everything that can go wrong talking to a node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
	/// The WebSocket connection or a JSON-RPC call failed.
	#[error("rpc: {0}")]
	Rpc(#[from] jsonrpsee::core::ClientError),
	/// The node answered something that does not decode as expected.
	#[error("the node's answer to {method} could not be decoded: {reason}")]
	BadResponse { method: &'static str, reason: String },
	/// A block or state entry the call depends on does not exist.
	#[error("{0} not found")]
	NotFound(String),
	/// A secret URI or key could not be read.
	#[error("invalid key: {0}")]
	InvalidKey(String),
	/// The transaction left the pool without being finalized.
	#[error("transaction {status}: {detail}")]
	TxFailed { status: &'static str, detail: String },
	/// No answer within the time allowed.
	#[error("timed out after {0:?} waiting for {1}")]
	Timeout(std::time::Duration, String),
}

impl Error {
	pub(crate) fn bad(method: &'static str, reason: impl ToString) -> Self {
		Error::BadResponse { method, reason: reason.to_string() }
	}
}

pub type Result<T> = std::result::Result<T, Error>;
