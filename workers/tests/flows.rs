//! Both services and the real dev node, driven the way the wallet app, the aggregator (with
//! its merchants) and the clearing bank use them: every payment flow of the seeds end to end,
//! every refusal, and duplicates that must move money once. Every response is checked against
//! the services' OpenAPI documents. At the end every party's records and the chain agree to
//! the minor unit, and both services reconcile the closed cycle with the chain.

use axum::{extract::State, http::HeaderMap, routing::post, Json, Router};
use clearline_client::{
	calls, queries, ConnectOptions, Connection, SenderOptions, Signer, TxResult, TxSender,
};
use clearline_testkit::{free_port, wait_finalized, wait_for, NodeProcess};
use clearline_workers::{
	auth,
	common::wire::Notification,
	peer::{Peer, PeerError},
	store::Db,
};
use pallet_fx_rate::CurrencyCode;
use reqwest::Method;
use serde_json::{json, Value};
use std::{
	path::{Path, PathBuf},
	sync::{Arc, Mutex},
	time::Duration,
};

const ISSUER: &str = env!("CARGO_BIN_EXE_clearline-issuer");
const ACQUIRER: &str = env!("CARGO_BIN_EXE_clearline-acquirer");
const ADMIN: &str = "test-admin-token";
const AGG: &str = "agg-1";
const PIN: &str = "246810";

fn ss58(uri: &str) -> String {
	auth::public_key_text(&Signer::from_uri(uri).unwrap())
}

/// The OpenAPI documents, and a check of a response against them.
struct Spec {
	issuer: Value,
	acquirer: Value,
}

impl Spec {
	fn load() -> Self {
		let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi");
		let read = |name: &str| -> Value {
			serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap()
		};
		Self { issuer: read("issuer.json"), acquirer: read("acquirer.json") }
	}

	/// Panics unless the document describes `status` for `method template` and `body` fits
	/// its schema.
	fn check(&self, doc: &Value, method: &Method, template: &str, status: u16, body: &Value) {
		let op = &doc["paths"][template][method.as_str().to_lowercase()];
		assert!(op.is_object(), "{method} {template} is not in the OpenAPI document");
		let response = &op["responses"][status.to_string()];
		assert!(
			response.is_object(),
			"{method} {template} does not document status {status}: {body}"
		);
		let schema = &response["content"]["application/json"]["schema"];
		let mut root = doc.clone();
		for (k, v) in schema.as_object().expect("a JSON schema") {
			root[k] = v.clone();
		}
		let validator = jsonschema::validator_for(&root).expect("a valid schema");
		let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
		assert!(errors.is_empty(), "{method} {template} {status}: {errors:?}\n{body:#}");
	}
}

/// The aggregator's notify endpoint: verifies the acquirer's signature, records and
/// acknowledges.
#[derive(Clone)]
struct NotifyInbox {
	db: Db,
	acquirer: sp_core::sr25519::Public,
	received: Arc<Mutex<Vec<Notification>>>,
}

async fn notified(
	State(inbox): State<NotifyInbox>,
	headers: HeaderMap,
	body: axum::body::Bytes,
) -> Result<Json<Value>, clearline_workers::api::ApiError> {
	auth::verify(
		&inbox.db,
		&headers,
		"POST",
		"/notify",
		&body,
		"acquirer",
		&inbox.acquirer,
		Duration::from_secs(300),
	)
	.await?;
	let n: Notification = serde_json::from_slice(&body).expect("a notification");
	inbox.received.lock().unwrap().push(n);
	Ok(Json(json!({ "code": "SUCCESS" })))
}

/// The dev node, both services, and the aggregator's notify endpoint.
fn as_refs(v: &[String]) -> Vec<&str> {
	v.iter().map(String::as_str).collect()
}

struct Net {
	node: NodeProcess,
	issuer: NodeProcess,
	acquirer: NodeProcess,
	conn: Arc<Connection>,
	issuer_url: String,
	acquirer_url: String,
	http: reqwest::Client,
	aggregator: Peer,
	inbox: Arc<Mutex<Vec<Notification>>>,
	spec: Spec,
	_dir: tempfile::TempDir,
}

