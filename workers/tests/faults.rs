//! Faults of the payment flows, injected into the real node and both services: a late acquirer, a node
//! stopped with postings in flight, an aggregator whose notify URL fails, a validator killed
//! mid-run, hundreds of concurrent payments over lines that drop and lose calls, and refunds
//! with each service killed at each of their steps. Each test
//! ends with the same audit (`support::audit`): every order final on both sides, money moved
//! once per success on the wallets and on chain, no order, posting or notification lost or
//! duplicated, and the closed cycle's digests equal on both sides and on chain.
//!
//! Sizes for the load test: `CLEARLINE_FAULT_PAYMENTS` (default 200), `CLEARLINE_FAULT_WALLETS`
//! (default 50), `CLEARLINE_FAULT_SHARE` (percent of calls between the services dropped or
//! answered into the void, default 10) and `CLEARLINE_FAULT_SEED`.

mod support;

use clearline_testkit::{local_validator, wait_for, NodeProcess};
use clearline_workers::common::faults;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::Value;
use std::{path::Path, sync::Arc, time::Duration};
use support::{
	audit::{audit, count_with, open, Baseline},
	Chain, Net, NotifyMode, Options, Started,
};

const SHOP: &str = "SHOP-F";
const SETTLE: Duration = Duration::from_secs(240);

fn env_or(name: &str, default: u64) -> u64 {
	match std::env::var(name) {
		Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a whole number")),
		Err(_) => default,
	}
}

/// Opens the merchant and `wallets` wallets of HKD 100,000.00 each.
async fn open_shop(net: &Net, wallets: usize) -> Vec<String> {
	net.merchant(SHOP, "Fault Line Dumplings").await;
	let mut ids = Vec::new();
	for w in 0..wallets {
		let id = format!("W-F{w:04}");
		net.wallet(&id, 10_000_000).await;
		ids.push(id);
	}
	ids
}

/// `n` customer-presented payments from `wallets` in turn, all at once.
async fn pay_concurrently(net: &Arc<Net>, tag: &str, wallets: &[String], n: usize) -> Vec<Started> {
	let mut tasks = Vec::new();
	for i in 0..n {
		let (net, wallet, tag) = (net.clone(), wallets[i % wallets.len()].clone(), tag.to_string());
		tasks.push(tokio::spawn(async move {
			let code = net.payment_code(&wallet).await;
			let amount = 1_000 + (i as i64 * 37) % 9_000;
			net.start_micropay(&format!("AGG-{tag}-{i}"), SHOP, &code, amount).await
		}));
	}
	let mut started = Vec::new();
	for t in tasks {
		started.extend(t.await.expect("a payment task"));
	}
	started
}

async fn final_status(net: &Net, order_id: &str) -> String {
	let o = net.final_acquirer_order(order_id).await;
	o["status"].as_str().unwrap().to_string()
}

