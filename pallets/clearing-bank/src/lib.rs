//! # Clearing-bank pallet
//!
//! The clearing bank's contract: the ledger between the issuers, who hold the payers' HKD, and
//! the acquirers, who pay the merchants in CNY. The calls are declared here; the logic behind
//! them lives in `participants` (registration, accounts, fundings), `ledger` (postings,
//! batches, refunds, voids), `cycles` and `queries`.
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
//! - **Batches.** An acquirer posts up to `MaxPostingsPerBatch` instructions in one call
//!   ([`Pallet::post_payments`]); each is posted or refused on its own, and the ledger's
//!   aggregates (accounts, FX book, cycle, each party's records) are written once per call
//!   ([`ledger::Ledger`]).
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

mod cycles;
pub mod extension;
#[cfg(any(feature = "try-runtime", test))]
mod invariants;
pub mod ledger;
mod participants;
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

impl<T: Config> Pallet<T> {
	/// The chain's time, as the FX-rate pallet reads it.
	pub(crate) fn now() -> pallet_fx_rate::Moment {
		pallet_fx_rate::Pallet::<T>::now()
	}
}

use frame_support::traits::EnsureOrigin;
use frame_system::RawOrigin;
use pallet_fx_rate::{CurrencyCode, QuoteError};

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
	use sp_runtime::traits::{IdentifyAccount, Verify};

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

		/// The most instructions one `post_payments` call takes.
		#[pallet::constant]
		type MaxPostingsPerBatch: Get<u32>;

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

	/// Each cycle's entries in the order they were booked, in pages (see [`ENTRIES_PER_PAGE`]).
	#[pallet::storage]
	pub type CycleEntries<T: Config> = StorageDoubleMap<
		_,
		Twox64Concat,
		CycleId,
		Twox64Concat,
		u32,
		EntryPage<CycleEntry>,
		ValueQuery,
	>;

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

	/// The entries a participant is party to in a cycle, as positions in the cycle, in pages:
	/// its statement.
	#[pallet::storage]
	pub type ParticipantEntries<T: Config> = StorageNMap<
		_,
		(
			NMapKey<Twox64Concat, CycleId>,
			NMapKey<Blake2_128Concat, T::AccountId>,
			NMapKey<Twox64Concat, u32>,
		),
		EntryPage<u32>,
		ValueQuery,
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
	#[pallet::generate_deposit(pub(crate) fn deposit_event)]
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
		/// An instruction of a batch (`post_payments`) was refused with `error`; nothing of it was recorded.
		PaymentRefused {
			acquirer: T::AccountId,
			acquirer_order_id: OrderId,
			error: DispatchError,
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
		/// A batch of postings holds no instruction.
		EmptyBatch,
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
		/// Sets the clearing bank's account.
		///
		/// Origin: root. Emits `ClearingBankSet`. Errors: `AccountIsParticipant`.
		#[pallet::call_index(0)]
		#[pallet::weight(<T as Config>::WeightInfo::set_clearing_bank())]
		pub fn set_clearing_bank(origin: OriginFor<T>, account: T::AccountId) -> DispatchResult {
			ensure_root(origin)?;
			Self::do_set_clearing_bank(account)
		}

		/// Registers `who` as an active issuer or acquirer under `code`.
		///
		/// Origin: the clearing bank or root. Emits `ParticipantRegistered`. Errors:
		/// `MalformedParticipantCode`, `MalformedParticipantName`, `AccountIsClearingBank`,
		/// `ParticipantAlreadyRegistered`, `ParticipantCodeTaken`.
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
		///
		/// Origin: the clearing bank or root. Emits `ParticipantSuspended`. Errors:
		/// `UnknownParticipant`, `ParticipantAlreadySuspended`.
		#[pallet::call_index(2)]
		#[pallet::weight(<T as Config>::WeightInfo::suspend_participant())]
		pub fn suspend_participant(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			EnsureClearingBank::<T>::ensure_origin(origin)?;
			Self::set_status(&who, ParticipantStatus::Suspended)?;
			Self::deposit_event(Event::ParticipantSuspended { who });
			Ok(())
		}

		/// Reinstates a suspended participant.
		///
		/// Origin: the clearing bank or root. Emits `ParticipantReinstated`. Errors:
		/// `UnknownParticipant`, `ParticipantNotSuspended`.
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
		///
		/// Origin: the clearing bank or root. Emits `DebitLimitSet`. Errors:
		/// `UnknownParticipant`, `UnknownCurrency`, `BalanceOverflow` (beyond `i128::MAX`).
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
		/// clearing bank), under its `reference`, once.
		///
		/// Origin: the clearing bank or root. Emits `AccountFunded`, or
		/// `TransferAlreadyRecorded` for the same funding again. Errors: `MalformedIdentifier`,
		/// `ZeroAmount`, `UnknownParticipant`, `UnknownCurrency`, `ReferenceConflict`,
		/// `BalanceOverflow`.
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

		/// Records money paid out to `who` outside the chain, under its `reference`, once;
		/// never more than the balance.
		///
		/// Origin: the clearing bank or root. Emits `AccountWithdrawn`, or
		/// `TransferAlreadyRecorded`. Errors: as `fund`, and `InsufficientBalance`.
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
		///
		/// Origin: signed by the instruction's acquirer, with the issuer's signature over the
		/// instruction. Emits `PaymentPosted`, or `PaymentAlreadyPosted` for the same
		/// instruction again. Errors, in the order they are checked: `NotAnAcquirer`,
		/// `UnknownCycle`, `AcquirerMismatch`, `OrderIdConflict`, `InstructionVoided`,
		/// `IssuerOrderIdConflict`, `MalformedIdentifier`, `ZeroAmount`, `AcquirerSuspended`,
		/// `NotAnIssuer`, `IssuerSuspended`, `BadIssuerSignature`, `InstructionExpired`, the
		/// rate's (`UnknownCurrency`, `UnknownPair`, `PairDisabled`, `SameCurrency`,
		/// `UnknownRateId`, `RatePairMismatch`, `RateNotValid`, `RateWithdrawn`,
		/// `RateNotEffective`, `AmountOutOfRange`), `AmountMismatch`, `BalanceOverflow`,
		/// `CycleFull`, `DebitLimitExceeded`.
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

		/// Posts up to `MaxPostingsPerBatch` instructions, each with its issuer's signature, in
		/// their order. Each is posted or refused on its own, exactly as `post_payment` would
		/// (the same order twice posts once); the settlement accounts, the FX book and the
		/// cycle's records are written once for the batch. The weight of the whole batch is
		/// charged up front and the unused part of items that posted nothing refunded. A
		/// batch must also fit a block's weight, which with the runtime's weights may hold
		/// fewer than `MaxPostingsPerBatch` (clients compute how many).
		///
		/// Origin: signed by a registered acquirer, the acquirer of every instruction. Emits
		/// per item `PaymentPosted`, `PaymentAlreadyPosted` or `PaymentRefused` with the error
		/// `post_payment` would have returned. Errors (of the whole call, nothing recorded):
		/// `EmptyBatch`, `NotAnAcquirer`, `UnknownCycle` (no open cycle: a broken state).
		#[pallet::call_index(13)]
		#[pallet::weight(<T as Config>::WeightInfo::post_payments(
			instructions.len() as u32,
			ledger::touched_accounts(instructions),
		))]
		pub fn post_payments(
			origin: OriginFor<T>,
			instructions: BoundedVec<
				(PaymentInstruction<T::AccountId>, T::Signature),
				T::MaxPostingsPerBatch,
			>,
		) -> DispatchResultWithPostInfo {
			let acquirer = ensure_signed(origin)?;
			Self::do_post_payments(acquirer, instructions.into_inner())
		}

		/// Refunds `credit_amount` of the posting under the signer's `acquirer_order_id`, at the
		/// posting's rate, under the signer's `refund_id`.
		///
		/// Origin: signed by the posting's acquirer. Emits `PaymentRefunded`, or
		/// `RefundAlreadyRecorded` for the same refund again. Errors, in the order they are
		/// checked: `UnknownCycle`, `NotAnAcquirer`, `MalformedIdentifier`, `UnknownPosting`,
		/// `RefundIdConflict`, `ZeroAmount`, `AcquirerSuspended`, `NotAnIssuer`,
		/// `IssuerSuspended`, `RefundExceedsPosting`, `BalanceOverflow`, `CycleFull`,
		/// `DebitLimitExceeded`.
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
		///
		/// Origin: the clearing bank or root. Emits `CycleClosed`. Errors: `UnknownCycle`,
		/// `BalanceOverflow` (no cycle number left).
		#[pallet::call_index(9)]
		#[pallet::weight(<T as Config>::WeightInfo::close_cycle())]
		pub fn close_cycle(origin: OriginFor<T>) -> DispatchResult {
			EnsureClearingBank::<T>::ensure_origin(origin)?;
			Self::do_close_cycle()
		}

		/// Marks a closed cycle settled with the settlement's external reference.
		///
		/// Origin: the clearing bank or root. Emits `CycleSettled`. Errors:
		/// `MalformedIdentifier`, `UnknownCycle`, `CycleNotClosed`, `CycleAlreadySettled`.
		#[pallet::call_index(10)]
		#[pallet::weight(<T as Config>::WeightInfo::settle_cycle())]
		pub fn settle_cycle(
			origin: OriginFor<T>,
			cycle: CycleId,
			reference: ExternalRef,
		) -> DispatchResult {
			EnsureClearingBank::<T>::ensure_origin(origin)?;
			Self::do_settle_cycle(cycle, reference)
		}

		/// Voids the signer's `issuer_order_id`: from now on no posting can use it. Allowed to
		/// a suspended issuer too, because it protects the payer.
		///
		/// Origin: signed by a registered issuer. Emits `InstructionVoided`, or
		/// `InstructionAlreadyVoided` for a void again. Errors: `NotAnIssuer`,
		/// `MalformedIdentifier`, `AlreadyPosted` (a posting holds the id).
		#[pallet::call_index(11)]
		#[pallet::weight(<T as Config>::WeightInfo::void_instruction())]
		pub fn void_instruction(origin: OriginFor<T>, issuer_order_id: OrderId) -> DispatchResult {
			let issuer = ensure_signed(origin)?;
			Self::do_void(issuer, issuer_order_id)
		}

		/// Deregisters a participant whose settlement accounts are all at zero and who has no
		/// entry in the open cycle: its code is freed and it can no longer transact. Its
		/// postings, refunds and past cycles stay.
		///
		/// Origin: the clearing bank or root. Emits `ParticipantDeregistered`. Errors:
		/// `UnknownParticipant`, `ParticipantHoldsBalance`, `ParticipantInOpenCycle`.
		#[pallet::call_index(12)]
		#[pallet::weight(<T as Config>::WeightInfo::deregister_participant())]
		pub fn deregister_participant(origin: OriginFor<T>, who: T::AccountId) -> DispatchResult {
			EnsureClearingBank::<T>::ensure_origin(origin)?;
			Self::do_deregister(who)
		}
	}
}
