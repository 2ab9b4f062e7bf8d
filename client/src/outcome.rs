//! What a finalized transaction did: its events, or the named error its call failed with,
//! read from the block's `System::Events`.

use crate::{
	error::{Error, Result},
	rpc::NodeRpc,
};
use clearline_runtime::{RuntimeError, RuntimeEvent};
use codec::Decode;
use sp_core::H256;
use sp_crypto_hashing::blake2_256;
use sp_runtime::DispatchError;

pub type EventRecord = frame_system::EventRecord<RuntimeEvent, H256>;

/// The outcome of one extrinsic in a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
	/// The call succeeded; these are the events it emitted (without `ExtrinsicSuccess`).
	Succeeded(Vec<RuntimeEvent>),
	/// The call failed: `error` names it (`ClearingBank(OrderIdConflict)`); fees were paid.
	Failed { error: String, events: Vec<RuntimeEvent> },
}

/// The name of a dispatch error: the pallet's error variant where there is one.
pub fn error_name(e: &DispatchError) -> String {
	match RuntimeError::from_dispatch_error(*e) {
		Some(named) => format!("{named:?}"),
		None => format!("{e:?}"),
	}
}

/// The outcome of `extrinsic` (its SCALE encoding) in block `block`.
pub async fn outcome(rpc: &NodeRpc, block: H256, extrinsic: &[u8]) -> Result<Outcome> {
	let wanted = blake2_256(extrinsic);
	let index = rpc
		.block_extrinsics(block)
		.await?
		.iter()
		.position(|x| blake2_256(x) == wanted)
		.ok_or_else(|| Error::NotFound(format!("the extrinsic in block {block:?}")))?;
	outcome_in(&block_events(rpc, block).await?, index as u32)
}

/// Every event of block `block`, with the phase it was emitted in.
pub async fn block_events(rpc: &NodeRpc, block: H256) -> Result<Vec<EventRecord>> {
	let key = frame_support::storage::storage_prefix(b"System", b"Events").to_vec();
	let raw = rpc.storage(&key, Some(block)).await?.unwrap_or_default();
	Vec::<EventRecord>::decode(&mut &raw[..])
		.map_err(|e| Error::bad("state_getStorage(System::Events)", e))
}

/// The outcome of extrinsic `index` among a block's `records`.
pub fn outcome_in(records: &[EventRecord], index: u32) -> Result<Outcome> {
	let mut events = Vec::new();
	for record in records {
		if record.phase != frame_system::Phase::ApplyExtrinsic(index) {
			continue;
		}
		match &record.event {
			RuntimeEvent::System(frame_system::Event::ExtrinsicSuccess { .. }) => {
				return Ok(Outcome::Succeeded(events))
			}
			RuntimeEvent::System(frame_system::Event::ExtrinsicFailed {
				dispatch_error, ..
			}) => return Ok(Outcome::Failed { error: error_name(dispatch_error), events }),
			other => events.push(other.clone()),
		}
	}
	Err(Error::bad("System::Events", format!("no result event for extrinsic {index}")))
}

#[cfg(test)]
mod tests {
	use super::*;
	use sp_runtime::ModuleError;

	#[test]
	fn pallet_errors_are_named() {
		// The clearing bank is pallet 8; `OrderIdConflict` is its error 21.
		let e =
			DispatchError::Module(ModuleError { index: 8, error: [21, 0, 0, 0], message: None });
		assert_eq!(error_name(&e), "ClearingBank(OrderIdConflict)");
		assert_eq!(error_name(&DispatchError::BadOrigin), "BadOrigin");
	}
}
