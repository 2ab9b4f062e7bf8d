use crate::{mock::*, *};
use codec::Encode;
use frame_support::{assert_noop, assert_ok, dispatch::DispatchResult};
use pallet_fx_rate::{Moment, QuoteSide, RateId, RATE_SCALE};
use sp_core::Pair as _;
use sp_runtime::{DispatchError, MultiSignature, Permill};

type Error = crate::Error<Test>;
type Event = crate::Event<Test>;

fn id(s: &str) -> OrderId {
	s.as_bytes().to_vec().try_into().unwrap()
}

fn reference(s: &str) -> ExternalRef {
	s.as_bytes().to_vec().try_into().unwrap()
}

fn code(s: &str) -> ParticipantCode {
	s.as_bytes().to_vec().try_into().unwrap()
}

fn name(s: &str) -> ParticipantName {
	s.as_bytes().to_vec().try_into().unwrap()
}

fn signed(who: &AccountId) -> RuntimeOrigin {
	RuntimeOrigin::signed(who.clone())
}

fn bank() -> RuntimeOrigin {
	signed(&clearing_bank())
}

/// The HKD a CNY price costs at `rate_id` now.
fn hkd_for(cny: u128, rate_id: RateId) -> u128 {
	FxRate::quote_for_posting(rate_id, HKD, CNY, cny, QuoteSide::ExactTarget, FxRate::now())
		.unwrap()
		.source_amount
}

/// An instruction from `issuer()` to `acquirer()` for `cny` at the genesis rate.
fn instruction(order: &str, cny: u128) -> PaymentInstruction<AccountId> {
	instruction_between(issuer(), acquirer(), order, cny)
}

fn instruction_between(
	issuer: AccountId,
	acquirer: AccountId,
	order: &str,
	cny: u128,
) -> PaymentInstruction<AccountId> {
	instruction_for(issuer, acquirer, order, cny, hkd_for(cny, GENESIS_RATE))
}

/// An instruction with the amounts as given, converted or not.
fn instruction_for(
	issuer: AccountId,
	acquirer: AccountId,
	order: &str,
	cny: u128,
	hkd: u128,
) -> PaymentInstruction<AccountId> {
	PaymentInstruction {
		issuer,
		acquirer,
		acquirer_order_id: id(order),
		issuer_order_id: id(&format!("ISS-{order}")),
		aggregator_order_id: id(&format!("AGG-{order}")),
		merchant_id: id("M-100200"),
		scenario: Scenario::CustomerPresented,
		debit_currency: HKD,
		debit_amount: hkd,
		credit_currency: CNY,
		credit_amount: cny,
		rate_id: GENESIS_RATE,
		expires_at: Moment::MAX,
	}
}

fn genesis_hash() -> <Test as frame_system::Config>::Hash {
	System::block_hash(0)
}

fn sign_with(key_name: &str, i: &PaymentInstruction<AccountId>) -> MultiSignature {
	key(key_name).sign(&instruction_signing_payload(&genesis_hash(), i)).into()
}

/// The signature of the instruction's own issuer key.
fn issuer_signature(i: &PaymentInstruction<AccountId>) -> MultiSignature {
	let name = if i.issuer == issuer2() { "Issuer2" } else { "Issuer" };
	sign_with(name, i)
}

fn post(i: &PaymentInstruction<AccountId>) -> DispatchResult {
	ClearingBank::post_payment(signed(&i.acquirer), i.clone(), issuer_signature(i))
}

fn balance(who: &AccountId, currency: CurrencyCode) -> i128 {
	Accounts::<Test>::get(who, currency).balance
}

fn last_event() -> Event {
	System::events()
		.into_iter()
		.rev()
		.find_map(|r| match r.event {
			RuntimeEvent::ClearingBank(e) => Some(e),
			_ => None,
		})
		.expect("an event of the pallet")
}

fn refund(order: &str, refund_id: &str, cny: u128) -> DispatchResult {
	ClearingBank::refund(signed(&acquirer()), id(order), id(refund_id), cny)
}

#[test]
fn genesis_registers_funds_and_opens_cycle_one() {
	test(|| {
		assert_eq!(ClearingBankAccount::<Test>::get(), Some(clearing_bank()));
		let p = Participants::<Test>::get(issuer()).unwrap();
		assert_eq!(p.role, ParticipantRole::Issuer);
		assert_eq!(p.status, ParticipantStatus::Active);
		assert_eq!(ParticipantCodes::<Test>::get(code("ACQCN01")), Some(acquirer()));
		assert_eq!(
			Accounts::<Test>::get(issuer(), HKD),
			SettlementAccount { balance: ISSUER_HKD as i128, debit_limit: ISSUER_LIMIT }
		);
		assert_eq!(balance(&acquirer(), CNY), ACQUIRER_CNY as i128);
		assert_eq!(Totals::<Test>::get(HKD).funded, 2 * ISSUER_HKD);
		assert!(Transfers::<Test>::contains_key(reference("GENESIS-1")));
		assert_eq!(CurrentCycle::<Test>::get(), 1);
		assert_eq!(Cycles::<Test>::get(1).unwrap().status, CycleStatus::Open);
	});
}

// ---- Who may call what ----------------------------------------------------------------------

/// Every call of the clearing bank's, with the origins that may and may not make it.
#[test]
fn clearing_bank_calls_take_root_or_the_clearing_bank_and_no_one_else() {
	let calls: Vec<(&str, Box<dyn Fn(RuntimeOrigin) -> DispatchResult>)> = vec![
		(
			"register_participant",
			Box::new(|o| {
				ClearingBank::register_participant(
					o,
					account("New"),
					ParticipantRole::Issuer,
					code("NEW01"),
					name("New"),
				)
			}),
		),
		("suspend_participant", Box::new(|o| ClearingBank::suspend_participant(o, issuer2()))),
		("set_debit_limit", Box::new(|o| ClearingBank::set_debit_limit(o, issuer(), HKD, 7))),
		("fund", Box::new(|o| ClearingBank::fund(o, issuer(), HKD, 5, reference("RTGS-X")))),
		(
			"withdraw",
			Box::new(|o| ClearingBank::withdraw(o, issuer(), HKD, 5, reference("RTGS-Y"))),
		),
		("close_cycle", Box::new(|o| ClearingBank::close_cycle(o))),
	];
	for (call, make) in &calls {
		for refused in [issuer(), acquirer(), feeder(), stranger()] {
			test(|| {
				assert_noop!(make(signed(&refused)), DispatchError::BadOrigin);
			});
		}
		test(|| {
			assert_noop!(make(RuntimeOrigin::none()), DispatchError::BadOrigin);
		});
		test(|| {
			assert_eq!(make(RuntimeOrigin::root()), Ok(()), "{call} as root");
		});
		test(|| {
			assert_eq!(make(bank()), Ok(()), "{call} as the clearing bank");
		});
	}
	// Reinstating and settling need something to reinstate or settle first.
	for origin in [RuntimeOrigin::root(), bank()] {
		test(|| {
			assert_ok!(ClearingBank::suspend_participant(bank(), issuer2()));
			assert_noop!(
				ClearingBank::reinstate_participant(signed(&issuer2()), issuer2()),
				DispatchError::BadOrigin
			);
			assert_ok!(ClearingBank::reinstate_participant(origin.clone(), issuer2()));
			assert_ok!(ClearingBank::close_cycle(bank()));
			assert_noop!(
				ClearingBank::settle_cycle(signed(&acquirer()), 1, reference("S1")),
				DispatchError::BadOrigin
			);
			assert_ok!(ClearingBank::settle_cycle(origin, 1, reference("S1")));
		});
	}
}

#[test]
fn only_root_sets_the_clearing_bank() {
	test(|| {
		let new_bank = account("NewBank");
		assert_noop!(
			ClearingBank::set_clearing_bank(bank(), new_bank.clone()),
			DispatchError::BadOrigin
		);
		assert_noop!(
			ClearingBank::set_clearing_bank(RuntimeOrigin::root(), issuer()),
			Error::AccountIsParticipant
		);
		assert_ok!(ClearingBank::set_clearing_bank(RuntimeOrigin::root(), new_bank.clone()));
		assert_eq!(last_event(), Event::ClearingBankSet { account: new_bank.clone() });
		// The old clearing bank lost its powers, the new one has them.
		assert_noop!(ClearingBank::close_cycle(bank()), DispatchError::BadOrigin);
		assert_ok!(ClearingBank::close_cycle(signed(&new_bank)));
	});
}

fn usd_cny_limits() -> pallet_fx_rate::PairLimits {
	pallet_fx_rate::PairLimits {
		max_spread: Permill::from_percent(1),
		max_validity: HOUR,
		grace_period: MINUTE,
		min_feeds: 1,
		max_deviation: Permill::from_percent(5),
	}
}

#[test]
fn the_clearing_bank_administers_fx_rates_too() {
	test(|| {
		let pair = pallet_fx_rate::Pair::new(USD, CNY);
		assert_ok!(FxRate::configure_pair(bank(), pair, usd_cny_limits()));
		assert_noop!(
			FxRate::configure_pair(signed(&issuer()), pair, usd_cny_limits()),
			DispatchError::BadOrigin
		);
		assert_ok!(FxRate::force_publish_rate(bank(), pair, 7 * RATE_SCALE, Permill::zero(), HOUR));
		assert_noop!(
			FxRate::force_publish_rate(
				signed(&feeder()),
				pair,
				7 * RATE_SCALE,
				Permill::zero(),
				HOUR
			),
			DispatchError::BadOrigin
		);
	});
}

