//! # Clearing-bank pallet
//!
//! The clearing bank's contract (seed 000: "调用清算行合约：合约记账"): the ledger between the
//! issuers, who hold the payers' HKD, and the acquirers, who pay the merchants in CNY.
//!
//! - **Participants.** The clearing bank (or root) registers issuers and acquirers under a
//!   code and a name, suspends and reinstates them, and deregisters one whose accounts are
//!   empty and who has no entry in the open cycle. A suspended participant can neither post nor
//!   be posted to, and its transactions are kept out of the pool, except an issuer's voids.
//! - **Settlement accounts** per participant and currency, in minor units. The clearing bank
//!   records fundings and withdrawals under their external (RTGS) references, each reference
//!   once, and sets each account's debit limit: how far below zero postings may take it.
//! - **Postings.** The acquirer submits the payment instruction with the issuer's signature over
//!   it ([`instruction_signing_payload`]), so neither can post alone. The amounts must be the
//!   conversion of the merchant's price at the named FX rate, which must be valid now. The
//!   issuer's account is debited in its currency and the acquirer's credited in the merchant's;
//!   the rate must be the pair's effective rate, or one that was within its grace period;
//!   the clearing bank's FX book takes the other side of both legs, so each currency balances
//!   on its own: its accounts and the FX book always sum to what was funded minus withdrawn.
//! - **Voids.** An issuer that will give the payer's money back first voids its instruction
//!   ([`Pallet::void_instruction`]): from then on no posting can use that issuer order id. A
//!   void of an id already posted fails with `AlreadyPosted`, so either the payment settled or
//!   it never can, and the chain says which.
//! - **Idempotency.** A posting is kept under the acquirer's order id (and the issuer's). The
//!   same instruction again is a no-op that says it was posted already; a different instruction
//!   under a used order id is refused. Refunds likewise, under the acquirer's refund id.
//! - **Refunds** return all or part of a posting at its own rate ([`refund_debit_amount`]),
//!   never more than was paid.
//! - **Settlement cycles.** Postings and refunds belong to the open cycle. Closing it fixes each
//!   participant's net position per currency and the digests over its entries (one for the
//!   cycle, one per participant, see [`chain_digest`]); a closed cycle is marked settled with
//!   the settlement's external reference.
//! - **Who may transact.** [`CheckAuthorizedSigner`] keeps every signed transaction from an
//!   account that is not the clearing bank, an active participant or otherwise authorised out
//!   of the transaction pool, and puts settlement calls ahead of everything else in it.
//!
//! Every refusal is a named [`Error`] raised before anything is written.

#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod extension;
pub mod queries;
pub mod types;
pub mod weights;

#[cfg(feature = "runtime-benchmarks")]
mod benchmarking;
#[cfg(test)]
mod mock;
#[cfg(test)]
mod tests;

pub use extension::{CheckAuthorizedSigner, SETTLEMENT_PRIORITY, SIGNER_SUSPENDED};
pub use pallet::*;
pub use types::*;
pub use weights::WeightInfo;

use frame_support::traits::EnsureOrigin;
use frame_system::RawOrigin;
use pallet_fx_rate::{CurrencyCode, QuoteError, QuoteSide};

/// The clearing bank's origin: root, or a transaction signed by the clearing bank's account.
pub struct EnsureClearingBank<T>(core::marker::PhantomData<T>);

impl<T: Config> EnsureOrigin<T::RuntimeOrigin> for EnsureClearingBank<T> {
	type Success = ();

	fn try_origin(o: T::RuntimeOrigin) -> Result<(), T::RuntimeOrigin> {
		match o.clone().into() {
			Ok(RawOrigin::Root) => Ok(()),
			Ok(RawOrigin::Signed(who))
				if ClearingBankAccount::<T>::get().as_ref() == Some(&who) =>
			{
				Ok(())
			}
			_ => Err(o),
		}
	}

	#[cfg(feature = "runtime-benchmarks")]
	fn try_successful_origin() -> Result<T::RuntimeOrigin, ()> {
		Ok(RawOrigin::Root.into())
	}
}

/// Whether an account the clearing-bank pallet does not know may have `call` in the pool.
pub trait AuthorizeSigner<AccountId, Call> {
	fn is_authorized(who: &AccountId, call: &Call) -> bool;
}

/// Makes the signatures the benchmarks need, where the runtime's signature scheme is known.
#[cfg(feature = "runtime-benchmarks")]
pub trait BenchmarkHelper<Signature, AccountId> {
	/// A fresh key pair's account.
	fn create_signer() -> AccountId;
	/// `signer`'s signature over `message`.
	fn sign(signer: &AccountId, message: &[u8]) -> Signature;
}

#[frame_support::pallet]
pub mod pallet {
	use super::*;
	use frame_support::{pallet_prelude::*, traits::BuildGenesisConfig};
	use frame_system::pallet_prelude::*;
	use sp_runtime::traits::{IdentifyAccount, Verify, Zero};

	#[pallet::pallet]
	pub struct Pallet<T>(_);

