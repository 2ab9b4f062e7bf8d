//! Currency conversion at a published rate, in integers.
//!
//! Rounding rule: every conversion rounds in favour of the party that provides it (the
//! clearing bank's FX book). What the payee receives is rounded down; what the payer must
//! give is rounded up. So no sequence of quotes can create value: converting and converting
//! back never returns more than was given, and an exact-target quote is the smallest amount
//! that buys the target. Each conversion rounds once, from one exact rational expression, so
//! errors never accumulate.
//!
//! The spread applies by direction: a payer who gives the pair's base currency sells it at
//! the bid (`mid × (1 − spread/2)`); a payer who gives the quote currency buys base at the
//! ask (`mid × (1 + spread/2)`). The reverse direction of a pair is thus the exact inverse of
//! the published ask, never a separately rounded rate.

use crate::types::{CurrencyInfo, QuoteError, QuoteSide, RATE_SCALE};
use sp_arithmetic::{helpers_128bit::multiply_by_rational_with_rounding, Permill, Rounding};

/// `Permill` parts in one whole, doubled: the spread is split in two halves around mid.
const TWO_WHOLES: u128 = 2 * 1_000_000;

/// Which way a conversion goes relative to the published pair.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Direction {
	/// The payer gives the pair's base currency (sells base at the bid).
	BaseToQuote,
	/// The payer gives the pair's quote currency (buys base at the ask).
	QuoteToBase,
}

/// The bid or ask the direction applies, scaled by `RATE_SCALE` (for display; conversions use
/// the exact fraction).
pub fn applied_rate(mid: u128, spread: Permill, direction: Direction) -> u128 {
	let (num, den) = applied_fraction(mid, spread, direction);
	multiply_by_rational_with_rounding(1, num, den / RATE_SCALE, Rounding::NearestPrefDown)
		.unwrap_or(u128::MAX)
}

/// The applied rate as an exact fraction `num / den` of quote major units per base major unit.
fn applied_fraction(mid: u128, spread: Permill, direction: Direction) -> (u128, u128) {
	let parts = spread.deconstruct() as u128;
	let factor = match direction {
		Direction::BaseToQuote => TWO_WHOLES - parts,
		Direction::QuoteToBase => TWO_WHOLES + parts,
	};
	// mid ≤ MAX_RATE (1e18) and factor ≤ 3e6: the product stays below 3.1e24.
	(mid * factor, RATE_SCALE * TWO_WHOLES)
}

/// Converts `amount` at `mid`/`spread` (published for base → quote). `base` and `quote` give
/// each side's minor-unit exponent. Returns `(source_amount, target_amount)` in minor units.
pub fn convert(
	mid: u128,
	spread: Permill,
	base: CurrencyInfo,
	quote: CurrencyInfo,
	direction: Direction,
	side: QuoteSide,
	amount: u128,
) -> Result<(u128, u128), QuoteError> {
	if amount == 0 {
		return Err(QuoteError::ZeroAmount);
	}
	let (rate_num, rate_den) = applied_fraction(mid, spread, direction);
	let base_scale = 10u128.pow(base.minor_units as u32);
	let quote_scale = 10u128.pow(quote.minor_units as u32);
	// quote_minor = base_minor × rate × 10^e_quote / 10^e_base. Both factors stay below 2^128:
	// rate_num < 3.1e24 and the scales are at most 1e6.
	let base_to_quote = (rate_num * quote_scale, rate_den * base_scale);
	let (num, den, rounding) = match (direction, side) {
		// Payer gives base, payee receives quote.
		(Direction::BaseToQuote, QuoteSide::ExactSource) => {
			(base_to_quote.0, base_to_quote.1, Rounding::Down)
		}
		(Direction::BaseToQuote, QuoteSide::ExactTarget) => {
			(base_to_quote.1, base_to_quote.0, Rounding::Up)
		}
		// Payer gives quote, payee receives base.
		(Direction::QuoteToBase, QuoteSide::ExactSource) => {
			(base_to_quote.1, base_to_quote.0, Rounding::Down)
		}
		(Direction::QuoteToBase, QuoteSide::ExactTarget) => {
			(base_to_quote.0, base_to_quote.1, Rounding::Up)
		}
	};
	let other = multiply_by_rational_with_rounding(amount, num, den, rounding)
		.filter(|v| *v > 0)
		.ok_or(QuoteError::AmountOutOfRange)?;
	Ok(match side {
		QuoteSide::ExactSource => (amount, other),
		QuoteSide::ExactTarget => (other, amount),
	})
}

#[cfg(test)]
mod tests {
	use super::*;
	use crate::types::MAX_RATE;

	const TWO: CurrencyInfo = CurrencyInfo { numeric: 344, minor_units: 2 };
	const TWO_CNY: CurrencyInfo = CurrencyInfo { numeric: 156, minor_units: 2 };
	const ZERO: CurrencyInfo = CurrencyInfo { numeric: 392, minor_units: 0 };
	/// 1 HKD = 0.92 CNY.
	const MID: u128 = 920_000_000;

	fn conv(direction: Direction, side: QuoteSide, amount: u128, spread: Permill) -> (u128, u128) {
		convert(MID, spread, TWO, TWO_CNY, direction, side, amount).unwrap()
	}

