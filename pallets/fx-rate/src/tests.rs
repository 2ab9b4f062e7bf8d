//! Tests of every call, every error and the quote rules, on the mock runtime.
//!
//! In every test (see `mock::new_test_ext`) rate id 0 is HKD/CNY's opening admin rate at
//! `OPENING_MID`, published when the clock was set to `T0` and valid for an hour; feeders A, B
//! and C feed HKD/CNY, whose limits are `hkd_cny_limits()` (2 % spread, an hour's validity, a
//! minute's grace, one feed makes a rate, a 5 % band).

use crate::{
	conversion::{self, Direction},
	mock::*,
	AdminRates, CurrencyInfo, Error, Event, FeederCount, FeederTotal, Feeders, Moment, Pair,
	PairConfig, PairLimits, Pairs, PruneQueue, Publications, QuoteError, QuoteSide, RateId,
	RateRecord, Rates, ReferenceMid, Superseded, MAX_RATE,
};
use codec::Encode;
use frame_support::{assert_noop, assert_ok, traits::Hooks};
use sp_runtime::{DispatchError, DispatchResult, Permill};

/// 1 HKD = 0.9213 CNY, the opening rate's mid.
const MID: u128 = OPENING_MID;
/// HKD/CNY's deviation band around `MID`: 5 % of 921_300_000, exactly.
const BAND: u128 = 46_065_000;
const SPREAD: Permill = Permill::from_parts(2_000); // 0.2 %
const SECOND: Moment = 1_000;
/// The id of the opening admin rate.
const OPENING: RateId = 0;
/// The first moment of the prune bucket after `T0`'s (`T0` is 13 min 20 s into its hour).
const NEXT_BUCKET: Moment = (T0 / BUCKET + 1) * BUCKET;

fn root() -> RuntimeOrigin {
	RuntimeOrigin::root()
}

fn signed(who: u64) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

fn last_id() -> RateId {
	crate::NextRateId::<Test>::get() - 1
}

/// A feeder's HKD/CNY rate valid for ten minutes; its id.
fn publish(feeder: u64, mid: u128) -> RateId {
	publish_for(feeder, mid, 10 * MINUTE)
}

fn publish_for(feeder: u64, mid: u128, valid_for: Moment) -> RateId {
	assert_ok!(FxRate::publish_rate(signed(feeder), HKD_CNY, mid, SPREAD, valid_for));
	last_id()
}

fn try_publish(feeder: u64, mid: u128) -> DispatchResult {
	FxRate::publish_rate(signed(feeder), HKD_CNY, mid, SPREAD, 10 * MINUTE)
}

/// An admin HKD/CNY rate; its id.
fn admin_publish(mid: u128, valid_for: Moment) -> RateId {
	assert_ok!(FxRate::force_publish_rate(root(), HKD_CNY, mid, SPREAD, valid_for));
	last_id()
}

/// HKD/CNY's limits changed by `change`.
fn limits(change: impl FnOnce(&mut PairLimits)) -> PairLimits {
	let mut limits = hkd_cny_limits();
	change(&mut limits);
	limits
}

fn reconfigure(change: impl FnOnce(&mut PairLimits)) {
	assert_ok!(FxRate::configure_pair(root(), HKD_CNY, limits(change)));
}

/// The id of HKD/CNY's effective rate now.
fn effective() -> RateId {
	FxRate::current_rate(HKD_CNY).expect("HKD/CNY has an effective rate").0
}

/// A posting of 100.00 HKD at `rate_id`, checked now.
fn post(rate_id: RateId) -> Result<crate::Quote, QuoteError> {
	FxRate::quote_for_posting(rate_id, HKD, CNY, 10_000, QuoteSide::ExactSource, FxRate::now())
}

/// The prune bucket (and quota bucket) of a publication at `published_at`.
fn bucket_of(published_at: Moment) -> u64 {
	(published_at + DAY + RETENTION) / BUCKET
}

fn fx_events() -> Vec<Event<Test>> {
	System::events()
		.into_iter()
		.filter_map(|r| if let RuntimeEvent::FxRate(e) = r.event { Some(e) } else { None })
		.collect()
}

fn last_event() -> Event<Test> {
	fx_events().pop().expect("an FxRate event")
}

fn quote(
	source: crate::CurrencyCode,
	target: crate::CurrencyCode,
	amount: u128,
	side: QuoteSide,
) -> Result<crate::Quote, QuoteError> {
	FxRate::quote(source, target, amount, side)
}

mod register_currency {
	use super::*;

	#[test]
	fn root_and_the_clearing_bank_register_a_currency() {
		test(|| {
			let eur = crate::CurrencyCode(*b"EUR");
			let info = CurrencyInfo { numeric: 978, minor_units: 2 };
			assert_ok!(FxRate::register_currency(root(), eur, info));
			assert_eq!(crate::Currencies::<Test>::get(eur), Some(info));
			assert_eq!(
				last_event(),
				Event::CurrencyRegistered { code: eur, numeric: 978, minor_units: 2 }
			);

			let sgd = crate::CurrencyCode(*b"SGD");
			assert_ok!(FxRate::register_currency(signed(CLEARING_BANK), sgd, info));
		});
	}

	#[test]
	fn others_are_refused() {
		test(|| {
			let eur = crate::CurrencyCode(*b"EUR");
			let info = CurrencyInfo { numeric: 978, minor_units: 2 };
			assert_noop!(
				FxRate::register_currency(signed(STRANGER), eur, info),
				DispatchError::BadOrigin
			);
			assert_noop!(
				FxRate::register_currency(signed(FEEDER_A), eur, info),
				DispatchError::BadOrigin
			);
		});
	}

	#[test]
	fn malformed_codes_out_of_range_exponents_and_duplicates_are_refused() {
		test(|| {
			let info = CurrencyInfo { numeric: 978, minor_units: 2 };
			for bad in [*b"eur", *b"E1R", *b"EU ", [0xff, b'A', b'B']] {
				assert_noop!(
					FxRate::register_currency(root(), crate::CurrencyCode(bad), info),
					Error::<Test>::MalformedCurrencyCode
				);
			}
			let too_fine = CurrencyInfo { numeric: 978, minor_units: crate::MAX_MINOR_UNITS + 1 };
			assert_noop!(
				FxRate::register_currency(root(), crate::CurrencyCode(*b"EUR"), too_fine),
				Error::<Test>::MinorUnitsOutOfRange
			);
			assert_noop!(
				FxRate::register_currency(root(), HKD, info),
				Error::<Test>::CurrencyAlreadyRegistered
			);
		});
	}
}

mod configure_pair {
	use super::*;

	#[test]
	fn configures_and_reconfigures_keeping_state() {
		test(|| {
			let pair = Pair::new(USD, HKD);
			let usd_hkd = PairLimits {
				max_spread: Permill::from_percent(1),
				max_validity: HOUR,
				grace_period: 2 * MINUTE,
				min_feeds: 2,
				max_deviation: Permill::from_percent(3),
			};
			let events_before = fx_events().len();
			assert_ok!(FxRate::configure_pair(root(), pair, usd_hkd));
			assert_eq!(
				Pairs::<Test>::get(pair),
				Some(PairConfig { enabled: true, limits: usd_hkd })
			);
			// A new pair has no rate: no effective rate changed.
			assert_eq!(
				fx_events()[events_before..],
				[Event::PairConfigured { pair, limits: usd_hkd }]
			);

			// Reconfiguring a disabled pair changes limits, not the enabled state or feeders.
			assert_ok!(FxRate::set_pair_enabled(root(), HKD_CNY, false));
			let wider = limits(|l| {
				l.max_spread = Permill::from_percent(5);
				l.max_validity = DAY;
			});
			assert_ok!(FxRate::configure_pair(signed(CLEARING_BANK), HKD_CNY, wider));
			let config = Pairs::<Test>::get(HKD_CNY).unwrap();
			assert!(!config.enabled);
			assert_eq!(config.limits, wider);
			assert_eq!(FeederCount::<Test>::get(HKD_CNY), 3);
		});
	}

	#[test]
	fn every_refusal_is_named_and_changes_nothing() {
		test(|| {
			let l = hkd_cny_limits();
			let usd_hkd = Pair::new(USD, HKD);
			assert_noop!(
				FxRate::configure_pair(signed(STRANGER), usd_hkd, l),
				DispatchError::BadOrigin
			);
			assert_noop!(
				FxRate::configure_pair(signed(FEEDER_A), HKD_CNY, l),
				DispatchError::BadOrigin
			);
			assert_noop!(
				FxRate::configure_pair(root(), Pair::new(USD, USD), l),
				Error::<Test>::SameCurrency
			);
			let xxx = crate::CurrencyCode(*b"XXX");
			assert_noop!(
				FxRate::configure_pair(root(), Pair::new(USD, xxx), l),
				Error::<Test>::UnknownCurrency
			);
			assert_noop!(
				FxRate::configure_pair(root(), HKD_CNY.reversed(), l),
				Error::<Test>::ReversePairConfigured
			);
			let refused = [
				(
					limits(|l| l.max_spread = Permill::from_parts(100_001)),
					Error::<Test>::MaxSpreadTooWide,
				),
				(limits(|l| l.max_validity = 0), Error::<Test>::ZeroValidity),
				(limits(|l| l.max_validity = DAY + 1), Error::<Test>::MaxValidityTooLong),
				(limits(|l| l.grace_period = 10 * MINUTE + 1), Error::<Test>::GracePeriodTooLong),
				(limits(|l| l.min_feeds = 0), Error::<Test>::MinFeedsOutOfRange),
				(limits(|l| l.min_feeds = MAX_FEEDERS + 1), Error::<Test>::MinFeedsOutOfRange),
				(limits(|l| l.max_deviation = Permill::zero()), Error::<Test>::ZeroDeviationBand),
			];
			for (bad, error) in refused {
				let error = DispatchError::from(error);
				assert_noop!(FxRate::configure_pair(root(), usd_hkd, bad), error);
				// Reconfiguring an existing pair is held to the same limits.
				assert_noop!(FxRate::configure_pair(root(), HKD_CNY, bad), error);
			}
		});
	}

	#[test]
	fn the_limits_themselves_are_accepted() {
		test(|| {
			let at_the_limits = PairLimits {
				max_spread: Permill::from_percent(10),
				max_validity: DAY,
				grace_period: 10 * MINUTE,
				min_feeds: MAX_FEEDERS,
				max_deviation: Permill::from_parts(1),
			};
			assert_ok!(FxRate::configure_pair(root(), Pair::new(USD, HKD), at_the_limits));
			let zero_grace = limits(|l| {
				l.grace_period = 0;
				l.min_feeds = 1;
			});
			assert_ok!(FxRate::configure_pair(root(), Pair::new(JPY, HKD), zero_grace));
		});
	}

