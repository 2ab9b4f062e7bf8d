//! Both services and the real dev node, driven the way the wallet app, the aggregator (with
//! its merchants) and the clearing bank use them: every payment flow end to end,
//! every refusal, and duplicates that must move money once. Every response is checked against
//! the services' OpenAPI documents. At the end every party's records and the chain agree to
//! the minor unit, and both services reconcile the closed cycle with the chain.

mod support;

use clearline_client::{calls, queries, Signer};
use clearline_testkit::wait_for;
use clearline_workers::{common::now_ms, peer::PeerError};
use pallet_fx_rate::CurrencyCode;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;
use support::{signed_call, ss58, Net, Options, AGG, PIN};

#[tokio::test(flavor = "multi_thread")]
async fn every_flow_settles_and_every_record_agrees() {
	let net = Net::start("flows", &[]).await;
	let shop = net.merchant("SHOP-001", "Lucky Noodles").await;
	let shop_id = shop["merchantId"].as_str().unwrap().to_string();
	net.wallet("W-ALICE", 1_000_000).await;
	let bob_hkd = net.chain_balance("//Bob", CurrencyCode::HKD).await;
	let dave_cny = net.chain_balance("//Dave", CurrencyCode::CNY).await;

	// 1. Customer-presented: the merchant scans the wallet's code.
	let code = net.payment_code("W-ALICE").await;
	assert!(code.starts_with("39") && code.len() == 18);
	let cp = net.micropay("AGG-CP-1", "SHOP-001", &code, 9_213).await;
	assert_eq!(cp["status"], "SUCCESS", "{cp}\n{}", net.logs());
	assert_eq!(cp["isoStatus"], "ACSC");
	let cp_issuer = net.issuer_order_for("W-ALICE", &code).await;
	assert_eq!(cp_issuer["status"], "SUCCESS");
	assert_eq!(cp_issuer["acquirerOrderId"], cp["orderId"]);
	assert_eq!(cp_issuer["postingId"], cp["postingId"]);

	// A duplicate micropay is the same order and moves no money.
	let balance = net.balance("W-ALICE").await;
	let (status, again) = net
		.agg(
			Method::POST,
			"/v1/micropay",
			"/v1/micropay",
			Some(json!({
				"aggregatorOrderId": "AGG-CP-1", "merchantId": "SHOP-001", "authCode": code,
				"amount": 9_213, "currency": "CNY", "description": "noodles",
			})),
		)
		.await;
	assert_eq!((status, &again["orderId"]), (200, &cp["orderId"]));
	// The same key with other content is refused by name.
	let (status, e) = net
		.agg(
			Method::POST,
			"/v1/micropay",
			"/v1/micropay",
			Some(json!({
				"aggregatorOrderId": "AGG-CP-1", "merchantId": "SHOP-001", "authCode": code,
				"amount": 9_999, "currency": "CNY",
			})),
		)
		.await;
	assert_eq!((status, e["code"].as_str()), (409, Some("IdempotencyKeyReused")));

	// A duplicate bookkeeping call (the issuer's instruction, sent again) answers the same
	// posting and posts nothing.
	let admin_path = format!("/v1/admin/orders/{}", cp_issuer["issuerOrderId"].as_str().unwrap());
	let (_, admin_order) =
		net.admin_issuer(Method::GET, "/v1/admin/orders/{orderId}", &admin_path, None).await;
	let as_issuer = support::as_issuer(&net.acquirer_url);
	let replayed: Value = as_issuer
		.call(
			Method::POST,
			"/v1/bookkeeping",
			Some(&json!({
				"acquirerOrderId": cp["orderId"], "issuerOrderId": cp_issuer["issuerOrderId"],
				"debitStatus": "DEBITED", "instruction": admin_order["instruction"],
			})),
			Duration::from_secs(30),
		)
		.await
		.unwrap();
	net.spec.check(&net.spec.acquirer, &Method::POST, "/v1/bookkeeping", 200, &replayed);
	assert_eq!(replayed["result"], "SUCCESS");
	assert_eq!(replayed["postingId"], cp["postingId"]);
	assert_eq!(net.balance("W-ALICE").await, balance);

	// 2. Dynamic QR: the merchant's order code, scanned and confirmed in the wallet.
	let (status, dynamic) = net
		.agg(
			Method::POST,
			"/v1/unified-order",
			"/v1/unified-order",
			Some(json!({
				"aggregatorOrderId": "AGG-DQ-1", "merchantId": "SHOP-001", "amount": 12_345,
				"currency": "CNY", "tradeType": "NATIVE", "description": "set menu",
			})),
		)
		.await;
	assert_eq!(status, 200, "{dynamic}");
	let code_url = dynamic["codeUrl"].as_str().unwrap().to_string();
	assert!(code_url.starts_with("000201010212"), "{code_url}");
	let scan_path = "/v1/wallets/W-ALICE/scan";
	let (status, preview) = net
		.app(
			PIN,
			Method::POST,
			"/v1/wallets/{walletId}/scan",
			scan_path,
			Some(json!({ "payload": code_url })),
		)
		.await;
	assert_eq!(
		(status, &preview["amount"], &preview["merchantName"]),
		(200, &json!(12_345), &json!("Lucky Noodles"))
	);
	// The confirmation names the amount the payer saw; another one, or none, pays nothing.
	let balance = net.balance("W-ALICE").await;
	for (request, what, refusal) in [
		("REQ-DQ-X1", json!({ "payload": code_url, "amount": 12_346 }), (409, "AmountMismatch")),
		("REQ-DQ-X2", json!({ "payload": code_url }), (400, "AmountRequired")),
	] {
		let (status, e) = net.pay("W-ALICE", request, what).await;
		assert_eq!((status, e["code"].as_str().unwrap()), refusal, "{e}");
	}
	assert_eq!(net.balance("W-ALICE").await, balance);
	// A payer whose wallet cannot pay fails alone: the order is open again for the next one.
	net.wallet("W-POOR", 100).await;
	let confirmed = json!({ "payload": code_url, "amount": 12_345 });
	let (status, poor) = net.pay("W-POOR", "REQ-DQ-POOR", confirmed.clone()).await;
	assert_eq!((status, poor["status"].as_str()), (200, Some("REJECTED")), "{poor}");
	assert_eq!(poor["reason"], "InsufficientBalance");
	let order_path = format!("/v1/orders/{}", dynamic["orderId"].as_str().unwrap());
	wait_for(Duration::from_secs(30), "the dynamic order open again", || async {
		let (_, o) = net.agg(Method::GET, "/v1/orders/{orderId}", &order_path, None).await;
		(o["status"] == "AWAITING_PAYMENT").then_some(())
	})
	.await;
	assert_eq!(net.balance("W-POOR").await, 100);
	let (status, dq) = net.pay("W-ALICE", "REQ-DQ-1", confirmed.clone()).await;
	assert_eq!((status, dq["status"].as_str()), (200, Some("SUCCESS")), "{dq}\n{}", net.logs());
	assert_eq!(dq["scenario"], "dynamic_qr");
	let (_, paid) = net.agg(Method::GET, "/v1/orders/{orderId}", &order_path, None).await;
	assert_eq!(
		(&paid["status"], &paid["issuerOrderId"]),
		(&json!("SUCCESS"), &dq["issuerOrderId"])
	);
	// Paying the same order code twice is refused.
	let (status, e) = net.pay("W-ALICE", "REQ-DQ-2", confirmed).await;
	assert_eq!((status, e["code"].as_str()), (409, Some("OrderNotPayable")), "{e}");

	// 3. Static QR: the shop's fixed code; the payer types the amount.
	let path = "/v1/merchants/SHOP-001/static-qr";
	let (status, shop_qr) =
		net.agg(Method::GET, "/v1/merchants/{merchantId}/static-qr", path, None).await;
	assert_eq!(status, 200);
	let static_payload = shop_qr["payload"].as_str().unwrap().to_string();
	assert!(static_payload.starts_with("000201010211") && !static_payload.contains("5406"));
	let (status, e) = net.pay("W-ALICE", "REQ-SQ-0", json!({ "payload": static_payload })).await;
	assert_eq!((status, e["code"].as_str()), (400, Some("AmountRequired")));
	let (status, sq) =
		net.pay("W-ALICE", "REQ-SQ-1", json!({ "payload": static_payload, "amount": 5_000 })).await;
	assert_eq!((status, sq["status"].as_str()), (200, Some("SUCCESS")), "{sq}\n{}", net.logs());
	assert_eq!(sq["scenario"], "static_qr");
	// The app repeating its request gets the same payment.
	let (_, sq_again) =
		net.pay("W-ALICE", "REQ-SQ-1", json!({ "payload": static_payload, "amount": 5_000 })).await;
	assert_eq!(sq_again["issuerOrderId"], sq["issuerOrderId"]);

	// 4. In-app: the merchant's app gets a prepay id and hands over to the wallet app.
	let (status, app_order) = net
		.agg(
			Method::POST,
			"/v1/unified-order",
			"/v1/unified-order",
			Some(json!({
				"aggregatorOrderId": "AGG-APP-1", "merchantId": "SHOP-001", "amount": 777,
				"currency": "CNY", "tradeType": "APP",
			})),
		)
		.await;
	assert_eq!(status, 200);
	let prepay = app_order["prepayId"].as_str().unwrap().to_string();
	let (status, ia) =
		net.pay("W-ALICE", "REQ-APP-1", json!({ "prepayId": prepay, "amount": 777 })).await;
	assert_eq!((status, ia["status"].as_str()), (200, Some("SUCCESS")), "{ia}\n{}", net.logs());
	assert_eq!(ia["scenario"], "in_app");

	// Every party agrees to the minor unit.
	let successes = [&cp_issuer, &dq, &sq, &ia];
	let hkd: i64 = successes.iter().map(|o| o["debitAmount"].as_i64().unwrap()).sum();
	let cny: i64 = successes.iter().map(|o| o["amount"].as_i64().unwrap()).sum();
	assert_eq!(cny, 9_213 + 12_345 + 5_000 + 777);
	assert_eq!(net.balance("W-ALICE").await, 1_000_000 - hkd);
	assert_eq!(net.chain_balance("//Bob", CurrencyCode::HKD).await, bob_hkd - hkd as i128);
	assert_eq!(net.chain_balance("//Dave", CurrencyCode::CNY).await, dave_cny + cny as i128);
	for o in successes {
		let acq_id = o["acquirerOrderId"].as_str().unwrap();
		let posting = queries::posting(
			&net.conn,
			&calls::account("a", &ss58("//Dave")).unwrap(),
			acq_id,
			None,
		)
		.await
		.unwrap()
		.expect("posted");
		assert_eq!(posting.debit_amount.0 as i64, o["debitAmount"].as_i64().unwrap());
		assert_eq!(posting.issuer_order_id, o["issuerOrderId"].as_str().unwrap());
		let acq = net.final_acquirer_order(acq_id).await;
		assert_eq!((acq["status"].as_str(), &acq["postingId"]), (Some("SUCCESS"), &o["postingId"]));
		// The aggregator heard of each payment (once acknowledged, never again).
		let heard = wait_for(Duration::from_secs(30), "notification", || async {
			let n = net.notifications_for(acq_id).await;
			(!n.is_empty()).then_some(n)
		})
		.await;
		assert_eq!(heard.len(), 1, "{heard:?}");
		assert_eq!((heard[0].status.as_str(), heard[0].iso_status.as_str()), ("SUCCESS", "ACSC"));
	}
	let _ = shop_id;

	// The clearing bank closes the cycle; both services reconcile it with the chain.
	net.sudo_tx("//Charlie", calls::close_cycle()).await;
	for issuer in [true, false] {
		let cycle = net.closed_cycle_report(issuer, 1).await;
		assert_eq!(cycle["ok"], true, "{cycle}");
		assert_eq!(cycle["chainEntries"], 4);
		assert_eq!(cycle["localDigest"], cycle["chainDigest"]);
		// The cycle in agreement is not compared again; its report stays readable.
		let template = "/v1/admin/cycles/{cycle}/reconciliation";
		let read = |path: &'static str| net.admin(issuer, Method::GET, template, path, None);
		let (status, recorded) = read("/v1/admin/cycles/1/reconciliation").await;
		assert_eq!((status, &recorded["report"]), (200, &cycle), "{recorded}");
		assert!(recorded["checkedAt"].as_i64().unwrap() > 0, "{recorded}");
		let (status, e) = read("/v1/admin/cycles/2/reconciliation").await;
		assert_eq!((status, e["code"].as_str()), (404, Some("CycleNotReconciled")), "{e}");
		let (status, e) = read("/v1/admin/cycles/first/reconciliation").await;
		assert_eq!((status, e["code"].as_str()), (400, Some("InvalidField")), "{e}");
	}
	let run = "/v1/admin/reconcile";
	let (status, report) = net.admin_issuer(Method::POST, run, run, None).await;
	assert_eq!(status, 200, "{report}");
	funding_is_reported_beside_the_settlement_account(&net, &report["funding"]).await;
	operations_stay_on_the_admin_listener(&net).await;
}