#[test]
fn only_the_instructions_acquirer_posts_and_refunds() {
	test(|| {
		let i = instruction("A-1", 10_000);
		let sig = issuer_signature(&i);
		// The issuer cannot post its own instruction: neither side posts alone.
		for who in [issuer(), clearing_bank(), feeder(), stranger()] {
			assert_noop!(
				ClearingBank::post_payment(signed(&who), i.clone(), sig.clone()),
				Error::NotAnAcquirer
			);
		}
		assert_noop!(
			ClearingBank::post_payment(signed(&acquirer2()), i.clone(), sig.clone()),
			Error::AcquirerMismatch
		);
		assert_noop!(
			ClearingBank::post_payment(RuntimeOrigin::root(), i.clone(), sig.clone()),
			DispatchError::BadOrigin
		);
		assert_ok!(post(&i));
		for who in [issuer(), clearing_bank(), stranger()] {
			assert_noop!(
				ClearingBank::refund(signed(&who), id("A-1"), id("R-1"), 1),
				Error::NotAnAcquirer
			);
		}
		// Another acquirer's order ids are not this acquirer's.
		assert_noop!(
			ClearingBank::refund(signed(&acquirer2()), id("A-1"), id("R-1"), 1),
			Error::UnknownPosting
		);
		assert_noop!(
			ClearingBank::refund(RuntimeOrigin::root(), id("A-1"), id("R-1"), 1),
			DispatchError::BadOrigin
		);
	});
}

// ---- Participants ---------------------------------------------------------------------------

#[test]
fn registering_checks_code_name_and_uniqueness() {
	test(|| {
		let reg = |who: AccountId, c: &[u8], n: &[u8]| {
			ClearingBank::register_participant(
				bank(),
				who,
				ParticipantRole::Acquirer,
				c.to_vec().try_into().unwrap(),
				n.to_vec().try_into().unwrap(),
			)
		};
		let new = account("New");
		assert_noop!(reg(new.clone(), b"", b"New"), Error::MalformedParticipantCode);
		assert_noop!(reg(new.clone(), b"acq-lower", b"New"), Error::MalformedParticipantCode);
		assert_noop!(reg(new.clone(), b"ACQ 1", b"New"), Error::MalformedParticipantCode);
		assert_noop!(reg(new.clone(), b"NEW01", b""), Error::MalformedParticipantName);
		assert_noop!(reg(new.clone(), b"NEW01", &[0xff, 0xfe]), Error::MalformedParticipantName);
		assert_noop!(reg(new.clone(), b"ACQCN01", b"New"), Error::ParticipantCodeTaken);
		assert_noop!(reg(acquirer(), b"NEW01", b"New"), Error::ParticipantAlreadyRegistered);
		assert_noop!(reg(clearing_bank(), b"NEW01", b"New"), Error::AccountIsClearingBank);
		assert_ok!(reg(new.clone(), b"NEW-01", "新收单行".as_bytes()));
		assert_eq!(
			last_event(),
			Event::ParticipantRegistered {
				who: new.clone(),
				role: ParticipantRole::Acquirer,
				code: code("NEW-01")
			}
		);
		assert!(Participants::<Test>::get(new).unwrap().is_active());
	});
}

#[test]
fn suspending_and_reinstating() {
	test(|| {
		assert_noop!(
			ClearingBank::suspend_participant(bank(), stranger()),
			Error::UnknownParticipant
		);
		assert_noop!(
			ClearingBank::reinstate_participant(bank(), issuer()),
			Error::ParticipantNotSuspended
		);
		assert_ok!(ClearingBank::suspend_participant(bank(), issuer()));
		assert_eq!(last_event(), Event::ParticipantSuspended { who: issuer() });
		assert_noop!(
			ClearingBank::suspend_participant(bank(), issuer()),
			Error::ParticipantAlreadySuspended
		);
		assert_ok!(ClearingBank::reinstate_participant(bank(), issuer()));
		assert_eq!(last_event(), Event::ParticipantReinstated { who: issuer() });
		assert!(Participants::<Test>::get(issuer()).unwrap().is_active());
	});
}

#[test]
fn a_suspended_party_neither_posts_nor_is_posted_to() {
	test(|| {
		assert_ok!(post(&instruction("A-0", 1_000)));
		assert_ok!(ClearingBank::suspend_participant(bank(), acquirer()));
		assert_noop!(post(&instruction("A-1", 1_000)), Error::AcquirerSuspended);
		assert_noop!(refund("A-0", "R-0", 100), Error::AcquirerSuspended);
		assert_ok!(ClearingBank::reinstate_participant(bank(), acquirer()));

		assert_ok!(ClearingBank::suspend_participant(bank(), issuer()));
		assert_noop!(post(&instruction("A-1", 1_000)), Error::IssuerSuspended);
		assert_noop!(refund("A-0", "R-0", 100), Error::IssuerSuspended);
		// The clearing bank still funds a suspended participant.
		assert_ok!(ClearingBank::fund(bank(), issuer(), HKD, 1, reference("RTGS-S")));
		assert_ok!(ClearingBank::reinstate_participant(bank(), issuer()));
		assert_ok!(post(&instruction("A-1", 1_000)));
		assert_ok!(refund("A-0", "R-0", 100));
	});
}

// ---- Funding, withdrawals, limits -----------------------------------------------------------

#[test]
fn fundings_and_withdrawals_move_balances_and_totals_once_per_reference() {
	test(|| {
		let before = balance(&acquirer(), CNY);
		assert_ok!(ClearingBank::fund(bank(), acquirer(), CNY, 5_000, reference("RTGS-1")));
		assert_eq!(
			last_event(),
			Event::AccountFunded {
				who: acquirer(),
				currency: CNY,
				amount: 5_000,
				reference: reference("RTGS-1"),
				balance: before + 5_000
			}
		);
		// The same funding again is recorded once.
		assert_ok!(ClearingBank::fund(bank(), acquirer(), CNY, 5_000, reference("RTGS-1")));
		assert_eq!(last_event(), Event::TransferAlreadyRecorded { reference: reference("RTGS-1") });
		assert_eq!(balance(&acquirer(), CNY), before + 5_000);
		// A different transfer under the same reference is refused.
		assert_noop!(
			ClearingBank::fund(bank(), acquirer(), CNY, 5_001, reference("RTGS-1")),
			Error::ReferenceConflict
		);
		assert_noop!(
			ClearingBank::withdraw(bank(), acquirer(), CNY, 5_000, reference("RTGS-1")),
			Error::ReferenceConflict
		);
		assert_ok!(ClearingBank::withdraw(bank(), acquirer(), CNY, 2_000, reference("RTGS-2")));
		assert_eq!(balance(&acquirer(), CNY), before + 3_000);
		assert_eq!(
			Totals::<Test>::get(CNY),
			CurrencyTotals { funded: 2 * ACQUIRER_CNY + 5_000, withdrawn: 2_000 }
		);
	});
}

#[test]
fn bad_fundings_and_withdrawals_are_refused() {
	test(|| {
		let fund = |who: AccountId, cur, amount, r: &[u8]| {
			ClearingBank::fund(bank(), who, cur, amount, r.to_vec().try_into().unwrap())
		};
		assert_noop!(fund(issuer(), HKD, 0, b"R1"), Error::ZeroAmount);
		assert_noop!(fund(issuer(), EUR, 1, b"R1"), Error::UnknownCurrency);
		assert_noop!(fund(stranger(), HKD, 1, b"R1"), Error::UnknownParticipant);
		assert_noop!(fund(clearing_bank(), HKD, 1, b"R1"), Error::UnknownParticipant);
		assert_noop!(fund(issuer(), HKD, 1, b""), Error::MalformedIdentifier);
		assert_noop!(fund(issuer(), HKD, 1, b"RTGS 1"), Error::MalformedIdentifier);
		assert_noop!(fund(issuer(), HKD, u128::MAX, b"R1"), Error::BalanceOverflow);
		// Withdrawals never use the debit limit.
		let all = balance(&issuer(), HKD) as u128;
		assert_noop!(
			ClearingBank::withdraw(bank(), issuer(), HKD, all + 1, reference("W1")),
			Error::InsufficientBalance
		);
		assert_ok!(ClearingBank::withdraw(bank(), issuer(), HKD, all, reference("W1")));
		assert_eq!(balance(&issuer(), HKD), 0);
	});
}

#[test]
fn debit_limits_are_set_per_account() {
	test(|| {
		assert_ok!(ClearingBank::set_debit_limit(bank(), acquirer(), CNY, 123));
		assert_eq!(
			last_event(),
			Event::DebitLimitSet { who: acquirer(), currency: CNY, limit: 123 }
		);
		assert_eq!(Accounts::<Test>::get(acquirer(), CNY).debit_limit, 123);
		assert_noop!(
			ClearingBank::set_debit_limit(bank(), stranger(), CNY, 1),
			Error::UnknownParticipant
		);
		assert_noop!(
			ClearingBank::set_debit_limit(bank(), acquirer(), EUR, 1),
			Error::UnknownCurrency
		);
		assert_noop!(
			ClearingBank::set_debit_limit(bank(), acquirer(), CNY, u128::MAX),
			Error::BalanceOverflow
		);
	});
}

// ---- Postings -------------------------------------------------------------------------------

