//! `clearline-node new-network`: the keys and the chain specification of a new Clearline
//! network, every role held by keys its operators generated instead of the public development
//! keys.
//!
//! Writes into `--out`:
//! - `keys/` (mode 0700), one file per secret (mode 0600): each validator's mnemonic
//!   (`validator-N.secret`: its Aura key is the sr25519 key and its GRANDPA key the ed25519 key
//!   of that phrase) and p2p identity (`validator-N.node-key`), the sudo key, the clearing
//!   bank's key or its multisig signatories' keys, and each issuer's, acquirer's and feeder's
//!   key;
//! - `network.json`: everything public (accounts, validator keys and peer ids, the clearing
//!   bank's signatories and threshold, participant codes), to hand to each operator;
//! - `chain-spec.json`, for review, and `chain-spec.raw.json`, which the nodes run.
//!
//! Each operator gets only its own files from `keys/`; the README's "Start a network of your
//! own" shows the steps.

use crate::chain_spec::{properties, wasm, ChainSpec};
use clearline_runtime::{
	genesis_config_presets::{network_genesis, NetworkGenesis},
	AccountId,
};
use sc_network::config::ed25519;
use sc_service::ChainType;
use serde_json::json;
use sp_core::{crypto::Ss58Codec, ed25519 as ed, sr25519, Pair};
use std::{
	fs,
	io::Write,
	os::unix::fs::{DirBuilderExt, OpenOptionsExt},
	path::{Path, PathBuf},
};

#[derive(Debug, Clone, clap::Parser)]
pub struct NewNetworkCmd {
	/// The directory to write into; it must not exist yet (or be empty).
	#[arg(long)]
	pub out: PathBuf,
	/// The network's name in its chain spec.
	#[arg(long, default_value = "Clearline")]
	pub name: String,
	/// The network's id in its chain spec (and its database directory name).
	#[arg(long, default_value = "clearline")]
	pub id: String,
	/// How many validators (Aura authors and GRANDPA voters). GRANDPA finalizes with more
	/// than two thirds of them: four tolerate one down.
	#[arg(long, default_value_t = 4)]
	pub validators: u32,
	/// How many keys hold the clearing bank: one is a plain account, more make it a multisig
	/// account of which `--clearing-bank-threshold` must sign.
	#[arg(long, default_value_t = 1)]
	pub clearing_bank_signers: u16,
	#[arg(long, default_value_t = 2)]
	pub clearing_bank_threshold: u16,
	/// An issuer's participant code (repeat for more).
	#[arg(long = "issuer", default_values_t = ["ISSUER-1".to_string()])]
	pub issuers: Vec<String>,
	/// An acquirer's participant code (repeat for more).
	#[arg(long = "acquirer", default_values_t = ["ACQUIRER-1".to_string()])]
	pub acquirers: Vec<String>,
	/// How many HKD/CNY feeders; a majority of them makes the effective rate.
	#[arg(long, default_value_t = 1)]
	pub feeders: u32,
	/// HKD/CNY's opening mid, scaled by 10^9 (0.9213 is 921300000); it is valid for an hour
	/// from the first block, by which time the feeders publish.
	#[arg(long, default_value_t = 921_300_000)]
	pub hkd_cny_mid: u128,
}

/// The secrets to write, by file name under `keys/`, held until everything else succeeded.
#[derive(Default)]
struct Secrets(Vec<(String, String)>);

impl Secrets {
	/// A fresh sr25519 key, its mnemonic kept as `<name>.secret`; its account.
	fn account_key(&mut self, name: &str) -> (String, AccountId) {
		let (pair, phrase, _) = sr25519::Pair::generate_with_phrase(None);
		let file = format!("{name}.secret");
		self.0.push((file.clone(), format!("{phrase}\n")));
		(format!("keys/{file}"), pair.public().into())
	}

