//! The values the FX-rate pallet stores and answers with.

use codec::{Decode, DecodeWithMemTracking, Encode, MaxEncodedLen};
use scale_info::TypeInfo;
use sp_runtime::Permill;

/// Identifies one publication of a rate. Ids only grow, so a posting made against an id can be
/// checked against exactly the rate it used for as long as the id is retained.
pub type RateId = u64;

/// Milliseconds since the Unix epoch, as `pallet_timestamp` keeps them.
pub type Moment = u64;

/// Rates are fixed-point integers: the price of one major unit of the base currency in major
/// units of the quote currency, times `RATE_SCALE`. HKD/CNY at 0.9213 is `921_300_000`.
pub const RATE_SCALE: u128 = 1_000_000_000;

/// The largest mid rate a feeder may publish (10^9 quote units per base unit). Keeps every
/// intermediate product of a conversion inside 128 bits.
pub const MAX_RATE: u128 = 1_000_000_000 * RATE_SCALE;

/// The largest minor-unit exponent a currency may have (ISO 4217 uses 0 to 4).
pub const MAX_MINOR_UNITS: u8 = 6;

/// An ISO 4217 alphabetic code: three upper-case ASCII letters, such as `*b"HKD"`.
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
	PartialOrd,
	Ord,
	Hash,
)]
pub struct CurrencyCode(pub [u8; 3]);

impl CurrencyCode {
	pub const HKD: CurrencyCode = CurrencyCode(*b"HKD");
	pub const CNY: CurrencyCode = CurrencyCode(*b"CNY");

	/// Whether the code has the ISO 4217 form (not whether ISO assigned it).
	pub fn is_well_formed(&self) -> bool {
		self.0.iter().all(|c| c.is_ascii_uppercase())
	}

	pub fn as_str(&self) -> &str {
		// Only well-formed (ASCII) codes get into storage; anything else shows as "???".
		core::str::from_utf8(&self.0).unwrap_or("???")
	}
}

impl core::str::FromStr for CurrencyCode {
	type Err = &'static str;

	/// Parses `"HKD"`; anything but three upper-case ASCII letters is refused.
	fn from_str(s: &str) -> Result<Self, Self::Err> {
		let bytes: [u8; 3] =
			s.as_bytes().try_into().map_err(|_| "a currency code has three letters")?;
		let code = CurrencyCode(bytes);
		if code.is_well_formed() {
			Ok(code)
		} else {
			Err("a currency code is three upper-case letters (ISO 4217)")
		}
	}
}

// In JSON (chain specs, RPC) a code is its string, `"HKD"`.
impl serde::Serialize for CurrencyCode {
	fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
		s.serialize_str(self.as_str())
	}
}

impl<'de> serde::Deserialize<'de> for CurrencyCode {
	fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
		let s = alloc::string::String::deserialize(d)?;
		s.parse().map_err(serde::de::Error::custom)
	}
}

impl core::fmt::Debug for CurrencyCode {
	fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
		match core::str::from_utf8(&self.0) {
			Ok(s) => f.write_str(s),
			Err(_) => write!(f, "{:?}", self.0),
		}
	}
}

/// A registered currency.
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
pub struct CurrencyInfo {
	/// ISO 4217 numeric code (344 for HKD, 156 for CNY), as EMVCo QR payloads carry it.
	pub numeric: u16,
	/// Decimal places of the minor unit (2 for HKD and CNY): amounts are integers in 10^-e.
	pub minor_units: u8,
}

/// A currency pair as published: one `base` costs `rate` of `quote`.
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
	PartialOrd,
	Ord,
	Debug,
	serde::Serialize,
	serde::Deserialize,
)]
pub struct Pair {
	pub base: CurrencyCode,
	pub quote: CurrencyCode,
}

impl Pair {
	pub const fn new(base: CurrencyCode, quote: CurrencyCode) -> Self {
		Self { base, quote }
	}

	pub const fn reversed(self) -> Self {
		Self { base: self.quote, quote: self.base }
	}
}

/// The limits a pair's publications and postings are held to, as the admin configures them.
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
#[serde(rename_all = "camelCase")]
pub struct PairLimits {
	/// The widest bid/ask spread a publication may have.
	pub max_spread: Permill,
	/// The longest a rate may be used, in milliseconds from its publication. It caps rates
	/// published before a reconfiguration too: no rate outlives its pair's current limit.
	pub max_validity: Moment,
	/// How long after a rate stopped being the pair's effective rate a posting may still cite
	/// it, in milliseconds, so that an instruction signed just before a new publication still
	/// posts.
	pub grace_period: Moment,
	/// How many fresh feeder publications the pair needs for an effective rate of its own
	/// (the median of them); with fewer, only an admin publication can be effective.
	pub min_feeds: u32,
	/// How far a feeder's mid may be from what the pair's other feeders say (their median, or
	/// while they have nothing fresh the admin's rate or the last effective one): further is
	/// refused with `RateOutOfBand`. The admin is not bound by it.
	pub max_deviation: Permill,
}

