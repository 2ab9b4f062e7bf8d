//! Every call of the two pallets, and balance transfers, built from checked arguments. Text
//! arguments become the pallets' bounded types here, so a value the chain would refuse for
//! its form is refused before anything is signed, with the field's name.

use crate::error::{Error, Result};
use clearline_runtime::{AccountId, BalancesCall, RuntimeCall};
use pallet_clearing_bank::{
	is_visible_ascii, is_well_formed_code, parse_order_id, Call as Clearing, CycleId, ExternalRef,
	OrderId, ParticipantCode, ParticipantName, ParticipantRole, PaymentInstruction,
};
use pallet_fx_rate::{Call as Fx, CurrencyCode, CurrencyInfo, Moment, Pair, PairLimits};
use sp_core::crypto::{Pair as _, Ss58Codec};
use sp_runtime::{MultiSignature, Permill};
use std::str::FromStr;

/// An account from its SS58 address, its `0x` hex public key, or (development chains) a
/// `//Name` derivation such as `//Alice`.
pub fn account(field: &'static str, text: &str) -> Result<AccountId> {
	if text.starts_with("//") {
		let pair = sp_core::sr25519::Pair::from_string(text, None)
			.map_err(|e| Error::input(field, format!("{e:?}")))?;
		return Ok(pair.public().into());
	}
	if let Some(hex) = text.strip_prefix("0x") {
		let bytes: [u8; 32] = hex::decode(hex)
			.ok()
			.and_then(|b| b.try_into().ok())
			.ok_or_else(|| Error::input(field, format!("{text:?} is not 32 bytes of hex")))?;
		return Ok(AccountId::new(bytes));
	}
	AccountId::from_ss58check(text)
		.map_err(|e| Error::input(field, format!("{text:?} is not an SS58 address ({e:?})")))
}

fn bounded<const N: u32>(
	field: &'static str,
	text: &str,
) -> Result<frame_support::BoundedVec<u8, frame_support::traits::ConstU32<N>>> {
	text.as_bytes()
		.to_vec()
		.try_into()
		.map_err(|_| Error::input(field, format!("{text:?} is longer than {N} bytes")))
}

/// An order, merchant or refund id: 1 to 64 visible ASCII characters.
pub fn order_id(field: &'static str, text: &str) -> Result<OrderId> {
	parse_order_id(text.as_bytes()).ok_or_else(|| {
		Error::input(field, format!("{text:?} is not 1 to 64 visible ASCII characters"))
	})
}

/// A bank transfer or settlement reference: 1 to 35 visible ASCII characters.
pub fn external_ref(field: &'static str, text: &str) -> Result<ExternalRef> {
	if !is_visible_ascii(text.as_bytes()) {
		return Err(Error::input(field, format!("{text:?} is not visible ASCII without spaces")));
	}
	bounded(field, text)
}

/// A participant code: 1 to 16 of `A`-`Z`, `0`-`9` and `-`.
pub fn participant_code(text: &str) -> Result<ParticipantCode> {
	if !is_well_formed_code(text.as_bytes()) {
		return Err(Error::input("code", format!("{text:?} is not 1-16 of A-Z, 0-9 and -")));
	}
	bounded("code", text)
}

/// A participant's legal name: 1 to 70 bytes of UTF-8.
pub fn participant_name(text: &str) -> Result<ParticipantName> {
	if text.is_empty() {
		return Err(Error::input("name", "empty"));
	}
	bounded("name", text)
}

pub fn currency(field: &'static str, text: &str) -> Result<CurrencyCode> {
	CurrencyCode::from_str(text).map_err(|e| Error::input(field, format!("{text:?}: {e}")))
}

/// A pair written `BASE/QUOTE` (`HKD/CNY`).
pub fn pair(text: &str) -> Result<Pair> {
	let (base, quote) = text
		.split_once('/')
		.ok_or_else(|| Error::input("pair", format!("{text:?} is not BASE/QUOTE")))?;
	Ok(Pair::new(currency("pair", base)?, currency("pair", quote)?))
}

/// A non-negative integer amount in minor units.
pub fn amount(field: &'static str, text: &str) -> Result<u128> {
	text.parse()
		.map_err(|_| Error::input(field, format!("{text:?} is not a whole number of minor units")))
}

/// Parts per million (a spread); at most 1,000,000.
pub fn ppm(field: &'static str, value: u32) -> Result<Permill> {
	if value > 1_000_000 {
		return Err(Error::input(field, format!("{value} ppm is more than 100%")));
	}
	Ok(Permill::from_parts(value))
}

