//! Keeps transactions of accounts the network does not know out of the pool, and puts
//! settlement first in it.
//!
//! A settlement network is closed: only the clearing bank, active participants and the
//! signers the runtime authorises in `OtherAuthorizedSigners` (FX feeders, the sudo key, the
//! signatories of a multisig clearing bank) may use block space. Everyone else's signed transaction is invalid at validation, before it is
//! pooled, gossiped or charged a fee; it fails with `InvalidTransaction::BadSigner`. A
//! suspended participant's transactions fail with `InvalidTransaction::Custom(`
//! [`SIGNER_SUSPENDED`]`)`, except an issuer's [`Call::void_instruction`], which a
//! suspended issuer still needs in order to give its payers their money back safely.
//!
//! Settlement calls (every call of this pallet and FX publications) get
//! [`SETTLEMENT_PRIORITY`]. The pool orders ready transactions by priority, and when it is
//! full it evicts the lowest first, so a signer flooding it with anything else (large
//! remarks, transfers) can neither delay a posting nor push one out. We chose priority over a
//! per-signer pool limit because the stock pool has none, a limit per signer would not stop
//! several signers, and priority also decides what a full block leaves out.

use crate::{AuthorizeSigner, Call, Config, Pallet, ParticipantRole, Participants};
use codec::{Decode, DecodeWithMemTracking, Encode};
use core::marker::PhantomData;
use frame_support::{
	pallet_prelude::TransactionSource,
	traits::{Get, IsSubType, OriginTrait},
	weights::Weight,
	DefaultNoBound,
};
use scale_info::TypeInfo;
use sp_runtime::{
	impl_tx_ext_default,
	traits::{DispatchInfoOf, TransactionExtension, ValidateResult},
	transaction_validity::{
		InvalidTransaction, TransactionPriority, TransactionValidityError, ValidTransaction,
	},
};

/// The priority of settlement calls: far above what any tip buys a transaction in this
/// runtime (transaction-payment's priority is the tip times the transactions that fit a block).
pub const SETTLEMENT_PRIORITY: TransactionPriority = TransactionPriority::MAX / 2;

/// `InvalidTransaction::Custom` code of a suspended participant's transaction.
pub const SIGNER_SUSPENDED: u8 = 1;

#[derive(Encode, Decode, DecodeWithMemTracking, DefaultNoBound, Clone, Eq, PartialEq, TypeInfo)]
#[scale_info(skip_type_params(T))]
pub struct CheckAuthorizedSigner<T>(PhantomData<T>);

impl<T> CheckAuthorizedSigner<T> {
	pub fn new() -> Self {
		Self(PhantomData)
	}
}

impl<T> core::fmt::Debug for CheckAuthorizedSigner<T> {
	fn fmt(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
		f.write_str("CheckAuthorizedSigner")
	}
}

impl<T: Config + Send + Sync> CheckAuthorizedSigner<T>
where
	T::RuntimeCall: IsSubType<Call<T>> + IsSubType<pallet_fx_rate::Call<T>>,
{
	fn is_settlement(call: &T::RuntimeCall) -> bool {
		IsSubType::<Call<T>>::is_sub_type(call).is_some()
			|| matches!(
				IsSubType::<pallet_fx_rate::Call<T>>::is_sub_type(call),
				Some(pallet_fx_rate::Call::publish_rate { .. })
			)
	}

	/// Whether `who` may have `call` in the pool.
	fn check(who: &T::AccountId, call: &T::RuntimeCall) -> Result<(), TransactionValidityError> {
		match Participants::<T>::get(who) {
			Some(p) if p.is_active() => Ok(()),
			Some(p) => match IsSubType::<Call<T>>::is_sub_type(call) {
				Some(Call::void_instruction { .. }) if p.role == ParticipantRole::Issuer => Ok(()),
				_ => Err(InvalidTransaction::Custom(SIGNER_SUSPENDED).into()),
			},
			None if Pallet::<T>::is_clearing_bank(who)
				|| T::OtherAuthorizedSigners::is_authorized(who, call) =>
			{
				Ok(())
			}
			None => Err(InvalidTransaction::BadSigner.into()),
		}
	}
}

impl<T: Config + Send + Sync> TransactionExtension<T::RuntimeCall> for CheckAuthorizedSigner<T>
where
	T::RuntimeCall: IsSubType<Call<T>> + IsSubType<pallet_fx_rate::Call<T>>,
{
	const IDENTIFIER: &'static str = "CheckAuthorizedSigner";
	type Implicit = ();
	type Val = ();
	type Pre = ();

	fn weight(&self, _: &T::RuntimeCall) -> Weight {
		// The participant entry, the clearing bank and what `OtherAuthorizedSigners` reads
		// (a feeder index and the sudo key in this runtime): storage reads and no computation.
		T::DbWeight::get().reads(4)
	}

	fn validate(
		&self,
		origin: T::RuntimeOrigin,
		call: &T::RuntimeCall,
		_info: &DispatchInfoOf<T::RuntimeCall>,
		_len: usize,
		_self_implicit: (),
		_inherited_implication: &impl Encode,
		_source: TransactionSource,
	) -> ValidateResult<(), T::RuntimeCall> {
		let mut valid = ValidTransaction::default();
		if let Some(who) = origin.as_signer() {
			Self::check(who, call)?;
			if Self::is_settlement(call) {
				valid.priority = SETTLEMENT_PRIORITY;
			}
		}
		Ok((valid, (), origin))
	}

	impl_tx_ext_default!(T::RuntimeCall; prepare);
}