#[test]
fn a_posting_debits_the_issuer_credits_the_acquirer_and_the_fx_book_takes_both_other_sides() {
	test(|| {
		let i = instruction("A-1", 10_000); // CNY 100.00
		let hkd = i.debit_amount;
		// 100 CNY at the bid of 0.9213 less 0.1 %: HKD 108.66 after rounding up.
		assert_eq!(hkd, 10_866);
		assert_ok!(post(&i));
		assert_eq!(
			last_event(),
			Event::PaymentPosted {
				posting_id: 0,
				cycle: 1,
				issuer: issuer(),
				acquirer: acquirer(),
				acquirer_order_id: id("A-1"),
				issuer_order_id: id("ISS-A-1"),
				debit_currency: HKD,
				debit_amount: hkd,
				credit_currency: CNY,
				credit_amount: 10_000,
				rate_id: GENESIS_RATE,
			}
		);
		assert_eq!(balance(&issuer(), HKD), (ISSUER_HKD - hkd) as i128);
		assert_eq!(balance(&acquirer(), CNY), (ACQUIRER_CNY + 10_000) as i128);
		assert_eq!(FxBook::<Test>::get(HKD), hkd as i128);
		assert_eq!(FxBook::<Test>::get(CNY), -10_000);
		let p = Postings::<Test>::get(0).unwrap();
		assert_eq!(p.instruction, i);
		assert_eq!(p.status(), PostingStatus::Posted);
		assert_eq!(p.posted_at, T0);
		assert_eq!(AcquirerOrders::<Test>::get(acquirer(), id("A-1")), Some(0));
		assert_eq!(IssuerOrders::<Test>::get(issuer(), id("ISS-A-1")), Some(0));
		assert_eq!(NetPositions::<Test>::get((1, issuer(), HKD)), -(hkd as i128));
		assert_eq!(NetPositions::<Test>::get((1, acquirer(), CNY)), 10_000);
	});
}

#[test]
fn every_scenario_posts() {
	test(|| {
		for (n, scenario) in
			[Scenario::CustomerPresented, Scenario::DynamicQr, Scenario::StaticQr, Scenario::InApp]
				.into_iter()
				.enumerate()
		{
			let mut i = instruction(&format!("S-{n}"), 500);
			i.scenario = scenario;
			assert_ok!(post(&i));
			assert_eq!(Postings::<Test>::get(n as u64).unwrap().instruction.scenario, scenario);
		}
	});
}

#[test]
fn a_forged_or_mismatched_issuer_signature_is_refused() {
	test(|| {
		let i = instruction("A-1", 10_000);
		let post_with =
			|sig: MultiSignature| ClearingBank::post_payment(signed(&acquirer()), i.clone(), sig);
		// Signed by someone else: the acquirer itself, another issuer.
		assert_noop!(post_with(sign_with("Acquirer", &i)), Error::BadIssuerSignature);
		assert_noop!(post_with(sign_with("Issuer2", &i)), Error::BadIssuerSignature);
		// Signed by the issuer, but over a different instruction (a smaller amount).
		let mut cheaper = i.clone();
		cheaper.credit_amount -= 1;
		assert_noop!(post_with(issuer_signature(&cheaper)), Error::BadIssuerSignature);
		// Over the right instruction without the domain, or for another chain.
		let raw: MultiSignature = key("Issuer").sign(&i.encode()).into();
		assert_noop!(post_with(raw), Error::BadIssuerSignature);
		let other_chain = instruction_signing_payload(&sp_core::H256::repeat_byte(1), &i);
		assert_noop!(post_with(key("Issuer").sign(&other_chain).into()), Error::BadIssuerSignature);
		// An ed25519 key of the issuer's name is another account altogether.
		let ed = sp_core::ed25519::Pair::from_string("//Issuer", None).unwrap();
		let payload = instruction_signing_payload(&genesis_hash(), &i);
		assert_noop!(post_with(ed.sign(&payload).into()), Error::BadIssuerSignature);
		assert_ok!(post_with(issuer_signature(&i)));
	});
}

#[test]
fn the_instructions_issuer_must_be_an_issuer() {
	test(|| {
		let mut i = instruction("A-1", 1_000);
		i.issuer = acquirer2();
		assert_noop!(post(&i), Error::NotAnIssuer);
		i.issuer = stranger();
		assert_noop!(post(&i), Error::NotAnIssuer);
	});
}

#[test]
fn amounts_must_be_the_conversion_at_the_named_rate() {
	test(|| {
		let i = instruction("A-1", 10_000);
		for wrong in [i.debit_amount - 1, i.debit_amount + 1] {
			let mut m = i.clone();
			m.debit_amount = wrong;
			assert_noop!(post(&m), Error::AmountMismatch);
		}
		let mut zero = i.clone();
		zero.credit_amount = 0;
		assert_noop!(post(&zero), Error::ZeroAmount);
		let mut unknown = i.clone();
		unknown.rate_id = 99;
		assert_noop!(post(&unknown), Error::UnknownRateId);
		let mut usd = i.clone();
		usd.debit_currency = USD;
		assert_noop!(post(&usd), Error::UnknownPair);
		let mut same = i.clone();
		same.debit_currency = CNY;
		assert_noop!(post(&same), Error::SameCurrency);
		let mut eur = i.clone();
		eur.credit_currency = EUR;
		assert_noop!(post(&eur), Error::UnknownCurrency);
	});
}

#[test]
fn a_rate_of_another_pair_is_refused() {
	test(|| {
		let usd_cny = pallet_fx_rate::Pair::new(USD, CNY);
		assert_ok!(FxRate::configure_pair(bank(), usd_cny, usd_cny_limits()));
		assert_ok!(FxRate::force_publish_rate(
			bank(),
			usd_cny,
			7 * RATE_SCALE,
			Permill::zero(),
			HOUR
		));
		let mut i = instruction("A-1", 1_000);
		i.rate_id = 1;
		assert_noop!(post(&i), Error::RatePairMismatch);
	});
}

#[test]
fn an_expired_rate_is_refused_but_a_fresh_one_posts() {
	test(|| {
		let i = instruction("A-1", 10_000);
		set_time(GENESIS_RATE_UNTIL);
		assert_noop!(post(&i), Error::RateNotValid);
		assert_ok!(FxRate::publish_rate(
			signed(&feeder()),
			HKD_CNY,
			GENESIS_MID,
			Permill::from_parts(2_000),
			HOUR
		));
		let mut fresh = i.clone();
		fresh.rate_id = 1;
		fresh.debit_amount = hkd_for(10_000, 1);
		assert_ok!(post(&fresh));
	});
}

#[test]
fn an_expired_instruction_is_refused_but_its_earlier_posting_still_answers() {
	test(|| {
		let expires_at = FxRate::now() + 1_000;
		let [first, at_the_limit, too_late] = ["A-1", "A-2", "A-3"].map(|order| {
			let mut i = instruction(order, 10_000);
			i.expires_at = expires_at;
			i
		});
		assert_ok!(post(&first));
		set_time(expires_at);
		assert_ok!(post(&at_the_limit));
		set_time(expires_at + 1);
		assert_noop!(post(&too_late), Error::InstructionExpired);
		// Idempotency comes first: the posted order is still told "posted already".
		assert_ok!(post(&first));
		assert!(matches!(last_event(), Event::PaymentAlreadyPosted { .. }));
	});
}

#[test]
fn malformed_ids_are_refused() {
	test(|| {
		let i = instruction("A-1", 1_000);
		let mut cases = Vec::new();
		for field in 0..4 {
			for bad in [&b""[..], b"has space", b"\x01ctl", "订单".as_bytes()] {
				let mut m = i.clone();
				let v: OrderId = bad.to_vec().try_into().unwrap();
				match field {
					0 => m.acquirer_order_id = v,
					1 => m.issuer_order_id = v,
					2 => m.aggregator_order_id = v,
					_ => m.merchant_id = v,
				}
				cases.push(m);
			}
		}
		for m in cases {
			assert_noop!(post(&m), Error::MalformedIdentifier);
		}
	});
}

#[test]
fn the_same_instruction_posts_once_and_a_different_one_under_its_order_id_is_refused() {
	test(|| {
		let i = instruction("A-1", 10_000);
		assert_ok!(post(&i));
		let after_first = (balance(&issuer(), HKD), balance(&acquirer(), CNY));
		assert_ok!(post(&i));
		assert_eq!(
			last_event(),
			Event::PaymentAlreadyPosted {
				posting_id: 0,
				acquirer: acquirer(),
				acquirer_order_id: id("A-1")
			}
		);
		assert_eq!((balance(&issuer(), HKD), balance(&acquirer(), CNY)), after_first);
		assert_eq!(NextPostingId::<Test>::get(), 1);
		assert_eq!(Cycles::<Test>::get(1).unwrap().entries, 1);

		// A resubmission after the rate went stale (or with the parties suspended) still
		// learns it was posted: what a client resolving an unknown outcome needs.
		set_time(GENESIS_RATE_UNTIL + HOUR);
		assert_ok!(ClearingBank::suspend_participant(bank(), issuer()));
		assert_ok!(post(&i));
		assert_eq!(NextPostingId::<Test>::get(), 1);
		assert_ok!(ClearingBank::reinstate_participant(bank(), issuer()));
		set_time(T0);

		let mut other = i.clone();
		other.credit_amount = 20_000;
		other.debit_amount = hkd_for(20_000, GENESIS_RATE);
		assert_noop!(post(&other), Error::OrderIdConflict);
		// The issuer's order id is an idempotency key as well.
		let mut reused = instruction("A-2", 10_000);
		reused.issuer_order_id = i.issuer_order_id.clone();
		assert_noop!(post(&reused), Error::IssuerOrderIdConflict);
		// Another acquirer may use the same order id text: order ids are per acquirer.
		let theirs = instruction_between(issuer(), acquirer2(), "A-1", 10_000);
		let mut theirs = theirs;
		theirs.issuer_order_id = id("ISS-OTHER");
		assert_ok!(post(&theirs));
	});
}