/// The issuer's report lists each top-up with the external transfer that funded it, beside
/// the HKD settlement account on chain that must back what the wallets hold; a top-up sent
/// again with another reference is refused and credits nothing.
async fn funding_is_reported_beside_the_settlement_account(net: &Net, funding: &Value) {
	// Both wallets: W-ALICE, and W-POOR, whose payment failed.
	let wallet = net.balance("W-ALICE").await + net.balance("W-POOR").await;
	let settlement = net.chain_balance("//Bob", CurrencyCode::HKD).await as i64;
	assert_eq!(funding["settlementAccount"], ss58("//Bob"), "{funding}");
	assert_eq!(funding["settlementBalance"], settlement, "{funding}");
	assert_eq!(funding["walletBalances"], wallet, "{funding}");
	assert_eq!(funding["backed"], settlement >= wallet, "{funding}");
	assert_eq!(funding["shortfall"], (wallet - settlement).max(0), "{funding}");
	assert_eq!(
		(funding["topupCount"].as_i64(), funding["unreferencedTopups"].as_i64()),
		(Some(2), Some(0))
	);
	let line = &funding["recentTopups"][1];
	assert_eq!(
		(&line["topupId"], &line["walletId"], &line["amount"], &line["reference"]),
		(&json!("TOPUP-W-ALICE"), &json!("W-ALICE"), &json!(1_000_000), &json!("FPS-W-ALICE")),
	);
	let path = "/v1/admin/wallets/W-ALICE/topups";
	let template = "/v1/admin/wallets/{walletId}/topups";
	for (body, refusal) in [
		(
			json!({"topupId": "TOPUP-W-ALICE", "amount": 1_000_000, "reference": "FPS-OTHER"}),
			(409, "IdempotencyKeyReused"),
		),
		(json!({"topupId": "TOPUP-W-ALICE-2", "amount": 1_000}), (400, "MalformedBody")),
		(
			json!({"topupId": "TOPUP-W-ALICE-3", "amount": 1_000, "reference": " "}),
			(400, "InvalidField"),
		),
	] {
		let (status, e) = net.admin_issuer(Method::POST, template, path, Some(body)).await;
		assert_eq!((status, e["code"].as_str().unwrap()), refusal, "{e}");
	}
	assert_eq!(net.balance("W-ALICE").await, wallet - 100, "nothing credited");
}

/// Operations (`/v1/admin/…`, `/metrics`) answer on the admin listener only, which a port
/// alone binds to loopback; the API listener does not know them.
async fn operations_stay_on_the_admin_listener(net: &Net) {
	let get = |url: String| async move {
		let r = net.http.get(url).bearer_auth(support::ADMIN).send().await.unwrap();
		(r.status().as_u16(), r.text().await.unwrap())
	};
	for (api, admin) in
		[(&net.issuer_url, &net.issuer_admin_url), (&net.acquirer_url, &net.acquirer_admin_url)]
	{
		let (status, text) = get(format!("{admin}/metrics")).await;
		assert_eq!(status, 200);
		assert!(text.contains("_requests_total"), "{text}");
		assert_eq!(get(format!("{api}/metrics")).await.0, 404);
		let (status, text) = get(format!("{api}/v1/admin/orders/1")).await;
		assert_eq!((status, text.contains("UnknownRoute")), (404, true), "{text}");
		let port: u16 = admin.rsplit(':').next().unwrap().parse().unwrap();
		assert_eq!(listening_on(port), vec!["127.0.0.1".to_string()], "admin port {port}");
	}
	let path = "/v1/admin/orders/1";
	let (status, body) = net
		.call_at(
			&net.issuer_admin_url,
			true,
			Method::GET,
			"/v1/admin/orders/{orderId}",
			path,
			&[],
			None,
		)
		.await;
	assert_eq!((status, body["code"].as_str()), (401, Some("Unauthenticated")), "{body}");
}

