//! A minimal runtime for the pallet's tests: system, timestamp and the FX-rate pallet.

use crate::{self as pallet_fx_rate, CurrencyCode, CurrencyInfo, Moment, Pair, PairLimits};
use frame_support::{
	derive_impl, ord_parameter_types, parameter_types,
	traits::{ConstU32, ConstU64, EitherOfDiverse},
};
use frame_system::{EnsureRoot, EnsureSignedBy};
use sp_runtime::{BuildStorage, Permill};

type Block = frame_system::mocking::MockBlock<Test>;

frame_support::construct_runtime!(
	pub enum Test {
		System: frame_system,
		Timestamp: pallet_timestamp,
		FxRate: pallet_fx_rate,
	}
);

#[derive_impl(frame_system::config_preludes::TestDefaultConfig)]
impl frame_system::Config for Test {
	type Block = Block;
}

impl pallet_timestamp::Config for Test {
	type Moment = Moment;
	type OnTimestampSet = FxRate;
	type MinimumPeriod = ConstU64<1>;
	type WeightInfo = ();
}

pub const CLEARING_BANK: u64 = 100;
pub const FEEDER_A: u64 = 10;
pub const FEEDER_B: u64 = 11;
pub const FEEDER_C: u64 = 12;
pub const FEEDER_D: u64 = 13;
pub const STRANGER: u64 = 99;

pub const HKD: CurrencyCode = CurrencyCode::HKD;
pub const CNY: CurrencyCode = CurrencyCode::CNY;
pub const USD: CurrencyCode = CurrencyCode(*b"USD");
pub const JPY: CurrencyCode = CurrencyCode(*b"JPY");
pub const HKD_CNY: Pair = Pair::new(HKD, CNY);

/// A moment in 2023, when the tests' chain "starts".
pub const T0: Moment = 1_700_000_000_000;
pub const MINUTE: Moment = 60_000;
pub const HOUR: Moment = 60 * MINUTE;
pub const DAY: Moment = 24 * HOUR;
pub const RETENTION: Moment = 7 * DAY;
pub const BUCKET: Moment = HOUR;
pub const MAX_FEEDERS: u32 = 4;
pub const MAX_FEEDER_ACCOUNTS: u32 = 6;
pub const QUOTA: u32 = 3;
pub const MAX_RATES_PER_BUCKET: u32 = MAX_FEEDER_ACCOUNTS * QUOTA + 2;
pub const GRACE: Moment = MINUTE;

ord_parameter_types! {
	pub const ClearingBank: u64 = CLEARING_BANK;
}

parameter_types! {
	pub const MaxSpread: Permill = Permill::from_percent(10);
}

impl crate::Config for Test {
	type RuntimeEvent = RuntimeEvent;
	type AdminOrigin = EitherOfDiverse<EnsureRoot<u64>, EnsureSignedBy<ClearingBank, u64>>;
	type Time = Timestamp;
	type MaxFeedersPerPair = ConstU32<MAX_FEEDERS>;
	type MaxFeeders = ConstU32<MAX_FEEDER_ACCOUNTS>;
	type MaxPublicationsPerBucket = ConstU32<QUOTA>;
	type MaxSpread = MaxSpread;
	type MaxValidity = ConstU64<DAY>;
	type MaxGracePeriod = ConstU64<{ 10 * MINUTE }>;
	type RetentionPeriod = ConstU64<RETENTION>;
	type PruneBucketLength = ConstU64<BUCKET>;
	type MaxRatesPerBucket = ConstU32<MAX_RATES_PER_BUCKET>;
	type WeightInfo = ();
}

/// HKD/CNY's limits in the tests: spread up to 2 %, rates valid up to an hour, a minute's
/// grace, one feed makes a rate, and a 5 % band.
pub fn hkd_cny_limits() -> PairLimits {
	PairLimits {
		max_spread: Permill::from_percent(2),
		max_validity: HOUR,
		grace_period: GRACE,
		min_feeds: 1,
		max_deviation: Permill::from_percent(5),
	}
}

/// Genesis with HKD and CNY registered, HKD/CNY configured with feeder A, and opening
/// `rates` `(pair, mid, spread, valid_for)`.
pub fn hkd_cny_genesis(
	rates: Vec<(Pair, u128, Permill, Moment)>,
) -> pallet_fx_rate::GenesisConfig<Test> {
	pallet_fx_rate::GenesisConfig {
		currencies: vec![
			(HKD, CurrencyInfo { numeric: 344, minor_units: 2 }),
			(CNY, CurrencyInfo { numeric: 156, minor_units: 2 }),
		],
		pairs: vec![(HKD_CNY, hkd_cny_limits())],
		feeders: vec![(HKD_CNY, FEEDER_A)],
		rates,
	}
}

/// The mid of the tests' opening rate: 1 HKD = 0.9213 CNY.
pub const OPENING_MID: u128 = 921_300_000;

/// HKD, CNY, USD and JPY registered; HKD/CNY configured with feeders A, B and C and an
/// opening admin rate (id 0, valid for an hour) published when the clock is set to T0.
pub fn new_test_ext() -> sp_io::TestExternalities {
	let mut fx_rate =
		hkd_cny_genesis(vec![(HKD_CNY, OPENING_MID, Permill::from_parts(2_000), HOUR)]);
	fx_rate.currencies.push((USD, CurrencyInfo { numeric: 840, minor_units: 2 }));
	fx_rate.currencies.push((JPY, CurrencyInfo { numeric: 392, minor_units: 0 }));
	fx_rate.feeders.extend([(HKD_CNY, FEEDER_B), (HKD_CNY, FEEDER_C)]);
	let storage =
		RuntimeGenesisConfig { system: Default::default(), fx_rate }.build_storage().unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
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
		FxRate::do_try_state().expect("pallet invariants hold");
	});
}

pub fn set_time(now: Moment) {
	pallet_timestamp::Now::<Test>::put(now);
}

/// Empty genesis (nothing registered), clock at T0: what the benchmarks start from.
#[cfg(feature = "runtime-benchmarks")]
pub fn new_bench_ext() -> sp_io::TestExternalities {
	let storage = frame_system::GenesisConfig::<Test>::default().build_storage().unwrap();
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| {
		System::set_block_number(1);
		set_time(T0);
	});
	ext
}
