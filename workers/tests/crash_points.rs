//! Each service SIGKILLed at each crash point of a payment (`common::faults`), then restarted
//! on its store: before the debit, after the debit and before the bookkeeping call, after the
//! bookkeeping answer and before it is recorded; before the on-chain submission, after it and
//! before finality, after finality and before the result is recorded. Every payment completes
//! or is reversed exactly once (the audit of `support::audit`). Needs the `failpoints` feature,
//! which `scripts/test.sh` turns on.

mod support;

use clearline_workers::common::faults;
use std::time::Duration;
use support::{
	audit::{audit, count_with, open, settle, Baseline},
	Net, Options,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_kill_at_every_crash_point_settles_each_payment_once() {
	// Instructions valid for 20 s, so that one stranded before its posting is reversed soon.
	let mut net =
		Net::launch(Options::new("crashpoints").issuer(&["--instruction-validity", "20s"])).await;
	net.merchant("SHOP-K", "Crash Course Cafe").await;
	net.wallet("W-KILL", 10_000_000).await;
	let before = Baseline::take(&net).await;

	let mut orders = Vec::new();
	for (n, point) in faults::POINTS.iter().enumerate() {
		let issuer = point.starts_with("issuer");
		net.restart_service(issuer, Some(point)).await;
		// Two payments at once: one reaches the point first and takes the service down with
		// it; the other is in whatever state the crash left it.
		let codes = [net.payment_code("W-KILL").await, net.payment_code("W-KILL").await];
		let ids = [format!("AGG-{point}-0"), format!("AGG-{point}-1")];
		let amount = 1_000 + n as i64;
		let (first, second) = tokio::join!(
			net.try_micropay(&ids[0], "SHOP-K", &codes[0], amount, 4),
			net.try_micropay(&ids[1], "SHOP-K", &codes[1], amount, 4),
		);
		net.restart_after_crash(issuer, point).await;
		// The aggregator repeats a micropay the crash left unanswered, with the same order id.
		for (answer, (id, code)) in [first, second].into_iter().zip(ids.iter().zip(&codes)) {
			let started = match answer {
				Ok(started) => started,
				Err(_) => net.start_micropay(id, "SHOP-K", code, amount).await,
			};
			orders.extend(started);
		}
		// Settled before the next point is armed, or a resumed payment would hit it during
		// the restart.
		settle(&net, Duration::from_secs(120)).await;
	}

	// The acquirer dies before submitting and stays down past the instruction's expiry: the
	// issuer reverses the debit once; the acquirer, back, finds the chain refusing the post.
	net.restart_service(false, Some(faults::ACQUIRER_BEFORE_SUBMIT)).await;
	let code = net.payment_code("W-KILL").await;
	let answer = net.try_micropay("AGG-LATE-BACK", "SHOP-K", &code, 4_321, 4).await;
	assert!(net.acquirer.wait_exit(Duration::from_secs(60)).await.is_some());
	let reversed =
		clearline_testkit::wait_for(Duration::from_secs(90), "the issuer's reversal", || async {
			let db = open(&net.issuer_db).await;
			let n =
				count_with(&db, "SELECT COUNT(*) FROM wallet_entries WHERE kind = $1", "REVERSAL")
					.await;
			db.close().await;
			(n > 0).then_some(n)
		})
		.await;
	eprintln!("acquirer down past the expiry: {reversed} reversal; restarting it");
	net.restart_service(false, None).await;
	orders.extend(match answer {
		Ok(started) => started,
		Err(_) => net.start_micropay("AGG-LATE-BACK", "SHOP-K", &code, 4_321).await,
	});

	let tally = audit(&net, &before, Duration::from_secs(240)).await;
	eprintln!("crash points: {tally:?}");
	assert_eq!(tally.orders, orders.len());
	assert!(tally.succeeded > 0);
	assert_eq!(tally.reversed, 1, "the expired payment, reversed once");
}
