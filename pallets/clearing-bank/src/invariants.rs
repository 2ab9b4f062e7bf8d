//! The ledger's invariants, checked by `try_state` and after every test.

use crate::{pallet::*, types::*};
use frame_support::{ensure, traits::Get};
use pallet_fx_rate::CurrencyCode;

impl<T: Config> Pallet<T> {
	/// Invariants: each currency's accounts and FX book sum to funded minus withdrawn;
	/// every posting's refunds add up to its refunded amounts and stay within it; order
	/// indexes point at their postings; cycles hold the entries they count, and only the
	/// current one is open.
	pub fn do_try_state() -> Result<(), sp_runtime::TryRuntimeError> {
		use alloc::collections::btree_map::BTreeMap;
		let mut sums: BTreeMap<CurrencyCode, i128> = BTreeMap::new();
		for (_, currency, account) in Accounts::<T>::iter() {
			let sum = sums.entry(currency).or_default();
			*sum = sum.checked_add(account.balance).ok_or("ledger sum overflows")?;
		}
		for (currency, position) in FxBook::<T>::iter() {
			let sum = sums.entry(currency).or_default();
			*sum = sum.checked_add(position).ok_or("ledger sum overflows")?;
		}
		for (currency, _) in Totals::<T>::iter() {
			sums.entry(currency).or_default();
		}
		for (currency, sum) in sums {
			let totals = Totals::<T>::get(currency);
			let net = i128::try_from(totals.funded).map_err(|_| "funded overflows")?
				- i128::try_from(totals.withdrawn).map_err(|_| "withdrawn overflows")?;
			ensure!(sum == net, "a currency's accounts do not sum to funded minus withdrawn");
		}

		let mut refunded: BTreeMap<PostingId, (u128, u128, u32)> = BTreeMap::new();
		for (_, _, r) in Refunds::<T>::iter() {
			let t = refunded.entry(r.posting_id).or_default();
			t.0 += r.credit_amount;
			t.1 += r.debit_amount;
			t.2 += 1;
		}
		let next = NextPostingId::<T>::get();
		for (id, p) in Postings::<T>::iter() {
			ensure!(id < next, "posting id beyond NextPostingId");
			let (credit, debit, count) = refunded.remove(&id).unwrap_or_default();
			ensure!(
				(credit, debit, count) == (p.refunded_credit, p.refunded_debit, p.refunds),
				"a posting's refunds do not add up"
			);
			ensure!(
				credit <= p.instruction.credit_amount && debit <= p.instruction.debit_amount,
				"a posting is refunded beyond what it paid"
			);
			let i = &p.instruction;
			ensure!(
				AcquirerOrders::<T>::get(&i.acquirer, &i.acquirer_order_id) == Some(id)
					&& IssuerOrders::<T>::get(&i.issuer, &i.issuer_order_id) == Some(id),
				"a posting is missing from its order indexes"
			);
		}
		ensure!(refunded.is_empty(), "a refund of an unknown posting");
		for (issuer, order_id, _) in VoidedInstructions::<T>::iter() {
			ensure!(
				!IssuerOrders::<T>::contains_key(&issuer, &order_id),
				"a voided issuer order id is posted"
			);
		}
		let postings = Postings::<T>::iter().count();
		ensure!(
			AcquirerOrders::<T>::iter().count() == postings
				&& IssuerOrders::<T>::iter().count() == postings,
			"order indexes and postings differ in number"
		);

		let current = CurrentCycle::<T>::get();
		for (id, cycle) in Cycles::<T>::iter() {
			ensure!(id <= current, "a cycle beyond the current one");
			ensure!(
				(cycle.status == CycleStatus::Open) == (id == current),
				"only the current cycle is open"
			);
			let pages = CycleEntries::<T>::iter_prefix(id).map(|(page, e)| (page, e.len()));
			let entries = paged_count(pages)?;
			ensure!(entries == cycle.entries, "a cycle's entry count is wrong");
			ensure!(entries <= T::MaxEntriesPerCycle::get(), "a cycle holds too many entries");
		}
		for (cycle, who, p) in ParticipantCycles::<T>::iter() {
			let pages = ParticipantEntries::<T>::iter_prefix((cycle, &who))
				.map(|(page, indexes)| (page, indexes.len()));
			ensure!(paged_count(pages)? == p.entries, "a participant's cycle entry count is wrong");
		}
		Ok(())
	}
}

/// The number of entries in a paged list given as `(page, length)` in any order: pages `0..n`,
/// all full but the last, which is not empty.
fn paged_count(
	pages: impl Iterator<Item = (u32, usize)>,
) -> Result<u32, sp_runtime::TryRuntimeError> {
	let mut pages: alloc::vec::Vec<(u32, usize)> = pages.collect();
	pages.sort_unstable();
	let full = ENTRIES_PER_PAGE as usize;
	for (n, (page, len)) in pages.iter().enumerate() {
		ensure!(*page == n as u32, "an entry list has a gap between pages");
		let last = n + 1 == pages.len();
		let sized = if last { (1..=full).contains(len) } else { *len == full };
		ensure!(sized, "an entry page is not full");
	}
	Ok(pages.iter().map(|(_, len)| *len as u32).sum())
}