#[test]
fn the_debit_limit_is_the_edge() {
	test(|| {
		// Leave the issuer exactly the room for one posting: balance + limit == its debit.
		let mut i = instruction("BIG", 900_000);
		let hkd = i.debit_amount;
		let keep = hkd - ISSUER_LIMIT;
		assert_ok!(ClearingBank::withdraw(
			bank(),
			issuer(),
			HKD,
			ISSUER_HKD - keep,
			reference("W")
		));
		let over = instruction("OVER", 1);
		assert_ok!(post(&i));
		assert_eq!(balance(&issuer(), HKD), -(ISSUER_LIMIT as i128));
		assert_noop!(post(&over), Error::DebitLimitExceeded);
		// Raising the limit by exactly the next debit lets it through.
		let raised = ISSUER_LIMIT + over.debit_amount;
		assert_ok!(ClearingBank::set_debit_limit(bank(), issuer(), HKD, raised - 1));
		assert_noop!(post(&over), Error::DebitLimitExceeded);
		assert_ok!(ClearingBank::set_debit_limit(bank(), issuer(), HKD, raised));
		assert_ok!(post(&over));
		// An issuer without an account in the currency has nothing to debit.
		i = instruction_between(account("Fresh"), acquirer(), "F-1", 100);
		assert_ok!(ClearingBank::register_participant(
			bank(),
			account("Fresh"),
			ParticipantRole::Issuer,
			code("FRESH"),
			name("Fresh")
		));
		let sig = sign_with("Fresh", &i);
		assert_noop!(
			ClearingBank::post_payment(signed(&acquirer()), i, sig),
			Error::DebitLimitExceeded
		);
	});
}

#[test]
fn a_full_cycle_refuses_further_entries() {
	test(|| {
		MaxEntries::set(3);
		for n in 0..3 {
			assert_ok!(post(&instruction(&format!("A-{n}"), 100)));
		}
		assert_noop!(post(&instruction("A-3", 100)), Error::CycleFull);
		assert_noop!(refund("A-0", "R-0", 1), Error::CycleFull);
		assert_ok!(ClearingBank::close_cycle(bank()));
		assert_ok!(post(&instruction("A-3", 100)));
		MaxEntries::set(64);
	});
}

// ---- Refunds --------------------------------------------------------------------------------

#[test]
fn refunds_return_at_the_original_rate_and_never_beyond_the_posting() {
	test(|| {
		let i = instruction("A-1", 10_000);
		assert_ok!(post(&i));
		let hkd = i.debit_amount; // 10_866
		assert_ok!(refund("A-1", "R-1", 3_333));
		let first = hkd * 3_333 / 10_000;
		assert_eq!(
			last_event(),
			Event::PaymentRefunded {
				posting_id: 0,
				cycle: 1,
				acquirer: acquirer(),
				refund_id: id("R-1"),
				credit_amount: 3_333,
				debit_amount: first,
			}
		);
		assert_eq!(Postings::<Test>::get(0).unwrap().status(), PostingStatus::PartiallyRefunded);
		assert_noop!(refund("A-1", "R-2", 6_668), Error::RefundExceedsPosting);
		assert_noop!(refund("A-1", "R-2", 0), Error::ZeroAmount);
		assert_ok!(refund("A-1", "R-2", 6_667));
		// Refunding everything returns exactly the debit, however it was split.
		let p = Postings::<Test>::get(0).unwrap();
		assert_eq!((p.refunded_credit, p.refunded_debit, p.refunds), (10_000, hkd, 2));
		assert_eq!(p.status(), PostingStatus::Refunded);
		assert_eq!(balance(&issuer(), HKD), ISSUER_HKD as i128);
		assert_eq!(balance(&acquirer(), CNY), ACQUIRER_CNY as i128);
		assert_eq!((FxBook::<Test>::get(HKD), FxBook::<Test>::get(CNY)), (0, 0));
		assert_noop!(refund("A-1", "R-3", 1), Error::RefundExceedsPosting);
		assert_noop!(refund("A-9", "R-3", 1), Error::UnknownPosting);
		assert_noop!(refund("A-1", "", 1), Error::MalformedIdentifier);
	});
}

#[test]
fn refunds_are_idempotent_by_refund_id() {
	test(|| {
		assert_ok!(post(&instruction("A-1", 10_000)));
		assert_ok!(post(&instruction("A-2", 10_000)));
		assert_ok!(refund("A-1", "R-1", 1_000));
		let after = balance(&acquirer(), CNY);
		assert_ok!(refund("A-1", "R-1", 1_000));
		assert_eq!(
			last_event(),
			Event::RefundAlreadyRecorded {
				posting_id: 0,
				acquirer: acquirer(),
				refund_id: id("R-1")
			}
		);
		assert_eq!(balance(&acquirer(), CNY), after);
		assert_noop!(refund("A-1", "R-1", 999), Error::RefundIdConflict);
		assert_noop!(refund("A-2", "R-1", 1_000), Error::RefundIdConflict);
	});
}

#[test]
fn a_refund_may_not_take_the_acquirer_beyond_its_debit_limit() {
	test(|| {
		assert_ok!(post(&instruction("A-1", 10_000)));
		let all = balance(&acquirer(), CNY) as u128;
		assert_ok!(ClearingBank::withdraw(bank(), acquirer(), CNY, all, reference("W")));
		assert_noop!(refund("A-1", "R-1", 1), Error::DebitLimitExceeded);
		assert_ok!(ClearingBank::set_debit_limit(bank(), acquirer(), CNY, 1));
		assert_ok!(refund("A-1", "R-1", 1));
		assert_eq!(balance(&acquirer(), CNY), -1);
	});
}

#[test]
fn refund_debit_amounts_round_down_until_the_last() {
	// 3 refunds of a third each of an odd debit.
	let (debit, credit) = (10u128, 3u128);
	let mut refunded = (0u128, 0u128);
	let mut parts = vec![];
	for _ in 0..3 {
		let d = refund_debit_amount(debit, credit, refunded.0, refunded.1, 1).unwrap();
		parts.push(d);
		refunded = (refunded.0 + 1, refunded.1 + d);
	}
	assert_eq!(parts, vec![3, 3, 4]);
	assert_eq!(refund_debit_amount(debit, credit, 3, 10, 1), None);
	assert_eq!(refund_debit_amount(u128::MAX, u128::MAX, 0, 0, u128::MAX - 1), Some(u128::MAX - 1));
}

// ---- Cycles ---------------------------------------------------------------------------------

#[test]
fn closing_fixes_net_positions_and_digests_and_settling_records_the_reference() {
	test(|| {
		let a = instruction("A-1", 10_000);
		let b = instruction_between(issuer2(), acquirer(), "A-2", 5_000);
		assert_ok!(post(&a));
		assert_ok!(post(&b));
		assert_ok!(refund("A-1", "R-1", 1_000));
		let r_debit = Refunds::<Test>::get(acquirer(), id("R-1")).unwrap().debit_amount;

		set_time(T0 + MINUTE);
		assert_ok!(ClearingBank::close_cycle(bank()));
		let cycle = Cycles::<Test>::get(1).unwrap();
		assert_eq!(cycle.status, CycleStatus::Closed);
		assert_eq!(cycle.closed_at, Some(T0 + MINUTE));
		assert_eq!(cycle.entries, 3);
		// Recompute the digests from what each party holds: the instructions and refunds.
		let (ha, hb) =
			(sp_io::hashing::blake2_256(&a.encode()), sp_io::hashing::blake2_256(&b.encode()));
		let leaves =
			[payment_leaf(&ha), payment_leaf(&hb), refund_leaf(&ha, b"R-1", 1_000, r_debit)];
		let fold = |ls: &[[u8; 32]]| ls.iter().fold([0u8; 32], |d, l| chain_digest(&d, l));
		assert_eq!(cycle.digest, fold(&leaves));
		assert_eq!(
			last_event(),
			Event::CycleClosed { cycle: 1, entries: 3, digest: cycle.digest, next: 2 }
		);
		assert_eq!(ParticipantCycles::<Test>::get(1, acquirer()).digest, fold(&leaves));
		assert_eq!(
			ParticipantCycles::<Test>::get(1, issuer()).digest,
			fold(&[leaves[0], leaves[2]])
		);
		assert_eq!(ParticipantCycles::<Test>::get(1, issuer2()).digest, fold(&[leaves[1]]));
		assert_eq!(
			NetPositions::<Test>::get((1, issuer(), HKD)),
			-((a.debit_amount - r_debit) as i128)
		);
		assert_eq!(NetPositions::<Test>::get((1, acquirer(), CNY)), 14_000);

		// New entries go into cycle 2; cycle 1 is fixed.
		assert_eq!(CurrentCycle::<Test>::get(), 2);
		assert_eq!(Cycles::<Test>::get(2).unwrap().status, CycleStatus::Open);
		assert_ok!(post(&instruction("A-3", 100)));
		assert_eq!(Postings::<Test>::get(2).unwrap().cycle, 2);
		assert_eq!(Cycles::<Test>::get(1).unwrap().entries, 3);
		// A refund of a cycle-1 posting belongs to cycle 2.
		assert_ok!(refund("A-2", "R-2", 100));
		assert_eq!(Refunds::<Test>::get(acquirer(), id("R-2")).unwrap().cycle, 2);

		assert_noop!(
			ClearingBank::settle_cycle(bank(), 2, reference("RTGS-S2")),
			Error::CycleNotClosed
		);
		assert_noop!(
			ClearingBank::settle_cycle(bank(), 9, reference("RTGS-S9")),
			Error::UnknownCycle
		);
		assert_noop!(
			ClearingBank::settle_cycle(bank(), 1, reference("")),
			Error::MalformedIdentifier
		);
		assert_ok!(ClearingBank::settle_cycle(bank(), 1, reference("RTGS-S1")));
		assert_eq!(last_event(), Event::CycleSettled { cycle: 1, reference: reference("RTGS-S1") });
		let settled = Cycles::<Test>::get(1).unwrap();
		assert_eq!(settled.status, CycleStatus::Settled);
		assert_eq!(settled.settlement_ref, Some(reference("RTGS-S1")));
		assert_noop!(
			ClearingBank::settle_cycle(bank(), 1, reference("RTGS-S1")),
			Error::CycleAlreadySettled
		);
	});
}

