//! Every `clearline` command against the real dev node, as the clearing bank (Charlie), the
//! sudo key (Alice), the FX feeder (Ferdie), the issuer (Bob) and the acquirer (Dave) use it.

use clearline_client::{calls, tx::prepare, ConnectOptions, Connection, Signer};
use clearline_testkit::{wait_finalized, NodeProcess};
use serde_json::{json, Value};
use std::{path::PathBuf, process::Command, time::Duration};

const CLI: &str = env!("CARGO_BIN_EXE_clearline");

struct Run {
	code: i32,
	stdout: String,
	stderr: String,
}

impl Run {
	fn json(&self) -> Value {
		serde_json::from_str(&self.stdout)
			.unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", self.stdout, self.stderr))
	}
}

fn clearline(url: &str, args: &[&str]) -> Run {
	let output = Command::new(CLI)
		.args(["--url", url, "--quiet"])
		.args(args)
		.env_remove("CLEARLINE_KEY_FILE")
		.output()
		.expect("running clearline");
	Run {
		code: output.status.code().unwrap_or(-1),
		stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
		stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
	}
}

/// Runs a command that must succeed and returns what it printed.
fn ok(url: &str, args: &[&str]) -> Run {
	let run = clearline(url, args);
	assert_eq!(run.code, 0, "clearline {args:?}\n{}\n{}", run.stdout, run.stderr);
	run
}

/// Runs a transaction command with `--json` that must finalize successfully; its events.
fn tx(url: &str, key: &str, args: &[&str]) -> Value {
	let mut all = vec!["--json", "--key", key];
	all.extend_from_slice(args);
	let value = ok(url, &all).json();
	assert_eq!(value["result"], "finalized", "{value}");
	value
}

