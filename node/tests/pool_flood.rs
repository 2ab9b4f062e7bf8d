//! One signer floods the dev node's transaction pool with remarks as large as a block's normal
//! room (each fills a block by length, leaving no room for anything after it), keeping five
//! blocks' worth of them queued; the acquirer's postings, sent behind them, still all finalize
//! at once, because settlement calls have a priority no other transaction reaches, and the
//! pool and the block builder take them first. With equal priorities they would wait behind
//! every remark queued before them (this test fails so when `SETTLEMENT_PRIORITY` is 0).

use clearline_client::{
	calls, queries, ConnectOptions, Connection, Outcome, SenderOptions, Signer, TxResult, TxSender,
};
use clearline_runtime::RuntimeCall;
use clearline_testkit::{wait_finalized, NodeProcess};
use pallet_clearing_bank::{PaymentInstruction, Scenario};
use pallet_fx_rate::{CurrencyCode, QuoteSide};
use std::{
	path::Path,
	sync::{
		atomic::{AtomicBool, AtomicU64, Ordering},
		Arc,
	},
	time::Duration,
};

const NODE: &str = env!("CARGO_BIN_EXE_clearline-node");
const POSTINGS: usize = 20;
/// The flood's remarks waiting in the pool at any time: five blocks' worth.
const QUEUED: usize = 5;
/// One CLR (10^12 units): a posting's no-tip priority is about 200, so this is a million times
/// what it takes to get ahead of one without `SETTLEMENT_PRIORITY`, and still far short of it.
const FLOOD_TIP: u128 = 1_000_000_000_000;
/// A block's normal room is 3.75 MiB; the remark's transaction (its signature, extensions and
/// length prefixes take about 150 bytes) leaves less than a posting needs.
const REMARK: usize = 3_932_160 - 256;