#[test]
fn an_empty_cycle_closes_with_the_zero_digest() {
	test(|| {
		assert_ok!(ClearingBank::close_cycle(bank()));
		let c = Cycles::<Test>::get(1).unwrap();
		assert_eq!((c.entries, c.digest), (0, [0; 32]));
	});
}

// ---- Queries --------------------------------------------------------------------------------

#[test]
fn queries_find_postings_by_either_partys_order_id() {
	test(|| {
		let i = instruction("A-1", 10_000);
		assert_ok!(post(&i));
		let by_acquirer = ClearingBank::posting_by_order(acquirer(), id("A-1")).unwrap();
		let by_issuer = ClearingBank::posting_by_order(issuer(), id("ISS-A-1")).unwrap();
		assert_eq!(by_acquirer, by_issuer);
		assert_eq!(by_acquirer.id, 0);
		assert_eq!(by_acquirer.status, PostingStatus::Posted);
		assert_eq!(by_acquirer.cycle_status, CycleStatus::Open);
		assert_eq!(ClearingBank::posting_by_order(issuer(), id("A-1")), None);
		assert_eq!(ClearingBank::posting_by_order(stranger(), id("A-1")), None);
		assert_eq!(ClearingBank::posting_by_id(1), None);
		assert_ok!(refund("A-1", "R-1", 10));
		assert_eq!(ClearingBank::refund_by_id(acquirer(), id("R-1")).unwrap().credit_amount, 10);

		let view = ClearingBank::participant_view(issuer()).unwrap();
		assert_eq!(view.participant.code, code("ISSHK01"));
		assert_eq!(view.accounts.len(), 1);
		assert_eq!(view.accounts[0].0, HKD);
		assert_eq!(view.accounts[0].1.available(), balance(&issuer(), HKD) + ISSUER_LIMIT as i128);
		assert_eq!(ClearingBank::participant_view(stranger()), None);

		let cycle = ClearingBank::cycle_view(None).unwrap();
		assert_eq!(cycle.id, 1);
		assert_eq!(cycle.net_positions.len(), 2);
		assert_eq!(ClearingBank::cycle_view(Some(7)), None);
	});
}

#[test]
fn statements_page_through_a_participants_entries_signed_from_its_side() {
	test(|| {
		for n in 0..5 {
			assert_ok!(post(&instruction(&format!("A-{n}"), 1_000 + n)));
		}
		// Another issuer's posting is not in the first issuer's statement.
		assert_ok!(post(&instruction_between(issuer2(), acquirer(), "B-0", 700)));
		assert_ok!(refund("A-0", "R-0", 100));

		let page = ClearingBank::statement(1, issuer(), 0, 4).unwrap();
		assert_eq!(page.summary.entries, 6);
		assert_eq!(page.entries.len(), 4);
		assert_eq!(page.next, Some(4));
		assert!(page.entries.iter().all(|e| e.amount < 0 && e.currency == HKD));
		assert_eq!(page.entries[0].counterparty, acquirer());
		let rest = ClearingBank::statement(1, issuer(), 4, 4).unwrap();
		assert_eq!(rest.entries.len(), 2);
		assert_eq!(rest.next, None);
		let refund_line = &rest.entries[1];
		assert!(matches!(refund_line.entry, CycleEntry::Refund { posting_id: 0, .. }));
		assert!(refund_line.amount > 0, "a refund credits the issuer");
		// Folding the statement's leaves gives the participant's digest.
		let all: Vec<_> = page.entries.iter().chain(rest.entries.iter()).collect();
		let digest = all.iter().fold([0u8; 32], |d, e| chain_digest(&d, &e.leaf));
		assert_eq!(digest, page.summary.digest);
		// The acquirer sees credits, and the refund as a debit.
		let acq = ClearingBank::statement(1, acquirer(), 0, 100).unwrap();
		assert_eq!(acq.entries.len(), 7);
		assert_eq!(acq.entries.iter().filter(|e| e.amount < 0).count(), 1);
		assert_eq!(acq.net_positions, vec![(CNY, (5 * 1_000 + 10 + 700 - 100) as i128)]);
		assert_eq!(ClearingBank::statement(1, stranger(), 0, 10).unwrap().entries.len(), 0);
		assert_eq!(ClearingBank::statement(5, issuer(), 0, 10), None);
	});
}

// ---- Voids -----------------------------------------------------------------------------------

fn void(who: &AccountId, order: &str) -> DispatchResult {
	ClearingBank::void_instruction(signed(who), id(order))
}

#[test]
fn a_voided_issuer_order_id_can_never_be_posted() {
	test(|| {
		let i = instruction("A-1", 10_000);
		assert_ok!(void(&issuer(), "ISS-A-1"));
		assert_eq!(
			last_event(),
			Event::InstructionVoided { issuer: issuer(), issuer_order_id: id("ISS-A-1") }
		);
		assert_eq!(
			VoidedInstructions::<Test>::get(issuer(), id("ISS-A-1")),
			Some(VoidRecord { voided_at: T0, block: 1 })
		);
		assert_noop!(post(&i), Error::InstructionVoided);
		// Forever: a fresh instruction under another acquirer order id, or later, too.
		let mut other = instruction("A-2", 10_000);
		other.issuer_order_id = id("ISS-A-1");
		assert_noop!(post(&other), Error::InstructionVoided);
		set_time(T0 + 30 * MINUTE);
		assert_noop!(post(&i), Error::InstructionVoided);
		assert_eq!(balance(&issuer(), HKD), ISSUER_HKD as i128);
		// Another issuer's order id of the same text is its own.
		let mut theirs = instruction_between(issuer2(), acquirer(), "A-3", 10_000);
		theirs.issuer_order_id = id("ISS-A-1");
		assert_ok!(post(&theirs));
	});
}

#[test]
fn voiding_twice_is_a_no_op_that_says_so() {
	test(|| {
		assert_ok!(void(&issuer(), "ISS-9"));
		System::reset_events();
		let before = sp_io::storage::root(sp_runtime::StateVersion::V1);
		assert_ok!(void(&issuer(), "ISS-9"));
		assert_eq!(
			last_event(),
			Event::InstructionAlreadyVoided { issuer: issuer(), issuer_order_id: id("ISS-9") }
		);
		System::reset_events();
		assert_eq!(sp_io::storage::root(sp_runtime::StateVersion::V1), before);
	});
}

#[test]
fn a_posted_issuer_order_id_cannot_be_voided() {
	test(|| {
		let i = instruction("A-1", 10_000);
		assert_ok!(post(&i));
		assert_noop!(void(&issuer(), "ISS-A-1"), Error::AlreadyPosted);
		// The posting stands and answers by the issuer's order id.
		match ClearingBank::instruction_state(issuer(), id("ISS-A-1")) {
			Some(InstructionState::Posted(view)) => assert_eq!(view.id, 0),
			other => panic!("expected the posting, found {other:?}"),
		}
	});
}

#[test]
fn only_a_registered_issuer_voids_its_own_ids_and_ids_are_checked() {
	test(|| {
		for who in [acquirer(), clearing_bank(), feeder(), stranger()] {
			assert_noop!(void(&who, "ISS-1"), Error::NotAnIssuer);
		}
		assert_noop!(
			ClearingBank::void_instruction(RuntimeOrigin::root(), id("ISS-1")),
			DispatchError::BadOrigin
		);
		assert_noop!(void(&issuer(), "ISS 1"), Error::MalformedIdentifier);
		// Issuer 2 voiding "ISS-A-1" does not touch issuer 1's order of that id.
		assert_ok!(void(&issuer2(), "ISS-A-1"));
		assert_ok!(post(&instruction("A-1", 10_000)));
		// A suspended issuer can still void: it protects its payers.
		assert_ok!(ClearingBank::suspend_participant(bank(), issuer()));
		assert_ok!(void(&issuer(), "ISS-2"));
	});
}

#[test]
fn the_instruction_state_tells_posted_voided_and_unknown_apart() {
	test(|| {
		assert_eq!(ClearingBank::instruction_state(issuer(), id("ISS-A-1")), None);
		assert_ok!(void(&issuer(), "ISS-A-1"));
		assert_eq!(
			ClearingBank::instruction_state(issuer(), id("ISS-A-1")),
			Some(InstructionState::Voided(VoidRecord { voided_at: T0, block: 1 }))
		);
		assert_eq!(ClearingBank::instruction_state(issuer2(), id("ISS-A-1")), None);
	});
}

// ---- Deregistration --------------------------------------------------------------------------

#[test]
fn a_participant_with_empty_accounts_and_no_open_entries_is_deregistered() {
	test(|| {
		assert_ok!(ClearingBank::withdraw(bank(), acquirer2(), CNY, ACQUIRER_CNY, reference("W")));
		assert_ok!(ClearingBank::set_debit_limit(bank(), acquirer2(), CNY, 5));
		assert_ok!(ClearingBank::deregister_participant(bank(), acquirer2()));
		assert_eq!(
			last_event(),
			Event::ParticipantDeregistered { who: acquirer2(), code: code("ACQCN02") }
		);
		assert!(!Participants::<Test>::contains_key(acquirer2()));
		assert!(!ParticipantCodes::<Test>::contains_key(code("ACQCN02")));
		assert_eq!(Accounts::<Test>::iter_prefix(acquirer2()).count(), 0);
		// It can no longer be posted to; its code is free for a new participant.
		let i = instruction_between(issuer(), acquirer2(), "A-1", 1_000);
		assert_noop!(post(&i), Error::NotAnAcquirer);
		assert_ok!(ClearingBank::register_participant(
			bank(),
			stranger(),
			ParticipantRole::Acquirer,
			code("ACQCN02"),
			name("Acquirer Two Again")
		));
	});
}

