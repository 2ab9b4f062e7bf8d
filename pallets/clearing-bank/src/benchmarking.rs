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

/// A publication of `feeder` for the benchmark pair, fresh for the pair's longest validity.
fn rate_record<T: Config>(feeder: &T::AccountId, mid: u128) -> RateRecord<T::AccountId> {
	let now = pallet_fx_rate::Pallet::<T>::now();
	RateRecord {
		pair: Pair::new(DEBIT, CREDIT),
		feeder: Some(feeder.clone()),
		mid,
		spread: Permill::from_parts(2_000),
		published_at: now,
		valid_until: now + <T as pallet_fx_rate::Config>::MaxValidity::get(),
	}
}

/// Stores `record` under the next rate id, which it returns.
fn publish<T: Config>(record: RateRecord<T::AccountId>) -> RateId {
	let id = pallet_fx_rate::NextRateId::<T>::get();
	pallet_fx_rate::Rates::<T>::insert(id, record);
	pallet_fx_rate::NextRateId::<T>::put(id + 1);
	id
}

/// The benchmark currencies and their pair, in the worst case for a posting's rate check:
/// `MaxFeedersPerPair` feeders with fresh rates (the median is taken over all of them), and a
/// full list of rates publications superseded just now, each still citable. Returns the
/// citable superseded rates' ids, the costliest to check last.
fn set_up_fx<T: Config>() -> alloc::vec::Vec<RateId> {
	let info = CurrencyInfo { numeric: 999, minor_units: 2 };
	pallet_fx_rate::Currencies::<T>::insert(DEBIT, info);
	pallet_fx_rate::Currencies::<T>::insert(CREDIT, info);
	let pair = Pair::new(DEBIT, CREDIT);
	let limits = PairLimits {
		max_spread: Permill::from_percent(1),
		max_validity: <T as pallet_fx_rate::Config>::MaxValidity::get(),
		grace_period: PairLimits::DEFAULT_GRACE_PERIOD,
		min_feeds: 1,
		max_deviation: Permill::from_percent(5),
	};
	pallet_fx_rate::Pairs::<T>::insert(pair, PairConfig { enabled: true, limits });
	let now = pallet_fx_rate::Pallet::<T>::now();
	let first: T::AccountId = account("feeder", 0, 0);
	let superseded: alloc::vec::Vec<(RateId, pallet_fx_rate::Moment)> = (0
		..<pallet_fx_rate::MaxSuperseded as Get<u32>>::get())
		.map(|j| (publish::<T>(rate_record::<T>(&first, RATE_SCALE * 9 / 10 + j as u128)), now))
		.collect();
	let mut latest_feeds = alloc::vec::Vec::new();
	for i in 0..<T as pallet_fx_rate::Config>::MaxFeedersPerPair::get() {
		let feeder: T::AccountId = account("feeder", i, 0);
		let record = rate_record::<T>(&feeder, RATE_SCALE * 9 / 10 + i as u128);
		let latest = publish::<T>(record.clone());
		pallet_fx_rate::Feeders::<T>::insert(
			pair,
			feeder,
			FeederStatus { latest_rate: Some(latest) },
		);
		latest_feeds.push((latest, record));
	}
	pallet_fx_rate::FeederCount::<T>::insert(
		pair,
		<T as pallet_fx_rate::Config>::MaxFeedersPerPair::get(),
	);
	pallet_fx_rate::LatestFeeds::<T>::insert(pair, BoundedVec::truncate_from(latest_feeds));
	let ids = superseded.iter().rev().map(|(id, _)| *id).collect();
	pallet_fx_rate::Superseded::<T>::insert(pair, BoundedVec::truncate_from(superseded));
	ids
}

/// The open cycle with `ENTRIES_PER_PAGE - 1` entries of the largest kind (fewer where the
/// cycle's bound would leave no room for a batch), and each of `parties` party to all of them:
/// the next entry fills the cycle's page and each party's, which must be read and written
/// whole, and the one after starts new ones.
fn fill_pages<T: Config>(parties: &[&T::AccountId]) {
	let cycle = CurrentCycle::<T>::get();
	let room = T::MaxEntriesPerCycle::get().saturating_sub(T::MaxPostingsPerBatch::get() + 1);
	let filled = (ENTRIES_PER_PAGE - 1).min(room);
	let entry = CycleEntry::Refund { posting_id: PostingId::MAX, refund_id: long_id(b'F') };
	CycleEntries::<T>::insert(
		cycle,
		0,
		EntryPage::truncate_from(alloc::vec![entry; filled as usize]),
	);
	Cycles::<T>::mutate(cycle, |c| {
		if let Some(c) = c {
			c.entries = filled;
		}
	});
	for who in parties {
		let indexes = EntryPage::truncate_from((0..filled).collect::<alloc::vec::Vec<u32>>());
		ParticipantEntries::<T>::insert((cycle, *who, 0), indexes);
		ParticipantCycles::<T>::insert(
			cycle,
			*who,
			ParticipantCycle { entries: filled, digest: [7; 32] },
		);
	}
}

