//! Postings, refunds and voids: the ledger's logic behind the calls.
//!
//! Every posting and refund goes through a [`Ledger`]: it reads the open cycle once, checks
//! each entry against what storage holds with the call's earlier entries applied, and writes
//! the settlement accounts, the FX book, the cycle, each party's per-cycle record and the
//! entry lists once, when the call ends ([`Ledger::commit`]). So a batch of postings writes
//! per posting only what idempotency and look-up need (the posting and its two order-id keys),
//! and everything it aggregates once per batch. An entry that is refused has changed nothing:
//! it is checked in full before it touches the ledger.

use crate::{pallet::*, types::*, weights::WeightInfo};
use alloc::{collections::btree_map::BTreeMap, vec::Vec};
use codec::Encode;
use frame_support::{
	dispatch::{DispatchResult, DispatchResultWithPostInfo, PostDispatchInfo},
	ensure,
	traits::Get,
	weights::Weight,
};
use frame_system::pallet_prelude::BlockNumberFor;
use pallet_fx_rate::{CitedRate, CurrencyCode, Moment, QuoteError, QuoteSide, RateId};
use sp_runtime::{
	traits::{Verify, Zero},
	DispatchError,
};

/// What a posting did.
pub(crate) enum Posted {
	/// Recorded now.
	New,
	/// The same instruction was posted before; nothing changed.
	Already,
}

/// A participant's part of the open cycle, as the call changes it.
struct PartyCycle {
	summary: ParticipantCycle,
	/// Positions in the cycle of the entries this call added for the party, in order.
	added: Vec<u32>,
}

/// The open cycle's ledger during one call.
pub(crate) struct Ledger<T: Config> {
	cycle_id: CycleId,
	cycle: Cycle,
	/// The cycle's entry count when the call began: where `entries` go in its list.
	first_entry: u32,
	entries: Vec<CycleEntry>,
	next_posting_id: PostingId,
	now: Moment,
	block: BlockNumberFor<T>,
	/// Values changed by this call; anything else is read from storage.
	accounts: BTreeMap<(T::AccountId, CurrencyCode), SettlementAccount>,
	fx_book: BTreeMap<CurrencyCode, i128>,
	nets: BTreeMap<(T::AccountId, CurrencyCode), i128>,
	parties: BTreeMap<T::AccountId, PartyCycle>,
	/// Read once per call: neither a participant's status nor a rate's standing can change
	/// within it.
	participants: BTreeMap<T::AccountId, Option<Participant>>,
	rates: BTreeMap<(RateId, CurrencyCode, CurrencyCode), Result<CitedRate, QuoteError>>,
	genesis: Option<T::Hash>,
}

impl<T: Config> Ledger<T> {
	/// The open cycle's ledger as storage holds it.
	pub(crate) fn open() -> Result<Self, Error<T>> {
		let cycle_id = CurrentCycle::<T>::get();
		let cycle = Cycles::<T>::get(cycle_id).ok_or(Error::<T>::UnknownCycle)?;
		Ok(Ledger {
			cycle_id,
			first_entry: cycle.entries,
			cycle,
			entries: Vec::new(),
			next_posting_id: NextPostingId::<T>::get(),
			now: Pallet::<T>::now(),
			block: frame_system::Pallet::<T>::block_number(),
			accounts: BTreeMap::new(),
			fx_book: BTreeMap::new(),
			nets: BTreeMap::new(),
			parties: BTreeMap::new(),
			participants: BTreeMap::new(),
			rates: BTreeMap::new(),
			genesis: None,
		})
	}

	fn participant(&mut self, who: &T::AccountId) -> Option<Participant> {
		self.participants.entry(who.clone()).or_insert_with(|| Participants::<T>::get(who)).clone()
	}

	fn genesis(&mut self) -> T::Hash {
		*self.genesis.get_or_insert_with(|| {
			frame_system::Pallet::<T>::block_hash(BlockNumberFor::<T>::zero())
		})
	}

	fn rate(
		&mut self,
		rate_id: RateId,
		source: CurrencyCode,
		target: CurrencyCode,
	) -> Result<CitedRate, Error<T>> {
		let now = self.now;
		let cited = self.rates.entry((rate_id, source, target)).or_insert_with(|| {
			pallet_fx_rate::Pallet::<T>::rate_for_posting(rate_id, source, target, now)
		});
		cited.map_err(Error::<T>::from)
	}

	fn account(&self, who: &T::AccountId, currency: CurrencyCode) -> SettlementAccount {
		match self.accounts.get(&(who.clone(), currency)) {
			Some(account) => *account,
			None => Accounts::<T>::get(who, currency),
		}
	}