	#[pallet::config]
	pub trait Config: frame_system::Config + pallet_fx_rate::Config {
		#[allow(deprecated)]
		type RuntimeEvent: From<Event<Self>> + IsType<<Self as frame_system::Config>::RuntimeEvent>;

		/// The signature an issuer gives over a payment instruction, verified against the
		/// issuer's account.
		type Signature: Verify<Signer = Self::Signer> + Parameter + MaxEncodedLen;
		type Signer: IdentifyAccount<AccountId = Self::AccountId>;

		/// Who besides the clearing bank and the participants may get a signed transaction into
		/// the pool, and with which call (FX feeders, the sudo key, the signatories of a
		/// multisig clearing bank acting for it).
		type OtherAuthorizedSigners: AuthorizeSigner<
			Self::AccountId,
			<Self as frame_system::Config>::RuntimeCall,
		>;

		/// The most postings and refunds one cycle takes; the clearing bank closes cycles well
		/// before (daily).
		#[pallet::constant]
		type MaxEntriesPerCycle: Get<u32>;

		type WeightInfo: WeightInfo;

		#[cfg(feature = "runtime-benchmarks")]
		type BenchmarkHelper: BenchmarkHelper<Self::Signature, Self::AccountId>;
	}

	/// The clearing bank's account.
	#[pallet::storage]
	pub type ClearingBankAccount<T: Config> = StorageValue<_, T::AccountId, OptionQuery>;

	/// Registered issuers and acquirers.
	#[pallet::storage]
	pub type Participants<T: Config> =
		StorageMap<_, Blake2_128Concat, T::AccountId, Participant, OptionQuery>;

	/// Participant codes in use, to their accounts.
	#[pallet::storage]
	pub type ParticipantCodes<T: Config> =
		StorageMap<_, Blake2_128Concat, ParticipantCode, T::AccountId, OptionQuery>;

	/// Settlement accounts by participant and currency.
	#[pallet::storage]
	pub type Accounts<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		CurrencyCode,
		SettlementAccount,
		ValueQuery,
	>;

	/// The clearing bank's FX position per currency: the other side of every posting's legs.
	#[pallet::storage]
	pub type FxBook<T: Config> = StorageMap<_, Blake2_128Concat, CurrencyCode, i128, ValueQuery>;

	/// Funded and withdrawn per currency.
	#[pallet::storage]
	pub type Totals<T: Config> =
		StorageMap<_, Blake2_128Concat, CurrencyCode, CurrencyTotals, ValueQuery>;

	/// Fundings and withdrawals by external reference.
	#[pallet::storage]
	pub type Transfers<T: Config> =
		StorageMap<_, Blake2_128Concat, ExternalRef, TransferRecord<T::AccountId>, OptionQuery>;

	/// Postings by id.
	#[pallet::storage]
	pub type Postings<T: Config> = StorageMap<
		_,
		Twox64Concat,
		PostingId,
		Posting<T::AccountId, BlockNumberFor<T>>,
		OptionQuery,
	>;

	/// The id the next posting gets.
	#[pallet::storage]
	pub type NextPostingId<T: Config> = StorageValue<_, PostingId, ValueQuery>;

	/// Postings by the acquirer's order id.
	#[pallet::storage]
	pub type AcquirerOrders<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		OrderId,
		PostingId,
		OptionQuery,
	>;

	/// Postings by the issuer's order id.
	#[pallet::storage]
	pub type IssuerOrders<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		OrderId,
		PostingId,
		OptionQuery,
	>;

	/// Issuer order ids their issuers voided before any posting held them.
	#[pallet::storage]
	pub type VoidedInstructions<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		OrderId,
		VoidRecord<BlockNumberFor<T>>,
		OptionQuery,
	>;

	/// Refunds by the acquirer's refund id.
	#[pallet::storage]
	pub type Refunds<T: Config> = StorageDoubleMap<
		_,
		Blake2_128Concat,
		T::AccountId,
		Blake2_128Concat,
		OrderId,
		RefundRecord,
		OptionQuery,
	>;

	/// The open cycle.
	#[pallet::storage]
	pub type CurrentCycle<T: Config> = StorageValue<_, CycleId, ValueQuery>;

	#[pallet::storage]
	pub type Cycles<T: Config> = StorageMap<_, Twox64Concat, CycleId, Cycle, OptionQuery>;

	/// Each cycle's entries by position.
	#[pallet::storage]
	pub type CycleEntries<T: Config> =
		StorageDoubleMap<_, Twox64Concat, CycleId, Twox64Concat, u32, CycleEntry, OptionQuery>;

	/// Each participant's entry count and digest in a cycle.
	#[pallet::storage]
	pub type ParticipantCycles<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		CycleId,
		Blake2_128Concat,
		T::AccountId,
		ParticipantCycle,
		ValueQuery,
	>;

	/// A participant's entries in a cycle: its n-th entry's position in the cycle.
	#[pallet::storage]
	pub type ParticipantEntries<T: Config> = StorageNMap<
		_,
		(
			NMapKey<Twox64Concat, CycleId>,
			NMapKey<Blake2_128Concat, T::AccountId>,
			NMapKey<Twox64Concat, u32>,
		),
		u32,
		OptionQuery,
	>;