	#[test]
	fn a_change_of_limits_that_changes_the_effective_rate_is_recorded() {
		test(|| {
			let a = publish(FEEDER_A, MID + 10);
			assert_eq!(effective(), a);
			set_time(T0 + SECOND);
			// One feed no longer makes a rate: the opening admin rate is effective again.
			reconfigure(|l| l.min_feeds = 2);
			assert_eq!(effective(), OPENING);
			assert_eq!(
				last_event(),
				Event::EffectiveRateChanged { pair: HKD_CNY, rate_id: Some(OPENING) }
			);
			assert_eq!(
				Superseded::<Test>::get(HKD_CNY).into_inner(),
				vec![(OPENING, T0), (a, T0 + SECOND)]
			);
			assert_eq!(ReferenceMid::<Test>::get(HKD_CNY), Some(MID));
			// A reconfiguration that changes no effective rate announces none.
			reconfigure(|l| {
				l.min_feeds = 2;
				l.grace_period = 2 * MINUTE;
			});
			assert!(matches!(last_event(), Event::PairConfigured { .. }));
		});
	}
}

mod set_pair_enabled {
	use super::*;

	#[test]
	fn a_disabled_pair_quotes_nothing_and_takes_no_rates_until_enabled() {
		test(|| {
			let id = publish(FEEDER_A, MID);
			assert_ok!(FxRate::set_pair_enabled(root(), HKD_CNY, false));
			assert_eq!(last_event(), Event::PairEnabledSet { pair: HKD_CNY, enabled: false });
			assert_eq!(quote(HKD, CNY, 100, QuoteSide::ExactSource), Err(QuoteError::PairDisabled));
			assert_eq!(quote(CNY, HKD, 100, QuoteSide::ExactSource), Err(QuoteError::PairDisabled));
			assert_eq!(FxRate::current_rate(HKD_CNY), Err(QuoteError::PairDisabled));
			assert_eq!(post(id), Err(QuoteError::PairDisabled));
			assert_noop!(
				FxRate::publish_rate(signed(FEEDER_A), HKD_CNY, MID, SPREAD, MINUTE),
				Error::<Test>::PairDisabled
			);
			// Its rates stay retrievable by id.
			assert!(Rates::<Test>::get(id).is_some());

			assert_ok!(FxRate::set_pair_enabled(root(), HKD_CNY, true));
			assert!(quote(HKD, CNY, 100, QuoteSide::ExactSource).is_ok());
			assert_eq!(post(id).unwrap().rate_id, id);
		});
	}

	#[test]
	fn unknown_pairs_and_strangers_are_refused() {
		test(|| {
			assert_noop!(
				FxRate::set_pair_enabled(root(), Pair::new(USD, HKD), false),
				Error::<Test>::UnknownPair
			);
			assert_noop!(
				FxRate::set_pair_enabled(signed(STRANGER), HKD_CNY, false),
				DispatchError::BadOrigin
			);
		});
	}
}

mod feeders {
	use super::*;

	#[test]
	fn adds_and_removes_feeders() {
		test(|| {
			assert_eq!(FeederTotal::<Test>::get(), 3);
			assert_ok!(FxRate::add_feeder(root(), HKD_CNY, FEEDER_D));
			assert_eq!(last_event(), Event::FeederAdded { pair: HKD_CNY, feeder: FEEDER_D });
			assert_eq!(FeederCount::<Test>::get(HKD_CNY), 4);
			assert_eq!(FeederTotal::<Test>::get(), 4);
			assert_ok!(FxRate::remove_feeder(signed(CLEARING_BANK), HKD_CNY, FEEDER_D));
			assert_eq!(last_event(), Event::FeederRemoved { pair: HKD_CNY, feeder: FEEDER_D });
			assert_eq!(FeederCount::<Test>::get(HKD_CNY), 3);
			assert_eq!(FeederTotal::<Test>::get(), 3);
			assert_noop!(
				FxRate::publish_rate(signed(FEEDER_D), HKD_CNY, MID, SPREAD, MINUTE),
				Error::<Test>::NotAFeederOfPair
			);
		});
	}

	#[test]
	fn knows_who_feeds_any_pair() {
		test(|| {
			let usd_cny = Pair::new(USD, CNY);
			assert_ok!(FxRate::configure_pair(root(), usd_cny, hkd_cny_limits()));
			assert!(!FxRate::is_feeder(&FEEDER_D));
			assert_ok!(FxRate::add_feeder(root(), HKD_CNY, FEEDER_D));
			assert_ok!(FxRate::add_feeder(root(), usd_cny, FEEDER_D));
			assert_eq!(crate::FeederPairs::<Test>::get(FEEDER_D), Some(2));
			// One account feeding two pairs is one feeder account.
			assert_eq!(FeederTotal::<Test>::get(), 4);
			assert_ok!(FxRate::remove_feeder(root(), HKD_CNY, FEEDER_D));
			assert!(FxRate::is_feeder(&FEEDER_D));
			assert_eq!(FeederTotal::<Test>::get(), 4);
			assert_ok!(FxRate::remove_feeder(root(), usd_cny, FEEDER_D));
			assert!(!FxRate::is_feeder(&FEEDER_D));
			assert_eq!(FeederTotal::<Test>::get(), 3);
			assert!(FxRate::is_feeder(&FEEDER_A));
		});
	}

	#[test]
	fn every_refusal_is_named_and_changes_nothing() {
		test(|| {
			assert_noop!(
				FxRate::add_feeder(signed(STRANGER), HKD_CNY, FEEDER_D),
				DispatchError::BadOrigin
			);
			assert_noop!(
				FxRate::add_feeder(root(), Pair::new(USD, HKD), FEEDER_D),
				Error::<Test>::UnknownPair
			);
			assert_noop!(
				FxRate::add_feeder(root(), HKD_CNY, FEEDER_A),
				Error::<Test>::FeederAlreadyAdded
			);
			assert_ok!(FxRate::add_feeder(root(), HKD_CNY, FEEDER_D));
			assert_noop!(FxRate::add_feeder(root(), HKD_CNY, 14), Error::<Test>::TooManyFeeders);
			assert_noop!(
				FxRate::remove_feeder(root(), HKD_CNY, STRANGER),
				Error::<Test>::NotAFeederOfPair
			);
			assert_noop!(
				FxRate::remove_feeder(signed(STRANGER), HKD_CNY, FEEDER_A),
				DispatchError::BadOrigin
			);
		});
	}

	#[test]
	fn at_most_max_feeders_accounts_feed_any_pair() {
		test(|| {
			let usd_hkd = Pair::new(USD, HKD);
			assert_ok!(FxRate::configure_pair(root(), usd_hkd, hkd_cny_limits()));
			assert_ok!(FxRate::add_feeder(root(), HKD_CNY, FEEDER_D));
			assert_ok!(FxRate::add_feeder(root(), usd_hkd, 14));
			assert_ok!(FxRate::add_feeder(root(), usd_hkd, 15));
			assert_eq!(FeederTotal::<Test>::get(), MAX_FEEDER_ACCOUNTS);
			assert_noop!(
				FxRate::add_feeder(root(), usd_hkd, 16),
				Error::<Test>::FeederLimitReached
			);
			// An account that feeds a pair already may feed another: it is no new account.
			assert_ok!(FxRate::add_feeder(root(), usd_hkd, FEEDER_A));
			assert_eq!(FeederTotal::<Test>::get(), MAX_FEEDER_ACCOUNTS);
			// Once an account feeds nothing any more, another may take its place.
			assert_ok!(FxRate::remove_feeder(root(), usd_hkd, 15));
			assert_ok!(FxRate::add_feeder(root(), usd_hkd, 16));
			assert_eq!(FeederTotal::<Test>::get(), MAX_FEEDER_ACCOUNTS);
		});
	}
}

mod withdrawal {
	use super::*;

	#[test]
	fn a_removed_feeders_rate_leaves_the_median_and_is_withdrawn_even_within_grace() {
		test(|| {
			let a = publish(FEEDER_A, MID + 30);
			publish(FEEDER_B, MID + 10);
			let c = publish(FEEDER_C, MID + 20);
			assert_eq!(effective(), c);
			set_time(T0 + SECOND);
			assert_ok!(FxRate::remove_feeder(root(), HKD_CNY, FEEDER_C));
			// Without C's rate the feeds are MID+10 and MID+30: the upper one, A's.
			assert_eq!(effective(), a);
			assert_eq!(ReferenceMid::<Test>::get(HKD_CNY), Some(MID + 30));
			let events = fx_events();
			assert_eq!(
				events[events.len() - 2..],
				[
					Event::EffectiveRateChanged { pair: HKD_CNY, rate_id: Some(a) },
					Event::FeederRemoved { pair: HKD_CNY, feeder: FEEDER_C },
				]
			);
			// C's rate is still fresh and only just stopped being effective, yet no posting may
			// cite it, and it is not remembered as superseded.
			assert_eq!(post(c), Err(QuoteError::RateWithdrawn));
			assert!(!Superseded::<Test>::get(HKD_CNY).iter().any(|(id, _)| *id == c));
			// It stays retrievable by id.
			assert_eq!(Rates::<Test>::get(c).unwrap().feeder, Some(FEEDER_C));
			assert_eq!(post(a).unwrap().rate_id, a);
		});
	}

	#[test]
	fn a_removed_feeders_superseded_rate_is_withdrawn_too_and_stays_so_after_re_adding() {
		test(|| {
			let a = publish(FEEDER_A, MID);
			set_time(T0 + SECOND);
			let b = publish(FEEDER_B, MID + 10);
			assert_eq!(effective(), b);
			// A's rate was superseded a moment ago: citable within the grace period.
			assert_eq!(post(a).unwrap().rate_id, a);
			assert_ok!(FxRate::remove_feeder(root(), HKD_CNY, FEEDER_A));
			assert_eq!(effective(), b);
			assert_eq!(post(a), Err(QuoteError::RateWithdrawn));
			assert_eq!(Superseded::<Test>::get(HKD_CNY).into_inner(), vec![(OPENING, T0)]);
			// Appointed again, A's old publication still does not count, nor can it be cited.
			assert_ok!(FxRate::add_feeder(root(), HKD_CNY, FEEDER_A));
			assert_eq!(post(a), Err(QuoteError::RateNotEffective));
			assert_eq!(effective(), b);
		});
	}

	#[test]
	fn removing_the_only_feed_falls_back_to_the_admin_rate_while_it_is_fresh() {
		test(|| {
			let a = publish(FEEDER_A, MID + 10);
			assert_eq!(effective(), a);
			assert_ok!(FxRate::remove_feeder(root(), HKD_CNY, FEEDER_A));
			assert_eq!(effective(), OPENING);
			assert!(fx_events()
				.contains(&Event::EffectiveRateChanged { pair: HKD_CNY, rate_id: Some(OPENING) }));
			assert_eq!(post(a), Err(QuoteError::RateWithdrawn));

			// Without a fresh admin rate, removing the feeder of the only feed leaves no rate.
			set_time(T0 + HOUR);
			let b = publish(FEEDER_B, MID + 10);
			assert_eq!(effective(), b);
			assert_ok!(FxRate::remove_feeder(root(), HKD_CNY, FEEDER_B));
			assert_eq!(FxRate::current_rate(HKD_CNY), Err(QuoteError::NoFreshRate));
			assert!(
				fx_events().contains(&Event::EffectiveRateChanged { pair: HKD_CNY, rate_id: None })
			);
			// The band keeps its centre: the withdrawn rate's mid, the last effective one.
			assert_eq!(ReferenceMid::<Test>::get(HKD_CNY), Some(MID + 10));
		});
	}
}