/// Wraps a root-only call in `Sudo::sudo`, for the sudo key of a development chain.
pub fn sudo(call: RuntimeCall) -> RuntimeCall {
	RuntimeCall::Sudo(pallet_sudo::Call::sudo { call: Box::new(call) })
}

pub fn transfer(to: AccountId, amount: u128) -> RuntimeCall {
	RuntimeCall::Balances(BalancesCall::transfer_keep_alive { dest: to.into(), value: amount })
}

// The clearing bank (root, or the clearing bank's account where the pallet says so).

/// Root only: see [`sudo`].
pub fn set_clearing_bank(account: AccountId) -> RuntimeCall {
	RuntimeCall::ClearingBank(Clearing::set_clearing_bank { account })
}

pub fn register_participant(
	who: AccountId,
	role: ParticipantRole,
	code: &str,
	name: &str,
) -> Result<RuntimeCall> {
	Ok(RuntimeCall::ClearingBank(Clearing::register_participant {
		who,
		role,
		code: participant_code(code)?,
		name: participant_name(name)?,
	}))
}

pub fn suspend_participant(who: AccountId) -> RuntimeCall {
	RuntimeCall::ClearingBank(Clearing::suspend_participant { who })
}

pub fn reinstate_participant(who: AccountId) -> RuntimeCall {
	RuntimeCall::ClearingBank(Clearing::reinstate_participant { who })
}

pub fn deregister_participant(who: AccountId) -> RuntimeCall {
	RuntimeCall::ClearingBank(Clearing::deregister_participant { who })
}

pub fn set_debit_limit(who: AccountId, currency: CurrencyCode, limit: u128) -> RuntimeCall {
	RuntimeCall::ClearingBank(Clearing::set_debit_limit { who, currency, limit })
}

pub fn fund(
	who: AccountId,
	currency: CurrencyCode,
	amount: u128,
	reference: &str,
) -> Result<RuntimeCall> {
	let reference = external_ref("reference", reference)?;
	Ok(RuntimeCall::ClearingBank(Clearing::fund { who, currency, amount, reference }))
}

pub fn withdraw(
	who: AccountId,
	currency: CurrencyCode,
	amount: u128,
	reference: &str,
) -> Result<RuntimeCall> {
	let reference = external_ref("reference", reference)?;
	Ok(RuntimeCall::ClearingBank(Clearing::withdraw { who, currency, amount, reference }))
}

pub fn close_cycle() -> RuntimeCall {
	RuntimeCall::ClearingBank(Clearing::close_cycle {})
}

pub fn settle_cycle(cycle: CycleId, reference: &str) -> Result<RuntimeCall> {
	let reference = external_ref("reference", reference)?;
	Ok(RuntimeCall::ClearingBank(Clearing::settle_cycle { cycle, reference }))
}

// The acquirer.

pub fn post_payment(
	instruction: PaymentInstruction<AccountId>,
	issuer_signature: MultiSignature,
) -> RuntimeCall {
	RuntimeCall::ClearingBank(Clearing::post_payment { instruction, issuer_signature })
}

/// Posts several signed instructions in one transaction (1 to
/// [`clearline_runtime::MAX_POSTINGS_PER_BATCH`]); each is posted or refused on its own.
pub fn post_payments(
	instructions: Vec<(PaymentInstruction<AccountId>, MultiSignature)>,
) -> Result<RuntimeCall> {
	let max = clearline_runtime::MAX_POSTINGS_PER_BATCH;
	if instructions.is_empty() || instructions.len() > max as usize {
		return Err(Error::input(
			"instructions",
			format!("{} instructions; a batch takes 1 to {max}", instructions.len()),
		));
	}
	let instructions = instructions.try_into().expect("length checked against the runtime's bound");
	Ok(RuntimeCall::ClearingBank(Clearing::post_payments { instructions }))
}

/// The most instructions touching `accounts` settlement accounts
/// ([`pallet_clearing_bank::ledger::touched_accounts`]) that one `post_payments` may carry and
/// still be accepted into a block: its weight (the runtime's own weight functions,
/// compiled into this client) within nine tenths of a normal transaction's limit, leaving the
/// rest for the transaction's extensions; never more than the runtime's bound.
pub fn batch_capacity(accounts: u32) -> u32 {
	use frame_support::dispatch::DispatchClass;
	let limits = <clearline_runtime::Runtime as frame_system::Config>::BlockWeights::get();
	let Some(limit) = limits.get(DispatchClass::Normal).max_extrinsic else {
		return clearline_runtime::MAX_POSTINGS_PER_BATCH;
	};
	let limit = limit.ref_time() / 10 * 9;
	let fits = |n: u32| {
		let weight = pallet_clearing_bank::ledger::batch_weight::<clearline_runtime::Runtime>(
			n,
			accounts.clamp(1, n),
			0,
		);
		weight.ref_time() <= limit
	};
	let (mut low, mut high) = (1, clearline_runtime::MAX_POSTINGS_PER_BATCH);
	while low < high {
		let mid = (low + high).div_ceil(2);
		if fits(mid) {
			low = mid;
		} else {
			high = mid - 1;
		}
	}
	low
}

