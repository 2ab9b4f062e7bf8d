//! The values the clearing-bank pallet stores, takes in calls and answers queries with.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use frame_support::{traits::ConstU32, BoundedVec};
use pallet_fx_rate::{CurrencyCode, Moment, RateId};
use scale_info::TypeInfo;
use sp_arithmetic::{helpers_128bit::multiply_by_rational_with_rounding, Rounding};

/// Sequence number of a posting, in the order the chain recorded them.
pub type PostingId = u64;

/// Number of a settlement cycle; cycle 1 opens at genesis.
pub type CycleId = u32;

/// A participant's identifier at the clearing bank, such as a BIC: 1 to 16 characters from
/// `A-Z`, `0-9` and `-`.
pub type ParticipantCode = BoundedVec<u8, ConstU32<16>>;

/// A participant's display name, UTF-8, at most 70 bytes (ISO 20022 `Max70Text`).
pub type ParticipantName = BoundedVec<u8, ConstU32<70>>;

/// An order id, a merchant id or a refund id as the issuing system wrote it: 1 to 64 visible
/// ASCII characters.
pub type OrderId = BoundedVec<u8, ConstU32<64>>;

/// A reference outside the chain, such as the RTGS payment id of a funding or of a cycle's
/// settlement: 1 to 35 visible ASCII characters (ISO 20022 `Max35Text`).
pub type ExternalRef = BoundedVec<u8, ConstU32<35>>;

/// What every order id, merchant id, refund id and external reference must look like: visible
/// ASCII, no spaces. Keeping them printable keeps them JSON- and XML-safe everywhere.
pub fn is_visible_ascii(id: &[u8]) -> bool {
	!id.is_empty() && id.iter().all(|c| (0x21..=0x7e).contains(c))
}

/// `text` as an order, merchant or refund id, if it is one (1 to 64 visible ASCII
/// characters): the one rule the pallet, its RPC, the client and the services all apply.
pub fn parse_order_id(text: &[u8]) -> Option<OrderId> {
	if !is_visible_ascii(text) {
		return None;
	}
	OrderId::try_from(text.to_vec()).ok()
}

/// Whether a participant code has the documented form.
pub fn is_well_formed_code(code: &[u8]) -> bool {
	!code.is_empty()
		&& code.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b'-')
}

/// What a participant does in a payment.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	serde::Serialize,
	serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantRole {
	/// Owns the payers' wallets; its settlement account is debited by postings.
	Issuer,
	/// Serves the merchants; submits postings, and its settlement account is credited.
	Acquirer,
}

#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	serde::Serialize,
	serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ParticipantStatus {
	Active,
	/// Can neither post nor be posted to; the clearing bank can still fund, withdraw and
	/// reinstate.
	Suspended,
}

/// A registered issuer or acquirer.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct Participant {
	pub role: ParticipantRole,
	pub code: ParticipantCode,
	pub name: ParticipantName,
	pub status: ParticipantStatus,
}

impl Participant {
	pub fn is_active(&self) -> bool {
		self.status == ParticipantStatus::Active
	}
}

/// A participant's settlement account in one currency, in that currency's minor units.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct SettlementAccount {
	/// Negative while the participant uses its debit limit.
	pub balance: i128,
	/// How far below zero postings may take the balance. Withdrawals never go below zero.
	pub debit_limit: u128,
}

impl SettlementAccount {
	/// What a posting may still debit: the balance plus the debit limit.
	pub fn available(&self) -> i128 {
		self.balance.saturating_add(i128::try_from(self.debit_limit).unwrap_or(i128::MAX))
	}
}

/// What entered and left the ledger in one currency through the clearing bank.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct CurrencyTotals {
	pub funded: u128,
	pub withdrawn: u128,
}

#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
)]
pub enum TransferKind {
	Funding,
	Withdrawal,
}