/// The IPv4 addresses a socket listens on at `port`, from `/proc/net/tcp`.
fn listening_on(port: u16) -> Vec<String> {
	let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
	table
		.lines()
		.skip(1)
		.filter_map(|line| {
			let fields: Vec<&str> = line.split_whitespace().collect();
			let (addr, state) = (fields.get(1)?, fields.get(3)?);
			let (ip, p) = addr.split_once(':')?;
			(*state == "0A" && u16::from_str_radix(p, 16).ok()? == port).then(|| {
				let ip = u32::from_str_radix(ip, 16).unwrap().to_le_bytes();
				std::net::Ipv4Addr::from(ip).to_string()
			})
		})
		.collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_are_named_and_move_no_money() {
	// No no-PIN limit to speak of: the payment over the chain's debit limit below is charged
	// to a payment code without the payer's confirmation.
	let issuer_options = [
		"--code-ttl",
		"3s",
		"--pin-lock",
		"3s",
		"--session-ttl",
		"3s",
		"--no-pin-limit",
		"1000000000000",
	];
	let mut net = Net::start("refusals", &issuer_options).await;
	net.merchant("SHOP-002", "Corner Pharmacy").await;
	let closed = net.merchant("SHOP-003", "Closed Down").await;
	net.wallet("W-BEN", 500_000).await;
	let bob_hkd = net.chain_balance("//Bob", CurrencyCode::HKD).await;

	// Wrong PIN and unknown wallet: one answer, the same words, so that neither tells a
	// stranger which wallets exist or how many guesses are left.
	let path = "/v1/wallets/W-BEN/payment-codes";
	let (status, wrong) =
		net.app("111111", Method::POST, "/v1/wallets/{walletId}/payment-codes", path, None).await;
	assert_eq!((status, wrong["code"].as_str()), (401, Some("AuthenticationFailed")));
	let nobody = "/v1/wallets/W-NOBODY/payment-codes";
	let (status, unknown) =
		net.app(PIN, Method::POST, "/v1/wallets/{walletId}/payment-codes", nobody, None).await;
	assert_eq!((status, &unknown), (401, &wrong));
	let (status, e) =
		net.app("12", Method::POST, "/v1/wallets/{walletId}/payment-codes", path, None).await;
	assert_eq!((status, e["code"].as_str()), (400, Some("InvalidField")));
	sessions_are_needed_and_end(&net).await;
	internal_errors_answer_only_a_correlation_id(&net).await;

	// Expired code: the order fails without a debit, and the aggregator hears so.
	let code = net.payment_code("W-BEN").await;
	tokio::time::sleep(Duration::from_secs(4)).await;
	let order = net.micropay("AGG-EXP-1", "SHOP-002", &code, 1_000).await;
	assert_eq!(order["status"], "FAILED");
	assert!(order["reason"].as_str().unwrap().contains("PaymentCodeExpired"), "{order}");
	assert_eq!(net.balance("W-BEN").await, 500_000);
	let oid = order["orderId"].as_str().unwrap().to_string();
	let heard = wait_for(Duration::from_secs(30), "failure notification", || async {
		let n = net.notifications_for(&oid).await;
		(!n.is_empty()).then_some(n)
	})
	.await;
	assert_eq!((heard[0].status.as_str(), heard[0].iso_status.as_str()), ("FAILED", "RJCT"));

	// Reused code: the first payment succeeds, the second is refused.
	let code = net.payment_code("W-BEN").await;
	assert_eq!(
		net.micropay("AGG-USE-1", "SHOP-002", &code, 1_000).await["status"],
		"SUCCESS",
		"{}",
		net.logs()
	);
	let after_first = net.balance("W-BEN").await;
	let reused = net.micropay("AGG-USE-2", "SHOP-002", &code, 1_000).await;
	assert_eq!(reused["status"], "FAILED");
	assert!(reused["reason"].as_str().unwrap().contains("PaymentCodeUsed"), "{reused}");
	assert_eq!(net.balance("W-BEN").await, after_first);

	// Unknown and suspended merchants are refused before anything is created.
	let code = net.payment_code("W-BEN").await;
	let micropay = |merchant: &str, agg_order: &str| json!({ "aggregatorOrderId": agg_order, "merchantId": merchant, "authCode": code, "amount": 100, "currency": "CNY" });
	let (status, e) = net
		.agg(Method::POST, "/v1/micropay", "/v1/micropay", Some(micropay("NOPE", "AGG-U-1")))
		.await;
	assert_eq!((status, e["code"].as_str()), (404, Some("UnknownMerchant")));
	let closed_id = closed["merchantId"].as_str().unwrap();
	let path = format!("/v1/admin/merchants/{closed_id}/status");
	let (status, _) = net
		.admin_acquirer(
			Method::POST,
			"/v1/admin/merchants/{merchantId}/status",
			&path,
			Some(json!({ "status": "SUSPENDED" })),
		)
		.await;
	assert_eq!(status, 200);
	let (status, e) = net
		.agg(Method::POST, "/v1/micropay", "/v1/micropay", Some(micropay("SHOP-003", "AGG-S-1")))
		.await;
	assert_eq!((status, e["code"].as_str()), (403, Some("MerchantSuspended")));
	let (_, shop_qr) = net
		.admin_acquirer(
			Method::GET,
			"/v1/admin/merchants/{merchantId}",
			&format!("/v1/admin/merchants/{closed_id}"),
			None,
		)
		.await;
	assert_eq!(shop_qr["status"], "SUSPENDED");

	// A request the aggregator did not sign, or signed and altered, is refused.
	let (status, e) = net
		.plain(
			false,
			Method::POST,
			"/v1/micropay",
			"/v1/micropay",
			&[],
			Some(micropay("SHOP-002", "AGG-X")),
		)
		.await;
	assert_eq!((status, e["code"].as_str()), (401, Some("Unauthenticated")));
	// A signed request past the 1 MiB bound is refused, its body not read further.
	let mut big = micropay("SHOP-002", "AGG-BIG-BODY");
	big["description"] = "x".repeat(1 << 20).into();
	let (status, e) = net.agg(Method::POST, "/v1/micropay", "/v1/micropay", Some(big)).await;
	assert_eq!((status, e["code"].as_str()), (400, Some("BodyTooLarge")), "{e}");

	// Insufficient balance: refused by the issuer, nothing debited.
	let code = net.payment_code("W-BEN").await;
	let poor = net.micropay("AGG-POOR-1", "SHOP-002", &code, 900_000).await;
	assert_eq!(poor["status"], "FAILED");
	assert!(poor["reason"].as_str().unwrap().contains("InsufficientBalance"), "{poor}");
	assert_eq!(net.balance("W-BEN").await, after_first);

	// Over the issuer's debit limit on chain: debited, refused by the chain, reversed.
	net.wallet("W-RICH", 300_000_000).await;
	let code = net.payment_code("W-RICH").await;
	let huge = net.micropay("AGG-HUGE-1", "SHOP-002", &code, 150_000_000).await;
	assert_eq!(huge["status"], "FAILED", "{huge}");
	assert!(huge["reason"].as_str().unwrap().contains("DebitLimitExceeded"), "{huge}");
	// The issuer voids the instruction on chain before it gives the money back.
	let issuer_side = wait_for(Duration::from_secs(60), "the issuer's reversal", || async {
		let o = net.issuer_order_for("W-RICH", &code).await;
		(o["status"] == "FAILED").then_some(o)
	})
	.await;
	assert!(
		issuer_side["reason"].as_str().unwrap().contains("instruction voided in block"),
		"reversed on the chain's word: {issuer_side}"
	);
	assert_eq!(net.balance("W-RICH").await, 300_000_000);

	// A stale FX rate: the feeder stops, the clearing bank's last rate lapses (an admin rate
	// supersedes every earlier feed); the issuer's quote is refused.
	net.feeder.kill();
	net.sudo_tx(
		"//Charlie",
		calls::force_publish_rate(
			pallet_fx_rate::Pair::new(CurrencyCode::HKD, CurrencyCode::CNY),
			921_300_000,
			sp_runtime::Permill::zero(),
			1_000,
		),
	)
	.await;
	tokio::time::sleep(Duration::from_secs(3)).await;
	let code = net.payment_code("W-BEN").await;
	let stale = net.micropay("AGG-STALE-1", "SHOP-002", &code, 1_000).await;
	assert_eq!(stale["status"], "FAILED");
	assert!(stale["reason"].as_str().unwrap().contains("NoFreshRate"), "{stale}");
	assert_eq!(net.balance("W-BEN").await, after_first);
	// The feeder back: it publishes at once, its rate a fresh one.
	net.feeder.restart();
	let pair = pallet_fx_rate::Pair::new(CurrencyCode::HKD, CurrencyCode::CNY);
	wait_for(Duration::from_secs(30), "a fresh rate from the feeder", || async {
		queries::rate(&net.conn, pair, None).await.ok()
	})
	.await;

	// Only the one successful payment reached the chain.
	let spent = 500_000 - after_first;
	assert_eq!(net.chain_balance("//Bob", CurrencyCode::HKD).await, bob_hkd - spent as i128);

	// Five wrong PINs in a row (a right one resets the count) lock the wallet, for the right
	// PIN too, with the same answer; the lock (3 s here) ends by itself.
	let get = |pin: &'static str| {
		net.app(pin, Method::GET, "/v1/wallets/{walletId}", "/v1/wallets/W-BEN", None)
	};
	let admin_view = || {
		let path = "/v1/admin/wallets/W-BEN";
		net.admin_issuer(Method::GET, "/v1/admin/wallets/{walletId}", path, None)
	};
	for _ in 0..5 {
		assert_eq!(get("999999").await, (401, wrong.clone()));
	}
	assert_eq!(get(PIN).await, (401, wrong.clone()));
	let (_, w) = admin_view().await;
	assert_eq!(w["status"], "LOCKED", "{w}");
	let until = w["lockedUntil"].as_i64().unwrap();
	tokio::time::sleep(Duration::from_millis((until - now_ms()).max(0) as u64 + 300)).await;
	let (_, w) = admin_view().await;
	assert_eq!(w["status"], "ACTIVE", "the lock ended by itself: {w}");
	// Back-off: a wrong PIN right after a lock ended locks the wallet again, twice as long.
	assert_eq!(get("999999").await, (401, wrong.clone()));
	let (_, w) = admin_view().await;
	let left = w["lockedUntil"].as_i64().unwrap_or_default() - now_ms();
	assert!(w["status"] == "LOCKED" && left > 4_500, "a second lock of 6 s: {w}");
	// Operations can unlock it at once; the right PIN works again.
	let path = "/v1/admin/wallets/W-BEN/unlock";
	let (status, w) =
		net.admin_issuer(Method::POST, "/v1/admin/wallets/{walletId}/unlock", path, None).await;
	assert_eq!((status, w["status"].as_str()), (200, Some("ACTIVE")));
	assert_eq!(net.balance("W-BEN").await, after_first);

	// A merchant name the EMVCo fields cannot carry, and a typed amount where the order
	// fixes it, are refused by name.
	let (status, e) = net
		.admin_acquirer(
			Method::POST,
			"/v1/admin/merchants",
			"/v1/admin/merchants",
			Some(json!({
				"aggregatorId": AGG, "aggregatorMerchantId": "SHOP-UTF", "name": "老字號麵家",
				"city": "Shenzhen", "mcc": "5812",
			})),
		)
		.await;
	assert_eq!((status, e["code"].as_str()), (400, Some("InvalidField")));
	let (status, e) = net.pay("W-BEN", "REQ-PP-AMT", json!({ "prepayId": "PP00" })).await;
	assert_eq!((status, e["code"].as_str()), (400, Some("AmountRequired")));
}

/// A store row this release cannot read (a status a later release wrote, say) answers a
/// generic `500 Internal` whose message is only a correlation id; the service's log has the
/// error's text under that id, and nothing of the store reaches the caller.
async fn internal_errors_answer_only_a_correlation_id(net: &Net) {
	let body = json!({ "holder": "Future Release", "pin": PIN });
	let (_, w) =
		net.admin_issuer(Method::POST, "/v1/admin/wallets", "/v1/admin/wallets", Some(body)).await;
	let id = w["walletId"].as_str().unwrap().to_string();
	let url = match net.issuer_db.contains("://") {
		true => net.issuer_db.clone(),
		false => format!("sqlite://{}", net.issuer_db),
	};
	sqlx::any::install_default_drivers();
	let store = sqlx::AnyPool::connect(&url).await.unwrap();
	sqlx::query("UPDATE wallets SET status = 'FROZEN_BY_A_LATER_RELEASE' WHERE wallet_id = $1")
		.bind(&id)
		.execute(&store)
		.await
		.unwrap();
	store.close().await;
	let path = format!("/v1/admin/wallets/{id}");
	let (status, e) =
		net.admin_issuer(Method::GET, "/v1/admin/wallets/{walletId}", &path, None).await;
	assert_eq!((status, e["code"].as_str()), (500, Some("Internal")), "{e}");
	let message = e["message"].as_str().unwrap();
	let correlation = message
		.strip_prefix("internal error; correlation id ")
		.and_then(|rest| rest.strip_suffix(" (in the service's log)"))
		.unwrap_or_else(|| panic!("only a correlation id: {message}"));
	assert!(correlation.len() == 16 && correlation.bytes().all(|b| b.is_ascii_hexdigit()));
	let log = net.issuer.log_tail(200);
	let line = log.lines().find(|l| l.contains(correlation)).expect("the id in the log");
	assert!(line.contains("FROZEN_BY_A_LATER_RELEASE"), "the error's text is logged: {line}");
}

