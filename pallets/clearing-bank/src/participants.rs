//! Participants and their settlement accounts: registration, status, debit limits, fundings
//! and withdrawals.

use crate::{pallet::*, types::*};
use frame_support::{dispatch::DispatchResult, ensure};
use pallet_fx_rate::CurrencyCode;
use sp_runtime::traits::Zero;

impl<T: Config> Pallet<T> {
	pub(crate) fn do_set_clearing_bank(account: T::AccountId) -> DispatchResult {
		ensure!(!Participants::<T>::contains_key(&account), Error::<T>::AccountIsParticipant);
		ClearingBankAccount::<T>::put(&account);
		Self::deposit_event(Event::ClearingBankSet { account });
		Ok(())
	}

	pub(crate) fn do_register(
		who: T::AccountId,
		role: ParticipantRole,
		code: ParticipantCode,
		name: ParticipantName,
	) -> DispatchResult {
		ensure!(is_well_formed_code(&code), Error::<T>::MalformedParticipantCode);
		ensure!(
			!name.is_empty() && core::str::from_utf8(&name).is_ok(),
			Error::<T>::MalformedParticipantName
		);
		ensure!(
			ClearingBankAccount::<T>::get().as_ref() != Some(&who),
			Error::<T>::AccountIsClearingBank
		);
		ensure!(!Participants::<T>::contains_key(&who), Error::<T>::ParticipantAlreadyRegistered);
		ensure!(!ParticipantCodes::<T>::contains_key(&code), Error::<T>::ParticipantCodeTaken);
		ParticipantCodes::<T>::insert(&code, &who);
		Participants::<T>::insert(
			&who,
			Participant { role, code: code.clone(), name, status: ParticipantStatus::Active },
		);
		Self::deposit_event(Event::ParticipantRegistered { who, role, code });
		Ok(())
	}

	pub(crate) fn set_status(who: &T::AccountId, status: ParticipantStatus) -> DispatchResult {
		Participants::<T>::try_mutate(who, |p| {
			let p = p.as_mut().ok_or(Error::<T>::UnknownParticipant)?;
			if p.status == status {
				return Err(match status {
					ParticipantStatus::Suspended => Error::<T>::ParticipantAlreadySuspended,
					ParticipantStatus::Active => Error::<T>::ParticipantNotSuspended,
				}
				.into());
			}
			p.status = status;
			Ok(())
		})
	}

	fn ensure_account(who: &T::AccountId, currency: CurrencyCode) -> DispatchResult {
		ensure!(Participants::<T>::contains_key(who), Error::<T>::UnknownParticipant);
		ensure!(
			pallet_fx_rate::Currencies::<T>::contains_key(currency),
			Error::<T>::UnknownCurrency
		);
		Ok(())
	}

	pub(crate) fn do_set_debit_limit(
		who: T::AccountId,
		currency: CurrencyCode,
		limit: u128,
	) -> DispatchResult {
		Self::ensure_account(&who, currency)?;
		// Balances are i128; a limit beyond that range could never be reached anyway.
		ensure!(limit <= i128::MAX as u128, Error::<T>::BalanceOverflow);
		Accounts::<T>::mutate(&who, currency, |a| a.debit_limit = limit);
		Self::deposit_event(Event::DebitLimitSet { who, currency, limit });
		Ok(())
	}

	pub(crate) fn do_transfer(
		kind: TransferKind,
		who: T::AccountId,
		currency: CurrencyCode,
		amount: u128,
		reference: ExternalRef,
	) -> DispatchResult {
		ensure!(is_visible_ascii(&reference), Error::<T>::MalformedIdentifier);
		ensure!(!amount.is_zero(), Error::<T>::ZeroAmount);
		Self::ensure_account(&who, currency)?;
		if let Some(seen) = Transfers::<T>::get(&reference) {
			let same = seen.kind == kind
				&& seen.participant == who
				&& seen.currency == currency
				&& seen.amount == amount;
			ensure!(same, Error::<T>::ReferenceConflict);
			Self::deposit_event(Event::TransferAlreadyRecorded { reference });
			return Ok(());
		}
		let signed = i128::try_from(amount).map_err(|_| Error::<T>::BalanceOverflow)?;
		let mut account = Accounts::<T>::get(&who, currency);
		let mut totals = Totals::<T>::get(currency);
		match kind {
			TransferKind::Funding => {
				account.balance =
					account.balance.checked_add(signed).ok_or(Error::<T>::BalanceOverflow)?;
				totals.funded =
					totals.funded.checked_add(amount).ok_or(Error::<T>::BalanceOverflow)?;
			}
			TransferKind::Withdrawal => {
				ensure!(account.balance >= signed, Error::<T>::InsufficientBalance);
				account.balance -= signed;
				totals.withdrawn =
					totals.withdrawn.checked_add(amount).ok_or(Error::<T>::BalanceOverflow)?;
			}
		}
		// The totals' difference must stay an i128 for the ledger check to mean anything.
		i128::try_from(totals.funded.abs_diff(totals.withdrawn))
			.map_err(|_| Error::<T>::BalanceOverflow)?;
		Accounts::<T>::insert(&who, currency, account);
		Totals::<T>::insert(currency, totals);
		let record = TransferRecord {
			kind,
			participant: who.clone(),
			currency,
			amount,
			recorded_at: Self::now(),
		};
		Transfers::<T>::insert(&reference, record);
		let balance = account.balance;
		Self::deposit_event(match kind {
			TransferKind::Funding => {
				Event::AccountFunded { who, currency, amount, reference, balance }
			}
			TransferKind::Withdrawal => {
				Event::AccountWithdrawn { who, currency, amount, reference, balance }
			}
		});
		Ok(())
	}

	/// The participant `who` if it is registered in `role`, else `not_in_role`.
	pub(crate) fn participant_in_role(
		who: &T::AccountId,
		role: ParticipantRole,
		not_in_role: Error<T>,
	) -> Result<Participant, Error<T>> {
		Participants::<T>::get(who).filter(|p| p.role == role).ok_or(not_in_role)
	}

	pub(crate) fn do_deregister(who: T::AccountId) -> DispatchResult {
		let participant = Participants::<T>::get(&who).ok_or(Error::<T>::UnknownParticipant)?;
		ensure!(
			Accounts::<T>::iter_prefix_values(&who).all(|a| a.balance == 0),
			Error::<T>::ParticipantHoldsBalance
		);
		let open = CurrentCycle::<T>::get();
		ensure!(
			ParticipantCycles::<T>::get(open, &who).entries == 0,
			Error::<T>::ParticipantInOpenCycle
		);
		let _ = Accounts::<T>::clear_prefix(&who, u32::MAX, None);
		ParticipantCodes::<T>::remove(&participant.code);
		Participants::<T>::remove(&who);
		Self::deposit_event(Event::ParticipantDeregistered { who, code: participant.code });
		Ok(())
	}

	/// Whether `who` is the clearing bank's account.
	pub fn is_clearing_bank(who: &T::AccountId) -> bool {
		ClearingBankAccount::<T>::get().as_ref() == Some(who)
	}
}