	/// Writes every secret into `dir`, readable by its owner only, never over an existing file.
	fn write(self, dir: &Path) -> Result<(), String> {
		for (name, text) in self.0 {
			let path = dir.join(name);
			let mut file = fs::OpenOptions::new()
				.write(true)
				.create_new(true)
				.mode(0o600)
				.open(&path)
				.map_err(|e| format!("{}: {e}", path.display()))?;
			file.write_all(text.as_bytes()).map_err(|e| format!("{}: {e}", path.display()))?;
		}
		Ok(())
	}
}

fn check_code(code: &str) -> Result<(), String> {
	if pallet_clearing_bank::is_well_formed_code(code.as_bytes()) && code.len() <= 16 {
		Ok(())
	} else {
		Err(format!("participant code {code:?} is not 1-16 of A-Z, 0-9 and -"))
	}
}

impl NewNetworkCmd {
	fn check(&self) -> Result<(), String> {
		use clearline_runtime::Runtime;
		use frame_support::traits::Get;
		let max_validators: u32 = <Runtime as pallet_aura::Config>::MaxAuthorities::get();
		if self.validators == 0 || self.validators > max_validators {
			return Err(format!("--validators must be 1 to {max_validators}"));
		}
		let signers = self.clearing_bank_signers;
		let max_signers: u32 = <Runtime as pallet_multisig::Config>::MaxSignatories::get();
		if signers == 0 || u32::from(signers) > max_signers {
			return Err(format!("--clearing-bank-signers must be 1 to {max_signers}"));
		}
		if signers > 1 && !(2..=signers).contains(&self.clearing_bank_threshold) {
			return Err(format!(
				"--clearing-bank-threshold must be 2 to {signers} for {signers} signers"
			));
		}
		let per_pair: u32 = <Runtime as pallet_fx_rate::Config>::MaxFeedersPerPair::get();
		let in_all: u32 = <Runtime as pallet_fx_rate::Config>::MaxFeeders::get();
		let max_feeders = per_pair.min(in_all);
		if self.feeders == 0 || self.feeders > max_feeders {
			return Err(format!(
				"--feeders must be 1 to {max_feeders}: the chain needs fresh rates"
			));
		}
		for code in self.issuers.iter().chain(&self.acquirers) {
			check_code(code)?;
		}
		let mut codes = self.issuers.iter().chain(&self.acquirers).collect::<Vec<_>>();
		codes.sort();
		if codes.windows(2).any(|w| w[0] == w[1]) {
			return Err("participant codes must differ".into());
		}
		if self.hkd_cny_mid == 0 || self.hkd_cny_mid > pallet_fx_rate::MAX_RATE {
			return Err("--hkd-cny-mid is out of range".into());
		}
		if self.out.exists() && fs::read_dir(&self.out).map_err(|e| e.to_string())?.next().is_some()
		{
			return Err(format!("{} is not empty; keys are never overwritten", self.out.display()));
		}
		Ok(())
	}

