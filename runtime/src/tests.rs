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
fn the_development_chain_quotes_hkd_cny_from_its_first_block_for_the_pairs_validity() {
	use pallet_fx_rate::{CurrencyCode, QuoteError, QuoteSide};
	let first_block: u64 = 1_800_000_000_000;
	let quote = || {
		crate::FxRate::quote(CurrencyCode::HKD, CurrencyCode::CNY, 9_213, QuoteSide::ExactTarget)
	};
	ext(sp_genesis_builder::DEV_RUNTIME_PRESET).execute_with(|| {
		// No time at genesis, so no rate yet; the first block's timestamp publishes it.
		assert_eq!(quote(), Err(QuoteError::NoFreshRate));
		// What the first block's timestamp inherent does for the FX pallet (Aura's slot check,
		// the other half of `OnTimestampSet`, needs a real block).
		pallet_timestamp::Now::<crate::Runtime>::put(first_block);
		<crate::FxRate as frame_support::traits::OnTimestampSet<u64>>::on_timestamp_set(
			first_block,
		);
		let q = quote().expect("the opening rate quotes");
		assert_eq!(q.target_amount, 9_213);
		assert_eq!(q.mid, genesis_config_presets::DEV_HKD_CNY_MID);
		let rate = pallet_fx_rate::Rates::<crate::Runtime>::get(q.rate_id).unwrap();
		assert_eq!(rate.feeder, None, "an admin rate");
		assert_eq!(rate.published_at, first_block);
		// It does not outlive the pair's validity: a feeder must take over.
		let stale = first_block + genesis_config_presets::DEV_HKD_CNY_MAX_VALIDITY;
		pallet_timestamp::Now::<crate::Runtime>::put(stale - 1);
		assert!(quote().is_ok());
		pallet_timestamp::Now::<crate::Runtime>::put(stale);
		assert_eq!(quote(), Err(QuoteError::NoFreshRate));
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
	use crate::{configs::OtherSigners, RuntimeCall};
	use frame_support::dispatch::GetDispatchInfo;
	use genesis_config_presets::*;
	use pallet_clearing_bank::AuthorizeSigner;
	use sp_runtime::{traits::DispatchTransaction, transaction_validity::TransactionSource};
	ext("development").execute_with(|| {
		let call: RuntimeCall = frame_system::Call::remark { remark: vec![] }.into();
		let known = |k: Sr25519Keyring| {
			pallet_clearing_bank::CheckAuthorizedSigner::<crate::Runtime>::new()
				.validate_only(
					RuntimeOrigin::signed(account(k)),
					&call,
					&call.get_dispatch_info(),
					0,
					TransactionSource::External,
					0,
				)
				.is_ok()
		};
		assert!(OtherSigners::is_authorized(&account(DEV_FX_FEEDER), &call));
		for k in [Sr25519Keyring::Alice, DEV_CLEARING_BANK, DEV_ISSUER, DEV_ACQUIRER, DEV_FX_FEEDER]
		{
			assert!(known(k), "{k:?} may transact");
		}
		assert!(!known(Sr25519Keyring::Eve), "Eve is nobody on this network");
	});
}

/// The clearing bank as a 2-of-3 multisig account: two signatories together fund an account,
/// one alone cannot, and the pool lets the signatories in with the multisig calls that act for
/// the clearing bank and nothing else.
#[test]
fn a_multisig_clearing_bank_acts_with_two_of_three_signatures() {
	use crate::{configs::OtherSigners, Multisig, RuntimeCall};
	use frame_support::dispatch::GetDispatchInfo;
	use pallet_clearing_bank::AuthorizeSigner;
	use pallet_fx_rate::CurrencyCode;
	let signers: Vec<AccountId> =
		[Sr25519Keyring::One, Sr25519Keyring::Two, Sr25519Keyring::Eve].map(account).to_vec();
	let mut sorted = signers.clone();
	sorted.sort();
	let bank = pallet_multisig::Pallet::<crate::Runtime>::multi_account_id(&sorted, 2);
	let issuer = account(genesis_config_presets::DEV_ISSUER);
	ext("development").execute_with(|| {
		for who in &signers {
			assert_ok!(Balances::force_set_balance(
				RuntimeOrigin::root(),
				who.clone().into(),
				10 * UNIT
			));
		}
		assert_ok!(crate::ClearingBank::set_clearing_bank(RuntimeOrigin::root(), bank.clone()));
		let fund: RuntimeCall = pallet_clearing_bank::Call::fund {
			who: issuer.clone(),
			currency: CurrencyCode::HKD,
			amount: 5_000,
			reference: b"RTGS-MULTISIG-1".to_vec().try_into().unwrap(),
		}
		.into();
		let balance = || {
			pallet_clearing_bank::Accounts::<crate::Runtime>::get(&issuer, CurrencyCode::HKD)
				.balance
		};
		let before = balance();
		let others = |me: usize| -> Vec<AccountId> {
			let mut o: Vec<AccountId> =
				sorted.iter().filter(|a| **a != signers[me]).cloned().collect();
			o.sort();
			o
		};
		let weight = fund.get_dispatch_info().call_weight;

		// One signatory alone: not the clearing bank, and its approval alone executes nothing.
		assert_noop!(
			crate::ClearingBank::fund(
				RuntimeOrigin::signed(signers[0].clone()),
				issuer.clone(),
				CurrencyCode::HKD,
				5_000,
				b"RTGS-MULTISIG-1".to_vec().try_into().unwrap()
			),
			sp_runtime::DispatchError::BadOrigin
		);
		assert_ok!(Multisig::as_multi(
			RuntimeOrigin::signed(signers[0].clone()),
			2,
			others(0),
			None,
			Box::new(fund.clone()),
			weight
		));
		assert_eq!(balance(), before, "one signature funds nothing");
		// Nor does a threshold of one: that is another account.
		let alone = Multisig::as_multi_threshold_1(
			RuntimeOrigin::signed(signers[0].clone()),
			others(0),
			Box::new(fund.clone()),
		);
		assert_eq!(alone.map_err(|e| e.error), Err(sp_runtime::DispatchError::BadOrigin));
		assert_eq!(balance(), before);

		// The second signatory completes it.
		let when = pallet_multisig::Multisigs::<crate::Runtime>::iter().next().unwrap().2.when;
		assert_ok!(Multisig::as_multi(
			RuntimeOrigin::signed(signers[2].clone()),
			2,
			others(2),
			Some(when),
			Box::new(fund.clone()),
			weight
		));
		assert_eq!(balance(), before + 5_000);

		// The pool: the signatories' multisig calls for the clearing bank get in; the same
		// call for another multisig account, or any other call of theirs, does not.
		let as_multi = |threshold: u16, me: usize| -> RuntimeCall {
			pallet_multisig::Call::as_multi {
				threshold,
				other_signatories: others(me),
				maybe_timepoint: None,
				call: Box::new(fund.clone()),
				max_weight: weight,
			}
			.into()
		};
		assert!(OtherSigners::is_authorized(&signers[1], &as_multi(2, 1)));
		assert!(!OtherSigners::is_authorized(&signers[1], &as_multi(3, 1)));
		assert!(!OtherSigners::is_authorized(&signers[1], &fund));
	});
}

/// Block space costs the same whichever way it is filled: a remark filling a block's normal
/// length costs about what a block full of postings costs by weight (it cost a ten-thousandth
/// of that when a byte cost one unit).
#[test]
fn length_is_priced_like_weight() {
	use crate::RuntimeCall;
	use frame_support::dispatch::GetDispatchInfo;
	ext("development").execute_with(|| {
		let room = 3_932_160usize - 256;
		let remark: RuntimeCall = frame_system::Call::remark { remark: vec![0; room] }.into();
		let info = remark.get_dispatch_info();
		let fee = pallet_transaction_payment::Pallet::<crate::Runtime>::compute_fee(
			room as u32 + 150,
			&info,
			0,
		);
		// 375 mCLR: a block's normal weight priced at one unit per picosecond.
		let block_of_weight = 375 * crate::MILLI_UNIT;
		assert!(fee > block_of_weight * 9 / 10, "a block-sized remark costs {fee}");
		assert!(fee < block_of_weight * 12 / 10, "a block-sized remark costs {fee}");
	});
}