impl Net {
	async fn start(name: &str, issuer_extra: &[&str]) -> Self {
		let node_binary = PathBuf::from(ISSUER).with_file_name("clearline-node");
		let mut node =
			NodeProcess::start(&format!("{name}-node"), &node_binary, &["--dev", "--tmp"]);
		let rpc = node.rpc(Duration::from_secs(180)).await;
		wait_finalized(&rpc, 1, Duration::from_secs(60)).await;
		let conn =
			Connection::open(&node.rpc_url(), ConnectOptions::default(), None).await.unwrap();
		let dir = tempfile::tempdir().unwrap();

		let (issuer_port, acquirer_port, notify_port) = (free_port(), free_port(), free_port());
		let issuer_url = format!("http://127.0.0.1:{issuer_port}");
		let acquirer_url = format!("http://127.0.0.1:{acquirer_port}");
		let (issuer_listen, acquirer_listen) =
			(format!("127.0.0.1:{issuer_port}"), format!("127.0.0.1:{acquirer_port}"));
		let (bob, dave) = (ss58("//Bob"), ss58("//Dave"));
		let node_url = node.rpc_url();
		let common =
			|listen: &str, db: &str, key: &str, peer: &str, peer_key: &str| -> Vec<String> {
				[
					"--listen",
					listen,
					"--db",
					db,
					"--node-url",
					&node_url,
					"--chain-key",
					key,
					"--peer-url",
					peer,
					"--peer-public-key",
					peer_key,
					"--admin-token",
					ADMIN,
					"--reconcile-every",
					"2s",
					"--log-format",
					"text",
				]
				.iter()
				.map(|s| s.to_string())
				.collect()
			};
		let mut issuer_args = common(
			&issuer_listen,
			dir.path().join("issuer.sqlite").to_str().unwrap(),
			"//Bob",
			&acquirer_url,
			&dave,
		);
		issuer_args.extend(["--pin-iterations", "1000"].map(String::from));
		issuer_args.extend(issuer_extra.iter().map(|s| s.to_string()));
		let acquirer_args = common(
			&acquirer_listen,
			dir.path().join("acquirer.sqlite").to_str().unwrap(),
			"//Dave",
			&issuer_url,
			&bob,
		);
		let issuer = NodeProcess::start_program(
			&format!("{name}-issuer"),
			Path::new(ISSUER),
			&as_refs(&issuer_args),
		);
		let acquirer = NodeProcess::start_program(
			&format!("{name}-acquirer"),
			Path::new(ACQUIRER),
			&as_refs(&acquirer_args),
		);

		let inbox = Arc::new(Mutex::new(Vec::new()));
		let notify_state = NotifyInbox {
			db: Db::open(&dir.path().join("aggregator.sqlite"), "").unwrap(),
			acquirer: auth::parse_public_key(&dave).unwrap(),
			received: inbox.clone(),
		};
		let app = Router::new().route("/notify", post(notified)).with_state(notify_state);
		let listener = tokio::net::TcpListener::bind(("127.0.0.1", notify_port)).await.unwrap();
		tokio::spawn(async move { axum::serve(listener, app).await });

		let mut net = Net {
			node,
			issuer,
			acquirer,
			conn,
			issuer_url,
			acquirer_url: acquirer_url.clone(),
			http: reqwest::Client::new(),
			aggregator: Peer::new(&acquirer_url, AGG, Signer::from_uri("//Aggregator1").unwrap()),
			inbox,
			spec: Spec::load(),
			_dir: dir,
		};
		net.wait_healthy().await;
		let agg = net
			.admin_acquirer(
				Method::POST,
				"/v1/admin/aggregators",
				"/v1/admin/aggregators",
				Some(json!({
					"aggregatorId": AGG, "name": "Pearl River Pay",
					"publicKey": ss58("//Aggregator1"),
					"notifyUrl": format!("http://127.0.0.1:{notify_port}/notify"),
				})),
			)
			.await;
		assert_eq!(agg.0, 200, "{}", agg.1);
		net
	}

	async fn wait_healthy(&mut self) {
		for (url, doc) in [(self.issuer_url.clone(), true), (self.acquirer_url.clone(), false)] {
			let http = self.http.clone();
			let body = wait_for(Duration::from_secs(60), &format!("{url}/health"), || {
				let (http, url) = (http.clone(), url.clone());
				async move {
					let r = http.get(format!("{url}/health")).send().await.ok()?;
					(r.status() == 200).then_some(())?;
					r.json::<Value>().await.ok()
				}
			})
			.await;
			let spec = if doc { &self.spec.issuer } else { &self.spec.acquirer };
			self.spec.check(spec, &Method::GET, "/health", 200, &body);
			self.issuer.assert_running();
			self.acquirer.assert_running();
		}
	}

