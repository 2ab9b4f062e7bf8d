//! The real `clearline-node --dev` binary: it starts, produces and finalizes blocks, accepts a
//! signed transfer sent as users send (`author_submitExtrinsic`, then the finalized blocks),
//! and shuts down cleanly.

use clearline_client::{
	extrinsic::Mortality, storage::account_info, ChainContext, ConnectOptions, Connection, Outcome,
	PoolRefusal, Signer,
};
use clearline_runtime::{BalancesCall, RuntimeCall, UNIT};
use clearline_testkit::{exited_cleanly, wait_finalized, NodeProcess};
use std::{path::Path, time::Duration};

const NODE: &str = env!("CARGO_BIN_EXE_clearline-node");
/// A debug build compiles the runtime's wasm at start-up; allow for a slow machine.
const STARTUP: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread")]
async fn dev_chain_finalizes_blocks_and_a_signed_transfer() {
	let mut node = NodeProcess::start("dev", Path::new(NODE), &["--dev", "--tmp"]);
	let rpc = node.rpc(STARTUP).await;

	// Blocks are produced and finalized on their own.
	wait_finalized(&rpc, 3, Duration::from_secs(60)).await;

	// Metadata as standard clients read it: the "meta" magic, then a version they know (14+).
	let metadata = rpc.metadata().await.unwrap();
	assert_eq!(&metadata[..4], b"meta");
	assert!(metadata[4] >= 14, "metadata version {}", metadata[4]);

	let alice = Signer::from_uri("//Alice").unwrap();
	// A fresh account, so that the balance check proves this very transfer arrived.
	let receiver = Signer::from_uri("//clearline-dev-test-receiver").unwrap().account_id();
	let amount = 7 * UNIT;
	assert_eq!(account_info(&rpc, &receiver, None).await.unwrap().data.free, 0);

	let nonce = rpc.account_next_index(&alice.account_id().to_string()).await.unwrap();
	let call = RuntimeCall::Balances(BalancesCall::transfer_keep_alive {
		dest: receiver.clone().into(),
		value: amount,
	});

	let started = std::time::Instant::now();
	let conn = Connection::open(&node.rpc_url(), ConnectOptions::default(), None).await.unwrap();
	let (block, outcome) = clearline_testkit::finalize(&conn, &alice, call).await;
	let waited = started.elapsed();
	assert!(matches!(outcome, Outcome::Succeeded(_)), "{outcome:?}\n{}", node.log_tail(40));
	println!("transfer finalized in block {block:?} after {waited:?}");

	// The state of the finalized block holds the transfer.
	let received = account_info(&rpc, &receiver, Some(block)).await.unwrap();
	assert_eq!(received.data.free, amount);
	let alice_after = account_info(&rpc, &alice.account_id(), Some(block)).await.unwrap();
	assert_eq!(alice_after.nonce, nonce + 1);

	let status = node.stop(Duration::from_secs(30));
	assert!(
		exited_cleanly(status),
		"node did not shut down cleanly: {status}\n{}",
		node.log_tail(30)
	);
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_chain_refuses_a_transaction_signed_for_another_chain() {
	let mut node = NodeProcess::start("dev-wrong-genesis", Path::new(NODE), &["--dev", "--tmp"]);
	let rpc = node.rpc(STARTUP).await;
	let alice = Signer::from_uri("//Alice").unwrap();
	let mut ctx = ChainContext::fetch(&rpc).await.unwrap();
	ctx.genesis_hash = sp_core::H256::repeat_byte(0xab);
	let call = RuntimeCall::System(frame_system::Call::remark { remark: b"x".to_vec() });
	let xt = alice.sign(&ctx, call, 0, Mortality::Immortal, 0);
	let err = rpc
		.submit(&codec::Encode::encode(&xt))
		.await
		.expect_err("a transaction signed for another genesis must be refused");
	// Refused at submission (bad signature), before it takes any block space.
	assert_eq!(err.refusal(), Some(PoolRefusal::BadSignature), "{err}");
	node.stop(Duration::from_secs(30));
}