#[test]
fn deregistration_is_refused_while_money_or_open_entries_remain() {
	test(|| {
		// A balance.
		assert_noop!(
			ClearingBank::deregister_participant(bank(), acquirer2()),
			Error::ParticipantHoldsBalance
		);
		// A debit (a negative balance within the debit limit).
		assert_ok!(ClearingBank::withdraw(bank(), issuer(), HKD, ISSUER_HKD, reference("W1")));
		assert_ok!(post(&instruction("A-1", 1_000)));
		assert!(balance(&issuer(), HKD) < 0);
		assert_noop!(
			ClearingBank::deregister_participant(bank(), issuer()),
			Error::ParticipantHoldsBalance
		);
		// Entries in the open cycle, with the money gone again.
		assert_ok!(ClearingBank::withdraw(
			bank(),
			acquirer(),
			CNY,
			balance(&acquirer(), CNY) as u128,
			reference("W2")
		));
		assert_noop!(
			ClearingBank::deregister_participant(bank(), acquirer()),
			Error::ParticipantInOpenCycle
		);
		assert_ok!(ClearingBank::close_cycle(bank()));
		assert_ok!(ClearingBank::deregister_participant(bank(), acquirer()));
		// Its posting stays, and still answers by its order id.
		assert!(ClearingBank::posting_by_order(acquirer(), id("A-1")).is_some());
		assert_noop!(
			ClearingBank::deregister_participant(bank(), acquirer()),
			Error::UnknownParticipant
		);
		assert_noop!(
			ClearingBank::deregister_participant(signed(&issuer()), issuer2()),
			DispatchError::BadOrigin
		);
	});
}

// ---- Which rate a posting may cite ------------------------------------------------------------

fn publish(who: &AccountId, mid: u128) -> RateId {
	assert_ok!(FxRate::publish_rate(signed(who), HKD_CNY, mid, Permill::from_parts(2_000), HOUR));
	pallet_fx_rate::NextRateId::<Test>::get() - 1
}

/// An instruction for `cny` at `rate_id`, priced at that rate whether or not the chain would
/// take it now.
fn at_rate(order: &str, cny: u128, rate_id: RateId) -> PaymentInstruction<AccountId> {
	use pallet_fx_rate::{conversion, CurrencyInfo};
	let r = pallet_fx_rate::Rates::<Test>::get(rate_id).expect("a published rate");
	let two = CurrencyInfo { numeric: 0, minor_units: 2 };
	let (hkd, _) = conversion::convert(
		r.mid,
		r.spread,
		two,
		two,
		conversion::Direction::BaseToQuote,
		QuoteSide::ExactTarget,
		cny,
	)
	.expect("converts");
	let mut i = instruction_for(issuer(), acquirer(), order, cny, hkd);
	i.rate_id = rate_id;
	i
}

#[test]
fn a_posting_cites_the_effective_rate_or_one_within_the_grace_period() {
	test(|| {
		let grace = pallet_fx_rate::PairLimits::DEFAULT_GRACE_PERIOD;
		let second_feeder = account("Feeder2");
		assert_ok!(FxRate::add_feeder(bank(), HKD_CNY, second_feeder.clone()));
		// Two fresh feeds: the upper middle is effective; the lower one, never effective, is a
		// cheaper option the issuer may not pick.
		let high = publish(&second_feeder, GENESIS_MID);
		let low = publish(&feeder(), GENESIS_MID - 20_000_000);
		assert_eq!(FxRate::current_rate(HKD_CNY).unwrap().0, high);
		assert_noop!(post(&at_rate("A-LOW", 10_000, low)), Error::RateNotEffective);
		// The opening rate was superseded at T0: it posts for the grace period and not after.
		set_time(T0 + grace);
		assert_ok!(post(&at_rate("A-OPEN", 10_000, GENESIS_RATE)));
		set_time(T0 + grace + 1);
		assert_noop!(post(&at_rate("A-OPEN2", 10_000, GENESIS_RATE)), Error::RateNotEffective);
		assert_ok!(post(&at_rate("A-HIGH", 10_000, high)));
	});
}

#[test]
fn a_removed_feeders_rates_cannot_be_posted_at() {
	test(|| {
		let r = publish(&feeder(), GENESIS_MID);
		let i = at_rate("A-1", 10_000, r);
		assert_ok!(FxRate::remove_feeder(bank(), HKD_CNY, feeder()));
		assert_noop!(post(&i), Error::RateWithdrawn);
	});
}

// ---- Who gets into the pool -----------------------------------------------------------------

#[test]
fn only_known_active_accounts_get_signed_transactions_into_the_pool() {
	use sp_runtime::{
		traits::{DispatchTransaction, TransactionExtension},
		transaction_validity::{InvalidTransaction, TransactionSource},
	};
	test(|| {
		let remark: RuntimeCall = frame_system::Call::remark { remark: vec![] }.into();
		let void: RuntimeCall =
			crate::Call::void_instruction { issuer_order_id: id("ISS-1") }.into();
		let validate = |origin: RuntimeOrigin, call: &RuntimeCall| {
			CheckAuthorizedSigner::<Test>::new()
				.validate_only(
					origin,
					call,
					&call.get_dispatch_info(),
					0,
					TransactionSource::External,
					0,
				)
				.map(|(valid, _, _)| valid.priority)
		};
		for known in [clearing_bank(), issuer(), acquirer(), feeder()] {
			assert_ok!(validate(signed(&known), &remark));
		}
		assert_eq!(
			validate(signed(&stranger()), &remark),
			Err(InvalidTransaction::BadSigner.into())
		);
		// A suspended participant is kept out, except an issuer's void.
		assert_ok!(ClearingBank::suspend_participant(bank(), issuer()));
		assert_eq!(
			validate(signed(&issuer()), &remark),
			Err(InvalidTransaction::Custom(SIGNER_SUSPENDED).into())
		);
		assert_eq!(validate(signed(&issuer()), &void), Ok(SETTLEMENT_PRIORITY));
		assert_ok!(ClearingBank::suspend_participant(bank(), acquirer()));
		let posting: RuntimeCall = crate::Call::post_payment {
			instruction: instruction("A-1", 1_000),
			issuer_signature: issuer_signature(&instruction("A-1", 1_000)),
		}
		.into();
		assert_eq!(
			validate(signed(&acquirer()), &posting),
			Err(InvalidTransaction::Custom(SIGNER_SUSPENDED).into())
		);
		// A deregistered participant is a stranger.
		assert_ok!(ClearingBank::reinstate_participant(bank(), acquirer()));
		assert_ok!(ClearingBank::withdraw(bank(), acquirer2(), CNY, ACQUIRER_CNY, reference("W")));
		assert_ok!(ClearingBank::deregister_participant(bank(), acquirer2()));
		assert_eq!(
			validate(signed(&acquirer2()), &remark),
			Err(InvalidTransaction::BadSigner.into())
		);
		// Inherents and other unsigned transactions are not this check's business.
		assert_ok!(CheckAuthorizedSigner::<Test>::new().validate(
			RuntimeOrigin::none(),
			&remark,
			&remark.get_dispatch_info(),
			0,
			(),
			&sp_runtime::traits::TxBaseImplication(()),
			TransactionSource::External,
		));
	});
}

#[test]
fn settlement_calls_come_before_everything_else_in_the_pool() {
	use sp_runtime::{traits::DispatchTransaction, transaction_validity::TransactionSource};
	test(|| {
		let priority = |who: &AccountId, call: RuntimeCall| {
			CheckAuthorizedSigner::<Test>::new()
				.validate_only(
					signed(who),
					&call,
					&call.get_dispatch_info(),
					0,
					TransactionSource::External,
					0,
				)
				.map(|(valid, _, _)| valid.priority)
				.unwrap()
		};
		let i = instruction("A-1", 1_000);
		let settlement: [(AccountId, RuntimeCall); 4] = [
			(
				acquirer(),
				crate::Call::post_payment {
					issuer_signature: issuer_signature(&i),
					instruction: i,
				}
				.into(),
			),
			(issuer(), crate::Call::void_instruction { issuer_order_id: id("ISS-1") }.into()),
			(clearing_bank(), crate::Call::close_cycle {}.into()),
			(
				feeder(),
				pallet_fx_rate::Call::publish_rate {
					pair: HKD_CNY,
					mid: GENESIS_MID,
					spread: Permill::zero(),
					valid_for: HOUR,
				}
				.into(),
			),
		];
		for (who, call) in settlement {
			assert_eq!(priority(&who, call), SETTLEMENT_PRIORITY);
		}
		let remark: RuntimeCall = frame_system::Call::remark { remark: vec![0; 1024] }.into();
		assert_eq!(priority(&acquirer(), remark), 0);
	});
}

// ---- Batches ---------------------------------------------------------------------------------

type Batch = frame_support::BoundedVec<
	(PaymentInstruction<AccountId>, MultiSignature),
	<Test as crate::Config>::MaxPostingsPerBatch,
>;

/// Each instruction with its own issuer's signature.
fn signed_batch(items: &[PaymentInstruction<AccountId>]) -> Batch {
	let items: Vec<_> = items.iter().map(|i| (i.clone(), issuer_signature(i))).collect();
	items.try_into().expect("within the mock's batch bound")
}