fn event_names(report: &Value) -> Vec<String> {
	report["events"]
		.as_array()
		.unwrap()
		.iter()
		.map(|e| e["event"].as_str().unwrap().to_string())
		.collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_command_works_against_the_dev_node() {
	let node_binary = PathBuf::from(CLI).with_file_name("clearline-node");
	let mut node = NodeProcess::start("cli", &node_binary, &["--dev", "--tmp"]);
	let rpc = node.rpc(Duration::from_secs(180)).await;
	wait_finalized(&rpc, 1, Duration::from_secs(60)).await;
	let url = &node.rpc_url();

	let status = ok(url, &["status", "--json"]).json();
	assert_eq!(status["runtime"], "clearline");
	assert!(status["finalizedBlock"].as_u64().unwrap() >= 1);

	// The clearing bank's set-up of a new issuer.
	tx(url, "//Alice", &["set-clearing-bank", "//Charlie"]);
	let cb = "//Charlie";
	let r = tx(
		url,
		cb,
		&[
			"participant",
			"register",
			"//NewIssuer",
			"--role",
			"issuer",
			"--code",
			"NEWISS",
			"--name",
			"New Issuer",
		],
	);
	assert_eq!(event_names(&r), ["ClearingBank.ParticipantRegistered"]);
	tx(url, cb, &["limit", "//NewIssuer", "HKD", "5000"]);
	tx(url, cb, &["fund", "//NewIssuer", "HKD", "100000", "--reference", "FUND-1"]);
	tx(url, cb, &["withdraw", "//NewIssuer", "HKD", "100", "--reference", "WD-1"]);
	tx(url, cb, &["participant", "suspend", "//NewIssuer"]);
	tx(url, cb, &["participant", "reinstate", "//NewIssuer"]);
	// A participant with money cannot be deregistered; one emptied can, and is gone.
	tx(
		url,
		cb,
		&[
			"participant",
			"register",
			"//Gone",
			"--role",
			"acquirer",
			"--code",
			"GONE",
			"--name",
			"Gone",
		],
	);
	tx(url, cb, &["fund", "//Gone", "CNY", "500", "--reference", "FUND-GONE"]);
	let held = clearline(url, &["--key", cb, "participant", "deregister", "//Gone"]);
	assert_eq!(held.code, 1, "{}", held.stderr);
	assert!(held.stderr.contains("ParticipantHoldsBalance"), "{}", held.stderr);
	tx(url, cb, &["withdraw", "//Gone", "CNY", "500", "--reference", "WD-GONE"]);
	let gone = tx(url, cb, &["participant", "deregister", "//Gone"]);
	assert_eq!(event_names(&gone), ["ClearingBank.ParticipantDeregistered"]);
	assert_eq!(clearline(url, &["participant", "show", "//Gone"]).code, 1);
	let p = ok(url, &["participant", "show", "//NewIssuer", "--json"]).json();
	assert_eq!((p["code"].as_str(), p["status"].as_str()), (Some("NEWISS"), Some("active")));
	assert_eq!(p["accounts"][0]["balance"], "99900");
	assert_eq!(p["accounts"][0]["debitLimit"], "5000");
	let text = ok(url, &["participant", "show", "//NewIssuer"]).stdout;
	assert!(text.contains("issuer NEWISS (New Issuer, active)"), "{text}");

	// FX administration and a feeder's publication.
	tx(url, cb, &["fx", "currency", "USD", "--numeric", "840", "--minor-units", "2"]);
	let pair = ["fx", "pair", "USD/CNY", "--max-spread-ppm", "10000", "--max-deviation-ppm"];
	tx(url, cb, &[&pair[..], &["20000", "--max-validity-ms", "86400000"]].concat());
	tx(url, cb, &["fx", "add-feeder", "USD/CNY", "//Ferdie"]);
	tx(url, cb, &["fx", "enable", "USD/CNY"]);
	let publish = |mid: &str| -> Vec<String> {
		["--key", "//Ferdie", "fx", "publish", "USD/CNY", "--mid", mid, "--spread-ppm", "2000"]
			.iter()
			.chain(&["--valid-for-ms", "3600000"])
			.map(|s| s.to_string())
			.collect()
	};
	let refs = |v: &[String]| -> Vec<String> { v.to_vec() };
	let run = |args: Vec<String>| {
		let args: Vec<&str> = args.iter().map(String::as_str).collect();
		clearline(url, &args)
	};
	// A new pair's first rate is the clearing bank's, not a feeder's.
	let first = run(refs(&publish("7100000000")));
	assert_eq!(first.code, 1, "{}", first.stderr);
	assert!(first.stderr.contains("NoReferenceRate"), "{}", first.stderr);
	let forced = ["fx", "force-publish", "USD/CNY", "--mid", "7100000000", "--spread-ppm", "2000"];
	tx(url, cb, &[&forced[..], &["--valid-for-ms", "3600000"]].concat());
	let admin_rate = ok(url, &["fx", "rate", "USD/CNY", "--json"]).json();
	assert_eq!(
		(admin_rate["mid"].as_str(), admin_rate["feeder"].is_null()),
		(Some("7100000000"), true)
	);
	// The feeder within the band moves the rate; beyond it, it is refused.
	let far = run(refs(&publish("8000000000")));
	assert_eq!(far.code, 1, "{}", far.stderr);
	assert!(far.stderr.contains("RateOutOfBand"), "{}", far.stderr);
	let mut near = vec!["--json".to_string()];
	near.extend(publish("7110000000"));
	let near = run(near);
	assert_eq!(near.code, 0, "{}", near.stderr);
	let rate = ok(url, &["fx", "rate", "USD/CNY", "--json"]).json();
	assert_eq!(rate["mid"], "7110000000");
	let by_id = ok(url, &["fx", "rate", "--id", &rate["rateId"].to_string(), "--json"]).json();
	assert_eq!(by_id, rate);
	let quote = ok(url, &["quote", "10000", "USD", "CNY", "--json"]).json();
	assert_eq!(quote["rateId"], rate["rateId"]);
	// The feeder process: its source moved 0.14 %, beyond its 0.1 % threshold, so it publishes;
	// then it stops cleanly on SIGTERM.
	let mut feeder = Command::new(CLI)
		.args(["--url", url, "--key", "//Ferdie", "fx", "feed", "USD/CNY", "--mid", "7120000000"])
		.args(["--min-change-ppm", "1000", "--poll", "1s"])
		.stdout(std::process::Stdio::piped())
		.spawn()
		.unwrap();
	// Its lines as they come: the chain can show the rate before the feeder has followed its
	// transaction to finality and said so, and a SIGTERM then would come before the line.
	let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
	let stdout = feeder.stdout.take().unwrap();
	let reader = std::thread::spawn(move || {
		use std::io::BufRead;
		for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
			let _ = lines_tx.send(line);
		}
	});
	let mut log = String::new();
	clearline_testkit::wait_for(Duration::from_secs(60), "the feeder's publication", || {
		log.extend(lines.try_iter().map(|l| l + "\n"));
		let published = log.contains("published rate");
		async move {
			let rate = clearline(url, &["fx", "rate", "USD/CNY", "--json"]).json();
			(published && rate["mid"] == "7120000000").then_some(())
		}
	})
	.await;
	unsafe { libc::kill(feeder.id() as i32, libc::SIGTERM) };
	let status = feeder.wait().unwrap();
	reader.join().unwrap();
	log.extend(lines.try_iter().map(|l| l + "\n"));
	assert!(status.success(), "{status:?}\n{log}");
	assert!(log.contains("published rate") && log.contains("stopped (SIGTERM)"), "{log}");
	assert!(ok(url, &["quote", "10000", "USD", "CNY"]).stdout.starts_with("USD 10000 -> CNY"));
	tx(url, cb, &["fx", "disable", "USD/CNY"]);
	let disabled = clearline(url, &["quote", "10000", "USD", "CNY"]);
	assert_eq!(disabled.code, 1, "{}", disabled.stderr);
	assert!(disabled.stderr.contains("PairDisabled"), "{}", disabled.stderr);
	tx(url, cb, &["fx", "remove-feeder", "USD/CNY", "//Ferdie"]);

	// A payment: the issuer signs, the acquirer posts (once), refunds, looks it up.
	let signed = ok(
		url,
		&[
			"--key",
			"//Bob",
			"payment",
			"sign",
			"--acquirer",
			"//Dave",
			"--order",
			"ACQ-CLI-1",
			"--merchant",
			"M-CLI",
			"--credit-amount",
			"9213",
		],
	)
	.stdout;
	let dir = tempfile::tempdir().unwrap();
	let signed_path = dir.path().join("signed.json");
	std::fs::write(&signed_path, &signed).unwrap();
	let signed_path = signed_path.to_str().unwrap();
	let posted = tx(url, "//Dave", &["payment", "post", signed_path]);
	assert_eq!(event_names(&posted), ["ClearingBank.PaymentPosted"]);
	assert_eq!(posted["posting"]["acquirerOrderId"], "ACQ-CLI-1");
	let again = ok(url, &["--json", "--key", "//Dave", "payment", "post", signed_path]).json();
	assert_eq!(again["result"], "alreadyPosted");
	let shown = ok(url, &["payment", "show", "ACQ-CLI-1", "--party", "//Dave", "--json"]).json();
	assert_eq!(shown["postingId"], posted["posting"]["postingId"]);
	let by_issuer_order =
		ok(url, &["payment", "show", "ISS-ACQ-CLI-1", "--party", "//Bob", "--json"]).json();
	assert_eq!(by_issuer_order, shown);
	let id = shown["postingId"].to_string();
	assert_eq!(ok(url, &["payment", "show", "--id", &id, "--json"]).json(), shown);
	// The issuer cannot void a posted order; the CLI names the posting. An order id never
	// posted is voided, for good.
	let refused = clearline(url, &["--key", "//Bob", "payment", "void", "ISS-ACQ-CLI-1"]);
	assert_eq!(refused.code, 1, "{}", refused.stderr);
	assert!(refused.stderr.contains("AlreadyPosted"), "{}", refused.stderr);
	assert!(
		refused.stderr.contains(&format!("posted already as posting {id}")),
		"{}",
		refused.stderr
	);
	let voided = tx(url, "//Bob", &["payment", "void", "ISS-NEVER-1"]);
	assert_eq!(event_names(&voided), ["ClearingBank.InstructionVoided"]);
	let void = ok(url, &["payment", "show", "ISS-NEVER-1", "--party", "//Bob", "--json"]).json();
	assert_eq!(
		(void["status"].as_str(), void["issuerOrderId"].as_str()),
		(Some("voided"), Some("ISS-NEVER-1"))
	);
	assert!(ok(url, &["payment", "show", "ISS-NEVER-1", "--party", "//Bob"])
		.stdout
		.contains("can never be posted"));
	let refund = ["payment", "refund", "ACQ-CLI-1", "--refund-id", "R-1", "--amount", "1000"];
	assert_eq!(event_names(&tx(url, "//Dave", &refund)), ["ClearingBank.PaymentRefunded"]);
	let too_much = ["payment", "refund", "ACQ-CLI-1", "--refund-id", "R-2", "--amount", "99999"];
	let refused = clearline(url, &[&["--key", "//Dave"][..], &too_much].concat());
	assert_eq!(refused.code, 1);
	assert!(refused.stderr.starts_with("error: ClearingBank(RefundExceedsPosting)"));
	assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);

	// The cycle closes and settles; statements as JSON and as camt.053.
	let open = ok(url, &["cycle", "show", "--json"]).json();
	assert_eq!((open["cycle"].as_u64(), open["status"].as_str()), (Some(1), Some("open")));
	let closed = tx(url, cb, &["cycle", "close"]);
	assert_eq!(event_names(&closed), ["ClearingBank.CycleClosed"]);
	tx(url, cb, &["cycle", "settle", "1", "--reference", "RTGS-0001"]);
	let settled = ok(url, &["cycle", "show", "1", "--json"]).json();
	assert_eq!(settled["status"], "settled");
	assert_eq!(settled["settlementRef"], "RTGS-0001");
	let statement = ok(url, &["statement", "1", "//Dave"]).json();
	let amounts: Vec<&str> = statement["entries"]
		.as_array()
		.unwrap()
		.iter()
		.map(|e| e["amount"].as_str().unwrap())
		.collect();
	assert_eq!(amounts, ["9213", "-1000"]);
	let xml = ok(url, &["statement", "1", "//Dave", "--format", "camt053"]).stdout;
	for part in [
		"<BkToCstmrStmt>",
		"<MsgId>CL-1-DEVACQCN</MsgId>",
		"<Amt Ccy=\"CNY\">92.13</Amt>",
		"<Amt Ccy=\"CNY\">10.00</Amt>",
		"<CdtDbtInd>DBIT</CdtDbtInd>",
		"<EndToEndId>ACQ-CLI-1</EndToEndId>",
		"<Amt Ccy=\"CNY\">82.13</Amt>",
	] {
		assert!(xml.contains(part), "{part} missing from\n{xml}");
	}

	// A batch: two new instructions, one posted before and one whose amount was altered after
	// signing. Each comes to its own end; the command fails because one was refused.
	let sign = |order: &str| -> Value {
		let args = ["--key", "//Bob", "payment", "sign", "--acquirer", "//Dave", "--order", order];
		let more = ["--merchant", "M-CLI", "--credit-amount", "500"];
		serde_json::from_str(&ok(url, &[&args[..], &more].concat()).stdout).unwrap()
	};
	let mut altered = sign("ACQ-CLI-B3");
	altered["debitAmount"] = json!("1");
	let first: Value = serde_json::from_str(&signed).unwrap();
	let batch = json!([sign("ACQ-CLI-B1"), first, sign("ACQ-CLI-B2"), altered]);
	let batch_path = dir.path().join("batch.json");
	std::fs::write(&batch_path, batch.to_string()).unwrap();
	let batch_path = batch_path.to_str().unwrap();
	let posted = clearline(url, &["--json", "--key", "//Dave", "payment", "post", batch_path]);
	assert_eq!(posted.code, 1, "{}", posted.stderr);
	assert!(posted.stderr.contains("1 of 4 instructions refused"), "{}", posted.stderr);
	let results = |run: &Run| -> Vec<(String, String)> {
		run.json()["items"]
			.as_array()
			.unwrap()
			.iter()
			.map(|i| {
				let detail = i.get("error").and_then(Value::as_str).unwrap_or_default();
				(i["result"].as_str().unwrap().to_string(), detail.to_string())
			})
			.collect()
	};
	let expected = |first: &str| {
		[
			(first, ""),
			("alreadyPosted", ""),
			(first, ""),
			("refused", "ClearingBank(BadIssuerSignature)"),
		]
		.map(|(r, e)| (r.to_string(), e.to_string()))
		.to_vec()
	};
	assert_eq!(results(&posted), expected("posted"));
	assert_eq!(posted.json()["transactions"].as_array().unwrap().len(), 1);
	let again = clearline(url, &["--json", "--key", "//Dave", "payment", "post", batch_path]);
	assert_eq!(results(&again), expected("alreadyPosted"));

	// A multisig clearing bank: two of its three signatories fund an account, one alone
	// does not.
	let signers = "2://Sig1,//Sig2,//Sig3";
	for s in ["//Sig1", "//Sig2", "//Sig3"] {
		tx(url, "//Alice", &["transfer", s, "1000000000000"]);
	}
	let multisig = clearline_client::multisig::MultisigAccount::parse(signers).unwrap();
	tx(url, "//Alice", &["set-clearing-bank", &multisig.account().to_string()]);
	let bob_hkd = || {
		ok(url, &["participant", "show", "//Bob", "--json"]).json()["accounts"][0]["balance"]
			.as_str()
			.unwrap()
			.parse::<i128>()
			.unwrap()
	};
	let before_fund = bob_hkd();
	let fund = ["--multisig", signers, "fund", "//Bob", "HKD", "700", "--reference", "MS-1"];
	let first = tx(url, "//Sig1", &fund);
	assert!(event_names(&first).contains(&"Multisig.NewMultisig".to_string()), "{first}");
	assert_eq!(bob_hkd(), before_fund, "one signature funds nothing");
	let alone =
		clearline(url, &["--key", "//Sig1", "fund", "//Bob", "HKD", "700", "--reference", "MS-2"]);
	assert_eq!(alone.code, 1);
	assert!(alone.stderr.contains("Invalid signing address"), "{}", alone.stderr);
	let second = tx(url, "//Sig3", &fund);
	assert!(event_names(&second).contains(&"ClearingBank.AccountFunded".to_string()), "{second}");
	assert_eq!(bob_hkd(), before_fund + 700);
	tx(url, "//Alice", &["set-clearing-bank", "//Charlie"]);

	// Native transfers and balances.
	let before = ok(url, &["balance", "//Eve", "--json"]).json()["free"]
		.as_str()
		.unwrap()
		.parse::<u128>()
		.unwrap();
	tx(url, "//Alice", &["transfer", "//Eve", "1000"]);
	let after = ok(url, &["balance", "//Eve", "--json"]).json()["free"]
		.as_str()
		.unwrap()
		.parse::<u128>()
		.unwrap();
	assert_eq!(after - before, 1000);

	// `watch` replays finalized events from a block and stops where told.
	let last = ok(url, &["status", "--json"]).json()["finalizedBlock"].to_string();
	let watched =
		ok(url, &["watch", "--json", "--from", "1", "--to", &last, "--participant", "//Dave"]);
	let events: Vec<Value> =
		watched.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
	let names: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
	// The second `payment post` found the posting and sent nothing; the batch sent again
	// only its refused instruction.
	assert_eq!(
		names,
		[
			"ClearingBank.PaymentPosted",
			"ClearingBank.PaymentRefunded",
			"ClearingBank.CycleClosed",
			"ClearingBank.CycleSettled",
			"ClearingBank.PaymentPosted",
			"ClearingBank.PaymentPosted",
			"ClearingBank.PaymentRefused",
			"ClearingBank.PaymentRefused"
		]
	);
	let text = ok(url, &["watch", "--from", "1", "--to", &last]).stdout;
	assert!(
		text.contains("ClearingBank.PaymentPosted") && text.contains("FxRate.RatePublished"),
		"{text}"
	);

	// `tx resolve` finds a transaction from its stored form alone.
	let conn = Connection::open(url, ConnectOptions::default(), None).await.unwrap();
	let alice = Signer::from_uri("//Alice").unwrap();
	let nonce = rpc.account_next_index(&alice.account_id().to_string()).await.unwrap();
	let call = calls::transfer(Signer::from_uri("//Eve").unwrap().account_id(), 5);
	let pending =
		prepare(&alice, &conn.chain_context(), call, nonce, 8, conn.finalized().await.unwrap())
			.unwrap();
	rpc.submit(&pending.encoded).await.unwrap();
	let pending_path = dir.path().join("pending.json");
	std::fs::write(&pending_path, serde_json::to_string(&pending).unwrap()).unwrap();
	let resolved = ok(url, &["tx", "resolve", pending_path.to_str().unwrap(), "--json"]).json();
	assert_eq!(resolved["result"], "finalized");
	assert_eq!(event_names(&resolved), ["Balances.Transfer"]);

	// Errors: one line, the reason named, and the documented exit code.
	let not_allowed = clearline(url, &["--key", "//Eve", "transfer", "//Ferdie", "1"]);
	assert_eq!(not_allowed.code, 1);
	assert!(not_allowed.stderr.contains("Invalid signing address"), "{}", not_allowed.stderr);
	let bad_input =
		clearline(url, &["--key", "//Charlie", "fund", "//Bob", "HKD", "1.5", "--reference", "X"]);
	assert_eq!(bad_input.code, 2);
	assert!(bad_input.stderr.contains("invalid amount"), "{}", bad_input.stderr);
	let no_key = clearline(url, &["cycle", "close"]);
	assert_eq!(no_key.code, 2);
	let nobody = clearline("ws://127.0.0.1:1", &["status"]);
	assert_eq!(nobody.code, 5, "{}", nobody.stderr);
	let missing = clearline(url, &["payment", "show", "NO-SUCH", "--party", "//Dave"]);
	assert_eq!(missing.code, 1);
	for run in [&not_allowed, &bad_input, &no_key, &nobody, &missing] {
		assert_eq!(run.stderr.lines().count(), 1, "{}", run.stderr);
		assert!(run.stderr.starts_with("error: "));
	}
	drop(node);
}
