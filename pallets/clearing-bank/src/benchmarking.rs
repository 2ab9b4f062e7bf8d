//! Benchmarks of every call in its worst case: the clearing bank's calls signed by its account
//! (one more read than root), postings with the longest ids and a real sr25519 signature.

use super::*;
use frame_benchmarking::v2::*;
use frame_support::{traits::Get, BoundedVec};
use frame_system::{pallet_prelude::BlockNumberFor, RawOrigin};
use pallet_fx_rate::{
	CurrencyInfo, FeederStatus, Pair, PairConfig, PairLimits, RateId, RateRecord, RATE_SCALE,
};
use sp_runtime::{traits::Zero, Permill};

// Codes of their own ("X" codes are ISO 4217's for testing), so that the benchmarks also run
// on a chain whose genesis has HKD and CNY.
const DEBIT: CurrencyCode = CurrencyCode(*b"XBC");
const CREDIT: CurrencyCode = CurrencyCode(*b"XBD");
const FUNDS: u128 = 1_000_000_000_000;

fn long_id(tag: u8) -> OrderId {
	alloc::vec![tag; 64].try_into().expect("64 bytes fit")
}

fn long_ref(tag: u8) -> ExternalRef {
	alloc::vec![tag; 35].try_into().expect("35 bytes fit")
}

fn code(tag: &[u8]) -> ParticipantCode {
	let mut c = tag.to_vec();
	c.resize(16, b'0');
	c.try_into().expect("16 bytes fit")
}

fn name() -> ParticipantName {
	alloc::vec![b'N'; 70].try_into().expect("70 bytes fit")
}

/// The clearing bank's signed origin.
fn bank<T: Config>() -> T::RuntimeOrigin {
	let bank: T::AccountId = account("clearing-bank", 0, 0);
	ClearingBankAccount::<T>::put(&bank);
	RawOrigin::Signed(bank).into()
}

/// The benchmark currencies and their pair, in the worst case for a posting's rate check:
/// `MaxFeedersPerPair` feeders with fresh rates (the median is taken over all of them), and the
/// cited rate a publication of one of them superseded just now, found last in a full list of
/// superseded rates. Returns the cited rate's id.
fn set_up_fx<T: Config>() -> RateId {
	let info = CurrencyInfo { numeric: 999, minor_units: 2 };
	pallet_fx_rate::Currencies::<T>::insert(DEBIT, info);
	pallet_fx_rate::Currencies::<T>::insert(CREDIT, info);
	let pair = Pair::new(DEBIT, CREDIT);
	let max_validity = <T as pallet_fx_rate::Config>::MaxValidity::get();
	let limits = PairLimits {
		max_spread: Permill::from_percent(1),
		max_validity,
		grace_period: PairLimits::DEFAULT_GRACE_PERIOD,
		min_feeds: 1,
		max_deviation: Permill::from_percent(5),
	};
	pallet_fx_rate::Pairs::<T>::insert(pair, PairConfig { enabled: true, limits });
	let now = pallet_fx_rate::Pallet::<T>::now();
	let mut next = pallet_fx_rate::NextRateId::<T>::get();
	let mut publish = |feeder: &T::AccountId, mid: u128| {
		let id = next;
		next += 1;
		let record = RateRecord {
			pair,
			feeder: Some(feeder.clone()),
			mid,
			spread: Permill::from_parts(2_000),
			published_at: now,
			valid_until: now + max_validity,
		};
		pallet_fx_rate::Rates::<T>::insert(id, record.clone());
		(id, record)
	};
	let feeders = <T as pallet_fx_rate::Config>::MaxFeedersPerPair::get();
	let first: T::AccountId = account("feeder", 0, 0);
	let (cited, _) = publish(&first, RATE_SCALE * 9 / 10);
	let mut latest_feeds = alloc::vec::Vec::new();
	for i in 0..feeders {
		let feeder: T::AccountId = account("feeder", i, 0);
		let (latest, record) = publish(&feeder, RATE_SCALE * 9 / 10 + i as u128);
		pallet_fx_rate::Feeders::<T>::insert(
			pair,
			feeder,
			FeederStatus { latest_rate: Some(latest) },
		);
		latest_feeds.push((latest, record));
	}
	pallet_fx_rate::FeederCount::<T>::insert(pair, feeders);
	pallet_fx_rate::LatestFeeds::<T>::insert(pair, BoundedVec::truncate_from(latest_feeds));
	let mut superseded: alloc::vec::Vec<(RateId, pallet_fx_rate::Moment)> = (0
		..<pallet_fx_rate::MaxSuperseded as Get<u32>>::get() - 1)
		.map(|i| (RateId::MAX - i as u64, now))
		.collect();
	superseded.push((cited, now));
	pallet_fx_rate::Superseded::<T>::insert(pair, BoundedVec::truncate_from(superseded));
	pallet_fx_rate::NextRateId::<T>::put(next);
	cited
}

