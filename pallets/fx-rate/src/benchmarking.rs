//! Benchmarks of every call and of pruning, in their worst cases.

use super::*;
use crate::Pallet as FxRate;
use frame_benchmarking::v2::*;
use frame_support::{
	traits::{EnsureOrigin, Get},
	BoundedVec,
};
use frame_system::RawOrigin;
use sp_runtime::Permill;

// Codes of their own ("X" codes are ISO 4217's for testing), so that the benchmarks run on a
// chain whose genesis has HKD/CNY already.
const BASE: CurrencyCode = CurrencyCode(*b"XBA");
const QUOTE: CurrencyCode = CurrencyCode(*b"XBB");
const PAIR: Pair = Pair::new(BASE, QUOTE);
const TWO_DECIMALS: CurrencyInfo = CurrencyInfo { numeric: 999, minor_units: 2 };

fn admin<T: Config>() -> T::RuntimeOrigin {
	T::AdminOrigin::try_successful_origin().expect("the admin origin can be produced")
}

fn limits<T: Config>() -> PairLimits {
	PairLimits {
		max_spread: T::MaxSpread::get(),
		max_validity: T::MaxValidity::get(),
		grace_period: T::MaxGracePeriod::get(),
		min_feeds: 1,
		max_deviation: Permill::from_percent(5),
	}
}

fn pair_config<T: Config>() -> PairConfig {
	PairConfig { enabled: true, limits: limits::<T>() }
}

const MID: u128 = RATE_SCALE * 9 / 10;

/// The benchmark currencies registered and their pair configured.
fn set_up_pair<T: Config>() {
	Currencies::<T>::insert(BASE, TWO_DECIMALS);
	Currencies::<T>::insert(QUOTE, TWO_DECIMALS);
	Pairs::<T>::insert(PAIR, pair_config::<T>());
}

/// Fills the pair with feeders up to one short of the maximum, each with a fresh rate (so
/// that every effective-rate computation reads them all), and the pair's list of superseded
/// rates with publications of the first of them.
fn add_other_feeders<T: Config>() {
	let now = FxRate::<T>::now();
	for i in 1..T::MaxFeedersPerPair::get() {
		let feeder: T::AccountId = account("feeder", i, 0);
		let id = FxRate::<T>::store_rate(
			PAIR,
			Some(feeder.clone()),
			MID + i as u128,
			Permill::zero(),
			now,
			now + T::MaxValidity::get(),
		)
		.expect("room in the bucket");
		Feeders::<T>::insert(PAIR, &feeder, FeederStatus { latest_rate: Some(id) });
		FeederPairs::<T>::insert(&feeder, 1);
	}
	FeederCount::<T>::insert(PAIR, T::MaxFeedersPerPair::get() - 1);
	FeederTotal::<T>::put(T::MaxFeedersPerPair::get() - 1);
	ReferenceMid::<T>::insert(PAIR, MID);
	let first: T::AccountId = account("feeder", 1, 0);
	// Kept out of the prune queue: only their records are read, and the bucket's room is for
	// the publication measured.
	let superseded: alloc::vec::Vec<(RateId, Moment)> = (0..<MaxSuperseded as Get<u32>>::get())
		.map(|_| {
			let id = NextRateId::<T>::get();
			Rates::<T>::insert(
				id,
				RateRecord {
					pair: PAIR,
					feeder: Some(first.clone()),
					mid: MID,
					spread: Permill::zero(),
					published_at: now,
					valid_until: now + T::MaxValidity::get(),
				},
			);
			NextRateId::<T>::put(id + 1);
			(id, now)
		})
		.collect();
	Superseded::<T>::insert(PAIR, BoundedVec::truncate_from(superseded));
}