	fn fx_position(&self, currency: CurrencyCode) -> i128 {
		self.fx_book.get(&currency).copied().unwrap_or_else(|| FxBook::<T>::get(currency))
	}

	fn net(&self, who: &T::AccountId, currency: CurrencyCode) -> i128 {
		match self.nets.get(&(who.clone(), currency)) {
			Some(net) => *net,
			None => NetPositions::<T>::get((self.cycle_id, who, currency)),
		}
	}

	fn party(&mut self, who: &T::AccountId) -> &mut PartyCycle {
		let cycle_id = self.cycle_id;
		self.parties.entry(who.clone()).or_insert_with(|| PartyCycle {
			summary: ParticipantCycles::<T>::get(cycle_id, who),
			added: Vec::new(),
		})
	}

	/// Posts one instruction signed by its issuer and submitted by `acquirer`, or refuses it
	/// having changed nothing. A refusal is the same named error whether the instruction came
	/// alone or in a batch.
	pub(crate) fn post(
		&mut self,
		acquirer: &T::AccountId,
		acquirer_info: &Participant,
		instruction: PaymentInstruction<T::AccountId>,
		signature: &T::Signature,
	) -> Result<Posted, Error<T>> {
		ensure!(&instruction.acquirer == acquirer, Error::<T>::AcquirerMismatch);
		let instruction_hash = sp_io::hashing::blake2_256(&instruction.encode());

		// Idempotency before anything else: a resubmission after an unknown outcome must be
		// told "posted already" even when its rate has since gone stale. Postings and their
		// order keys are written as each posting is made, so this also finds the same order
		// earlier in the same batch.
		if let Some(id) = AcquirerOrders::<T>::get(acquirer, &instruction.acquirer_order_id) {
			let posting = Postings::<T>::get(id).ok_or(Error::<T>::UnknownPosting)?;
			ensure!(posting.instruction_hash == instruction_hash, Error::<T>::OrderIdConflict);
			Pallet::<T>::deposit_event(Event::PaymentAlreadyPosted {
				posting_id: id,
				acquirer: acquirer.clone(),
				acquirer_order_id: instruction.acquirer_order_id,
			});
			return Ok(Posted::Already);
		}
		ensure!(
			!VoidedInstructions::<T>::contains_key(
				&instruction.issuer,
				&instruction.issuer_order_id
			),
			Error::<T>::InstructionVoided
		);
		ensure!(
			!IssuerOrders::<T>::contains_key(&instruction.issuer, &instruction.issuer_order_id),
			Error::<T>::IssuerOrderIdConflict
		);
		ensure!(
			[
				&instruction.acquirer_order_id,
				&instruction.issuer_order_id,
				&instruction.aggregator_order_id,
				&instruction.merchant_id,
			]
			.iter()
			.all(|id| is_visible_ascii(id)),
			Error::<T>::MalformedIdentifier
		);
		ensure!(
			!instruction.debit_amount.is_zero() && !instruction.credit_amount.is_zero(),
			Error::<T>::ZeroAmount
		);
		ensure!(acquirer_info.is_active(), Error::<T>::AcquirerSuspended);
		let issuer_info = self
			.participant(&instruction.issuer)
			.filter(|p| p.role == ParticipantRole::Issuer)
			.ok_or(Error::<T>::NotAnIssuer)?;
		ensure!(issuer_info.is_active(), Error::<T>::IssuerSuspended);

		let genesis = self.genesis();
		let payload = instruction_signing_payload(&genesis, &instruction);
		ensure!(
			signature.verify(&payload[..], &instruction.issuer),
			Error::<T>::BadIssuerSignature
		);
		ensure!(self.now <= instruction.expires_at, Error::<T>::InstructionExpired);

		// The merchant's price is fixed; the payer pays its conversion, rounded up, at the
		// pair's effective rate (or one within its grace period).
		let quote = self
			.rate(instruction.rate_id, instruction.debit_currency, instruction.credit_currency)?
			.convert(instruction.credit_amount, QuoteSide::ExactTarget)
			.map_err(Error::<T>::from)?;
		ensure!(quote.source_amount == instruction.debit_amount, Error::<T>::AmountMismatch);

		let posting_id = self.next_posting_id;
		let next = posting_id.checked_add(1).ok_or(Error::<T>::BalanceOverflow)?;
		let cycle = self.book(
			(&instruction.issuer, quote.source, instruction.debit_amount),
			(acquirer, quote.target, instruction.credit_amount),
			CycleEntry::Payment { posting_id },
			payment_leaf(&instruction_hash),
		)?;
		self.next_posting_id = next;
		AcquirerOrders::<T>::insert(acquirer, &instruction.acquirer_order_id, posting_id);
		IssuerOrders::<T>::insert(&instruction.issuer, &instruction.issuer_order_id, posting_id);
		Pallet::<T>::deposit_event(Event::PaymentPosted {
			posting_id,
			cycle,
			issuer: instruction.issuer.clone(),
			acquirer: acquirer.clone(),
			acquirer_order_id: instruction.acquirer_order_id.clone(),
			issuer_order_id: instruction.issuer_order_id.clone(),
			debit_currency: instruction.debit_currency,
			debit_amount: instruction.debit_amount,
			credit_currency: instruction.credit_currency,
			credit_amount: instruction.credit_amount,
			rate_id: instruction.rate_id,
		});
		Postings::<T>::insert(
			posting_id,
			Posting {
				instruction,
				instruction_hash,
				cycle,
				posted_at: self.now,
				block: self.block,
				refunded_credit: 0,
				refunded_debit: 0,
				refunds: 0,
			},
		);
		Ok(Posted::New)
	}

