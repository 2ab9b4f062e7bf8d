//! Keeps transactions of accounts the network does not know out of the pool.
//!
//! A settlement network is closed: only the clearing bank, registered participants and the
//! accounts the runtime names in `OtherAuthorizedSigners` (FX feeders, the sudo key) may use
//! block space. Everyone else's signed transaction is invalid at validation, before it is
//! pooled, gossiped or charged a fee; it fails with `InvalidTransaction::BadSigner`.

use crate::{Config, Pallet};
use codec::{Decode, DecodeWithMemTracking, Encode};
use core::marker::PhantomData;
use frame_support::{
	pallet_prelude::TransactionSource,
	traits::{Contains, Get, OriginTrait},
	weights::Weight,
	DefaultNoBound,
};
use scale_info::TypeInfo;
use sp_runtime::{
	impl_tx_ext_default,
	traits::{DispatchInfoOf, TransactionExtension, ValidateResult},
	transaction_validity::InvalidTransaction,
};

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

impl<T: Config + Send + Sync> TransactionExtension<T::RuntimeCall> for CheckAuthorizedSigner<T> {
	const IDENTIFIER: &'static str = "CheckAuthorizedSigner";
	type Implicit = ();
	type Val = ();
	type Pre = ();

	fn weight(&self, _: &T::RuntimeCall) -> Weight {
		// The clearing bank, the participant entry and what `OtherAuthorizedSigners` reads
		// (a feeder index and the sudo key in this runtime): storage reads and no computation.
		T::DbWeight::get().reads(4)
	}

	fn validate(
		&self,
		origin: T::RuntimeOrigin,
		_call: &T::RuntimeCall,
		_info: &DispatchInfoOf<T::RuntimeCall>,
		_len: usize,
		_self_implicit: (),
		_inherited_implication: &impl Encode,
		_source: TransactionSource,
	) -> ValidateResult<(), T::RuntimeCall> {
		if let Some(who) = origin.as_signer() {
			if !Pallet::<T>::is_known_signer(who) && !T::OtherAuthorizedSigners::contains(who) {
				return Err(InvalidTransaction::BadSigner.into());
			}
		}
		Ok((Default::default(), (), origin))
	}

	impl_tx_ext_default!(T::RuntimeCall; prepare);
}