fn post_batch(
	acquirer: &AccountId,
	items: &[PaymentInstruction<AccountId>],
) -> frame_support::dispatch::DispatchResultWithPostInfo {
	ClearingBank::post_payments(signed(acquirer), signed_batch(items))
}

/// The pallet's events since the last reset, in order.
fn events() -> Vec<Event> {
	System::events()
		.into_iter()
		.filter_map(|r| match r.event {
			RuntimeEvent::ClearingBank(e) => Some(e),
			_ => None,
		})
		.collect()
}

/// What each item of the last batch did: `Ok(posting id)`, `Ok(None)` for posted before, or
/// the error it was refused with.
fn outcomes() -> Vec<(String, Result<Option<PostingId>, DispatchError>)> {
	let order = |o: &OrderId| String::from_utf8(o.to_vec()).unwrap();
	events()
		.into_iter()
		.filter_map(|e| match e {
			Event::PaymentPosted { posting_id, acquirer_order_id, .. } => {
				Some((order(&acquirer_order_id), Ok(Some(posting_id))))
			}
			Event::PaymentAlreadyPosted { acquirer_order_id, .. } => {
				Some((order(&acquirer_order_id), Ok(None)))
			}
			Event::PaymentRefused { acquirer_order_id, error, .. } => {
				Some((order(&acquirer_order_id), Err(error)))
			}
			_ => None,
		})
		.collect()
}

#[test]
fn a_batch_posts_each_instruction_or_refuses_it_alone() {
	test(|| {
		let first = instruction("B-1", 1_000);
		let voided = instruction("B-2", 1_000);
		assert_ok!(void(&issuer(), "ISS-B-2"));
		let mismatch = instruction_for(issuer(), acquirer(), "B-3", 1_000, first.debit_amount + 1);
		let forged = instruction("B-4", 1_000);
		let other_issuer = instruction_between(issuer2(), acquirer(), "B-5", 2_000);
		let mut items = signed_batch(&[first.clone(), voided, mismatch, forged.clone()]);
		items[3].1 = sign_with("Issuer2", &forged);
		items.try_push((other_issuer.clone(), issuer_signature(&other_issuer))).unwrap();
		let (issuer_before, issuer2_before) = (balance(&issuer(), HKD), balance(&issuer2(), HKD));
		System::reset_events();

		assert_ok!(ClearingBank::post_payments(signed(&acquirer()), items));

		assert_eq!(
			outcomes(),
			vec![
				("B-1".into(), Ok(Some(0))),
				("B-2".into(), Err(Error::InstructionVoided.into())),
				("B-3".into(), Err(Error::AmountMismatch.into())),
				("B-4".into(), Err(Error::BadIssuerSignature.into())),
				("B-5".into(), Ok(Some(1))),
			]
		);
		assert_eq!(balance(&issuer(), HKD), issuer_before - first.debit_amount as i128);
		assert_eq!(balance(&issuer2(), HKD), issuer2_before - other_issuer.debit_amount as i128);
		assert_eq!(ClearingBank::posting_by_order(acquirer(), id("B-5")).unwrap().id, 1);
		for refused in ["B-2", "B-3", "B-4"] {
			assert_eq!(ClearingBank::posting_by_order(acquirer(), id(refused)), None);
		}
		assert_eq!(Cycles::<Test>::get(1).unwrap().entries, 2);
		assert_eq!(NextPostingId::<Test>::get(), 2);
	});
}

#[test]
fn within_a_batch_each_instruction_sees_the_ones_before_it() {
	test(|| {
		// Room for exactly two of three equal debits.
		let items: Vec<_> = (0..3).map(|n| instruction(&format!("L-{n}"), 400_000)).collect();
		let room = 2 * items[0].debit_amount;
		let available = Accounts::<Test>::get(issuer(), HKD).available();
		let excess = u128::try_from(available).unwrap() - room;
		assert_ok!(ClearingBank::withdraw(bank(), issuer(), HKD, excess, reference("W-1")));
		System::reset_events();
		assert_ok!(post_batch(&acquirer(), &items));
		assert_eq!(
			outcomes(),
			vec![
				("L-0".into(), Ok(Some(0))),
				("L-1".into(), Ok(Some(1))),
				("L-2".into(), Err(Error::DebitLimitExceeded.into())),
			]
		);
		assert_eq!(Accounts::<Test>::get(issuer(), HKD).available(), 0);
		// An issuer order id used earlier in the batch is taken for the rest of it.
		let mut again = instruction("L-3", 100);
		again.issuer_order_id = id("ISS-L-0");
		System::reset_events();
		assert_ok!(ClearingBank::set_debit_limit(bank(), issuer(), HKD, ISSUER_LIMIT * 2));
		assert_ok!(post_batch(&acquirer(), &[again]));
		assert_eq!(outcomes(), vec![("L-3".into(), Err(Error::IssuerOrderIdConflict.into()))]);
	});
}

#[test]
fn a_batch_naming_the_same_order_twice_posts_it_once() {
	test(|| {
		let i = instruction("D-1", 1_000);
		let other = instruction("D-1", 2_000);
		System::reset_events();
		assert_ok!(post_batch(&acquirer(), &[i.clone(), i.clone(), other.clone()]));
		assert_eq!(
			outcomes(),
			vec![
				("D-1".into(), Ok(Some(0))),
				("D-1".into(), Ok(None)),
				("D-1".into(), Err(Error::OrderIdConflict.into())),
			]
		);
		// The whole batch again: nothing new.
		let balance_before = balance(&issuer(), HKD);
		System::reset_events();
		assert_ok!(post_batch(&acquirer(), &[i.clone(), other]));
		assert_eq!(
			outcomes(),
			vec![("D-1".into(), Ok(None)), ("D-1".into(), Err(Error::OrderIdConflict.into()))]
		);
		assert_eq!(balance(&issuer(), HKD), balance_before);
		assert_eq!(NextPostingId::<Test>::get(), 1);
		// A single posting of the same instruction agrees.
		assert_ok!(post(&i));
		assert!(matches!(last_event(), Event::PaymentAlreadyPosted { posting_id: 0, .. }));
	});
}

#[test]
fn a_batch_fails_whole_only_when_empty_or_not_from_an_acquirer() {
	test(|| {
		let i = instruction("W-1", 1_000);
		assert_noop!(
			ClearingBank::post_payments(signed(&acquirer()), Default::default()),
			Error::EmptyBatch
		);
		assert_noop!(post_batch(&issuer(), &[i.clone()]), Error::NotAnAcquirer);
		assert_noop!(post_batch(&stranger(), &[i.clone()]), Error::NotAnAcquirer);
		// Another acquirer's instruction is refused as an item, like a single posting.
		System::reset_events();
		assert_ok!(post_batch(&acquirer2(), &[i.clone()]));
		assert_eq!(outcomes(), vec![("W-1".into(), Err(Error::AcquirerMismatch.into()))]);
		// A suspended acquirer's items are refused; what it posted before still answers.
		assert_ok!(post(&i));
		assert_ok!(ClearingBank::suspend_participant(bank(), acquirer()));
		System::reset_events();
		assert_ok!(post_batch(&acquirer(), &[i.clone(), instruction("W-2", 1_000)]));
		assert_eq!(
			outcomes(),
			vec![("W-1".into(), Ok(None)), ("W-2".into(), Err(Error::AcquirerSuspended.into())),]
		);
	});
}

#[test]
fn a_batch_is_charged_for_all_items_and_refunded_for_those_that_posted_nothing() {
	test(|| {
		let items: Vec<_> = (0..4).map(|n| instruction(&format!("G-{n}"), 1_000)).collect();
		let call = crate::Call::<Test>::post_payments { instructions: signed_batch(&items) };
		let charged = call.get_dispatch_info().call_weight;
		assert_eq!(charged, ledger::batch_weight::<Test>(4, 1, 0));
		let post_info = post_batch(&acquirer(), &items).unwrap();
		assert_eq!(post_info.actual_weight, Some(charged));

		// Two posted before, one refused, one new.
		let mut next = items[..2].to_vec();
		next.push(instruction_for(issuer(), acquirer(), "G-9", 1_000, 1));
		next.push(instruction("G-4", 1_000));
		let post_info = post_batch(&acquirer(), &next).unwrap();
		let actual = post_info.actual_weight.unwrap();
		assert_eq!(actual, ledger::batch_weight::<Test>(1, 1, 3));
		assert!(actual.ref_time() < charged.ref_time(), "{actual:?} is not below {charged:?}");
	});
}

/// Runs `ops` on a fresh chain in `ext`, returning the storage root without events.
fn ledger_root(ext: &mut sp_io::TestExternalities, ops: impl FnOnce()) -> Vec<u8> {
	ext.execute_with(|| {
		ops();
		ClearingBank::do_try_state().expect("clearing-bank invariants hold");
		System::reset_events();
		sp_io::storage::root(sp_runtime::StateVersion::V1)
	})
}

