//! Signing and submitting in one step, for callers that send one transaction at a time.

use crate::{
	error::Result,
	extrinsic::Mortality,
	outcome::{outcome, Outcome},
	ChainContext, NodeRpc, Signer, TxStatus,
};
use clearline_runtime::RuntimeCall;
use sp_core::H256;
use std::time::Duration;

/// A transaction in a finalized block and what it did there.
#[derive(Debug, Clone)]
pub struct Finalized {
	pub block: H256,
	/// Every status the pool reported on the way.
	pub path: Vec<TxStatus>,
	pub outcome: Outcome,
}

/// Signs `call` as `signer` with the account's next nonce (counting its transactions in the
/// pool), mortal for `period` blocks from the finalized head, submits it, follows it until it
/// is in a finalized block and reads its outcome there: inclusion alone is not success.
pub async fn sign_and_finalize(
	rpc: &NodeRpc,
	signer: &Signer,
	call: RuntimeCall,
	period: u64,
	timeout: Duration,
) -> Result<Finalized> {
	let ctx = ChainContext::fetch(rpc).await?;
	let (number, hash) = rpc.finalized().await?;
	let nonce = rpc.account_next_index(&signer.account_id().to_string()).await?;
	let xt = signer.sign(&ctx, call, nonce, Mortality::Mortal { period, number, hash }, 0);
	let encoded = codec::Encode::encode(&xt);
	let (block, path) = rpc.submit_and_wait_finalized(&encoded, timeout).await?;
	let outcome = outcome(rpc, block, &encoded).await?;
	Ok(Finalized { block, path, outcome })
}
