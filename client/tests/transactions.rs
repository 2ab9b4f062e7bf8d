//! The client's transaction handling against the real dev node: thousands of transactions
//! from one signer, a transaction that expires, and a node killed and restarted while
//! payments are in flight.

use clearline_client::{
	calls,
	events::{finalized_events, EventFilter},
	instruction::{post_batch, post_once, ItemOutcome, PostResult, SignedInstruction},
	queries, resolve,
	tx::{prepare, InFlight, Step},
	ConnectOptions, Connection, Outcome, SenderOptions, Signer, TxResult, TxSender,
};
use clearline_runtime::RuntimeEvent;
use clearline_testkit::{wait_finalized, NodeProcess};
use futures::StreamExt;
use pallet_clearing_bank::{PaymentInstruction, Scenario};
use pallet_fx_rate::CurrencyCode;
use std::{collections::BTreeSet, path::PathBuf, sync::Arc, time::Duration};

fn node_binary() -> PathBuf {
	// Built by the same `cargo build --workspace` as this package's `clearline`.
	PathBuf::from(env!("CARGO_BIN_EXE_clearline")).with_file_name("clearline-node")
}

async fn dev_node(name: &str, args: &[&str]) -> (NodeProcess, Arc<Connection>) {
	let mut node = NodeProcess::start(name, &node_binary(), args);
	let rpc = node.rpc(Duration::from_secs(180)).await;
	wait_finalized(&rpc, 1, Duration::from_secs(60)).await;
	let options = ConnectOptions {
		request_timeout: Duration::from_secs(30),
		reconnect_for: Duration::from_secs(3),
	};
	let conn = Connection::open(&node.rpc_url(), options, None).await.unwrap();
	(node, conn)
}

fn succeeded(result: &TxResult) -> bool {
	matches!(result, TxResult::Finalized { outcome: Outcome::Succeeded(_), .. })
}

#[tokio::test(flavor = "multi_thread")]
async fn two_thousand_transfers_from_one_signer_all_finalize() {
	let (node, conn) = dev_node("load", &["--dev", "--tmp"]).await;
	let alice = Signer::from_uri("//Alice").unwrap();
	let eve = Signer::from_uri("//Eve").unwrap().account_id();
	let before = queries::native_account(&conn, &eve, None).await.unwrap().data.free;
	let sender = Arc::new(
		TxSender::new(conn.clone(), alice, SenderOptions { lifetime: 256, ..Default::default() })
			.unwrap(),
	);
	const COUNT: u128 = 2000;
	let started = std::time::Instant::now();
	let mut followers = Vec::new();
	for _ in 0..COUNT {
		// Submission errors (a refused nonce among them) fail the test here.
		let flight = sender
			.submit(calls::transfer(eve.clone(), 1_000))
			.await
			.unwrap_or_else(|e| panic!("submission refused: {e}\n{}", node.log_tail(20)));
		followers.push(tokio::spawn(flight.follow()));
	}
	let mut nonces = BTreeSet::new();
	let mut last_block = 0;
	for follower in followers {
		let report = follower.await.unwrap();
		assert!(
			succeeded(&report.result),
			"{:?}: {:?}\n{}",
			report.result,
			&report.path[..report.path.len().min(4)],
			node.log_tail(80)
		);
		if let TxResult::Finalized { number, .. } = report.result {
			last_block = last_block.max(number);
		}
		assert!(nonces.insert(report.tx.nonce), "nonce {} used twice", report.tx.nonce);
	}
	eprintln!("2000 transfers finalized in {:?}", started.elapsed());
	assert_eq!(nonces.len() as u128, COUNT);
	let at = conn.rpc().await.unwrap().block_hash(last_block).await.unwrap();
	let after = queries::native_account(&conn, &eve, Some(at)).await.unwrap().data.free;
	assert_eq!(after - before, COUNT * 1_000);
}

