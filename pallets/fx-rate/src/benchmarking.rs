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

fn pair_config<T: Config>() -> PairConfig {
	PairConfig {
		enabled: true,
		max_spread: T::MaxSpread::get(),
		max_validity: T::MaxValidity::get(),
	}
}

/// The benchmark currencies registered and their pair configured.
fn set_up_pair<T: Config>() {
	Currencies::<T>::insert(BASE, TWO_DECIMALS);
	Currencies::<T>::insert(QUOTE, TWO_DECIMALS);
	Pairs::<T>::insert(PAIR, pair_config::<T>());
}

/// Fills the pair with feeders up to one short of the maximum.
fn add_other_feeders<T: Config>() {
	for i in 1..T::MaxFeedersPerPair::get() {
		let feeder: T::AccountId = account("feeder", i, 0);
		Feeders::<T>::insert(PAIR, feeder, FeederStatus { latest_rate: None });
	}
	FeederCount::<T>::insert(PAIR, T::MaxFeedersPerPair::get() - 1);
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
		Currencies::<T>::insert(BASE, TWO_DECIMALS);
		Currencies::<T>::insert(QUOTE, TWO_DECIMALS);
		let origin = admin::<T>();
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, PAIR, T::MaxSpread::get(), T::MaxValidity::get());
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
		let feeder: T::AccountId = whitelisted_caller();
		Feeders::<T>::insert(PAIR, &feeder, FeederStatus { latest_rate: None });
		let valid_for = T::MaxValidity::get();
		// Worst case: the rate's prune bucket is one short of full.
		let bucket = FxRate::<T>::prune_bucket(FxRate::<T>::now() + valid_for);
		let others: alloc::vec::Vec<RateId> =
			(1_000_000..).take(T::MaxRatesPerBucket::get().saturating_sub(1) as usize).collect();
		PruneQueue::<T>::insert(bucket, BoundedVec::truncate_from(others));
		let rate_id = NextRateId::<T>::get();
		#[extrinsic_call]
		_(RawOrigin::Signed(feeder.clone()), PAIR, MAX_RATE, T::MaxSpread::get(), valid_for);
		assert_eq!(Feeders::<T>::get(PAIR, feeder).unwrap().latest_rate, Some(rate_id));
	}

	#[benchmark]
	fn prune_bucket(n: Linear<1, { T::MaxRatesPerBucket::get() }>) {
		set_up_pair::<T>();
		let feeder: T::AccountId = whitelisted_caller();
		let ids: alloc::vec::Vec<RateId> = (0..n)
			.map(|_| FxRate::<T>::store_rate(PAIR, feeder.clone(), MAX_RATE, Permill::zero(), 0, 1))
			.collect::<Result<_, _>>()
			.unwrap();
		let bucket = FxRate::<T>::prune_bucket(1);
		#[block]
		{
			assert_eq!(FxRate::<T>::remove_bucket(bucket), n);
		}
		assert!(ids.iter().all(|id| !Rates::<T>::contains_key(id)));
	}

	impl_benchmark_test_suite!(FxRate, crate::mock::new_bench_ext(), crate::mock::Test);
}
