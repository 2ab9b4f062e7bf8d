//! Genesis presets: `development` (one authority, for `--dev`) and `local_testnet` (the
//! multi-validator network of `--chain local`).

use crate::{AccountId, BalancesConfig, Runtime, RuntimeGenesisConfig, SudoConfig, UNIT};
use alloc::{string::String, vec, vec::Vec};
use frame_support::build_struct_json_patch;
use pallet_fx_rate::{CurrencyCode, CurrencyInfo, Pair, PairLimits};
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};
use sp_runtime::Permill;

/// Every well-known development account starts with this much of the fee token.
pub const ENDOWMENT: u128 = 1_000_000 * UNIT;

/// The validators of the local testnet. Four, because GRANDPA finalizes with more than two
/// thirds of the voters: with n voters it tolerates ⌊(n−1)/3⌋ of them down, which is none for
/// three and one for four.
pub const LOCAL_TESTNET_VALIDATORS: [Sr25519Keyring; 4] =
	[Sr25519Keyring::Alice, Sr25519Keyring::Bob, Sr25519Keyring::Charlie, Sr25519Keyring::Dave];

/// The FX feeder of the development and local chains: a well-known development key, so that
/// any tool can sign rate publications as it.
pub const DEV_FX_FEEDER: Sr25519Keyring = Sr25519Keyring::Ferdie;
/// The opening HKD/CNY rate of the development and local chains: 1 HKD = 0.9213 CNY with a
/// 0.2 % bid/ask spread.
pub const DEV_HKD_CNY_MID: u128 = 921_300_000;
pub const DEV_HKD_CNY_SPREAD: Permill = Permill::from_parts(2_000);
/// No HKD/CNY rate is used longer than an hour after its publication, the opening rate
/// included: a feeder (`clearline fx feed`) must keep the pair fresh.
pub const DEV_HKD_CNY_MAX_VALIDITY: u64 = 60 * 60 * 1000;

/// The development and local chains' HKD/CNY limits: spreads up to 1 %, rates usable for an
/// hour, a minute's grace for instructions signed just before a new rate, one fresh feed makes
/// the rate (one feeder), and feeders held within 2 % of the current rate.
pub fn dev_hkd_cny_limits() -> PairLimits {
	PairLimits {
		max_spread: Permill::from_percent(1),
		max_validity: DEV_HKD_CNY_MAX_VALIDITY,
		grace_period: PairLimits::DEFAULT_GRACE_PERIOD,
		min_feeds: 1,
		max_deviation: Permill::from_percent(2),
	}
}

const HKD_CNY: Pair = Pair::new(CurrencyCode::HKD, CurrencyCode::CNY);

/// The clearing bank of the development and local chains.
pub const DEV_CLEARING_BANK: Sr25519Keyring = Sr25519Keyring::Charlie;
/// The issuer (a Hong Kong wallet bank) of the development and local chains, and its code.
pub const DEV_ISSUER: Sr25519Keyring = Sr25519Keyring::Bob;
pub const DEV_ISSUER_CODE: &str = "DEVISSHK";
/// The acquirer (a mainland acquiring bank) of the development and local chains, and its code.
pub const DEV_ACQUIRER: Sr25519Keyring = Sr25519Keyring::Dave;
pub const DEV_ACQUIRER_CODE: &str = "DEVACQCN";
/// The issuer's opening HKD balance (HKD 1,000,000.00) and debit limit (HKD 100,000.00), and the
/// acquirer's opening CNY balance (CNY 100,000.00, from which refunds are paid), in minor units.
pub const DEV_ISSUER_HKD: u128 = 100_000_000;
pub const DEV_ISSUER_HKD_LIMIT: u128 = 10_000_000;
pub const DEV_ACQUIRER_CNY: u128 = 10_000_000;

