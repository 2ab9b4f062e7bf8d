//! Runtime tests on genesis built from the presets, without a node.

use crate::{
	genesis_config_presets::{self, ENDOWMENT, LOCAL_TESTNET_VALIDATORS},
	AccountId, Balances, RuntimeGenesisConfig, RuntimeOrigin, System, EXISTENTIAL_DEPOSIT, UNIT,
};
use frame_support::{assert_noop, assert_ok};
use serde_json::Value;
use sp_genesis_builder::PresetId;
use sp_keyring::Sr25519Keyring;
use sp_runtime::{BuildStorage, TokenError};

/// Applies a preset's patch onto the default genesis config, as the node's chain spec does.
fn merge(base: &mut Value, patch: Value) {
	match (base, patch) {
		(Value::Object(base), Value::Object(patch)) => {
			for (k, v) in patch {
				merge(base.entry(k).or_insert(Value::Null), v);
			}
		}
		(base, patch) => *base = patch,
	}
}

fn genesis_config(preset: &str) -> RuntimeGenesisConfig {
	let patch = genesis_config_presets::get_preset(&PresetId::from(preset))
		.unwrap_or_else(|| panic!("preset {preset} exists"));
	let mut config = serde_json::to_value(RuntimeGenesisConfig::default()).unwrap();
	merge(&mut config, serde_json::from_slice(&patch).unwrap());
	serde_json::from_value(config).expect("the merged preset is a valid genesis config")
}

fn ext(preset: &str) -> sp_io::TestExternalities {
	let storage = genesis_config(preset).build_storage().expect("genesis storage builds");
	let mut ext = sp_io::TestExternalities::new(storage);
	ext.execute_with(|| System::set_block_number(1));
	ext
}

fn account(k: Sr25519Keyring) -> AccountId {
	k.to_account_id()
}

#[test]
fn every_listed_preset_builds_and_unknown_ones_do_not_exist() {
	let names = genesis_config_presets::preset_names();
	assert_eq!(names.len(), 2);
	for name in &names {
		let name = core::str::from_utf8(name.as_ref()).unwrap();
		ext(name).execute_with(|| {
			assert_eq!(Balances::free_balance(account(Sr25519Keyring::Alice)), ENDOWMENT);
			assert_eq!(
				pallet_sudo::Key::<crate::Runtime>::get(),
				Some(account(Sr25519Keyring::Alice))
			);
		});
	}
	assert!(genesis_config_presets::get_preset(&PresetId::from("staging")).is_none());
}

#[test]
fn development_has_one_authority_and_local_testnet_four() {
	ext(sp_genesis_builder::DEV_RUNTIME_PRESET).execute_with(|| {
		assert_eq!(pallet_aura::Authorities::<crate::Runtime>::get().len(), 1);
		assert_eq!(pallet_grandpa::Pallet::<crate::Runtime>::grandpa_authorities().len(), 1);
	});
	ext(sp_genesis_builder::LOCAL_TESTNET_RUNTIME_PRESET).execute_with(|| {
		let aura = pallet_aura::Authorities::<crate::Runtime>::get();
		let expected: Vec<_> = LOCAL_TESTNET_VALIDATORS.iter().map(|k| k.public().into()).collect();
		assert_eq!(aura.into_inner(), expected);
		let grandpa = pallet_grandpa::Pallet::<crate::Runtime>::grandpa_authorities();
		assert_eq!(grandpa.len(), 4);
		assert!(grandpa.iter().all(|(_, weight)| *weight == 1));
	});
}

#[test]
fn balances_transfer_works_on_the_development_genesis() {
	ext(sp_genesis_builder::DEV_RUNTIME_PRESET).execute_with(|| {
		let alice = account(Sr25519Keyring::Alice);
		let newcomer = AccountId::new([9; 32]);
		let issuance = Balances::total_issuance();

		assert_ok!(Balances::transfer_keep_alive(
			RuntimeOrigin::signed(alice.clone()),
			newcomer.clone().into(),
			5 * UNIT
		));
		assert_eq!(Balances::free_balance(&newcomer), 5 * UNIT);
		assert_eq!(Balances::free_balance(&alice), ENDOWMENT - 5 * UNIT);
		assert_eq!(Balances::total_issuance(), issuance);
		System::assert_last_event(
			pallet_balances::Event::Transfer {
				from: alice.clone(),
				to: newcomer.clone(),
				amount: 5 * UNIT,
			}
			.into(),
		);

		// Below the existential deposit a new account cannot be created.
		let dust = AccountId::new([10; 32]);
		assert_noop!(
			Balances::transfer_keep_alive(
				RuntimeOrigin::signed(alice),
				dust.into(),
				EXISTENTIAL_DEPOSIT - 1
			),
			TokenError::BelowMinimum
		);
	});
}