#[test]
fn a_batch_writes_exactly_what_the_same_postings_one_by_one_would_over_several_pages() {
	MaxEntries::set(1_000);
	// 12 batches of 16 from two issuers, each with a duplicate and a refusal: 168 entries, over
	// two pages of the cycle's list and of each party's.
	let batches = || -> Vec<Vec<PaymentInstruction<AccountId>>> {
		(0..12)
			.map(|b| {
				let mut items: Vec<_> = (0..14)
					.map(|n| {
						let who = if n % 3 == 0 { issuer2() } else { issuer() };
						instruction_between(who, acquirer(), &format!("P-{b}-{n}"), 100 + n)
					})
					.collect();
				items.push(items[0].clone());
				items.push(instruction_for(issuer(), acquirer(), &format!("P-{b}-X"), 100, 1));
				items
			})
			.collect()
	};
	let mut batched = new_test_ext();
	let mut single = new_test_ext();
	let batched_root = ledger_root(&mut batched, || {
		for items in &batches() {
			assert_ok!(post_batch(&acquirer(), items));
		}
	});
	let single_root = ledger_root(&mut single, || {
		for i in batches().iter().flatten() {
			let _ = post(i);
		}
	});
	assert_eq!(batched_root, single_root);
	batched.execute_with(|| {
		assert_eq!(Cycles::<Test>::get(1).unwrap().entries, 12 * 14);
		let acquirer_statement = ClearingBank::statement(1, acquirer(), 120, 100).unwrap();
		assert_eq!(acquirer_statement.entries.len(), 12 * 14 - 120);
		assert_eq!(acquirer_statement.entries[10].cycle_index, 130);
		let issuer2_statement = ClearingBank::statement(1, issuer2(), 0, 1000).unwrap();
		assert_eq!(issuer2_statement.entries.len(), 12 * 5);
		let digest =
			issuer2_statement.entries.iter().fold([0u8; 32], |d, e| chain_digest(&d, &e.leaf));
		assert_eq!(digest, issuer2_statement.summary.digest);
	});
}

use frame_support::dispatch::GetDispatchInfo;

// ---- Invariants under random operation ------------------------------------------------------

mod random_sequences {
	use super::*;
	use proptest::prelude::*;

	#[derive(Debug, Clone)]
	enum Op {
		Fund {
			who: u8,
			amount: u128,
		},
		Withdraw {
			who: u8,
			amount: u128,
		},
		SetLimit {
			who: u8,
			limit: u128,
		},
		Post {
			issuer: u8,
			acquirer: u8,
			order: u8,
			cny: u128,
		},
		Refund {
			acquirer: u8,
			order: u8,
			refund: u8,
			cny: u128,
		},
		Suspend {
			who: u8,
		},
		Reinstate {
			who: u8,
		},
		Void {
			issuer: u8,
			order: u8,
		},
		Deregister {
			who: u8,
		},
		Close,
		Settle {
			cycle: u32,
		},
		Tick {
			ms: u64,
		},
		/// `(issuer, order, cny, forged)` items, posted by one acquirer in one call.
		Batch {
			acquirer: u8,
			items: Vec<(u8, u8, u128, bool)>,
		},
	}

	fn op() -> impl Strategy<Value = Op> {
		prop_oneof![
			(0..4u8, 0..2_000_000u128).prop_map(|(who, amount)| Op::Fund { who, amount }),
			(0..4u8, 0..2_000_000u128).prop_map(|(who, amount)| Op::Withdraw { who, amount }),
			(0..4u8, 0..200_000u128).prop_map(|(who, limit)| Op::SetLimit { who, limit }),
			(0..2u8, 0..2u8, 0..12u8, 0..400_000u128).prop_map(|(issuer, acquirer, order, cny)| {
				Op::Post { issuer, acquirer, order, cny }
			}),
			(0..2u8, 0..12u8, 0..6u8, 0..300_000u128).prop_map(|(acquirer, order, refund, cny)| {
				Op::Refund { acquirer, order, refund, cny }
			}),
			(0..4u8).prop_map(|who| Op::Suspend { who }),
			(0..4u8).prop_map(|who| Op::Reinstate { who }),
			(0..2u8, 0..12u8).prop_map(|(issuer, order)| Op::Void { issuer, order }),
			(0..4u8).prop_map(|who| Op::Deregister { who }),
			Just(Op::Close),
			(1..5u32).prop_map(|cycle| Op::Settle { cycle }),
			(0..(5 * MINUTE)).prop_map(|ms| Op::Tick { ms }),
			(
				0..2u8,
				proptest::collection::vec(
					(0..2u8, 0..12u8, 0..400_000u128, proptest::bool::weighted(0.2)),
					0..16
				)
			)
				.prop_map(|(acquirer, items)| Op::Batch { acquirer, items }),
		]
	}

	/// An instruction for `cny` at the genesis rate; when the amount does not convert or the
	/// rate went stale, with what the issuer would have had to guess: it must be refused like
	/// any other bad input.
	fn guessed(issuer: u8, acquirer: u8, order: u8, cny: u128) -> PaymentInstruction<AccountId> {
		let hkd = FxRate::quote_for_posting(
			GENESIS_RATE,
			HKD,
			CNY,
			cny,
			QuoteSide::ExactTarget,
			FxRate::now(),
		)
		.map(|q| q.source_amount)
		.unwrap_or(cny);
		instruction_for(party(issuer), party(2 + acquirer), &format!("O{order}"), cny, hkd)
	}

	fn party(n: u8) -> AccountId {
		[issuer(), issuer2(), acquirer(), acquirer2()][n as usize % 4].clone()
	}

	fn currency_of(who: &AccountId) -> CurrencyCode {
		if *who == issuer() || *who == issuer2() {
			HKD
		} else {
			CNY
		}
	}

	/// Applies `op`; a batch as one call when `batched`, else as its postings one by one.
	fn apply(op: &Op, step: usize, batched: bool) -> DispatchResult {
		let r = |s: &str| reference(&format!("{s}-{step}"));
		match op.clone() {
			Op::Fund { who, amount } => {
				let who = party(who);
				ClearingBank::fund(bank(), who.clone(), currency_of(&who), amount, r("F"))
			}
			Op::Withdraw { who, amount } => {
				let who = party(who);
				ClearingBank::withdraw(bank(), who.clone(), currency_of(&who), amount, r("W"))
			}
			Op::SetLimit { who, limit } => {
				let who = party(who);
				ClearingBank::set_debit_limit(bank(), who.clone(), currency_of(&who), limit)
			}
			Op::Post { issuer, acquirer, order, cny } => {
				post(&guessed(issuer, acquirer, order, cny))
			}
			Op::Batch { acquirer, items } => {
				let items: Vec<_> = items
					.iter()
					.map(|&(issuer, order, cny, forged)| {
						let i = guessed(issuer, acquirer, order, cny);
						let signature =
							if forged { sign_with("Stranger", &i) } else { issuer_signature(&i) };
						(i, signature)
					})
					.collect();
				if batched {
					let items = items.try_into().expect("within the bound");
					ClearingBank::post_payments(signed(&party(2 + acquirer)), items)
						.map(|_| ())
						.map_err(|e| e.error)
				} else {
					for (i, signature) in items {
						let _ = ClearingBank::post_payment(signed(&i.acquirer), i, signature);
					}
					Ok(())
				}
			}
			Op::Refund { acquirer, order, refund: refund_id, cny } => ClearingBank::refund(
				signed(&party(2 + acquirer)),
				id(&format!("O{order}")),
				id(&format!("RF{refund_id}")),
				cny,
			),
			Op::Suspend { who } => ClearingBank::suspend_participant(bank(), party(who)),
			Op::Reinstate { who } => ClearingBank::reinstate_participant(bank(), party(who)),
			Op::Void { issuer, order } => {
				ClearingBank::void_instruction(signed(&party(issuer)), id(&format!("ISS-O{order}")))
			}
			Op::Deregister { who } => ClearingBank::deregister_participant(bank(), party(who)),
			Op::Close => ClearingBank::close_cycle(bank()),
			Op::Settle { cycle } => ClearingBank::settle_cycle(bank(), cycle, r("S")),
			Op::Tick { ms } => {
				let now: Moment = FxRate::now() + ms;
				set_time(now);
				Ok(())
			}
		}
	}

	proptest! {
		#![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

		/// After every step the ledger balances per currency, every refund stays within its
		/// posting, no voided issuer order id is posted, and a refused step changed nothing at
		/// all.
		#[test]
		fn invariants_hold_after_every_step(ops in proptest::collection::vec(op(), 1..40)) {
			new_test_ext().execute_with(|| {
				let mut postings_seen = 0;
				for (step, op) in ops.iter().enumerate() {
					let root = sp_io::storage::root(sp_runtime::StateVersion::V1);
					let before_postings = NextPostingId::<Test>::get();
					match apply(op, step, true) {
						Ok(()) => {},
						Err(_) => prop_assert_eq!(
							sp_io::storage::root(sp_runtime::StateVersion::V1),
							root,
							"refused {:?} changed state",
							op
						),
					}
					let after = NextPostingId::<Test>::get();
					let most = match op { Op::Batch { items, .. } => items.len() as u64, _ => 1 };
					prop_assert!(after - before_postings <= most);
					postings_seen += after - before_postings;
					prop_assert!(
						ClearingBank::do_try_state().is_ok(),
						"invariants broken after {:?}: {:?}",
						op,
						ClearingBank::do_try_state()
					);
				}
				// Order ids repeat in the generated sequences: each posted at most once.
				prop_assert!(postings_seen <= 2 * 12);
				Ok(())
			})?;
		}

		/// A batch mixing valid, refused (forged, unconvertible, over the limit, voided) and
		/// duplicate items leaves the chain exactly as its items posted one by one would,
		/// whatever happened before it.
		#[test]
		fn a_batch_books_what_its_items_one_by_one_would(ops in proptest::collection::vec(op(), 1..30)) {
			let mut batched = new_test_ext();
			let mut single = new_test_ext();
			for (step, op) in ops.iter().enumerate() {
				let roots = [(&mut batched, true), (&mut single, false)].map(|(ext, mode)| {
					ext.execute_with(|| {
						let _ = apply(op, step, mode);
						System::reset_events();
						(sp_io::storage::root(sp_runtime::StateVersion::V1), ClearingBank::do_try_state())
					})
				});
				prop_assert!(roots[0].1.is_ok(), "invariants broken after {:?}", op);
				prop_assert_eq!(&roots[0].0, &roots[1].0, "the batch {:?} diverged", op);
			}
		}
	}
}
