//! # FX-rate pallet
//!
//! Publishes the exchange rates the clearing bank converts payments at.
//!
//! - The admin (root or the clearing bank) registers currencies (ISO 4217 code, numeric code,
//!   minor-unit exponent), configures currency pairs with their [`PairLimits`], enables and
//!   disables pairs, and adds and removes each pair's feeders.
//! - A feeder publishes a rate for a pair it feeds: mid rate, bid/ask spread and how long it is
//!   valid. Each publication gets a [`RateId`]. A feeder's mid must lie within the pair's
//!   deviation band around what the pair's *other* feeders say (see
//!   [`Pallet::band_reference`]), and a feeder publishes at most `MaxPublicationsPerBucket`
//!   rates per prune bucket (an hour in the runtime), so that no feeder alone can take the rate
//!   further than a band from the others, or fill shared storage.
//! - The admin may publish a rate of any level ([`Pallet::force_publish_rate`]): it becomes
//!   the pair's effective rate at once and supersedes every feeder publication made before it.
//!   Genesis rates are admin rates that start at the chain's first block.
//! - The effective rate of a pair is the median of its current feeders' fresh publications
//!   made after the latest admin rate, once there are `min_feeds` of them; until then the
//!   admin rate, while it is fresh. For an even count the upper of the two middle rates is
//!   taken (as pallet-oracle does), so the effective rate is always an actual publication
//!   with its own id, spread and validity. No rate is fresh longer than its pair's
//!   `max_validity` after its publication.
//! - A posting must cite the pair's effective rate, or one that stopped being effective less
//!   than the pair's grace period ago and is still fresh ([`Pallet::quote_for_posting`]).
//!   Removing a feeder withdraws its publications from both.
//! - Quotes convert an amount in either direction of a configured pair (the reverse direction
//!   is derived from the published one, see [`conversion`]) and are served through
//!   [`Pallet::quote`] and the runtime API crate beside this one.
//! - Rates stay retrievable by id for at least `RetentionPeriod` after they went stale, then
//!   are pruned in `on_initialize`.
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
use sp_runtime::Permill;

/// How a quote request maps onto a configured pair.
#[derive(Clone, Copy)]
struct Route {
	/// The pair as published.
	pair: Pair,
	config: PairConfig,
	direction: Direction,
	base: CurrencyInfo,
	quote: CurrencyInfo,
}

/// A rate with everything its conversions need (the pair, its direction, both currencies'
/// minor units), read once.
#[derive(Clone, Copy)]
pub struct CitedRate {
	route: Route,
	rate_id: RateId,
	mid: u128,
	spread: Permill,
	valid_until: Moment,
}

impl CitedRate {
	fn new<AccountId>(route: Route, rate_id: RateId, rate: &RateRecord<AccountId>) -> Self {
		let valid_until = rate.stale_from(&route.config.limits);
		CitedRate { route, rate_id, mid: rate.mid, spread: rate.spread, valid_until }
	}

	/// Converts `amount`, fixed on `side`, at this rate.
	pub fn convert(&self, amount: u128, side: QuoteSide) -> Result<Quote, QuoteError> {
		let Route { pair, direction, base, quote, .. } = self.route;
		let (source_amount, target_amount) =
			conversion::convert(self.mid, self.spread, base, quote, direction, side, amount)?;
		let (source, target) = match direction {
			Direction::BaseToQuote => (pair.base, pair.quote),
			Direction::QuoteToBase => (pair.quote, pair.base),
		};
		Ok(Quote {
			rate_id: self.rate_id,
			source,
			target,
			source_amount,
			target_amount,
			pair,
			mid: self.mid,
			applied_rate: conversion::applied_rate(self.mid, self.spread, direction),
			valid_until: self.valid_until,
		})
	}
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{pallet_prelude::*, traits::Time};
	use frame_system::pallet_prelude::*;

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config {
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// Who registers currencies and pairs, appoints feeders and may publish rates of any
		/// level: root or the clearing bank.
		type AdminOrigin: EnsureOrigin<Self::RuntimeOrigin>;

		/// The chain's clock (`pallet_timestamp`), in milliseconds.
		type Time: Time<Moment = Moment>;

		/// The most feeders one pair may have (bounds the median computation).
		#[pallet::constant]
		type MaxFeedersPerPair: Get<u32>;

		/// The most distinct feeder accounts over all pairs. Together with
		/// `MaxPublicationsPerBucket` it bounds what feeders can put into one prune bucket.
		#[pallet::constant]
		type MaxFeeders: Get<u32>;

		/// The most rates one feeder may publish per prune bucket (`PruneBucketLength` of
		/// publication time), over all the pairs it feeds.
		#[pallet::constant]
		type MaxPublicationsPerBucket: Get<u32>;

		/// The widest spread a pair may be configured to accept.
		#[pallet::constant]
		type MaxSpread: Get<Permill>;

		/// The longest validity a pair may be configured to accept, in milliseconds.
		#[pallet::constant]
		type MaxValidity: Get<Moment>;

		/// The longest grace period a pair may be configured with, in milliseconds.
		#[pallet::constant]
		type MaxGracePeriod: Get<Moment>;

		/// How long a rate stays retrievable by id after it went stale, at least, in
		/// milliseconds, so that postings made against it can still be checked.
		#[pallet::constant]
		type RetentionPeriod: Get<Moment>;

		/// Rates are pruned in buckets of this many milliseconds of publication time.
		#[pallet::constant]
		type PruneBucketLength: Get<Moment>;

		/// The most rates one prune bucket holds; a publication that would overfill its bucket is
		/// refused. Must exceed `MaxFeeders × MaxPublicationsPerBucket`, so that feeders within
		/// their quota never fill it and the admin always has room.
		#[pallet::constant]
		type MaxRatesPerBucket: Get<u32>;

		type WeightInfo: WeightInfo;
	}