/// A line that rewrites every bookkeeping answer to FAILURE while the acquirer posts changes
/// nothing: the rewritten answers no longer verify as the acquirer's (`BadResponseSignature`),
/// the issuer treats them as no answer and learns the result from the chain, and the payments
/// complete: no payment is both posted and reversed. So do answers inflated past the bound
/// on what a party reads of another's answer.
#[tokio::test(flavor = "multi_thread")]
async fn answers_rewritten_to_failure_never_reverse_a_posted_payment() {
	let net = Net::launch(Options::new("rewritten").with_proxies()).await;
	let wallets = open_shop(&net, 2).await;
	let before = Baseline::take(&net).await;
	let proxy = net.to_acquirer.clone().unwrap();
	proxy.set_rewrite("/v1/bookkeeping", |body| {
		body["result"] = "FAILURE".into();
		body["reason"] = "RewrittenOnTheLine".into();
	});

	let net = Arc::new(net);
	let started = pay_concurrently(&net, "REWRITTEN", &wallets, 4).await;
	assert_eq!(started.len(), 4);
	let issuer_logged = |text: &'static str, n: usize| {
		let net = net.clone();
		async move {
			wait_for(SETTLE, &format!("{n} × {text} in the issuer's log"), || async {
				(net.issuer.log_tail(5_000).matches(text).count() >= n).then_some(())
			})
			.await
		}
	};
	issuer_logged("BadResponseSignature", 4).await;

	// A line that inflates the answers past the 1 MiB bound: each is refused before it is
	// read whole, taken as no answer, and the payments complete from the chain all the same.
	proxy.set_rewrite("/v1/bookkeeping", |body| body["padding"] = "x".repeat(2 << 20).into());
	let started = pay_concurrently(&net, "INFLATED", &wallets, 2).await;
	assert_eq!(started.len(), 2);
	issuer_logged("the answer exceeds 1048576 bytes", 2).await;

	let tally = audit(&net, &before, SETTLE).await;
	eprintln!("rewritten and inflated answers: {tally:?}; the line: {}", proxy.count());
	assert!(proxy.counts.rewritten.load(std::sync::atomic::Ordering::Relaxed) >= 6);
	assert_eq!(
		(tally.succeeded, tally.reversed),
		(6, 0),
		"every payment posted, none reversed; the line: {}\n{}",
		proxy.count(),
		net.logs()
	);
	assert!(!net.issuer.log_tail(5_000).contains("RewrittenOnTheLine"), "{}", net.logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_late_acquirer_is_queried_and_the_payment_completes() {
	// The issuer gives bookkeeping 2 s; the line answers it after 6 s.
	let net =
		Net::launch(Options::new("late").with_proxies().issuer(&["--bookkeeping-timeout", "2s"]))
			.await;
	let wallets = open_shop(&net, 2).await;
	let before = Baseline::take(&net).await;
	let proxy = net.to_acquirer.clone().unwrap();
	proxy.set_late(Some((Method::POST, "/v1/bookkeeping", Duration::from_secs(6))));

	let net = Arc::new(net);
	let started = pay_concurrently(&net, "LATE", &wallets, 3).await;
	for s in &started {
		assert_eq!(final_status(&net, &s.order_id).await, "SUCCESS", "{}", net.logs());
	}
	// The issuer completed by asking, not by the late answer.
	for s in &started {
		let (_, o) = net
			.agg(Method::GET, "/v1/orders/{orderId}", &format!("/v1/orders/{}", s.order_id), None)
			.await;
		assert_eq!(o["status"], "SUCCESS");
	}
	let tally = audit(&net, &before, SETTLE).await;
	let queried = net.issuer.log_tail(5_000).matches("bookkeeping unanswered; querying").count();
	eprintln!(
		"late acquirer: {tally:?}; line to the acquirer: {}; issuer queried {queried} times",
		proxy.count()
	);
	assert_eq!(tally.succeeded, 3);
	assert!(proxy.counts.delayed.load(std::sync::atomic::Ordering::Relaxed) >= 3);
	assert!(queried >= 3, "the issuer did not query after the timeout:\n{}", net.logs());
}

/// How many of the acquirer's orders are `status` now.
async fn acquirer_orders_in(net: &Net, status: &str) -> i64 {
	let db = open(&net.acquirer_db).await;
	let n = count_with(&db, "SELECT COUNT(*) FROM orders WHERE status = $1", status).await;
	db.close().await;
	n
}

#[tokio::test(flavor = "multi_thread")]
async fn postings_in_flight_when_the_node_stops_are_resolved() {
	// A short transaction lifetime, so that a posting lost with the node's pool expires within
	// the test, and instructions valid long enough for it to be submitted again.
	let mut net = Net::launch(
		Options::new("nodestop")
			.chain(Chain::DevKept)
			.issuer(&["--instruction-validity", "90s"])
			.acquirer(&["--tx-lifetime", "16"]),
	)
	.await;
	let wallets = open_shop(&net, 4).await;
	let before = Baseline::take(&net).await;
	let mut codes = Vec::new();
	for i in 0..12 {
		codes.push(net.payment_code(&wallets[i % wallets.len()]).await);
	}

	// A burst of payments; the node is killed the moment postings are in flight.
	let node_pid = net.node.as_ref().unwrap().pid().unwrap() as i32;
	let ids: Vec<String> = (0..codes.len()).map(|i| format!("AGG-NS-{i}")).collect();
	let payments = futures::future::join_all(
		ids.iter()
			.zip(&codes)
			.enumerate()
			.map(|(i, (id, code))| net.start_micropay(id, SHOP, code, 2_000 + i as i64)),
	);
	let stopper = async {
		let in_flight = wait_for(Duration::from_secs(60), "a posting in flight", || async {
			let n = acquirer_orders_in(&net, "POSTING").await;
			(n > 0).then_some(n)
		})
		.await;
		unsafe { libc::kill(node_pid, libc::SIGKILL) };
		in_flight
	};
	let (started, in_flight) = tokio::join!(payments, stopper);
	let started: Vec<Started> = started.into_iter().flatten().collect();
	let node = net.node.as_mut().unwrap();
	assert!(node.wait_exit(Duration::from_secs(10)).await.is_some(), "the node is still up");
	eprintln!("node killed with {in_flight} postings in flight; restarting it in 3 s");
	tokio::time::sleep(Duration::from_secs(3)).await;
	node.restart();
	node.rpc(Duration::from_secs(120)).await;

	let tally = audit(&net, &before, SETTLE).await;
	eprintln!("node stop: {tally:?}");
	assert_eq!(tally.orders, started.len());
	assert_eq!(tally.succeeded + tally.failed, 12);
	// Postings the node lost went out again while their instructions were valid.
	assert!(tally.succeeded > 0, "every payment in flight failed:\n{}", net.logs());
}

#[tokio::test(flavor = "multi_thread")]
async fn notifications_are_retried_until_the_aggregator_acknowledges() {
	let net = Net::start("notify", &[]).await;
	let wallets = open_shop(&net, 2).await;
	let before = Baseline::take(&net).await;

	// The aggregator's endpoint is down: payments settle, notifications wait.
	net.set_notify_mode(NotifyMode::Down);
	let net = Arc::new(net);
	let started = pay_concurrently(&net, "NTF", &wallets, 3).await;
	for s in &started {
		assert_eq!(final_status(&net, &s.order_id).await, "SUCCESS", "{}", net.logs());
	}
	tokio::time::sleep(Duration::from_secs(2)).await;
	assert!(net.inbox.heard().deliveries.is_empty());

	// Back up, but its acknowledgements are lost: it applies each once and hears it again.
	net.set_notify_mode(NotifyMode::LoseAck);
	wait_for(Duration::from_secs(30), "each notification delivered twice", || async {
		let all = started.iter().all(|s| {
			let heard = net.inbox.heard();
			heard.deliveries.iter().filter(|n| n.order_id == s.order_id).count() >= 2
		});
		all.then_some(())
	})
	.await;

	// Acknowledged: the acquirer stops sending.
	net.set_notify_mode(NotifyMode::Acknowledge);
	let tally = audit(&net, &before, SETTLE).await;
	let settled = net.inbox.heard().deliveries.len();
	tokio::time::sleep(Duration::from_secs(3)).await;
	let later = net.inbox.heard().deliveries.len();
	eprintln!("notify failures: {tally:?}; {settled} deliveries for 3 payments");
	assert_eq!(settled, later, "notifications sent after they were acknowledged");
	assert!(settled >= 9, "every notification delivered at least three times");
}

/// Past `--admission-limit` new payments are refused `503 Busy` at once, with nothing done for
/// them, instead of queueing behind the ones in hand; sent again later, they are taken.
#[tokio::test(flavor = "multi_thread")]
async fn new_payments_past_the_admission_limit_are_refused_busy_and_taken_when_sent_again() {
	let net =
		Net::launch(Options::new("busy").with_proxies().acquirer(&["--admission-limit", "1"]))
			.await;
	let wallets = open_shop(&net, 2).await;
	let before = Baseline::take(&net).await;
	// The first payment's debit request is answered 4 s late: its micropay holds the one place.
	let line = net.to_issuer.clone().unwrap();
	line.set_late(Some((Method::POST, "/v1/debits", Duration::from_secs(4))));
	let net = Arc::new(net);
	let first = {
		let (net, wallet) = (net.clone(), wallets[0].clone());
		tokio::spawn(async move {
			let code = net.payment_code(&wallet).await;
			net.start_micropay("AGG-BUSY-0", SHOP, &code, 1_200).await
		})
	};
	let code = net.payment_code(&wallets[1]).await;
	let body = serde_json::json!({
		"aggregatorOrderId": "AGG-BUSY-1", "merchantId": SHOP, "authCode": code,
		"amount": 3_400, "currency": "CNY",
	});
	wait_for(Duration::from_secs(10), "the first debit request held on the line", || async {
		(line.counts.delayed.load(std::sync::atomic::Ordering::Relaxed) >= 1).then_some(())
	})
	.await;
	let (status, refused) =
		net.agg(Method::POST, "/v1/micropay", "/v1/micropay", Some(body.clone())).await;
	assert_eq!((status, refused["code"].as_str()), (503, Some("Busy")), "{refused}");
	let (status, _) =
		net.agg(Method::GET, "/v1/orders", "/v1/orders?aggregatorOrderId=AGG-BUSY-1", None).await;
	assert_eq!(status, 404, "a refused payment left an order behind");

	let first = first.await.expect("the first payment").expect("the first payment was taken");
	line.set_late(None);
	let (status, second) = net.agg(Method::POST, "/v1/micropay", "/v1/micropay", Some(body)).await;
	assert_eq!(status, 200, "{second}");
	for order in [first.order_id.as_str(), second["orderId"].as_str().unwrap()] {
		assert_eq!(final_status(&net, order).await, "SUCCESS", "{}", net.logs());
	}
	let tally = audit(&net, &before, SETTLE).await;
	assert_eq!(tally.succeeded, 2);
}

/// A validator of the four-validator `local` network (as in node/tests/local_network.rs).
fn validator(name: &str, node_key: u8, bootnode: Option<&str>) -> NodeProcess {
	let node = Path::new(support::ISSUER).with_file_name("clearline-node");
	local_validator(&node, &format!("validators-{name}"), name, node_key, bootnode)
}

#[tokio::test(flavor = "multi_thread")]
async fn payments_keep_settling_with_a_validator_down() {
	// Four validators, the fewest with which GRANDPA finalizes with one down (three of three
	// would stop finality with one gone: more than two thirds must vote).
	let mut alice = validator("alice", 1, None);
	let alice_rpc = alice.rpc(Duration::from_secs(180)).await;
	let boot = format!(
		"/ip4/127.0.0.1/tcp/{}/p2p/{}",
		alice.p2p_port,
		alice_rpc.local_peer_id().await.unwrap()
	);
	let mut others: Vec<NodeProcess> = [("bob", 2), ("charlie", 3), ("dave", 4)]
		.iter()
		.map(|(name, key)| validator(name, *key, Some(&boot)))
		.collect();
	for v in others.iter_mut() {
		v.rpc(Duration::from_secs(180)).await;
	}
	clearline_testkit::wait_finalized(&alice_rpc, 3, Duration::from_secs(180)).await;

	let net = Net::launch(Options::new("validators").chain(Chain::External(alice.rpc_url()))).await;
	let wallets = open_shop(&net, 4).await;
	let before = Baseline::take(&net).await;
	let net = Arc::new(net);
	let first = pay_concurrently(&net, "V1", &wallets, 4).await;

	// A validator dies while those settle; more payments follow.
	let mut dave = others.pop().unwrap();
	dave.kill();
	let second = pay_concurrently(&net, "V2", &wallets, 4).await;
	for s in first.iter().chain(&second) {
		assert_eq!(final_status(&net, &s.order_id).await, "SUCCESS", "{}", net.logs());
	}
	let tally = audit(&net, &before, SETTLE).await;
	eprintln!("validator down: {tally:?}");
	assert_eq!(tally.succeeded, 8);
	drop(others);
	drop(alice);
}

#[tokio::test(flavor = "multi_thread")]
async fn hundreds_of_concurrent_payments_over_faulty_lines_keep_every_invariant() {
	let payments = env_or("CLEARLINE_FAULT_PAYMENTS", 200) as usize;
	let wallets = env_or("CLEARLINE_FAULT_WALLETS", 50) as usize;
	let share = env_or("CLEARLINE_FAULT_SHARE", 10) as f64 / 100.0;
	let seed =
		env_or("CLEARLINE_FAULT_SEED", rand::rngs::StdRng::from_entropy().gen::<u32>() as u64);
	eprintln!(
		"load: {payments} payments from {wallets} wallets, {share} of calls faulted, seed {seed}"
	);
	let net =
		Net::launch(Options::new("load").with_proxies().issuer(&["--instruction-validity", "60s"]))
			.await;
	let mut ids = open_shop(&net, wallets).await;
	// One wallet that can pay for a few of its payments only: the rest are refused, with no
	// debit, under the same faults.
	net.wallet("W-POOR", 5_000).await;
	ids.push("W-POOR".into());
	let before = Baseline::take(&net).await;
	for (i, line) in [&net.to_acquirer, &net.to_issuer].into_iter().enumerate() {
		line.as_ref().unwrap().set_failures(share / 2.0, share / 2.0, seed + i as u64);
	}
	let net = Arc::new(net);
	let started = pay_concurrently(&net, "LOAD", &ids, payments).await;
	let tally = audit(&net, &before, Duration::from_secs(600)).await;
	let (a, i) = (net.to_acquirer.as_ref().unwrap(), net.to_issuer.as_ref().unwrap());
	eprintln!(
		"load: {tally:?}\n  issuer → acquirer: {}\n  acquirer → issuer: {}",
		a.count(),
		i.count()
	);
	assert_eq!(tally.orders, started.len());
	assert!(tally.succeeded > 0, "no payment got through");
	assert!(tally.failed > 0, "the poor wallet paid for everything");
	if share > 0.0 {
		let faulted = |p: &support::Proxy| {
			p.counts.dropped.load(std::sync::atomic::Ordering::Relaxed)
				+ p.counts.lost.load(std::sync::atomic::Ordering::Relaxed)
		};
		assert!(faulted(a) + faulted(i) > 0, "no fault was injected");
	}
}

/// Two acquirer processes on one PostgreSQL store behind a balancer (for the aggregator and
/// for the issuer): both answer, one posts. The posting process is SIGKILLed with payments
/// arriving and batches in flight; the other takes the lease within a few seconds, resumes
/// the open batches and the queue, and every payment settles once (the audit).
#[tokio::test(flavor = "multi_thread")]
async fn the_posting_process_killed_under_load_hands_over_to_another() {
	if support::postgres_server().is_none() {
		eprintln!("two acquirer processes need PostgreSQL; scripts/test.sh runs this on it");
		return;
	}
	let mut net = Net::launch(Options::new("takeover").with_proxies()).await;
	net.merchant(SHOP, "Takeover Teahouse").await;
	net.wallet("W-TAKE", 10_000_000).await;
	let before = Baseline::take(&net).await;
	let (second, second_url) = net.second_acquirer("takeover-acquirer-2").await;
	let leading = |body: serde_json::Value| body["leading"].as_bool();
	assert_eq!(leading(net.health(&net.acquirer_url).await), Some(true), "the first leads");
	assert_eq!(leading(net.health(&second_url).await), Some(false), "the second waits");

	// One balancer in front of both for the issuer's calls, another for the aggregator's.
	net.to_acquirer.as_ref().expect("proxies").add_target(&second_url);
	let balancer = support::proxy::Proxy::start(&net.acquirer_url).await;
	balancer.add_target(&second_url);
	net.aggregator = support::aggregator_via(&balancer.url);
	let mut first = std::mem::replace(&mut net.acquirer, second);
	net.acquirer_url = second_url.clone();

	let payments = 40;
	let mut codes = Vec::new();
	for _ in 0..payments {
		codes.push(net.payment_code("W-TAKE").await);
	}
	let net = &net;
	let load = futures::future::join_all(codes.iter().enumerate().map(|(n, code)| async move {
		tokio::time::sleep(Duration::from_millis(100) * n as u32).await;
		net.start_micropay(&format!("AGG-TAKE-{n}"), SHOP, code, 500 + n as i64).await
	}));
	let kill = async {
		tokio::time::sleep(Duration::from_millis(1_500)).await;
		let open = count_with(
			&open(&net.acquirer_db).await,
			"SELECT COUNT(*) FROM orders WHERE status = $1",
			"POSTING",
		)
		.await;
		first.kill();
		let killed = std::time::Instant::now();
		eprintln!("posting process SIGKILLed with {open} orders posting");
		let took_over = wait_for(Duration::from_secs(15), "the second process leads", || async {
			(leading(net.health(&second_url).await) == Some(true)).then_some(())
		})
		.await;
		let _ = took_over;
		killed.elapsed()
	};
	let (started, handover) = tokio::join!(load, kill);
	eprintln!("the second process led {} ms after the kill", handover.as_millis());
	assert!(handover < Duration::from_secs(5), "handover took {handover:?}");
	let orders: Vec<Started> = started.into_iter().flatten().collect();
	let tally = audit(net, &before, SETTLE).await;
	eprintln!("takeover: {tally:?}; {}", balancer.count());
	assert_eq!(tally.orders, orders.len());
	assert_eq!(tally.succeeded, payments, "every payment succeeded once");
}

/// Notifications go only where their aggregator registered, and never on a redirect: an
/// internal notify URL needs the explicit flag, an order's `notifyUrl` must be on a registered
/// origin. And each aggregator has a lane of its own: with one aggregator's endpoint hanging,
/// the other's notifications arrive on time; the hung ones are given up after
/// `--notify-give-up`, show so in the order query, and can be sent again by admin.
#[tokio::test(flavor = "multi_thread")]
async fn notifications_go_only_where_registered_and_a_hung_aggregator_delays_no_other() {
	use axum::{response::Redirect, routing::post, Router};
	use serde_json::json;
	let net = Net::launch(Options::new("lanes").acquirer(&[
		"--notify-timeout",
		"8s",
		"--notify-give-up",
		"12s",
	]))
	.await;
	let wallets = open_shop(&net, 2).await;
	let register = |body: serde_json::Value| {
		net.admin_acquirer(
			Method::POST,
			"/v1/admin/aggregators",
			"/v1/admin/aggregators",
			Some(body),
		)
	};
	let agg2 = |url: &str, private: bool| {
		json!({
			"aggregatorId": "agg-2", "name": "Hung Pay", "publicKey": support::ss58("//Aggregator2"),
			"notifyUrl": url, "privateAddresses": private,
		})
	};

	// Internal addresses only with the flag.
	for url in [
		"http://127.0.0.1:9/notify",
		"http://169.254.169.254/latest/meta-data",
		"http://localhost/n",
	] {
		let (status, e) = register(agg2(url, false)).await;
		assert_eq!((status, e["code"].as_str()), (400, Some("NotifyUrlNotAllowed")), "{url}: {e}");
	}

	// agg-2's endpoint: `/hang` never answers, `/redirect` sends the caller to agg-1's inbox.
	let agg1_inbox = net.notify_url.clone();
	let app = Router::new()
		.route("/hang", post(|| async { tokio::time::sleep(Duration::from_secs(3600)).await }))
		.route(
			"/redirect",
			post(move || {
				let to = agg1_inbox.clone();
				async move { Redirect::temporary(&to) }
			}),
		);
	let port = clearline_testkit::free_port();
	let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
	tokio::spawn(async move { axum::serve(listener, app).await });
	let (status, a) = register(agg2(&format!("http://127.0.0.1:{port}/hang"), true)).await;
	assert_eq!(status, 200, "{a}");
	assert_eq!(a["notifyOrigins"], json!([format!("http://127.0.0.1:{port}")]));
	let (status, m) = net
		.admin_acquirer(
			Method::POST,
			"/v1/admin/merchants",
			"/v1/admin/merchants",
			Some(json!({
				"aggregatorId": "agg-2", "aggregatorMerchantId": "SHOP-HUNG", "name": "Hung Noodles",
				"city": "Shenzhen", "mcc": "5812",
			})),
		)
		.await;
	assert_eq!(status, 200, "{m}");
	let agg2 = clearline_workers::peer::Peer::new(
		&net.acquirer_url,
		"agg-2",
		clearline_client::Signer::from_uri("//Aggregator2").unwrap(),
		support::counterparty("acquirer", clearline_testkit::ACQUIRER_KEYS.aggregators.unwrap()),
	);
	let second = |m: Method, template: &'static str, path: String, body| {
		let (net, agg2) = (&net, &agg2);
		async move { net.agg_as(agg2, m, template, &path, body).await }
	};
	let micropay = |id: &str, code: &str, notify: Option<String>| {
		let mut body = json!({
			"aggregatorOrderId": id, "merchantId": "SHOP-HUNG", "authCode": code,
			"amount": 1_000, "currency": "CNY",
		});
		if let Some(url) = notify {
			body["notifyUrl"] = url.into();
		}
		body
	};

	// An order's notify URL off agg-2's origins (agg-1's inbox, say) is refused; nothing is
	// written, and the code stays usable.
	let code = net.payment_code(&wallets[0]).await;
	let off = micropay("AGG2-OFF", &code, Some(net.notify_url.clone()));
	let (status, e) = second(Method::POST, "/v1/micropay", "/v1/micropay".into(), Some(off)).await;
	assert_eq!((status, e["code"].as_str()), (400, Some("NotifyUrlNotAllowed")), "{e}");
	let query = "/v1/orders?aggregatorOrderId=AGG2-OFF".to_string();
	let (status, _) = second(Method::GET, "/v1/orders", query, None).await;
	assert_eq!(status, 404);

	// agg-2's payments: one notified at the hanging endpoint, one at the redirect.
	let body = micropay("AGG2-HANG", &code, None);
	let (_, hung) = second(Method::POST, "/v1/micropay", "/v1/micropay".into(), Some(body)).await;
	let code = net.payment_code(&wallets[0]).await;
	let redirect = format!("http://127.0.0.1:{port}/redirect");
	let body = micropay("AGG2-REDIR", &code, Some(redirect));
	let (_, redirected) =
		second(Method::POST, "/v1/micropay", "/v1/micropay".into(), Some(body)).await;
	let hung_id = hung["orderId"].as_str().unwrap_or_else(|| panic!("{hung}")).to_string();
	let redirected_id =
		redirected["orderId"].as_str().unwrap_or_else(|| panic!("{redirected}")).to_string();
	assert_eq!(net.final_acquirer_order_as(&agg2, &hung_id).await["status"], "SUCCESS");
	assert_eq!(net.final_acquirer_order_as(&agg2, &redirected_id).await["status"], "SUCCESS");
	// A refund of agg-2's: its notification waits in agg-2's lane like the orders'.
	let body = json!({
		"orderId": hung_id, "aggregatorRefundId": "AGG2-RF-1", "amount": 500, "currency": "CNY",
	});
	let (status, hung_refund) =
		second(Method::POST, "/v1/refunds", "/v1/refunds".into(), Some(body)).await;
	assert_eq!((status, hung_refund["status"].as_str()), (200, Some("SUCCESS")), "{hung_refund}");
	let hung_refund_id = hung_refund["refundId"].as_str().unwrap().to_string();

	// agg-1's payments meanwhile: each notification arrives within a few seconds of the
	// order's end, though agg-2's hang for 8 s at every attempt.
	for i in 0..3 {
		let code = net.payment_code(&wallets[1]).await;
		let order = net.micropay(&format!("AGG1-LANE-{i}"), SHOP, &code, 1_000 + i).await;
		let id = order["orderId"].as_str().unwrap().to_string();
		net.final_acquirer_order(&id).await;
		let finished = std::time::Instant::now();
		wait_for(Duration::from_secs(30), &format!("agg-1's notification of {id}"), || async {
			(!net.notifications_for(&id).await.is_empty()).then_some(())
		})
		.await;
		let waited = finished.elapsed();
		assert!(
			waited < Duration::from_secs(4),
			"agg-1 heard {id} {waited:?} after it ended\n{}",
			net.logs()
		);
	}

	// The redirect was not followed: agg-1's inbox heard nothing of agg-2's orders, not even a
	// refusal.
	{
		let heard = net.inbox.heard();
		assert!(heard.refused.is_empty(), "{:?}", heard.refused);
		assert!(heard.deliveries.iter().all(|n| n.aggregator_id == support::AGG));
	}

	// agg-2's notifications are given up after 12 s, and its order query says so.
	for id in [&hung_id, &redirected_id] {
		let path = format!("/v1/orders/{id}");
		let shown = wait_for(Duration::from_secs(90), &format!("{id} given up"), || async {
			let (_, o) = second(Method::GET, "/v1/orders/{orderId}", path.clone(), None).await;
			(o["notification"]["status"] == "GAVE_UP").then_some(o)
		})
		.await;
		assert!(shown["notification"]["attempts"].as_u64().unwrap() >= 1, "{shown}");
	}
	let path = format!("/v1/orders/{redirected_id}");
	let (_, shown) = second(Method::GET, "/v1/orders/{orderId}", path, None).await;
	let error = shown["notification"]["lastError"].as_str().unwrap_or_default().to_string();
	assert!(error.contains("BadResponseSignature"), "a redirect is an unsigned answer: {error}");

	// Admin sends it again.
	let path = format!("/v1/admin/orders/{hung_id}/notify");
	let (status, again) =
		net.admin_acquirer(Method::POST, "/v1/admin/orders/{orderId}/notify", &path, None).await;
	assert_eq!(status, 200, "{again}");
	assert_eq!(again["notification"]["attempts"], 0, "{again}");
	assert_ne!(again["notification"]["status"], "GAVE_UP", "{again}");

	// The refund's notification is given up too, the refund query says so, and admin sends it
	// again.
	let path = format!("/v1/refunds/{hung_refund_id}");
	wait_for(Duration::from_secs(90), "the refund's notification given up", || async {
		let (_, r) = second(Method::GET, "/v1/refunds/{refundId}", path.clone(), None).await;
		(r["notification"]["status"] == "GAVE_UP").then_some(r)
	})
	.await;
	let path = format!("/v1/admin/refunds/{hung_refund_id}/notify");
	let (status, again) =
		net.admin_acquirer(Method::POST, "/v1/admin/refunds/{refundId}/notify", &path, None).await;
	assert_eq!(status, 200, "{again}");
	assert_eq!(again["notification"]["attempts"], 0, "{again}");
	assert_ne!(again["notification"]["status"], "GAVE_UP", "{again}");
}