/// A funding or withdrawal, kept under its external reference so that it is recorded once.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct TransferRecord<AccountId> {
	pub kind: TransferKind,
	pub participant: AccountId,
	pub currency: CurrencyCode,
	pub amount: u128,
	pub recorded_at: Moment,
}

/// How the payer met the merchant: the four payment flows.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	serde::Serialize,
	serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
	/// The merchant scanned the payer's one-time payment code (被扫).
	CustomerPresented,
	/// The payer scanned a QR code made for one order (订单二维码主扫).
	DynamicQr,
	/// The payer scanned a shop's fixed QR code and typed the amount (店铺二维码主扫).
	StaticQr,
	/// The merchant's app handed over to the wallet app (APP支付).
	InApp,
}

/// What the issuer signs and the acquirer submits: one payment, in full.
#[derive(
	Encode, Decode, DecodeWithMemTracking, MaxEncodedLen, TypeInfo, Clone, PartialEq, Eq, Debug,
)]
pub struct PaymentInstruction<AccountId> {
	pub issuer: AccountId,
	pub acquirer: AccountId,
	/// The acquirer's order id: the idempotency key of the posting.
	pub acquirer_order_id: OrderId,
	/// The issuer's order id; unique per issuer as well.
	pub issuer_order_id: OrderId,
	/// The aggregator's order id, carried for reconciliation with the aggregator.
	pub aggregator_order_id: OrderId,
	pub merchant_id: OrderId,
	pub scenario: Scenario,
	/// The issuer's currency (HKD), debited from the issuer's settlement account.
	pub debit_currency: CurrencyCode,
	/// Minor units of `debit_currency`: what `credit_amount` costs at `rate_id`.
	pub debit_amount: u128,
	/// The merchant's currency (CNY), credited to the acquirer's settlement account.
	pub credit_currency: CurrencyCode,
	/// Minor units of `credit_currency`: the merchant's price.
	pub credit_amount: u128,
	/// The FX-rate publication the amounts were converted at.
	pub rate_id: RateId,
	/// The last moment (ms since the Unix epoch, chain time) at which the chain accepts the
	/// posting. Once a finalized block is later than this and holds no posting for the order,
	/// the issuer knows that none can ever follow, and reverses its debit.
	pub expires_at: Moment,
}

/// Separates instruction signatures from every other use of an issuer's key.
pub const INSTRUCTION_SIGNING_DOMAIN: &[u8] = b"clearline/payment-instruction/v1";

/// The exact bytes an issuer signs: the domain, the chain's genesis hash and the SCALE-encoded
/// instruction. Binding the genesis hash means a signature made for one Clearline chain is
/// worthless on any other.
pub fn instruction_signing_payload<Hash: Encode, AccountId: Encode>(
	genesis_hash: &Hash,
	instruction: &PaymentInstruction<AccountId>,
) -> alloc::vec::Vec<u8> {
	(INSTRUCTION_SIGNING_DOMAIN, genesis_hash, instruction).encode()
}

/// A recorded payment.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct Posting<AccountId, BlockNumber> {
	pub instruction: PaymentInstruction<AccountId>,
	/// `blake2_256` of the SCALE-encoded instruction: what a resubmission is compared with and
	/// what the cycle digests commit to.
	pub instruction_hash: [u8; 32],
	pub cycle: CycleId,
	pub posted_at: Moment,
	pub block: BlockNumber,
	/// Refunded so far, in minor units of the credit (merchant's) currency.
	pub refunded_credit: u128,
	/// Refunded so far, in minor units of the debit (issuer's) currency.
	pub refunded_debit: u128,
	pub refunds: u32,
}

impl<AccountId, BlockNumber> Posting<AccountId, BlockNumber> {
	pub fn status(&self) -> PostingStatus {
		if self.refunded_credit == 0 {
			PostingStatus::Posted
		} else if self.refunded_credit < self.instruction.credit_amount {
			PostingStatus::PartiallyRefunded
		} else {
			PostingStatus::Refunded
		}
	}
}

