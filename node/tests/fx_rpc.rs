//! `fx_quote`, `fx_rate` and `fx_rateById` against the real dev node: the standing genesis
//! rate quotes out of the box, a feeder's signed publication takes over once finalized, and
//! refusals come back as named JSON-RPC errors.

use clearline_client::{ConnectOptions, Connection, Outcome, Signer};
use clearline_runtime::RuntimeCall;
use clearline_testkit::{wait_finalized, NodeProcess};
use pallet_fx_rate::{CurrencyCode, Pair};
use serde_json::{json, Value};
use sp_runtime::Permill;
use std::{path::Path, time::Duration};

const NODE: &str = env!("CARGO_BIN_EXE_clearline-node");

#[tokio::test(flavor = "multi_thread")]
async fn dev_node_serves_fx_quotes_and_rates() {
	let mut node = NodeProcess::start("fx", Path::new(NODE), &["--dev", "--tmp"]);
	let rpc = node.rpc(Duration::from_secs(180)).await;
	wait_finalized(&rpc, 1, Duration::from_secs(60)).await;

	// The standing genesis rate: 0.9213 with a 0.2 % spread. A 92.13 CNY price costs
	// 100.11 HKD at the bid (92.13 / 0.9203787 = 100.1001…, rounded up).
	let q: Value = rpc
		.call("fx_quote", vec![json!("HKD"), json!("CNY"), json!("9213"), json!("exact_target")])
		.await
		.unwrap();
	assert_eq!(q["sourceAmount"], "10011", "{q}");
	assert_eq!(q["targetAmount"], "9213");
	assert_eq!(q["source"], "HKD");
	assert_eq!(q["mid"], "921300000");
	assert_eq!(q["rateId"], 0);
	let rate: Value = rpc.call("fx_rate", vec![json!("HKD"), json!("CNY")]).await.unwrap();
	assert_eq!(rate["rateId"], 0);
	assert_eq!(rate["spreadPpm"], 2000);

	// The feeder (Ferdie on the dev chain) publishes a new rate; once it is final, the quote
	// uses it (the one feeder's latest rate is the median).
	let ferdie = Signer::from_uri("//Ferdie").unwrap();
	let call = RuntimeCall::FxRate(pallet_fx_rate::Call::publish_rate {
		pair: Pair::new(CurrencyCode::HKD, CurrencyCode::CNY),
		mid: 925_000_000,
		spread: Permill::zero(),
		valid_for: 10 * 60 * 1000,
	});
	let conn = Connection::open(&node.rpc_url(), ConnectOptions::default(), None).await.unwrap();
	let (block, outcome) = clearline_testkit::finalize(&conn, &ferdie, call).await;
	assert!(matches!(outcome, Outcome::Succeeded(_)), "{outcome:?}\n{}", node.log_tail(30));
	let block_hex = format!("{block:?}");
	let q: Value = rpc
		.call(
			"fx_quote",
			vec![
				json!("CNY"),
				json!("HKD"),
				json!(92_500),
				json!("exact_source"),
				json!(block_hex),
			],
		)
		.await
		.unwrap();
	assert_eq!(q["rateId"], 1, "{q}");
	assert_eq!(q["targetAmount"], "100000"); // 925.00 CNY at 0.925, no spread: 1000.00 HKD
	let by_id: Value = rpc.call("fx_rateById", vec![json!(0)]).await.unwrap();
	assert_eq!(by_id["mid"], "921300000");
	let none: Value = rpc.call("fx_rateById", vec![json!(99)]).await.unwrap();
	assert!(none.is_null());

	// Refusals are JSON-RPC errors named after the refusing state.
	let refusal = |source: &str, amount: &str| {
		let params = vec![json!(source), json!("CNY"), json!(amount), json!("exact_source")];
		let rpc = &rpc;
		async move { rpc.call::<Value>("fx_quote", params).await.unwrap_err().to_string() }
	};
	let err = refusal("USD", "100").await;
	assert!(err.contains("UnknownCurrency"), "{err}");
	let err = refusal("HKD", "0").await;
	assert!(err.contains("ZeroAmount"), "{err}");
	let err = refusal("hkd", "1").await;
	assert!(err.contains("upper-case"), "{err}");

	node.stop(Duration::from_secs(30));
}