/// Wallets opened without an id get random ones; every wallet call needs a session of that
/// wallet, which ends at logout or after its time (3 s here); a payment and a payment code
/// need the PIN too.
async fn sessions_are_needed_and_end(net: &Net) {
	let mut ids = Vec::new();
	for holder in ["Ho Ka Yan", "Lee Siu Ming"] {
		let body = json!({ "holder": holder, "pin": PIN });
		let (status, w) = net
			.admin_issuer(Method::POST, "/v1/admin/wallets", "/v1/admin/wallets", Some(body))
			.await;
		assert_eq!(status, 200, "{w}");
		let id = w["walletId"].as_str().unwrap().to_string();
		let digits = id.strip_prefix('W').unwrap_or_default();
		assert!(digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
		ids.push(id);
	}
	assert_ne!(ids[0], ids[1]);
	let (mine, theirs) = (format!("/v1/wallets/{}", ids[0]), format!("/v1/wallets/{}", ids[1]));
	let get = |path: &str, token: Option<&str>| {
		let headers: Vec<_> =
			token.map(|t| ("authorization", format!("Bearer {t}"))).into_iter().collect();
		let path = path.to_string();
		async move {
			net.plain(true, Method::GET, "/v1/wallets/{walletId}", &path, &headers, None).await
		}
	};
	let code = |answer: (u16, Value)| (answer.0, answer.1["code"].as_str().map(str::to_string));
	let refused = |c: &str| (401, Some(c.to_string()));
	assert_eq!(code(get(&mine, None).await), refused("SessionRequired"));
	assert_eq!(code(get(&mine, Some(&"0".repeat(64))).await), refused("SessionInvalid"));
	let (status, session) = net.login(&ids[0], PIN).await;
	assert_eq!(status, 200, "{session}");
	let token = session["token"].as_str().unwrap().to_string();
	assert!(session["expiresAt"].as_i64().unwrap() > now_ms());
	let (status, w) = get(&mine, Some(&token)).await;
	assert_eq!((status, &w["balance"]), (200, &json!(0)), "{w}");
	// Another wallet's path with this session.
	assert_eq!(code(get(&theirs, Some(&token)).await), refused("SessionInvalid"));
	// A payment without the PIN's confirmation.
	let pay = json!({ "requestId": "REQ-NOPIN", "prepayId": "PP-NONE", "amount": 100 });
	let headers = [("authorization", format!("Bearer {token}"))];
	let path = format!("{mine}/payments");
	let answer = net
		.plain(true, Method::POST, "/v1/wallets/{walletId}/payments", &path, &headers, Some(pay))
		.await;
	assert_eq!(code(answer), refused("PinRequired"));
	// Nor a payment code: a code pays up to the no-PIN limit without the payer.
	let path = format!("{mine}/payment-codes");
	let template = "/v1/wallets/{walletId}/payment-codes";
	let answer = net.plain(true, Method::POST, template, &path, &headers, None).await;
	assert_eq!(code(answer), refused("PinRequired"));
	// Logged out: the token is no use.
	let (status, _) = net
		.plain(true, Method::DELETE, "/v1/sessions/current", "/v1/sessions/current", &headers, None)
		.await;
	assert_eq!(status, 204);
	assert_eq!(code(get(&mine, Some(&token)).await), refused("SessionInvalid"));
	// Past its time.
	let (_, session) = net.login(&ids[0], PIN).await;
	let token = session["token"].as_str().unwrap().to_string();
	assert_eq!(get(&mine, Some(&token)).await.0, 200);
	tokio::time::sleep(Duration::from_millis(3_300)).await;
	assert_eq!(code(get(&mine, Some(&token)).await), refused("SessionInvalid"));
}

/// A payment code pays without the PIN only up to the no-PIN limit (HKD 100.00 here): above
/// it the merchant's micropay answers `USERPAYING`, the wallet app shows the payment waiting,
/// and nothing is debited until the payer confirms with the PIN; the merchant learns the result
/// from the order query and the notification. Declined, or not confirmed in time (8 s here),
/// the order fails and nothing moves. Below the limit nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn payments_above_the_no_pin_limit_wait_for_the_payer() {
	let net = Net::start(
		"userpaying",
		&["--no-pin-limit", "10000", "--confirm-window", "8s", "--code-ttl", "2s"],
	)
	.await;
	net.merchant("SHOP-BIG", "Jade Jewellers").await;
	net.wallet("W-BIG", 1_000_000).await;
	let net = &net;
	let micropay = |agg_order: &'static str, cny: i64| async move {
		let code = net.payment_code("W-BIG").await;
		let (status, order) = net
			.agg(
				Method::POST,
				"/v1/micropay",
				"/v1/micropay",
				Some(json!({
					"aggregatorOrderId": agg_order, "merchantId": "SHOP-BIG", "authCode": code,
					"amount": cny, "currency": "CNY", "description": "bangle",
				})),
			)
			.await;
		assert_eq!(status, 200, "{order}");
		order
	};
	let pending = || async {
		let (status, list) = net
			.app(
				PIN,
				Method::GET,
				"/v1/wallets/{walletId}/pending",
				"/v1/wallets/W-BIG/pending",
				None,
			)
			.await;
		assert_eq!(status, 200, "{list}");
		list.as_array().unwrap().clone()
	};
	let before = net.balance("W-BIG").await;

	// Above the limit: USERPAYING at once, nothing debited, the payment waiting in the app.
	let order = micropay("AGG-BIG-1", 20_000).await;
	assert_eq!(order["status"], "USERPAYING", "{order}\n{}", net.logs());
	let waiting = pending().await;
	assert_eq!(waiting.len(), 1, "{waiting:?}");
	let issuer_order = waiting[0]["issuerOrderId"].as_str().unwrap().to_string();
	assert_eq!(waiting[0]["status"], "AWAITING_PAYER");
	assert_eq!(
		(&waiting[0]["amount"], &waiting[0]["merchantName"]),
		(&json!(20_000), &json!("Jade Jewellers"))
	);
	assert!(waiting[0]["confirmBy"].as_i64().unwrap() > now_ms());
	assert_eq!(net.balance("W-BIG").await, before);
	let path = format!("/v1/orders/{}", order["orderId"].as_str().unwrap());
	let (_, queried) = net.agg(Method::GET, "/v1/orders/{orderId}", &path, None).await;
	assert_eq!(queried["status"], "USERPAYING");
	// A wrong PIN confirms nothing; the right one pays, after the code's own 2 s: the code
	// was spent for this payment while it was valid.
	tokio::time::sleep(Duration::from_millis(2_500)).await;
	let confirm = format!("/v1/wallets/W-BIG/pending/{issuer_order}/confirm");
	let template = "/v1/wallets/{walletId}/pending/{orderId}/confirm";
	let (status, e) = net.app("999999", Method::POST, template, &confirm, None).await;
	assert_eq!((status, e["code"].as_str()), (401, Some("AuthenticationFailed")));
	let (status, paid) = net.app(PIN, Method::POST, template, &confirm, None).await;
	assert_eq!(status, 200, "{paid}");
	let done = net.final_acquirer_order(order["orderId"].as_str().unwrap()).await;
	assert_eq!(done["status"], "SUCCESS", "{done}\n{}", net.logs());
	let (_, issuer_view) = net
		.app(
			PIN,
			Method::GET,
			"/v1/wallets/{walletId}/payments/{orderId}",
			&format!("/v1/wallets/W-BIG/payments/{issuer_order}"),
			None,
		)
		.await;
	assert_eq!(issuer_view["status"], "SUCCESS");
	let debited = issuer_view["debitAmount"].as_i64().unwrap();
	assert!(debited > 10_000, "above the limit: {debited}");
	assert_eq!(net.balance("W-BIG").await, before - debited);
	wait_for(Duration::from_secs(30), "the SUCCESS notification", || async {
		let heard = net.notifications_for(order["orderId"].as_str().unwrap()).await;
		heard.iter().any(|n| n.status == "SUCCESS").then_some(())
	})
	.await;
	// Answered once: a second confirmation finds nothing waiting.
	let (status, e) = net.app(PIN, Method::POST, template, &confirm, None).await;
	assert_eq!((status, e["code"].as_str()), (404, Some("UnknownOrder")));
	let before = before - debited;

	// Declined: the merchant's order fails, nothing debited.
	let order = micropay("AGG-BIG-2", 20_000).await;
	assert_eq!(order["status"], "USERPAYING");
	let id = pending().await[0]["issuerOrderId"].as_str().unwrap().to_string();
	let decline = format!("/v1/wallets/W-BIG/pending/{id}/decline");
	let (status, declined) = net
		.app(PIN, Method::POST, "/v1/wallets/{walletId}/pending/{orderId}/decline", &decline, None)
		.await;
	assert_eq!(
		(status, &declined["status"], &declined["reason"]),
		(200, &json!("REJECTED"), &json!("PayerDeclined"))
	);
	let failed = net.final_acquirer_order(order["orderId"].as_str().unwrap()).await;
	assert_eq!(failed["status"], "FAILED");
	assert!(failed["reason"].as_str().unwrap().contains("PayerDeclined"), "{failed}");

	// Not confirmed in time: refused by the issuer's next reconciliation run.
	let order = micropay("AGG-BIG-3", 20_000).await;
	assert_eq!(order["status"], "USERPAYING");
	let id = pending().await[0]["issuerOrderId"].as_str().unwrap().to_string();
	tokio::time::sleep(Duration::from_millis(8_500)).await;
	let late = format!("/v1/wallets/W-BIG/pending/{id}/confirm");
	let (status, e) = net.app(PIN, Method::POST, template, &late, None).await;
	assert!(
		matches!(
			(status, e["code"].as_str()),
			(409, Some("ConfirmationExpired")) | (404, Some("UnknownOrder"))
		),
		"{status} {e}"
	);
	let failed = net.final_acquirer_order(order["orderId"].as_str().unwrap()).await;
	assert!(failed["reason"].as_str().unwrap().contains("PayerDidNotConfirm"), "{failed}");
	assert!(pending().await.is_empty());
	assert_eq!(net.balance("W-BIG").await, before);

	// Below the limit: paid at once.
	let order = micropay("AGG-BIG-4", 5_000).await;
	let done = net.final_acquirer_order(order["orderId"].as_str().unwrap()).await;
	assert_eq!(done["status"], "SUCCESS", "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn payments_in_flight_survive_a_kill_of_either_service() {
	let mut net = Net::start("crash", &["--instruction-validity", "20s"]).await;
	net.merchant("SHOP-009", "Night Market").await;
	net.wallet("W-CAT", 10_000_000).await;
	let bob_hkd = net.chain_balance("//Bob", CurrencyCode::HKD).await;
	let dave_cny = net.chain_balance("//Dave", CurrencyCode::CNY).await;

	// A burst of payments, the issuer SIGKILLed right behind it, then the acquirer behind a
	// second burst; each restarted on its store.
	let mut orders = Vec::new();
	for round in 0..2 {
		let mut codes = Vec::new();
		for _ in 0..8 {
			codes.push(net.payment_code("W-CAT").await);
		}
		for (i, code) in codes.iter().enumerate() {
			let (status, o) = net
				.agg(
					Method::POST,
					"/v1/micropay",
					"/v1/micropay",
					Some(json!({
						"aggregatorOrderId": format!("AGG-K{round}-{i}"), "merchantId": "SHOP-009",
						"authCode": code, "amount": 1_000 + i as i64, "currency": "CNY",
					})),
				)
				.await;
			assert_eq!(status, 200, "{o}");
			orders.push(o["orderId"].as_str().unwrap().to_string());
		}
		let victim = if round == 0 { &mut net.issuer } else { &mut net.acquirer };
		victim.kill();
		tokio::time::sleep(Duration::from_secs(2)).await;
		victim.restart();
		net.wait_healthy().await;
	}

	// Every order ends final, on both sides, and the money moved once for each success.
	let mut cny = 0i64;
	let mut successes = 0;
	for id in &orders {
		let acq = wait_for(Duration::from_secs(120), &format!("{id} final"), || async {
			let (_, o) = net
				.agg(Method::GET, "/v1/orders/{orderId}", &format!("/v1/orders/{id}"), None)
				.await;
			matches!(o["status"].as_str(), Some("SUCCESS" | "FAILED")).then_some(o)
		})
		.await;
		if acq["status"] == "SUCCESS" {
			cny += acq["amount"].as_i64().unwrap();
			successes += 1;
		}
	}
	let mut hkd = 0i64;
	let mut issuer_successes = 0;
	for id in &orders {
		let status_path = format!("/v1/debits/{id}");
		let as_acquirer = support::as_acquirer(&net.issuer_url);
		let debit: Value =
			wait_for(Duration::from_secs(120), &format!("issuer side of {id}"), || async {
				let d: Value = as_acquirer
					.call::<(), _>(Method::GET, &status_path, None, Duration::from_secs(10))
					.await
					.ok()?;
				matches!(d["status"].as_str(), Some("SUCCESS" | "FAILED" | "REJECTED")).then_some(d)
			})
			.await;
		net.spec.check(&net.spec.issuer, &Method::GET, "/v1/debits/{acquirerOrderId}", 200, &debit);
		let path = format!("/v1/admin/orders/{}", debit["issuerOrderId"].as_str().unwrap());
		let (_, o) = net.admin_issuer(Method::GET, "/v1/admin/orders/{orderId}", &path, None).await;
		if o["status"] == "SUCCESS" {
			hkd += o["debitAmount"].as_i64().unwrap();
			issuer_successes += 1;
		}
	}
	let resumed = |log: String| log.lines().filter(|l| l.contains("resum")).count();
	eprintln!(
		"{successes} of {} payments succeeded across the kills; on restart the issuer resumed {} orders, the acquirer {}",
		orders.len(),
		resumed(net.issuer.log_tail(2_000)),
		resumed(net.acquirer.log_tail(2_000)),
	);
	assert_eq!(issuer_successes, successes, "both sides agree on which payments succeeded");
	assert_eq!(net.balance("W-CAT").await, 10_000_000 - hkd);
	assert_eq!(net.chain_balance("//Bob", CurrencyCode::HKD).await, bob_hkd - hkd as i128);
	assert_eq!(net.chain_balance("//Dave", CurrencyCode::CNY).await, dave_cny + cny as i128);
}