#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	serde::Serialize,
	serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PostingStatus {
	Posted,
	PartiallyRefunded,
	Refunded,
}

/// An issuer order id its issuer voided before any posting held it: no posting can ever use
/// it, so the issuer may give the payer's money back.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, Copy, PartialEq, Eq, Debug)]
pub struct VoidRecord<BlockNumber> {
	/// The chain's time when the void was recorded.
	pub voided_at: Moment,
	pub block: BlockNumber,
}

/// What the chain holds under an issuer's order id: a posting, or its void.
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub enum InstructionState<AccountId, BlockNumber> {
	Posted(PostingView<AccountId, BlockNumber>),
	Voided(VoidRecord<BlockNumber>),
}

/// A recorded refund, kept under the acquirer's refund id.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct RefundRecord {
	pub posting_id: PostingId,
	/// Given back to the payer's side, in minor units of the posting's credit currency.
	pub credit_amount: u128,
	/// Returned to the issuer, in minor units of the posting's debit currency.
	pub debit_amount: u128,
	pub cycle: CycleId,
	pub refunded_at: Moment,
}

/// The debit-currency amount a refund returns, at the posting's own rate: the refunded share
/// of the debit, with the share of all refunds so far rounded down and this refund taking the
/// difference. Refunds therefore never return more than was debited, and refunding everything
/// returns exactly the debit, however it was split.
pub fn refund_debit_amount(
	debit_amount: u128,
	credit_amount: u128,
	refunded_credit: u128,
	refunded_debit: u128,
	refund_credit: u128,
) -> Option<u128> {
	let after = refunded_credit.checked_add(refund_credit)?;
	if after > credit_amount || credit_amount == 0 {
		return None;
	}
	let share = if after == credit_amount {
		debit_amount
	} else {
		multiply_by_rational_with_rounding(debit_amount, after, credit_amount, Rounding::Down)?
	};
	share.checked_sub(refunded_debit)
}

#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	Copy,
	PartialEq,
	Eq,
	Debug,
	serde::Serialize,
	serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CycleStatus {
	/// Takes postings and refunds.
	Open,
	/// Net positions and digest are fixed; waiting for settlement outside the chain.
	Closed,
	/// The clearing bank recorded the settlement's external reference.
	Settled,
}

/// A settlement cycle.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct Cycle {
	pub status: CycleStatus,
	pub opened_at: Moment,
	pub closed_at: Option<Moment>,
	/// Postings and refunds recorded in the cycle.
	pub entries: u32,
	/// Hash chain over the cycle's entries in order; see [`chain_digest`].
	pub digest: [u8; 32],
	pub settlement_ref: Option<ExternalRef>,
	pub settled_at: Option<Moment>,
}

impl Cycle {
	pub fn open(at: Moment) -> Self {
		Cycle {
			status: CycleStatus::Open,
			opened_at: at,
			closed_at: None,
			entries: 0,
			digest: [0; 32],
			settlement_ref: None,
			settled_at: None,
		}
	}
}

/// One entry of a cycle, in the order the chain recorded it.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub enum CycleEntry {
	Payment { posting_id: PostingId },
	Refund { posting_id: PostingId, refund_id: OrderId },
}

/// How many entries one page of a cycle's entry list, or of a participant's, holds. Lists are
/// kept in pages so that a batch of postings writes one storage item per page it fills rather
/// than one per entry: entry `n` is at position `n % ENTRIES_PER_PAGE` of page
/// `n / ENTRIES_PER_PAGE`.
pub const ENTRIES_PER_PAGE: u32 = 128;

/// One page of an entry list.
pub type EntryPage<V> = BoundedVec<V, ConstU32<ENTRIES_PER_PAGE>>;

/// Which page of an entry list holds entry `n`, and where in it.
pub fn page_of(n: u32) -> (u32, usize) {
	(n / ENTRIES_PER_PAGE, (n % ENTRIES_PER_PAGE) as usize)
}

