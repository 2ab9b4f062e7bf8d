//! Typed reads of runtime storage through `state_getStorage`.

use crate::{error::Result, rpc::NodeRpc};
use clearline_runtime::{AccountId, Balance, Nonce};
use codec::{Decode, Encode};
use sp_core::H256;
use sp_crypto_hashing::{blake2_128, twox_128};

pub type AccountInfo = frame_system::AccountInfo<Nonce, pallet_balances::AccountData<Balance>>;

/// The key of `System::Account(who)`: a `Blake2_128Concat` map under the pallet and item
/// prefixes.
pub fn system_account_key(who: &AccountId) -> Vec<u8> {
	let who = who.encode();
	[&twox_128(b"System")[..], &twox_128(b"Account")[..], &blake2_128(&who)[..], &who[..]].concat()
}

/// `who`'s nonce and balances at block `at` (or the best block); the default (all zero) for
/// an account that does not exist.
pub async fn account_info(rpc: &NodeRpc, who: &AccountId, at: Option<H256>) -> Result<AccountInfo> {
	match rpc.storage(&system_account_key(who), at).await? {
		Some(raw) => AccountInfo::decode(&mut &raw[..])
			.map_err(|e| crate::Error::bad("state_getStorage(System::Account)", e)),
		None => Ok(AccountInfo::default()),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn account_key_is_the_runtime_storage_key() {
		let who = AccountId::new([42; 32]);
		assert_eq!(
			system_account_key(&who),
			frame_system::Account::<clearline_runtime::Runtime>::hashed_key_for(&who)
		);
	}
}