	/// How many recently superseded rates a pair remembers for its grace period. More
	/// supersessions within one grace period than this only make the oldest uncitable early.
	pub type MaxSuperseded = ConstU32<16>;

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

	/// Each pair's current feeders' latest publications, with their records: what the effective
	/// rate and the band are computed from, in one read (a posting checks its rate against
	/// them). Kept with `Feeders`: a feeder's entry goes with its removal.
	#[pallet::storage]
	pub type LatestFeeds<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		Pair,
		BoundedVec<(RateId, RateRecord<T::AccountId>), T::MaxFeedersPerPair>,
		ValueQuery,
	>;

	/// How many feeders each pair has.
	#[pallet::storage]
	pub type FeederCount<T: Config> = StorageMap<_, Blake2_128Concat, Pair, u32, ValueQuery>;

	/// How many pairs each feeder feeds, so that "is this account a feeder?" is one read.
	#[pallet::storage]
	pub type FeederPairs<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, u32, OptionQuery>;

	/// How many distinct accounts feed any pair.
	#[pallet::storage]
	pub type FeederTotal<T: Config> = StorageValue<_, u32, ValueQuery>;

	/// Each feeder's publications in the prune bucket it last published into:
	/// `(bucket, count)`.
	#[pallet::storage]
	pub type Publications<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, (u64, u32), OptionQuery>;

	/// Every retained publication by id.
	#[pallet::storage]
	pub type Rates<T: Config> =
		StorageMap<_, Twox64Concat, RateId, RateRecord<T::AccountId>, OptionQuery>;

	/// The id the next publication gets.
	#[pallet::storage]
	pub type NextRateId<T: Config> = StorageValue<_, RateId, ValueQuery>;

	/// Each pair's latest admin publication: feeder publications older than it no longer
	/// count towards the pair's effective rate.
	#[pallet::storage]
	pub type AdminRates<T: Config> = StorageMap<_, Blake2_128Concat, Pair, RateId, OptionQuery>;

	/// The mid of each pair's effective rate as of the last call that changed it (or of its
	/// genesis rate): the centre of the deviation band while the pair has no fresh effective
	/// rate. A rate that became effective only because another lapsed, with no call, is not
	/// recorded here.
	#[pallet::storage]
	pub type ReferenceMid<T: Config> = StorageMap<_, Blake2_128Concat, Pair, u128, OptionQuery>;

	/// Rates that recently stopped being their pair's effective rate, with the moment they
	/// did: a posting may cite them for the pair's grace period after it.
	#[pallet::storage]
	pub type Superseded<T: Config> = StorageMap<
		_,
		Blake2_128Concat,
		Pair,
		BoundedVec<(RateId, Moment), MaxSuperseded>,
		ValueQuery,
	>;

	/// Rate ids by prune bucket (`(published_at + MaxValidity + RetentionPeriod) /
	/// PruneBucketLength`).
	#[pallet::storage]
	pub type PruneQueue<T: Config> =
		StorageMap<_, Twox64Concat, u64, BoundedVec<RateId, T::MaxRatesPerBucket>, ValueQuery>;

