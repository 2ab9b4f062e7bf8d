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
	/// The widest bid/ask spread a feeder may publish.
	pub max_spread: Permill,
	/// The longest validity a feeder may give a rate, in milliseconds.
	pub max_validity: Moment,
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
	pub feeder: AccountId,
	/// Mid rate, scaled by [`RATE_SCALE`].
	pub mid: u128,
	/// Full width of the bid/ask spread around `mid`: bid is `mid × (1 − spread/2)`, ask is
	/// `mid × (1 + spread/2)`.
	pub spread: Permill,
	/// When it was published (block timestamp).
	pub published_at: Moment,
	/// First moment at which it is stale: it is valid while `now < valid_until`.
	pub valid_until: Moment,
}

impl<AccountId> RateRecord<AccountId> {
	/// Whether the rate may be used at `now`.
	pub fn is_valid_at(&self, now: Moment) -> bool {
		self.published_at <= now && now < self.valid_until
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
}
