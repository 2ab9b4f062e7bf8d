//! A network its operators create: `clearline-node new-network` generates every key and the
//! raw chain spec; two validators, each as its own process with its own base path, keystore
//! (keys inserted with `clearline-node key insert`) and p2p identity, find each other through
//! a bootnode address and finalize. On it the 2-of-3 multisig clearing bank funds the issuer
//! (one signatory alone cannot), the generated feeder keeps the rate fresh, and the generated
//! issuer and acquirer make a payment. None of the development keys hold any role.

use clearline_client::{
	calls,
	instruction::{post_once, PostResult, SignedInstruction},
	multisig::{approval_of, Approval, MultisigAccount},
	queries, ConnectOptions, Connection, Error as ClientError, KeySource, Outcome, SenderOptions,
	Signer, TxResult, TxSender,
};
use clearline_testkit::{exited_cleanly, start_feeder, wait_finalized, wait_for, NodeProcess};
use pallet_clearing_bank::{PaymentInstruction, Scenario};
use pallet_fx_rate::{CurrencyCode, Pair, QuoteSide};
use serde_json::Value;
use std::{
	os::unix::fs::PermissionsExt,
	path::{Path, PathBuf},
	process::Command,
	sync::Arc,
	time::Duration,
};

const NODE: &str = env!("CARGO_BIN_EXE_clearline-node");
const STARTUP: Duration = Duration::from_secs(180);

fn run(args: &[&str]) -> String {
	let out = Command::new(NODE).args(args).output().expect("running clearline-node");
	assert!(
		out.status.success(),
		"clearline-node {args:?}: {}\n{}",
		String::from_utf8_lossy(&out.stdout),
		String::from_utf8_lossy(&out.stderr)
	);
	String::from_utf8_lossy(&out.stdout).into_owned()
}

