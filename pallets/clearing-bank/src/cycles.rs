//! Settlement cycles: closing and settling them.

use crate::{pallet::*, types::*};
use frame_support::{dispatch::DispatchResult, ensure};

impl<T: Config> Pallet<T> {
	pub(crate) fn do_close_cycle() -> DispatchResult {
		let id = CurrentCycle::<T>::get();
		let now = Self::now();
		let mut cycle = Cycles::<T>::get(id).ok_or(Error::<T>::UnknownCycle)?;
		let next = id.checked_add(1).ok_or(Error::<T>::BalanceOverflow)?;
		cycle.status = CycleStatus::Closed;
		cycle.closed_at = Some(now);
		let (entries, digest) = (cycle.entries, cycle.digest);
		Cycles::<T>::insert(id, cycle);
		Cycles::<T>::insert(next, Cycle::open(now));
		CurrentCycle::<T>::put(next);
		Self::deposit_event(Event::CycleClosed { cycle: id, entries, digest, next });
		Ok(())
	}

	pub(crate) fn do_settle_cycle(cycle: CycleId, reference: ExternalRef) -> DispatchResult {
		ensure!(is_visible_ascii(&reference), Error::<T>::MalformedIdentifier);
		Cycles::<T>::try_mutate(cycle, |c| -> DispatchResult {
			let c = c.as_mut().ok_or(Error::<T>::UnknownCycle)?;
			match c.status {
				CycleStatus::Open => return Err(Error::<T>::CycleNotClosed.into()),
				CycleStatus::Settled => return Err(Error::<T>::CycleAlreadySettled.into()),
				CycleStatus::Closed => {}
			}
			c.status = CycleStatus::Settled;
			c.settlement_ref = Some(reference.clone());
			c.settled_at = Some(Self::now());
			Ok(())
		})?;
		Self::deposit_event(Event::CycleSettled { cycle, reference });
		Ok(())
	}
}
