//! Configuration of each pallet in the runtime.

use frame_support::{
	derive_impl,
	dispatch::DispatchClass,
	parameter_types,
	traits::{ConstBool, ConstU128, ConstU32, ConstU64, ConstU8, Contains, VariantCountOf},
	weights::{
		constants::{ParityDbWeight, WEIGHT_REF_TIME_PER_SECOND},
		IdentityFee, Weight,
	},
};
use frame_system::limits::{BlockLength, BlockWeights};
use pallet_transaction_payment::{ConstFeeMultiplier, FungibleAdapter, Multiplier};
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_runtime::{
	traits::{One, Verify},
	Perbill, Permill,
};
use sp_version::RuntimeVersion;

use super::{
	AccountId, Aura, Balance, Balances, Block, BlockNumber, Hash, Nonce, PalletInfo, Runtime,
	RuntimeCall, RuntimeEvent, RuntimeFreezeReason, RuntimeHoldReason, RuntimeOrigin, RuntimeTask,
	Signature, System, Timestamp, BLOCK_HASH_COUNT, EXISTENTIAL_DEPOSIT, SLOT_DURATION, VERSION,
};

/// Room kept back in every block for operational transactions (such as sudo fixes).
const NORMAL_DISPATCH_RATIO: Perbill = Perbill::from_percent(75);
const MAX_BLOCK_LENGTH: u32 = 5 * 1024 * 1024;

parameter_types! {
	pub const BlockHashCount: BlockNumber = BLOCK_HASH_COUNT;
	pub const Version: RuntimeVersion = VERSION;

	/// Half a second of execution in a one-second block: the author must build the block and
	/// the other validators must import it within the slot.
	pub RuntimeBlockWeights: BlockWeights = BlockWeights::with_sensible_defaults(
		Weight::from_parts(WEIGHT_REF_TIME_PER_SECOND / 2, u64::MAX),
		NORMAL_DISPATCH_RATIO,
	);
	/// 5 MiB, of which normal transactions may fill `NORMAL_DISPATCH_RATIO`.
	pub RuntimeBlockLength: BlockLength = BlockLength::builder()
		.max_length(MAX_BLOCK_LENGTH)
		.modify_max_length_for_class(DispatchClass::Normal, |max| *max = NORMAL_DISPATCH_RATIO * *max)
		.build();
	/// The generic Substrate SS58 prefix, which every standard client knows.
	pub const SS58Prefix: u8 = 42;
}

#[derive_impl(frame_system::config_preludes::SolochainDefaultConfig)]
impl frame_system::Config for Runtime {
	type Block = Block;
	type BlockWeights = RuntimeBlockWeights;
	type BlockLength = RuntimeBlockLength;
	type AccountId = AccountId;
	type Nonce = Nonce;
	type Hash = Hash;
	type BlockHashCount = BlockHashCount;
	// The node stores state in ParityDb.
	type DbWeight = ParityDbWeight;
	// Every transaction's extensions (nonce, era, genesis, weight) priced at that database's
	// weights too; the default `()` prices their reads and writes at RocksDb's, which made
	// each transaction look 0.17 ms heavier than it is.
	type ExtensionsWeightInfo = frame_system::SubstrateExtensionsWeight<Runtime>;
	type Version = Version;
	type AccountData = pallet_balances::AccountData<Balance>;
	type SS58Prefix = SS58Prefix;
	type MaxConsumers = ConstU32<16>;
}

impl pallet_aura::Config for Runtime {
	type AuthorityId = AuraId;
	type DisabledValidators = ();
	type MaxAuthorities = ConstU32<32>;
	type AllowMultipleBlocksPerSlot = ConstBool<false>;
	type SlotDuration = pallet_aura::MinimumPeriodTimesTwo<Runtime>;
}

impl pallet_grandpa::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type WeightInfo = ();
	type MaxAuthorities = ConstU32<32>;
	type MaxNominators = ConstU32<0>;
	type MaxSetIdSessionEntries = ConstU64<0>;
	// No staking, so equivocations are not reported on chain.
	type KeyOwnerProof = sp_core::Void;
	type EquivocationReportSystem = ();
}

impl pallet_timestamp::Config for Runtime {
	/// Milliseconds since the Unix epoch.
	type Moment = u64;
	type OnTimestampSet = Aura;
	type MinimumPeriod = ConstU64<{ SLOT_DURATION / 2 }>;
	type WeightInfo = ();
}