fn register<T: Config>(who: &T::AccountId, role: ParticipantRole, tag: &[u8]) {
	Pallet::<T>::do_register(who.clone(), role, code(tag), name()).expect("registers");
}

struct Parties<T: Config> {
	issuer: T::AccountId,
	acquirer: T::AccountId,
	/// The costliest citable rate to check.
	rate_id: RateId,
	/// Every citable rate.
	rates: alloc::vec::Vec<RateId>,
}

/// A funded issuer with a signing key, an acquirer, and a rate; the clearing bank set.
fn set_up_parties<T: Config>() -> Parties<T> {
	let _ = bank::<T>();
	let rates = set_up_fx::<T>();
	let rate_id = rates[0];
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
	Parties { issuer, acquirer, rate_id, rates }
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

/// `n` signed instructions with the longest ids, from `issuers` in turn, citing `rates` in turn
/// (each distinct rate is checked once a batch).
fn signed_batch<T: Config>(
	p: &Parties<T>,
	issuers: &[T::AccountId],
	rates: &[RateId],
	n: u32,
) -> alloc::vec::Vec<(PaymentInstruction<T::AccountId>, T::Signature)> {
	let now = pallet_fx_rate::Pallet::<T>::now();
	(0..n)
		.map(|k| {
			let issuer = issuers[k as usize % issuers.len()].clone();
			let rate_id = rates[k as usize % rates.len()];
			let (mut instruction, _) = signed_instruction::<T>(p, b'O', 1_000_000);
			instruction.issuer = issuer.clone();
			instruction.acquirer_order_id = numbered_id(b'B', k);
			instruction.issuer_order_id = numbered_id(b'I', k);
			instruction.rate_id = rate_id;
			// Converted at the cited rate; for a rate that is not citable, at its mid.
			instruction.debit_amount = pallet_fx_rate::Pallet::<T>::quote_for_posting(
				rate_id,
				DEBIT,
				CREDIT,
				instruction.credit_amount,
				pallet_fx_rate::QuoteSide::ExactTarget,
				now,
			)
			.map(|q| q.source_amount)
			.unwrap_or(instruction.debit_amount);
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
		fill_pages::<T>(&[&parties.issuer, &parties.acquirer]);
		let (instruction, signature) = signed_instruction::<T>(&parties, b'O', 1_000_000);
		let posting_id = NextPostingId::<T>::get();
		#[extrinsic_call]
		_(RawOrigin::Signed(parties.acquirer.clone()), instruction, signature);
		assert!(Postings::<T>::contains_key(posting_id));
	}

	/// `n` postings by `i` issuers in turn, every one posted, citing every citable rate in
	/// turn, into nearly full entry pages: each issuer's account, net position, cycle record
	/// and entry pages are written once, the acquirer's once, and each posting writes itself
	/// and its two order keys. The components stop short of the runtime's bound to keep the
	/// run short; the cost is linear in both.
	#[benchmark]
	fn post_payments(n: Linear<1, { T::MaxPostingsPerBatch::get().min(256) }>, i: Linear<1, 32>) {
		let parties = set_up_parties::<T>();
		let issuers = more_issuers::<T>(i, FUNDS);
		let mut pages: alloc::vec::Vec<&T::AccountId> = issuers.iter().collect();
		pages.push(&parties.acquirer);
		fill_pages::<T>(&pages);
		let items = signed_batch::<T>(&parties, &issuers, &parties.rates, n);
		let items: BoundedVec<_, T::MaxPostingsPerBatch> =
			items.try_into().map_err(|_| "beyond the runtime's batch bound").expect("fits");
		let first = NextPostingId::<T>::get();
		#[extrinsic_call]
		post_payments(RawOrigin::Signed(parties.acquirer.clone()), items);
		assert_eq!(NextPostingId::<T>::get(), first + n as u64);
	}

	/// `n` instructions refused as late as an instruction can be, each citing a rate of its
	/// own (a rate is checked once a batch): those citing a citable rate pass every check but
	/// the issuer's debit limit (the issuer has no funds), the others are fresh publications
	/// of a current feeder that are not citable, refused after the pair's effective rate was
	/// worked out. The costliest item that writes nothing.
	#[benchmark]
	fn post_payments_refused(n: Linear<1, { T::MaxPostingsPerBatch::get().min(256) }>) {
		let parties = set_up_parties::<T>();
		let issuers = more_issuers::<T>(1, 0);
		let feeder: T::AccountId = account("feeder", 0, 0);
		let mut rates = parties.rates.clone();
		while rates.len() < n as usize {
			rates.push(publish::<T>(rate_record::<T>(&feeder, RATE_SCALE * 9 / 10)));
		}
		let items = signed_batch::<T>(&parties, &issuers, &rates, n);
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
		fill_pages::<T>(&[&parties.issuer, &parties.acquirer]);
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
