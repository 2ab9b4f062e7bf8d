//! Typed reads of runtime storage through `state_getStorage`, with keys from the runtime's
//! own storage types.

use crate::{
	connection::Connection,
	error::{Error, Result},
	rpc::NodeRpc,
};
use clearline_runtime::{AccountId, Balance, Nonce, Runtime};
use codec::Decode;
use sp_core::H256;

pub type AccountInfo = frame_system::AccountInfo<Nonce, pallet_balances::AccountData<Balance>>;

/// `who`'s nonce and balances at block `at` (or the best block); the default (all zero) for
/// an account that does not exist.
pub async fn account_info(rpc: &NodeRpc, who: &AccountId, at: Option<H256>) -> Result<AccountInfo> {
	let key = frame_system::Account::<Runtime>::hashed_key_for(who);
	match rpc.storage(&key, at).await? {
		Some(raw) => AccountInfo::decode(&mut &raw[..])
			.map_err(|e| Error::bad("state_getStorage(System::Account)", e)),
		None => Ok(AccountInfo::default()),
	}
}

/// The value at `key` decoded as `T`, or `None` where there is none; `item` names it in
/// errors.
pub async fn decode_at<T: Decode>(
	conn: &Connection,
	item: &'static str,
	key: Vec<u8>,
	at: Option<H256>,
) -> Result<Option<T>> {
	let raw = conn
		.run(|rpc| {
			let key = key.clone();
			async move { rpc.storage(&key, at).await }
		})
		.await?;
	raw.map(|raw| {
		T::decode(&mut &raw[..]).map_err(|e| Error::bad("state_getStorage", format!("{item}: {e}")))
	})
	.transpose()
}
