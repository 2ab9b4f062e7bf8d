//! # FX-rate pallet
//!
//! Publishes the exchange rates the clearing bank converts payments at (seed 000:
//! "调用SDK汇率换算函数 (Fx api)").
//!
//! - The admin (root or the clearing bank) registers currencies (ISO 4217 code, numeric code,
//!   minor-unit exponent), configures currency pairs with the widest spread and the longest
//!   validity a rate may have, enables and disables pairs, and adds and removes each pair's
//!   feeders.
//! - A feeder publishes a rate for a pair it feeds: mid rate, bid/ask spread and how long it is
//!   valid. Each publication gets a [`RateId`]; rates stay retrievable by id until
//!   `RetentionPeriod` after they went stale, then are pruned in `on_initialize`.
//! - The effective rate of a pair is the median of its feeders' fresh rates. For an even count
//!   the upper of the two middle rates is taken (as pallet-oracle does), so the effective rate
//!   is always an actual publication with its own id, spread and validity.
//! - Quotes convert an amount in either direction of a configured pair (the reverse direction
//!   is derived from the published one, see [`conversion`]) and are served through
//!   [`Pallet::quote`], [`Pallet::quote_at_rate`] and the runtime API crate beside this one.
//!
//! Amounts are integers in minor units and rates fixed-point integers ([`RATE_SCALE`]); there
//! is no floating point anywhere.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod conversion;
pub mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

use conversion::Direction;

/// How a quote request maps onto a configured pair.
#[derive(Clone, Copy)]
struct Route {
	/// The pair as published.
	pair: Pair,
	direction: Direction,
	base: CurrencyInfo,
	quote: CurrencyInfo,
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{pallet_prelude::*, traits::Time};
	use frame_system::pallet_prelude::*;
	use sp_runtime::Permill;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// Who registers currencies and pairs and appoints feeders: root or the clearing bank.
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The chain's clock (`pallet_timestamp`), in milliseconds.
		type Time: Time<Moment = Moment>;

		/// The most feeders one pair may have (bounds the median computation).
		#[pallet::constant]
		type MaxFeedersPerPair: Get<u32>;

		/// The widest spread a pair may be configured to accept.
		#[pallet::constant]
		type MaxSpread: Get<Permill>;

		/// The longest validity a pair may be configured to accept, in milliseconds.
		#[pallet::constant]
		type MaxValidity: Get<Moment>;

		/// How long a rate stays retrievable by id after it went stale, in milliseconds, so that
		/// postings made against it can still be checked.
		#[pallet::constant]
		type RetentionPeriod: Get<Moment>;

		/// Rates are pruned in buckets of this many milliseconds of prune time.
		#[pallet::constant]
		type PruneBucketLength: Get<Moment>;

		/// The most rates one prune bucket holds; a publication that would overfill its bucket is
		/// refused. Together with the bucket length this bounds the rates kept.
		#[pallet::constant]
		type MaxRatesPerBucket: Get<u32>;