	async fn plain(
		&self,
		issuer: bool,
		method: Method,
		template: &str,
		path: &str,
		headers: &[(&str, String)],
		body: Option<Value>,
	) -> (u16, Value) {
		let base = if issuer { &self.issuer_url } else { &self.acquirer_url };
		let mut request = self.http.request(method.clone(), format!("{base}{path}"));
		for (k, v) in headers {
			request = request.header(*k, v);
		}
		if let Some(b) = body {
			request = request.json(&b);
		}
		let response = request.send().await.expect("the service answers");
		let status = response.status().as_u16();
		let value: Value = response.json().await.unwrap_or(Value::Null);
		let doc = if issuer { &self.spec.issuer } else { &self.spec.acquirer };
		self.spec.check(doc, &method, template, status, &value);
		(status, value)
	}

	async fn admin_acquirer(
		&self,
		m: Method,
		template: &str,
		path: &str,
		body: Option<Value>,
	) -> (u16, Value) {
		self.plain(false, m, template, path, &[("authorization", format!("Bearer {ADMIN}"))], body)
			.await
	}

	async fn admin_issuer(
		&self,
		m: Method,
		template: &str,
		path: &str,
		body: Option<Value>,
	) -> (u16, Value) {
		self.plain(true, m, template, path, &[("authorization", format!("Bearer {ADMIN}"))], body)
			.await
	}

	async fn app(
		&self,
		pin: &str,
		m: Method,
		template: &str,
		path: &str,
		body: Option<Value>,
	) -> (u16, Value) {
		self.plain(true, m, template, path, &[("x-wallet-pin", pin.to_string())], body).await
	}

	/// A signed call as the aggregator; checked against the acquirer's document.
	async fn agg(
		&self,
		m: Method,
		template: &str,
		path: &str,
		body: Option<Value>,
	) -> (u16, Value) {
		let result: Result<Value, PeerError> =
			self.aggregator.call(m.clone(), path, body.as_ref(), Duration::from_secs(30)).await;
		let (status, value) = match result {
			Ok(v) => (200, v),
			Err(PeerError::Refused { status, code, message }) => {
				(status, json!({ "code": code, "message": message }))
			}
			Err(e) => panic!("{m} {path}: {e}"),
		};
		self.spec.check(&self.spec.acquirer, &m, template, status, &value);
		(status, value)
	}

	async fn merchant(&self, id: &str, name: &str) -> Value {
		let (status, m) = self
			.admin_acquirer(
				Method::POST,
				"/v1/admin/merchants",
				"/v1/admin/merchants",
				Some(json!({
					"aggregatorId": AGG, "aggregatorMerchantId": id, "name": name,
					"city": "Shenzhen", "mcc": "5812",
				})),
			)
			.await;
		assert_eq!(status, 200, "{m}");
		m
	}

	async fn wallet(&self, id: &str, hkd: i64) {
		let (status, w) = self
			.admin_issuer(
				Method::POST,
				"/v1/admin/wallets",
				"/v1/admin/wallets",
				Some(json!({
					"walletId": id, "holder": "Chan Tai Man", "pin": PIN,
				})),
			)
			.await;
		assert_eq!(status, 200, "{w}");
		let path = format!("/v1/admin/wallets/{id}/topups");
		let (status, w) = self
			.admin_issuer(
				Method::POST,
				"/v1/admin/wallets/{walletId}/topups",
				&path,
				Some(json!({
					"topupId": format!("TOPUP-{id}"), "amount": hkd,
				})),
			)
			.await;
		assert_eq!(status, 200, "{w}");
		assert_eq!(w["balance"], hkd);
	}

	async fn balance(&self, wallet: &str) -> i64 {
		let (status, w) = self
			.app(PIN, Method::GET, "/v1/wallets/{walletId}", &format!("/v1/wallets/{wallet}"), None)
			.await;
		assert_eq!(status, 200, "{w}");
		w["balance"].as_i64().unwrap()
	}