/// A participant's share of a cycle: how many entries it is party to and the hash chain over
/// them, which it can recompute from its own records alone.
#[derive(Encode, Decode, MaxEncodedLen, TypeInfo, Clone, PartialEq, Eq, Debug, Default)]
pub struct ParticipantCycle {
	pub entries: u32,
	pub digest: [u8; 32],
}

/// The leaf a payment adds to its cycle's digests: `blake2_256("payment" ‖ instruction_hash)`.
pub fn payment_leaf(instruction_hash: &[u8; 32]) -> [u8; 32] {
	sp_io::hashing::blake2_256(&(b"payment", instruction_hash).encode())
}

/// The leaf a refund adds: `blake2_256(SCALE("refund", instruction_hash, refund_id,
/// credit_amount, debit_amount))`.
pub fn refund_leaf(
	instruction_hash: &[u8; 32],
	refund_id: &[u8],
	credit_amount: u128,
	debit_amount: u128,
) -> [u8; 32] {
	sp_io::hashing::blake2_256(
		&(b"refund", instruction_hash, refund_id, credit_amount, debit_amount).encode(),
	)
}

/// Extends a digest by one leaf: `blake2_256(previous ‖ leaf)`, starting from 32 zero bytes.
/// Issuer and acquirer recompute their cycle digest by folding their entries' leaves in the
/// chain's order.
pub fn chain_digest(previous: &[u8; 32], leaf: &[u8; 32]) -> [u8; 32] {
	let mut both = [0u8; 64];
	both[..32].copy_from_slice(previous);
	both[32..].copy_from_slice(leaf);
	sp_io::hashing::blake2_256(&both)
}

/// A posting with what a caller asks about it.
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct PostingView<AccountId, BlockNumber> {
	pub id: PostingId,
	pub posting: Posting<AccountId, BlockNumber>,
	pub status: PostingStatus,
	pub cycle_status: CycleStatus,
}

/// A participant with its settlement accounts.
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct ParticipantView<AccountId> {
	pub account: AccountId,
	pub participant: Participant,
	pub accounts: alloc::vec::Vec<(CurrencyCode, SettlementAccount)>,
}

/// A cycle with every participant's net position in it.
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct CycleView<AccountId> {
	pub id: CycleId,
	pub cycle: Cycle,
	pub net_positions: alloc::vec::Vec<(AccountId, CurrencyCode, i128)>,
}

/// One line of a participant's cycle statement, signed from the participant's side.
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct StatementEntry<AccountId> {
	/// Position of the entry in the cycle (over all participants).
	pub cycle_index: u32,
	pub entry: CycleEntry,
	pub acquirer_order_id: OrderId,
	pub issuer_order_id: OrderId,
	/// The other party of the payment.
	pub counterparty: AccountId,
	pub currency: CurrencyCode,
	/// Positive when the participant's account was credited.
	pub amount: i128,
	pub rate_id: RateId,
	pub booked_at: Moment,
	/// The leaf this entry adds to the participant's digest.
	pub leaf: [u8; 32],
}

/// A page of a participant's entries in a cycle, with its summary.
#[derive(Encode, Decode, TypeInfo, Clone, PartialEq, Eq, Debug)]
pub struct StatementPage<AccountId> {
	pub cycle: CycleId,
	pub cycle_status: CycleStatus,
	pub participant: AccountId,
	pub summary: ParticipantCycle,
	pub net_positions: alloc::vec::Vec<(CurrencyCode, i128)>,
	pub entries: alloc::vec::Vec<StatementEntry<AccountId>>,
	/// Where the next page starts, if there is one.
	pub next: Option<u32>,
}

/// The most order ids one look-up of several postings answers.
pub const MAX_LOOKUPS: u32 = 1024;

/// The most entries one statement page holds.
pub const MAX_STATEMENT_PAGE: u32 = 1000;