mod publish_rate {
	use super::*;

	#[test]
	fn publishes_with_a_new_id_and_validity_from_now() {
		test(|| {
			// Id 0 is the opening rate, an admin publication.
			assert_eq!(
				Rates::<Test>::get(OPENING),
				Some(RateRecord {
					pair: HKD_CNY,
					feeder: None,
					mid: MID,
					spread: SPREAD,
					published_at: T0,
					valid_until: T0 + HOUR
				})
			);
			assert_ok!(FxRate::publish_rate(signed(FEEDER_A), HKD_CNY, MID, SPREAD, 10 * MINUTE));
			let events = fx_events();
			assert_eq!(
				events[events.len() - 2..],
				[
					Event::RatePublished {
						rate_id: 1,
						pair: HKD_CNY,
						feeder: Some(FEEDER_A),
						mid: MID,
						spread: SPREAD,
						valid_until: T0 + 10 * MINUTE
					},
					Event::EffectiveRateChanged { pair: HKD_CNY, rate_id: Some(1) },
				]
			);
			assert_eq!(
				Rates::<Test>::get(1),
				Some(RateRecord {
					pair: HKD_CNY,
					feeder: Some(FEEDER_A),
					mid: MID,
					spread: SPREAD,
					published_at: T0,
					valid_until: T0 + 10 * MINUTE
				})
			);
			assert_eq!(publish(FEEDER_A, MID + 1), 2);
			assert_eq!(Feeders::<Test>::get(HKD_CNY, FEEDER_A).unwrap().latest_rate, Some(2));
		});
	}

	#[test]
	fn every_refusal_is_named_and_changes_nothing() {
		test(|| {
			let ok = |who, pair, mid, spread, valid_for| {
				FxRate::publish_rate(signed(who), pair, mid, spread, valid_for)
			};
			assert_noop!(
				ok(FEEDER_A, Pair::new(USD, HKD), MID, SPREAD, MINUTE),
				Error::<Test>::UnknownPair
			);
			assert_noop!(
				ok(STRANGER, HKD_CNY, MID, SPREAD, MINUTE),
				Error::<Test>::NotAFeederOfPair
			);
			// A feeder of another pair is still a stranger to this one.
			assert_ok!(FxRate::configure_pair(root(), Pair::new(USD, HKD), hkd_cny_limits()));
			assert_ok!(FxRate::add_feeder(root(), Pair::new(USD, HKD), FEEDER_D));
			assert_noop!(
				ok(FEEDER_D, HKD_CNY, MID, SPREAD, MINUTE),
				Error::<Test>::NotAFeederOfPair
			);
			assert_noop!(ok(FEEDER_A, HKD_CNY, 0, SPREAD, MINUTE), Error::<Test>::ZeroRate);
			assert_noop!(
				ok(FEEDER_A, HKD_CNY, MAX_RATE + 1, SPREAD, MINUTE),
				Error::<Test>::RateOutOfRange
			);
			assert_noop!(
				ok(FEEDER_A, HKD_CNY, MID, Permill::from_parts(20_001), MINUTE),
				Error::<Test>::SpreadTooWide
			);
			assert_noop!(ok(FEEDER_A, HKD_CNY, MID, SPREAD, 0), Error::<Test>::ZeroValidity);
			assert_noop!(
				ok(FEEDER_A, HKD_CNY, MID, SPREAD, HOUR + 1),
				Error::<Test>::ValidityTooLong
			);
			assert_noop!(
				ok(FEEDER_A, HKD_CNY, MID + BAND + 1, SPREAD, MINUTE),
				Error::<Test>::RateOutOfBand
			);
			assert_noop!(
				FxRate::publish_rate(RuntimeOrigin::none(), HKD_CNY, MID, SPREAD, MINUTE),
				DispatchError::BadOrigin
			);
			assert_noop!(
				FxRate::publish_rate(root(), HKD_CNY, MID, SPREAD, MINUTE),
				DispatchError::BadOrigin
			);
			// At the limits everything is accepted.
			assert_ok!(ok(FEEDER_A, HKD_CNY, MID + BAND, Permill::from_percent(2), HOUR));
		});
	}

	#[test]
	fn a_full_prune_bucket_refuses_further_rates_that_would_go_into_it() {
		test(|| {
			// The opening rate and the admin's fill T0's bucket.
			for i in 1..MAX_RATES_PER_BUCKET {
				admin_publish(MID + i as u128, 10 * MINUTE);
			}
			assert_eq!(PruneQueue::<Test>::get(bucket_of(T0)).len() as u32, MAX_RATES_PER_BUCKET);
			assert_noop!(try_publish(FEEDER_B, MID), Error::<Test>::RateStoreFull);
			assert_noop!(
				FxRate::force_publish_rate(root(), HKD_CNY, MID, SPREAD, MINUTE),
				Error::<Test>::RateStoreFull
			);
			// Whatever the validity: the bucket is that of the publication time.
			assert_noop!(
				FxRate::publish_rate(signed(FEEDER_B), HKD_CNY, MID, SPREAD, HOUR),
				Error::<Test>::RateStoreFull
			);
			// An hour later the rates go into another bucket.
			set_time(NEXT_BUCKET);
			assert_ok!(try_publish(FEEDER_B, MID));
			admin_publish(MID, MINUTE);
		});
	}
}

mod force_publish_rate {
	use super::*;

	#[test]
	fn a_disabled_pair_takes_no_admin_rate_either() {
		test(|| {
			assert_ok!(FxRate::set_pair_enabled(root(), HKD_CNY, false));
			assert_noop!(
				FxRate::force_publish_rate(root(), HKD_CNY, MID, SPREAD, HOUR),
				Error::<Test>::PairDisabled
			);
		});
	}

	#[test]
	fn the_admin_publishes_at_any_level_and_its_rate_takes_effect_at_once() {
		test(|| {
			publish(FEEDER_A, MID + 10);
			let far = 2 * MID;
			assert_ok!(FxRate::force_publish_rate(
				signed(CLEARING_BANK),
				HKD_CNY,
				far,
				SPREAD,
				HOUR
			));
			let id = last_id();
			let events = fx_events();
			assert_eq!(
				events[events.len() - 2..],
				[
					Event::RatePublished {
						rate_id: id,
						pair: HKD_CNY,
						feeder: None,
						mid: far,
						spread: SPREAD,
						valid_until: T0 + HOUR
					},
					Event::EffectiveRateChanged { pair: HKD_CNY, rate_id: Some(id) },
				]
			);
			assert_eq!(effective(), id);
			assert_eq!(AdminRates::<Test>::get(HKD_CNY), Some(id));
			assert_eq!(ReferenceMid::<Test>::get(HKD_CNY), Some(far));
			assert_eq!(quote(HKD, CNY, 100, QuoteSide::ExactSource).unwrap().mid, far);
			// Any level up to MAX_RATE, and down to the smallest.
			assert_eq!(admin_publish(MAX_RATE, MINUTE), id + 1);
			assert_eq!(admin_publish(1, MINUTE), id + 2);
			assert_eq!(effective(), id + 2);
		});
	}

	#[test]
	fn every_refusal_is_named_and_changes_nothing() {
		test(|| {
			let force = |origin, pair, mid, spread, valid_for| {
				FxRate::force_publish_rate(origin, pair, mid, spread, valid_for)
			};
			assert_noop!(
				force(signed(FEEDER_A), HKD_CNY, MID, SPREAD, MINUTE),
				DispatchError::BadOrigin
			);
			assert_noop!(
				force(signed(STRANGER), HKD_CNY, MID, SPREAD, MINUTE),
				DispatchError::BadOrigin
			);
			assert_noop!(
				force(root(), Pair::new(USD, HKD), MID, SPREAD, MINUTE),
				Error::<Test>::UnknownPair
			);
			assert_noop!(force(root(), HKD_CNY, 0, SPREAD, MINUTE), Error::<Test>::ZeroRate);
			assert_noop!(
				force(root(), HKD_CNY, MAX_RATE + 1, SPREAD, MINUTE),
				Error::<Test>::RateOutOfRange
			);
			assert_noop!(
				force(root(), HKD_CNY, MID, Permill::from_parts(20_001), MINUTE),
				Error::<Test>::SpreadTooWide
			);
			assert_noop!(force(root(), HKD_CNY, MID, SPREAD, 0), Error::<Test>::ZeroValidity);
			assert_noop!(
				force(root(), HKD_CNY, MID, SPREAD, HOUR + 1),
				Error::<Test>::ValidityTooLong
			);
		});
	}
}

mod band {
	use super::*;

	/// A feeder's band is centred on the *other* feeders: however many times it publishes, it
	/// cannot walk the rate further than one band from them (a band centred on the effective
	/// rate would move with each of its own publications: 1.05^3 after three).
	#[test]
	fn a_feeder_cannot_walk_the_rate_away_from_the_others() {
		test(|| {
			reconfigure(|l| l.min_feeds = 2);
			publish(FEEDER_B, MID);
			// Five percent above B: within the band. With two feeds the upper is effective.
			let step = MID * 105 / 100;
			let a = publish(FEEDER_A, step);
			assert_eq!(effective(), a);
			// Again five percent above its own rate: still measured against B, so refused.
			assert_noop!(try_publish(FEEDER_A, step * 105 / 100), Error::<Test>::RateOutOfBand);
			assert_ok!(try_publish(FEEDER_A, step));
			assert_eq!(FxRate::current_rate(HKD_CNY).unwrap().1.mid, step);
			// B's own band is centred on A now, so B comes back within it and the rate with it.
			assert_ok!(try_publish(FEEDER_B, MID));
		});
	}

	#[test]
	fn a_feeders_mid_may_lie_at_most_max_deviation_from_the_effective_rate() {
		test(|| {
			// The opening rate is effective: the band is MID ± BAND.
			assert_eq!(effective(), OPENING);
			assert_noop!(try_publish(FEEDER_A, MID + BAND + 1), Error::<Test>::RateOutOfBand);
			assert_noop!(try_publish(FEEDER_A, MID - BAND - 1), Error::<Test>::RateOutOfBand);
			let low = publish(FEEDER_A, MID - BAND);
			assert_eq!(effective(), low);
			assert_eq!(ReferenceMid::<Test>::get(HKD_CNY), Some(MID - BAND));

			// The band follows the effective rate: 875_235_000 ± 43_761_750 now, which no longer
			// reaches MID + BAND, and reaches below MID - BAND.
			let (low_mid, low_band) = (MID - BAND, 43_761_750);
			assert_noop!(try_publish(FEEDER_B, MID + BAND), Error::<Test>::RateOutOfBand);
			assert_noop!(
				try_publish(FEEDER_B, low_mid + low_band + 1),
				Error::<Test>::RateOutOfBand
			);
			assert_noop!(
				try_publish(FEEDER_B, low_mid - low_band - 1),
				Error::<Test>::RateOutOfBand
			);
			publish(FEEDER_B, low_mid - low_band);
			publish(FEEDER_C, low_mid + low_band);
		});
	}

