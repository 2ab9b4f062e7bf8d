//! The Clearline runtime: the state machine every Clearline node executes, compiled to wasm.
//!
//! Consensus is Aura (block authoring in slots) with GRANDPA finality; accounts pay fees in the
//! chain's own token through transaction-payment; sudo exists for development governance only;
//! multisig lets several signatories hold one account, such as the clearing bank's.
//! The settlement pallets live in their own crates: `pallet-fx-rate` publishes the HKD/CNY
//! rates payments convert at, `pallet-clearing-bank` keeps the ledger between issuers and
//! acquirers. Only the clearing bank, its participants, FX feeders and the sudo key may get
//! signed transactions into the pool.

#![cfg_attr(not(feature = "std"), no_std)]
// `construct_runtime`-style macros expand to deeply nested types.
#![recursion_limit = "256"]

#[cfg(feature = "std")]
include!(concat!(env!("OUT_DIR"), "/wasm_binary.rs"));

extern crate alloc;

use alloc::vec::Vec;

pub mod apis;
#[cfg(feature = "runtime-benchmarks")]
mod benchmarks;
pub mod configs;
pub mod genesis_config_presets;
pub mod weights;

use sp_runtime::{
	generic, impl_opaque_keys,
	traits::{BlakeTwo256, IdentifyAccount, Verify},
	MultiAddress, MultiSignature,
};
use sp_version::RuntimeVersion;

pub use frame_system::Call as SystemCall;
pub use pallet_balances::Call as BalancesCall;
pub use pallet_timestamp::Call as TimestampCall;
#[cfg(any(feature = "std", test))]
pub use sp_runtime::BuildStorage;

/// Types the node needs without knowing this runtime's extrinsic format, so that it keeps
/// syncing across runtime upgrades that change it.
pub mod opaque {
	use super::*;
	pub use sp_runtime::OpaqueExtrinsic as UncheckedExtrinsic;

	pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
	pub type Block = generic::Block<Header, UncheckedExtrinsic>;
	pub type Hash = <BlakeTwo256 as sp_runtime::traits::Hash>::Output;
}

impl_opaque_keys! {
	pub struct SessionKeys {
		pub aura: Aura,
		pub grandpa: Grandpa,
	}
}

#[sp_version::runtime_version]
pub const VERSION: RuntimeVersion = RuntimeVersion {
	spec_name: alloc::borrow::Cow::Borrowed("clearline"),
	impl_name: alloc::borrow::Cow::Borrowed("clearline"),
	authoring_version: 1,
	// Bump on every change of runtime logic; nodes refuse to run a native/wasm mismatch.
	spec_version: 105,
	impl_version: 1,
	apis: apis::RUNTIME_API_VERSIONS,
	// Bump whenever the encoding of calls or transaction extensions changes, so that signed
	// transactions made for the old format are refused instead of misread.
	transaction_version: 4,
	system_version: 1,
};

/// One block per second: a payer waits for the next block and its finality, so the block time
/// is the floor of payment latency. Aura derives its slot from this, and the dev chain's manual
/// sealing uses the same slots so that its blocks are valid Aura blocks.
pub const MILLI_SECS_PER_BLOCK: u64 = 1000;
/// Fixed at genesis: changing the slot duration of a running chain halts block production.
pub const SLOT_DURATION: u64 = MILLI_SECS_PER_BLOCK;

pub const MINUTES: BlockNumber = 60_000 / (MILLI_SECS_PER_BLOCK as BlockNumber);
pub const HOURS: BlockNumber = MINUTES * 60;
pub const DAYS: BlockNumber = HOURS * 24;

/// How many recent block hashes are kept; a mortal transaction can live at most this long.
pub const BLOCK_HASH_COUNT: BlockNumber = 4096;

/// The most instructions one `post_payments` call takes.
pub const MAX_POSTINGS_PER_BATCH: u32 = 1024;