/// The clearing bank, one issuer and one acquirer, funded, so that payments settle out of the
/// box.
fn clearing_bank_genesis() -> pallet_clearing_bank::GenesisConfig<Runtime> {
	use pallet_clearing_bank::ParticipantRole;
	let (issuer, acquirer) = (DEV_ISSUER.to_account_id(), DEV_ACQUIRER.to_account_id());
	pallet_clearing_bank::GenesisConfig {
		clearing_bank: Some(DEV_CLEARING_BANK.to_account_id()),
		participants: vec![
			(
				issuer.clone(),
				ParticipantRole::Issuer,
				DEV_ISSUER_CODE.into(),
				"Development Issuer (HK)".into(),
			),
			(
				acquirer.clone(),
				ParticipantRole::Acquirer,
				DEV_ACQUIRER_CODE.into(),
				"Development Acquirer (CN)".into(),
			),
		],
		fundings: vec![
			(issuer.clone(), CurrencyCode::HKD, DEV_ISSUER_HKD),
			(acquirer, CurrencyCode::CNY, DEV_ACQUIRER_CNY),
		],
		debit_limits: vec![(issuer, CurrencyCode::HKD, DEV_ISSUER_HKD_LIMIT)],
	}
}

/// HKD and CNY (two decimals each), the HKD/CNY pair, its feeder and an opening rate valid for
/// the pair's longest validity from the first block.
fn fx_rate_genesis() -> pallet_fx_rate::GenesisConfig<Runtime> {
	let feeder = DEV_FX_FEEDER.to_account_id();
	pallet_fx_rate::GenesisConfig {
		currencies: vec![
			(CurrencyCode::HKD, CurrencyInfo { numeric: 344, minor_units: 2 }),
			(CurrencyCode::CNY, CurrencyInfo { numeric: 156, minor_units: 2 }),
		],
		pairs: vec![(HKD_CNY, dev_hkd_cny_limits())],
		feeders: vec![(HKD_CNY, feeder)],
		rates: vec![(HKD_CNY, DEV_HKD_CNY_MID, DEV_HKD_CNY_SPREAD, DEV_HKD_CNY_MAX_VALIDITY)],
	}
}

fn authority_keys(who: Sr25519Keyring) -> (AuraId, GrandpaId) {
	// `--alice` etc. put the sr25519 (Aura) and ed25519 (GRANDPA) keys of the seed `//Name`
	// into the node's keystore; these are their public halves.
	(who.public().into(), ed25519_of(who).public().into())
}

fn ed25519_of(who: Sr25519Keyring) -> Ed25519Keyring {
	match who {
		Sr25519Keyring::Alice => Ed25519Keyring::Alice,
		Sr25519Keyring::Bob => Ed25519Keyring::Bob,
		Sr25519Keyring::Charlie => Ed25519Keyring::Charlie,
		Sr25519Keyring::Dave => Ed25519Keyring::Dave,
		Sr25519Keyring::Eve => Ed25519Keyring::Eve,
		Sr25519Keyring::Ferdie => Ed25519Keyring::Ferdie,
		other => panic!("no validator keys for {other:?}"),
	}
}

fn genesis(
	authorities: Vec<(AuraId, GrandpaId)>,
	endowed: Vec<AccountId>,
	root: AccountId,
) -> Value {
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig {
			balances: endowed.into_iter().map(|k| (k, ENDOWMENT)).collect::<Vec<_>>(),
		},
		aura: pallet_aura::GenesisConfig {
			authorities: authorities.iter().map(|x| x.0.clone()).collect::<Vec<_>>(),
		},
		grandpa: pallet_grandpa::GenesisConfig {
			authorities: authorities.iter().map(|x| (x.1.clone(), 1)).collect::<Vec<_>>(),
		},
		sudo: SudoConfig { key: Some(root) },
		fx_rate: fx_rate_genesis(),
		clearing_bank: clearing_bank_genesis(),
	})
}

/// The well-known development accounts (Alice … Ferdie and their stashes).
fn dev_accounts() -> Vec<AccountId> {
	Sr25519Keyring::iter()
		.filter(|k| *k != Sr25519Keyring::One && *k != Sr25519Keyring::Two)
		.map(|k| k.to_account_id())
		.collect()
}

pub fn development_config_genesis() -> Value {
	genesis(
		vec![authority_keys(Sr25519Keyring::Alice)],
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
	)
}