	/// Refunds `credit_amount` of the posting under `acquirer`'s `acquirer_order_id`, at the
	/// posting's own rate, under `refund_id`; or refuses, having changed nothing.
	pub(crate) fn refund(
		&mut self,
		acquirer: &T::AccountId,
		acquirer_order_id: OrderId,
		refund_id: OrderId,
		credit_amount: u128,
	) -> Result<(), Error<T>> {
		let acquirer_info = self
			.participant(acquirer)
			.filter(|p| p.role == ParticipantRole::Acquirer)
			.ok_or(Error::<T>::NotAnAcquirer)?;
		ensure!(
			is_visible_ascii(&acquirer_order_id) && is_visible_ascii(&refund_id),
			Error::<T>::MalformedIdentifier
		);
		let posting_id = AcquirerOrders::<T>::get(acquirer, &acquirer_order_id)
			.ok_or(Error::<T>::UnknownPosting)?;
		if let Some(seen) = Refunds::<T>::get(acquirer, &refund_id) {
			let same = seen.posting_id == posting_id && seen.credit_amount == credit_amount;
			ensure!(same, Error::<T>::RefundIdConflict);
			Pallet::<T>::deposit_event(Event::RefundAlreadyRecorded {
				posting_id,
				acquirer: acquirer.clone(),
				refund_id,
			});
			return Ok(());
		}
		ensure!(!credit_amount.is_zero(), Error::<T>::ZeroAmount);
		ensure!(acquirer_info.is_active(), Error::<T>::AcquirerSuspended);
		let mut posting = Postings::<T>::get(posting_id).ok_or(Error::<T>::UnknownPosting)?;
		let issuer = posting.instruction.issuer.clone();
		let issuer_info = self.participant(&issuer).ok_or(Error::<T>::NotAnIssuer)?;
		ensure!(issuer_info.is_active(), Error::<T>::IssuerSuspended);
		let debit_amount = refund_debit_amount(
			posting.instruction.debit_amount,
			posting.instruction.credit_amount,
			posting.refunded_credit,
			posting.refunded_debit,
			credit_amount,
		)
		.ok_or(Error::<T>::RefundExceedsPosting)?;

		let leaf = refund_leaf(&posting.instruction_hash, &refund_id, credit_amount, debit_amount);
		let i = &posting.instruction;
		let cycle = self.book(
			(acquirer, i.credit_currency, credit_amount),
			(&issuer, i.debit_currency, debit_amount),
			CycleEntry::Refund { posting_id, refund_id: refund_id.clone() },
			leaf,
		)?;
		posting.refunded_credit += credit_amount;
		posting.refunded_debit += debit_amount;
		posting.refunds += 1;
		Postings::<T>::insert(posting_id, posting);
		let record =
			RefundRecord { posting_id, credit_amount, debit_amount, cycle, refunded_at: self.now };
		Refunds::<T>::insert(acquirer, &refund_id, record);
		Pallet::<T>::deposit_event(Event::PaymentRefunded {
			posting_id,
			cycle,
			acquirer: acquirer.clone(),
			refund_id,
			credit_amount,
			debit_amount,
		});
		Ok(())
	}

