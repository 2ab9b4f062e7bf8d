//! What a finalized transaction did: its events, or the named error its call failed with,
//! read from the block's `System::Events`.

use crate::{
	error::{Error, Result},
	rpc::NodeRpc,
};
use clearline_runtime::{RuntimeError, RuntimeEvent};
use codec::Decode;
use serde_json::{json, Value};
use sp_core::H256;
use sp_crypto_hashing::{blake2_256, twox_128};
use sp_runtime::DispatchError;

type EventRecord = frame_system::EventRecord<RuntimeEvent, H256>;

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
	let body: Value = rpc.call("chain_getBlock", vec![json!(block)]).await?;
	let extrinsics = body["block"]["extrinsics"]
		.as_array()
		.ok_or_else(|| Error::NotFound(format!("block {block:?}")))?;
	let index = extrinsics
		.iter()
		.position(|x| {
			x.as_str()
				.and_then(|h| hex::decode(h.trim_start_matches("0x")).ok())
				.is_some_and(|bytes| blake2_256(&bytes) == wanted)
		})
		.ok_or_else(|| Error::NotFound(format!("the extrinsic in block {block:?}")))?
		as u32;
	let key = [twox_128(b"System"), twox_128(b"Events")].concat();
	let raw = rpc.storage(&key, Some(block)).await?.unwrap_or_default();
	let records = Vec::<EventRecord>::decode(&mut &raw[..])
		.map_err(|e| Error::bad("state_getStorage(System::Events)", e))?;
	let mut events = Vec::new();
	for record in records {
		if record.phase != frame_system::Phase::ApplyExtrinsic(index) {
			continue;
		}
		match record.event {
			RuntimeEvent::System(frame_system::Event::ExtrinsicSuccess { .. }) => {
				return Ok(Outcome::Succeeded(events))
			}
			RuntimeEvent::System(frame_system::Event::ExtrinsicFailed {
				dispatch_error, ..
			}) => return Ok(Outcome::Failed { error: error_name(&dispatch_error), events }),
			other => events.push(other),
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