// The issuer.

/// Voids the signer's (an issuer's) `issuer_order_id`, so that no posting can ever use it.
pub fn void_instruction(issuer_order_id: &str) -> Result<RuntimeCall> {
	Ok(RuntimeCall::ClearingBank(Clearing::void_instruction {
		issuer_order_id: order_id("issuer order id", issuer_order_id)?,
	}))
}

pub fn refund(
	acquirer_order_id: &str,
	refund_id: &str,
	credit_amount: u128,
) -> Result<RuntimeCall> {
	Ok(RuntimeCall::ClearingBank(Clearing::refund {
		acquirer_order_id: order_id("order", acquirer_order_id)?,
		refund_id: order_id("refund id", refund_id)?,
		credit_amount,
	}))
}

// FX administration (the clearing bank) and feeders.

pub fn register_currency(code: CurrencyCode, numeric: u16, minor_units: u8) -> RuntimeCall {
	RuntimeCall::FxRate(Fx::register_currency { code, info: CurrencyInfo { numeric, minor_units } })
}

pub fn configure_pair(pair: Pair, limits: PairLimits) -> RuntimeCall {
	RuntimeCall::FxRate(Fx::configure_pair { pair, limits })
}

pub fn set_pair_enabled(pair: Pair, enabled: bool) -> RuntimeCall {
	RuntimeCall::FxRate(Fx::set_pair_enabled { pair, enabled })
}

pub fn add_feeder(pair: Pair, feeder: AccountId) -> RuntimeCall {
	RuntimeCall::FxRate(Fx::add_feeder { pair, feeder })
}

pub fn remove_feeder(pair: Pair, feeder: AccountId) -> RuntimeCall {
	RuntimeCall::FxRate(Fx::remove_feeder { pair, feeder })
}

/// A feeder's publication: `mid` scaled by 10^9, `spread` the full bid/ask spread, valid for
/// `valid_for` milliseconds from the block's time.
pub fn publish_rate(pair: Pair, mid: u128, spread: Permill, valid_for: Moment) -> RuntimeCall {
	RuntimeCall::FxRate(Fx::publish_rate { pair, mid, spread, valid_for })
}

/// The admin's publication (root or the clearing bank): any level, effective at once.
pub fn force_publish_rate(
	pair: Pair,
	mid: u128,
	spread: Permill,
	valid_for: Moment,
) -> RuntimeCall {
	RuntimeCall::FxRate(Fx::force_publish_rate { pair, mid, spread, valid_for })
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn accounts_parse_from_every_accepted_form() {
		let alice = account("who", "//Alice").unwrap();
		assert_eq!(account("who", &alice.to_ss58check()).unwrap(), alice);
		let hex = format!("0x{}", hex::encode(<[u8; 32]>::from(alice.clone())));
		assert_eq!(account("who", &hex).unwrap(), alice);
		for bad in ["alice", "0x1234", "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY1"] {
			assert!(matches!(account("who", bad), Err(Error::InvalidInput { field: "who", .. })));
		}
	}

	#[test]
	fn identifiers_are_checked_for_form_and_length() {
		assert!(order_id("order", "ACQ-1").is_ok());
		assert!(order_id("order", &"x".repeat(64)).is_ok());
		assert!(order_id("order", &"x".repeat(65)).is_err());
		assert!(order_id("order", "with space").is_err());
		assert!(order_id("order", "").is_err());
		assert!(external_ref("reference", &"R".repeat(36)).is_err());
		assert!(participant_code("DEVISSHK").is_ok());
		assert!(participant_code("devisshk").is_err());
		assert!(participant_name(&"名".repeat(23)).is_ok());
		assert!(participant_name(&"名".repeat(24)).is_err());
		assert!(pair("HKD/CNY").is_ok());
		assert!(pair("HKDCNY").is_err());
		assert!(pair("HKD/cny").is_err());
		assert!(amount("amount", "-1").is_err());
		assert!(amount("amount", "1.5").is_err());
		assert!(ppm("spread", 1_000_001).is_err());
	}
}