	/// Each participant's net position per currency in a cycle: credits minus debits.
	#[pallet::storage]
	pub type NetPositions<T: Config> = StorageNMap<
		_,
		(
			NMapKey<Twox64Concat, CycleId>,
			NMapKey<Blake2_128Concat, T::AccountId>,
			NMapKey<Blake2_128Concat, CurrencyCode>,
		),
		i128,
		ValueQuery,
	>;

	#[pallet::genesis_config]
	#[derive(frame_support::DefaultNoBound)]
	pub struct GenesisConfig<T: Config> {
		pub clearing_bank: Option<T::AccountId>,
		/// `(account, role, code, name)`.
		pub participants: alloc::vec::Vec<(
			T::AccountId,
			ParticipantRole,
			alloc::string::String,
			alloc::string::String,
		)>,
		/// Opening balances, `(account, currency, amount)`, recorded as fundings with the
		/// references `GENESIS-1`, `GENESIS-2`, ….
		pub fundings: alloc::vec::Vec<(T::AccountId, CurrencyCode, u128)>,
		/// `(account, currency, limit)`.
		pub debit_limits: alloc::vec::Vec<(T::AccountId, CurrencyCode, u128)>,
	}

	#[pallet::genesis_build]
	impl<T: Config> BuildGenesisConfig for GenesisConfig<T> {
		fn build(&self) {
			// Through the same checks as the calls: a bad preset fails to build.
			CurrentCycle::<T>::put(1);
			Cycles::<T>::insert(1, Cycle::open(0));
			if let Some(bank) = &self.clearing_bank {
				Pallet::<T>::do_set_clearing_bank(bank.clone()).expect("genesis clearing bank");
			}
			for (who, role, code, name) in &self.participants {
				let code = code.as_bytes().to_vec().try_into().expect("genesis code length");
				let name = name.as_bytes().to_vec().try_into().expect("genesis name length");
				Pallet::<T>::do_register(who.clone(), *role, code, name)
					.expect("genesis participant");
			}
			for (i, (who, currency, amount)) in self.fundings.iter().enumerate() {
				let reference = alloc::format!("GENESIS-{}", i + 1).into_bytes();
				let reference = reference.try_into().expect("short reference");
				Pallet::<T>::do_transfer(
					TransferKind::Funding,
					who.clone(),
					*currency,
					*amount,
					reference,
				)
				.expect("genesis funding");
			}
			for (who, currency, limit) in &self.debit_limits {
				Pallet::<T>::do_set_debit_limit(who.clone(), *currency, *limit)
					.expect("genesis debit limit");
			}
		}
	}

	#[pallet::event]
	#[pallet::generate_deposit(pub(super) fn deposit_event)]
	pub enum Event<T: Config> {
		/// The clearing bank's account was set.
		ClearingBankSet {
			account: T::AccountId,
		},
		/// An issuer or acquirer was registered, active.
		ParticipantRegistered {
			who: T::AccountId,
			role: ParticipantRole,
			code: ParticipantCode,
		},
		ParticipantSuspended {
			who: T::AccountId,
		},
		ParticipantReinstated {
			who: T::AccountId,
		},
		/// A participant was deregistered; its code is free again, its postings stay.
		ParticipantDeregistered {
			who: T::AccountId,
			code: ParticipantCode,
		},
		/// A settlement account's debit limit was set.
		DebitLimitSet {
			who: T::AccountId,
			currency: CurrencyCode,
			limit: u128,
		},
		/// A settlement account was funded.
		AccountFunded {
			who: T::AccountId,
			currency: CurrencyCode,
			amount: u128,
			reference: ExternalRef,
			balance: i128,
		},
		/// A withdrawal from a settlement account was recorded.
		AccountWithdrawn {
			who: T::AccountId,
			currency: CurrencyCode,
			amount: u128,
			reference: ExternalRef,
			balance: i128,
		},
		/// A funding or withdrawal came again under a reference already recorded with the same
		/// details; nothing changed.
		TransferAlreadyRecorded {
			reference: ExternalRef,
		},
		/// A payment was posted: the issuer's account debited, the acquirer's credited.
		PaymentPosted {
			posting_id: PostingId,
			cycle: CycleId,
			issuer: T::AccountId,
			acquirer: T::AccountId,
			acquirer_order_id: OrderId,
			issuer_order_id: OrderId,
			debit_currency: CurrencyCode,
			debit_amount: u128,
			credit_currency: CurrencyCode,
			credit_amount: u128,
			rate_id: pallet_fx_rate::RateId,
		},
		/// The same instruction came again; it was posted before and nothing changed.
		PaymentAlreadyPosted {
			posting_id: PostingId,
			acquirer: T::AccountId,
			acquirer_order_id: OrderId,
		},
		/// The issuer voided its order id: no posting can use it from now on.
		InstructionVoided {
			issuer: T::AccountId,
			issuer_order_id: OrderId,
		},
		/// The issuer voided an order id it had voided before; nothing changed.
		InstructionAlreadyVoided {
			issuer: T::AccountId,
			issuer_order_id: OrderId,
		},
		/// A posting was refunded in part or in full.
		PaymentRefunded {
			posting_id: PostingId,
			cycle: CycleId,
			acquirer: T::AccountId,
			refund_id: OrderId,
			credit_amount: u128,
			debit_amount: u128,
		},
		/// The same refund came again; it was recorded before and nothing changed.
		RefundAlreadyRecorded {
			posting_id: PostingId,
			acquirer: T::AccountId,
			refund_id: OrderId,
		},
		/// A cycle was closed with its entry count and digest, and the next one opened.
		CycleClosed {
			cycle: CycleId,
			entries: u32,
			digest: [u8; 32],
			next: CycleId,
		},
		/// A closed cycle was settled outside the chain.
		CycleSettled {
			cycle: CycleId,
			reference: ExternalRef,
		},
	}