	/// Books one entry: `payer` pays `paid` in its currency, `payee` receives `received` in
	/// its own, the FX book takes the other side of both legs, and the entry joins the open
	/// cycle for both parties. Everything is checked (the payer's debit limit, every range,
	/// the cycle's room) before anything changes.
	fn book(
		&mut self,
		(payer, paid_currency, paid): (&T::AccountId, CurrencyCode, u128),
		(payee, received_currency, received): (&T::AccountId, CurrencyCode, u128),
		entry: CycleEntry,
		leaf: [u8; 32],
	) -> Result<CycleId, Error<T>> {
		let overflow = || Error::<T>::BalanceOverflow;
		let paid = i128::try_from(paid).map_err(|_| overflow())?;
		let received = i128::try_from(received).map_err(|_| overflow())?;
		ensure!(self.cycle.entries < T::MaxEntriesPerCycle::get(), Error::<T>::CycleFull);

		// The two legs are in different currencies and belong to different participants (a
		// pair converts two currencies; a participant is an issuer or an acquirer), so each
		// value below is read and changed once.
		let mut payer_account = self.account(payer, paid_currency);
		let mut payee_account = self.account(payee, received_currency);
		ensure!(payer_account.available() >= paid, Error::<T>::DebitLimitExceeded);
		payer_account.balance = payer_account.balance.checked_sub(paid).ok_or_else(overflow)?;
		payee_account.balance = payee_account.balance.checked_add(received).ok_or_else(overflow)?;
		let fx_paid = self.fx_position(paid_currency).checked_add(paid).ok_or_else(overflow)?;
		let fx_received =
			self.fx_position(received_currency).checked_sub(received).ok_or_else(overflow)?;
		let payer_net = self.net(payer, paid_currency).checked_sub(paid).ok_or_else(overflow)?;
		let payee_net =
			self.net(payee, received_currency).checked_add(received).ok_or_else(overflow)?;

		self.accounts.insert((payer.clone(), paid_currency), payer_account);
		self.accounts.insert((payee.clone(), received_currency), payee_account);
		self.fx_book.insert(paid_currency, fx_paid);
		self.fx_book.insert(received_currency, fx_received);
		self.nets.insert((payer.clone(), paid_currency), payer_net);
		self.nets.insert((payee.clone(), received_currency), payee_net);
		let index = self.cycle.entries;
		self.cycle.entries += 1;
		self.cycle.digest = chain_digest(&self.cycle.digest, &leaf);
		self.entries.push(entry);
		for who in [payer, payee] {
			let party = self.party(who);
			party.summary.entries += 1;
			party.summary.digest = chain_digest(&party.summary.digest, &leaf);
			party.added.push(index);
		}
		Ok(self.cycle_id)
	}

	/// Writes what the call changed: each value once.
	pub(crate) fn commit(self) {
		if self.entries.is_empty() {
			return;
		}
		let cycle_id = self.cycle_id;
		Cycles::<T>::insert(cycle_id, &self.cycle);
		NextPostingId::<T>::put(self.next_posting_id);
		append_paged(self.first_entry, self.entries, |page, entries| {
			CycleEntries::<T>::mutate(cycle_id, page, |p| extend_page(p, entries))
		});
		for ((who, currency), account) in self.accounts {
			Accounts::<T>::insert(who, currency, account);
		}
		for (currency, position) in self.fx_book {
			FxBook::<T>::insert(currency, position);
		}
		for ((who, currency), net) in self.nets {
			NetPositions::<T>::insert((cycle_id, who, currency), net);
		}
		for (who, party) in self.parties {
			let first = party.summary.entries - party.added.len() as u32;
			append_paged(first, party.added, |page, indexes| {
				ParticipantEntries::<T>::mutate((cycle_id, &who, page), |p| extend_page(p, indexes))
			});
			ParticipantCycles::<T>::insert(cycle_id, &who, party.summary);
		}
	}
}

/// Appends `items` to a paged list whose next free position is `first`, handing each page
/// its share: one write per page touched.
fn append_paged<V>(first: u32, items: Vec<V>, mut write: impl FnMut(u32, Vec<V>)) {
	let mut next = first;
	let mut items = items.into_iter().peekable();
	while items.peek().is_some() {
		let (page, at) = page_of(next);
		let share: Vec<V> = items.by_ref().take(ENTRIES_PER_PAGE as usize - at).collect();
		next += share.len() as u32;
		write(page, share);
	}
}

fn extend_page<V>(page: &mut EntryPage<V>, items: Vec<V>) {
	for item in items {
		// `append_paged` hands a page no more than its room.
		if page.try_push(item).is_err() {
			frame_support::defensive!("an entry page overflowed");
		}
	}
}