/// Each message is for one recipient, and each answer from one responder: a request signed
/// for another party is refused by name wherever it is sent, a notification goes only to the
/// aggregator it names, and the acquirer answers aggregators with a key other than the one it
/// uses toward the issuer. None of the misdirected messages moves anything.
#[tokio::test(flavor = "multi_thread")]
async fn messages_count_only_at_their_recipient_and_answers_only_from_theirs() {
	use clearline_testkit::{ACQUIRER_KEYS, ISSUER_KEYS};
	use clearline_workers::auth;
	let net = Net::start("recipients", &[]).await;
	net.merchant("SHOP-REC", "Tea House").await;
	net.wallet("W-REC", 100_000).await;
	let code = net.payment_code("W-REC").await;
	let aggregator = (AGG, "//Aggregator1");
	let micropay = json!({
		"aggregatorOrderId": "AGG-REC-1", "merchantId": "SHOP-REC", "authCode": code,
		"amount": 1_000, "currency": "CNY",
	});
	let acquirer = |path: &str| format!("{}{path}", net.acquirer_url);
	let issuer = |path: &str| format!("{}{path}", net.issuer_url);

	// The aggregator's micropay, signed for the issuer, is refused by the acquirer.
	let (status, e, _) =
		signed_call(&acquirer("/v1/micropay"), aggregator, "issuer", Method::POST, Some(&micropay))
			.await;
	assert_eq!((status, e["code"].as_str()), (401, Some("WrongRecipient")), "{e}");
	// The acquirer's debit status query, signed for an aggregator, is refused by the issuer.
	let (status, e, _) = signed_call(
		&issuer("/v1/debits/ACQ-NONE"),
		("acquirer", ACQUIRER_KEYS.api),
		AGG,
		Method::GET,
		None,
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (401, Some("WrongRecipient")), "{e}");
	// The issuer's key, signed for the acquirer, cannot notify the aggregator.
	let notification = json!({
		"aggregatorId": AGG, "orderId": "ACQ-FAKE", "aggregatorOrderId": "AGG-REC-1",
		"merchantId": "SHOP-REC", "status": "SUCCESS", "isoStatus": "ACSC", "amount": 1_000,
		"currency": "CNY", "postingId": 1, "blockNumber": 1, "reason": null,
	});
	let (status, e, _) = signed_call(
		&net.notify_url,
		("issuer", ISSUER_KEYS.api),
		"acquirer",
		Method::POST,
		Some(&notification),
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (401, Some("UnknownParty")), "{e}");
	// The acquirer's own notification key: signed for another aggregator, or naming another
	// aggregator inside, it is refused by this one.
	let acquirer_to_aggregators = ("acquirer", ACQUIRER_KEYS.aggregators.unwrap());
	let (status, e, _) = signed_call(
		&net.notify_url,
		acquirer_to_aggregators,
		"agg-2",
		Method::POST,
		Some(&notification),
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (401, Some("WrongRecipient")), "{e}");
	let mut for_another = notification.clone();
	for_another["aggregatorId"] = "agg-2".into();
	let (status, e, _) = signed_call(
		&net.notify_url,
		acquirer_to_aggregators,
		AGG,
		Method::POST,
		Some(&for_another),
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (401, Some("WrongRecipient")), "{e}");
	assert!(
		net.inbox.heard().deliveries.is_empty(),
		"the aggregator applied a forged notification"
	);
	// The acquirer's API key toward the issuer cannot notify an aggregator either.
	let (status, e, _) = signed_call(
		&net.notify_url,
		("acquirer", ACQUIRER_KEYS.api),
		AGG,
		Method::POST,
		Some(&notification),
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (401, Some("BadSignature")), "{e}");

	// Nothing moved: no order, no debit.
	let (status, _) =
		net.agg(Method::GET, "/v1/orders", "/v1/orders?aggregatorOrderId=AGG-REC-1", None).await;
	assert_eq!(status, 404);
	assert_eq!(net.balance("W-REC").await, 100_000);

	// Answers: the acquirer signs toward aggregators with its aggregator key, toward the issuer
	// with its API key; an answer verifies under the key its caller expects, never the other.
	let request_for = |key: &str| {
		auth::sign(
			&Signer::from_uri(key).unwrap(),
			AGG,
			"acquirer",
			"GET",
			"/v1/orders/ACQ-NONE",
			b"",
		)
	};
	let sent = request_for("//Aggregator1");
	let mut call = reqwest::Client::new().get(acquirer("/v1/orders/ACQ-NONE"));
	for (name, value) in &sent.headers {
		call = call.header(*name, value);
	}
	let answer = call.send().await.unwrap();
	let (status, headers) = (answer.status().as_u16(), answer.headers().clone());
	let body = answer.bytes().await.unwrap();
	assert_eq!(status, 404);
	let as_known = |key: &str| support::counterparty("acquirer", key);
	auth::verify_answer(
		&headers,
		&as_known(ACQUIRER_KEYS.aggregators.unwrap()),
		AGG,
		&sent,
		status,
		&body,
	)
	.unwrap();
	assert!(auth::verify_answer(&headers, &as_known(ACQUIRER_KEYS.api), AGG, &sent, status, &body)
		.is_err());
	assert!(auth::verify_answer(
		&headers,
		&as_known(ACQUIRER_KEYS.chain),
		AGG,
		&sent,
		status,
		&body
	)
	.is_err());

	// And the real payment, addressed right, goes through.
	let paid = net.micropay("AGG-REC-1", "SHOP-REC", &code, 1_000).await;
	assert_eq!(paid["status"], "SUCCESS", "{paid}\n{}", net.logs());

	// The stores, wallets and PIN hashes in them, are their owner's alone.
	if support::postgres_server().is_none() {
		use std::os::unix::fs::PermissionsExt;
		for store in [&net.issuer_db, &net.acquirer_db] {
			for file in [store.clone(), format!("{store}-wal")] {
				let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
				assert_eq!(mode, 0o600, "{file}");
			}
		}
	}
}