	#[pallet::error]
	pub enum Error<T> {
		/// The account is the clearing bank; it cannot be a participant as well.
		AccountIsClearingBank,
		/// The account is a participant; it cannot be the clearing bank as well.
		AccountIsParticipant,
		/// The account is registered already.
		ParticipantAlreadyRegistered,
		/// Another participant has this code.
		ParticipantCodeTaken,
		/// The code is not 1 to 16 characters of `A-Z`, `0-9` and `-`.
		MalformedParticipantCode,
		/// The name is empty or not UTF-8.
		MalformedParticipantName,
		/// The account is not a registered participant.
		UnknownParticipant,
		/// The participant is suspended already.
		ParticipantAlreadySuspended,
		/// The participant is not suspended.
		ParticipantNotSuspended,
		/// The currency is not registered with the FX-rate pallet.
		UnknownCurrency,
		/// Zero amount.
		ZeroAmount,
		/// An order id, merchant id, refund id or reference is empty or not visible ASCII.
		MalformedIdentifier,
		/// The reference was recorded already for a different funding or withdrawal.
		ReferenceConflict,
		/// The withdrawal is larger than the account's balance.
		InsufficientBalance,
		/// A balance or total would leave its range.
		BalanceOverflow,
		/// The signer is not a registered acquirer.
		NotAnAcquirer,
		/// The instruction names another acquirer than the signer.
		AcquirerMismatch,
		/// The acquirer is suspended.
		AcquirerSuspended,
		/// The instruction's issuer is not a registered issuer.
		NotAnIssuer,
		/// The issuer is suspended.
		IssuerSuspended,
		/// The issuer's signature does not verify over this instruction on this chain.
		BadIssuerSignature,
		/// The acquirer's order id was posted already with a different instruction.
		OrderIdConflict,
		/// The issuer's order id was posted already with a different instruction.
		IssuerOrderIdConflict,
		/// Debit and credit currency are the same.
		SameCurrency,
		/// No configured pair converts the two currencies.
		UnknownPair,
		/// The pair is disabled.
		PairDisabled,
		/// The rate id does not exist (never published, or pruned).
		UnknownRateId,
		/// The rate is not valid now.
		RateNotValid,
		/// The rate id belongs to another pair.
		RatePairMismatch,
		/// The credit amount converts to nothing representable.
		AmountOutOfRange,
		/// The debit amount is not the credit amount's conversion at the rate.
		AmountMismatch,
		/// The posting would take the account below its debit limit.
		DebitLimitExceeded,
		/// The open cycle holds `MaxEntriesPerCycle` entries; the clearing bank must close it.
		CycleFull,
		/// No posting has this acquirer order id.
		UnknownPosting,
		/// The refund would return more than the posting paid.
		RefundExceedsPosting,
		/// The refund id was used already for a different refund.
		RefundIdConflict,
		/// No cycle has this number.
		UnknownCycle,
		/// The cycle is still open.
		CycleNotClosed,
		/// The cycle is settled already.
		CycleAlreadySettled,
		/// The instruction's `expires_at` has passed: the issuer no longer stands behind it.
		InstructionExpired,
		/// The issuer voided this issuer order id: it can never be posted.
		InstructionVoided,
		/// A posting holds this issuer order id already, so it cannot be voided; the payment
		/// settled (`clearing_posting` with the issuer and its order id names the posting).
		AlreadyPosted,
		/// The rate is valid but neither the pair's effective rate nor one that was within the
		/// pair's grace period.
		RateNotEffective,
		/// The rate's feeder was removed from the pair; its rates can no longer be posted at.
		RateWithdrawn,
		/// The participant's settlement accounts hold a balance or a debit.
		ParticipantHoldsBalance,
		/// The participant has entries in the open cycle; close it first.
		ParticipantInOpenCycle,
	}