	#[test]
	fn without_a_fresh_rate_the_band_centres_on_the_last_effective_mid() {
		test(|| {
			let high = MID + BAND; // 967_365_000, whose 5 % are 48_368_250
			publish_for(FEEDER_A, high, MINUTE);
			set_time(T0 + HOUR); // A's rate and the opening rate have lapsed
			assert_eq!(FxRate::current_rate(HKD_CNY), Err(QuoteError::NoFreshRate));
			assert_eq!(ReferenceMid::<Test>::get(HKD_CNY), Some(high));
			assert_noop!(try_publish(FEEDER_B, high + 48_368_251), Error::<Test>::RateOutOfBand);
			assert_noop!(try_publish(FEEDER_B, high - 48_368_251), Error::<Test>::RateOutOfBand);
			// Within the opening rate's band, but not the last effective one's.
			assert_noop!(try_publish(FEEDER_B, MID - 10_000_000), Error::<Test>::RateOutOfBand);
			// 10.25 % above the opening mid: within the last effective rate's band.
			let b = publish(FEEDER_B, high + 48_368_250);
			assert_eq!(effective(), b);
			assert_eq!(ReferenceMid::<Test>::get(HKD_CNY), Some(high + 48_368_250));
		});
	}

	#[test]
	fn the_admin_is_not_bound_by_the_band_and_the_band_follows_its_rate() {
		test(|| {
			let far = MID + 3 * BAND; // 15 % above the effective rate
			assert_noop!(try_publish(FEEDER_A, far), Error::<Test>::RateOutOfBand);
			let admin = admin_publish(far, HOUR);
			assert_eq!(effective(), admin);
			assert_eq!(ReferenceMid::<Test>::get(HKD_CNY), Some(far));
			// Feeders now publish around the admin's rate, not the opening one.
			assert_noop!(try_publish(FEEDER_A, MID), Error::<Test>::RateOutOfBand);
			let a = publish(FEEDER_A, far + far / 20);
			assert_eq!(effective(), a);
		});
	}

	#[test]
	fn a_pair_that_never_had_a_rate_takes_feeder_rates_only_after_the_admin_published_one() {
		test(|| {
			let usd_hkd = Pair::new(USD, HKD);
			let usd_hkd_mid = 7_800_000_000;
			assert_ok!(FxRate::configure_pair(root(), usd_hkd, hkd_cny_limits()));
			assert_ok!(FxRate::add_feeder(root(), usd_hkd, FEEDER_D));
			assert_eq!(ReferenceMid::<Test>::get(usd_hkd), None);
			assert_eq!(FxRate::current_rate(usd_hkd), Err(QuoteError::NoFreshRate));
			for mid in [1, usd_hkd_mid, MAX_RATE] {
				assert_noop!(
					FxRate::publish_rate(signed(FEEDER_D), usd_hkd, mid, SPREAD, MINUTE),
					Error::<Test>::NoReferenceRate
				);
			}
			assert_ok!(FxRate::force_publish_rate(root(), usd_hkd, usd_hkd_mid, SPREAD, MINUTE));
			assert_ok!(FxRate::publish_rate(
				signed(FEEDER_D),
				usd_hkd,
				usd_hkd_mid + usd_hkd_mid / 20,
				SPREAD,
				MINUTE
			));
			assert_eq!(FxRate::current_rate(usd_hkd).unwrap().0, last_id());
			// Its rates lapse; the band remains.
			set_time(T0 + 2 * MINUTE);
			assert_eq!(FxRate::current_rate(usd_hkd), Err(QuoteError::NoFreshRate));
			assert_noop!(
				FxRate::publish_rate(signed(FEEDER_D), usd_hkd, 2 * usd_hkd_mid, SPREAD, MINUTE),
				Error::<Test>::RateOutOfBand
			);
		});
	}
}

mod quota {
	use super::*;

	#[test]
	fn a_feeder_publishes_at_most_its_quota_per_prune_bucket() {
		test(|| {
			for _ in 0..QUOTA {
				publish(FEEDER_A, MID);
			}
			assert_eq!(Publications::<Test>::get(FEEDER_A), Some((bucket_of(T0), QUOTA)));
			assert_noop!(try_publish(FEEDER_A, MID), Error::<Test>::PublicationQuotaExhausted);
			// Each feeder has a quota of its own.
			publish(FEEDER_B, MID);
			// Until the bucket ends.
			set_time(NEXT_BUCKET - 1);
			assert_noop!(try_publish(FEEDER_A, MID), Error::<Test>::PublicationQuotaExhausted);
			set_time(NEXT_BUCKET);
			for _ in 0..QUOTA {
				publish(FEEDER_A, MID);
			}
			assert_eq!(Publications::<Test>::get(FEEDER_A), Some((bucket_of(T0) + 1, QUOTA)));
			assert_noop!(try_publish(FEEDER_A, MID), Error::<Test>::PublicationQuotaExhausted);
		});
	}

	#[test]
	fn the_quota_counts_every_pair_a_feeder_feeds_and_survives_its_removal() {
		test(|| {
			let usd_hkd = Pair::new(USD, HKD);
			let usd_hkd_mid = 7_800_000_000;
			assert_ok!(FxRate::configure_pair(root(), usd_hkd, hkd_cny_limits()));
			assert_ok!(FxRate::force_publish_rate(root(), usd_hkd, usd_hkd_mid, SPREAD, HOUR));
			assert_ok!(FxRate::add_feeder(root(), usd_hkd, FEEDER_A));
			publish(FEEDER_A, MID);
			publish(FEEDER_A, MID);
			assert_ok!(FxRate::publish_rate(signed(FEEDER_A), usd_hkd, usd_hkd_mid, SPREAD, HOUR));
			assert_noop!(try_publish(FEEDER_A, MID), Error::<Test>::PublicationQuotaExhausted);
			assert_noop!(
				FxRate::publish_rate(signed(FEEDER_A), usd_hkd, usd_hkd_mid, SPREAD, HOUR),
				Error::<Test>::PublicationQuotaExhausted
			);
			// Removing and appointing the feeder again does not renew its quota.
			assert_ok!(FxRate::remove_feeder(root(), HKD_CNY, FEEDER_A));
			assert_ok!(FxRate::remove_feeder(root(), usd_hkd, FEEDER_A));
			assert_ok!(FxRate::add_feeder(root(), HKD_CNY, FEEDER_A));
			assert_noop!(try_publish(FEEDER_A, MID), Error::<Test>::PublicationQuotaExhausted);
		});
	}

	#[test]
	fn rates_are_bucketed_by_publication_time_whatever_their_validity() {
		test(|| {
			let short = publish_for(FEEDER_A, MID, SECOND);
			let long = publish_for(FEEDER_B, MID, HOUR);
			let admin = admin_publish(MID, 30 * MINUTE);
			assert_eq!(
				PruneQueue::<Test>::get(bucket_of(T0)).into_inner(),
				vec![OPENING, short, long, admin]
			);
			assert_eq!(PruneQueue::<Test>::iter().count(), 1);
		});
	}

	#[test]
	fn feeders_at_their_quota_never_fill_a_bucket() {
		test(|| {
			let usd_hkd = Pair::new(USD, HKD);
			let usd_hkd_mid = 7_800_000_000;
			assert_ok!(FxRate::configure_pair(root(), usd_hkd, hkd_cny_limits()));
			assert_ok!(FxRate::force_publish_rate(root(), usd_hkd, usd_hkd_mid, SPREAD, HOUR));
			assert_ok!(FxRate::add_feeder(root(), HKD_CNY, FEEDER_D));
			assert_ok!(FxRate::add_feeder(root(), usd_hkd, 14));
			assert_ok!(FxRate::add_feeder(root(), usd_hkd, 15));
			assert_eq!(FeederTotal::<Test>::get(), MAX_FEEDER_ACCOUNTS);
			let hkd_cny_feeders = [FEEDER_A, FEEDER_B, FEEDER_C, FEEDER_D];
			let usd_hkd_feeders = [14, 15];

			// Every feeder account publishes its whole quota into one bucket.
			set_time(NEXT_BUCKET);
			let bucket = bucket_of(NEXT_BUCKET);
			assert!(PruneQueue::<Test>::get(bucket).is_empty());
			for _ in 0..QUOTA {
				for feeder in hkd_cny_feeders {
					publish(feeder, MID);
				}
				for feeder in usd_hkd_feeders {
					assert_ok!(FxRate::publish_rate(
						signed(feeder),
						usd_hkd,
						usd_hkd_mid,
						SPREAD,
						HOUR
					));
				}
			}
			for feeder in hkd_cny_feeders {
				assert_noop!(try_publish(feeder, MID), Error::<Test>::PublicationQuotaExhausted);
			}
			for feeder in usd_hkd_feeders {
				assert_noop!(
					FxRate::publish_rate(signed(feeder), usd_hkd, usd_hkd_mid, SPREAD, HOUR),
					Error::<Test>::PublicationQuotaExhausted
				);
			}
			let by_feeders = MAX_FEEDER_ACCOUNTS * QUOTA;
			assert_eq!(PruneQueue::<Test>::get(bucket).len() as u32, by_feeders);

			// The bucket still has room, for the admin.
			for _ in by_feeders..MAX_RATES_PER_BUCKET {
				admin_publish(MID, HOUR);
			}
			assert_noop!(
				FxRate::force_publish_rate(root(), HKD_CNY, MID, SPREAD, HOUR),
				Error::<Test>::RateStoreFull
			);
		});
	}

	#[test]
	fn feeders_replaced_within_the_hour_still_leave_the_admin_its_room() {
		test(|| {
			assert_ok!(FxRate::add_feeder(root(), HKD_CNY, FEEDER_D));
			set_time(NEXT_BUCKET);
			let bucket = bucket_of(NEXT_BUCKET);
			// Four feeders at their quota, then two replaced by fresh accounts that publish
			// their own quotas into the same bucket: feeders stop at their share of it.
			for feeder in [FEEDER_A, FEEDER_B, FEEDER_C, FEEDER_D] {
				for _ in 0..QUOTA {
					publish(feeder, MID);
				}
			}
			for (old, new) in [(FEEDER_A, 20), (FEEDER_B, 21)] {
				assert_ok!(FxRate::remove_feeder(root(), HKD_CNY, old));
				assert_ok!(FxRate::add_feeder(root(), HKD_CNY, new));
			}
			for _ in 0..(MAX_FEEDER_ACCOUNTS - 4) * QUOTA {
				let feeder = if PruneQueue::<Test>::get(bucket).len() % 2 == 0 { 20 } else { 21 };
				publish(feeder, MID);
			}
			assert_eq!(PruneQueue::<Test>::get(bucket).len() as u32, MAX_FEEDER_ACCOUNTS * QUOTA);
			// A third newcomer within its quota finds the feeders' share taken.
			assert_ok!(FxRate::remove_feeder(root(), HKD_CNY, FEEDER_C));
			assert_ok!(FxRate::add_feeder(root(), HKD_CNY, 22));
			assert_noop!(try_publish(22, MID), Error::<Test>::RateStoreFull);
			// The admin's room is intact.
			for _ in MAX_FEEDER_ACCOUNTS * QUOTA..MAX_RATES_PER_BUCKET {
				admin_publish(MID, HOUR);
			}
		});
	}
}