	/// The first bucket not yet pruned; `None` until the chain's clock has been seen.
	#[pallet::storage]
	pub type NextPruneBucket<T: Config> = StorageValue<_, u64, OptionQuery>;

	/// Genesis rates `(pair, mid, spread, valid_for)`, published as admin rates when the first
	/// block sets the clock (a genesis has no time of its own).
	#[pallet::storage]
	#[pallet::unbounded]
	pub type PendingGenesisRates<T: Config> =
		StorageValue<_, alloc::vec::Vec<(Pair, u128, Permill, Moment)>, OptionQuery>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		pub currencies: alloc::vec::Vec<(CurrencyCode, CurrencyInfo)>,
		/// `(pair, limits)`; every pair starts enabled.
		pub pairs: alloc::vec::Vec<(Pair, PairLimits)>,
		pub feeders: alloc::vec::Vec<(Pair, T::AccountId)>,
		/// Opening rates `(pair, mid, spread, valid_for)`: admin publications made at the
		/// chain's first block, valid for `valid_for` milliseconds from then.
		pub rates: alloc::vec::Vec<(Pair, u128, Permill, Moment)>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			// Genesis goes through the same checks as the calls, so that a bad preset fails
			// to build instead of starting a chain with state no call could have made.
			for (code, info) in &self.currencies {
				Pallet::<T>::do_register_currency(*code, *info).expect("genesis currency");
			}
			for (pair, limits) in &self.pairs {
				Pallet::<T>::do_configure_pair(*pair, *limits).expect("genesis pair");
			}
			for (pair, feeder) in &self.feeders {
				Pallet::<T>::do_add_feeder(*pair, feeder.clone()).expect("genesis feeder");
			}
			for (pair, mid, spread, valid_for) in &self.rates {
				let config = Pairs::<T>::get(pair).expect("genesis rate for a configured pair");
				Pallet::<T>::check_rate(&config, *mid, *spread, *valid_for).expect("genesis rate");
				// The band of a pair's first feeder publications is centred on it.
				ReferenceMid::<T>::insert(pair, *mid);
			}
			if !self.rates.is_empty() {
				PendingGenesisRates::<T>::put(self.rates.clone());
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// A currency was registered.
		CurrencyRegistered { code: CurrencyCode, numeric: u16, minor_units: u8 },
		/// A pair was configured (created or its limits changed).
		PairConfigured { pair: Pair, limits: PairLimits },
		/// A pair was enabled or disabled.
		PairEnabledSet { pair: Pair, enabled: bool },
		/// A feeder was appointed for a pair.
		FeederAdded { pair: Pair, feeder: T::AccountId },
		/// A feeder was removed from a pair; its rates stay retrievable by id, but no longer
		/// count towards the pair's rate and can no longer be posted at.
		FeederRemoved { pair: Pair, feeder: T::AccountId },
		/// A rate was published; `feeder` is `None` for the admin's (and genesis) rates.
		RatePublished {
			rate_id: RateId,
			pair: Pair,
			feeder: Option<T::AccountId>,
			mid: u128,
			spread: Permill,
			valid_until: Moment,
		},
		/// A call changed the pair's effective rate (`None`: the pair has none now).
		EffectiveRateChanged { pair: Pair, rate_id: Option<RateId> },
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
		/// The configured grace period is longer than `MaxGracePeriod`.
		GracePeriodTooLong,
		/// `min_feeds` is zero or more than `MaxFeedersPerPair`.
		MinFeedsOutOfRange,
		/// The configured deviation band is zero.
		ZeroDeviationBand,
		/// The account feeds this pair already.
		FeederAlreadyAdded,
		/// The pair has `MaxFeedersPerPair` feeders already.
		TooManyFeeders,
		/// `MaxFeeders` accounts feed pairs already.
		FeederLimitReached,
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
		/// The prune bucket this rate would go into is full; publish later.
		RateStoreFull,
		/// The feeder published `MaxPublicationsPerBucket` rates in this prune bucket already.
		PublicationQuotaExhausted,
		/// The mid is further from the pair's reference rate than its deviation band allows;
		/// only the admin can publish it.
		RateOutOfBand,
		/// The pair never had a rate, so there is no band to check a feeder's against; the
		/// admin publishes its first rate.
		NoReferenceRate,
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
		/// The rate is not the pair's effective rate, nor was it within the grace period.
		RateNotEffective,
		/// The rate's feeder was removed from the pair.
		RateWithdrawn,
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
				QuoteError::RateNotEffective => Error::RateNotEffective,
				QuoteError::RateWithdrawn => Error::RateWithdrawn,
			}
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		fn on_initialize(_n: BlockNumberFor<T>) -> Weight {
			Self::prune_expired()
		}