/// A service refuses to start with one key in two roles, or over plain HTTP unless told to.
#[tokio::test(flavor = "multi_thread")]
async fn a_service_refuses_one_key_in_two_roles() {
	let dir = tempfile::tempdir().unwrap();
	let database = dir.path().join("acquirer.sqlite");
	let start = |transport: &[&str], api: &str, aggregators: &str| {
		std::process::Command::new(support::ACQUIRER)
			.args(["--listen", "127.0.0.1:0", "--admin-listen", "0"])
			.args(transport)
			.args(["--database", database.to_str().unwrap()])
			.args(["--node-url", "ws://127.0.0.1:9", "--chain-key", "//Dave", "--api-key", api])
			.args(["--aggregator-key", aggregators, "--peer-url", "http://127.0.0.1:9"])
			.args(["--peer-public-key", &ss58("//Bob//api")])
			.env("CLEARLINE_ADMIN_TOKEN", "t")
			.args(["--log-format", "text"])
			.output()
			.unwrap()
	};
	let run = |api: &str, aggregators: &str| start(&["--insecure-http"], api, aggregators);
	// Neither a certificate nor --insecure-http; a certificate but a plain-HTTP peer.
	let cert = dir.path().join("cert.pem");
	let key = dir.path().join("key.pem");
	let self_signed = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
	std::fs::write(&cert, self_signed.serialize_pem().unwrap()).unwrap();
	std::fs::write(&key, self_signed.serialize_private_key_pem()).unwrap();
	let with_cert = ["--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()];
	for (transport, refusal) in [
		(&[][..], "give --tls-cert and --tls-key, or --insecure-http"),
		(&with_cert[..], "--peer-url http://127.0.0.1:9 is plain HTTP"),
	] {
		let out = start(transport, "//Dave//api", "//Dave//aggregators");
		let stderr = String::from_utf8_lossy(&out.stderr);
		assert!(!out.status.success() && stderr.contains(refusal), "{transport:?}: {stderr}");
	}
	// Nor is the admin token a command-line argument (the process list shows those).
	let mut with_token_flag = std::process::Command::new(support::ACQUIRER);
	let out =
		with_token_flag.args(["--admin-token", "t", "--listen", "127.0.0.1:0"]).output().unwrap();
	let stderr = String::from_utf8_lossy(&out.stderr);
	assert!(!out.status.success() && stderr.contains("--admin-token"), "{stderr}");
	for (api, aggregators) in [
		("//Dave", "//Dave//aggregators"),
		("//Dave//api", "//Dave//api"),
		("//Dave//api", "//Dave"),
	] {
		let out = run(api, aggregators);
		let stderr = String::from_utf8_lossy(&out.stderr);
		assert!(
			!out.status.success() && stderr.contains("KeysNotDistinct"),
			"{api} {aggregators}: {stderr}"
		);
	}
}

/// The wallet app's logins and calls are rate-limited per wallet and per client address,
/// before the PIN is checked: guessing goes no faster than the limits, a refused login is not
/// counted as a PIN attempt, and another wallet's logins from elsewhere are not held up by it.
#[tokio::test(flavor = "multi_thread")]
async fn wallet_calls_past_their_rate_are_refused_before_the_pin_is_checked() {
	let net = Net::start("rates", &["--wallet-rate", "4", "--client-rate", "6"]).await;
	net.wallet("W-RATE", 10_000).await;
	net.wallet("W-OTHER", 10_000).await;
	// Four logins for W-RATE (three wrong PINs among them), then it waits.
	for _ in 0..3 {
		assert_eq!(net.login("W-RATE", "999999").await.0, 401);
	}
	assert_eq!(net.login("W-RATE", PIN).await.0, 200);
	let raw = reqwest::Client::new()
		.post(format!("{}/v1/sessions", net.issuer_url))
		.json(&serde_json::json!({ "walletId": "W-RATE", "pin": "999999" }))
		.send()
		.await
		.unwrap();
	assert_eq!(raw.status().as_u16(), 429);
	let retry_after: u64 = raw.headers()["retry-after"].to_str().unwrap().parse().unwrap();
	assert!((1..=15).contains(&retry_after), "{retry_after}");
	let e: serde_json::Value = raw.json().await.unwrap();
	assert_eq!(e["code"], "TooManyRequests");
	// The refused login was not a PIN attempt: W-RATE has no wrong PIN counted toward its
	// lock beyond the three (a right PIN cleared them), and is active.
	let (_, w) = net
		.admin_issuer(Method::GET, "/v1/admin/wallets/{walletId}", "/v1/admin/wallets/W-RATE", None)
		.await;
	assert_eq!(w["status"], "ACTIVE", "{w}");
	// The client's budget (six a minute) is spent after two more calls for another wallet.
	assert_eq!(net.login("W-OTHER", PIN).await.0, 200);
	assert_eq!(net.login("W-OTHER", PIN).await.0, 429);
}

/// One payment between the banks over mutual TLS, with certificates the test makes: the
/// aggregator's micropay, the acquirer's debit request to the issuer and the issuer's
/// bookkeeping call back, all on https. The other bank's endpoints refuse a signed request
/// that came without a client certificate, a certificate from another CA gets no
/// connection, plain HTTP gets no answer, and none of it moves money.
#[tokio::test(flavor = "multi_thread")]
async fn a_payment_settles_over_mutual_tls() {
	let net = Net::launch(Options::new("mtls").with_tls()).await;
	let pki = net.pki.as_ref().unwrap();
	assert!(net.issuer_url.starts_with("https://") && net.acquirer_url.starts_with("https://"));
	net.merchant("SHOP-001", "Lucky Noodles").await;
	net.wallet("W-TLS", 100_000).await;
	let code = net.payment_code("W-TLS").await;
	let order = net.micropay("AGG-TLS-1", "SHOP-001", &code, 9_213).await;
	assert_eq!(order["status"], "SUCCESS", "{order}\n{}", net.logs());
	let issuer_order = net.issuer_order_for("W-TLS", &code).await;
	assert_eq!(issuer_order["status"], "SUCCESS");
	let balance = net.balance("W-TLS").await;
	assert_eq!(balance, 100_000 - issuer_order["debitAmount"].as_i64().unwrap());

	// The issuer's own signature, without the issuer's certificate: refused by name.
	let order_id = order["orderId"].as_str().unwrap();
	let bookkeeping_as_issuer = |http: reqwest::Client| {
		let path = format!("/v1/bookkeeping/{order_id}");
		let peer = support::issuer_with(&net.acquirer_url, http);
		async move {
			let timeout = Duration::from_secs(10);
			peer.call::<(), Value>(Method::GET, &path, None, timeout).await
		}
	};
	let no_cert = pki.client(None);
	let refused = bookkeeping_as_issuer(no_cert.clone()).await;
	assert!(
		matches!(&refused, Err(PeerError::Refused { status: 401, code, .. }) if code == "ClientCertificateRequired"),
		"{refused:?}"
	);
	let as_acquirer = support::acquirer_with(&net.issuer_url, no_cert.clone());
	let body = json!({ "acquirerOrderId": "ACQ-FORGED" });
	let refused: Result<Value, _> =
		as_acquirer.call(Method::POST, "/v1/debits", Some(&body), Duration::from_secs(10)).await;
	assert!(
		matches!(&refused, Err(PeerError::Refused { status: 401, code, .. }) if code == "ClientCertificateRequired"),
		"{refused:?}"
	);
	// A certificate the banks' CA did not sign: no connection at all.
	let refused = bookkeeping_as_issuer(pki.client(Some(&pki.stranger))).await;
	// (Under TLS 1.3 the client hears of it only once its request is out, hence no answer
	// rather than no connection on its side.)
	assert!(
		matches!(&refused, Err(PeerError::Unreachable(_) | PeerError::Timeout(_))),
		"{refused:?}"
	);
	// The acquirer logs the refusal once its handshake task ends, which may be after the
	// client saw the connection close.
	let acquirer = &net.acquirer;
	wait_for(Duration::from_secs(15), "the acquirer to log the refused handshake", || async {
		acquirer.log_tail(400).contains("TLS handshake refused").then_some(())
	})
	.await;
	// Plain HTTP on the https port: no answer.
	let plain = net.acquirer_url.replace("https://", "http://");
	let answer = reqwest::Client::new().get(format!("{plain}/health")).send().await;
	assert!(answer.is_err(), "{answer:?}");
	// An aggregator without a client certificate is still served: only the banks need one.
	let agg = support::aggregator_with(&net.acquirer_url, no_cert);
	assert_eq!(net.final_acquirer_order_as(&agg, order_id).await["status"], "SUCCESS");
	assert_eq!(net.balance("W-TLS").await, balance, "nothing moved after the payment");
}

/// A listener holds at most `--max-connections` connections: clients that open connections
/// and send nothing, or headers that never end, fill it until `--header-timeout` closes
/// theirs, and only then is the next client served. The admin listener is not held up by it.
#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_are_closed_and_their_number_is_bounded() {
	use tokio::io::{AsyncReadExt, AsyncWriteExt};
	let net = Net::start("limits", &["--max-connections", "3", "--header-timeout", "1s"]).await;
	// The tests' own pooled connections close after the header timeout too.
	tokio::time::sleep(Duration::from_millis(1500)).await;
	let addr = net.issuer_url.trim_start_matches("http://").to_string();
	let mut held = Vec::new();
	for partial in ["", "", "GET /health HTTP/1.1\r\nHost: x\r\n"] {
		let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
		stream.write_all(partial.as_bytes()).await.unwrap();
		held.push(stream);
	}
	let fresh = || reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
	let health = |base: String| {
		let http = fresh();
		async move {
			let request = http.get(format!("{base}/health")).timeout(Duration::from_millis(400));
			request.send().await.map(|r| r.status().as_u16())
		}
	};
	let started = std::time::Instant::now();
	let waiting = health(net.issuer_url.clone()).await;
	assert!(
		waiting.as_ref().is_err_and(|e| e.is_timeout()),
		"a fourth connection waits: {waiting:?}"
	);
	assert_eq!(health(net.issuer_admin_url.clone()).await.unwrap(), 200, "admin still answers");
	for (n, stream) in held.iter_mut().enumerate() {
		let mut buf = [0u8; 256];
		let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf)).await;
		assert!(matches!(read, Ok(Ok(0))), "connection {n} closed without an answer: {read:?}");
	}
	assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
	assert_eq!(health(net.issuer_url.clone()).await.unwrap(), 200, "served once they closed");
}