	#[test]
	fn exact_source_rounds_the_payee_down() {
		// 100.00 HKD at 0.92 with no spread: exactly 92.00 CNY.
		assert_eq!(
			conv(Direction::BaseToQuote, QuoteSide::ExactSource, 10_000, Permill::zero()),
			(10_000, 9_200)
		);
		// 0.01 HKD → 0.0092 CNY → 0.00 CNY: refused rather than quoting nothing.
		assert_eq!(
			convert(
				MID,
				Permill::zero(),
				TWO,
				TWO_CNY,
				Direction::BaseToQuote,
				QuoteSide::ExactSource,
				1
			),
			Err(QuoteError::AmountOutOfRange)
		);
		// 0.02 HKD → 0.0184 → 0.01 CNY.
		assert_eq!(
			conv(Direction::BaseToQuote, QuoteSide::ExactSource, 2, Permill::zero()),
			(2, 1)
		);
	}

	#[test]
	fn exact_target_rounds_the_payer_up() {
		// 0.01 CNY costs 0.0108… HKD → 0.02 HKD.
		assert_eq!(
			conv(Direction::BaseToQuote, QuoteSide::ExactTarget, 1, Permill::zero()),
			(2, 1)
		);
		// 92.00 CNY costs exactly 100.00 HKD.
		assert_eq!(
			conv(Direction::BaseToQuote, QuoteSide::ExactTarget, 9_200, Permill::zero()),
			(10_000, 9_200)
		);
		// 92.01 CNY costs 100.0108… → 100.02 HKD.
		assert_eq!(
			conv(Direction::BaseToQuote, QuoteSide::ExactTarget, 9_201, Permill::zero()),
			(10_002, 9_201)
		);
	}

	#[test]
	fn the_spread_applies_against_the_payer_in_both_directions() {
		let spread = Permill::from_percent(2); // bid 0.9108, ask 0.9292
		assert_eq!(applied_rate(MID, spread, Direction::BaseToQuote), 910_800_000);
		assert_eq!(applied_rate(MID, spread, Direction::QuoteToBase), 929_200_000);
		// Selling 100.00 HKD at the bid.
		assert_eq!(
			conv(Direction::BaseToQuote, QuoteSide::ExactSource, 10_000, spread),
			(10_000, 9_108)
		);
		// Selling 92.92 CNY buys 100.00 HKD at the ask.
		assert_eq!(
			conv(Direction::QuoteToBase, QuoteSide::ExactSource, 9_292, spread),
			(9_292, 10_000)
		);
		// And 100.00 HKD costs 92.92 CNY.
		assert_eq!(
			conv(Direction::QuoteToBase, QuoteSide::ExactTarget, 10_000, spread),
			(9_292, 10_000)
		);
	}

	#[test]
	fn minor_unit_exponents_are_respected() {
		// 1 unit of a 0-decimal currency (JPY-like) = 0.05 of a 2-decimal one, published as
		// base JPY, quote HKD at 0.05.
		let mid = 50_000_000;
		assert_eq!(
			convert(
				mid,
				Permill::zero(),
				ZERO,
				TWO,
				Direction::BaseToQuote,
				QuoteSide::ExactSource,
				1_000
			),
			Ok((1_000, 5_000)) // ¥1000 → 50.00
		);
		assert_eq!(
			convert(
				mid,
				Permill::zero(),
				ZERO,
				TWO,
				Direction::QuoteToBase,
				QuoteSide::ExactSource,
				5_000
			),
			Ok((5_000, 1_000))
		);
		// 0.01 HKD buys ¥0.2 → nothing: refused.
		assert_eq!(
			convert(
				mid,
				Permill::zero(),
				ZERO,
				TWO,
				Direction::QuoteToBase,
				QuoteSide::ExactSource,
				1
			),
			Err(QuoteError::AmountOutOfRange)
		);
	}

	#[test]
	fn largest_amounts_convert_or_are_refused_never_wrapped() {
		// u128::MAX at a rate below one converts (rounded down) without overflow.
		let (_, target) =
			conv(Direction::BaseToQuote, QuoteSide::ExactSource, u128::MAX, Permill::zero());
		assert_eq!(
			target,
			multiply_by_rational_with_rounding(u128::MAX, 92, 100, Rounding::Down).unwrap()
		);
		// Buying u128::MAX CNY needs more than u128::MAX HKD: refused.
		assert_eq!(
			convert(
				MID,
				Permill::zero(),
				TWO,
				TWO_CNY,
				Direction::BaseToQuote,
				QuoteSide::ExactTarget,
				u128::MAX
			),
			Err(QuoteError::AmountOutOfRange)
		);
		// At the largest rate, widest spread and largest exponent gap nothing overflows inside:
		// one base unit at ask 1.5e9 is 1.5e15 minor units of a 6-decimal quote currency.
		let six = CurrencyInfo { numeric: 1, minor_units: crate::types::MAX_MINOR_UNITS };
		assert_eq!(
			convert(
				MAX_RATE,
				Permill::one(),
				ZERO,
				six,
				Direction::QuoteToBase,
				QuoteSide::ExactTarget,
				1
			),
			Ok((1_500_000_000_000_000, 1))
		);
	}

	#[test]
	fn zero_amount_is_refused() {
		assert_eq!(
			convert(
				MID,
				Permill::zero(),
				TWO,
				TWO_CNY,
				Direction::BaseToQuote,
				QuoteSide::ExactSource,
				0
			),
			Err(QuoteError::ZeroAmount)
		);
	}
}