/// The native token pays transaction fees; it is not the settlement currency (HKD and CNY are
/// ledger entries of the clearing-bank pallet, in their own minor units).
pub const TOKEN_SYMBOL: &str = "CLR";
pub const TOKEN_DECIMALS: u8 = 12;
pub const UNIT: Balance = 1_000_000_000_000;
pub const MILLI_UNIT: Balance = 1_000_000_000;
pub const MICRO_UNIT: Balance = 1_000_000;
pub const EXISTENTIAL_DEPOSIT: Balance = MILLI_UNIT;

pub type Signature = MultiSignature;
/// Accounts are the public keys of the transaction signing scheme.
pub type AccountId = <<Signature as Verify>::Signer as IdentifyAccount>::AccountId;
pub type Balance = u128;
pub type Nonce = u32;
pub type Hash = sp_core::H256;
pub type BlockNumber = u32;
pub type Address = MultiAddress<AccountId, ()>;
pub type Header = generic::Header<BlockNumber, BlakeTwo256>;
pub type Block = generic::Block<Header, UncheckedExtrinsic>;
pub type SignedBlock = generic::SignedBlock<Block>;

/// What a signed transaction carries besides its call, checked in this order. Standard
/// clients (polkadot.js, subxt, py-substrate-interface) read the list from metadata.
pub type TxExtension = (
	frame_system::CheckNonZeroSender<Runtime>,
	// Before anything that reads or charges the account: strangers are turned away first.
	pallet_clearing_bank::CheckAuthorizedSigner<Runtime>,
	frame_system::CheckSpecVersion<Runtime>,
	frame_system::CheckTxVersion<Runtime>,
	frame_system::CheckGenesis<Runtime>,
	frame_system::CheckEra<Runtime>,
	frame_system::CheckNonce<Runtime>,
	frame_system::CheckWeight<Runtime>,
	pallet_transaction_payment::ChargeTransactionPayment<Runtime>,
	frame_metadata_hash_extension::CheckMetadataHash<Runtime>,
	frame_system::WeightReclaim<Runtime>,
);

pub type UncheckedExtrinsic =
	generic::UncheckedExtrinsic<Address, RuntimeCall, Signature, TxExtension>;
pub type SignedPayload = generic::SignedPayload<RuntimeCall, TxExtension>;

#[allow(unused_parens)]
type Migrations = ();

pub type Executive = frame_executive::Executive<
	Runtime,
	Block,
	frame_system::ChainContext<Runtime>,
	Runtime,
	AllPalletsWithSystem,
	Migrations,
>;

#[frame_support::runtime]
mod runtime {
	#[runtime::runtime]
	#[runtime::derive(
		RuntimeCall,
		RuntimeEvent,
		RuntimeError,
		RuntimeOrigin,
		RuntimeFreezeReason,
		RuntimeHoldReason,
		RuntimeSlashReason,
		RuntimeLockId,
		RuntimeTask,
		RuntimeViewFunction
	)]
	pub struct Runtime;

	#[runtime::pallet_index(0)]
	pub type System = frame_system;

	#[runtime::pallet_index(1)]
	pub type Timestamp = pallet_timestamp;

	#[runtime::pallet_index(2)]
	pub type Aura = pallet_aura;

	#[runtime::pallet_index(3)]
	pub type Grandpa = pallet_grandpa;

	#[runtime::pallet_index(4)]
	pub type Balances = pallet_balances;

	#[runtime::pallet_index(5)]
	pub type TransactionPayment = pallet_transaction_payment;

	#[runtime::pallet_index(6)]
	pub type Sudo = pallet_sudo;

	#[runtime::pallet_index(7)]
	pub type FxRate = pallet_fx_rate;

	#[runtime::pallet_index(8)]
	pub type ClearingBank = pallet_clearing_bank;

	#[runtime::pallet_index(9)]
	pub type Multisig = pallet_multisig;
}

#[cfg(test)]
mod tests;