mod min_feeds {
	use super::*;

	#[test]
	fn with_min_feeds_two_one_fresh_feed_is_not_effective_and_two_are() {
		test(|| {
			reconfigure(|l| l.min_feeds = 2);
			let a = publish(FEEDER_A, MID + 10);
			// One feed: the opening admin rate stays effective, and A's cannot be posted at.
			assert_eq!(effective(), OPENING);
			assert_eq!(post(a), Err(QuoteError::RateNotEffective));
			assert_eq!(
				last_event(),
				Event::RatePublished {
					rate_id: a,
					pair: HKD_CNY,
					feeder: Some(FEEDER_A),
					mid: MID + 10,
					spread: SPREAD,
					valid_until: T0 + 10 * MINUTE,
				}
			);
			let b = publish(FEEDER_B, MID + 20);
			// Two feeds: their median (the upper of two).
			assert_eq!(effective(), b);
			assert_eq!(
				last_event(),
				Event::EffectiveRateChanged { pair: HKD_CNY, rate_id: Some(b) }
			);
			assert_eq!(post(b).unwrap().mid, MID + 20);
		});
	}

	#[test]
	fn without_a_fresh_admin_rate_too_few_feeds_give_no_rate() {
		test(|| {
			reconfigure(|l| l.min_feeds = 2);
			set_time(T0 + 50 * MINUTE);
			let a = publish_for(FEEDER_A, MID + 10, 30 * MINUTE);
			assert_eq!(effective(), OPENING);
			set_time(T0 + HOUR); // the opening rate lapsed; A's is fresh, but alone
			assert_eq!(FxRate::current_rate(HKD_CNY), Err(QuoteError::NoFreshRate));
			assert_eq!(quote(HKD, CNY, 100, QuoteSide::ExactSource), Err(QuoteError::NoFreshRate));
			assert_eq!(post(a), Err(QuoteError::RateNotEffective));
			let b = publish(FEEDER_B, MID - 10);
			// MID - 10 and MID + 10: the upper one.
			assert_eq!(effective(), a);
			assert_eq!(post(a).unwrap().rate_id, a);
			assert_eq!(post(b), Err(QuoteError::RateNotEffective));
		});
	}
}

mod admin_rates {
	use super::*;

	#[test]
	fn an_admin_rate_supersedes_older_feeds_until_min_feeds_feeders_publish_after_it() {
		test(|| {
			reconfigure(|l| l.min_feeds = 2);
			let a = publish(FEEDER_A, MID + 10);
			let b = publish(FEEDER_B, MID + 20);
			let c = publish(FEEDER_C, MID + 30);
			assert_eq!(effective(), b);
			set_time(T0 + SECOND);
			let new_mid = MID + 2 * BAND;
			let admin = admin_publish(new_mid, HOUR);
			// A, B and C's rates are fresh, but older than the admin's.
			assert_eq!(effective(), admin);
			assert_eq!(post(a), Err(QuoteError::RateNotEffective));
			assert_eq!(post(c), Err(QuoteError::RateNotEffective));
			// B's was effective until now: citable for the grace period.
			assert_eq!(post(b).unwrap().rate_id, b);

			// One feed after the admin's rate is not enough (C's older one does not count).
			set_time(T0 + 2 * SECOND);
			let a2 = publish(FEEDER_A, new_mid + 10);
			assert_eq!(effective(), admin);
			assert_eq!(post(a2), Err(QuoteError::RateNotEffective));
			// Two are.
			let c2 = publish(FEEDER_C, new_mid + 20);
			assert_eq!(effective(), c2);
			assert_eq!(post(admin).unwrap().rate_id, admin);
		});
	}

	#[test]
	fn older_feeds_do_not_come_back_when_the_admin_rate_lapses() {
		test(|| {
			publish_for(FEEDER_A, MID + 10, HOUR);
			publish_for(FEEDER_B, MID + 20, HOUR);
			let admin = admin_publish(MID, MINUTE);
			assert_eq!(effective(), admin);
			set_time(T0 + MINUTE);
			assert_eq!(FxRate::current_rate(HKD_CNY), Err(QuoteError::NoFreshRate));
		});
	}

	#[test]
	fn with_min_feeds_one_the_first_feed_after_the_admin_rate_takes_over() {
		test(|| {
			let a = publish(FEEDER_A, MID + 10);
			let admin = admin_publish(MID, HOUR);
			assert_eq!(effective(), admin);
			assert_eq!(post(a).unwrap().rate_id, a); // superseded just now: in its grace period
			let b = publish(FEEDER_B, MID - 10);
			assert_eq!(effective(), b);
		});
	}
}

mod grace {
	use super::*;

	#[test]
	fn a_superseded_rate_can_be_posted_at_until_exactly_the_grace_period_after() {
		test(|| {
			let a = publish(FEEDER_A, MID);
			// The opening rate was superseded at T0; it stays fresh for an hour, but is
			// citable for a minute only.
			assert_eq!(Superseded::<Test>::get(HKD_CNY).into_inner(), vec![(OPENING, T0)]);
			set_time(T0 + GRACE);
			assert_eq!(post(OPENING).unwrap().rate_id, OPENING);
			set_time(T0 + GRACE + 1);
			assert_eq!(post(OPENING), Err(QuoteError::RateNotEffective));

			let superseded_at = T0 + 2 * MINUTE;
			set_time(superseded_at);
			let b = publish(FEEDER_B, MID + 10);
			assert_eq!(effective(), b);
			assert!(Superseded::<Test>::get(HKD_CNY).contains(&(a, superseded_at)));
			let at_a = post(a).unwrap();
			assert_eq!((at_a.rate_id, at_a.mid), (a, MID));
			set_time(superseded_at + GRACE);
			assert_eq!(post(a).unwrap().rate_id, a);
			set_time(superseded_at + GRACE + 1);
			assert_eq!(post(a), Err(QuoteError::RateNotEffective));
			assert_eq!(post(b).unwrap().rate_id, b);
		});
	}

	#[test]
	fn the_grace_period_is_the_pairs_current_one() {
		test(|| {
			let a = publish(FEEDER_A, MID);
			set_time(T0 + SECOND);
			publish(FEEDER_B, MID + 10);
			reconfigure(|l| l.grace_period = 10 * MINUTE);
			// Five minutes after A's rate was superseded: beyond a minute, within ten.
			set_time(T0 + SECOND + 5 * MINUTE);
			assert_eq!(post(a).unwrap().rate_id, a);
			reconfigure(|l| l.grace_period = 0);
			assert_eq!(post(a), Err(QuoteError::RateNotEffective));
		});
	}

	#[test]
	fn a_superseded_rate_must_still_be_fresh() {
		test(|| {
			let a = publish_for(FEEDER_A, MID, 30 * SECOND);
			set_time(T0 + 10 * SECOND);
			publish(FEEDER_B, MID + 10);
			set_time(T0 + 30 * SECOND - 1);
			assert_eq!(post(a).unwrap().rate_id, a);
			set_time(T0 + 30 * SECOND); // within grace, but stale
			assert_eq!(post(a), Err(QuoteError::RateNotValid));
		});
	}

	#[test]
	fn a_fresh_rate_that_is_not_the_effective_one_cannot_be_posted_at() {
		test(|| {
			publish(FEEDER_A, MID);
			let b = publish(FEEDER_B, MID + 10);
			let c = publish(FEEDER_C, MID + BAND);
			// The median is B's. C's is fresh, and the cheapest for a payer in HKD, but it was
			// never the effective rate.
			assert_eq!(effective(), b);
			let at_b = post(b).unwrap();
			let (_, at_c) = conversion::convert(
				MID + BAND,
				SPREAD,
				CurrencyInfo { numeric: 344, minor_units: 2 },
				CurrencyInfo { numeric: 156, minor_units: 2 },
				Direction::BaseToQuote,
				QuoteSide::ExactSource,
				at_b.source_amount,
			)
			.unwrap();
			assert!(at_c > at_b.target_amount);
			assert_eq!(post(c), Err(QuoteError::RateNotEffective));
			// Nor later, while it is fresh.
			set_time(T0 + 5 * MINUTE);
			assert_eq!(post(c), Err(QuoteError::RateNotEffective));
		});
	}

	#[test]
	fn each_change_of_the_effective_rate_is_announced_and_remembered() {
		test(|| {
			let a = publish(FEEDER_A, MID + 10);
			assert_eq!(
				last_event(),
				Event::EffectiveRateChanged { pair: HKD_CNY, rate_id: Some(a) }
			);
			assert_eq!(Superseded::<Test>::get(HKD_CNY).into_inner(), vec![(OPENING, T0)]);
			// A publication that leaves the effective rate as it was announces no change.
			set_time(T0 + SECOND);
			let b = publish(FEEDER_B, MID);
			assert_eq!(effective(), a);
			assert!(matches!(last_event(), Event::RatePublished { rate_id, .. } if rate_id == b));
			assert_eq!(Superseded::<Test>::get(HKD_CNY).len(), 1);
			// One that changes it does, and remembers the one it replaced with the moment.
			set_time(T0 + 2 * SECOND);
			let c = publish(FEEDER_C, MID + 20);
			assert_eq!(effective(), a); // MID, MID+10, MID+20: still A's
			set_time(T0 + 3 * SECOND);
			let a2 = publish(FEEDER_A, MID + 30);
			assert_eq!(effective(), c); // MID, MID+20, MID+30
			assert_eq!(
				last_event(),
				Event::EffectiveRateChanged { pair: HKD_CNY, rate_id: Some(c) }
			);
			assert_eq!(
				Superseded::<Test>::get(HKD_CNY).into_inner(),
				vec![(OPENING, T0), (a, T0 + 3 * SECOND)]
			);
			assert_eq!(ReferenceMid::<Test>::get(HKD_CNY), Some(MID + 20));
			// A's own earlier rate is citable in its grace period; its new one is not effective.
			assert_eq!(post(a).unwrap().rate_id, a);
			assert_eq!(post(a2), Err(QuoteError::RateNotEffective));
		});
	}

	#[test]
	fn at_most_the_last_16_superseded_rates_are_kept_and_none_past_its_grace() {
		test(|| {
			// 17 admin publications at T0: each supersedes the one before.
			let ids: Vec<RateId> = (1..=17).map(|i| admin_publish(MID + i, HOUR)).collect();
			let superseded = Superseded::<Test>::get(HKD_CNY);
			assert_eq!(superseded.len(), 16);
			assert_eq!(superseded.first(), Some(&(ids[0], T0)));
			assert_eq!(superseded.last(), Some(&(ids[15], T0)));
			// The opening rate was pushed out early: refused although within its grace period.
			assert_eq!(post(OPENING), Err(QuoteError::RateNotEffective));
			assert_eq!(post(ids[0]).unwrap().rate_id, ids[0]);

			// Entries past their grace period go at the next change.
			set_time(T0 + GRACE + 1);
			admin_publish(MID, HOUR);
			assert_eq!(
				Superseded::<Test>::get(HKD_CNY).into_inner(),
				vec![(ids[16], T0 + GRACE + 1)]
			);
		});
	}
}