		type WeightInfo: WeightInfo;
	}

	/// Registered currencies.
	#[pallet::storage]
	pub type Currencies<T: Config> = StorageMap<_, Blake2_128Concat, CurrencyCode, CurrencyInfo>;

	/// Configured pairs, in their published direction only.
	#[pallet::storage]
	pub type Pairs<T: Config> = StorageMap<_, Blake2_128Concat, Pair, PairConfig>;

	/// The feeders of each pair, with the id of each one's latest publication.
	#[pallet::storage]
	pub type Feeders<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		Pair,
		Blake2_128Concat,
		T::AccountId,
		FeederStatus,
		OptionQuery,
	>;

	/// How many feeders each pair has.
	#[pallet::storage]
	pub type FeederCount<T: Config> = StorageMap<_, Blake2_128Concat, Pair, u32, ValueQuery>;

	/// How many pairs each feeder feeds, so that "is this account a feeder?" is one read.
	#[pallet::storage]
	pub type FeederPairs<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, u32, OptionQuery>;

	/// Every retained publication by id.
	#[pallet::storage]
	pub type Rates<T: Config> =
		StorageMap<_, Twox64Concat, RateId, RateRecord<T::AccountId>, OptionQuery>;

	/// The id the next publication gets.
	#[pallet::storage]
	pub type NextRateId<T: Config> = StorageValue<_, RateId, ValueQuery>;

	/// Rate ids by prune bucket (`(valid_until + RetentionPeriod) / PruneBucketLength`).
	#[pallet::storage]
	pub type PruneQueue<T: Config> =
		StorageMap<_, Twox64Concat, u64, BoundedVec<RateId, T::MaxRatesPerBucket>, ValueQuery>;

	/// The first bucket not yet pruned; `None` until the chain's clock has been seen.
	#[pallet::storage]
	pub type NextPruneBucket<T: Config> = StorageValue<_, u64, OptionQuery>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		pub currencies: alloc::vec::Vec<(CurrencyCode, CurrencyInfo)>,
		pub pairs: alloc::vec::Vec<(Pair, PairConfig)>,
		pub feeders: alloc::vec::Vec<(Pair, T::AccountId)>,
		/// Standing rates: `(pair, feeder, mid, spread, valid_until)`, published at genesis.
		pub rates: alloc::vec::Vec<(Pair, T::AccountId, u128, Permill, Moment)>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			// Genesis goes through the same checks as the calls, so that a bad preset fails
			// to build instead of starting a chain with state no call could have made.
			for (code, info) in &self.currencies {
				Pallet::<T>::do_register_currency(*code, *info).expect("genesis currency");
			}
			for (pair, config) in &self.pairs {
				Pallet::<T>::do_configure_pair(*pair, config.max_spread, config.max_validity)
					.expect("genesis pair");
			}
			for (pair, feeder) in &self.feeders {
				Pallet::<T>::do_add_feeder(*pair, feeder.clone()).expect("genesis feeder");
			}
			for (pair, feeder, mid, spread, valid_until) in &self.rates {
				let config = Pairs::<T>::get(pair).expect("genesis rate for a configured pair");
				Pallet::<T>::check_rate(&config, *mid, *spread).expect("genesis rate");
				Pallet::<T>::store_rate(*pair, feeder.clone(), *mid, *spread, 0, *valid_until)
					.expect("genesis rate");
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A currency was registered.
		CurrencyRegistered { code: CurrencyCode, numeric: u16, minor_units: u8 },
		/// A pair was configured (created or its limits changed).
		PairConfigured { pair: Pair, max_spread: Permill, max_validity: Moment },
		/// A pair was enabled or disabled.
		PairEnabledSet { pair: Pair, enabled: bool },
		/// A feeder was appointed for a pair.
		FeederAdded { pair: Pair, feeder: T::AccountId },
		/// A feeder was removed from a pair; its rates stay retrievable by id.
		FeederRemoved { pair: Pair, feeder: T::AccountId },
		/// A rate was published.
		RatePublished {
			rate_id: RateId,
			pair: Pair,
			feeder: T::AccountId,
			mid: u128,
			spread: Permill,
			valid_until: Moment,
		},
		/// Rates past their retention were removed.
		RatesPruned { count: u32 },
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The currency code is not three upper-case ASCII letters.
		MalformedCurrencyCode,
		/// The minor-unit exponent is larger than `MAX_MINOR_UNITS`.
		MinorUnitsOutOfRange,
		/// The currency is registered already.
		CurrencyAlreadyRegistered,
		/// A currency of the request is not registered.
		UnknownCurrency,
		/// Base and quote (or source and target) are the same currency.
		SameCurrency,
		/// Neither the pair nor its reverse is configured.
		UnknownPair,
		/// The reverse pair is configured already; only one direction is published.
		ReversePairConfigured,
		/// The pair is disabled.
		PairDisabled,
		/// The configured maximum spread is wider than `MaxSpread`.
		MaxSpreadTooWide,
		/// Zero validity.
		ZeroValidity,
		/// The configured maximum validity is longer than `MaxValidity`.
		MaxValidityTooLong,
		/// The account feeds this pair already.
		FeederAlreadyAdded,
		/// The pair has `MaxFeedersPerPair` feeders already.
		TooManyFeeders,
		/// The account is not a feeder of this pair.
		NotAFeederOfPair,
		/// A zero rate.
		ZeroRate,
		/// A rate above `MAX_RATE`.
		RateOutOfRange,
		/// The spread is wider than the pair allows.
		SpreadTooWide,
		/// The validity is longer than the pair allows.
		ValidityTooLong,
		/// The prune bucket this rate would go into is full; publish with another validity or
		/// later.
		RateStoreFull,
		/// No feeder of the pair has a rate that is valid now.
		NoFreshRate,
		/// The rate id does not exist (never published, or pruned).
		UnknownRateId,
		/// The rate is not valid at the moment asked about.
		RateNotValid,
		/// The rate id belongs to another pair.
		RatePairMismatch,
		/// Zero amount.
		ZeroAmount,
		/// The converted amount does not fit in 128 bits, or converts to zero.
		AmountOutOfRange,
	}

	impl<T> From<QuoteError> for Error<T> {
		fn from(e: QuoteError) -> Self {
			match e {
				QuoteError::UnknownCurrency => Error::UnknownCurrency,
				QuoteError::UnknownPair => Error::UnknownPair,
				QuoteError::PairDisabled => Error::PairDisabled,
				QuoteError::NoFreshRate => Error::NoFreshRate,
				QuoteError::UnknownRateId => Error::UnknownRateId,
				QuoteError::RateNotValid => Error::RateNotValid,
				QuoteError::RatePairMismatch => Error::RatePairMismatch,
				QuoteError::SameCurrency => Error::SameCurrency,
				QuoteError::ZeroAmount => Error::ZeroAmount,
				QuoteError::AmountOutOfRange => Error::AmountOutOfRange,
			}
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(_n: BlockNumberFor<T>) -> Weight {
			Self::prune_expired()
		}

		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Registers a currency. Origin: `AdminOrigin`.
		#[pallet::call_index(0)]
		#[pallet::weight(T::WeightInfo::register_currency())]
		pub fn register_currency(
			origin: OriginFor<T>,
			code: CurrencyCode,
			info: CurrencyInfo,
		) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			Self::do_register_currency(code, info)
		}

		/// Configures a pair, or changes the limits of a configured one (its feeders, rates and
		/// enabled state stay). Origin: `AdminOrigin`.
		#[pallet::call_index(1)]
		#[pallet::weight(T::WeightInfo::configure_pair())]
		pub fn configure_pair(
			origin: OriginFor<T>,
			pair: Pair,
			max_spread: Permill,
			max_validity: Moment,
		) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			Self::do_configure_pair(pair, max_spread, max_validity)
		}

		/// Enables or disables a pair. A disabled pair quotes nothing and takes no new rates;
		/// its rates stay retrievable by id. Origin: `AdminOrigin`.
		#[pallet::call_index(2)]
		#[pallet::weight(T::WeightInfo::set_pair_enabled())]
		pub fn set_pair_enabled(origin: OriginFor<T>, pair: Pair, enabled: bool) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			Pairs::<T>::try_mutate(pair, |config| -> DispatchResult {
				config.as_mut().ok_or(Error::<T>::UnknownPair)?.enabled = enabled;
				Ok(())
			})?;
			Self::deposit_event(Event::PairEnabledSet { pair, enabled });
			Ok(())
		}

		/// Appoints `feeder` to publish rates for `pair`. Origin: `AdminOrigin`.
		#[pallet::call_index(3)]
		#[pallet::weight(T::WeightInfo::add_feeder())]
		pub fn add_feeder(
			origin: OriginFor<T>,
			pair: Pair,
			feeder: T::AccountId,
		) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			Self::do_add_feeder(pair, feeder)
		}

		/// Removes `feeder` from `pair`: its rates no longer count towards the pair's rate but
		/// stay retrievable by id. Origin: `AdminOrigin`.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::remove_feeder())]
		pub fn remove_feeder(
			origin: OriginFor<T>,
			pair: Pair,
			feeder: T::AccountId,
		) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			Feeders::<T>::take(pair, &feeder).ok_or(Error::<T>::NotAFeederOfPair)?;
			FeederCount::<T>::mutate(pair, |n| *n = n.saturating_sub(1));
			FeederPairs::<T>::mutate_exists(&feeder, |n| {
				*n = n.and_then(|n| n.checked_sub(1)).filter(|n| *n > 0);
			});
			Self::deposit_event(Event::FeederRemoved { pair, feeder });
			Ok(())
		}

		/// Publishes a rate for `pair`: `mid` (scaled by `RATE_SCALE`), the full bid/ask
		/// `spread`, valid from now for `valid_for` milliseconds. Origin: a signed feeder of
		/// the pair.
		#[pallet::call_index(5)]
		#[pallet::weight(T::WeightInfo::publish_rate())]
		pub fn publish_rate(
			origin: OriginFor<T>,
			pair: Pair,
			mid: u128,
			spread: Permill,
			valid_for: Moment,
		) -> DispatchResult {
			let feeder = ensure_signed(origin)?;
			let config = Pairs::<T>::get(pair).ok_or(Error::<T>::UnknownPair)?;
			ensure!(config.enabled, Error::<T>::PairDisabled);
			ensure!(Feeders::<T>::contains_key(pair, &feeder), Error::<T>::NotAFeederOfPair);
			Self::check_rate(&config, mid, spread)?;
			ensure!(valid_for > 0, Error::<T>::ZeroValidity);
			ensure!(valid_for <= config.max_validity, Error::<T>::ValidityTooLong);
			let now = T::Time::now();
			let valid_until = now.checked_add(valid_for).ok_or(Error::<T>::ValidityTooLong)?;
			Self::store_rate(pair, feeder, mid, spread, now, valid_until)?;
			Ok(())
		}
	}

	impl<T: Config> Pallet<T> {
		pub(crate) fn do_register_currency(
			code: CurrencyCode,
			info: CurrencyInfo,
		) -> DispatchResult {
			ensure!(code.is_well_formed(), Error::<T>::MalformedCurrencyCode);
			ensure!(info.minor_units <= MAX_MINOR_UNITS, Error::<T>::MinorUnitsOutOfRange);
			ensure!(!Currencies::<T>::contains_key(code), Error::<T>::CurrencyAlreadyRegistered);
			Currencies::<T>::insert(code, info);
			Self::deposit_event(Event::CurrencyRegistered {
				code,
				numeric: info.numeric,
				minor_units: info.minor_units,
			});
			Ok(())
		}

		pub(crate) fn do_configure_pair(
			pair: Pair,
			max_spread: Permill,
			max_validity: Moment,
		) -> DispatchResult {
			ensure!(pair.base != pair.quote, Error::<T>::SameCurrency);
			ensure!(
				Currencies::<T>::contains_key(pair.base)
					&& Currencies::<T>::contains_key(pair.quote),
				Error::<T>::UnknownCurrency
			);
			ensure!(!Pairs::<T>::contains_key(pair.reversed()), Error::<T>::ReversePairConfigured);
			ensure!(max_spread <= T::MaxSpread::get(), Error::<T>::MaxSpreadTooWide);
			ensure!(max_validity > 0, Error::<T>::ZeroValidity);
			ensure!(max_validity <= T::MaxValidity::get(), Error::<T>::MaxValidityTooLong);
			Pairs::<T>::mutate(pair, |config| {
				let enabled = config.map_or(true, |c| c.enabled);
				*config = Some(PairConfig { enabled, max_spread, max_validity });
			});
			Self::deposit_event(Event::PairConfigured { pair, max_spread, max_validity });
			Ok(())
		}

		pub(crate) fn do_add_feeder(pair: Pair, feeder: T::AccountId) -> DispatchResult {
			ensure!(Pairs::<T>::contains_key(pair), Error::<T>::UnknownPair);
			ensure!(!Feeders::<T>::contains_key(pair, &feeder), Error::<T>::FeederAlreadyAdded);
			let count = FeederCount::<T>::get(pair);
			ensure!(count < T::MaxFeedersPerPair::get(), Error::<T>::TooManyFeeders);
			Feeders::<T>::insert(pair, &feeder, FeederStatus { latest_rate: None });
			FeederCount::<T>::insert(pair, count + 1);
			FeederPairs::<T>::mutate(&feeder, |n| *n = Some(n.unwrap_or(0).saturating_add(1)));
			Self::deposit_event(Event::FeederAdded { pair, feeder });
			Ok(())
		}

		pub(crate) fn check_rate(
			config: &PairConfig,
			mid: u128,
			spread: Permill,
		) -> DispatchResult {
			ensure!(mid > 0, Error::<T>::ZeroRate);
			ensure!(mid <= MAX_RATE, Error::<T>::RateOutOfRange);
			ensure!(spread <= config.max_spread, Error::<T>::SpreadTooWide);
			Ok(())
		}

		/// Stores a checked rate under the next id and queues it for pruning.
		pub(crate) fn store_rate(
			pair: Pair,
			feeder: T::AccountId,
			mid: u128,
			spread: Permill,
			published_at: Moment,
			valid_until: Moment,
		) -> Result<RateId, DispatchError> {
			let rate_id = NextRateId::<T>::get();
			let bucket = Self::prune_bucket(valid_until);
			PruneQueue::<T>::try_mutate(bucket, |ids| ids.try_push(rate_id))
				.map_err(|_| Error::<T>::RateStoreFull)?;
			let record =
				RateRecord { pair, feeder: feeder.clone(), mid, spread, published_at, valid_until };
			Rates::<T>::insert(rate_id, record);
			Feeders::<T>::mutate(pair, &feeder, |status| {
				if let Some(status) = status {
					status.latest_rate = Some(rate_id);
				}
			});
			NextRateId::<T>::put(rate_id + 1);
			Self::deposit_event(Event::RatePublished {
				rate_id,
				pair,
				feeder,
				mid,
				spread,
				valid_until,
			});
			Ok(rate_id)
		}

		pub(crate) fn prune_bucket(valid_until: Moment) -> u64 {
			valid_until.saturating_add(T::RetentionPeriod::get())
				/ T::PruneBucketLength::get().max(1)
		}

		/// Removes the rates of every bucket whose whole prune time has passed, at most one
		/// non-empty bucket (and a few empty ones) a block, so the work per block is bounded.
		pub(crate) fn prune_expired() -> Weight {
			const MAX_EMPTY_BUCKETS_PER_BLOCK: u32 = 8;
			let now = T::Time::now();
			let mut weight = T::DbWeight::get().reads(2);
			if now == 0 {
				return weight; // the clock is not set before the first block's timestamp
			}
			let current = now / T::PruneBucketLength::get().max(1);
			let mut next = match NextPruneBucket::<T>::get() {
				Some(next) => next,
				None => {
					NextPruneBucket::<T>::put(current);
					return weight.saturating_add(T::DbWeight::get().writes(1));
				}
			};
			let mut empty = 0;
			while next < current && empty < MAX_EMPTY_BUCKETS_PER_BLOCK {
				let count = Self::remove_bucket(next);
				next += 1;
				if count == 0 {
					empty += 1;
					weight = weight.saturating_add(T::DbWeight::get().reads_writes(1, 1));
					continue;
				}
				weight = weight.saturating_add(T::WeightInfo::prune_bucket(count));
				break;
			}
			NextPruneBucket::<T>::put(next);
			weight.saturating_add(T::DbWeight::get().writes(1))
		}

		/// Removes one prune bucket and its rates; returns how many rates it held.
		pub(crate) fn remove_bucket(bucket: u64) -> u32 {
			let ids = PruneQueue::<T>::take(bucket);
			let count = ids.len() as u32;
			for id in ids {
				Rates::<T>::remove(id);
			}
			if count > 0 {
				Self::deposit_event(Event::RatesPruned { count });
			}
			count
		}

		/// Whether `who` feeds any pair.
		pub fn is_feeder(who: &T::AccountId) -> bool {
			FeederPairs::<T>::contains_key(who)
		}

		/// The chain's time now, in milliseconds.
		pub fn now() -> Moment {
			T::Time::now()
		}

		/// The pair's effective rate at `now`: the median of its feeders' fresh rates.
		pub fn effective_rate(
			pair: Pair,
			now: Moment,
		) -> Result<(RateId, RateRecord<T::AccountId>), QuoteError> {
			let mut fresh: alloc::vec::Vec<(RateId, RateRecord<T::AccountId>)> =
				Feeders::<T>::iter_prefix_values(pair)
					.filter_map(|status| status.latest_rate)
					.filter_map(|id| Rates::<T>::get(id).map(|r| (id, r)))
					.filter(|(_, r)| r.is_valid_at(now))
					.collect();
			if fresh.is_empty() {
				return Err(QuoteError::NoFreshRate);
			}
			// Ties on mid resolve to the later publication, so the choice is deterministic.
			fresh.sort_by(|(a_id, a), (b_id, b)| a.mid.cmp(&b.mid).then(a_id.cmp(b_id)));
			let mid_index = fresh.len() / 2;
			Ok(fresh.swap_remove(mid_index))
		}

		/// The current rate of a configured pair (in its published direction).
		pub fn current_rate(pair: Pair) -> Result<(RateId, RateRecord<T::AccountId>), QuoteError> {
			Self::ensure_enabled(Pairs::<T>::get(pair).ok_or(QuoteError::UnknownPair)?)?;
			Self::effective_rate(pair, Self::now())
		}

		/// Converts `amount` from `source` to `target` at the effective rate now.
		pub fn quote(
			source: CurrencyCode,
			target: CurrencyCode,
			amount: u128,
			side: QuoteSide,
		) -> Result<Quote, QuoteError> {
			let route = Self::resolve(source, target)?;
			let (rate_id, rate) = Self::effective_rate(route.pair, Self::now())?;
			Self::convert_at(&route, rate_id, &rate, side, amount)
		}

		/// Converts `amount` from `source` to `target` at the given publication, which must be
		/// of this pair and valid at `at`. This is how a posting's amounts are checked.
		pub fn quote_at_rate(
			rate_id: RateId,
			source: CurrencyCode,
			target: CurrencyCode,
			amount: u128,
			side: QuoteSide,
			at: Moment,
		) -> Result<Quote, QuoteError> {
			let route = Self::resolve(source, target)?;
			let rate = Rates::<T>::get(rate_id).ok_or(QuoteError::UnknownRateId)?;
			if rate.pair != route.pair {
				return Err(QuoteError::RatePairMismatch);
			}
			if !rate.is_valid_at(at) {
				return Err(QuoteError::RateNotValid);
			}
			Self::convert_at(&route, rate_id, &rate, side, amount)
		}

		fn ensure_enabled(config: PairConfig) -> Result<(), QuoteError> {
			if config.enabled {
				Ok(())
			} else {
				Err(QuoteError::PairDisabled)
			}
		}

		/// The configured, enabled pair that converts `source` into `target`, which way, and
		/// both currencies' minor units: everything a conversion needs besides the rate, read
		/// once.
		fn resolve(source: CurrencyCode, target: CurrencyCode) -> Result<Route, QuoteError> {
			if source == target {
				return Err(QuoteError::SameCurrency);
			}
			let source_info = Currencies::<T>::get(source).ok_or(QuoteError::UnknownCurrency)?;
			let target_info = Currencies::<T>::get(target).ok_or(QuoteError::UnknownCurrency)?;
			let direct = Pair::new(source, target);
			let route = match Pairs::<T>::get(direct) {
				Some(config) => {
					Self::ensure_enabled(config)?;
					Route {
						pair: direct,
						direction: Direction::BaseToQuote,
						base: source_info,
						quote: target_info,
					}
				}
				None => {
					let reverse = direct.reversed();
					Self::ensure_enabled(Pairs::<T>::get(reverse).ok_or(QuoteError::UnknownPair)?)?;
					Route {
						pair: reverse,
						direction: Direction::QuoteToBase,
						base: target_info,
						quote: source_info,
					}
				}
			};
			Ok(route)
		}

		fn convert_at(
			route: &Route,
			rate_id: RateId,
			rate: &RateRecord<T::AccountId>,
			side: QuoteSide,
			amount: u128,
		) -> Result<Quote, QuoteError> {
			let Route { pair, direction, base, quote } = *route;
			let (source_amount, target_amount) =
				conversion::convert(rate.mid, rate.spread, base, quote, direction, side, amount)?;
			let (source, target) = match direction {
				Direction::BaseToQuote => (pair.base, pair.quote),
				Direction::QuoteToBase => (pair.quote, pair.base),
			};
			Ok(Quote {
				rate_id,
				source,
				target,
				source_amount,
				target_amount,
				pair,
				mid: rate.mid,
				applied_rate: conversion::applied_rate(rate.mid, rate.spread, direction),
				valid_until: rate.valid_until,
			})
		}

		/// Invariants: feeder counts (per pair and per feeder) match the feeders, every retained rate is queued for pruning
		/// exactly once, and ids below `NextRateId` only.
		#[cfg(any(feature = "try-runtime", test))]
		pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
			for (pair, _) in Pairs::<T>::iter() {
				let feeders = Feeders::<T>::iter_prefix(pair).count() as u32;
				ensure!(feeders == FeederCount::<T>::get(pair), "feeder count mismatch");
				ensure!(feeders <= T::MaxFeedersPerPair::get(), "too many feeders");
			}
			let mut pairs_fed = alloc::collections::btree_map::BTreeMap::<T::AccountId, u32>::new();
			for (_, feeder, _) in Feeders::<T>::iter() {
				*pairs_fed.entry(feeder).or_default() += 1;
			}
			ensure!(
				pairs_fed.len() == FeederPairs::<T>::iter().count()
					&& pairs_fed.iter().all(|(f, n)| FeederPairs::<T>::get(f) == Some(*n)),
				"feeder pair counts mismatch"
			);
			let mut queued: alloc::vec::Vec<RateId> =
				PruneQueue::<T>::iter_values().flat_map(|ids| ids.into_inner()).collect();
			queued.sort_unstable();
			let before = queued.len();
			queued.dedup();
			ensure!(before == queued.len(), "a rate is queued twice");
			let next = NextRateId::<T>::get();
			for (id, _) in Rates::<T>::iter() {
				ensure!(id < next, "rate id beyond NextRateId");
				ensure!(queued.binary_search(&id).is_ok(), "retained rate not queued for pruning");
			}
			Ok(())
		}
	}
}