fn register<T: Config>(who: &T::AccountId, role: ParticipantRole, tag: &[u8]) {
	Pallet::<T>::do_register(who.clone(), role, code(tag), name()).expect("registers");
}

struct Parties<T: Config> {
	issuer: T::AccountId,
	acquirer: T::AccountId,
	rate_id: RateId,
}

/// A funded issuer with a signing key, an acquirer, and a rate; the clearing bank set.
fn set_up_parties<T: Config>() -> Parties<T> {
	let _ = bank::<T>();
	let rate_id = set_up_fx::<T>();
	let issuer = T::BenchmarkHelper::create_signer();
	let acquirer: T::AccountId = account("acquirer", 0, 0);
	register::<T>(&issuer, ParticipantRole::Issuer, b"BENCH-ISS");
	register::<T>(&acquirer, ParticipantRole::Acquirer, b"BENCH-ACQ");
	Pallet::<T>::do_transfer(TransferKind::Funding, issuer.clone(), DEBIT, FUNDS, long_ref(b'F'))
		.expect("funds");
	Pallet::<T>::do_transfer(
		TransferKind::Funding,
		acquirer.clone(),
		CREDIT,
		FUNDS,
		long_ref(b'G'),
	)
	.expect("funds");
	Parties { issuer, acquirer, rate_id }
}

/// A 64-byte order id ending in `n`'s digits.
fn numbered_id(tag: u8, n: u32) -> OrderId {
	let mut id = alloc::vec![tag; 64];
	let digits = alloc::format!("{n:010}");
	id[64 - digits.len()..].copy_from_slice(digits.as_bytes());
	id.try_into().expect("64 bytes fit")
}

/// `count` more issuers with signing keys, funded with `funds` each.
fn more_issuers<T: Config>(count: u32, funds: u128) -> alloc::vec::Vec<T::AccountId> {
	(0..count)
		.map(|n| {
			let issuer = T::BenchmarkHelper::create_signer();
			let mut tag = b"ISS-".to_vec();
			tag.extend_from_slice(alloc::format!("{n:05}").as_bytes());
			register::<T>(&issuer, ParticipantRole::Issuer, &tag);
			if funds > 0 {
				let reference = alloc::format!("FUND-{n}").into_bytes().try_into().expect("short");
				Pallet::<T>::do_transfer(
					TransferKind::Funding,
					issuer.clone(),
					DEBIT,
					funds,
					reference,
				)
				.expect("funds");
			}
			issuer
		})
		.collect()
}

/// `n` signed instructions with the longest ids, from `issuers` in turn.
fn signed_batch<T: Config>(
	p: &Parties<T>,
	issuers: &[T::AccountId],
	n: u32,
) -> alloc::vec::Vec<(PaymentInstruction<T::AccountId>, T::Signature)> {
	(0..n)
		.map(|k| {
			let issuer = issuers[k as usize % issuers.len()].clone();
			let (mut instruction, _) = signed_instruction::<T>(p, b'O', 1_000_000);
			instruction.issuer = issuer.clone();
			instruction.acquirer_order_id = numbered_id(b'B', k);
			instruction.issuer_order_id = numbered_id(b'I', k);
			let genesis = frame_system::Pallet::<T>::block_hash(BlockNumberFor::<T>::zero());
			let payload = instruction_signing_payload(&genesis, &instruction);
			(instruction, T::BenchmarkHelper::sign(&issuer, &payload))
		})
		.collect()
}