/// A refund as the aggregator asks for it; its status and answer, followed to its end.
async fn refund(net: &Net, body: Value) -> (u16, Value) {
	let (status, r) = net.agg(Method::POST, "/v1/refunds", "/v1/refunds", Some(body)).await;
	if status != 200 || r["status"] != "PROCESSING" {
		return (status, r);
	}
	let path = format!("/v1/refunds/{}", r["refundId"].as_str().unwrap());
	let done = wait_for(Duration::from_secs(60), "the refund final", || async {
		let (_, r) = net.agg(Method::GET, "/v1/refunds/{refundId}", &path, None).await;
		(r["status"] != "PROCESSING").then_some(r)
	})
	.await;
	(200, done)
}

/// Waits until the wallet holds `hkd`.
async fn balance_becomes(net: &Net, wallet: &str, hkd: i64) {
	wait_for(Duration::from_secs(30), &format!("{wallet} holds {hkd}"), || async {
		(net.balance(wallet).await == hkd).then_some(())
	})
	.await;
}

/// The chain's record of the acquirer's refund `refund_id`: what the issuer got back (HKD).
async fn chain_refund(net: &Net, refund_id: &str) -> i64 {
	let dave = calls::account("acquirer", &ss58("//Dave")).unwrap();
	let record = queries::refund(&net.conn, &dave, refund_id, None).await.unwrap();
	record.unwrap_or_else(|| panic!("refund {refund_id} on chain")).debit_amount.0 as i64
}

