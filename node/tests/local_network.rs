//! The `local` chain over real p2p: four validators (Aura + GRANDPA). GRANDPA needs more than
//! two thirds of the voters, so four validators keep finalizing with one of them down; the
//! test kills one, sees finality go on, restarts it and sees it catch up.

use clearline_testkit::{exited_cleanly, local_validator, wait_finalized, wait_for, NodeProcess};
use std::{path::Path, time::Duration};

const NODE: &str = env!("CARGO_BIN_EXE_clearline-node");
const STARTUP: Duration = Duration::from_secs(180);
/// Time allowed for finality to advance a few blocks (1 s blocks) on a loaded 2-core machine.
const PROGRESS: Duration = Duration::from_secs(90);

fn validator(name: &str, node_key: u8, bootnode: Option<&str>) -> NodeProcess {
	local_validator(Path::new(NODE), name, name, node_key, bootnode)
}

#[tokio::test(flavor = "multi_thread")]
async fn four_validators_finalize_with_one_down_and_it_catches_up() {
	let mut alice = validator("alice", 1, None);
	let alice_rpc = alice.rpc(STARTUP).await;
	let alice_addr = format!(
		"/ip4/127.0.0.1/tcp/{}/p2p/{}",
		alice.p2p_port,
		alice_rpc.local_peer_id().await.unwrap()
	);
	let mut others: Vec<NodeProcess> = [("bob", 2), ("charlie", 3), ("dave", 4)]
		.iter()
		.map(|(name, key)| validator(name, *key, Some(&alice_addr)))
		.collect();
	for node in others.iter_mut() {
		node.rpc(STARTUP).await;
	}

	// All four vote: finality advances.
	let before = wait_finalized(&alice_rpc, 3, STARTUP).await;
	println!("finalized #{before} with four validators");

	// Dave crashes. Three of four are more than two thirds: finality continues.
	let mut dave = others.pop().unwrap();
	dave.kill();
	let (at_kill, _) = alice_rpc.finalized().await.unwrap();
	let after = wait_finalized(&alice_rpc, at_kill + 3, PROGRESS).await;
	println!("finalized #{after} with dave down (was #{at_kill})");
	let bob_rpc = others[0].rpc(STARTUP).await;
	wait_finalized(&bob_rpc, at_kill + 3, PROGRESS).await;

	// Dave comes back with its database and catches up with the others' finality.
	dave.restart();
	let dave_rpc = dave.rpc(STARTUP).await;
	let (target, _) = alice_rpc.finalized().await.unwrap();
	let caught_up = wait_finalized(&dave_rpc, target, PROGRESS).await;
	println!("dave restarted and finalized #{caught_up} (target #{target})");
	// And the network as a whole keeps going with all four again.
	wait_for(PROGRESS, "finality to advance after dave rejoined", || async {
		let (n, _) = alice_rpc.finalized().await.ok()?;
		(n >= caught_up + 2).then_some(())
	})
	.await;

	for node in [&mut alice, &mut dave].into_iter().chain(others.iter_mut()) {
		let status = node.stop(Duration::from_secs(30));
		assert!(exited_cleanly(status), "{} did not stop cleanly: {status}", node.name());
	}
}
