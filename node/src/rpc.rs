//! The node's JSON-RPC methods beyond the standard Substrate set (chain, state, author,
//! system, which sc-service installs itself).

use std::sync::Arc;

use clearline_runtime::{opaque::Block, AccountId, Balance, BlockNumber, Nonce};
use jsonrpsee::RpcModule;
use sc_transaction_pool_api::TransactionPool;
use sp_api::ProvideRuntimeApi;
use sp_block_builder::BlockBuilder;
use sp_blockchain::{Error as BlockChainError, HeaderBackend, HeaderMetadata};

/// What the RPC handlers need.
pub struct FullDeps<C, P> {
	pub client: Arc<C>,
	pub pool: Arc<P>,
}

/// `system_accountNextIndex` (nonce including the pool) and `payment_queryInfo` /
/// `payment_queryFeeDetails`, which standard clients call to sign and price transactions;
/// `fx_quote`, `fx_rate` and `fx_rateById` for FX quotes; `clearing_*` for postings,
/// participants, cycles and statements.
pub fn create_full<C, P>(
	deps: FullDeps<C, P>,
) -> Result<RpcModule<()>, Box<dyn std::error::Error + Send + Sync>>
where
	C: ProvideRuntimeApi<Block>,
	C: HeaderBackend<Block> + HeaderMetadata<Block, Error = BlockChainError> + 'static,
	C: Send + Sync + 'static,
	C::Api: substrate_frame_rpc_system::AccountNonceApi<Block, AccountId, Nonce>,
	C::Api: pallet_transaction_payment_rpc::TransactionPaymentRuntimeApi<Block, Balance>,
	C::Api: BlockBuilder<Block>,
	C::Api: pallet_fx_rate_rpc::FxRateRuntimeApi<Block, AccountId>,
	C::Api: pallet_clearing_bank_rpc::ClearingBankRuntimeApi<Block, AccountId, BlockNumber>,
	P: TransactionPool + 'static,
{
	use pallet_clearing_bank_rpc::{ClearingBank, ClearingBankApiServer};
	use pallet_fx_rate_rpc::{FxRate, FxRateApiServer};
	use pallet_transaction_payment_rpc::{TransactionPayment, TransactionPaymentApiServer};
	use substrate_frame_rpc_system::{System, SystemApiServer};

	let mut module = RpcModule::new(());
	let FullDeps { client, pool } = deps;
	module.merge(System::new(client.clone(), pool).into_rpc())?;
	module.merge(TransactionPayment::new(client.clone()).into_rpc())?;
	module.merge(FxRate::<C, Block, AccountId>::new(client.clone()).into_rpc())?;
	module.merge(ClearingBank::<C, Block, AccountId, BlockNumber>::new(client).into_rpc())?;
	Ok(module)
}