#[test]
fn the_development_chain_quotes_hkd_cny_out_of_the_box() {
	use pallet_fx_rate::{CurrencyCode, QuoteSide};
	ext(sp_genesis_builder::DEV_RUNTIME_PRESET).execute_with(|| {
		pallet_timestamp::Now::<crate::Runtime>::put(1_800_000_000_000);
		let q = crate::FxRate::quote(
			CurrencyCode::HKD,
			CurrencyCode::CNY,
			9_213,
			QuoteSide::ExactTarget,
		)
		.expect("the standing rate quotes");
		assert_eq!(q.target_amount, 9_213);
		assert_eq!(q.mid, genesis_config_presets::DEV_HKD_CNY_MID);
		assert_eq!(
			pallet_fx_rate::Rates::<crate::Runtime>::get(q.rate_id).unwrap().feeder,
			genesis_config_presets::DEV_FX_FEEDER.to_account_id()
		);
	});
}

#[test]
fn both_presets_start_the_clearing_bank_with_a_funded_issuer_and_acquirer() {
	use genesis_config_presets::*;
	use pallet_clearing_bank::{ParticipantRole, ParticipantStatus};
	const HKD: pallet_fx_rate::CurrencyCode = pallet_fx_rate::CurrencyCode::HKD;
	const CNY: pallet_fx_rate::CurrencyCode = pallet_fx_rate::CurrencyCode::CNY;
	for preset in ["development", "local_testnet"] {
		ext(preset).execute_with(|| {
			assert_eq!(
				pallet_clearing_bank::ClearingBankAccount::<crate::Runtime>::get(),
				Some(account(DEV_CLEARING_BANK))
			);
			let issuer =
				pallet_clearing_bank::Participants::<crate::Runtime>::get(account(DEV_ISSUER))
					.expect("the issuer is registered");
			assert_eq!(issuer.role, ParticipantRole::Issuer);
			assert_eq!(issuer.status, ParticipantStatus::Active);
			assert_eq!(&issuer.code[..], DEV_ISSUER_CODE.as_bytes());
			let hkd =
				pallet_clearing_bank::Accounts::<crate::Runtime>::get(account(DEV_ISSUER), HKD);
			assert_eq!(
				(hkd.balance, hkd.debit_limit),
				(DEV_ISSUER_HKD as i128, DEV_ISSUER_HKD_LIMIT)
			);
			let cny =
				pallet_clearing_bank::Accounts::<crate::Runtime>::get(account(DEV_ACQUIRER), CNY);
			assert_eq!(cny.balance, DEV_ACQUIRER_CNY as i128);
			assert_eq!(pallet_clearing_bank::CurrentCycle::<crate::Runtime>::get(), 1);
			let totals = pallet_clearing_bank::Totals::<crate::Runtime>::get(HKD);
			assert_eq!((totals.funded, totals.withdrawn), (DEV_ISSUER_HKD, 0));
		});
	}
}

#[test]
fn only_known_accounts_may_transact() {
	use crate::configs::FeedersAndSudo;
	use frame_support::traits::Contains;
	use genesis_config_presets::*;
	ext("development").execute_with(|| {
		let known = |k: Sr25519Keyring| {
			crate::ClearingBank::is_known_signer(&account(k))
				|| FeedersAndSudo::contains(&account(k))
		};
		for k in [Sr25519Keyring::Alice, DEV_CLEARING_BANK, DEV_ISSUER, DEV_ACQUIRER, DEV_FX_FEEDER]
		{
			assert!(known(k), "{k:?} may transact");
		}
		assert!(!known(Sr25519Keyring::Eve), "Eve is nobody on this network");
	});
}