/// The rest of a merchant's order life: partial refunds up to the order's amount and none
/// beyond, each credited to the payer once at the chain's figure; a refund made on chain with
/// the CLI found by both reconciliations and resolved by an operator; micropays cancelled
/// after they posted (refunded in full) and before (never posted; the payer's debit given
/// back); an unpaid dynamic order closed. Both services then reconcile the cycle holding it
/// all.
#[tokio::test(flavor = "multi_thread")]
async fn refunds_cancels_and_closes_settle_and_reconcile() {
	let net = Net::launch(
		Options::new("refunds")
			.issuer(&["--no-pin-limit", "50000"])
			.acquirer(&["--cancel-window", "20s"]),
	)
	.await;
	let shop = net.merchant("SHOP-R", "Refund Noodles").await;
	net.wallet("W-REF", 1_000_000).await;
	let start = net.balance("W-REF").await;

	// A payment of CNY 100.00.
	let code = net.payment_code("W-REF").await;
	let paid = net.micropay("AGG-R-1", "SHOP-R", &code, 10_000).await;
	assert_eq!(paid["status"], "SUCCESS", "{paid}\n{}", net.logs());
	let order_id = paid["orderId"].as_str().unwrap().to_string();
	assert_eq!((&paid["tradeState"], &paid["refundedAmount"]), (&json!("SUCCESS"), &json!(0)));
	let issuer_order = net.issuer_order_for("W-REF", &code).await;
	let issuer_order_id = issuer_order["issuerOrderId"].as_str().unwrap().to_string();
	let debit = issuer_order["debitAmount"].as_i64().unwrap();
	assert_eq!(net.balance("W-REF").await, start - debit);

	// Two partial refunds, by our order id and by the aggregator's; each credited to the
	// wallet the HKD the chain returned, at the payment's own rate.
	let first = json!({
		"orderId": order_id, "aggregatorRefundId": "AGG-RF-1", "amount": 3_000,
		"currency": "CNY", "reason": "one bowl returned",
	});
	let (status, r1) = refund(&net, first.clone()).await;
	assert_eq!((status, r1["status"].as_str()), (200, Some("SUCCESS")), "{r1}\n{}", net.logs());
	let r1_id = r1["refundId"].as_str().unwrap().to_string();
	assert!(r1_id.starts_with("RFD"), "{r1}");
	let d1 = chain_refund(&net, &r1_id).await;
	assert_eq!(r1["debitAmount"].as_i64(), Some(d1));
	assert!(d1 > 0 && d1 < debit, "{d1} of {debit}");
	balance_becomes(&net, "W-REF", start - debit + d1).await;
	// The same request again is the same refund and credits nothing more; the same key with
	// other content is refused by name.
	let (status, again) = net.agg(Method::POST, "/v1/refunds", "/v1/refunds", Some(first)).await;
	assert_eq!((status, &again["refundId"]), (200, &r1["refundId"]), "{again}");
	let (status, e) = refund(
		&net,
		json!({
			"orderId": order_id, "aggregatorRefundId": "AGG-RF-1", "amount": 3_001,
			"currency": "CNY",
		}),
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (409, Some("IdempotencyKeyReused")), "{e}");
	let (status, r2) = refund(
		&net,
		json!({
			"aggregatorOrderId": "AGG-R-1", "aggregatorRefundId": "AGG-RF-2", "amount": 5_000,
			"currency": "CNY",
		}),
	)
	.await;
	assert_eq!((status, r2["status"].as_str()), (200, Some("SUCCESS")), "{r2}");
	let d2 = chain_refund(&net, r2["refundId"].as_str().unwrap()).await;
	balance_becomes(&net, "W-REF", start - debit + d1 + d2).await;
	let (status, found) =
		net.agg(Method::GET, "/v1/refunds", "/v1/refunds?aggregatorRefundId=AGG-RF-2", None).await;
	assert_eq!((status, &found["refundId"]), (200, &r2["refundId"]));

	// A full refund now asks for more than remains: refused by name, nothing written.
	let (status, e) = refund(
		&net,
		json!({
			"orderId": order_id, "aggregatorRefundId": "AGG-RF-3", "amount": 10_000,
			"currency": "CNY",
		}),
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (409, Some("RefundExceedsRemaining")), "{e}");
	let (status, e) =
		net.agg(Method::GET, "/v1/refunds", "/v1/refunds?aggregatorRefundId=AGG-RF-3", None).await;
	assert_eq!((status, e["code"].as_str()), (404, Some("UnknownRefund")));
	let (status, e) = refund(
		&net,
		json!({
			"orderId": "ACQ999999999999", "aggregatorRefundId": "AGG-RF-4", "amount": 100,
			"currency": "CNY",
		}),
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (404, Some("UnknownOrder")));
	let (status, e) = refund(
		&net,
		json!({
			"orderId": order_id, "aggregatorRefundId": "CANCEL-MINE", "amount": 100,
			"currency": "CNY",
		}),
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (400, Some("InvalidField")), "reserved: {e}");

	// The merchant and the payer see the refunds.
	let (_, o) =
		net.agg(Method::GET, "/v1/orders/{orderId}", &format!("/v1/orders/{order_id}"), None).await;
	assert_eq!((&o["status"], &o["tradeState"]), (&json!("SUCCESS"), &json!("PARTIAL_REFUND")));
	assert_eq!(o["refundedAmount"], 8_000);
	let heard = wait_for(Duration::from_secs(30), "the refunds' notifications", || async {
		let n = net.notifications_for(&order_id).await;
		(n.iter().filter(|n| n.refund.is_some()).count() >= 2).then_some(n)
	})
	.await;
	let refunds: Vec<_> = heard.iter().filter_map(|n| n.refund.clone()).collect();
	assert_eq!(refunds.len(), 2, "{heard:?}");
	assert!(refunds.iter().all(|r| r.status == "SUCCESS"), "{refunds:?}");
	assert!(heard.iter().filter(|n| n.refund.is_some()).all(|n| n.status == "PARTIAL_REFUND"));
	let (status, history) = net
		.app(PIN, Method::GET, "/v1/wallets/{walletId}/history", "/v1/wallets/W-REF/history", None)
		.await;
	assert_eq!(status, 200, "{history}");
	let lines = history.as_array().unwrap();
	let refund_lines: Vec<i64> = lines
		.iter()
		.filter(|l| l["kind"] == "REFUND" && l["issuerOrderId"] == json!(issuer_order_id))
		.map(|l| l["amount"].as_i64().unwrap())
		.collect();
	assert_eq!(refund_lines, vec![d2, d1], "newest first: {history:#}");
	assert!(lines.iter().any(|l| l["kind"] == "DEBIT" && l["amount"] == json!(-debit)));
	let (_, payment) = net
		.app(
			PIN,
			Method::GET,
			"/v1/wallets/{walletId}/payments/{orderId}",
			&format!("/v1/wallets/W-REF/payments/{issuer_order_id}"),
			None,
		)
		.await;
	assert_eq!(
		(&payment["refundedAmount"], &payment["refundedDebitAmount"]),
		(&json!(8_000), &json!(d1 + d2))
	);

	// A refund made on chain with the CLI, the acquirer's key, outside both services.
	net.sudo_tx("//Dave", calls::refund(&order_id, "CLI-RF-1", 1_000).unwrap()).await;
	let d_cli = chain_refund(&net, "CLI-RF-1").await;

	// Cancel a micropay that posted: refunded in full, the payer has every cent back.
	let before_cancel = net.balance("W-REF").await;
	let code = net.payment_code("W-REF").await;
	let posted = net.micropay("AGG-R-2", "SHOP-R", &code, 5_000).await;
	assert_eq!(posted["status"], "SUCCESS");
	let cancel = format!("/v1/orders/{}/cancel", posted["orderId"].as_str().unwrap());
	let template = "/v1/orders/{orderId}/cancel";
	let (status, c) = net.agg(Method::POST, template, &cancel, None).await;
	assert_eq!((status, c["result"].as_str()), (200, Some("REFUNDED")), "{c}");
	assert_eq!(c["refund"]["amount"], 5_000);
	assert_eq!(c["order"]["cancelRequested"], true);
	balance_becomes(&net, "W-REF", before_cancel).await;
	let (status, again) = net.agg(Method::POST, template, &cancel, None).await;
	assert_eq!((status, &again["refund"]["refundId"]), (200, &c["refund"]["refundId"]));
	let final_posted = net.final_acquirer_order(posted["orderId"].as_str().unwrap()).await;
	assert_eq!(final_posted["tradeState"], "REFUND", "{final_posted}");

	// Cancel a micropay before it posts: above the no-PIN limit it waits for the payer, is
	// cancelled, and the payer's late confirmation is debited, refused by the acquirer, voided
	// on chain and given back.
	let code = net.payment_code("W-REF").await;
	let (status, waiting) = net
		.agg(
			Method::POST,
			"/v1/micropay",
			"/v1/micropay",
			Some(json!({
				"aggregatorOrderId": "AGG-R-3", "merchantId": "SHOP-R", "authCode": code,
				"amount": 60_000, "currency": "CNY",
			})),
		)
		.await;
	assert_eq!((status, waiting["status"].as_str()), (200, Some("USERPAYING")), "{waiting}");
	let cancel = format!("/v1/orders/{}/cancel", waiting["orderId"].as_str().unwrap());
	let (status, c) = net.agg(Method::POST, template, &cancel, None).await;
	assert_eq!((status, c["result"].as_str()), (200, Some("CANCELLED")), "{c}");
	assert_eq!(
		(&c["order"]["status"], &c["order"]["reason"]),
		(&json!("FAILED"), &json!("CancelledByMerchant"))
	);
	let (_, pending) = net
		.app(PIN, Method::GET, "/v1/wallets/{walletId}/pending", "/v1/wallets/W-REF/pending", None)
		.await;
	let late = pending[0]["issuerOrderId"].as_str().unwrap().to_string();
	let (status, confirmed) = net
		.app(
			PIN,
			Method::POST,
			"/v1/wallets/{walletId}/pending/{orderId}/confirm",
			&format!("/v1/wallets/W-REF/pending/{late}/confirm"),
			None,
		)
		.await;
	assert_eq!(status, 200, "{confirmed}");
	let voided = wait_for(Duration::from_secs(60), "the late payment given back", || async {
		let (_, o) = net
			.app(
				PIN,
				Method::GET,
				"/v1/wallets/{walletId}/payments/{orderId}",
				&format!("/v1/wallets/W-REF/payments/{late}"),
				None,
			)
			.await;
		(o["status"] == "FAILED").then_some(o)
	})
	.await;
	assert!(voided["reason"].as_str().unwrap_or_default().contains("voided"), "{voided}");
	assert_eq!(net.balance("W-REF").await, before_cancel);
	let (status, again) = net.agg(Method::POST, template, &cancel, None).await;
	assert_eq!((status, again["result"].as_str()), (200, Some("CANCELLED")));

	// An unpaid dynamic order: neither refunded nor cancelled, but closed; its code then pays
	// nothing.
	let (status, dynamic) = net
		.agg(
			Method::POST,
			"/v1/unified-order",
			"/v1/unified-order",
			Some(json!({
				"aggregatorOrderId": "AGG-R-4", "merchantId": "SHOP-R", "amount": 2_000,
				"currency": "CNY", "tradeType": "NATIVE",
			})),
		)
		.await;
	assert_eq!(status, 200, "{dynamic}");
	let dynamic_id = dynamic["orderId"].as_str().unwrap();
	let (status, e) = refund(
		&net,
		json!({
			"orderId": dynamic_id, "aggregatorRefundId": "AGG-RF-5", "amount": 2_000,
			"currency": "CNY",
		}),
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (409, Some("OrderNotSuccessful")), "{e}");
	let (status, e) =
		net.agg(Method::POST, template, &format!("/v1/orders/{dynamic_id}/cancel"), None).await;
	assert_eq!((status, e["code"].as_str()), (409, Some("OrderNotCancellable")));
	let close = format!("/v1/orders/{dynamic_id}/close");
	for _ in 0..2 {
		let (status, closed) =
			net.agg(Method::POST, "/v1/orders/{orderId}/close", &close, None).await;
		assert_eq!((status, closed["status"].as_str()), (200, Some("CLOSED")), "{closed}");
	}
	let (status, e) = net
		.app(
			PIN,
			Method::POST,
			"/v1/wallets/{walletId}/scan",
			"/v1/wallets/W-REF/scan",
			Some(json!({ "payload": dynamic["codeUrl"] })),
		)
		.await;
	assert_eq!((status, e["code"].as_str()), (409, Some("OrderClosed")), "{e}");
	let (status, e) = net
		.agg(
			Method::POST,
			"/v1/orders/{orderId}/close",
			&format!("/v1/orders/{order_id}/close"),
			None,
		)
		.await;
	assert_eq!((status, e["code"].as_str()), (409, Some("OrderNotClosable")));

	// A suspended merchant refunds nothing.
	let status_path =
		format!("/v1/admin/merchants/{}/status", shop["merchantId"].as_str().unwrap());
	let set_status = |state: &'static str| {
		let (net, path) = (&net, &status_path);
		async move {
			let (status, m) = net
				.admin_acquirer(
					Method::POST,
					"/v1/admin/merchants/{merchantId}/status",
					path,
					Some(json!({ "status": state })),
				)
				.await;
			assert_eq!(status, 200, "{m}");
		}
	};
	set_status("SUSPENDED").await;
	let (status, e) = refund(
		&net,
		json!({
			"orderId": order_id, "aggregatorRefundId": "AGG-RF-6", "amount": 100,
			"currency": "CNY",
		}),
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (403, Some("MerchantSuspended")), "{e}");
	set_status("ACTIVE").await;

	// Past the cancel window, a micropay is refunded, not cancelled.
	let created = paid["createdAt"].as_i64().unwrap();
	let wait = (created + 20_000 - now_ms()).max(0) as u64 + 500;
	tokio::time::sleep(Duration::from_millis(wait)).await;
	let (status, e) =
		net.agg(Method::POST, template, &format!("/v1/orders/{order_id}/cancel"), None).await;
	assert_eq!((status, e["code"].as_str()), (409, Some("CancelWindowOver")), "{e}");

	// The cycle closes. The CLI's refund is on chain but in neither service's records: both
	// reconciliations name it.
	net.sudo_tx("//Charlie", calls::close_cycle()).await;
	for issuer in [true, false] {
		let cycle = net.closed_cycle_report(issuer, 1).await;
		assert_eq!(cycle["ok"], false, "{cycle}");
		let mismatches = cycle["mismatches"].as_array().unwrap();
		assert_eq!(mismatches.len(), 3, "the refund, the entry count and the digest: {cycle}");
		assert!(
			mismatches[0].as_str().unwrap().starts_with("RefundNotRecorded: refund CLI-RF-1 "),
			"{cycle}"
		);
	}
	// The acquirer's operator records it; the issuer is told and credits the payer, once.
	let path = "/v1/admin/refunds/CLI-RF-1/record";
	let (status, recorded) =
		net.admin_acquirer(Method::POST, "/v1/admin/refunds/{refundId}/record", path, None).await;
	assert_eq!((status, recorded["status"].as_str()), (200, Some("SUCCESS")), "{recorded}");
	assert_eq!(recorded["debitAmount"].as_i64(), Some(d_cli));
	balance_becomes(&net, "W-REF", before_cancel + d_cli).await;
	let (status, credited) = net
		.admin_issuer(
			Method::POST,
			"/v1/admin/refunds/{refundId}/credit",
			"/v1/admin/refunds/CLI-RF-1/credit",
			None,
		)
		.await;
	assert_eq!((status, credited["source"].as_str()), (200, Some("ACQUIRER")), "{credited}");
	assert_eq!(net.balance("W-REF").await, before_cancel + d_cli);
	assert_eq!(before_cancel, start - debit + d1 + d2);

	// Both reconcile the cycle: two payments and four refunds, entry by entry and by digest.
	for issuer in [true, false] {
		let cycle = net.closed_cycle_report(issuer, 1).await;
		assert_eq!(cycle["ok"], true, "{cycle}");
		assert_eq!(cycle["chainEntries"], 6, "{cycle}");
		assert_eq!(cycle["localDigest"], cycle["chainDigest"]);
	}
}