/// A refund as the aggregator asks for it, sent again (same refund id and content) until the
/// acquirer answers it final: the aggregator's own retry of a call that went unanswered.
async fn refund_until_final(net: &Net, order_id: &str, refund_id: &str, amount: i64) -> Value {
	let body = serde_json::json!({
		"orderId": order_id, "aggregatorRefundId": refund_id, "amount": amount, "currency": "CNY",
	});
	wait_for(Duration::from_secs(120), &format!("refund {refund_id} final"), || async {
		let answer: Result<Value, _> = net
			.aggregator
			.call(Method::POST, "/v1/refunds", Some(&body), Duration::from_secs(15))
			.await;
		answer.ok().filter(|r| matches!(r["status"].as_str(), Some("SUCCESS" | "FAILED")))
	})
	.await
}

/// Refunds under the faults payments face: each service SIGKILLed at each point of a refund
/// (taken and not sent; finalized and not recorded; credited and not answered), the issuer
/// down while refunds settle, the aggregator losing its acknowledgements. Each refund settles
/// on chain once and is credited to its wallet once, and the audit, refunds included, passes.
#[tokio::test(flavor = "multi_thread")]
async fn refunds_under_faults_are_credited_once() {
	let mut net = Net::start("refundfaults", &[]).await;
	let wallets = open_shop(&net, 2).await;
	let before = Baseline::take(&net).await;
	let net_arc = Arc::new(net);
	let started = pay_concurrently(&net_arc, "RFF", &wallets, 4).await;
	for s in &started {
		assert_eq!(final_status(&net_arc, &s.order_id).await, "SUCCESS", "{}", net_arc.logs());
	}
	net = Arc::into_inner(net_arc).expect("no other holder of the network");
	let mut refunds = 0;

	// A kill at each point of a refund; the aggregator sends its refund again after the
	// restart, and it ends once.
	for (n, point) in faults::REFUND_POINTS.iter().enumerate() {
		let issuer = point.starts_with("issuer");
		net.restart_service(issuer, Some(point)).await;
		let order = &started[n].order_id;
		let refund_id = format!("RF-{point}");
		let body = serde_json::json!({
			"orderId": order, "aggregatorRefundId": refund_id, "amount": 300, "currency": "CNY",
		});
		let _: Result<Value, _> = net
			.aggregator
			.call(Method::POST, "/v1/refunds", Some(&body), Duration::from_secs(15))
			.await;
		net.restart_after_crash(issuer, point).await;
		let done = refund_until_final(&net, order, &refund_id, 300).await;
		assert_eq!(done["status"], "SUCCESS", "{point}: {done}\n{}", net.logs());
		refunds += 1;
	}

	// The issuer down while refunds settle, the aggregator losing its acknowledgements: the
	// refunds settle on chain, the credits and notifications wait and are sent again.
	net.issuer.kill();
	net.set_notify_mode(NotifyMode::LoseAck);
	for s in &started {
		let done =
			refund_until_final(&net, &s.order_id, &format!("RF-DOWN-{}", s.order_id), 200).await;
		assert_eq!(done["status"], "SUCCESS", "{done}");
		refunds += 1;
	}
	tokio::time::sleep(Duration::from_secs(2)).await;
	net.issuer.restart();
	net.wait_healthy().await;
	net.set_notify_mode(NotifyMode::Acknowledge);

	let tally = audit(&net, &before, SETTLE).await;
	eprintln!("refunds under faults: {tally:?}");
	assert_eq!((tally.succeeded, tally.refunds), (started.len(), refunds));
}
