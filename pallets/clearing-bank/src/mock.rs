//! A runtime for the pallet's tests: system, timestamp, FX rates and the clearing bank, with the
//! production account and signature types (sr25519 keys, `MultiSignature`) so that signature
//! checks are real.

use crate::{self as pallet_clearing_bank, *};
use frame_support::{
	derive_impl, parameter_types,
	traits::{ConstU32, ConstU64},
};
use pallet_fx_rate::{CurrencyInfo, Moment, Pair, PairLimits, RateId};
use sp_core::{sr25519, Pair as _};
use sp_runtime::{
	traits::{IdentifyAccount, IdentityLookup, Verify},
	AccountId32, BuildStorage, MultiSignature, Permill,
};

type Block = frame_system::mocking::MockBlock<Test>;
pub type AccountId = AccountId32;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Timestamp: pallet_timestamp,
		FxRate: pallet_fx_rate,
		ClearingBank: pallet_clearing_bank,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
	type AccountId = AccountId;
	type Lookup = IdentityLookup<AccountId>;
}

impl pallet_timestamp::Config for Test {
	type Moment = Moment;
	type OnTimestampSet = FxRate;
	type MinimumPeriod = ConstU64<1>;
	type WeightInfo = ();
}

pub const MINUTE: Moment = 60_000;
pub const HOUR: Moment = 60 * MINUTE;
pub const DAY: Moment = 24 * HOUR;
/// The tests' "now" at the start.
pub const T0: Moment = 1_700_000_000_000;
/// The opening HKD/CNY rate (an admin rate published when the clock is first set, at T0):
/// 1 HKD = 0.9213 CNY, spread 0.2 %, valid for an hour.
pub const GENESIS_RATE: RateId = 0;
pub const GENESIS_MID: u128 = 921_300_000;
pub const GENESIS_RATE_UNTIL: Moment = T0 + HOUR;

parameter_types! {
	pub const MaxSpread: Permill = Permill::from_percent(5);
	pub static MaxEntries: u32 = 64;
}

impl pallet_fx_rate::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type AdminOrigin = EnsureClearingBank<Test>;
	type Time = Timestamp;
	type MaxFeedersPerPair = ConstU32<4>;
	type MaxFeeders = ConstU32<4>;
	type MaxPublicationsPerBucket = ConstU32<8>;
	type MaxSpread = MaxSpread;
	type MaxValidity = ConstU64<DAY>;
	type MaxGracePeriod = ConstU64<{ 10 * MINUTE }>;
	type RetentionPeriod = ConstU64<{ 7 * DAY }>;
	type PruneBucketLength = ConstU64<HOUR>;
	type MaxRatesPerBucket = ConstU32<64>;
	type WeightInfo = ();
}

/// The FX feeders of any pair, as the runtime lets them transact.
pub struct FxFeeders;
impl AuthorizeSigner<AccountId, RuntimeCall> for FxFeeders {
	fn is_authorized(who: &AccountId, _call: &RuntimeCall) -> bool {
		FxRate::is_feeder(who)
	}
}

impl Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type Signature = MultiSignature;
	type Signer = <MultiSignature as Verify>::Signer;
	type OtherAuthorizedSigners = FxFeeders;
	type MaxEntriesPerCycle = MaxEntries;
	type MaxPostingsPerBatch = ConstU32<16>;
	type WeightInfo = ();
	#[cfg(feature = "runtime-benchmarks")]
	type BenchmarkHelper = BenchHelper;
}

#[cfg(feature = "runtime-benchmarks")]
pub struct BenchHelper;
#[cfg(feature = "runtime-benchmarks")]
impl BenchmarkHelper<MultiSignature, AccountId> for BenchHelper {
	fn create_signer() -> AccountId {
		sp_io::crypto::sr25519_generate(sp_core::crypto::key_types::DUMMY, None).into()
	}
	fn sign(signer: &AccountId, message: &[u8]) -> MultiSignature {
		let public = sr25519::Public::from_raw(*signer.as_ref());
		sp_io::crypto::sr25519_sign(sp_core::crypto::key_types::DUMMY, &public, message)
			.expect("the key is in the keystore")
			.into()
	}
}

pub const HKD: CurrencyCode = CurrencyCode::HKD;
pub const CNY: CurrencyCode = CurrencyCode::CNY;
pub const USD: CurrencyCode = CurrencyCode(*b"USD");
pub const EUR: CurrencyCode = CurrencyCode(*b"EUR");
pub const HKD_CNY: Pair = Pair::new(HKD, CNY);