	/// Generates every key in memory and builds the chain spec from them; only if all of that
	/// succeeds is anything written.
	pub fn run(&self) -> Result<(), String> {
		self.check()?;
		let wasm = wasm()?;
		let mut secrets = Secrets::default();

		let mut validators = Vec::new();
		let mut authorities = Vec::new();
		for n in 1..=self.validators {
			let (pair, phrase, _) = sr25519::Pair::generate_with_phrase(None);
			let grandpa = ed::Pair::from_phrase(&phrase, None)
				.map_err(|e| format!("deriving the GRANDPA key: {e:?}"))?
				.0;
			secrets.0.push((format!("validator-{n}.secret"), format!("{phrase}\n")));
			// 64 hex digits and nothing else: the form `--node-key-file` reads.
			let node_key = ed25519::Keypair::generate();
			secrets.0.push((
				format!("validator-{n}.node-key"),
				hex::encode(node_key.secret().to_bytes()),
			));
			let aura: sp_consensus_aura::sr25519::AuthorityId = pair.public().into();
			let gran: sp_consensus_grandpa::AuthorityId = grandpa.public().into();
			validators.push(json!({
				"name": format!("validator-{n}"),
				"secret": format!("keys/validator-{n}.secret"),
				"nodeKey": format!("keys/validator-{n}.node-key"),
				"peerId": node_key.public().to_peer_id().to_base58(),
				"aura": aura.to_ss58check(),
				"grandpa": gran.to_ss58check(),
			}));
			authorities.push((aura, gran));
		}

		// Everyone who signs transactions gets fee tokens.
		let mut endowed = Vec::new();
		let mut key = |secrets: &mut Secrets, name: &str| {
			let (file, account) = secrets.account_key(name);
			endowed.push(account.clone());
			(json!({ "account": account.to_ss58check(), "secret": file }), account)
		};
		let (sudo_json, sudo) = key(&mut secrets, "sudo");
		let (bank_json, clearing_bank) = if self.clearing_bank_signers == 1 {
			key(&mut secrets, "clearing-bank")
		} else {
			let mut signatories = Vec::new();
			let mut listed = Vec::new();
			for n in 1..=self.clearing_bank_signers {
				let (j, account) = key(&mut secrets, &format!("clearing-bank-signer-{n}"));
				listed.push(j);
				signatories.push(account);
			}
			signatories.sort();
			let threshold = self.clearing_bank_threshold;
			let account = pallet_multisig::Pallet::<clearline_runtime::Runtime>::multi_account_id(
				&signatories,
				threshold,
			);
			let j = json!({
				"account": account.to_ss58check(),
				"multisig": { "threshold": threshold, "signatories": listed },
			});
			(j, account)
		};
		let mut participants = |secrets: &mut Secrets, role: &str, codes: &[String]| {
			let mut list = Vec::new();
			let mut listed = Vec::new();
			for (n, code) in codes.iter().enumerate() {
				let (mut j, account) = key(secrets, &format!("{role}-{}", n + 1));
				j["code"] = code.clone().into();
				listed.push(j);
				list.push((account, code.clone()));
			}
			(list, listed)
		};
		let (issuers, issuers_json) = participants(&mut secrets, "issuer", &self.issuers);
		let (acquirers, acquirers_json) = participants(&mut secrets, "acquirer", &self.acquirers);
		let mut feeders = Vec::new();
		let mut feeders_json = Vec::new();
		for n in 1..=self.feeders {
			let (j, account) = key(&mut secrets, &format!("feeder-{n}"));
			feeders_json.push(j);
			feeders.push(account);
		}

		let patch = network_genesis(NetworkGenesis {
			authorities,
			sudo,
			clearing_bank,
			issuers,
			acquirers,
			feeders,
			endowed,
			hkd_cny_mid: self.hkd_cny_mid,
		});
		let spec = ChainSpec::builder(wasm, None)
			.with_name(&self.name)
			.with_id(&self.id)
			.with_chain_type(ChainType::Live)
			.with_properties(properties())
			.with_genesis_config_patch(patch)
			.build();
		let plain = spec.as_json(false)?;
		let raw = spec.as_json(true)?;
		let manifest = json!({
			"name": self.name,
			"id": self.id,
			"chainSpec": "chain-spec.raw.json",
			"validators": validators,
			"sudo": sudo_json,
			"clearingBank": bank_json,
			"issuers": issuers_json,
			"acquirers": acquirers_json,
			"feeders": feeders_json,
		});
		let manifest = serde_json::to_string_pretty(&manifest).map_err(|e| e.to_string())? + "\n";

		let out = &self.out;
		fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
		let keys = out.join("keys");
		// Not recursive: a `keys` directory that appeared meanwhile is refused, not reused.
		fs::DirBuilder::new()
			.mode(0o700)
			.create(&keys)
			.map_err(|e| format!("{}: {e}", keys.display()))?;
		secrets.write(&keys)?;
		for (name, text) in
			[("chain-spec.json", plain), ("chain-spec.raw.json", raw), ("network.json", manifest)]
		{
			fs::write(out.join(name), text).map_err(|e| format!("{name}: {e}"))?;
		}
		println!(
			"wrote {} validators' keys, the network's accounts and its chain spec to {}; \
			 give each operator only its own files from {}",
			self.validators,
			out.display(),
			keys.display()
		);
		Ok(())
	}
}
