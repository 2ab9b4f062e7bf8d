//! The clearing-bank pallet through the real dev node: a payment signed by the development
//! issuer and posted by the development acquirer is final and visible through `clearing_*`;
//! the same instruction again posts nothing; a refund and a cycle close follow; and an account
//! the network does not know cannot get a transaction into the pool.

use clearline_client::{
	extrinsic::Mortality, ChainContext, ConnectOptions, Connection, NodeRpc, Outcome, PoolRefusal,
	Signer,
};
use clearline_runtime::{BalancesCall, Runtime, RuntimeCall, RuntimeEvent};
use clearline_testkit::{wait_finalized, NodeProcess};
use pallet_clearing_bank::{PaymentInstruction, Scenario};
use pallet_fx_rate::CurrencyCode;
use serde_json::{json, Value};
use sp_core::H256;
use std::{path::Path, sync::Arc, time::Duration};

const NODE: &str = env!("CARGO_BIN_EXE_clearline-node");

fn id(s: &str) -> pallet_clearing_bank::OrderId {
	s.as_bytes().to_vec().try_into().unwrap()
}

/// Signs `call` as `signer`, sends it as users do, waits for its finalized block and returns
/// the block with the call's events, or the named error it failed with.
async fn finalize(
	conn: &Arc<Connection>,
	signer: &Signer,
	call: RuntimeCall,
) -> (H256, Result<Vec<RuntimeEvent>, String>) {
	let (block, outcome) = clearline_testkit::finalize(conn, signer, call).await;
	let outcome = match outcome {
		Outcome::Succeeded(events) => Ok(events),
		Outcome::Failed { error, .. } => Err(error),
	};
	(block, outcome)
}

fn clearing_events(events: Vec<RuntimeEvent>) -> Vec<pallet_clearing_bank::Event<Runtime>> {
	events
		.into_iter()
		.filter_map(|e| match e {
			RuntimeEvent::ClearingBank(e) => Some(e),
			_ => None,
		})
		.collect()
}