impl pallet_balances::Config for Runtime {
	type MaxLocks = ConstU32<50>;
	type MaxReserves = ();
	type ReserveIdentifier = [u8; 8];
	type Balance = Balance;
	type RuntimeEvent = RuntimeEvent;
	type DustRemoval = ();
	type ExistentialDeposit = ConstU128<EXISTENTIAL_DEPOSIT>;
	type AccountStore = System;
	type WeightInfo = pallet_balances::weights::SubstrateWeight<Runtime>;
	type FreezeIdentifier = RuntimeFreezeReason;
	type MaxFreezes = VariantCountOf<RuntimeFreezeReason>;
	type RuntimeHoldReason = RuntimeHoldReason;
	type RuntimeFreezeReason = RuntimeFreezeReason;
	type DoneSlashHandler = ();
}

parameter_types! {
	/// Fees do not float with congestion: a bank wants to know what a posting costs.
	pub FeeMultiplier: Multiplier = Multiplier::one();
}

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	type OperationalFeeMultiplier = ConstU8<5>;
	type WeightToFee = IdentityFee<Balance>;
	type LengthToFee = IdentityFee<Balance>;
	type FeeMultiplierUpdate = ConstFeeMultiplier<FeeMultiplier>;
	type WeightInfo = pallet_transaction_payment::weights::SubstrateWeight<Runtime>;
}

impl pallet_sudo::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type WeightInfo = pallet_sudo::weights::SubstrateWeight<Runtime>;
}

/// Milliseconds, as the FX-rate pallet counts validity and retention.
const HOUR_MS: u64 = 60 * 60 * 1000;
const DAY_MS: u64 = 24 * HOUR_MS;

parameter_types! {
	/// No pair may allow a bid/ask spread wider than 5 %.
	pub const FxMaxSpread: Permill = Permill::from_percent(5);
}

impl pallet_fx_rate::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	/// Root (the sudo key) or the clearing bank's account.
	type AdminOrigin = pallet_clearing_bank::EnsureClearingBank<Runtime>;
	type Time = Timestamp;
	type MaxFeedersPerPair = ConstU32<16>;
	type MaxSpread = FxMaxSpread;
	type MaxValidity = ConstU64<DAY_MS>;
	/// A rate stays checkable for 30 days after it went stale: long enough to reconcile any
	/// settlement cycle and investigate disputes against the rate a posting used.
	type RetentionPeriod = ConstU64<{ 30 * DAY_MS }>;
	type PruneBucketLength = ConstU64<HOUR_MS>;
	/// At most 2048 rates stop being retained in any one hour (about one publication every
	/// two seconds across all pairs), which bounds both storage and one block's pruning.
	type MaxRatesPerBucket = ConstU32<2048>;
	type WeightInfo = pallet_fx_rate::weights::SubstrateWeight<Runtime>;
}

/// Who may transact besides the clearing bank and its participants: the FX feeders and the
/// sudo key.
pub struct FeedersAndSudo;

impl Contains<AccountId> for FeedersAndSudo {
	fn contains(who: &AccountId) -> bool {
		pallet_fx_rate::Pallet::<Runtime>::is_feeder(who)
			|| pallet_sudo::Key::<Runtime>::get().as_ref() == Some(who)
	}
}

impl pallet_clearing_bank::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Signature = Signature;
	type Signer = <Signature as Verify>::Signer;
	type OtherAuthorizedSigners = FeedersAndSudo;
	/// A cycle is a business day: 100 million entries is more than a day at the 1,000
	/// postings a second the network is built for (86.4 million). The bound keeps one cycle's
	/// storage, and the work of reading it, finite.
	type MaxEntriesPerCycle = ConstU32<100_000_000>;
	type WeightInfo = pallet_clearing_bank::weights::SubstrateWeight<Runtime>;
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = InstructionSigner;
}

/// Signs payment instructions in benchmarks with a fresh sr25519 key from the keystore.
#[cfg(feature = "runtime-benchmarks")]
pub struct InstructionSigner;

#[cfg(feature = "runtime-benchmarks")]
impl pallet_clearing_bank::BenchmarkHelper<Signature, AccountId> for InstructionSigner {
	fn create_signer() -> AccountId {
		sp_io::crypto::sr25519_generate(sp_core::crypto::key_types::DUMMY, None).into()
	}

	fn sign(signer: &AccountId, message: &[u8]) -> Signature {
		let public = sp_core::sr25519::Public::from_raw(*signer.as_ref());
		sp_io::crypto::sr25519_sign(sp_core::crypto::key_types::DUMMY, &public, message)
			.expect("the key was generated in the keystore")
			.into()
	}
}