pub fn local_testnet_config_genesis() -> Value {
	genesis(
		LOCAL_TESTNET_VALIDATORS.iter().map(|v| authority_keys(*v)).collect(),
		dev_accounts(),
		Sr25519Keyring::Alice.to_account_id(),
	)
}

/// A network its operators created (`clearline-node new-network`): every role held by keys
/// they generated, nothing by the public development keys.
pub struct NetworkGenesis {
	/// Each validator's Aura and GRANDPA keys.
	pub authorities: Vec<(AuraId, GrandpaId)>,
	/// Root: runtime upgrades and the clearing bank's appointment.
	pub sudo: AccountId,
	/// The clearing bank's account: one key's, or a multisig account of several.
	pub clearing_bank: AccountId,
	/// `(account, participant code)`; the code is also the name until the bank sets a legal
	/// name by re-registering.
	pub issuers: Vec<(AccountId, String)>,
	pub acquirers: Vec<(AccountId, String)>,
	/// The HKD/CNY feeders.
	pub feeders: Vec<AccountId>,
	/// Accounts that get `ENDOWMENT` fee tokens: everyone who signs transactions.
	pub endowed: Vec<AccountId>,
	/// HKD/CNY's opening mid, scaled by 10^9, valid for the pair's maximum validity from the
	/// first block.
	pub hkd_cny_mid: u128,
}

/// The genesis of an operator-created network: HKD, CNY and HKD/CNY with its feeders (a
/// majority of them makes the rate) and an opening rate, the clearing bank and its issuers
/// and acquirers registered with empty accounts (money arrives as recorded RTGS fundings).
pub fn network_genesis(n: NetworkGenesis) -> Value {
	use pallet_clearing_bank::ParticipantRole;
	let mut limits = dev_hkd_cny_limits();
	// A majority: with three feeders two must agree, with two both.
	limits.min_feeds = n.feeders.len() as u32 / 2 + 1;
	let participants: Vec<_> =
		n.issuers
			.iter()
			.map(|(a, code)| (a.clone(), ParticipantRole::Issuer, code.clone(), code.clone()))
			.chain(n.acquirers.iter().map(|(a, code)| {
				(a.clone(), ParticipantRole::Acquirer, code.clone(), code.clone())
			}))
			.collect();
	build_struct_json_patch!(RuntimeGenesisConfig {
		balances: BalancesConfig {
			balances: n.endowed.into_iter().map(|k| (k, ENDOWMENT)).collect::<Vec<_>>(),
		},
		aura: pallet_aura::GenesisConfig {
			authorities: n.authorities.iter().map(|x| x.0.clone()).collect::<Vec<_>>(),
		},
		grandpa: pallet_grandpa::GenesisConfig {
			authorities: n.authorities.iter().map(|x| (x.1.clone(), 1)).collect::<Vec<_>>(),
		},
		sudo: SudoConfig { key: Some(n.sudo) },
		fx_rate: pallet_fx_rate::GenesisConfig {
			currencies: vec![
				(CurrencyCode::HKD, CurrencyInfo { numeric: 344, minor_units: 2 }),
				(CurrencyCode::CNY, CurrencyInfo { numeric: 156, minor_units: 2 }),
			],
			pairs: vec![(HKD_CNY, limits)],
			feeders: n.feeders.into_iter().map(|f| (HKD_CNY, f)).collect::<Vec<_>>(),
			rates: vec![(HKD_CNY, n.hkd_cny_mid, DEV_HKD_CNY_SPREAD, limits.max_validity)],
		},
		clearing_bank: pallet_clearing_bank::GenesisConfig {
			clearing_bank: Some(n.clearing_bank),
			participants,
			fundings: vec![],
			debit_limits: vec![],
		},
	})
}

/// The JSON patch of the named preset, or `None` for an unknown name.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::DEV_RUNTIME_PRESET => development_config_genesis(),
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_testnet_config_genesis(),
		_ => return None,
	};
	Some(serde_json::to_string(&patch).expect("a JSON value always serializes; qed").into_bytes())
}

pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
		PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
	]
}