mod max_validity {
	use super::*;

	#[test]
	fn the_opening_rate_is_stale_exactly_at_its_pairs_max_validity() {
		test(|| {
			set_time(T0 + HOUR - 1);
			assert_eq!(effective(), OPENING);
			assert_eq!(post(OPENING).unwrap().valid_until, T0 + HOUR);
			set_time(T0 + HOUR);
			assert_eq!(FxRate::current_rate(HKD_CNY), Err(QuoteError::NoFreshRate));
			assert_eq!(post(OPENING), Err(QuoteError::RateNotValid));
		});
	}

	#[test]
	fn lowering_max_validity_cuts_existing_rates_short() {
		test(|| {
			let a = publish_for(FEEDER_A, MID, 30 * MINUTE);
			set_time(T0 + 10 * MINUTE);
			assert_eq!(post(a).unwrap().valid_until, T0 + 30 * MINUTE);
			reconfigure(|l| l.max_validity = 20 * MINUTE);
			// Still fresh, but for 20 minutes from its publication only.
			assert_eq!(effective(), a);
			assert_eq!(post(a).unwrap().valid_until, T0 + 20 * MINUTE);
			assert_eq!(
				quote(HKD, CNY, 100, QuoteSide::ExactSource).unwrap().valid_until,
				T0 + 20 * MINUTE
			);
			set_time(T0 + 20 * MINUTE - 1);
			assert_eq!(effective(), a);
			set_time(T0 + 20 * MINUTE);
			assert_eq!(FxRate::current_rate(HKD_CNY), Err(QuoteError::NoFreshRate));
			assert_eq!(post(a), Err(QuoteError::RateNotValid));
		});
	}

	#[test]
	fn lowering_max_validity_below_a_rates_age_ends_it_at_once() {
		test(|| {
			let a = publish_for(FEEDER_A, MID, 30 * MINUTE);
			set_time(T0 + 10 * MINUTE);
			reconfigure(|l| l.max_validity = 5 * MINUTE);
			// A's rate and the opening one are both older than five minutes.
			assert_eq!(FxRate::current_rate(HKD_CNY), Err(QuoteError::NoFreshRate));
			assert_eq!(last_event(), Event::EffectiveRateChanged { pair: HKD_CNY, rate_id: None });
			assert_eq!(post(a), Err(QuoteError::RateNotValid));
			assert_eq!(post(OPENING), Err(QuoteError::RateNotValid));
			// New rates live five minutes at most.
			assert_noop!(
				FxRate::publish_rate(signed(FEEDER_B), HKD_CNY, MID, SPREAD, 5 * MINUTE + 1),
				Error::<Test>::ValidityTooLong
			);
			let b = publish_for(FEEDER_B, MID, 5 * MINUTE);
			assert_eq!(effective(), b);
		});
	}
}

mod rates_and_quotes {
	use super::*;

	#[test]
	fn the_effective_rate_is_the_median_of_an_odd_number_of_feeds() {
		test(|| {
			publish(FEEDER_A, MID + 30);
			let b = publish(FEEDER_B, MID + 10);
			publish(FEEDER_C, MID + 20);
			publish(FEEDER_A, MID); // replaces A's earlier rate: feeds are MID, MID+10, MID+20
			let (id, rate) = FxRate::current_rate(HKD_CNY).unwrap();
			assert_eq!(rate.mid, MID + 10);
			assert_eq!(id, b);
		});
	}

	#[test]
	fn an_even_number_of_feeds_takes_the_upper_middle_one() {
		test(|| {
			publish(FEEDER_A, MID);
			let b = publish(FEEDER_B, MID + 40);
			assert_eq!(FxRate::current_rate(HKD_CNY).unwrap().0, b);
			assert_ok!(FxRate::add_feeder(root(), HKD_CNY, FEEDER_D));
			publish(FEEDER_C, MID + 10);
			let d = publish(FEEDER_D, MID + 20);
			// MID, MID+10, MID+20, MID+40: the upper middle is MID+20.
			let (id, rate) = FxRate::current_rate(HKD_CNY).unwrap();
			assert_eq!((id, rate.mid), (d, MID + 20));
		});
	}

	#[test]
	fn equal_mids_resolve_to_the_later_publication() {
		test(|| {
			publish(FEEDER_A, MID);
			let b = publish(FEEDER_B, MID);
			assert_eq!(FxRate::current_rate(HKD_CNY).unwrap().0, b);
		});
	}

	#[test]
	fn stale_feeds_do_not_count_and_staleness_starts_exactly_at_valid_until() {
		test(|| {
			let a = publish_for(FEEDER_A, MID, MINUTE);
			set_time(T0 + 30_000);
			let b = publish_for(FEEDER_B, MID + 100, MINUTE);
			// Both fresh: the upper of two.
			assert_eq!(FxRate::current_rate(HKD_CNY).unwrap().1.mid, MID + 100);

			set_time(T0 + MINUTE - 1);
			assert_eq!(effective(), b);
			set_time(T0 + MINUTE); // A's rate is stale from this very millisecond
			assert_eq!(effective(), b);
			assert_eq!(
				FxRate::quote_for_posting(
					a,
					HKD,
					CNY,
					100,
					QuoteSide::ExactSource,
					T0 + MINUTE - 1
				)
				.unwrap()
				.rate_id,
				a
			);
			assert_eq!(post(a), Err(QuoteError::RateNotValid));

			// Once both feeds are stale, the opening admin rate is effective again.
			set_time(T0 + 30_000 + MINUTE);
			assert_eq!(effective(), OPENING);
			set_time(T0 + HOUR);
			assert_eq!(FxRate::current_rate(HKD_CNY), Err(QuoteError::NoFreshRate));
			assert_eq!(quote(HKD, CNY, 100, QuoteSide::ExactSource), Err(QuoteError::NoFreshRate));
		});
	}

	#[test]
	fn a_pair_never_published_has_no_rate() {
		test(|| {
			let usd_hkd = Pair::new(USD, HKD);
			assert_eq!(FxRate::current_rate(usd_hkd), Err(QuoteError::UnknownPair));
			assert_ok!(FxRate::configure_pair(root(), usd_hkd, hkd_cny_limits()));
			assert_eq!(FxRate::current_rate(usd_hkd), Err(QuoteError::NoFreshRate));
			assert_eq!(quote(USD, HKD, 100, QuoteSide::ExactSource), Err(QuoteError::NoFreshRate));
		});
	}

	#[test]
	fn quotes_carry_the_rate_id_rate_and_validity() {
		test(|| {
			let id = publish(FEEDER_A, MID);
			// A merchant's 92.13 CNY price: the wallet pays HKD at the bid (0.92037870).
			let q = quote(HKD, CNY, 9_213, QuoteSide::ExactTarget).unwrap();
			assert_eq!((q.rate_id, q.source, q.target, q.target_amount), (id, HKD, CNY, 9_213));
			assert_eq!(q.source_amount, 10_011); // 92.13 / 0.9203787 = 100.1001… → 100.11 HKD
			assert_eq!(q.mid, MID);
			assert_eq!(q.applied_rate, 920_378_700);
			assert_eq!(q.valid_until, T0 + 10 * MINUTE);
			assert_eq!(q.pair, HKD_CNY);
			// And what that buys, paid exactly: at least the price.
			let back = quote(HKD, CNY, q.source_amount, QuoteSide::ExactSource).unwrap();
			assert!(back.target_amount >= 9_213);
			// A posting at the same rate gets the same amounts.
			let posted =
				FxRate::quote_for_posting(id, HKD, CNY, 9_213, QuoteSide::ExactTarget, T0).unwrap();
			assert_eq!(posted, q);
		});
	}

	#[test]
	fn one_minor_unit_and_the_largest_amounts_in_both_directions() {
		test(|| {
			publish(FEEDER_A, MID);
			// 0.01 CNY costs 0.02 HKD (0.0108… rounded up).
			assert_eq!(quote(HKD, CNY, 1, QuoteSide::ExactTarget).unwrap().source_amount, 2);
			// 0.01 HKD buys 0.0092 CNY: nothing, refused.
			assert_eq!(
				quote(HKD, CNY, 1, QuoteSide::ExactSource),
				Err(QuoteError::AmountOutOfRange)
			);
			// 0.01 CNY buys 0.0108… HKD → 0.01 HKD.
			assert_eq!(quote(CNY, HKD, 1, QuoteSide::ExactSource).unwrap().target_amount, 1);
			// 0.01 HKD costs 0.0092… CNY → 0.01 CNY.
			assert_eq!(quote(CNY, HKD, 1, QuoteSide::ExactTarget).unwrap().source_amount, 1);

			// The largest amounts: converted where the result fits, refused where it does not.
			assert!(quote(HKD, CNY, u128::MAX, QuoteSide::ExactSource).is_ok());
			assert_eq!(
				quote(CNY, HKD, u128::MAX, QuoteSide::ExactSource),
				Err(QuoteError::AmountOutOfRange)
			);
			assert_eq!(
				quote(HKD, CNY, u128::MAX, QuoteSide::ExactTarget),
				Err(QuoteError::AmountOutOfRange)
			);
			assert!(quote(CNY, HKD, u128::MAX, QuoteSide::ExactTarget).is_ok());
		});
	}

	#[test]
	fn the_reverse_direction_is_the_inverse_of_the_ask() {
		test(|| {
			publish(FEEDER_A, MID);
			let q = quote(CNY, HKD, 100_000, QuoteSide::ExactSource).unwrap();
			assert_eq!((q.source, q.target, q.pair), (CNY, HKD, HKD_CNY));
			// ask = 0.9213 × 1.001 = 0.9222213; 1000.00 CNY / ask = 1084.3384… HKD → 1084.33.
			assert_eq!(q.applied_rate, 922_221_300);
			assert_eq!(q.target_amount, 108_433);
		});
	}

	#[test]
	fn nonsense_requests_get_named_errors() {
		test(|| {
			publish(FEEDER_A, MID);
			assert_eq!(quote(HKD, HKD, 100, QuoteSide::ExactSource), Err(QuoteError::SameCurrency));
			assert_eq!(
				quote(HKD, crate::CurrencyCode(*b"XXX"), 100, QuoteSide::ExactSource),
				Err(QuoteError::UnknownCurrency)
			);
			assert_eq!(quote(HKD, USD, 100, QuoteSide::ExactSource), Err(QuoteError::UnknownPair));
			assert_eq!(quote(HKD, CNY, 0, QuoteSide::ExactSource), Err(QuoteError::ZeroAmount));
			assert_eq!(post(77), Err(QuoteError::UnknownRateId));
			assert_ok!(FxRate::configure_pair(root(), Pair::new(USD, HKD), hkd_cny_limits()));
			assert_eq!(
				FxRate::quote_for_posting(0, USD, HKD, 100, QuoteSide::ExactSource, T0),
				Err(QuoteError::RatePairMismatch)
			);
			// Before it was published, a rate is not valid either.
			assert_eq!(
				FxRate::quote_for_posting(0, HKD, CNY, 100, QuoteSide::ExactSource, T0 - 1),
				Err(QuoteError::RateNotValid)
			);
			assert_eq!(
				FxRate::quote_for_posting(0, HKD, CNY, 0, QuoteSide::ExactSource, T0),
				Err(QuoteError::ZeroAmount)
			);
		});
	}

