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

/// Why the pool refused a transaction, by the error code of its answer (polkadot-sdk's
/// `sc-rpc-api` author errors) and, for an invalid transaction (1010), by which of the
/// runtime's `InvalidTransaction` reasons it gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolRefusal {
	/// 1010 `Stale`: the nonce was used already.
	Outdated,
	/// 1010 `Future`: the nonce is ahead of the account's.
	FutureNonce,
	/// 1010 `BadProof`: signed for another runtime version or chain.
	BadSignature,
	/// 1010 `Payment`: the account cannot pay the fee.
	CannotPay,
	/// 1010 `ExhaustsResources`: larger than a block allows.
	ExhaustsResources,
	/// 1010, another reason (a custom refusal of the runtime, an ancient checkpoint...).
	Invalid,
	/// 1011: the runtime could not decide.
	UnknownValidity,
	/// 1012: refused recently, and banned for a while.
	TemporarilyBanned,
	/// 1013: the pool holds these very bytes.
	AlreadyImported,
	/// 1014: another transaction with the same nonce is in the pool.
	TooLowPriority,
	/// 1016: the pool is full.
	PoolFull,
	/// Any other code.
	Other,
}

impl PoolRefusal {
	pub fn of(code: i32, reason: &str) -> Self {
		use sp_runtime::transaction_validity::InvalidTransaction as Invalid;
		let names = |invalid: Invalid| reason.ends_with(<&'static str>::from(invalid));
		match code {
			1010 if names(Invalid::Stale) => Self::Outdated,
			1010 if names(Invalid::Future) => Self::FutureNonce,
			1010 if names(Invalid::BadProof) => Self::BadSignature,
			1010 if names(Invalid::Payment) => Self::CannotPay,
			1010 if names(Invalid::ExhaustsResources) => Self::ExhaustsResources,
			1010 => Self::Invalid,
			1011 => Self::UnknownValidity,
			1012 => Self::TemporarilyBanned,
			1013 => Self::AlreadyImported,
			1014 => Self::TooLowPriority,
			1016 => Self::PoolFull,
			_ => Self::Other,
		}
	}

	/// Whether signing the call again with the chain's nonce (and, for a bad signature, its
	/// current runtime version) can cure it.
	pub fn cured_by_fresh_nonce(self) -> bool {
		matches!(
			self,
			Self::Outdated | Self::FutureNonce | Self::TooLowPriority | Self::BadSignature
		)
	}
}

impl Error {
	/// The pool's refusal, if this is one.
	pub fn refusal(&self) -> Option<PoolRefusal> {
		match self {
			Error::Rejected { code, reason } => Some(PoolRefusal::of(*code, reason)),
			_ => None,
		}
	}
}