/// A signed instruction with the longest ids, for `credit` minor units.
fn signed_instruction<T: Config>(
	p: &Parties<T>,
	tag: u8,
	credit: u128,
) -> (PaymentInstruction<T::AccountId>, T::Signature) {
	let now = pallet_fx_rate::Pallet::<T>::now();
	let quote = pallet_fx_rate::Pallet::<T>::quote_for_posting(
		p.rate_id,
		DEBIT,
		CREDIT,
		credit,
		pallet_fx_rate::QuoteSide::ExactTarget,
		now,
	)
	.expect("the benchmark rate converts");
	let instruction = PaymentInstruction {
		issuer: p.issuer.clone(),
		acquirer: p.acquirer.clone(),
		acquirer_order_id: long_id(tag),
		issuer_order_id: long_id(tag.wrapping_add(1)),
		aggregator_order_id: long_id(b'A'),
		merchant_id: long_id(b'M'),
		scenario: Scenario::DynamicQr,
		debit_currency: DEBIT,
		debit_amount: quote.source_amount,
		credit_currency: CREDIT,
		credit_amount: credit,
		rate_id: p.rate_id,
		expires_at: now.saturating_add(60_000),
	};
	let genesis = frame_system::Pallet::<T>::block_hash(BlockNumberFor::<T>::zero());
	let payload = instruction_signing_payload(&genesis, &instruction);
	let signature = T::BenchmarkHelper::sign(&p.issuer, &payload);
	(instruction, signature)
}

#[benchmarks]
mod benchmarks {
	use super::*;

	#[benchmark]
	fn set_clearing_bank() {
		let new_bank: T::AccountId = account("new-bank", 0, 0);
		#[extrinsic_call]
		_(RawOrigin::Root, new_bank.clone());
		assert_eq!(ClearingBankAccount::<T>::get(), Some(new_bank));
	}

