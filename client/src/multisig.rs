//! Acting as a multisig account (pallet-multisig), such as a clearing bank whose powers need
//! two of three signatories: each signatory sends the same call wrapped in `as_multi`; the
//! first opens the operation, the one that reaches the threshold executes the call as the
//! multisig account.

use crate::{
	calls,
	connection::Connection,
	error::{Error, Result},
	storage,
};
use clearline_runtime::{AccountId, Runtime, RuntimeCall, RuntimeEvent};
use codec::Encode;
use frame_support::dispatch::GetDispatchInfo;
use sp_crypto_hashing::blake2_256;

/// An operation pallet-multisig holds open, as stored.
type Pending = pallet_multisig::Multisig<
	clearline_runtime::BlockNumber,
	clearline_runtime::Balance,
	AccountId,
	<Runtime as pallet_multisig::Config>::MaxSignatories,
>;

/// A multisig account: its threshold and all its signatories.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultisigAccount {
	pub threshold: u16,
	/// Sorted, as the account is derived from them.
	pub signatories: Vec<AccountId>,
}

impl MultisigAccount {
	/// From `THRESHOLD:SIGNATORY,SIGNATORY,…` (SS58 addresses, hex keys or `//Name`).
	pub fn parse(text: &str) -> Result<Self> {
		let field = "multisig";
		let (threshold, list) = text
			.split_once(':')
			.ok_or_else(|| Error::input(field, "expected THRESHOLD:SIGNATORY,SIGNATORY,..."))?;
		let threshold: u16 = threshold
			.parse()
			.map_err(|_| Error::input(field, format!("{threshold:?} is not a threshold")))?;
		let mut signatories =
			list.split(',').map(|s| calls::account(field, s.trim())).collect::<Result<Vec<_>>>()?;
		signatories.sort();
		signatories.dedup();
		if threshold < 2 || threshold as usize > signatories.len() {
			return Err(Error::input(
				field,
				format!("a threshold of 2 to {} signatories", signatories.len()),
			));
		}
		Ok(Self { threshold, signatories })
	}

	/// The account the signatories act as.
	pub fn account(&self) -> AccountId {
		pallet_multisig::Pallet::<Runtime>::multi_account_id(&self.signatories, self.threshold)
	}

	/// What `signer` sends to approve `call` as this account: `as_multi` with the timepoint of
	/// the operation already open for the same call, if there is one.
	pub async fn approval(
		&self,
		conn: &Connection,
		signer: &AccountId,
		call: RuntimeCall,
	) -> Result<RuntimeCall> {
		if !self.signatories.contains(signer) {
			return Err(Error::input("multisig", format!("{signer} is not a signatory")));
		}
		let others: Vec<AccountId> =
			self.signatories.iter().filter(|a| *a != signer).cloned().collect();
		let hash = blake2_256(&call.encode());
		let key = pallet_multisig::Multisigs::<Runtime>::hashed_key_for(self.account(), hash);
		let pending: Option<Pending> =
			storage::decode_at(conn, "Multisig::Multisigs", key, None).await?;
		if pending.as_ref().is_some_and(|p| p.approvals.contains(signer)) {
			return Err(Error::input(
				"multisig",
				format!("{signer} approved this call already; the other signatories must"),
			));
		}
		let max_weight = call.get_dispatch_info().call_weight;
		Ok(RuntimeCall::Multisig(pallet_multisig::Call::as_multi {
			threshold: self.threshold,
			other_signatories: others,
			maybe_timepoint: pending.map(|p| p.when),
			call: Box::new(call),
			max_weight,
		}))
	}
}

/// What a multisig approval did, read from its transaction's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approval {
	/// Recorded; more signatories must approve.
	Waiting,
	/// The threshold was reached and the call ran as the multisig account: its error name, if
	/// it failed.
	Executed(Option<String>),
}

/// The approval's effect, if `events` hold one.
pub fn approval_of(events: &[RuntimeEvent]) -> Option<Approval> {
	events.iter().find_map(|e| match e {
		RuntimeEvent::Multisig(pallet_multisig::Event::MultisigExecuted { result, .. }) => {
			Some(Approval::Executed(result.as_ref().err().map(crate::outcome::error_name)))
		}
		RuntimeEvent::Multisig(
			pallet_multisig::Event::NewMultisig { .. }
			| pallet_multisig::Event::MultisigApproval { .. },
		) => Some(Approval::Waiting),
		_ => None,
	})
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn accounts_parse_and_derive_like_the_pallet() {
		let m = MultisigAccount::parse("2://Alice,//Bob,//Charlie").unwrap();
		assert_eq!(m.signatories.len(), 3);
		let reordered = MultisigAccount::parse("2://Charlie, //Alice,//Bob").unwrap();
		assert_eq!(m.account(), reordered.account());
		assert_ne!(
			m.account(),
			MultisigAccount::parse("3://Alice,//Bob,//Charlie").unwrap().account()
		);
		for bad in ["//Alice,//Bob", "1://Alice,//Bob", "3://Alice,//Bob", "x://Alice,//Bob"] {
			assert!(MultisigAccount::parse(bad).is_err(), "{bad} accepted");
		}
	}
}