	#[test]
	fn quote_errors_map_to_the_dispatch_errors_of_the_same_name() {
		use QuoteError::*;
		for e in [
			UnknownCurrency,
			UnknownPair,
			PairDisabled,
			NoFreshRate,
			UnknownRateId,
			RateNotValid,
			RatePairMismatch,
			SameCurrency,
			ZeroAmount,
			AmountOutOfRange,
			RateNotEffective,
			RateWithdrawn,
		] {
			let name: &'static str = Error::<Test>::from(e).into();
			assert_eq!(name, format!("{e:?}"));
		}
	}

	#[test]
	fn the_new_quote_errors_are_appended_so_old_encodings_keep_their_meaning() {
		assert_eq!(QuoteError::UnknownCurrency.encode(), vec![0]);
		assert_eq!(QuoteError::AmountOutOfRange.encode(), vec![9]);
		assert_eq!(QuoteError::RateNotEffective.encode(), vec![10]);
		assert_eq!(QuoteError::RateWithdrawn.encode(), vec![11]);
	}
}

mod pruning {
	use super::*;

	fn run_block(n: u64, now: u64) {
		System::set_block_number(n);
		set_time(now);
		FxRate::on_initialize(n);
	}

	#[test]
	fn rates_are_kept_for_the_retention_period_after_going_stale_then_pruned() {
		test(|| {
			run_block(2, T0); // the pallet starts its prune cursor at the current bucket
			let id = publish(FEEDER_A, MID);
			let bucket = (T0 + DAY + RETENTION) / BUCKET;
			assert_eq!(PruneQueue::<Test>::get(bucket).into_inner(), vec![OPENING, id]);

			// A day after the longest validity a rate could have, it is still there to check
			// postings against.
			run_block(3, T0 + 2 * DAY);
			assert!(Rates::<Test>::get(id).is_some());
			assert!(
				FxRate::quote_for_posting(id, HKD, CNY, 100, QuoteSide::ExactSource, T0).is_ok()
			);

			// Once its whole bucket has passed, it is pruned (a few buckets a block at most).
			let mut n = 4;
			while Rates::<Test>::get(id).is_some() {
				assert!(n < 10_000, "never pruned");
				run_block(n, (bucket + 1) * BUCKET);
				n += 1;
			}
			assert_eq!(last_event(), Event::RatesPruned { count: 2 });
			assert_eq!(Rates::<Test>::get(OPENING), None);
			assert_eq!(
				FxRate::quote_for_posting(id, HKD, CNY, 100, QuoteSide::ExactSource, T0),
				Err(QuoteError::UnknownRateId)
			);
			assert!(PruneQueue::<Test>::get(bucket).is_empty());
		});
	}

	#[test]
	fn nothing_is_pruned_before_its_bucket_has_passed() {
		test(|| {
			run_block(2, T0);
			let id = publish(FEEDER_A, MID);
			let bucket = (T0 + DAY + RETENTION) / BUCKET;
			for n in 3..2_000 {
				run_block(n, bucket * BUCKET + BUCKET - 1);
			}
			assert!(Rates::<Test>::get(id).is_some());
		});
	}
}

mod genesis {
	use super::*;
	use sp_runtime::BuildStorage;

	fn build(rates: Vec<(Pair, u128, Permill, Moment)>) -> Result<sp_runtime::Storage, String> {
		RuntimeGenesisConfig { system: Default::default(), fx_rate: hkd_cny_genesis(rates) }
			.build_storage()
	}

	#[test]
	fn genesis_rates_are_admin_rates_published_when_the_clock_is_first_set() {
		let storage = build(vec![(HKD_CNY, MID, SPREAD, 30 * MINUTE)]).unwrap();
		sp_io::TestExternalities::new(storage).execute_with(|| {
			System::set_block_number(1);
			// Before the first block's clock there is the band's centre, but no rate.
			assert_eq!(ReferenceMid::<Test>::get(HKD_CNY), Some(MID));
			assert_eq!(Rates::<Test>::get(0), None);
			assert_eq!(FxRate::current_rate(HKD_CNY), Err(QuoteError::NoFreshRate));

			Timestamp::set_timestamp(T0);
			let (id, rate) = FxRate::current_rate(HKD_CNY).unwrap();
			assert_eq!(
				(id, rate.feeder, rate.mid, rate.published_at, rate.valid_until),
				(0, None, MID, T0, T0 + 30 * MINUTE)
			);
			assert_eq!(AdminRates::<Test>::get(HKD_CNY), Some(0));
			assert!(fx_events()
				.contains(&Event::EffectiveRateChanged { pair: HKD_CNY, rate_id: Some(0) }));
			assert!(quote(HKD, CNY, 10_000, QuoteSide::ExactSource).is_ok());

			// Published once only.
			Timestamp::set_timestamp(T0 + SECOND);
			assert_eq!(crate::NextRateId::<Test>::get(), 1);
			FxRate::do_try_state().unwrap();
		});
	}

	#[test]
	fn without_genesis_rates_feeders_wait_for_the_admin() {
		sp_io::TestExternalities::new(build(vec![]).unwrap()).execute_with(|| {
			System::set_block_number(1);
			Timestamp::set_timestamp(T0);
			assert_eq!(FxRate::current_rate(HKD_CNY), Err(QuoteError::NoFreshRate));
			assert_noop!(try_publish(FEEDER_A, MID), Error::<Test>::NoReferenceRate);
			admin_publish(MID, HOUR);
			assert_ok!(try_publish(FEEDER_A, MID));
			FxRate::do_try_state().unwrap();
		});
	}

	#[test]
	#[should_panic(expected = "genesis rate")]
	fn a_genesis_rate_wider_than_the_pairs_spread_does_not_build() {
		let _ = build(vec![(HKD_CNY, MID, Permill::from_percent(50), HOUR)]);
	}

	#[test]
	#[should_panic(expected = "genesis rate")]
	fn a_genesis_rate_valid_longer_than_the_pairs_max_validity_does_not_build() {
		let _ = build(vec![(HKD_CNY, MID, SPREAD, HOUR + 1)]);
	}

	#[test]
	#[should_panic(expected = "genesis pair")]
	fn a_genesis_pair_with_invalid_limits_does_not_build() {
		let mut fx_rate = hkd_cny_genesis(vec![]);
		fx_rate.pairs[0].1.min_feeds = 0;
		let _ = RuntimeGenesisConfig { system: Default::default(), fx_rate }.build_storage();
	}
}

mod properties {
	use super::*;
	use proptest::prelude::*;

	fn currency() -> impl Strategy<Value = CurrencyInfo> {
		(0u8..=crate::MAX_MINOR_UNITS)
			.prop_map(|minor_units| CurrencyInfo { numeric: 1, minor_units })
	}

	fn flip(d: Direction) -> Direction {
		match d {
			Direction::BaseToQuote => Direction::QuoteToBase,
			Direction::QuoteToBase => Direction::BaseToQuote,
		}
	}

	proptest! {
		#![proptest_config(ProptestConfig::with_cases(2_000))]

		/// Converting and converting back never returns more than was given.
		#[test]
		fn a_round_trip_never_creates_value(
			mid in 1u128..=MAX_RATE,
			spread in 0u32..=1_000_000,
			base in currency(),
			quote in currency(),
			amount in 1u128..=u64::MAX as u128,
			forward in prop_oneof![Just(Direction::BaseToQuote), Just(Direction::QuoteToBase)],
		) {
			let spread = Permill::from_parts(spread);
			let Ok((_, got)) = conversion::convert(mid, spread, base, quote, forward, QuoteSide::ExactSource, amount) else {
				return Ok(()); // out of range one way: nothing to convert back
			};
			if let Ok((_, back)) = conversion::convert(mid, spread, base, quote, flip(forward), QuoteSide::ExactSource, got) {
				prop_assert!(back <= amount, "{amount} became {got} and back {back}");
			}
		}

		/// An exact-target quote is the least amount that buys the target: paying it buys at
		/// least the target, one minor unit less does not, and the payee's excess is at most
		/// what one minor unit of the payer's currency buys.
		#[test]
		fn exact_target_is_the_least_sufficient_amount(
			mid in 1u128..=MAX_RATE,
			spread in 0u32..=1_000_000,
			base in currency(),
			quote in currency(),
			target in 1u128..=u64::MAX as u128,
			direction in prop_oneof![Just(Direction::BaseToQuote), Just(Direction::QuoteToBase)],
		) {
			let spread = Permill::from_parts(spread);
			let Ok((pay, _)) = conversion::convert(mid, spread, base, quote, direction, QuoteSide::ExactTarget, target) else {
				return Ok(());
			};
			let (_, bought) = conversion::convert(mid, spread, base, quote, direction, QuoteSide::ExactSource, pay).unwrap();
			prop_assert!(bought >= target);
			if pay > 1 {
				let less = conversion::convert(mid, spread, base, quote, direction, QuoteSide::ExactSource, pay - 1)
					.map(|(_, b)| b)
					.unwrap_or(0);
				prop_assert!(less < target, "paying {} already buys {less} ≥ {target}", pay - 1);
				// The excess is at most what one minor unit of the payer's currency buys.
				let unit = conversion::convert(mid, spread, base, quote, direction, QuoteSide::ExactSource, 1)
					.map(|(_, b)| b)
					.unwrap_or(0);
				prop_assert!(bought - target <= unit);
			}
		}

		/// The same through the pallet: quote then reverse quote at an HKD/CNY rate of any
		/// level (published by the admin, whom no band binds).
		#[test]
		fn pallet_quotes_round_trip_without_creating_value(
			mid in 100_000_000u128..10_000_000_000,
			amount in 1u128..1_000_000_000_000,
		) {
			new_test_ext().execute_with(|| {
				assert_ok!(FxRate::force_publish_rate(root(), HKD_CNY, mid, SPREAD, MINUTE));
				if let Ok(q) = FxRate::quote(HKD, CNY, amount, QuoteSide::ExactSource) {
					assert_eq!(q.mid, mid);
					if let Ok(back) = FxRate::quote(CNY, HKD, q.target_amount, QuoteSide::ExactSource) {
						assert!(back.target_amount <= amount);
					}
				}
			});
		}
	}
}

/// An issuer may cite any rate id it likes in a posting: whatever it picks, a posting goes
/// through only at a rate that was the pair's effective rate at some moment of the grace
/// period before it. And the effective rate itself, and one a call superseded within the grace
/// period, are always accepted (while fresh and not withdrawn).
mod any_rate_id {
	use super::*;
	use proptest::prelude::*;

	const FEEDERS: [u64; 3] = [FEEDER_A, FEEDER_B, FEEDER_C];
	/// What each posting converts: 10,000.00 HKD.
	const AMOUNT: u128 = 1_000_000;