/// Worst case for a publication's prune bucket: one short of `full` (for a feeder, the
/// feeders' share of the bucket; for the admin, the bucket).
fn fill_bucket<T: Config>(full: u32) {
	let bucket = FxRate::<T>::prune_bucket(FxRate::<T>::now());
	let mut ids = PruneQueue::<T>::get(bucket).into_inner();
	let mut filler = 1_000_000_000;
	while (ids.len() as u32) < full - 1 {
		ids.push(filler);
		filler += 1;
	}
	PruneQueue::<T>::insert(bucket, BoundedVec::truncate_from(ids));
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn register_currency() {
		let origin = admin::<T>();
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, BASE, TWO_DECIMALS);
		assert_eq!(Currencies::<T>::get(BASE), Some(TWO_DECIMALS));
	}

	#[benchmark]
	fn configure_pair() {
		// Worst case: reconfiguring a pair with every feeder fresh, so that the effective
		// rate is computed over all of them before and after.
		set_up_pair::<T>();
		add_other_feeders::<T>();
		let origin = admin::<T>();
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, PAIR, limits::<T>());
		assert!(Pairs::<T>::contains_key(PAIR));
	}

	#[benchmark]
	fn set_pair_enabled() {
		set_up_pair::<T>();
		let origin = admin::<T>();
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, PAIR, false);
		assert!(!Pairs::<T>::get(PAIR).unwrap().enabled);
	}

	#[benchmark]
	fn add_feeder() {
		set_up_pair::<T>();
		add_other_feeders::<T>();
		let feeder: T::AccountId = whitelisted_caller();
		let origin = admin::<T>();
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, PAIR, feeder.clone());
		assert!(Feeders::<T>::contains_key(PAIR, feeder));
	}

	#[benchmark]
	fn remove_feeder() {
		set_up_pair::<T>();
		add_other_feeders::<T>();
		let feeder: T::AccountId = account("feeder", 1, 0);
		let origin = admin::<T>();
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, PAIR, feeder.clone());
		assert!(!Feeders::<T>::contains_key(PAIR, feeder));
	}

	#[benchmark]
	fn publish_rate() {
		set_up_pair::<T>();
		add_other_feeders::<T>();
		let feeder: T::AccountId = whitelisted_caller();
		Feeders::<T>::insert(PAIR, &feeder, FeederStatus { latest_rate: None });
		let bucket = FxRate::<T>::prune_bucket(FxRate::<T>::now());
		Publications::<T>::insert(&feeder, (bucket, T::MaxPublicationsPerBucket::get() - 1));
		fill_bucket::<T>(FxRate::<T>::feeders_share());
		let rate_id = NextRateId::<T>::get();
		#[extrinsic_call]
		_(RawOrigin::Signed(feeder.clone()), PAIR, MID, T::MaxSpread::get(), T::MaxValidity::get());
		assert_eq!(Feeders::<T>::get(PAIR, feeder).unwrap().latest_rate, Some(rate_id));
	}

	#[benchmark]
	fn force_publish_rate() {
		set_up_pair::<T>();
		add_other_feeders::<T>();
		fill_bucket::<T>(T::MaxRatesPerBucket::get());
		let origin = admin::<T>();
		let rate_id = NextRateId::<T>::get();
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, PAIR, MAX_RATE, T::MaxSpread::get(), T::MaxValidity::get());
		assert_eq!(AdminRates::<T>::get(PAIR), Some(rate_id));
	}

	#[benchmark]
	fn prune_bucket(n: Linear<1, { T::MaxRatesPerBucket::get() }>) {
		set_up_pair::<T>();
		let feeder: T::AccountId = whitelisted_caller();
		let ids: alloc::vec::Vec<RateId> = (0..n)
			.map(|_| {
				FxRate::<T>::store_rate(PAIR, Some(feeder.clone()), MAX_RATE, Permill::zero(), 0, 1)
			})
			.collect::<Result<_, _>>()
			.unwrap();
		let bucket = FxRate::<T>::prune_bucket(0);
		#[block]
		{
			assert_eq!(FxRate::<T>::remove_bucket(bucket), n);
		}
		assert!(ids.iter().all(|id| !Rates::<T>::contains_key(id)));
	}

	impl_benchmark_test_suite!(FxRate, crate::mock::new_bench_ext(), crate::mock::Test);
}