/// A batch's weight: `posted` postings touching `accounts` settlement accounts (see
/// [`touched_accounts`]), and `others` items that posted nothing (refused, or posted before),
/// charged as the costliest refusal.
pub fn batch_weight<T: Config>(posted: u32, accounts: u32, others: u32) -> Weight {
	let refused = <T as Config>::WeightInfo::post_payments_refused(others)
		.saturating_sub(<T as Config>::WeightInfo::post_payments_refused(0));
	<T as Config>::WeightInfo::post_payments(posted, accounts).saturating_add(refused)
}

/// How many settlement accounts a batch can touch besides the acquirer's first: one per
/// distinct issuer and debit currency, and one per further credit currency. This is the
/// weight's `i`, which the benchmark measures as issuers of one currency each (an issuer
/// costs an account, a net position, a cycle record and an entry page; a further currency of
/// a party costs less: an account, a net position and the FX book's leg).
pub fn touched_accounts<AccountId: Ord, S>(items: &[(PaymentInstruction<AccountId>, S)]) -> u32 {
	let mut debits: Vec<(&AccountId, CurrencyCode)> =
		items.iter().map(|(i, _)| (&i.issuer, i.debit_currency)).collect();
	debits.sort_unstable();
	debits.dedup();
	let mut credits: Vec<CurrencyCode> = items.iter().map(|(i, _)| i.credit_currency).collect();
	credits.sort_unstable();
	credits.dedup();
	(debits.len() + credits.len().saturating_sub(1)) as u32
}

impl<T: Config> Pallet<T> {
	pub(crate) fn do_post_payment(
		acquirer: T::AccountId,
		instruction: PaymentInstruction<T::AccountId>,
		signature: T::Signature,
	) -> DispatchResult {
		let acquirer_info =
			Self::participant_in_role(&acquirer, ParticipantRole::Acquirer, Error::NotAnAcquirer)?;
		let mut ledger = Ledger::<T>::open()?;
		ledger.post(&acquirer, &acquirer_info, instruction, &signature)?;
		ledger.commit();
		Ok(())
	}

	pub(crate) fn do_post_payments(
		acquirer: T::AccountId,
		items: Vec<(PaymentInstruction<T::AccountId>, T::Signature)>,
	) -> DispatchResultWithPostInfo {
		ensure!(!items.is_empty(), Error::<T>::EmptyBatch);
		let acquirer_info =
			Self::participant_in_role(&acquirer, ParticipantRole::Acquirer, Error::NotAnAcquirer)?;
		let accounts = touched_accounts(&items);
		let mut ledger = Ledger::<T>::open()?;
		let (mut posted, mut others) = (0u32, 0u32);
		for (instruction, signature) in items {
			let acquirer_order_id = instruction.acquirer_order_id.clone();
			match ledger.post(&acquirer, &acquirer_info, instruction, &signature) {
				Ok(Posted::New) => posted += 1,
				Ok(Posted::Already) => others += 1,
				Err(error) => {
					others += 1;
					Self::deposit_event(Event::PaymentRefused {
						acquirer: acquirer.clone(),
						acquirer_order_id,
						error: DispatchError::from(error),
					});
				}
			}
		}
		ledger.commit();
		Ok(PostDispatchInfo {
			actual_weight: Some(batch_weight::<T>(posted, accounts, others)),
			pays_fee: frame_support::dispatch::Pays::Yes,
		})
	}

	pub(crate) fn do_refund(
		acquirer: T::AccountId,
		acquirer_order_id: OrderId,
		refund_id: OrderId,
		credit_amount: u128,
	) -> DispatchResult {
		let mut ledger = Ledger::<T>::open()?;
		ledger.refund(&acquirer, acquirer_order_id, refund_id, credit_amount)?;
		ledger.commit();
		Ok(())
	}

	pub(crate) fn do_void(issuer: T::AccountId, issuer_order_id: OrderId) -> DispatchResult {
		Self::participant_in_role(&issuer, ParticipantRole::Issuer, Error::NotAnIssuer)?;
		ensure!(is_visible_ascii(&issuer_order_id), Error::<T>::MalformedIdentifier);
		ensure!(
			!IssuerOrders::<T>::contains_key(&issuer, &issuer_order_id),
			Error::<T>::AlreadyPosted
		);
		if VoidedInstructions::<T>::contains_key(&issuer, &issuer_order_id) {
			Self::deposit_event(Event::InstructionAlreadyVoided { issuer, issuer_order_id });
			return Ok(());
		}
		let record =
			VoidRecord { voided_at: Self::now(), block: frame_system::Pallet::<T>::block_number() };
		VoidedInstructions::<T>::insert(&issuer, &issuer_order_id, record);
		Self::deposit_event(Event::InstructionVoided { issuer, issuer_order_id });
		Ok(())
	}
}