async fn query(rpc: &NodeRpc, method: &str, params: Vec<Value>) -> Value {
	rpc.call(method, params).await.unwrap_or_else(|e| panic!("{method}: {e}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_payment_posts_through_the_dev_node_once_and_is_queryable() {
	let mut node = NodeProcess::start("clearing", Path::new(NODE), &["--dev", "--tmp"]);
	let rpc = node.rpc(Duration::from_secs(180)).await;
	wait_finalized(&rpc, 1, Duration::from_secs(60)).await;
	let conn = Connection::open(&node.rpc_url(), ConnectOptions::default(), None).await.unwrap();
	let issuer = Signer::from_uri("//Bob").unwrap();
	let acquirer = Signer::from_uri("//Dave").unwrap();
	let bank = Signer::from_uri("//Charlie").unwrap();
	let (bob, dave) = (issuer.account_id().to_string(), acquirer.account_id().to_string());

	// The merchant's price is CNY 92.13; the issuer takes the quote from the chain.
	let quote = query(
		&rpc,
		"fx_quote",
		vec![json!("HKD"), json!("CNY"), json!("9213"), json!("exact_target")],
	)
	.await;
	let hkd: u128 = quote["sourceAmount"].as_str().unwrap().parse().unwrap();
	let instruction = PaymentInstruction {
		issuer: issuer.account_id(),
		acquirer: acquirer.account_id(),
		acquirer_order_id: id("ACQ-20261122-0001"),
		issuer_order_id: id("ISS-20261122-0001"),
		aggregator_order_id: id("AGG-77"),
		merchant_id: id("M-SHENZHEN-001"),
		scenario: Scenario::CustomerPresented,
		debit_currency: CurrencyCode::HKD,
		debit_amount: hkd,
		credit_currency: CurrencyCode::CNY,
		credit_amount: 9213,
		rate_id: quote["rateId"].as_u64().unwrap(),
		expires_at: clearline_client::instruction::expires_in(std::time::Duration::from_secs(600)),
	};
	let ctx = ChainContext::fetch(&rpc).await.unwrap();
	let issuer_signature = issuer.sign_instruction(&ctx, &instruction);
	let post = RuntimeCall::ClearingBank(pallet_clearing_bank::Call::post_payment {
		instruction: instruction.clone(),
		issuer_signature: issuer_signature.clone(),
	});
	let (block, outcome) = finalize(&conn, &acquirer, post.clone()).await;
	let events = clearing_events(outcome.expect("the posting succeeds"));
	assert!(
		matches!(&events[..], [pallet_clearing_bank::Event::PaymentPosted { posting_id: 0, debit_amount, .. }] if *debit_amount == hkd),
		"{events:?}"
	);

	// In the finalized block, found by either party's own order id.
	let at = json!(format!("{block:?}"));
	let by_acquirer =
		query(&rpc, "clearing_posting", vec![json!(dave), json!("ACQ-20261122-0001"), at.clone()])
			.await;
	assert_eq!(by_acquirer["status"], "posted", "{by_acquirer}");
	assert_eq!(by_acquirer["creditAmount"], "9213");
	assert_eq!(by_acquirer["debitAmount"], hkd.to_string());
	assert_eq!(by_acquirer["debitCurrency"], "HKD");
	assert_eq!(by_acquirer["scenario"], "customer_presented");
	assert_eq!(by_acquirer["cycleStatus"], "open");
	let by_issuer =
		query(&rpc, "clearing_posting", vec![json!(bob), json!("ISS-20261122-0001"), at.clone()])
			.await;
	assert_eq!(by_issuer, by_acquirer);
	let participant = query(&rpc, "clearing_participant", vec![json!(bob), at.clone()]).await;
	assert_eq!(participant["code"], "DEVISSHK");
	let hkd_account = &participant["accounts"][0];
	assert_eq!(hkd_account["currency"], "HKD");
	assert_eq!(hkd_account["balance"], (100_000_000 - hkd).to_string());

	// The same instruction again (a retry after an unknown outcome) posts nothing.
	let (again, outcome) = finalize(&conn, &acquirer, post).await;
	let events = clearing_events(outcome.expect("a retry succeeds"));
	assert!(
		matches!(
			&events[..],
			[pallet_clearing_bank::Event::PaymentAlreadyPosted { posting_id: 0, .. }]
		),
		"{events:?}"
	);
	let second =
		query(&rpc, "clearing_postingById", vec![json!(1), json!(format!("{again:?}"))]).await;
	assert!(second.is_null(), "posted twice: {second}");
	let participant =
		query(&rpc, "clearing_participant", vec![json!(bob), json!(format!("{again:?}"))]).await;
	assert_eq!(participant["accounts"][0]["balance"], (100_000_000 - hkd).to_string());

	// A different instruction under the same order id fails with the pallet's named error.
	let mut conflicting = instruction.clone();
	conflicting.merchant_id = id("M-OTHER");
	let conflict = RuntimeCall::ClearingBank(pallet_clearing_bank::Call::post_payment {
		issuer_signature: issuer.sign_instruction(&ctx, &conflicting),
		instruction: conflicting,
	});
	let (_, outcome) = finalize(&conn, &acquirer, conflict).await;
	assert_eq!(outcome.unwrap_err(), "ClearingBank(OrderIdConflict)");

	// A partial refund, then the clearing bank closes the cycle.
	let refund = RuntimeCall::ClearingBank(pallet_clearing_bank::Call::refund {
		acquirer_order_id: id("ACQ-20261122-0001"),
		refund_id: id("RF-1"),
		credit_amount: 1000,
	});
	finalize(&conn, &acquirer, refund).await.1.expect("the refund succeeds");
	let close = RuntimeCall::ClearingBank(pallet_clearing_bank::Call::close_cycle {});
	let (closed_at, outcome) = finalize(&conn, &bank, close).await;
	outcome.expect("the clearing bank closes the cycle");
	let at = json!(format!("{closed_at:?}"));
	let cycle = query(&rpc, "clearing_cycle", vec![json!(1), at.clone()]).await;
	assert_eq!(cycle["status"], "closed", "{cycle}");
	assert_eq!(cycle["entries"], 2);
	let statement =
		query(&rpc, "clearing_statement", vec![json!(1), json!(bob), json!(0), json!(10), at])
			.await;
	assert_eq!(statement["entriesTotal"], 2, "{statement}");
	assert_eq!(statement["entries"][0]["kind"], "payment");
	assert_eq!(statement["entries"][0]["amount"], format!("-{hkd}"));
	assert_eq!(statement["entries"][1]["kind"], "refund");
	assert_eq!(statement["digest"].as_str().unwrap().len(), 66);

	// Eve is endowed with fee tokens but is no participant: refused at the pool.
	let eve = Signer::from_uri("//Eve").unwrap();
	let ctx = ChainContext::fetch(&rpc).await.unwrap();
	let transfer = RuntimeCall::Balances(BalancesCall::transfer_keep_alive {
		dest: issuer.account_id().into(),
		value: 1,
	});
	let xt = eve.sign(&ctx, transfer, 0, Mortality::Immortal, 0);
	let err = rpc
		.submit(&codec::Encode::encode(&xt))
		.await
		.expect_err("a stranger's transaction must not get into the pool");
	assert_eq!(err.refusal(), Some(PoolRefusal::Invalid), "{err}");
	assert!(err.to_string().contains("Invalid signing address"), "{err}");

	node.stop(Duration::from_secs(30));
}