	async fn payment_code(&self, wallet: &str) -> String {
		let path = format!("/v1/wallets/{wallet}/payment-codes");
		let (status, c) =
			self.app(PIN, Method::POST, "/v1/wallets/{walletId}/payment-codes", &path, None).await;
		assert_eq!(status, 200, "{c}");
		assert!(c["qrSvg"].as_str().unwrap().contains("<svg"));
		c["code"].as_str().unwrap().to_string()
	}

	/// Micropay, then waits for the acquirer's order to be final; the final order.
	async fn micropay(&self, agg_order: &str, merchant: &str, code: &str, cny: i64) -> Value {
		let (status, order) = self
			.agg(
				Method::POST,
				"/v1/micropay",
				"/v1/micropay",
				Some(json!({
					"aggregatorOrderId": agg_order, "merchantId": merchant, "authCode": code,
					"amount": cny, "currency": "CNY", "description": "noodles",
				})),
			)
			.await;
		assert_eq!(status, 200, "{order}");
		assert!(order["orderId"].as_str().unwrap().starts_with("ACQ"), "our own order id: {order}");
		self.final_acquirer_order(order["orderId"].as_str().unwrap()).await
	}

	async fn final_acquirer_order(&self, order_id: &str) -> Value {
		let path = format!("/v1/orders/{order_id}");
		wait_for(Duration::from_secs(60), &format!("order {order_id} final"), || async {
			let (_, o) = self.agg(Method::GET, "/v1/orders/{orderId}", &path, None).await;
			matches!(o["status"].as_str(), Some("SUCCESS" | "FAILED")).then_some(o)
		})
		.await
	}

	async fn issuer_order_for(&self, wallet: &str, code: &str) -> Value {
		let path = format!("/v1/wallets/{wallet}/payments?code={code}");
		let (status, o) =
			self.app(PIN, Method::GET, "/v1/wallets/{walletId}/payments", &path, None).await;
		assert_eq!(status, 200, "{o}");
		o
	}

	/// The wallet app pays a scanned payload or prepay id; waits for the final result.
	async fn pay(&self, wallet: &str, request_id: &str, what: Value) -> (u16, Value) {
		let mut body = what;
		body["requestId"] = json!(request_id);
		let path = format!("/v1/wallets/{wallet}/payments");
		let (status, order) =
			self.app(PIN, Method::POST, "/v1/wallets/{walletId}/payments", &path, Some(body)).await;
		if status != 200
			|| matches!(order["status"].as_str(), Some("SUCCESS" | "FAILED" | "REJECTED"))
		{
			return (status, order);
		}
		let path =
			format!("/v1/wallets/{wallet}/payments/{}", order["issuerOrderId"].as_str().unwrap());
		let order = wait_for(Duration::from_secs(60), "payment final", || async {
			let (_, o) = self
				.app(PIN, Method::GET, "/v1/wallets/{walletId}/payments/{orderId}", &path, None)
				.await;
			matches!(o["status"].as_str(), Some("SUCCESS" | "FAILED" | "REJECTED")).then_some(o)
		})
		.await;
		(200, order)
	}

	/// A settlement account's balance on chain, in the finalized state.
	async fn chain_balance(&self, who: &str, currency: CurrencyCode) -> i128 {
		let account = calls::account("who", &ss58(who)).unwrap();
		let p =
			queries::participant(&self.conn, &account, None).await.unwrap().expect("a participant");
		p.accounts.iter().find(|a| a.currency == currency).map(|a| a.balance.0).unwrap_or(0)
	}

	async fn notifications_for(&self, order_id: &str) -> Vec<Notification> {
		self.inbox.lock().unwrap().iter().filter(|n| n.order_id == order_id).cloned().collect()
	}

	async fn sudo_tx(&self, key: &str, call: clearline_runtime::RuntimeCall) {
		let sender = TxSender::new(
			self.conn.clone(),
			Signer::from_uri(key).unwrap(),
			SenderOptions::default(),
		)
		.unwrap();
		let report = sender.send(call).await.unwrap();
		assert!(
			matches!(
				report.result,
				TxResult::Finalized { outcome: clearline_client::Outcome::Succeeded(_), .. }
			),
			"{:?}",
			report.result
		);
	}

