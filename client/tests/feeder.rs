//! `clearline fx feed` keeps a chain quoting however long it runs. A week of a dev chain is
//! compressed here: the clearing bank shortens HKD/CNY's validity to 8 s, so the opening rate
//! goes stale within seconds; the feeder (refreshing what has less than 4 s left) keeps the
//! pair fresh through several validity periods, and a node restart in the middle, with every
//! one-second quote succeeding except while the node itself is down. The feeder is started
//! the moment the node is, before its RPC port is open, as a service manager starts both.

use clearline_client::{
	calls, queries, ConnectOptions, Connection, Outcome, SenderOptions, Signer, TxResult, TxSender,
};
use clearline_testkit::{start_feeder, wait_finalized, NodeProcess};
use pallet_fx_rate::{CurrencyCode, Pair, PairLimits, QuoteSide};
use sp_runtime::Permill;
use std::{collections::BTreeSet, path::PathBuf, time::Duration};

const CLI: &str = env!("CARGO_BIN_EXE_clearline");
const VALIDITY_MS: u64 = 8_000;

#[tokio::test(flavor = "multi_thread")]
async fn the_feeder_keeps_the_pair_quoting_through_many_validity_periods() {
	let node_binary = PathBuf::from(CLI).with_file_name("clearline-node");
	let mut node =
		NodeProcess::start("feeder", &node_binary, &["--dev", "--base-path", "{dir}/chain"]);
	let url = node.rpc_url();
	let mut feeder = start_feeder(
		"feeder-feed",
		&node_binary,
		&url,
		"//Ferdie",
		921_300_000,
		&["--valid-for", "8s", "--refresh-before", "4s", "--poll", "1s"],
	);
	let rpc = node.rpc(Duration::from_secs(180)).await;
	wait_finalized(&rpc, 1, Duration::from_secs(60)).await;
	feeder.assert_running();
	let conn = Connection::open(&url, ConnectOptions::default(), None).await.unwrap();
	let pair = Pair::new(CurrencyCode::HKD, CurrencyCode::CNY);

	// The clearing bank makes every rate short-lived, the opening one included.
	let bank = TxSender::new(
		conn.clone(),
		Signer::from_uri("//Charlie").unwrap(),
		SenderOptions::default(),
	)
	.unwrap();
	let limits = PairLimits {
		max_spread: Permill::from_percent(1),
		max_validity: VALIDITY_MS,
		grace_period: PairLimits::DEFAULT_GRACE_PERIOD,
		min_feeds: 1,
		max_deviation: Permill::from_percent(2),
	};
	let report = bank.send(calls::configure_pair(pair, limits)).await.unwrap();
	assert!(
		matches!(report.result, TxResult::Finalized { outcome: Outcome::Succeeded(_), .. }),
		"{:?}",
		report.result
	);

	let quote = || async {
		queries::quote(
			&conn,
			CurrencyCode::HKD,
			CurrencyCode::CNY,
			9_213,
			QuoteSide::ExactTarget,
			None,
		)
		.await
	};
	// The feeder's first publication replaces the short-lived opening rate.
	clearline_testkit::wait_for(Duration::from_secs(30), "the feeder's first rate", || async {
		let rate = queries::rate(&conn, pair, None).await.ok()?;
		rate.feeder.is_some().then_some(())
	})
	.await;

	// Four validity periods, one quote a second: never without a rate.
	let mut ids = BTreeSet::new();
	for second in 0..32 {
		match quote().await {
			Ok(q) => {
				ids.insert(q.rate_id);
			}
			Err(e) => panic!("no quote at second {second}: {e}\n{}", feeder.log_tail(10)),
		}
		tokio::time::sleep(Duration::from_secs(1)).await;
	}
	assert!(ids.len() >= 4, "the feeder published {} rates in 32 s: {ids:?}", ids.len());

	// The node goes away for longer than a rate lives and comes back: the feeder, told the
	// node is unreachable, keeps trying, and the pair quotes again soon after.
	node.stop(Duration::from_secs(30));
	tokio::time::sleep(Duration::from_secs(10)).await;
	node.restart();
	node.rpc(Duration::from_secs(120)).await;
	let deadline = std::time::Instant::now() + Duration::from_secs(60);
	while quote().await.is_err() {
		assert!(
			std::time::Instant::now() < deadline,
			"no quote 60 s after the restart\n{}\n{}",
			feeder.log_tail(30),
			node.log_tail(30)
		);
		tokio::time::sleep(Duration::from_millis(200)).await;
	}
	feeder.assert_running();
	let log = feeder.log_tail(200);
	assert!(log.contains("published rate"), "{log}");
	let stopped = feeder.stop(Duration::from_secs(10));
	assert!(clearline_testkit::exited_cleanly(stopped), "{stopped}\n{log}");
}