/// Ferdie (the dev FX feeder), his next nonce and a finalized checkpoint to sign against.
async fn ferdie_and_next_nonce(conn: &Connection) -> (Signer, u32, (u32, sp_core::H256)) {
	let ferdie = Signer::from_uri("//Ferdie").unwrap();
	let rpc = conn.rpc().await.unwrap();
	let next = rpc.account_next_index(&ferdie.account_id().to_string()).await.unwrap();
	(ferdie, next, conn.finalized().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_whose_lifetime_passes_is_reported_expired() {
	let (_node, conn) = dev_node("expiry", &["--dev", "--tmp"]).await;
	// Ferdie (the dev FX feeder) signs with a nonce one past his next: the transaction waits in
	// the pool for a predecessor that never comes, until its four-block lifetime is over.
	let (ferdie, next, checkpoint) = ferdie_and_next_nonce(&conn).await;
	let call = calls::transfer(Signer::from_uri("//Eve").unwrap().account_id(), 1_000);
	let tx = prepare(&ferdie, &conn.chain_context(), call, next + 1, 4, checkpoint).unwrap();
	let flight =
		InFlight::submit(conn.clone(), tx.clone(), Duration::from_secs(60), None).await.unwrap();
	let report = flight.follow().await;
	assert_eq!(report.result, TxResult::Expired { death: tx.death }, "{:?}", report.path);
	// Asked again later, from the stored transaction alone, the answer is the same.
	assert_eq!(
		resolve(&conn, &tx, Duration::from_secs(5)).await.result,
		TxResult::Expired { death: tx.death }
	);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_transaction_sent_twice_is_followed_not_refused() {
	// What a sender sees when it sends bytes the pool holds already (a validator's fork-aware
	// pool can say so of a single submission): "already imported". That transaction is on its
	// way, and following it must find it finalized, never report a refusal. It waits in the
	// pool for its predecessor, so that no block takes it between the two submissions.
	let (_node, conn) = dev_node("twice", &["--dev", "--tmp"]).await;
	let (ferdie, next, checkpoint) = ferdie_and_next_nonce(&conn).await;
	let rpc = conn.rpc().await.unwrap();
	let ctx = conn.chain_context();
	let eve = Signer::from_uri("//Eve").unwrap().account_id();
	let later =
		prepare(&ferdie, &ctx, calls::transfer(eve.clone(), 1_000), next + 1, 64, checkpoint)
			.unwrap();
	let give_up = Duration::from_secs(60);
	let first = InFlight::submit(conn.clone(), later.clone(), give_up, None).await.unwrap();
	let again = InFlight::submit(conn.clone(), later.clone(), give_up, None).await.unwrap();
	assert!(first.tx() == again.tx());
	let predecessor =
		prepare(&ferdie, &ctx, calls::transfer(eve, 1_000), next, 64, checkpoint).unwrap();
	let predecessor = InFlight::submit(conn.clone(), predecessor, give_up, None).await.unwrap();
	let (first, again, predecessor) =
		tokio::join!(first.follow(), again.follow(), predecessor.follow());
	assert!(again.path.contains(&Step::AlreadyInPool), "{:?}", again.path);
	for report in [&first, &again, &predecessor] {
		assert!(
			matches!(report.result, TxResult::Finalized { outcome: Outcome::Succeeded(_), .. }),
			"{:?} {:?}",
			report.result,
			report.path
		);
	}
	assert_eq!(first.result, again.result, "both found the one transaction");
	assert_eq!(
		rpc.account_next_index(&ferdie.account_id().to_string()).await.unwrap(),
		next + 2,
		"it went in once"
	);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_transaction_lost_with_a_restarted_nodes_pool_is_sent_again() {
	// A node stopped while a transaction waits in its pool loses it. The transaction waits
	// there for its predecessor (one nonce ahead), so no block can take it before the kill.
	// Its follower, seeing a new connection, sends the same bytes again; without that it would
	// wait out its 64-block lifetime and end `Expired`.
	let (mut node, conn) = dev_node("resend", &["--dev", "--base-path", "{dir}/chain"]).await;
	let (ferdie, next, checkpoint) = ferdie_and_next_nonce(&conn).await;
	let ctx = conn.chain_context();
	let eve = Signer::from_uri("//Eve").unwrap().account_id();
	let give_up = Duration::from_secs(120);
	let later =
		prepare(&ferdie, &ctx, calls::transfer(eve.clone(), 1_000), next + 1, 64, checkpoint)
			.unwrap();
	let flight = InFlight::submit(conn.clone(), later.clone(), give_up, None).await.unwrap();
	let follower = tokio::spawn(flight.follow());
	node.kill();
	tokio::time::sleep(Duration::from_secs(3)).await;
	node.restart();
	node.rpc(Duration::from_secs(120)).await;
	let predecessor =
		prepare(&ferdie, &ctx, calls::transfer(eve, 1_000), next, 64, checkpoint).unwrap();
	let predecessor = loop {
		// The connection comes back once the node answers again.
		match InFlight::submit(conn.clone(), predecessor.clone(), give_up, None).await {
			Ok(flight) if flight_arrived(&flight) => break flight,
			Ok(_) | Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
		}
	};
	let (report, predecessor) = tokio::join!(follower, predecessor.follow());
	let report = report.unwrap();
	assert!(succeeded(&predecessor.result), "{:?}", predecessor.result);
	assert!(
		succeeded(&report.result),
		"{:?} {:?}\n{}",
		report.result,
		report.path,
		node.log_tail(20)
	);
	assert!(report.path.contains(&Step::Resent), "{:?}", report.path);
}

/// Whether the pool took `flight` (rather than the connection breaking under it).
fn flight_arrived(flight: &InFlight) -> bool {
	!flight.path().iter().any(|s| matches!(s, Step::ConnectionLost { .. }))
}

fn instruction(
	issuer: &Signer,
	acquirer: &Signer,
	order: &str,
	credit: u128,
	debit: u128,
) -> PaymentInstruction<clearline_runtime::AccountId> {
	PaymentInstruction {
		issuer: issuer.account_id(),
		acquirer: acquirer.account_id(),
		acquirer_order_id: calls::order_id("order", order).unwrap(),
		issuer_order_id: calls::order_id("order", &format!("ISS-{order}")).unwrap(),
		aggregator_order_id: calls::order_id("order", &format!("AGG-{order}")).unwrap(),
		merchant_id: calls::order_id("merchant", "M-RESTART").unwrap(),
		scenario: Scenario::DynamicQr,
		debit_currency: CurrencyCode::HKD,
		debit_amount: debit,
		credit_currency: CurrencyCode::CNY,
		credit_amount: credit,
		rate_id: 0,
		expires_at: clearline_client::instruction::expires_in(std::time::Duration::from_secs(3600)),
	}
}

#[tokio::test(flavor = "multi_thread")]
async fn payments_in_flight_across_a_node_restart_post_exactly_once() {
	let (mut node, conn) = dev_node("restart", &["--dev", "--base-path", "{dir}/chain"]).await;
	let issuer = Signer::from_uri("//Bob").unwrap();
	let acquirer = Signer::from_uri("//Dave").unwrap();
	let quote = queries::quote(
		&conn,
		CurrencyCode::HKD,
		CurrencyCode::CNY,
		1_000,
		pallet_fx_rate::QuoteSide::ExactTarget,
		None,
	)
	.await
	.unwrap();
	const COUNT: usize = 300;
	let signed: Vec<SignedInstruction> = (0..COUNT)
		.map(|i| {
			let order = format!("RESTART-{i:04}");
			let instr = instruction(&issuer, &acquirer, &order, 1_000, quote.source_amount.0);
			SignedInstruction::sign(&issuer, &conn.chain_context(), &instr)
		})
		.collect();
	// A short give-up: transactions still open while the node is down end `Unknown`.
	let options =
		SenderOptions { lifetime: 16, give_up: Duration::from_secs(6), ..SenderOptions::default() };
	let sender = Arc::new(TxSender::new(conn.clone(), acquirer.clone(), options).unwrap());
	let first_block = conn.finalized().await.unwrap().0 + 1;

	let mut tasks = Vec::new();
	for (i, s) in signed.iter().cloned().enumerate() {
		let sender = sender.clone();
		tasks.push(tokio::spawn(async move {
			// Spread the submissions over about three seconds so the kill lands among them.
			tokio::time::sleep(Duration::from_millis(10 * i as u64)).await;
			post_once(&sender, &s).await
		}));
	}
	tokio::time::sleep(Duration::from_millis(1500)).await;
	node.kill();
	tokio::time::sleep(Duration::from_secs(10)).await;
	node.restart();

	let (mut finalized, mut unknown, mut not_sent, mut expired) = (0, Vec::new(), Vec::new(), 0);
	for (i, task) in tasks.into_iter().enumerate() {
		match task.await.unwrap() {
			Ok(PostResult::Sent(report)) => match report.result {
				TxResult::Finalized { outcome: Outcome::Succeeded(_), .. } => finalized += 1,
				TxResult::Finalized { outcome: Outcome::Failed { error, .. }, .. } => {
					panic!("{error} for {i}")
				}
				TxResult::Unknown { .. } => unknown.push((i, report.tx)),
				TxResult::Expired { .. } => {
					expired += 1;
					not_sent.push(i)
				}
			},
			Ok(PostResult::AlreadyPosted(_)) => panic!("{i} posted before it was sent"),
			// Submissions attempted while the node was down were never sent.
			Err(e) => {
				assert!(e.is_connection(), "{i}: {e}");
				not_sent.push(i)
			}
		}
	}
	eprintln!(
		"before restart: {finalized} finalized, {} unknown, {expired} expired, {} not sent",
		unknown.len(),
		not_sent.len() - expired
	);
	assert!(!unknown.is_empty(), "the kill should have caught some payments in flight");

	// Every unknown transaction is resolved from the blocks of its lifetime...
	let mut retry = not_sent;
	for (i, tx) in unknown {
		let report = resolve(&conn, &tx, Duration::from_secs(120)).await;
		match report.result {
			TxResult::Finalized { outcome: Outcome::Succeeded(_), .. } => {}
			TxResult::Expired { .. } => retry.push(i),
			other => panic!("{i} still not resolved: {other:?}"),
		}
	}
	// ...and everything that did not make it is posted again, looking the order up first.
	for i in retry {
		match post_once(&sender, &signed[i]).await.unwrap() {
			PostResult::AlreadyPosted(_) => {}
			PostResult::Sent(report) => assert!(succeeded(&report.result), "{:?}", report.result),
		}
	}

	// Every order is posted, each exactly once.
	let mut ids = BTreeSet::new();
	for s in &signed {
		let posting = queries::posting(&conn, &acquirer.account_id(), &s.acquirer_order_id, None)
			.await
			.unwrap()
			.unwrap_or_else(|| panic!("{} lost", s.acquirer_order_id));
		assert!(ids.insert(posting.posting_id));
	}
	let last = conn.finalized().await.unwrap().0;
	let mut posted = BTreeSet::new();
	let mut stream = Box::pin(finalized_events(
		conn.clone(),
		first_block,
		EventFilter::Participant(acquirer.account_id()),
	));
	while let Some(block) = stream.next().await {
		let block = block.unwrap();
		for event in block.events {
			if let RuntimeEvent::ClearingBank(pallet_clearing_bank::Event::PaymentPosted {
				acquirer_order_id,
				..
			}) = event.event
			{
				assert!(posted.insert(acquirer_order_id.to_vec()), "posted twice");
			}
		}
		if block.number == last {
			break;
		}
	}
	assert_eq!(posted.len(), COUNT);
}

/// More instructions than one block takes go out as several `post_payments` transactions, each
/// as large as the runtime's weights let it be, and every one is accepted and posts; posting
/// the same list again sends nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_batch_larger_than_a_block_is_split_into_batches_that_each_fit() {
	let (_node, conn) = dev_node("batches", &["--dev", "--tmp"]).await;
	let issuer = Signer::from_uri("//Bob").unwrap();
	let acquirer = Signer::from_uri("//Dave").unwrap();
	let quote = queries::quote(
		&conn,
		CurrencyCode::HKD,
		CurrencyCode::CNY,
		100,
		pallet_fx_rate::QuoteSide::ExactTarget,
		None,
	)
	.await
	.unwrap();
	let capacity = calls::batch_capacity(1) as usize;
	let count = capacity + capacity / 2;
	let signed: Vec<SignedInstruction> = (0..count)
		.map(|i| {
			let instr = instruction(
				&issuer,
				&acquirer,
				&format!("SPLIT-{i:05}"),
				100,
				quote.source_amount.0,
			);
			SignedInstruction::sign(&issuer, &conn.chain_context(), &instr)
		})
		.collect();
	let sender = TxSender::new(conn.clone(), acquirer.clone(), SenderOptions::default()).unwrap();
	let report = post_batch(&sender, &signed).await.unwrap();
	assert_eq!(report.reports.len(), 2, "{capacity} a batch");
	assert!(report.reports.iter().all(|r| succeeded(&r.result)), "{:?}", report.reports);
	let posted: BTreeSet<_> = report
		.items
		.iter()
		.map(|(_, outcome)| match outcome {
			ItemOutcome::Posted { posting_id, .. } => *posting_id,
			other => panic!("{other:?}"),
		})
		.collect();
	assert_eq!(posted.len(), count);
	let again = post_batch(&sender, &signed).await.unwrap();
	assert!(again.reports.is_empty());
	assert!(again.items.iter().all(|(_, o)| matches!(o, ItemOutcome::AlreadyPosted { .. })));
}