	#[benchmark]
	fn register_participant() {
		let origin = bank::<T>();
		let who: T::AccountId = account("participant", 0, 0);
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone(), ParticipantRole::Issuer, code(b"NEW"), name());
		assert!(Participants::<T>::contains_key(who));
	}

	#[benchmark]
	fn suspend_participant() {
		let origin = bank::<T>();
		let who: T::AccountId = account("participant", 0, 0);
		register::<T>(&who, ParticipantRole::Issuer, b"SUS");
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone());
		assert!(!Participants::<T>::get(who).expect("registered").is_active());
	}

	#[benchmark]
	fn reinstate_participant() {
		let origin = bank::<T>();
		let who: T::AccountId = account("participant", 0, 0);
		register::<T>(&who, ParticipantRole::Issuer, b"REI");
		Participants::<T>::mutate(&who, |p| {
			if let Some(p) = p {
				p.status = ParticipantStatus::Suspended;
			}
		});
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone());
		assert!(Participants::<T>::get(who).expect("registered").is_active());
	}

	#[benchmark]
	fn set_debit_limit() {
		let origin = bank::<T>();
		set_up_fx::<T>();
		let who: T::AccountId = account("participant", 0, 0);
		register::<T>(&who, ParticipantRole::Issuer, b"LIM");
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone(), DEBIT, FUNDS);
		assert_eq!(Accounts::<T>::get(who, DEBIT).debit_limit, FUNDS);
	}

	#[benchmark]
	fn fund() {
		let origin = bank::<T>();
		set_up_fx::<T>();
		let who: T::AccountId = account("participant", 0, 0);
		register::<T>(&who, ParticipantRole::Acquirer, b"FUN");
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone(), CREDIT, FUNDS, long_ref(b'R'));
		assert_eq!(Accounts::<T>::get(who, CREDIT).balance, FUNDS as i128);
	}

	#[benchmark]
	fn withdraw() {
		let origin = bank::<T>();
		set_up_fx::<T>();
		let who: T::AccountId = account("participant", 0, 0);
		register::<T>(&who, ParticipantRole::Acquirer, b"WIT");
		Pallet::<T>::do_transfer(TransferKind::Funding, who.clone(), CREDIT, FUNDS, long_ref(b'R'))
			.expect("funds");
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone(), CREDIT, FUNDS, long_ref(b'W'));
		assert_eq!(Accounts::<T>::get(who, CREDIT).balance, 0);
	}

	#[benchmark]
	fn post_payment() {
		let parties = set_up_parties::<T>();
		let (instruction, signature) = signed_instruction::<T>(&parties, b'O', 1_000_000);
		let posting_id = NextPostingId::<T>::get();
		#[extrinsic_call]
		_(RawOrigin::Signed(parties.acquirer.clone()), instruction, signature);
		assert!(Postings::<T>::contains_key(posting_id));
	}

	/// `n` postings by `i` issuers in turn, every one posted: each issuer's account, net
	/// position, cycle record and entry page are written once, the acquirer's once, and each
	/// posting writes itself and its two order keys. The components stop short of the
	/// runtime's bound to keep the run short; the cost is linear in both.
	#[benchmark]
	fn post_payments(n: Linear<1, { T::MaxPostingsPerBatch::get().min(256) }>, i: Linear<1, 32>) {
		let parties = set_up_parties::<T>();
		let issuers = more_issuers::<T>(i, FUNDS);
		let items = signed_batch::<T>(&parties, &issuers, n);
		let items: BoundedVec<_, T::MaxPostingsPerBatch> =
			items.try_into().map_err(|_| "beyond the runtime's batch bound").expect("fits");
		let first = NextPostingId::<T>::get();
		#[extrinsic_call]
		post_payments(RawOrigin::Signed(parties.acquirer.clone()), items);
		assert_eq!(NextPostingId::<T>::get(), first + n as u64);
	}

	/// `n` instructions refused at the last check a posting makes (the issuer's debit limit),
	/// after its signature and its rate were checked: the costliest item that writes nothing.
	#[benchmark]
	fn post_payments_refused(n: Linear<1, { T::MaxPostingsPerBatch::get().min(256) }>) {
		let parties = set_up_parties::<T>();
		let issuers = more_issuers::<T>(1, 0);
		let items = signed_batch::<T>(&parties, &issuers, n);
		let items: BoundedVec<_, T::MaxPostingsPerBatch> =
			items.try_into().map_err(|_| "beyond the runtime's batch bound").expect("fits");
		let first = NextPostingId::<T>::get();
		#[extrinsic_call]
		post_payments(RawOrigin::Signed(parties.acquirer.clone()), items);
		assert_eq!(NextPostingId::<T>::get(), first);
	}

	#[benchmark]
	fn refund() {
		let parties = set_up_parties::<T>();
		let (instruction, signature) = signed_instruction::<T>(&parties, b'O', 1_000_000);
		Pallet::<T>::do_post_payment(parties.acquirer.clone(), instruction, signature)
			.expect("posts");
		#[extrinsic_call]
		_(RawOrigin::Signed(parties.acquirer.clone()), long_id(b'O'), long_id(b'R'), 333_333);
		assert!(Refunds::<T>::contains_key(&parties.acquirer, long_id(b'R')));
	}

	#[benchmark]
	fn close_cycle() {
		let origin = bank::<T>();
		let current = CurrentCycle::<T>::get();
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin);
		assert_eq!(CurrentCycle::<T>::get(), current + 1);
	}

	#[benchmark]
	fn settle_cycle() {
		let origin = bank::<T>();
		let cycle = CurrentCycle::<T>::get();
		Pallet::<T>::do_close_cycle().expect("closes");
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, cycle, long_ref(b'S'));
		assert_eq!(Cycles::<T>::get(cycle).expect("exists").status, CycleStatus::Settled);
	}

	#[benchmark]
	fn void_instruction() {
		let parties = set_up_parties::<T>();
		#[extrinsic_call]
		_(RawOrigin::Signed(parties.issuer.clone()), long_id(b'V'));
		assert!(VoidedInstructions::<T>::contains_key(&parties.issuer, long_id(b'V')));
	}

	#[benchmark]
	fn deregister_participant() {
		let origin = bank::<T>();
		set_up_fx::<T>();
		let who: T::AccountId = account("participant", 0, 0);
		register::<T>(&who, ParticipantRole::Issuer, b"DER");
		// Emptied accounts in both currencies: every one is read and removed.
		for currency in [DEBIT, CREDIT] {
			Pallet::<T>::do_set_debit_limit(who.clone(), currency, FUNDS).expect("sets");
		}
		#[extrinsic_call]
		_(origin as T::RuntimeOrigin, who.clone());
		assert!(!Participants::<T>::contains_key(&who));
	}

	impl_benchmark_test_suite!(Pallet, crate::mock::new_bench_ext(), crate::mock::Test);
}
