//! Configuration of each pallet in the runtime.

use frame_support::{
	derive_impl,
	dispatch::DispatchClass,
	parameter_types,
	traits::{ConstBool, ConstU128, ConstU32, ConstU64, ConstU8, VariantCountOf},
	weights::{constants::WEIGHT_REF_TIME_PER_SECOND, ConstantMultiplier, IdentityFee, Weight},
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
	AccountId, Aura, Balance, Balances, Block, BlockNumber, FxRate, Hash, Nonce, PalletInfo,
	Runtime, RuntimeCall, RuntimeEvent, RuntimeFreezeReason, RuntimeHoldReason, RuntimeOrigin,
	RuntimeTask, Signature, System, Timestamp, BLOCK_HASH_COUNT, EXISTENTIAL_DEPOSIT,
	MAX_POSTINGS_PER_BATCH, SLOT_DURATION, UNIT, VERSION,
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
	// The node stores state in ParityDb: its reads and writes as measured on a chain-sized
	// state (README "Benchmarks and weights").
	type DbWeight = crate::weights::paritydb_weights::constants::ParityDbWeight;
	// Every transaction's extensions (nonce, era, genesis, weight), benchmarked on the release
	// node and priced at that database's weights; frame-system's default `()` prices their
	// reads and writes at RocksDb's, which made each transaction look 0.17 ms heavier.
	type ExtensionsWeightInfo = crate::weights::frame_system_extensions::WeightInfo<Runtime>;
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
	/// Aura checks the slot; the FX-rate pallet starts its genesis rates at the first block.
	type OnTimestampSet = (Aura, FxRate);
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
	type WeightInfo = crate::weights::pallet_balances::WeightInfo<Runtime>;
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

/// The fee of one byte of a transaction. A block's normal room is 0.375 s of weight (a fee of
/// 375 mCLR at one unit per picosecond) or 3.75 MiB of length; at this price filling it by
/// length costs about as much as filling it by weight, where one unit a byte made a block of
/// remarks cost a ten-thousandth of a block of postings.
pub const LENGTH_FEE_PER_BYTE: Balance = 100_000;

impl pallet_transaction_payment::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type OnChargeTransaction = FungibleAdapter<Balances, ()>;
	type OperationalFeeMultiplier = ConstU8<5>;
	type WeightToFee = IdentityFee<Balance>;
	type LengthToFee = ConstantMultiplier<Balance, ConstU128<LENGTH_FEE_PER_BYTE>>;
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
	/// At most 16 feeder accounts, each publishing at most 120 rates an hour (one every 30 s):
	/// 1,920 publications an hour, inside a bucket of 2,048, so that feeders within their
	/// quota never fill it and the admin always has room.
	type MaxFeeders = ConstU32<16>;
	type MaxPublicationsPerBucket = ConstU32<120>;
	type MaxSpread = FxMaxSpread;
	type MaxValidity = ConstU64<DAY_MS>;
	/// A pair may let a superseded rate be posted at for up to 10 minutes.
	type MaxGracePeriod = ConstU64<{ 10 * 60 * 1000 }>;
	/// A rate stays checkable for at least 30 days after it went stale: long enough to
	/// reconcile any settlement cycle and investigate disputes against the rate a posting used.
	type RetentionPeriod = ConstU64<{ 30 * DAY_MS }>;
	type PruneBucketLength = ConstU64<HOUR_MS>;
	/// At most 2048 rates are published in any one hour, which bounds both storage and one
	/// block's pruning.
	type MaxRatesPerBucket = ConstU32<2048>;
	type WeightInfo = pallet_fx_rate::weights::SubstrateWeight<Runtime>;
}

/// Who may transact besides the clearing bank and its participants: the FX feeders, the sudo
/// key, and the signatories of a multisig clearing bank with the multisig calls that act for it.
pub struct OtherSigners;

impl pallet_clearing_bank::AuthorizeSigner<AccountId, RuntimeCall> for OtherSigners {
	fn is_authorized(who: &AccountId, call: &RuntimeCall) -> bool {
		pallet_fx_rate::Pallet::<Runtime>::is_feeder(who)
			|| pallet_sudo::Key::<Runtime>::get().as_ref() == Some(who)
			|| acts_for_clearing_bank(who, call)
	}
}

/// Whether `call` is a multisig operation by `who` whose multisig account is the clearing bank.
fn acts_for_clearing_bank(who: &AccountId, call: &RuntimeCall) -> bool {
	use pallet_multisig::Call as M;
	let (threshold, others) = match call {
		RuntimeCall::Multisig(
			M::as_multi { threshold, other_signatories, .. }
			| M::approve_as_multi { threshold, other_signatories, .. }
			| M::cancel_as_multi { threshold, other_signatories, .. },
		) => (*threshold, other_signatories),
		_ => return false,
	};
	// The pallet refuses more; refusing them here keeps a stranger's list from costing the
	// pool more than a bounded sort and hash.
	use frame_support::traits::Get;
	let max: u32 = <Runtime as pallet_multisig::Config>::MaxSignatories::get();
	if others.len() >= max as usize {
		return false;
	}
	let Some(bank) = pallet_clearing_bank::ClearingBankAccount::<Runtime>::get() else {
		return false;
	};
	let mut signatories = others.clone();
	signatories.push(who.clone());
	signatories.sort();
	pallet_multisig::Pallet::<Runtime>::multi_account_id(&signatories, threshold) == bank
}

parameter_types! {
	/// What a pending multisig operation holds of its first signatory's fee tokens while it
	/// waits for the others: a base and a share per approval, given back when it executes or
	/// is cancelled.
	pub const MultisigDepositBase: Balance = UNIT / 10;
	pub const MultisigDepositFactor: Balance = UNIT / 100;
}

impl pallet_multisig::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type RuntimeCall = RuntimeCall;
	type Currency = Balances;
	type DepositBase = MultisigDepositBase;
	type DepositFactor = MultisigDepositFactor;
	type MaxSignatories = ConstU32<16>;
	type WeightInfo = pallet_multisig::weights::SubstrateWeight<Runtime>;
	type BlockNumberProvider = System;
}

impl pallet_clearing_bank::Config for Runtime {
	type RuntimeEvent = RuntimeEvent;
	type Signature = Signature;
	type Signer = <Signature as Verify>::Signer;
	type OtherAuthorizedSigners = OtherSigners;
	/// A cycle is a business day: 100 million entries is more than a day at the 1,000
	/// postings a second the network is built for (86.4 million). The bound keeps one cycle's
	/// storage, and the work of reading it, finite.
	type MaxEntriesPerCycle = ConstU32<100_000_000>;
	/// The bound of a batch's length: 1,024 signed instructions are about 400 KiB, a tenth of
	/// a block's length. How many fit a block's weight is less with today's weights; clients
	/// compute it (`clearline_client::calls::batch_capacity`).
	type MaxPostingsPerBatch = ConstU32<MAX_POSTINGS_PER_BATCH>;
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
