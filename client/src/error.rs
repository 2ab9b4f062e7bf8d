//! The client's errors.

use jsonrpsee::core::ClientError;

/// Everything that can go wrong talking to a node.
#[derive(Debug, thiserror::Error)]
pub enum Error {
	/// The WebSocket connection or a JSON-RPC call failed.
	#[error("rpc: {0}")]
	Rpc(#[from] ClientError),
	/// The node answered something that does not decode as expected.
	#[error("the node's answer to {method} could not be decoded: {reason}")]
	BadResponse { method: &'static str, reason: String },
	/// A block or state entry the call depends on does not exist.
	#[error("{0} not found")]
	NotFound(String),
	/// A secret URI or key could not be read.
	#[error("invalid key: {0}")]
	InvalidKey(String),
	/// An argument the chain would refuse, caught before anything was signed.
	#[error("invalid {field}: {reason}")]
	InvalidInput { field: &'static str, reason: String },
	/// The node runs a runtime whose transaction format this client was not built for.
	#[error("incompatible runtime: the node runs {found}, this client was built for {expected}")]
	IncompatibleRuntime { expected: String, found: String },
	/// The node serves another chain than the one this connection started on.
	#[error("the node at {url} serves another chain (genesis {found}, expected {expected})")]
	GenesisMismatch { url: String, expected: String, found: String },
	/// The node answered a query with an error (an unknown pair, a stale rate, bad params).
	#[error("{method}: {message}")]
	Refused { method: String, code: i32, message: String },
	/// The transaction pool refused the transaction: it was never in the pool.
	#[error("transaction refused by the pool: {reason}")]
	Rejected { code: i32, reason: String },
	/// The transaction left the pool without being finalized.
	#[error("transaction {status}: {detail}")]
	TxFailed { status: &'static str, detail: String },
	/// The node could not be reached again within the time allowed.
	#[error("node at {url} unreachable for {waited:?}: {last_error}")]
	Unreachable { url: String, waited: std::time::Duration, last_error: String },
	/// No answer within the time allowed.
	#[error("timed out after {0:?} waiting for {1}")]
	Timeout(std::time::Duration, String),
}

impl Error {
	pub(crate) fn bad(method: &'static str, reason: impl ToString) -> Self {
		Error::BadResponse { method, reason: reason.to_string() }
	}

	pub(crate) fn input(field: &'static str, reason: impl ToString) -> Self {
		Error::InvalidInput { field, reason: reason.to_string() }
	}

	/// Whether the error says nothing about the request, only that the connection to the node
	/// failed: the request may or may not have reached it, and a new connection may succeed.
	pub fn is_connection(&self) -> bool {
		match self {
			Error::Rpc(e) => !matches!(e, ClientError::Call(_) | ClientError::ParseError(_)),
			Error::Unreachable { .. } => true,
			_ => false,
		}
	}
}

pub type Result<T> = std::result::Result<T, Error>;
