//! Genesis presets: `development` (one authority, for `--dev`) and `local_testnet` (the
//! multi-validator network of `--chain local`).

use crate::{AccountId, BalancesConfig, RuntimeGenesisConfig, SudoConfig, UNIT};
use alloc::{vec, vec::Vec};
use frame_support::build_struct_json_patch;
use serde_json::Value;
use sp_consensus_aura::sr25519::AuthorityId as AuraId;
use sp_consensus_grandpa::AuthorityId as GrandpaId;
use sp_genesis_builder::{self, PresetId};
use sp_keyring::{Ed25519Keyring, Sr25519Keyring};

/// Every well-known development account starts with this much of the fee token.
pub const ENDOWMENT: u128 = 1_000_000 * UNIT;

/// The validators of the local testnet. Four, because GRANDPA finalizes with more than two
/// thirds of the voters: with n voters it tolerates ⌊(n−1)/3⌋ of them down, which is none for
/// three and one for four.
pub const LOCAL_TESTNET_VALIDATORS: [Sr25519Keyring; 4] =
	[Sr25519Keyring::Alice, Sr25519Keyring::Bob, Sr25519Keyring::Charlie, Sr25519Keyring::Dave];

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

fn genesis(authorities: Vec<(AuraId, GrandpaId)>, endowed: Vec<AccountId>, root: AccountId) -> Value {
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

/// The JSON patch of the named preset, or `None` for an unknown name.
pub fn get_preset(id: &PresetId) -> Option<Vec<u8>> {
	let patch = match id.as_ref() {
		sp_genesis_builder::DEV_RUNTIME_PRESET => development_config_genesis(),
		sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET => local_testnet_config_genesis(),
		_ => return None,
	};
	Some(
		serde_json::to_string(&patch)
			.expect("a JSON value always serializes; qed")
			.into_bytes(),
	)
}

pub fn preset_names() -> Vec<PresetId> {
	vec![
		PresetId::from(sp_genesis_builder::DEV_RUNTIME_PRESET),
		PresetId::from(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET),
	]
}