	#[derive(Clone, Debug)]
	enum Step {
		/// A feeder publishes `permille` ‰ off the pair's reference (beyond ±50 ‰ it is out
		/// of band), valid for `secs` seconds.
		Publish { feeder: usize, permille: i64, secs: u64 },
		/// The admin publishes `permille` ‰ off the opening mid, valid for `secs` seconds.
		Admin { permille: i64, secs: u64 },
		/// The admin removes the feeder, or appoints it again if it was removed.
		ToggleFeeder { feeder: usize },
		/// The admin changes min_feeds and max_validity (the grace period stays).
		Reconfigure { min_feeds: u32, max_validity_secs: u64 },
		/// The clock advances by whole seconds.
		Tick { secs: u64 },
		/// The clock jumps to the start of the next prune bucket (quotas start afresh).
		NextBucket,
	}

	fn step() -> impl Strategy<Value = Step> {
		prop_oneof![
			6 => (0..3usize, -60i64..=60, 1u64..=20)
				.prop_map(|(feeder, permille, secs)| Step::Publish { feeder, permille, secs }),
			2 => (-200i64..=200, 1u64..=20).prop_map(|(permille, secs)| Step::Admin { permille, secs }),
			1 => (0..3usize).prop_map(|feeder| Step::ToggleFeeder { feeder }),
			1 => (1u32..=3, 3u64..=30).prop_map(|(min_feeds, max_validity_secs)| {
				Step::Reconfigure { min_feeds, max_validity_secs }
			}),
			6 => (1u64..=3).prop_map(|secs| Step::Tick { secs }),
			1 => Just(Step::NextBucket),
		]
	}

	/// `mid` moved by `permille` ‰, rounding the move down, so that ±50 ‰ stays in a 5 % band.
	fn moved(mid: u128, permille: i64) -> u128 {
		let delta = mid * permille.unsigned_abs() as u128 / 1_000;
		if permille < 0 {
			mid - delta
		} else {
			mid + delta
		}
	}

	fn effective_now() -> Option<RateId> {
		FxRate::current_rate(HKD_CNY).ok().map(|(id, _)| id)
	}

	#[derive(Default)]
	struct Model {
		grace: Moment,
		/// The effective rate at every whole second so far (and after every step).
		history: Vec<(Moment, Option<RateId>)>,
		/// Rates a call replaced as the effective one: `(id, when, how many before it)`;
		/// entries of a removed feeder are dropped.
		superseded: Vec<(RateId, Moment, usize)>,
		supersessions: usize,
	}

	impl Model {
		fn record(&mut self) {
			self.history.push((FxRate::now(), effective_now()));
		}

		fn was_effective_within_grace(&self, id: RateId, at: Moment) -> bool {
			self.history.iter().any(|(t, e)| *e == Some(id) && *t <= at && t + self.grace >= at)
		}

		/// Superseded by a call no more than the grace period ago, and not pushed out of the
		/// pallet's list (16 entries) by later ones.
		fn superseded_within_grace(&self, id: RateId, at: Moment) -> bool {
			self.superseded.iter().any(|(i, when, n)| {
				*i == id && at <= when + self.grace && self.supersessions - n <= 16
			})
		}

		fn note_call(&mut self, before: Option<RateId>, removed: Option<u64>) {
			if let Some(feeder) = removed {
				self.superseded.retain(|(id, ..)| {
					Rates::<Test>::get(id).is_none_or(|r| r.feeder != Some(feeder))
				});
			}
			let after = effective_now();
			if let Some(before) = before.filter(|b| Some(*b) != after) {
				let withdrawn = removed.is_some_and(|feeder| {
					Rates::<Test>::get(before).unwrap().feeder == Some(feeder)
				});
				if !withdrawn {
					self.superseded.push((before, FxRate::now(), self.supersessions));
					self.supersessions += 1;
				}
			}
		}
	}

	fn apply(step: &Step, model: &mut Model) -> Result<(), TestCaseError> {
		let now = FxRate::now();
		let before = effective_now();
		let limits = Pairs::<Test>::get(HKD_CNY).unwrap().limits;
		match *step {
			Step::Publish { feeder, permille, secs } => {
				let feeder = FEEDERS[feeder];
				// The band's centre is what the *other* feeders say: the median of their fresh
				// feeds after the admin's cut-off; without any, the admin rate while fresh, else
				// the last effective mid a call left.
				let cut_off = crate::AdminRates::<Test>::get(HKD_CNY);
				let fresh = |id: u64| {
					Rates::<Test>::get(id)
						.filter(|r| cut_off.is_none_or(|a| id > a) && r.usable_at(now, &limits))
				};
				let mut others: Vec<u128> = crate::Feeders::<Test>::iter_prefix(HKD_CNY)
					.filter(|(who, _)| *who != feeder)
					.filter_map(|(_, status)| status.latest_rate)
					.filter_map(fresh)
					.map(|r| r.mid)
					.collect();
				others.sort_unstable();
				let reference = others.get(others.len() / 2).copied().unwrap_or_else(|| {
					cut_off
						.and_then(|id| Rates::<Test>::get(id))
						.filter(|r| r.usable_at(now, &limits))
						.map(|r| r.mid)
						.or_else(|| ReferenceMid::<Test>::get(HKD_CNY))
						.unwrap()
				});
				let valid_for = secs * SECOND;
				let result = FxRate::publish_rate(
					signed(feeder),
					HKD_CNY,
					moved(reference, permille),
					SPREAD,
					valid_for,
				);
				if let Err(e) = result {
					let is = |expected: Error<Test>| e == DispatchError::from(expected);
					let explained = (is(Error::NotAFeederOfPair)
						&& !Feeders::<Test>::contains_key(HKD_CNY, feeder))
						|| (is(Error::ValidityTooLong) && valid_for > limits.max_validity)
						|| (is(Error::RateOutOfBand) && permille.abs() > 50)
						|| is(Error::PublicationQuotaExhausted)
						|| is(Error::RateStoreFull);
					prop_assert!(explained, "{step:?} refused: {e:?}");
				}
				model.note_call(before, None);
			}
			Step::Admin { permille, secs } => {
				let valid_for = secs * SECOND;
				let result = FxRate::force_publish_rate(
					root(),
					HKD_CNY,
					moved(MID, permille),
					SPREAD,
					valid_for,
				);
				if let Err(e) = result {
					let explained = (e == DispatchError::from(Error::<Test>::ValidityTooLong)
						&& valid_for > limits.max_validity)
						|| e == DispatchError::from(Error::<Test>::RateStoreFull);
					prop_assert!(explained, "{step:?} refused: {e:?}");
				}
				model.note_call(before, None);
			}
			Step::ToggleFeeder { feeder } => {
				let feeder = FEEDERS[feeder];
				if Feeders::<Test>::contains_key(HKD_CNY, feeder) {
					assert_ok!(FxRate::remove_feeder(root(), HKD_CNY, feeder));
					model.note_call(before, Some(feeder));
				} else {
					assert_ok!(FxRate::add_feeder(root(), HKD_CNY, feeder));
					prop_assert_eq!(effective_now(), before);
				}
			}
			Step::Reconfigure { min_feeds, max_validity_secs } => {
				let new =
					PairLimits { min_feeds, max_validity: max_validity_secs * SECOND, ..limits };
				assert_ok!(FxRate::configure_pair(root(), HKD_CNY, new));
				model.note_call(before, None);
			}
			Step::Tick { secs } => {
				for _ in 0..secs {
					set_time(FxRate::now() + SECOND);
					model.record();
				}
			}
			Step::NextBucket => {
				let next = (now / BUCKET + 1) * BUCKET;
				// Only the last grace period before it matters to postings from then on.
				let from = (next - model.grace - SECOND).max(now);
				if from > now {
					set_time(from);
					model.record();
				}
				while FxRate::now() < next {
					set_time(FxRate::now() + SECOND);
					model.record();
				}
			}
		}
		model.record();
		Ok(())
	}

	/// Every rate id there is (and one that is not), cited in a posting now.
	fn check_every_rate_id(model: &Model) -> Result<(), TestCaseError> {
		let now = FxRate::now();
		let limits = Pairs::<Test>::get(HKD_CNY).unwrap().limits;
		let effective = effective_now();
		for id in 0..=crate::NextRateId::<Test>::get() {
			match FxRate::quote_for_posting(id, HKD, CNY, AMOUNT, QuoteSide::ExactSource, now) {
				Ok(q) => {
					prop_assert_eq!(q.rate_id, id);
					prop_assert!(
						model.was_effective_within_grace(id, now),
						"rate {} accepted at {} but not effective in the {} ms before",
						id,
						now - T0,
						model.grace
					);
				}
				Err(e) => {
					prop_assert!(effective != Some(id), "the effective rate {id} refused: {e:?}");
					if let Some(rate) = Rates::<Test>::get(id) {
						let withdrawn =
							rate.feeder.is_some_and(|f| !Feeders::<Test>::contains_key(HKD_CNY, f));
						prop_assert!(
							!(rate.usable_at(now, &limits)
								&& !withdrawn && model.superseded_within_grace(id, now)),
							"rate {} superseded within grace refused at {}: {:?}",
							id,
							now - T0,
							e
						);
					}
				}
			}
		}
		Ok(())
	}

	proptest! {
		#![proptest_config(ProptestConfig::with_cases(128))]

		#[test]
		fn a_posting_gets_no_rate_but_one_effective_within_the_grace_period(
			grace_secs in 0u64..=10,
			min_feeds in 1u32..=3,
			max_validity_secs in 3u64..=30,
			steps in proptest::collection::vec(step(), 1..80),
		) {
			new_test_ext().execute_with(|| {
				let mut model = Model { grace: grace_secs * SECOND, ..Default::default() };
				model.record(); // the opening rate, effective from T0
				let before = effective_now();
				reconfigure(|l| {
					l.grace_period = grace_secs * SECOND;
					l.min_feeds = min_feeds;
					l.max_validity = max_validity_secs * SECOND;
				});
				model.note_call(before, None);
				model.record();
				check_every_rate_id(&model)?;
				for step in &steps {
					apply(step, &mut model)?;
					check_every_rate_id(&model)?;
				}
				prop_assert!(FxRate::do_try_state().is_ok());
				Ok(())
			})?;
		}
	}
}

#[test]
fn currency_codes_parse_and_serialize_as_iso_strings() {
	assert_eq!("HKD".parse::<crate::CurrencyCode>(), Ok(HKD));
	assert!("hkd".parse::<crate::CurrencyCode>().is_err());
	assert!("HKDX".parse::<crate::CurrencyCode>().is_err());
	assert_eq!(serde_json::to_string(&HKD_CNY).unwrap(), r#"{"base":"HKD","quote":"CNY"}"#);
	assert_eq!(serde_json::from_str::<crate::CurrencyCode>("\"CNY\"").unwrap(), CNY);
	assert!(serde_json::from_str::<crate::CurrencyCode>("\"C1Y\"").is_err());
}

#[test]
fn pair_limits_are_camel_case_in_chain_specs() {
	let json = serde_json::to_value(hkd_cny_limits()).unwrap();
	assert_eq!(
		json,
		serde_json::json!({
			"maxSpread": 20_000,
			"maxValidity": HOUR,
			"gracePeriod": GRACE,
			"minFeeds": 1,
			"maxDeviation": 50_000,
		})
	);
	assert_eq!(serde_json::from_value::<PairLimits>(json).unwrap(), hkd_cny_limits());
}
