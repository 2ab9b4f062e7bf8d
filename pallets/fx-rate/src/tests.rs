//! Tests of every call, every error and the quote rules, on the mock runtime.

use crate::{
	conversion::{self, Direction},
	mock::*,
	CurrencyInfo, Error, Event, FeederCount, Pair, PairConfig, Pairs, PruneQueue, QuoteError,
	QuoteSide, RateRecord, Rates, MAX_RATE,
};
use frame_support::{assert_noop, assert_ok, traits::Hooks};
use sp_runtime::{DispatchError, Permill};

/// 1 HKD = 0.9213 CNY.
const MID: u128 = 921_300_000;
const SPREAD: Permill = Permill::from_parts(2_000); // 0.2 %

fn root() -> RuntimeOrigin {
	RuntimeOrigin::root()
}

fn signed(who: u64) -> RuntimeOrigin {
	RuntimeOrigin::signed(who)
}

fn publish(feeder: u64, mid: u128) -> u64 {
	assert_ok!(FxRate::publish_rate(signed(feeder), HKD_CNY, mid, SPREAD, 10 * MINUTE));
	crate::NextRateId::<Test>::get() - 1
}

fn last_event() -> Event<Test> {
	System::events()
		.into_iter()
		.filter_map(|r| if let RuntimeEvent::FxRate(e) = r.event { Some(e) } else { None })
		.last()
		.expect("an FxRate event")
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
			assert_ok!(FxRate::configure_pair(root(), pair, Permill::from_percent(1), HOUR));
			assert_eq!(
				Pairs::<Test>::get(pair),
				Some(PairConfig {
					enabled: true,
					max_spread: Permill::from_percent(1),
					max_validity: HOUR
				})
			);
			assert_eq!(
				last_event(),
				Event::PairConfigured {
					pair,
					max_spread: Permill::from_percent(1),
					max_validity: HOUR
				}
			);
			// Reconfiguring a disabled pair changes limits, not the enabled state or feeders.
			assert_ok!(FxRate::set_pair_enabled(root(), HKD_CNY, false));
			assert_ok!(FxRate::configure_pair(
				signed(CLEARING_BANK),
				HKD_CNY,
				Permill::from_percent(5),
				DAY
			));
			let config = Pairs::<Test>::get(HKD_CNY).unwrap();
			assert!(!config.enabled);
			assert_eq!(config.max_validity, DAY);
			assert_eq!(FeederCount::<Test>::get(HKD_CNY), 3);
		});
	}

	#[test]
	fn every_refusal_is_named_and_changes_nothing() {
		test(|| {
			let p = Permill::from_percent(1);
			assert_noop!(
				FxRate::configure_pair(signed(STRANGER), Pair::new(USD, HKD), p, HOUR),
				DispatchError::BadOrigin
			);
			assert_noop!(
				FxRate::configure_pair(root(), Pair::new(USD, USD), p, HOUR),
				Error::<Test>::SameCurrency
			);
			let xxx = crate::CurrencyCode(*b"XXX");
			assert_noop!(
				FxRate::configure_pair(root(), Pair::new(USD, xxx), p, HOUR),
				Error::<Test>::UnknownCurrency
			);
			assert_noop!(
				FxRate::configure_pair(root(), HKD_CNY.reversed(), p, HOUR),
				Error::<Test>::ReversePairConfigured
			);
			assert_noop!(
				FxRate::configure_pair(
					root(),
					Pair::new(USD, HKD),
					Permill::from_percent(11),
					HOUR
				),
				Error::<Test>::MaxSpreadTooWide
			);
			assert_noop!(
				FxRate::configure_pair(root(), Pair::new(USD, HKD), p, 0),
				Error::<Test>::ZeroValidity
			);
			assert_noop!(
				FxRate::configure_pair(root(), Pair::new(USD, HKD), p, DAY + 1),
				Error::<Test>::MaxValidityTooLong
			);
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
			assert_noop!(
				FxRate::publish_rate(signed(FEEDER_A), HKD_CNY, MID, SPREAD, MINUTE),
				Error::<Test>::PairDisabled
			);
			// Its rates stay retrievable by id.
			assert!(Rates::<Test>::get(id).is_some());

			assert_ok!(FxRate::set_pair_enabled(root(), HKD_CNY, true));
			assert!(quote(HKD, CNY, 100, QuoteSide::ExactSource).is_ok());
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
			assert_ok!(FxRate::add_feeder(root(), HKD_CNY, FEEDER_D));
			assert_eq!(last_event(), Event::FeederAdded { pair: HKD_CNY, feeder: FEEDER_D });
			assert_eq!(FeederCount::<Test>::get(HKD_CNY), 4);
			assert_ok!(FxRate::remove_feeder(signed(CLEARING_BANK), HKD_CNY, FEEDER_D));
			assert_eq!(last_event(), Event::FeederRemoved { pair: HKD_CNY, feeder: FEEDER_D });
			assert_eq!(FeederCount::<Test>::get(HKD_CNY), 3);
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
			assert_ok!(FxRate::configure_pair(root(), usd_cny, Permill::from_percent(1), MINUTE));
			assert!(!FxRate::is_feeder(&FEEDER_D));
			assert_ok!(FxRate::add_feeder(root(), HKD_CNY, FEEDER_D));
			assert_ok!(FxRate::add_feeder(root(), usd_cny, FEEDER_D));
			assert_eq!(crate::FeederPairs::<Test>::get(FEEDER_D), Some(2));
			assert_ok!(FxRate::remove_feeder(root(), HKD_CNY, FEEDER_D));
			assert!(FxRate::is_feeder(&FEEDER_D));
			assert_ok!(FxRate::remove_feeder(root(), usd_cny, FEEDER_D));
			assert!(!FxRate::is_feeder(&FEEDER_D));
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
	fn a_removed_feeders_rate_stops_counting_but_stays_checkable() {
		test(|| {
			let a = publish(FEEDER_A, MID);
			assert_eq!(FxRate::current_rate(HKD_CNY).unwrap().0, a);
			assert_ok!(FxRate::remove_feeder(root(), HKD_CNY, FEEDER_A));
			assert_eq!(FxRate::current_rate(HKD_CNY), Err(QuoteError::NoFreshRate));
			assert!(FxRate::quote_at_rate(a, HKD, CNY, 100, QuoteSide::ExactSource, T0).is_ok());
		});
	}
}

mod publish_rate {
	use super::*;

	#[test]
	fn publishes_with_a_new_id_and_validity_from_now() {
		test(|| {
			assert_ok!(FxRate::publish_rate(signed(FEEDER_A), HKD_CNY, MID, SPREAD, 10 * MINUTE));
			assert_eq!(
				last_event(),
				Event::RatePublished {
					rate_id: 0,
					pair: HKD_CNY,
					feeder: FEEDER_A,
					mid: MID,
					spread: SPREAD,
					valid_until: T0 + 10 * MINUTE
				}
			);
			assert_eq!(
				Rates::<Test>::get(0),
				Some(RateRecord {
					pair: HKD_CNY,
					feeder: FEEDER_A,
					mid: MID,
					spread: SPREAD,
					published_at: T0,
					valid_until: T0 + 10 * MINUTE
				})
			);
			assert_eq!(publish(FEEDER_A, MID + 1), 1);
			assert_eq!(
				crate::Feeders::<Test>::get(HKD_CNY, FEEDER_A).unwrap().latest_rate,
				Some(1)
			);
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
			assert_ok!(FxRate::configure_pair(
				root(),
				Pair::new(USD, HKD),
				Permill::from_percent(1),
				HOUR
			));
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
				FxRate::publish_rate(RuntimeOrigin::none(), HKD_CNY, MID, SPREAD, MINUTE),
				DispatchError::BadOrigin
			);
			// At the limits everything is accepted.
			assert_ok!(ok(FEEDER_A, HKD_CNY, MAX_RATE, Permill::from_percent(2), HOUR));
		});
	}

	#[test]
	fn a_full_prune_bucket_refuses_further_rates_that_would_go_into_it() {
		test(|| {
			for i in 0..MAX_RATES_PER_BUCKET {
				publish(FEEDER_A, MID + i as u128);
			}
			assert_noop!(
				FxRate::publish_rate(signed(FEEDER_B), HKD_CNY, MID, SPREAD, 10 * MINUTE),
				Error::<Test>::RateStoreFull
			);
			// A validity that prunes in another bucket still goes in.
			assert_ok!(FxRate::publish_rate(signed(FEEDER_B), HKD_CNY, MID, SPREAD, HOUR));
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
			assert_ok!(FxRate::publish_rate(signed(FEEDER_A), HKD_CNY, MID, SPREAD, MINUTE));
			set_time(T0 + 30_000);
			assert_ok!(FxRate::publish_rate(signed(FEEDER_B), HKD_CNY, MID + 100, SPREAD, MINUTE));
			// Both fresh: the upper of two.
			assert_eq!(FxRate::current_rate(HKD_CNY).unwrap().1.mid, MID + 100);

			set_time(T0 + MINUTE - 1);
			assert_eq!(FxRate::current_rate(HKD_CNY).unwrap().0, 1);
			set_time(T0 + MINUTE); // A's rate is stale from this very millisecond
			assert_eq!(FxRate::current_rate(HKD_CNY).unwrap().0, 1);
			assert_eq!(
				FxRate::quote_at_rate(0, HKD, CNY, 100, QuoteSide::ExactSource, T0 + MINUTE - 1)
					.unwrap()
					.rate_id,
				0
			);
			assert_eq!(
				FxRate::quote_at_rate(0, HKD, CNY, 100, QuoteSide::ExactSource, T0 + MINUTE),
				Err(QuoteError::RateNotValid)
			);

			set_time(T0 + 30_000 + MINUTE);
			assert_eq!(FxRate::current_rate(HKD_CNY), Err(QuoteError::NoFreshRate));
			assert_eq!(quote(HKD, CNY, 100, QuoteSide::ExactSource), Err(QuoteError::NoFreshRate));
		});
	}

	#[test]
	fn a_pair_never_published_has_no_rate() {
		test(|| {
			assert_eq!(FxRate::current_rate(HKD_CNY), Err(QuoteError::NoFreshRate));
			assert_eq!(FxRate::current_rate(Pair::new(USD, HKD)), Err(QuoteError::UnknownPair));
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
			assert_eq!(
				FxRate::quote_at_rate(77, HKD, CNY, 100, QuoteSide::ExactSource, T0),
				Err(QuoteError::UnknownRateId)
			);
			assert_ok!(FxRate::configure_pair(
				root(),
				Pair::new(USD, HKD),
				Permill::from_percent(1),
				HOUR
			));
			assert_eq!(
				FxRate::quote_at_rate(0, USD, HKD, 100, QuoteSide::ExactSource, T0),
				Err(QuoteError::RatePairMismatch)
			);
			// Before it was published, a rate is not valid either.
			assert_eq!(
				FxRate::quote_at_rate(0, HKD, CNY, 100, QuoteSide::ExactSource, T0 - 1),
				Err(QuoteError::RateNotValid)
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
		] {
			let name: &'static str = Error::<Test>::from(e).into();
			assert_eq!(name, format!("{e:?}"));
		}
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
			let valid_until = T0 + 10 * MINUTE;
			let bucket = (valid_until + RETENTION) / BUCKET;
			assert_eq!(PruneQueue::<Test>::get(bucket).into_inner(), vec![id]);

			// A day after it went stale it is still there to check postings against.
			run_block(3, valid_until + DAY);
			assert!(FxRate::quote_at_rate(id, HKD, CNY, 100, QuoteSide::ExactSource, T0).is_ok());

			// Once its whole bucket has passed, it is pruned (a few buckets a block at most).
			let mut n = 4;
			while Rates::<Test>::get(id).is_some() {
				assert!(n < 10_000, "never pruned");
				run_block(n, (bucket + 1) * BUCKET);
				n += 1;
			}
			assert_eq!(last_event(), Event::RatesPruned { count: 1 });
			assert_eq!(
				FxRate::quote_at_rate(id, HKD, CNY, 100, QuoteSide::ExactSource, T0),
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
			let bucket = (T0 + 10 * MINUTE + RETENTION) / BUCKET;
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

	fn build(spread: Permill) -> Result<sp_runtime::Storage, String> {
		let rates = vec![(HKD_CNY, FEEDER_A, MID, spread, u64::MAX / 2)];
		RuntimeGenesisConfig { system: Default::default(), fx_rate: hkd_cny_genesis(rates) }
			.build_storage()
	}

	#[test]
	fn genesis_rates_are_published_like_any_other() {
		sp_io::TestExternalities::new(build(SPREAD).unwrap()).execute_with(|| {
			set_time(T0);
			let (id, rate) = FxRate::current_rate(HKD_CNY).unwrap();
			assert_eq!((id, rate.mid, rate.published_at), (0, MID, 0));
			assert!(quote(HKD, CNY, 10_000, QuoteSide::ExactSource).is_ok());
			FxRate::do_try_state().unwrap();
		});
	}

	#[test]
	#[should_panic(expected = "genesis rate")]
	fn a_genesis_rate_outside_the_pairs_limits_does_not_build() {
		let _ = build(Permill::from_percent(50));
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

		/// The same through the pallet: quote then reverse quote at the published HKD/CNY rate.
		#[test]
		fn pallet_quotes_round_trip_without_creating_value(
			mid in 100_000_000u128..10_000_000_000,
			amount in 1u128..1_000_000_000_000,
		) {
			new_test_ext().execute_with(|| {
				assert_ok!(FxRate::publish_rate(signed(FEEDER_A), HKD_CNY, mid, SPREAD, MINUTE));
				if let Ok(q) = FxRate::quote(HKD, CNY, amount, QuoteSide::ExactSource) {
					if let Ok(back) = FxRate::quote(CNY, HKD, q.target_amount, QuoteSide::ExactSource) {
						assert!(back.target_amount <= amount);
					}
				}
			});
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