		fn integrity_test() {
			let feeders_can_fill = (T::MaxFeeders::get() as u64)
				.saturating_mul(T::MaxPublicationsPerBucket::get() as u64);
			assert!(
				feeders_can_fill < T::MaxRatesPerBucket::get() as u64,
				"MaxRatesPerBucket must exceed MaxFeeders × MaxPublicationsPerBucket, so that \
				 feeders within their quota never fill a bucket"
			);
			assert!(T::MaxFeedersPerPair::get() > 0, "a pair needs room for a feeder");
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
			limits: PairLimits,
		) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			let before = Self::effective_now(pair);
			Self::do_configure_pair(pair, limits)?;
			Self::note_effective_change(pair, before, None);
			Ok(())
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

		/// Removes `feeder` from `pair`: its publications no longer count towards the pair's
		/// rate and can no longer be posted at, even within the grace period; they stay
		/// retrievable by id. Origin: `AdminOrigin`.
		#[pallet::call_index(4)]
		#[pallet::weight(T::WeightInfo::remove_feeder())]
		pub fn remove_feeder(
			origin: OriginFor<T>,
			pair: Pair,
			feeder: T::AccountId,
		) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			ensure!(Feeders::<T>::contains_key(pair, &feeder), Error::<T>::NotAFeederOfPair);
			let before = Self::effective_now(pair);
			Feeders::<T>::remove(pair, &feeder);
			LatestFeeds::<T>::mutate(pair, |feeds| {
				feeds.retain(|(_, r)| r.feeder.as_ref() != Some(&feeder))
			});
			FeederCount::<T>::mutate(pair, |n| *n = n.saturating_sub(1));
			FeederPairs::<T>::mutate_exists(&feeder, |n| {
				*n = n.and_then(|n| n.checked_sub(1)).filter(|n| *n > 0);
			});
			if !FeederPairs::<T>::contains_key(&feeder) {
				FeederTotal::<T>::mutate(|n| *n = n.saturating_sub(1));
			}
			Superseded::<T>::mutate(pair, |recent| {
				recent.retain(|(id, _)| {
					Rates::<T>::get(id).is_none_or(|r| r.feeder.as_ref() != Some(&feeder))
				})
			});
			Self::note_effective_change(pair, before, Some(&feeder));
			Self::deposit_event(Event::FeederRemoved { pair, feeder });
			Ok(())
		}

		/// Publishes a rate for `pair`: `mid` (scaled by `RATE_SCALE`), the full bid/ask
		/// `spread`, valid from now for `valid_for` milliseconds. The mid must lie within the
		/// pair's deviation band around its reference rate, and the feeder within its
		/// publication quota. Origin: a signed feeder of the pair.
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
			Self::check_rate(&config, mid, spread, valid_for)?;
			let now = T::Time::now();
			let before = Self::effective_at(pair, &config, now).ok();
			let reference = Self::band_reference(pair, &config, &feeder, now)
				.ok_or(Error::<T>::NoReferenceRate)?;
			ensure!(
				mid.abs_diff(reference) <= config.limits.max_deviation.mul_floor(reference),
				Error::<T>::RateOutOfBand
			);
			let bucket = Self::prune_bucket(now);
			let published = match Publications::<T>::get(&feeder) {
				Some((b, count)) if b == bucket => count,
				_ => 0,
			};
			ensure!(
				published < T::MaxPublicationsPerBucket::get(),
				Error::<T>::PublicationQuotaExhausted
			);
			// Feeders together never take more of a bucket than `MaxFeeders` quotas, even when
			// the admin replaced some within the hour: the rest is the admin's.
			ensure!(
				(PruneQueue::<T>::decode_len(bucket).unwrap_or(0) as u32) < Self::feeders_share(),
				Error::<T>::RateStoreFull
			);
			let valid_until = now.checked_add(valid_for).ok_or(Error::<T>::ValidityTooLong)?;
			Self::store_rate(pair, Some(feeder.clone()), mid, spread, now, valid_until)?;
			Publications::<T>::insert(&feeder, (bucket, published + 1));
			Self::note_effective_change(pair, before, None);
			Ok(())
		}

		/// Publishes a rate for `pair` as the admin, at any level within `MAX_RATE`: it is the
		/// pair's effective rate from now, and feeder publications made before it no longer
		/// count, until `min_feeds` feeders have published after it. This is how a pair gets
		/// its first rate, and how the admin follows a move larger than the deviation band.
		/// Origin: `AdminOrigin`.
		#[pallet::call_index(6)]
		#[pallet::weight(T::WeightInfo::force_publish_rate())]
		pub fn force_publish_rate(
			origin: OriginFor<T>,
			pair: Pair,
			mid: u128,
			spread: Permill,
			valid_for: Moment,
		) -> DispatchResult {
			T::AdminOrigin::ensure_origin(origin)?;
			let config = Pairs::<T>::get(pair).ok_or(Error::<T>::UnknownPair)?;
			ensure!(config.enabled, Error::<T>::PairDisabled);
			Self::check_rate(&config, mid, spread, valid_for)?;
			let now = T::Time::now();
			Self::publish_admin_rate(pair, mid, spread, now, valid_for)?;
			Ok(())
		}
	}

	impl<T: Config> frame_support::traits::OnTimestampSet<Moment> for Pallet<T> {
		/// Publishes the genesis rates when the first block sets the clock.
		fn on_timestamp_set(now: Moment) {
			// One read a block; the genesis rates go once, with the first block.
			if !PendingGenesisRates::<T>::exists() {
				return;
			}
			if let Some(rates) = PendingGenesisRates::<T>::take() {
				for (pair, mid, spread, valid_for) in rates {
					// Checked at genesis; a failure here (a full bucket) leaves the pair to the
					// admin and its feeders.
					let _ = Self::publish_admin_rate(pair, mid, spread, now, valid_for);
				}
			}
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

		pub(crate) fn do_configure_pair(pair: Pair, limits: PairLimits) -> DispatchResult {
			ensure!(pair.base != pair.quote, Error::<T>::SameCurrency);
			ensure!(
				Currencies::<T>::contains_key(pair.base)
					&& Currencies::<T>::contains_key(pair.quote),
				Error::<T>::UnknownCurrency
			);
			ensure!(!Pairs::<T>::contains_key(pair.reversed()), Error::<T>::ReversePairConfigured);
			ensure!(limits.max_spread <= T::MaxSpread::get(), Error::<T>::MaxSpreadTooWide);
			ensure!(limits.max_validity > 0, Error::<T>::ZeroValidity);
			ensure!(limits.max_validity <= T::MaxValidity::get(), Error::<T>::MaxValidityTooLong);
			ensure!(
				limits.grace_period <= T::MaxGracePeriod::get(),
				Error::<T>::GracePeriodTooLong
			);
			ensure!(
				limits.min_feeds > 0 && limits.min_feeds <= T::MaxFeedersPerPair::get(),
				Error::<T>::MinFeedsOutOfRange
			);
			ensure!(limits.max_deviation > Permill::zero(), Error::<T>::ZeroDeviationBand);
			Pairs::<T>::mutate(pair, |config| {
				let enabled = config.map_or(true, |c| c.enabled);
				*config = Some(PairConfig { enabled, limits });
			});
			Self::deposit_event(Event::PairConfigured { pair, limits });
			Ok(())
		}

		pub(crate) fn do_add_feeder(pair: Pair, feeder: T::AccountId) -> DispatchResult {
			ensure!(Pairs::<T>::contains_key(pair), Error::<T>::UnknownPair);
			ensure!(!Feeders::<T>::contains_key(pair, &feeder), Error::<T>::FeederAlreadyAdded);
			let count = FeederCount::<T>::get(pair);
			ensure!(count < T::MaxFeedersPerPair::get(), Error::<T>::TooManyFeeders);
			let new_account = !FeederPairs::<T>::contains_key(&feeder);
			if new_account {
				ensure!(
					FeederTotal::<T>::get() < T::MaxFeeders::get(),
					Error::<T>::FeederLimitReached
				);
				FeederTotal::<T>::mutate(|n| *n += 1);
			}
			Feeders::<T>::insert(pair, &feeder, FeederStatus { latest_rate: None });
			FeederCount::<T>::insert(pair, count + 1);
			FeederPairs::<T>::mutate(&feeder, |n| *n = Some(n.unwrap_or(0).saturating_add(1)));
			Self::deposit_event(Event::FeederAdded { pair, feeder });
			Ok(())
		}

		/// The checks every publication passes, the admin's included.
		pub(crate) fn check_rate(
			config: &PairConfig,
			mid: u128,
			spread: Permill,
			valid_for: Moment,
		) -> DispatchResult {
			ensure!(mid > 0, Error::<T>::ZeroRate);
			ensure!(mid <= MAX_RATE, Error::<T>::RateOutOfRange);
			ensure!(spread <= config.limits.max_spread, Error::<T>::SpreadTooWide);
			ensure!(valid_for > 0, Error::<T>::ZeroValidity);
			ensure!(valid_for <= config.limits.max_validity, Error::<T>::ValidityTooLong);
			Ok(())
		}

		/// Stores a checked admin rate, makes it the cut-off for the pair's feeder
		/// publications and records the change of effective rate.
		fn publish_admin_rate(
			pair: Pair,
			mid: u128,
			spread: Permill,
			now: Moment,
			valid_for: Moment,
		) -> Result<RateId, DispatchError> {
			let before = Self::effective_now(pair);
			let valid_until = now.checked_add(valid_for).ok_or(Error::<T>::ValidityTooLong)?;
			let rate_id = Self::store_rate(pair, None, mid, spread, now, valid_until)?;
			AdminRates::<T>::insert(pair, rate_id);
			Self::note_effective_change(pair, before, None);
			Ok(rate_id)
		}

		/// Stores a checked rate under the next id and queues it for pruning.
		pub(crate) fn store_rate(
			pair: Pair,
			feeder: Option<T::AccountId>,
			mid: u128,
			spread: Permill,
			published_at: Moment,
			valid_until: Moment,
		) -> Result<RateId, DispatchError> {
			let rate_id = NextRateId::<T>::get();
			let bucket = Self::prune_bucket(published_at);
			PruneQueue::<T>::try_mutate(bucket, |ids| ids.try_push(rate_id))
				.map_err(|_| Error::<T>::RateStoreFull)?;
			let record =
				RateRecord { pair, feeder: feeder.clone(), mid, spread, published_at, valid_until };
			if let Some(feeder) = &feeder {
				Feeders::<T>::mutate(pair, feeder, |status| {
					if let Some(status) = status {
						status.latest_rate = Some(rate_id);
					}
				});
				// At most one entry a feeder, and only for current feeders (at most
				// `MaxFeedersPerPair` of them): the push after the removal always fits.
				LatestFeeds::<T>::mutate(pair, |feeds| {
					feeds.retain(|(_, r)| r.feeder.as_ref() != Some(feeder));
					let _ = feeds.try_push((rate_id, record.clone()));
				});
			}
			Rates::<T>::insert(rate_id, record);
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

		/// The prune bucket of a rate published at `published_at`: no rate is usable more than
		/// `MaxValidity` after its publication, so pruning `RetentionPeriod` after that keeps
		/// every rate at least `RetentionPeriod` past its staleness. Every publication of one
		/// bucket's length of time lands in the same bucket, which is what the feeders' quota
		/// counts.
		pub(crate) fn prune_bucket(published_at: Moment) -> u64 {
			published_at
				.saturating_add(T::MaxValidity::get())
				.saturating_add(T::RetentionPeriod::get())
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

		/// How much of one prune bucket feeder publications may take together: `MaxFeeders`
		/// quotas. The integrity test keeps it below `MaxRatesPerBucket`.
		pub(crate) fn feeders_share() -> u32 {
			T::MaxFeeders::get().saturating_mul(T::MaxPublicationsPerBucket::get())
		}

		/// Whether `who` feeds any pair.
		pub fn is_feeder(who: &T::AccountId) -> bool {
			FeederPairs::<T>::contains_key(who)
		}

		/// The chain's time now, in milliseconds.
		pub fn now() -> Moment {
			T::Time::now()
		}

		/// The pair's effective rate now, if it is configured and has one.
		fn effective_now(pair: Pair) -> Option<(RateId, RateRecord<T::AccountId>)> {
			let config = Pairs::<T>::get(pair)?;
			Self::effective_at(pair, &config, T::Time::now()).ok()
		}

		/// After a call changed `pair`'s rates or feeders: the rate that was effective
		/// `before` stays citable for the grace period if it is no longer the effective one
		/// (unless it is a publication of `withdrawn`, a feeder just removed), and the new
		/// effective rate becomes the band's reference.
		fn note_effective_change(
			pair: Pair,
			before: Option<(RateId, RateRecord<T::AccountId>)>,
			withdrawn: Option<&T::AccountId>,
		) {
			let now = T::Time::now();
			let after = Self::effective_now(pair);
			let after_id = after.as_ref().map(|(id, _)| *id);
			if before.as_ref().map(|(id, _)| *id) == after_id {
				return;
			}
			if let Some((id, rate)) = before {
				if withdrawn.is_none() || rate.feeder.as_ref() != withdrawn {
					let grace = Pairs::<T>::get(pair).map_or(0, |c| c.limits.grace_period);
					Superseded::<T>::mutate(pair, |recent| {
						recent.retain(|(_, at)| at.saturating_add(grace) >= now);
						if recent.is_full() {
							recent.remove(0);
						}
						let _ = recent.try_push((id, now));
					});
				}
			}
			if let Some((_, rate)) = &after {
				ReferenceMid::<T>::insert(pair, rate.mid);
			}
			Self::deposit_event(Event::EffectiveRateChanged { pair, rate_id: after_id });
		}

		/// The centre of the band `feeder`'s next publication must lie in: what the pair's other
		/// feeders say now (the median of their fresh publications made after the latest admin
		/// rate), or, while none of them has one, the admin rate while it is fresh, or else the
		/// mid the last call that changed the effective rate left. Never the feeder's own
		/// publications: a feeder that could re-centre its band with each publication could walk
		/// the rate anywhere, a band's width at a time.
		pub fn band_reference(
			pair: Pair,
			config: &PairConfig,
			feeder: &T::AccountId,
			now: Moment,
		) -> Option<u128> {
			let cut_off = AdminRates::<T>::get(pair);
			let mut others: alloc::vec::Vec<u128> = Self::fresh_feeds(pair, config, cut_off, now)
				.filter(|(_, r)| r.feeder.as_ref() != Some(feeder))
				.map(|(_, r)| r.mid)
				.collect();
			if !others.is_empty() {
				others.sort_unstable();
				return Some(others[others.len() / 2]);
			}
			cut_off
				.and_then(|id| Rates::<T>::get(id))
				.filter(|r| r.usable_at(now, &config.limits))
				.map(|r| r.mid)
				.or_else(|| ReferenceMid::<T>::get(pair))
		}

		/// The pair's current feeders' latest publications that are fresh at `now` and younger
		/// than the admin rate `cut_off`.
		fn fresh_feeds(
			pair: Pair,
			config: &PairConfig,
			cut_off: Option<RateId>,
			now: Moment,
		) -> impl Iterator<Item = (RateId, RateRecord<T::AccountId>)> + '_ {
			LatestFeeds::<T>::get(pair).into_iter().filter(move |(id, r)| {
				cut_off.is_none_or(|admin| *id > admin) && r.usable_at(now, &config.limits)
			})
		}

		/// The pair's effective rate at `now`: the median of its feeders' fresh publications
		/// made after its latest admin rate, if there are `min_feeds` of them; otherwise that
		/// admin rate while it is fresh.
		pub fn effective_at(
			pair: Pair,
			config: &PairConfig,
			now: Moment,
		) -> Result<(RateId, RateRecord<T::AccountId>), QuoteError> {
			let limits = &config.limits;
			let cut_off = AdminRates::<T>::get(pair);
			let mut fresh: alloc::vec::Vec<(RateId, RateRecord<T::AccountId>)> =
				Self::fresh_feeds(pair, config, cut_off, now).collect();
			if fresh.len() as u32 >= limits.min_feeds {
				// Ties on mid are ordered by id, so that the choice is deterministic.
				fresh.sort_by(|(a_id, a), (b_id, b)| a.mid.cmp(&b.mid).then(a_id.cmp(b_id)));
				let mid_index = fresh.len() / 2;
				return Ok(fresh.swap_remove(mid_index));
			}
			cut_off
				.and_then(|id| Rates::<T>::get(id).map(|r| (id, r)))
				.filter(|(_, r)| r.usable_at(now, limits))
				.ok_or(QuoteError::NoFreshRate)
		}

		/// The current rate of a configured pair (in its published direction).
		pub fn current_rate(pair: Pair) -> Result<(RateId, RateRecord<T::AccountId>), QuoteError> {
			let config = Pairs::<T>::get(pair).ok_or(QuoteError::UnknownPair)?;
			Self::ensure_enabled(config)?;
			Self::effective_at(pair, &config, Self::now())
		}

		/// Converts `amount` from `source` to `target` at the effective rate now.
		pub fn quote(
			source: CurrencyCode,
			target: CurrencyCode,
			amount: u128,
			side: QuoteSide,
		) -> Result<Quote, QuoteError> {
			let route = Self::resolve(source, target)?;
			let (rate_id, rate) = Self::effective_at(route.pair, &route.config, Self::now())?;
			CitedRate::new(route, rate_id, &rate).convert(amount, side)
		}

		/// Converts `amount` from `source` to `target` at the publication a posting cites: see
		/// [`Pallet::rate_for_posting`] for what makes a rate citable.
		pub fn quote_for_posting(
			rate_id: RateId,
			source: CurrencyCode,
			target: CurrencyCode,
			amount: u128,
			side: QuoteSide,
			at: Moment,
		) -> Result<Quote, QuoteError> {
			Self::rate_for_posting(rate_id, source, target, at)?.convert(amount, side)
		}

		/// The publication a posting cites, checked: it must be of the pair converting
		/// `source` into `target`, fresh at `at`, from a current feeder (or the admin), and
		/// either the pair's effective rate at `at` or one a call superseded at most the pair's
		/// grace period before. This is how a posting's amounts are checked, with `at` the
		/// posting's block time: it reads the current state, so for another `at` it answers
		/// only what the current feeds say of that moment. The answer converts any number of
		/// amounts without reading storage again, which is what a batch of postings at the same
		/// rate needs.
		pub fn rate_for_posting(
			rate_id: RateId,
			source: CurrencyCode,
			target: CurrencyCode,
			at: Moment,
		) -> Result<CitedRate, QuoteError> {
			let route = Self::resolve(source, target)?;
			let rate = Rates::<T>::get(rate_id).ok_or(QuoteError::UnknownRateId)?;
			if rate.pair != route.pair {
				return Err(QuoteError::RatePairMismatch);
			}
			if !rate.usable_at(at, &route.config.limits) {
				return Err(QuoteError::RateNotValid);
			}
			if let Some(feeder) = &rate.feeder {
				if !Feeders::<T>::contains_key(route.pair, feeder) {
					return Err(QuoteError::RateWithdrawn);
				}
			}
			let effective = Self::effective_at(route.pair, &route.config, at).ok();
			// The grace period is inclusive: a rate superseded at `t` is citable up to and at
			// `t + grace_period`.
			let citable = effective.is_some_and(|(id, _)| id == rate_id)
				|| Superseded::<T>::get(route.pair).iter().any(|(id, superseded_at)| {
					*id == rate_id
						&& at <= superseded_at.saturating_add(route.config.limits.grace_period)
				});
			if !citable {
				return Err(QuoteError::RateNotEffective);
			}
			Ok(CitedRate::new(route, rate_id, &rate))
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
						config,
						direction: Direction::BaseToQuote,
						base: source_info,
						quote: target_info,
					}
				}
				None => {
					let reverse = direct.reversed();
					let config = Pairs::<T>::get(reverse).ok_or(QuoteError::UnknownPair)?;
					Self::ensure_enabled(config)?;
					Route {
						pair: reverse,
						config,
						direction: Direction::QuoteToBase,
						base: target_info,
						quote: source_info,
					}
				}
			};
			Ok(route)
		}

		/// Invariants: feeder counts (per pair, per feeder and in all) match the feeders,
		/// every retained rate is queued for pruning exactly once, ids stay below
		/// `NextRateId`, and no quota exceeds its limit.
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
			ensure!(pairs_fed.len() as u32 == FeederTotal::<T>::get(), "feeder total mismatch");
			ensure!(FeederTotal::<T>::get() <= T::MaxFeeders::get(), "too many feeder accounts");
			for (_, (_, count)) in Publications::<T>::iter() {
				ensure!(count <= T::MaxPublicationsPerBucket::get(), "a quota is exceeded");
			}
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
			for (_, id) in AdminRates::<T>::iter() {
				ensure!(id < next, "admin rate id beyond NextRateId");
			}
			for (pair, feeds) in LatestFeeds::<T>::iter() {
				for (id, record) in feeds {
					let feeder = record.feeder.ok_or("an admin rate among the feeds")?;
					let latest = Feeders::<T>::get(pair, &feeder).and_then(|s| s.latest_rate);
					ensure!(latest == Some(id), "a feed is not its feeder's latest publication");
				}
			}
			Ok(())
		}
	}
}