impl PairLimits {
	/// The grace period a pair gets unless configured otherwise: a minute.
	pub const DEFAULT_GRACE_PERIOD: Moment = 60_000;
}

/// How a configured pair may be published and used.
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
pub struct PairConfig {
	/// A disabled pair keeps its rates (for checking old postings) but quotes nothing.
	pub enabled: bool,
	pub limits: PairLimits,
}

/// A feeder's standing on a pair.
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
pub struct FeederStatus {
	/// The feeder's latest publication for the pair, if any.
	pub latest_rate: Option<RateId>,
}

/// One published rate.
#[derive(
	Encode,
	Decode,
	DecodeWithMemTracking,
	MaxEncodedLen,
	TypeInfo,
	Clone,
	PartialEq,
	Eq,
	Debug,
	serde::Serialize,
	serde::Deserialize,
)]
pub struct RateRecord<AccountId> {
	pub pair: Pair,
	/// The feeder who published it; `None` for the admin's publications (and genesis rates).
	pub feeder: Option<AccountId>,
	/// Mid rate, scaled by [`RATE_SCALE`].
	pub mid: u128,
	/// Full width of the bid/ask spread around `mid`: bid is `mid × (1 − spread/2)`, ask is
	/// `mid × (1 + spread/2)`.
	pub spread: Permill,
	/// When it was published (block timestamp).
	pub published_at: Moment,
	/// First moment at which it is stale, as published. Its pair's `max_validity` may end it
	/// sooner: see [`RateRecord::usable_at`].
	pub valid_until: Moment,
}

impl<AccountId> RateRecord<AccountId> {
	/// The first moment at which the rate is stale under `limits`: its own `valid_until`, or
	/// `max_validity` after its publication if that comes first.
	pub fn stale_from(&self, limits: &PairLimits) -> Moment {
		self.valid_until.min(self.published_at.saturating_add(limits.max_validity))
	}

	/// Whether the rate may be used at `now` under its pair's `limits`.
	pub fn usable_at(&self, now: Moment, limits: &PairLimits) -> bool {
		self.published_at <= now && now < self.stale_from(limits)
	}
}

/// Which amount of a conversion is fixed by the caller.
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
pub enum QuoteSide {
	/// The payer gives exactly `amount` of the source currency; the quote is what the payee
	/// receives in the target currency, rounded down.
	ExactSource,
	/// The payee must receive exactly `amount` of the target currency (a merchant's CNY price);
	/// the quote is what the payer gives in the source currency, rounded up.
	ExactTarget,
}

/// A conversion at one published rate.
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
pub struct Quote {
	/// The publication the conversion used; a posting names it.
	pub rate_id: RateId,
	/// The currency the payer gives.
	pub source: CurrencyCode,
	/// The currency the payee receives.
	pub target: CurrencyCode,
	/// What the payer gives, in minor units of `source`.
	pub source_amount: u128,
	/// What the payee receives, in minor units of `target`.
	pub target_amount: u128,
	/// The published mid rate of the pair as published (`pair.base` in `pair.quote`).
	pub pair: Pair,
	pub mid: u128,
	/// The side of the spread applied: bid when the payer sells the pair's base currency, ask
	/// when the payer buys it; scaled by [`RATE_SCALE`], in the pair's published direction.
	pub applied_rate: u128,
	/// The quote holds until this moment (exclusive).
	pub valid_until: Moment,
}

/// Why a quote could not be given. The pallet's dispatch errors of the same names say the same.
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
pub enum QuoteError {
	/// A currency of the request is not registered.
	UnknownCurrency,
	/// Neither the pair nor its reverse is configured.
	UnknownPair,
	/// The pair is configured but disabled.
	PairDisabled,
	/// No feeder of the pair has a rate that is valid now.
	NoFreshRate,
	/// The rate id does not exist (never published, or pruned after its retention).
	UnknownRateId,
	/// The rate exists but is not valid at the moment asked about.
	RateNotValid,
	/// The rate id belongs to another pair.
	RatePairMismatch,
	/// Source and target are the same currency.
	SameCurrency,
	/// Zero amount.
	ZeroAmount,
	/// The converted amount does not fit in 128 bits, or converts to zero.
	AmountOutOfRange,
	/// The rate is valid, but it is not the pair's effective rate, nor was it within the
	/// pair's grace period.
	RateNotEffective,
	/// The rate's feeder was removed from the pair: its publications are no longer used.
	RateWithdrawn,
}
