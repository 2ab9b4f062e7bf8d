//! What the runtime API answers: postings, participants, cycles and statements, read from
//! storage in the shapes callers want.

use crate::{pallet::*, types::*};
use alloc::vec::Vec;
use frame_system::pallet_prelude::BlockNumberFor;

impl<T: Config> Pallet<T> {
	/// A posting by id.
	pub fn posting_by_id(id: PostingId) -> Option<PostingView<T::AccountId, BlockNumberFor<T>>> {
		let posting = Postings::<T>::get(id)?;
		let cycle_status = Cycles::<T>::get(posting.cycle).map(|c| c.status)?;
		Some(PostingView { id, status: posting.status(), cycle_status, posting })
	}

	/// A posting by a party's own order id: the acquirer's order id when `party` is an
	/// acquirer, the issuer's when it is an issuer. Read from the order indexes, which outlive
	/// a participant's registration.
	pub fn posting_by_order(
		party: T::AccountId,
		order_id: OrderId,
	) -> Option<PostingView<T::AccountId, BlockNumberFor<T>>> {
		let id = AcquirerOrders::<T>::get(&party, &order_id)
			.or_else(|| IssuerOrders::<T>::get(&party, &order_id))?;
		Self::posting_by_id(id)
	}

	/// The postings under `party`'s order ids, in their order, `None` where there is none: how
	/// a batch's poster learns in one call which of its instructions the chain holds. At most
	/// [`MAX_LOOKUPS`] ids are answered.
	pub fn postings_by_order(
		party: T::AccountId,
		order_ids: Vec<OrderId>,
	) -> Vec<Option<PostingView<T::AccountId, BlockNumberFor<T>>>> {
		order_ids
			.into_iter()
			.take(MAX_LOOKUPS as usize)
			.map(|order_id| Self::posting_by_order(party.clone(), order_id))
			.collect()
	}

	/// What the chain holds under an issuer's order id: its posting, its void, or nothing
	/// (the instruction may still be posted until it expires).
	pub fn instruction_state(
		issuer: T::AccountId,
		issuer_order_id: OrderId,
	) -> Option<InstructionState<T::AccountId, BlockNumberFor<T>>> {
		if let Some(id) = IssuerOrders::<T>::get(&issuer, &issuer_order_id) {
			return Self::posting_by_id(id).map(InstructionState::Posted);
		}
		VoidedInstructions::<T>::get(&issuer, &issuer_order_id).map(InstructionState::Voided)
	}

	/// A refund by the acquirer's refund id.
	pub fn refund_by_id(acquirer: T::AccountId, refund_id: OrderId) -> Option<RefundRecord> {
		Refunds::<T>::get(acquirer, refund_id)
	}

	/// A participant with its settlement accounts.
	pub fn participant_view(who: T::AccountId) -> Option<ParticipantView<T::AccountId>> {
		let participant = Participants::<T>::get(&who)?;
		let accounts = Accounts::<T>::iter_prefix(&who).collect();
		Some(ParticipantView { account: who, participant, accounts })
	}

	/// A cycle (the open one for `None`) with every participant's net positions in it.
	pub fn cycle_view(id: Option<CycleId>) -> Option<CycleView<T::AccountId>> {
		let id = id.unwrap_or_else(CurrentCycle::<T>::get);
		let cycle = Cycles::<T>::get(id)?;
		let net_positions = NetPositions::<T>::iter_prefix((id,))
			.map(|((who, currency), net)| (who, currency, net))
			.collect();
		Some(CycleView { id, cycle, net_positions })
	}

	/// Up to `limit` (at most [`MAX_STATEMENT_PAGE`]) of `who`'s entries in `cycle`, from its
	/// `start`-th one, with its summary and net positions.
	pub fn statement(
		cycle: CycleId,
		who: T::AccountId,
		start: u32,
		limit: u32,
	) -> Option<StatementPage<T::AccountId>> {
		let cycle_status = Cycles::<T>::get(cycle)?.status;
		let summary = ParticipantCycles::<T>::get(cycle, &who);
		let net_positions = NetPositions::<T>::iter_prefix((cycle, &who)).collect();
		let end = start.saturating_add(limit.min(MAX_STATEMENT_PAGE)).min(summary.entries);
		// Each page read once: a statement page spans at most nine of the party's pages and
		// as many of the cycle's as its entries fall in.
		let mut party_pages = alloc::collections::BTreeMap::new();
		let mut cycle_pages = alloc::collections::BTreeMap::new();
		let entries: Vec<_> = (start..end)
			.filter_map(|n| {
				let (page, at) = page_of(n);
				let indexes = party_pages
					.entry(page)
					.or_insert_with(|| ParticipantEntries::<T>::get((cycle, &who, page)));
				indexes.get(at).copied()
			})
			.filter_map(|index| {
				let (page, at) = page_of(index);
				let entries =
					cycle_pages.entry(page).or_insert_with(|| CycleEntries::<T>::get(cycle, page));
				let entry = entries.get(at)?.clone();
				Self::statement_entry(index, entry, &who)
			})
			.collect();
		let next = (end < summary.entries).then_some(end);
		Some(StatementPage {
			cycle,
			cycle_status,
			participant: who,
			summary,
			net_positions,
			entries,
			next,
		})
	}

	fn statement_entry(
		index: u32,
		entry: CycleEntry,
		who: &T::AccountId,
	) -> Option<StatementEntry<T::AccountId>> {
		let (posting_id, refund_id) = match &entry {
			CycleEntry::Payment { posting_id } => (*posting_id, None),
			CycleEntry::Refund { posting_id, refund_id } => (*posting_id, Some(refund_id)),
		};
		let posting = Postings::<T>::get(posting_id)?;
		let refund = match refund_id {
			None => None,
			Some(id) => Some((id.clone(), Refunds::<T>::get(&posting.instruction.acquirer, id)?)),
		};
		let i = &posting.instruction;
		let is_issuer = &i.issuer == who;
		let (currency, counterparty) = if is_issuer {
			(i.debit_currency, i.acquirer.clone())
		} else {
			(i.credit_currency, i.issuer.clone())
		};
		// From the participant's side: a payment debits the issuer and credits the acquirer; a
		// refund the other way round.
		let (credit, debit, booked_at, leaf) = match &refund {
			None => (
				i.credit_amount,
				i.debit_amount,
				posting.posted_at,
				payment_leaf(&posting.instruction_hash),
			),
			Some((refund_id, r)) => (
				r.credit_amount,
				r.debit_amount,
				r.refunded_at,
				refund_leaf(&posting.instruction_hash, refund_id, r.credit_amount, r.debit_amount),
			),
		};
		let magnitude = i128::try_from(if is_issuer { debit } else { credit }).ok()?;
		let credited = (refund.is_some()) == is_issuer;
		Some(StatementEntry {
			cycle_index: index,
			entry,
			acquirer_order_id: i.acquirer_order_id.clone(),
			issuer_order_id: i.issuer_order_id.clone(),
			counterparty,
			currency,
			amount: if credited { magnitude } else { -magnitude },
			rate_id: i.rate_id,
			booked_at,
			leaf,
		})
	}
}