	impl<T> From<QuoteError> for Error<T> {
		fn from(e: QuoteError) -> Self {
			match e {
				QuoteError::UnknownCurrency => Error::UnknownCurrency,
				QuoteError::UnknownPair => Error::UnknownPair,
				QuoteError::PairDisabled => Error::PairDisabled,
				// `quote_for_posting` names its rate, so "no fresh rate" means this one is stale.
				QuoteError::NoFreshRate | QuoteError::RateNotValid => Error::RateNotValid,
				QuoteError::UnknownRateId => Error::UnknownRateId,
				QuoteError::RatePairMismatch => Error::RatePairMismatch,
				QuoteError::SameCurrency => Error::SameCurrency,
				QuoteError::ZeroAmount => Error::ZeroAmount,
				QuoteError::AmountOutOfRange => Error::AmountOutOfRange,
				QuoteError::RateNotEffective => Error::RateNotEffective,
				QuoteError::RateWithdrawn => Error::RateWithdrawn,
			}
		}
	}

	#[pallet::hooks]
	impl<T: Config> Hooks<BlockNumberFor<T>> for Pallet<T> {
		#[cfg(feature = "try-runtime")]
		fn try_state(_n: BlockNumberFor<T>) -> Result<(), sp_runtime::TryRuntimeError> {
			Self::do_try_state()
		}
	}

	#[pallet::call]
	impl<T: Config> Pallet<T> {
		/// Sets the clearing bank's account. Origin: root.
		#[pallet::call_index(0)]
		#[pallet::weight(<T as Config>::WeightInfo::set_clearing_bank())]
		pub fn set_clearing_bank(origin: OriginFor<T>, account: T::AccountId) -> DispatchResult {
			ensure_root(origin)?;
			Self::do_set_clearing_bank(account)
		}

		/// Registers `who` as an active issuer or acquirer. Origin: the clearing bank or root.
		#[pallet::call_index(1)]
		#[pallet::weight(<T as Config>::WeightInfo::register_participant())]
		pub fn register_participant(
			origin: OriginFor<T>,
			who: T::AccountId,
			role: ParticipantRole,
			code: ParticipantCode,
			name: ParticipantName,
		) -> DispatchResult {
			EnsureClearingBank::<T>::ensure_origin(origin)?;
			Self::do_register(who, role, code, name)
		}

		/// Suspends a participant: it can neither post nor be posted to until reinstated.
		/// Origin: the clearing bank or root.
		#[pallet::call_index(2)]
		#[pallet::weight(<T as Config>::WeightInfo::suspend_participant())]
		pub fn suspend_participant(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			EnsureClearingBank::<T>::ensure_origin(origin)?;
			Self::set_status(&who, ParticipantStatus::Suspended)?;
			Self::deposit_event(Event::ParticipantSuspended { who });
			Ok(())
		}

		/// Reinstates a suspended participant. Origin: the clearing bank or root.
		#[pallet::call_index(3)]
		#[pallet::weight(<T as Config>::WeightInfo::reinstate_participant())]
		pub fn reinstate_participant(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			EnsureClearingBank::<T>::ensure_origin(origin)?;
			Self::set_status(&who, ParticipantStatus::Active)?;
			Self::deposit_event(Event::ParticipantReinstated { who });
			Ok(())
		}

		/// Sets how far below zero postings may take `who`'s account in `currency`. Lowering
		/// it below what is in use refuses further debits, it does not undo any.
		/// Origin: the clearing bank or root.
		#[pallet::call_index(4)]
		#[pallet::weight(<T as Config>::WeightInfo::set_debit_limit())]
		pub fn set_debit_limit(
			origin: OriginFor<T>,
			who: T::AccountId,
			currency: CurrencyCode,
			limit: u128,
		) -> DispatchResult {
			EnsureClearingBank::<T>::ensure_origin(origin)?;
			Self::do_set_debit_limit(who, currency, limit)
		}

		/// Records money received for `who` outside the chain (an RTGS payment into the
		/// clearing bank), under its `reference`. Origin: the clearing bank or root.
		#[pallet::call_index(5)]
		#[pallet::weight(<T as Config>::WeightInfo::fund())]
		pub fn fund(
			origin: OriginFor<T>,
			who: T::AccountId,
			currency: CurrencyCode,
			amount: u128,
			reference: ExternalRef,
		) -> DispatchResult {
			EnsureClearingBank::<T>::ensure_origin(origin)?;
			Self::do_transfer(TransferKind::Funding, who, currency, amount, reference)
		}

		/// Records money paid out to `who` outside the chain, under its `reference`; never more
		/// than the balance. Origin: the clearing bank or root.
		#[pallet::call_index(6)]
		#[pallet::weight(<T as Config>::WeightInfo::withdraw())]
		pub fn withdraw(
			origin: OriginFor<T>,
			who: T::AccountId,
			currency: CurrencyCode,
			amount: u128,
			reference: ExternalRef,
		) -> DispatchResult {
			EnsureClearingBank::<T>::ensure_origin(origin)?;
			Self::do_transfer(TransferKind::Withdrawal, who, currency, amount, reference)
		}

		/// Posts a payment: debits the issuer's account by `debit_amount` in `debit_currency`
		/// and credits the acquirer's by `credit_amount` in `credit_currency`, at `rate_id`.
		/// Origin: signed by the instruction's acquirer, with the issuer's signature over the
		/// instruction.
		#[pallet::call_index(7)]
		#[pallet::weight(<T as Config>::WeightInfo::post_payment())]
		pub fn post_payment(
			origin: OriginFor<T>,
			instruction: PaymentInstruction<T::AccountId>,
			issuer_signature: T::Signature,
		) -> DispatchResult {
			let acquirer = ensure_signed(origin)?;
			Self::do_post_payment(acquirer, instruction, issuer_signature)
		}