#[tokio::test(flavor = "multi_thread")]
async fn a_signer_flooding_the_pool_does_not_hold_up_postings() {
	let mut node = NodeProcess::start("flood", Path::new(NODE), &["--dev", "--tmp"]);
	let rpc = node.rpc(Duration::from_secs(180)).await;
	wait_finalized(&rpc, 1, Duration::from_secs(60)).await;
	let url = node.rpc_url();
	let conn = Connection::open(&url, ConnectOptions::default(), None).await.unwrap();

	// Ferdie (a known signer: the FX feeder) floods until told to stop, keeping five remarks
	// queued at all times (18.75 MiB: the pool holds 20 MiB, so none is evicted and the queue
	// stays in nonce order); each block takes one.
	let flooder = Arc::new(
		TxSender::new(
			conn.clone(),
			Signer::from_uri("//Ferdie").unwrap(),
			// As an attacker would: a tip buys priority (transaction-payment gives a transaction
			// its tip times the transactions of its size a block holds, which puts small
			// postings ahead of large remarks without one), and a life shorter than the
			// postings' (64 blocks) puts it first among equals.
			SenderOptions { lifetime: 16, tip: FLOOD_TIP, ..SenderOptions::default() },
		)
		.unwrap(),
	);
	let stop = Arc::new(AtomicBool::new(false));
	let (accepted, included) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
	let queued = Arc::new(tokio::sync::Semaphore::new(QUEUED));
	let flood = {
		let (flooder, stop, accepted, included) =
			(flooder.clone(), stop.clone(), accepted.clone(), included.clone());
		tokio::spawn(async move {
			while !stop.load(Ordering::Relaxed) {
				let slot = queued.clone().acquire_owned().await.unwrap();
				let remark =
					RuntimeCall::System(frame_system::Call::remark { remark: vec![0x5a; REMARK] });
				let flight = flooder.submit(remark).await.unwrap_or_else(|e| panic!("flood: {e}"));
				accepted.fetch_add(1, Ordering::Relaxed);
				let included = included.clone();
				tokio::spawn(async move {
					if matches!(flight.follow().await.result, TxResult::Finalized { .. }) {
						included.fetch_add(1, Ordering::Relaxed);
					}
					drop(slot);
				});
			}
		})
	};
	// The flood is on once blocks carry it with a full queue behind.
	let filled = tokio::time::Instant::now();
	while included.load(Ordering::Relaxed) < 2
		|| accepted.load(Ordering::Relaxed) < QUEUED as u64 + 2
	{
		assert!(filled.elapsed() < Duration::from_secs(120), "the flood never got going");
		tokio::time::sleep(Duration::from_millis(200)).await;
	}
	println!(
		"flooding: {} remarks of 3.75 MiB sent, {} in blocks, {QUEUED} queued",
		accepted.load(Ordering::Relaxed),
		included.load(Ordering::Relaxed)
	);

	// The acquirer posts payments signed by the issuer, all at once, into the full pool.
	let issuer = Signer::from_uri("//Bob").unwrap();
	let acquirer =
		TxSender::new(conn.clone(), Signer::from_uri("//Dave").unwrap(), SenderOptions::default())
			.unwrap();
	let quote = queries::quote(
		&conn,
		CurrencyCode::HKD,
		CurrencyCode::CNY,
		100,
		QuoteSide::ExactTarget,
		None,
	)
	.await
	.unwrap();
	let ctx = conn.chain_context();
	let (start, _) = conn.finalized().await.unwrap();
	let mut flights = Vec::new();
	for n in 0..POSTINGS {
		let id = |prefix: &str| calls::order_id("id", &format!("{prefix}-FLOOD-{n}")).unwrap();
		let instruction = PaymentInstruction {
			issuer: issuer.account_id(),
			acquirer: acquirer.account(),
			acquirer_order_id: id("ACQ"),
			issuer_order_id: id("ISS"),
			aggregator_order_id: id("AGG"),
			merchant_id: id("M"),
			scenario: Scenario::CustomerPresented,
			debit_currency: CurrencyCode::HKD,
			debit_amount: quote.source_amount.0,
			credit_currency: CurrencyCode::CNY,
			credit_amount: 100,
			rate_id: quote.rate_id,
			expires_at: clearline_client::instruction::expires_in(Duration::from_secs(300)),
		};
		let signature = issuer.sign_instruction(&ctx, &instruction);
		let flight = acquirer
			.submit(calls::post_payment(instruction, signature))
			.await
			.unwrap_or_else(|e| panic!("the pool refused posting {n} over the flood: {e}"));
		flights.push(flight);
	}
	let mut latest = 0;
	for (n, flight) in flights.into_iter().enumerate() {
		let report = flight.follow().await;
		match report.result {
			TxResult::Finalized { outcome: Outcome::Succeeded(_), number, .. } => {
				latest = latest.max(number)
			}
			other => panic!("posting {n}: {other:?}\n{}", node.log_tail(20)),
		}
	}
	stop.store(true, Ordering::Relaxed);
	println!(
		"{POSTINGS} postings finalized by block #{latest}, {} blocks after #{start}; the flood: \
		 {} remarks sent, {} in blocks",
		latest - start,
		accepted.load(Ordering::Relaxed),
		included.load(Ordering::Relaxed)
	);
	flood.abort();
	// Postings fit a block many times over: the next block or the one after (the slot they
	// arrived in) takes them, not the sixth or later, after the remarks queued before them.
	assert!(latest - start <= 3, "the postings took {} blocks", latest - start);
	// The flood was real: the blocks just before the postings were full of it.
	let mut flood_bytes = 0;
	for number in start.saturating_sub(2)..=start {
		let hash = rpc.block_hash(number).await.unwrap();
		flood_bytes += rpc
			.block_extrinsics(hash)
			.await
			.unwrap()
			.iter()
			.filter(|x| x.len() > REMARK)
			.map(Vec::len)
			.sum::<usize>();
	}
	assert!(flood_bytes >= 2 * REMARK, "the flood did not fill the blocks before the postings");
	drop(node);
}