fn mode(path: &Path) -> u32 {
	std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn key(net: &Path, entry: &Value) -> Signer {
	KeySource::File(net.join(entry["secret"].as_str().unwrap())).load().unwrap()
}

async fn sender(conn: &Arc<Connection>, signer: Signer) -> TxSender {
	TxSender::new(conn.clone(), signer, SenderOptions::default()).unwrap()
}

/// Sends `call` and returns its events; panics unless it finalized and succeeded.
async fn succeed(
	sender: &TxSender,
	call: clearline_runtime::RuntimeCall,
) -> Vec<clearline_runtime::RuntimeEvent> {
	match sender.send(call).await.unwrap().result {
		TxResult::Finalized { outcome: Outcome::Succeeded(events), .. } => events,
		other => panic!("{other:?}"),
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn a_generated_network_of_two_validators_settles_a_payment() {
	let dir = tempfile::tempdir().unwrap();
	let net = dir.path().join("network");
	let printed = run(&[
		"new-network",
		"--out",
		net.to_str().unwrap(),
		"--name",
		"Clearline Test",
		"--id",
		"clearline_test",
		"--validators",
		"2",
		"--clearing-bank-signers",
		"3",
		"--clearing-bank-threshold",
		"2",
	]);
	println!("{printed}");
	let manifest: Value =
		serde_json::from_str(&std::fs::read_to_string(net.join("network.json")).unwrap()).unwrap();
	assert_eq!(mode(&net.join("keys")), 0o700);
	for entry in std::fs::read_dir(net.join("keys")).unwrap() {
		let path = entry.unwrap().path();
		assert_eq!(mode(&path), 0o600, "{} is readable by others", path.display());
	}
	// Generating into a directory with keys in it is refused: keys are never overwritten.
	let again = Command::new(NODE).args(["new-network", "--out", net.to_str().unwrap()]).output();
	assert!(!again.unwrap().status.success());

	// Each validator: its keys inserted into its own keystore, then started.
	let spec = net.join("chain-spec.raw.json");
	let spec = spec.to_str().unwrap();
	let mut validators: Vec<NodeProcess> = Vec::new();
	let mut bootnode: Option<String> = None;
	for (n, v) in manifest["validators"].as_array().unwrap().iter().enumerate() {
		let base: PathBuf = dir.path().join(format!("validator-{}", n + 1));
		let secret = net.join(v["secret"].as_str().unwrap());
		for (scheme, key_type) in [("sr25519", "aura"), ("ed25519", "gran")] {
			run(&[
				"key",
				"insert",
				"--base-path",
				base.to_str().unwrap(),
				"--chain",
				spec,
				"--scheme",
				scheme,
				"--key-type",
				key_type,
				"--suri",
				secret.to_str().unwrap(),
			]);
		}
		let node_key = net.join(v["nodeKey"].as_str().unwrap());
		let mut args = vec![
			"--chain",
			spec,
			"--validator",
			"--base-path",
			base.to_str().unwrap(),
			"--node-key-file",
			node_key.to_str().unwrap(),
			"--no-mdns",
			"--listen-addr",
			"/ip4/127.0.0.1/tcp/{p2p_port}",
		];
		let boot = bootnode.clone();
		if let Some(b) = &boot {
			args.extend(["--bootnodes", b.as_str()]);
		}
		let mut node = NodeProcess::start(&format!("generated-{}", n + 1), Path::new(NODE), &args);
		let rpc = node.rpc(STARTUP).await;
		assert_eq!(
			rpc.local_peer_id().await.unwrap(),
			v["peerId"].as_str().unwrap(),
			"the node runs with its generated p2p identity"
		);
		if bootnode.is_none() {
			bootnode = Some(format!(
				"/ip4/127.0.0.1/tcp/{}/p2p/{}",
				node.p2p_port,
				v["peerId"].as_str().unwrap()
			));
		}
		validators.push(node);
	}
	let rpc = validators[0].rpc(STARTUP).await;
	// Both must vote: GRANDPA finalizes with more than two thirds of two.
	wait_finalized(&rpc, 3, STARTUP).await;
	let url = validators[1].rpc_url();
	let conn = Connection::open(&url, ConnectOptions::default(), None).await.unwrap();

	// The clearing bank is the 2-of-3 multisig account of the generated signatories.
	let bank = &manifest["clearingBank"];
	let signatories: Vec<Signer> =
		bank["multisig"]["signatories"].as_array().unwrap().iter().map(|e| key(&net, e)).collect();
	let list: Vec<String> = signatories.iter().map(|s| s.account_id().to_string()).collect();
	let multisig = MultisigAccount::parse(&format!("2:{}", list.join(","))).unwrap();
	assert_eq!(multisig.account().to_string(), bank["account"].as_str().unwrap());

	let issuer = key(&net, &manifest["issuers"][0]);
	let acquirer = key(&net, &manifest["acquirers"][0]);
	let fund = calls::fund(issuer.account_id(), CurrencyCode::HKD, 50_000_00, "RTGS-0001").unwrap();
	let hkd = |conn: Arc<Connection>, who| async move {
		queries::participant(&conn, &who, None)
			.await
			.unwrap()
			.expect("registered at genesis")
			.accounts
			.iter()
			.find(|a| a.currency == CurrencyCode::HKD)
			.map_or(0, |a| a.balance.0)
	};
	assert_eq!(hkd(conn.clone(), issuer.account_id()).await, 0);

	// One signatory alone: the pool does not even take its own `fund` …
	let first = sender(&conn, signatories[0].clone()).await;
	match first.send(fund.clone()).await {
		Err(ClientError::Rejected { reason, .. }) => {
			assert!(reason.contains("Invalid signing address"), "{reason}")
		}
		other => panic!("a signatory alone funded: {other:?}"),
	}
	// … and its approval executes nothing.
	let approval = multisig.approval(&conn, &first.account(), fund.clone()).await.unwrap();
	let events = succeed(&first, approval).await;
	assert_eq!(approval_of(&events), Some(Approval::Waiting));
	assert_eq!(hkd(conn.clone(), issuer.account_id()).await, 0);
	// The second signatory's approval executes it as the clearing bank.
	let second = sender(&conn, signatories[2].clone()).await;
	let approval = multisig.approval(&conn, &second.account(), fund.clone()).await.unwrap();
	let events = succeed(&second, approval).await;
	assert_eq!(approval_of(&events), Some(Approval::Executed(None)));
	assert_eq!(hkd(conn.clone(), issuer.account_id()).await, 50_000_00);

	// The generated feeder keeps HKD/CNY fresh.
	let feeder_secret = net.join(manifest["feeders"][0]["secret"].as_str().unwrap());
	let mut feeder = start_feeder(
		"generated-feeder",
		Path::new(NODE),
		&url,
		feeder_secret.to_str().unwrap(),
		921_400_000,
		&["--poll", "1s"],
	);
	let pair = Pair::new(CurrencyCode::HKD, CurrencyCode::CNY);
	let feeder_account = key(&net, &manifest["feeders"][0]).account_id();
	wait_for(Duration::from_secs(60), "the feeder's rate", || async {
		let rate = queries::rate(&conn, pair, None).await.ok()?;
		(rate.feeder.as_ref() == Some(&feeder_account)).then_some(())
	})
	.await;

	// The issuer signs an instruction at the chain's quote; the acquirer posts it.
	let quote = queries::quote(
		&conn,
		CurrencyCode::HKD,
		CurrencyCode::CNY,
		92_13,
		QuoteSide::ExactTarget,
		None,
	)
	.await
	.unwrap();
	let id = |s: &str| calls::order_id("id", s).unwrap();
	let instruction = PaymentInstruction {
		issuer: issuer.account_id(),
		acquirer: acquirer.account_id(),
		acquirer_order_id: id("ACQ-NET-1"),
		issuer_order_id: id("ISS-NET-1"),
		aggregator_order_id: id("AGG-NET-1"),
		merchant_id: id("M-1"),
		scenario: Scenario::CustomerPresented,
		debit_currency: CurrencyCode::HKD,
		debit_amount: quote.source_amount.0,
		credit_currency: CurrencyCode::CNY,
		credit_amount: 92_13,
		rate_id: quote.rate_id,
		expires_at: clearline_client::instruction::expires_in(Duration::from_secs(120)),
	};
	let signed = SignedInstruction::sign(&issuer, &conn.chain_context(), &instruction);
	let poster = sender(&conn, acquirer.clone()).await;
	match post_once(&poster, &signed).await.unwrap() {
		PostResult::Sent(report) => assert!(
			matches!(report.result, TxResult::Finalized { outcome: Outcome::Succeeded(_), .. }),
			"{:?}",
			report.result
		),
		PostResult::AlreadyPosted(p) => panic!("posted before it was sent: {p:?}"),
	}
	let (_, head) = conn.finalized().await.unwrap();
	let posting = queries::posting(&conn, &acquirer.account_id(), "ACQ-NET-1", Some(head))
		.await
		.unwrap()
		.expect("the payment is posted and final");
	assert_eq!((posting.credit_amount.0, posting.rate_id), (92_13, quote.rate_id));
	assert_eq!(
		hkd(conn.clone(), issuer.account_id()).await,
		50_000_00 - quote.source_amount.0 as i128
	);

	feeder.stop(Duration::from_secs(10));
	for node in &mut validators {
		let status = node.stop(Duration::from_secs(30));
		assert!(exited_cleanly(status), "{} did not stop cleanly: {status}", node.name());
	}
}