	fn logs(&self) -> String {
		format!(
			"{}\n{}\n{}",
			self.issuer.log_tail(30),
			self.acquirer.log_tail(30),
			self.node.log_tail(5)
		)
	}
}

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
	let as_issuer = Peer::new(&net.acquirer_url, "issuer", Signer::from_uri("//Bob").unwrap());
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
	let (status, dq) = net.pay("W-ALICE", "REQ-DQ-1", json!({ "payload": code_url })).await;
	assert_eq!((status, dq["status"].as_str()), (200, Some("SUCCESS")), "{dq}\n{}", net.logs());
	assert_eq!(dq["scenario"], "dynamic_qr");
	// Paying the same order code twice is refused.
	let (status, e) = net.pay("W-ALICE", "REQ-DQ-2", json!({ "payload": code_url })).await;
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
	let (status, ia) = net.pay("W-ALICE", "REQ-APP-1", json!({ "prepayId": prepay })).await;
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
		let (status, report) = if issuer {
			net.admin_issuer(Method::POST, "/v1/admin/reconcile", "/v1/admin/reconcile", None).await
		} else {
			net.admin_acquirer(Method::POST, "/v1/admin/reconcile", "/v1/admin/reconcile", None)
				.await
		};
		assert_eq!(status, 200, "{report}");
		let cycle = report["cycles"]
			.as_array()
			.unwrap()
			.first()
			.cloned()
			.unwrap_or_else(|| panic!("no cycle reconciled: {report}"));
		assert_eq!(cycle["ok"], true, "{cycle}");
		assert_eq!(cycle["chainEntries"], 4);
		assert_eq!(cycle["localDigest"], cycle["chainDigest"]);
	}
	let (status, metrics) =
		(net.http.get(format!("{}/metrics", net.acquirer_url)).send().await.unwrap().status(), ());
	assert_eq!(status, 200);
	let _ = metrics;
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_are_named_and_move_no_money() {
	let net = Net::start("refusals", &["--code-ttl", "3s"]).await;
	net.merchant("SHOP-002", "Corner Pharmacy").await;
	let closed = net.merchant("SHOP-003", "Closed Down").await;
	net.wallet("W-BEN", 500_000).await;
	let bob_hkd = net.chain_balance("//Bob", CurrencyCode::HKD).await;

	// Wrong PIN: named, counted, and the wallet locks at the limit.
	let path = "/v1/wallets/W-BEN/payment-codes";
	let (status, e) =
		net.app("111111", Method::POST, "/v1/wallets/{walletId}/payment-codes", path, None).await;
	assert_eq!((status, e["code"].as_str()), (401, Some("WrongPin")));
	let (status, e) =
		net.app("12", Method::POST, "/v1/wallets/{walletId}/payment-codes", path, None).await;
	assert_eq!((status, e["code"].as_str()), (400, Some("InvalidField")));

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
	let issuer_side = net.issuer_order_for("W-RICH", &code).await;
	assert_eq!(issuer_side["status"], "FAILED", "reversed: {issuer_side}");
	assert_eq!(net.balance("W-RICH").await, 300_000_000);

	// A stale FX rate: the feeder's latest rate lapses; the issuer's quote is refused.
	net.sudo_tx(
		"//Ferdie",
		calls::publish_rate(
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

	// Only the one successful payment reached the chain.
	let spent = 500_000 - after_first;
	assert_eq!(net.chain_balance("//Bob", CurrencyCode::HKD).await, bob_hkd - spent as i128);

	// Five wrong PINs in a row (a right one resets the count) lock the wallet, for the right
	// PIN too.
	for left in (0..5).rev() {
		let (status, e) = net
			.app("999999", Method::GET, "/v1/wallets/{walletId}", "/v1/wallets/W-BEN", None)
			.await;
		assert_eq!((status, e["code"].as_str()), (401, Some("WrongPin")));
		assert!(e["message"].as_str().unwrap().contains(&format!("{left} attempts left")), "{e}");
	}
	let (status, e) =
		net.app(PIN, Method::GET, "/v1/wallets/{walletId}", "/v1/wallets/W-BEN", None).await;
	assert_eq!((status, e["code"].as_str()), (423, Some("WalletLocked")));
	// Operations unlock it; the right PIN works again.
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
	let (status, e) =
		net.pay("W-BEN", "REQ-PP-AMT", json!({ "prepayId": "PP00", "amount": 5 })).await;
	assert_eq!((status, e["code"].as_str()), (400, Some("InvalidField")));
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
		let as_acquirer =
			Peer::new(&net.issuer_url, "acquirer", Signer::from_uri("//Dave").unwrap());
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