		/// Refunds `credit_amount` of the posting under the signer's `acquirer_order_id`, at the
		/// posting's rate, under the signer's `refund_id`. Origin: signed by the posting's
		/// acquirer.
		#[pallet::call_index(8)]
		#[pallet::weight(<T as Config>::WeightInfo::refund())]
		pub fn refund(
			origin: OriginFor<T>,
			acquirer_order_id: OrderId,
			refund_id: OrderId,
			credit_amount: u128,
		) -> DispatchResult {
			let acquirer = ensure_signed(origin)?;
			Self::do_refund(acquirer, acquirer_order_id, refund_id, credit_amount)
		}

		/// Closes the open cycle, fixing its net positions and digests, and opens the next.
		/// Origin: the clearing bank or root.
		#[pallet::call_index(9)]
		#[pallet::weight(<T as Config>::WeightInfo::close_cycle())]
		pub fn close_cycle(origin: OriginFor<T>) -> DispatchResult {
			EnsureClearingBank::<T>::ensure_origin(origin)?;
			Self::do_close_cycle()
		}

		/// Marks a closed cycle settled with the settlement's external reference.
		/// Origin: the clearing bank or root.
		#[pallet::call_index(10)]
		#[pallet::weight(<T as Config>::WeightInfo::settle_cycle())]
		pub fn settle_cycle(
			origin: OriginFor<T>,
			cycle: CycleId,
			reference: ExternalRef,
		) -> DispatchResult {
			EnsureClearingBank::<T>::ensure_origin(origin)?;
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

		/// Voids the signer's `issuer_order_id`: from now on no posting can use it. Refused
		/// with `AlreadyPosted` if a posting holds it. Voiding it again is a no-op. Allowed to a
		/// suspended issuer too, because it protects the payer. Origin: signed by a registered
		/// issuer.
		#[pallet::call_index(11)]
		#[pallet::weight(<T as Config>::WeightInfo::void_instruction())]
		pub fn void_instruction(origin: OriginFor<T>, issuer_order_id: OrderId) -> DispatchResult {
			let issuer = ensure_signed(origin)?;
			Self::do_void(issuer, issuer_order_id)
		}

		/// Deregisters a participant whose settlement accounts are all at zero and who has no
		/// entry in the open cycle: its code is freed and it can no longer transact. Its
		/// postings, refunds and past cycles stay. Origin: the clearing bank or root.
		#[pallet::call_index(12)]
		#[pallet::weight(<T as Config>::WeightInfo::deregister_participant())]
		pub fn deregister_participant(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			EnsureClearingBank::<T>::ensure_origin(origin)?;
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
	}

	impl<T: Config> Pallet<T> {
		pub(crate) fn now() -> pallet_fx_rate::Moment {
			pallet_fx_rate::Pallet::<T>::now()
		}

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
			ensure!(
				!Participants::<T>::contains_key(&who),
				Error::<T>::ParticipantAlreadyRegistered
			);
			ensure!(!ParticipantCodes::<T>::contains_key(&code), Error::<T>::ParticipantCodeTaken);
			ParticipantCodes::<T>::insert(&code, &who);
			Participants::<T>::insert(
				&who,
				Participant { role, code: code.clone(), name, status: ParticipantStatus::Active },
			);
			Self::deposit_event(Event::ParticipantRegistered { who, role, code });
			Ok(())
		}

		fn set_status(who: &T::AccountId, status: ParticipantStatus) -> DispatchResult {
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
		fn participant_in_role(
			who: &T::AccountId,
			role: ParticipantRole,
			not_in_role: Error<T>,
		) -> Result<Participant, Error<T>> {
			Participants::<T>::get(who).filter(|p| p.role == role).ok_or(not_in_role)
		}

		pub(crate) fn do_post_payment(
			acquirer: T::AccountId,
			instruction: PaymentInstruction<T::AccountId>,
			signature: T::Signature,
		) -> DispatchResult {
			let acquirer_info = Self::participant_in_role(
				&acquirer,
				ParticipantRole::Acquirer,
				Error::NotAnAcquirer,
			)?;
			ensure!(instruction.acquirer == acquirer, Error::<T>::AcquirerMismatch);
			let instruction_hash = sp_io::hashing::blake2_256(&instruction.encode());

			// Idempotency before anything else: a resubmission after an unknown outcome must be
			// told "posted already" even when its rate has since gone stale.
			if let Some(id) = AcquirerOrders::<T>::get(&acquirer, &instruction.acquirer_order_id) {
				let posting = Postings::<T>::get(id).ok_or(Error::<T>::UnknownPosting)?;
				ensure!(posting.instruction_hash == instruction_hash, Error::<T>::OrderIdConflict);
				Self::deposit_event(Event::PaymentAlreadyPosted {
					posting_id: id,
					acquirer,
					acquirer_order_id: instruction.acquirer_order_id,
				});
				return Ok(());
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
			let issuer_info = Self::participant_in_role(
				&instruction.issuer,
				ParticipantRole::Issuer,
				Error::NotAnIssuer,
			)?;
			ensure!(issuer_info.is_active(), Error::<T>::IssuerSuspended);

			let genesis = frame_system::Pallet::<T>::block_hash(BlockNumberFor::<T>::zero());
			let payload = instruction_signing_payload(&genesis, &instruction);
			ensure!(
				signature.verify(&payload[..], &instruction.issuer),
				Error::<T>::BadIssuerSignature
			);

			let now = Self::now();
			ensure!(now <= instruction.expires_at, Error::<T>::InstructionExpired);

			// The merchant's price is fixed; the payer pays its conversion, rounded up, at the
			// pair's effective rate (or one within its grace period).
			let quote = pallet_fx_rate::Pallet::<T>::quote_for_posting(
				instruction.rate_id,
				instruction.debit_currency,
				instruction.credit_currency,
				instruction.credit_amount,
				QuoteSide::ExactTarget,
				now,
			)
			.map_err(Error::<T>::from)?;
			ensure!(quote.source_amount == instruction.debit_amount, Error::<T>::AmountMismatch);

			let posting_id = NextPostingId::<T>::get();
			let cycle = Self::book(
				(&instruction.issuer, quote.source, instruction.debit_amount),
				(&acquirer, quote.target, instruction.credit_amount),
				CycleEntry::Payment { posting_id },
				payment_leaf(&instruction_hash),
			)?;
			AcquirerOrders::<T>::insert(&acquirer, &instruction.acquirer_order_id, posting_id);
			IssuerOrders::<T>::insert(
				&instruction.issuer,
				&instruction.issuer_order_id,
				posting_id,
			);
			NextPostingId::<T>::put(posting_id + 1);
			Self::deposit_event(Event::PaymentPosted {
				posting_id,
				cycle,
				issuer: instruction.issuer.clone(),
				acquirer,
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
					posted_at: now,
					block: frame_system::Pallet::<T>::block_number(),
					refunded_credit: 0,
					refunded_debit: 0,
					refunds: 0,
				},
			);
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
			let record = VoidRecord {
				voided_at: Self::now(),
				block: frame_system::Pallet::<T>::block_number(),
			};
			VoidedInstructions::<T>::insert(&issuer, &issuer_order_id, record);
			Self::deposit_event(Event::InstructionVoided { issuer, issuer_order_id });
			Ok(())
		}

		pub(crate) fn do_refund(
			acquirer: T::AccountId,
			acquirer_order_id: OrderId,
			refund_id: OrderId,
			credit_amount: u128,
		) -> DispatchResult {
			let acquirer_info = Self::participant_in_role(
				&acquirer,
				ParticipantRole::Acquirer,
				Error::NotAnAcquirer,
			)?;
			ensure!(
				is_visible_ascii(&acquirer_order_id) && is_visible_ascii(&refund_id),
				Error::<T>::MalformedIdentifier
			);
			let posting_id = AcquirerOrders::<T>::get(&acquirer, &acquirer_order_id)
				.ok_or(Error::<T>::UnknownPosting)?;
			if let Some(seen) = Refunds::<T>::get(&acquirer, &refund_id) {
				let same = seen.posting_id == posting_id && seen.credit_amount == credit_amount;
				ensure!(same, Error::<T>::RefundIdConflict);
				Self::deposit_event(Event::RefundAlreadyRecorded {
					posting_id,
					acquirer,
					refund_id,
				});
				return Ok(());
			}
			ensure!(!credit_amount.is_zero(), Error::<T>::ZeroAmount);
			ensure!(acquirer_info.is_active(), Error::<T>::AcquirerSuspended);
			let mut posting = Postings::<T>::get(posting_id).ok_or(Error::<T>::UnknownPosting)?;
			let issuer = posting.instruction.issuer.clone();
			let issuer_info = Participants::<T>::get(&issuer).ok_or(Error::<T>::NotAnIssuer)?;
			ensure!(issuer_info.is_active(), Error::<T>::IssuerSuspended);
			let debit_amount = refund_debit_amount(
				posting.instruction.debit_amount,
				posting.instruction.credit_amount,
				posting.refunded_credit,
				posting.refunded_debit,
				credit_amount,
			)
			.ok_or(Error::<T>::RefundExceedsPosting)?;

			let leaf =
				refund_leaf(&posting.instruction_hash, &refund_id, credit_amount, debit_amount);
			let i = &posting.instruction;
			let cycle = Self::book(
				(&acquirer, i.credit_currency, credit_amount),
				(&issuer, i.debit_currency, debit_amount),
				CycleEntry::Refund { posting_id, refund_id: refund_id.clone() },
				leaf,
			)?;
			posting.refunded_credit += credit_amount;
			posting.refunded_debit += debit_amount;
			posting.refunds += 1;
			Postings::<T>::insert(posting_id, posting);
			let record = RefundRecord {
				posting_id,
				credit_amount,
				debit_amount,
				cycle,
				refunded_at: Self::now(),
			};
			Refunds::<T>::insert(&acquirer, &refund_id, record);
			Self::deposit_event(Event::PaymentRefunded {
				posting_id,
				cycle,
				acquirer,
				refund_id,
				credit_amount,
				debit_amount,
			});
			Ok(())
		}

		fn signed(amount: u128) -> Result<i128, Error<T>> {
			i128::try_from(amount).map_err(|_| Error::<T>::BalanceOverflow)
		}

		/// Books one entry: `payer` pays `paid` in its currency, `payee` receives `received` in
		/// its own, the FX book takes the other side of both legs, and the entry joins the open
		/// cycle for both parties. The payer's debit limit is checked, and everything else,
		/// before anything is written.
		fn book(
			(payer, paid_currency, paid): (&T::AccountId, CurrencyCode, u128),
			(payee, received_currency, received): (&T::AccountId, CurrencyCode, u128),
			entry: CycleEntry,
			leaf: [u8; 32],
		) -> Result<CycleId, DispatchError> {
			let paid = Self::signed(paid)?;
			let received = Self::signed(received)?;
			let mut payer_account = Accounts::<T>::get(payer, paid_currency);
			let mut payee_account = Accounts::<T>::get(payee, received_currency);
			ensure!(payer_account.available() >= paid, Error::<T>::DebitLimitExceeded);
			payer_account.balance -= paid;
			payee_account.balance =
				payee_account.balance.checked_add(received).ok_or(Error::<T>::BalanceOverflow)?;
			let fx_paid_side = FxBook::<T>::get(paid_currency)
				.checked_add(paid)
				.ok_or(Error::<T>::BalanceOverflow)?;
			let fx_received_side = FxBook::<T>::get(received_currency)
				.checked_sub(received)
				.ok_or(Error::<T>::BalanceOverflow)?;
			let cycle = Self::record_entry(
				entry,
				leaf,
				[(payer, paid_currency, -paid), (payee, received_currency, received)],
			)?;
			Accounts::<T>::insert(payer, paid_currency, payer_account);
			Accounts::<T>::insert(payee, received_currency, payee_account);
			FxBook::<T>::insert(paid_currency, fx_paid_side);
			FxBook::<T>::insert(received_currency, fx_received_side);
			Ok(cycle)
		}

		/// Appends an entry to the open cycle for both its parties, with each party's signed
		/// movement `(who, currency, amount)`. Checks everything before it writes.
		fn record_entry(
			entry: CycleEntry,
			leaf: [u8; 32],
			moves: [(&T::AccountId, CurrencyCode, i128); 2],
		) -> Result<CycleId, DispatchError> {
			let cycle_id = CurrentCycle::<T>::get();
			let mut cycle = Cycles::<T>::get(cycle_id).ok_or(Error::<T>::UnknownCycle)?;
			ensure!(cycle.entries < T::MaxEntriesPerCycle::get(), Error::<T>::CycleFull);
			let mut nets = [0i128; 2];
			for (net, (who, currency, amount)) in nets.iter_mut().zip(moves.iter()) {
				*net = NetPositions::<T>::get((cycle_id, *who, *currency))
					.checked_add(*amount)
					.ok_or(Error::<T>::BalanceOverflow)?;
			}
			let index = cycle.entries;
			cycle.entries += 1;
			cycle.digest = chain_digest(&cycle.digest, &leaf);
			Cycles::<T>::insert(cycle_id, cycle);
			CycleEntries::<T>::insert(cycle_id, index, entry);
			for (net, (who, currency, _)) in nets.into_iter().zip(moves) {
				NetPositions::<T>::insert((cycle_id, who, currency), net);
				ParticipantCycles::<T>::mutate(cycle_id, who, |p| {
					ParticipantEntries::<T>::insert((cycle_id, who, p.entries), index);
					p.entries += 1;
					p.digest = chain_digest(&p.digest, &leaf);
				});
			}
			Ok(cycle_id)
		}

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

		/// Whether `who` is the clearing bank's account.
		pub fn is_clearing_bank(who: &T::AccountId) -> bool {
			ClearingBankAccount::<T>::get().as_ref() == Some(who)
		}

		/// Invariants: each currency's accounts and FX book sum to funded minus withdrawn;
		/// every posting's refunds add up to its refunded amounts and stay within it; order
		/// indexes point at their postings; cycles hold the entries they count, and only the
		/// current one is open.
		#[cfg(any(feature = "try-runtime", test))]
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
				let entries = CycleEntries::<T>::iter_prefix(id).count() as u32;
				ensure!(entries == cycle.entries, "a cycle's entry count is wrong");
				ensure!(entries <= T::MaxEntriesPerCycle::get(), "a cycle holds too many entries");
			}
			for (cycle, who, p) in ParticipantCycles::<T>::iter() {
				let listed = ParticipantEntries::<T>::iter_prefix((cycle, who)).count() as u32;
				ensure!(listed == p.entries, "a participant's cycle entry count is wrong");
			}
			Ok(())
		}
	}
}