/// A test key by name (`//Issuer` and so on).
pub fn key(name: &str) -> sr25519::Pair {
	sr25519::Pair::from_string(&format!("//{name}"), None).expect("a valid derivation")
}

pub fn account(name: &str) -> AccountId {
	sp_runtime::MultiSigner::from(key(name).public()).into_account()
}

pub fn clearing_bank() -> AccountId {
	account("ClearingBank")
}
pub fn issuer() -> AccountId {
	account("Issuer")
}
pub fn issuer2() -> AccountId {
	account("Issuer2")
}
pub fn acquirer() -> AccountId {
	account("Acquirer")
}
pub fn acquirer2() -> AccountId {
	account("Acquirer2")
}
pub fn feeder() -> AccountId {
	account("Feeder")
}
pub fn stranger() -> AccountId {
	account("Stranger")
}

/// Opening balances: the issuers hold HKD 10,000.00 with a HKD 500.00 debit limit; the acquirers
/// hold CNY 1,000.00.
pub const ISSUER_HKD: u128 = 1_000_000;
pub const ISSUER_LIMIT: u128 = 50_000;
pub const ACQUIRER_CNY: u128 = 100_000;

pub fn genesis() -> RuntimeGenesisConfig {
	let two = CurrencyInfo { numeric: 0, minor_units: 2 };
	RuntimeGenesisConfig {
		system: Default::default(),
		fx_rate: pallet_fx_rate::GenesisConfig {
			currencies: vec![
				(HKD, CurrencyInfo { numeric: 344, ..two }),
				(CNY, CurrencyInfo { numeric: 156, ..two }),
				(USD, CurrencyInfo { numeric: 840, ..two }),
			],
			pairs: vec![(
				HKD_CNY,
				PairLimits {
					max_spread: Permill::from_percent(1),
					max_validity: DAY,
					grace_period: PairLimits::DEFAULT_GRACE_PERIOD,
					min_feeds: 1,
					max_deviation: Permill::from_percent(5),
				},
			)],
			feeders: vec![(HKD_CNY, feeder())],
			rates: vec![(HKD_CNY, GENESIS_MID, Permill::from_parts(2_000), HOUR)],
		},
		clearing_bank: pallet_clearing_bank::GenesisConfig {
			clearing_bank: Some(clearing_bank()),
			participants: vec![
				(issuer(), ParticipantRole::Issuer, "ISSHK01".into(), "Issuer One (HK)".into()),
				(issuer2(), ParticipantRole::Issuer, "ISSHK02".into(), "Issuer Two (HK)".into()),
				(acquirer(), ParticipantRole::Acquirer, "ACQCN01".into(), "Acquirer One".into()),
				(acquirer2(), ParticipantRole::Acquirer, "ACQCN02".into(), "Acquirer Two".into()),
			],
			fundings: vec![
				(issuer(), HKD, ISSUER_HKD),
				(issuer2(), HKD, ISSUER_HKD),
				(acquirer(), CNY, ACQUIRER_CNY),
				(acquirer2(), CNY, ACQUIRER_CNY),
			],
			debit_limits: vec![(issuer(), HKD, ISSUER_LIMIT), (issuer2(), HKD, ISSUER_LIMIT)],
		},
	}
}

pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut ext = sp_io::TestExternalities::new(genesis().build_storage().unwrap());
	ext.execute_with(|| {
		System::set_block_number(1);
		Timestamp::set_timestamp(T0);
	});
	ext
}

/// Runs a test body, then checks the pallet's invariants.
pub fn test(body: impl FnOnce()) {
	new_test_ext().execute_with(|| {
		body();
		ClearingBank::do_try_state().expect("clearing-bank invariants hold");
	});
}

pub fn set_time(now: Moment) {
	pallet_timestamp::Now::<Test>::put(now);
}

/// Empty genesis, clock at T0: what the benchmarks start from.
#[cfg(feature = "runtime-benchmarks")]
pub fn new_bench_ext() -> sp_io::TestExternalities {
	let mut ext =
		sp_io::TestExternalities::new(RuntimeGenesisConfig::default().build_storage().unwrap());
	ext.register_extension(sp_keystore::KeystoreExt::new(
		sp_keystore::testing::MemoryKeystore::new(),
	));
	ext.execute_with(|| {
		System::set_block_number(1);
		set_time(T0);
	});
	ext
}
