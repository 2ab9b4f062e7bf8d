//! The three pages in a real browser: headless Chromium, driven through ChromeDriver by
//! WebDriver, against a dev node, both services and the console, all real processes. The
//! wallet, the till and the console are each a browser session of their own, side by side as
//! three people would have them. Screenshots of every page are saved under the test's output
//! directory (`CARGO_TARGET_TMPDIR/pages/`).

mod support;

use clearline_testkit::{free_port, NodeProcess, ACQUIRER_KEYS};
use fantoccini::{key::Key, Client, ClientBuilder, Locator};
use reqwest::Method;
use serde_json::{json, Value};
use std::{
	path::{Path, PathBuf},
	time::{Duration, Instant},
};
use support::{ss58, Net, PIN};

const CONSOLE: &str = env!("CARGO_BIN_EXE_clearline-console");
const CONSOLE_PASSWORD: &str = "clearing-bank-operators";
const TILL_PASSWORD: &str = "lotus-till-2026";
/// How long a page may take to show what the chain finalized.
const PAGE_WAIT: Duration = Duration::from_secs(60);

/// The system's Chromium and its driver (`scripts/setup.sh` installs both); the variables
/// name others.
fn chromium() -> String {
	std::env::var("CLEARLINE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}
fn chromedriver() -> String {
	std::env::var("CLEARLINE_CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

/// Where the test's screenshots go.
fn shots_dir(test: &str) -> PathBuf {
	let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pages").join(test);
	std::fs::create_dir_all(&dir).unwrap();
	dir
}

/// ChromeDriver on a free port, stopped with the test; the browsers' profiles in a directory
/// of their own, removed after.
struct Driver {
	process: NodeProcess,
	url: String,
	profiles: tempfile::TempDir,
}

impl Driver {
	async fn start() -> Self {
		let port = free_port();
		let process = NodeProcess::start_program(
			"chromedriver",
			Path::new(&chromedriver()),
			&[&format!("--port={port}"), "--allowed-ips=127.0.0.1"],
		);
		let url = format!("http://127.0.0.1:{port}");
		let http = reqwest::Client::new();
		let deadline = Instant::now() + Duration::from_secs(30);
		loop {
			let status = http.get(format!("{url}/status")).send().await;
			if let Ok(answer) = status {
				let body: Value = answer.json().await.unwrap_or_default();
				if body["value"]["ready"] == true {
					break;
				}
			}
			assert!(
				Instant::now() < deadline,
				"chromedriver did not start: {}",
				process.log_tail(20)
			);
			tokio::time::sleep(Duration::from_millis(200)).await;
		}
		Self { process, url, profiles: tempfile::tempdir().unwrap() }
	}

	/// A new headless Chromium with a window of `width` × `height`, and its own profile.
	async fn browser(&self, name: &str, width: u32, height: u32, dir: &Path) -> Page {
		let profile = self.profiles.path().join(name);
		let args = [
			"--headless=new".to_string(),
			"--no-sandbox".into(),
			"--disable-gpu".into(),
			"--disable-dev-shm-usage".into(),
			"--disable-quic".into(),
			"--no-first-run".into(),
			"--disable-background-networking".into(),
			"--disable-component-update".into(),
			"--disable-sync".into(),
			format!("--user-data-dir={}", profile.display()),
			format!("--window-size={width},{height}"),
		];
		let mut caps = serde_json::Map::new();
		caps.insert("goog:chromeOptions".into(), json!({ "binary": chromium(), "args": args }));
		let connector = hyper_util::client::legacy::connect::HttpConnector::new();
		let client = ClientBuilder::new(connector)
			.capabilities(caps)
			.connect(&self.url)
			.await
			.unwrap_or_else(|e| panic!("starting Chromium: {e}\n{}", self.process.log_tail(20)));
		Page { client, name: name.into(), shots: dir.to_path_buf() }
	}
}

/// One browser showing one page.
struct Page {
	client: Client,
	name: String,
	shots: PathBuf,
}

impl Page {
	async fn open(&self, url: &str) {
		self.client.goto(url).await.unwrap();
	}

	async fn find(&self, css: &str) -> fantoccini::elements::Element {
		match self.client.wait().at_most(PAGE_WAIT).for_element(Locator::Css(css)).await {
			Ok(e) => e,
			Err(e) => self.fail(&format!("no {css}: {e}")).await,
		}
	}

	async fn type_into(&self, css: &str, text: &str) {
		let field = self.find(css).await;
		field.clear().await.unwrap();
		field.send_keys(text).await.unwrap();
	}

	async fn click(&self, css: &str) {
		let button = self.find(css).await;
		if let Err(e) = button.click().await {
			self.fail(&format!("clicking {css}: {e}")).await
		}
	}

	/// Waits until `css` matches an element with `attribute` = `value`.
	async fn wait_attr(&self, css: &str, attribute: &str, value: &str) {
		let deadline = Instant::now() + PAGE_WAIT;
		let mut last = None;
		while Instant::now() < deadline {
			if let Ok(e) = self.client.find(Locator::Css(css)).await {
				last = e.attr(attribute).await.ok().flatten();
				if last.as_deref() == Some(value) {
					return;
				}
			}
			tokio::time::sleep(Duration::from_millis(250)).await;
		}
		self.fail(&format!("{css} [{attribute}] is {last:?}, not {value}")).await
	}

	/// Waits until `css`'s text contains `text`.
	async fn wait_text(&self, css: &str, text: &str) -> String {
		let deadline = Instant::now() + PAGE_WAIT;
		let mut last = String::new();
		while Instant::now() < deadline {
			if let Ok(e) = self.client.find(Locator::Css(css)).await {
				last = e.text().await.unwrap_or_default();
				if last.contains(text) {
					return last;
				}
			}
			tokio::time::sleep(Duration::from_millis(250)).await;
		}
		self.fail(&format!("{css} shows {last:?}, without {text:?}")).await
	}

	async fn attr(&self, css: &str, attribute: &str) -> String {
		self.find(css).await.attr(attribute).await.unwrap().unwrap_or_default()
	}

	/// The page as it looks now, saved as `<page>-<what>.png`.
	async fn screenshot(&self, what: &str) -> PathBuf {
		let path = self.shots.join(format!("{}-{what}.png", self.name));
		let png = self.client.screenshot().await.unwrap();
		std::fs::write(&path, png).unwrap();
		path
	}

	/// Fails the test with the page's error line and a screenshot of it.
	async fn fail(&self, why: &str) -> ! {
		let shot = self.screenshot("failure").await;
		let error = match self.client.find(Locator::Css("#error")).await {
			Ok(e) => e.text().await.unwrap_or_default(),
			Err(_) => String::new(),
		};
		panic!(
			"{} page: {why}; its error line: {error:?}; screenshot {}",
			self.name,
			shot.display()
		)
	}

	async fn close(self) {
		let _ = self.client.close().await;
	}
}

/// `CNY 12.34`-style amounts as the pages write them.
fn money(minor: i64) -> String {
	format!("{}.{:02}", minor / 100, minor % 100)
}

/// A till call with `token`, checked against the acquirer's document.
async fn till_call(
	net: &Net,
	token: Option<&str>,
	m: Method,
	template: &str,
	path: &str,
	body: Option<Value>,
) -> (u16, Value) {
	let headers: Vec<(&str, String)> =
		token.map(|t| ("authorization", format!("Bearer {t}"))).into_iter().collect();
	net.plain(false, m, template, path, &headers, body).await
}

async fn till_login(net: &Net, merchant_id: &str, password: &str) -> (u16, Value) {
	let body = json!({ "merchantId": merchant_id, "password": password });
	till_call(net, None, Method::POST, "/till/v1/sessions", "/till/v1/sessions", Some(body)).await
}

async fn set_till_password(net: &Net, merchant_id: &str, password: &str) -> (u16, Value) {
	let path = format!("/v1/admin/merchants/{merchant_id}/till-password");
	let template = "/v1/admin/merchants/{merchantId}/till-password";
	net.admin_acquirer(Method::POST, template, &path, Some(json!({ "password": password }))).await
}

/// A picture sent to the wallet's scan-image, checked against the issuer's document.
async fn scan_image(net: &Net, token: &str, picture: Vec<u8>) -> (u16, Value) {
	let response = net
		.http
		.post(format!("{}/v1/wallets/W-PAGES/scan-image", net.issuer_url))
		.header("authorization", format!("Bearer {token}"))
		.header("content-type", "image/png")
		.body(picture)
		.send()
		.await
		.unwrap();
	let status = response.status().as_u16();
	let value: Value = response.json().await.unwrap_or(Value::Null);
	let template = "/v1/wallets/{walletId}/scan-image";
	net.spec.check(&net.spec.issuer, &Method::POST, template, status, &value);
	(status, value)
}

/// What the pages' endpoints refuse, and how: each refusal named, nothing changed by it.
async fn refusals_are_named(net: &Net, merchant_id: &str, token: &str) {
	// Till passwords and logins.
	let (status, e) = set_till_password(net, merchant_id, "short").await;
	assert_eq!((status, e["code"].as_str()), (400, Some("InvalidField")), "{e}");
	let (status, e) = set_till_password(net, "M-NOBODY", TILL_PASSWORD).await;
	assert_eq!((status, e["code"].as_str()), (404, Some("UnknownMerchant")), "{e}");
	for (who, password) in [(merchant_id, "not-the-password"), ("M-NOBODY", TILL_PASSWORD)] {
		let (status, e) = till_login(net, who, password).await;
		assert_eq!((status, e["code"].as_str()), (401, Some("AuthenticationFailed")), "{e}");
	}
	let other = net.merchant("M-OTHER", "Other Noodles").await;
	let other_id = other["merchantId"].as_str().unwrap();
	assert_eq!(set_till_password(net, other_id, "other-till-password").await.0, 204);
	for _ in 0..5 {
		assert_eq!(till_login(net, other_id, "wrong-password").await.0, 401);
	}
	// Locked: the right password is refused as a wrong one is, telling nothing.
	let (status, e) = till_login(net, other_id, "other-till-password").await;
	assert_eq!((status, e["code"].as_str()), (401, Some("AuthenticationFailed")), "{e}");
	// The operator's new password lifts the lock.
	assert_eq!(set_till_password(net, other_id, "other-till-password").await.0, 204);
	let (status, session) = till_login(net, other_id, "other-till-password").await;
	assert_eq!(status, 200, "{session}");
	let other_token = session["token"].as_str().unwrap().to_string();

	// Sessions.
	let (status, e) =
		till_call(net, None, Method::GET, "/till/v1/merchant", "/till/v1/merchant", None).await;
	assert_eq!((status, e["code"].as_str()), (401, Some("SessionRequired")), "{e}");
	let (status, e) =
		till_call(net, Some("0000"), Method::GET, "/till/v1/merchant", "/till/v1/merchant", None)
			.await;
	assert_eq!((status, e["code"].as_str()), (401, Some("SessionInvalid")), "{e}");
	let (status, m) = till_call(
		net,
		Some(&other_token),
		Method::GET,
		"/till/v1/merchant",
		"/till/v1/merchant",
		None,
	)
	.await;
	assert_eq!(status, 200, "{m}");
	assert_eq!(m["name"], "Other Noodles");
	assert!(m["staticQr"]["qrSvg"].as_str().unwrap().contains("<svg"));

	// Bad requests name their field.
	let long = "x".repeat(60);
	let body = json!({ "requestId": long, "amount": 100 });
	let (status, e) = till_call(
		net,
		Some(&other_token),
		Method::POST,
		"/till/v1/orders",
		"/till/v1/orders",
		Some(body),
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (400, Some("InvalidField")), "{e}");
	let (status, e) = till_call(
		net,
		Some(&other_token),
		Method::GET,
		"/till/v1/orders",
		"/till/v1/orders?since=0&limit=0",
		None,
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (400, Some("InvalidField")), "{e}");
	let body = json!({ "requestId": "r-1", "authCode": "12345", "amount": 100 });
	let (status, e) = till_call(
		net,
		Some(&other_token),
		Method::POST,
		"/till/v1/charges",
		"/till/v1/charges",
		Some(body),
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (400, Some("NotOurPaymentCode")), "{e}");

	// Another merchant's order is not found from this till.
	let body = json!({ "requestId": "other-1", "amount": 900 });
	let (status, order) = till_call(
		net,
		Some(&other_token),
		Method::POST,
		"/till/v1/orders",
		"/till/v1/orders",
		Some(body),
	)
	.await;
	assert_eq!(status, 200, "{order}");
	assert_eq!(order["aggregatorOrderId"], "till-other-1");
	assert!(order["qrSvg"].as_str().unwrap().contains("<svg"));
	let order_id = order["orderId"].as_str().unwrap();
	let (status, session) = till_login(net, merchant_id, TILL_PASSWORD).await;
	assert_eq!(status, 200, "{session}");
	let lotus = session["token"].as_str().unwrap();
	let path = format!("/till/v1/orders/{order_id}");
	let (status, e) =
		till_call(net, Some(lotus), Method::GET, "/till/v1/orders/{orderId}", &path, None).await;
	assert_eq!((status, e["code"].as_str()), (404, Some("UnknownOrder")), "{e}");
	let path = format!("/till/v1/orders/{order_id}/close");
	let template = "/till/v1/orders/{orderId}/close";
	let (status, e) = till_call(net, Some(lotus), Method::POST, template, &path, None).await;
	assert_eq!((status, e["code"].as_str()), (404, Some("UnknownOrder")), "{e}");
	let (status, closed) =
		till_call(net, Some(&other_token), Method::POST, template, &path, None).await;
	assert_eq!((status, closed["status"].as_str()), (200, Some("CLOSED")), "{closed}");
	let (status, orders) = till_call(
		net,
		Some(&other_token),
		Method::GET,
		"/till/v1/orders",
		"/till/v1/orders?since=0",
		None,
	)
	.await;
	assert_eq!(status, 200, "{orders}");
	assert_eq!(orders.as_array().unwrap().len(), 1, "{orders}");
	let (status, _) = till_call(
		net,
		Some(&other_token),
		Method::DELETE,
		"/till/v1/sessions/current",
		"/till/v1/sessions/current",
		None,
	)
	.await;
	assert_eq!(status, 204);
	let (status, e) = till_call(
		net,
		Some(&other_token),
		Method::GET,
		"/till/v1/merchant",
		"/till/v1/merchant",
		None,
	)
	.await;
	assert_eq!((status, e["code"].as_str()), (401, Some("SessionInvalid")), "{e}");

	// The aggregator's own ids may not look like a till's.
	let body = json!({
		"aggregatorOrderId": "till-mine", "merchantId": "M-OTHER", "amount": 100,
		"currency": "CNY", "tradeType": "NATIVE",
	});
	let (status, e) =
		net.agg(Method::POST, "/v1/unified-order", "/v1/unified-order", Some(body)).await;
	assert_eq!((status, e["code"].as_str()), (400, Some("InvalidField")), "{e}");

	// Pictures the wallet cannot read.
	let (status, e) = scan_image(net, token, b"not a picture".to_vec()).await;
	assert_eq!((status, e["code"].as_str()), (400, Some("UnreadableImage")), "{e}");
	let mut blank = Vec::new();
	image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(64, 64, image::Luma([255])))
		.write_to(&mut std::io::Cursor::new(&mut blank), image::ImageFormat::Png)
		.unwrap();
	let (status, e) = scan_image(net, token, blank).await;
	assert_eq!((status, e["code"].as_str()), (400, Some("NoQrCodeFound")), "{e}");
	let (status, e) = scan_image(net, token, vec![0; 4 * 1024 * 1024 + 1]).await;
	assert_eq!((status, e["code"].as_str()), (413, Some("ImageTooLarge")), "{e}");

	// The payer's quote.
	let headers = [("authorization", format!("Bearer {token}"))];
	let template = "/v1/wallets/{walletId}/quote";
	let (status, e) = net
		.plain(true, Method::GET, template, "/v1/wallets/W-PAGES/quote?amount=0", &headers, None)
		.await;
	assert_eq!((status, e["code"].as_str()), (400, Some("InvalidField")), "{e}");
	let (status, quote) = net
		.plain(
			true,
			Method::GET,
			template,
			"/v1/wallets/W-PAGES/quote?amount=10000",
			&headers,
			None,
		)
		.await;
	assert_eq!(status, 200, "{quote}");
	// CNY 100.00 at about 0.92 CNY a dollar, the spread on the payer's side.
	let hkd = quote["debitAmount"].as_i64().unwrap();
	assert!((10_800..=11_000).contains(&hkd), "{quote}");
}

/// What the console's API refuses: a wrong password, calls without a session or without its
/// header, and a close of a cycle that is not the open one.
async fn console_refusals(console_url: &str) {
	let http = reqwest::Client::new();
	let login = |password: &str, header: bool| {
		let mut request =
			http.post(format!("{console_url}/api/session")).json(&json!({ "password": password }));
		if header {
			request = request.header("x-console", "1");
		}
		request.send()
	};
	let code = |v: Value| v["code"].as_str().unwrap_or_default().to_string();
	let answer = login("not the password", true).await.unwrap();
	assert_eq!(answer.status(), 401);
	assert_eq!(code(answer.json().await.unwrap()), "AuthenticationFailed");
	let answer = login(CONSOLE_PASSWORD, false).await.unwrap();
	assert_eq!(answer.status(), 403);
	let answer = http.get(format!("{console_url}/api/overview")).send().await.unwrap();
	assert_eq!(answer.status(), 401);
	assert_eq!(code(answer.json().await.unwrap()), "SessionRequired");
	let answer = login(CONSOLE_PASSWORD, true).await.unwrap();
	assert_eq!(answer.status(), 204);
	let cookie = answer.headers()["set-cookie"].to_str().unwrap().to_string();
	assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
	let session = cookie.split(';').next().unwrap().to_string();
	let close = |cycle: Value, header: bool| {
		let mut request = http
			.post(format!("{console_url}/api/cycles/close"))
			.header("cookie", &session)
			.json(&json!({ "cycle": cycle }));
		if header {
			request = request.header("x-console", "1");
		}
		request.send()
	};
	let answer = close(json!(1), false).await.unwrap();
	assert_eq!(answer.status(), 403);
	assert_eq!(code(answer.json().await.unwrap()), "ConsoleHeaderRequired");
	let answer = close(json!(7), true).await.unwrap();
	assert_eq!(answer.status(), 409);
	assert_eq!(code(answer.json().await.unwrap()), "CycleNotOpen");
	let answer = close(json!("one"), true).await.unwrap();
	assert_eq!(answer.status(), 400);
	let overview: Value = http
		.get(format!("{console_url}/api/overview"))
		.header("cookie", &session)
		.send()
		.await
		.unwrap()
		.json()
		.await
		.unwrap();
	assert_eq!(overview["openCycle"]["cycle"], 1, "nothing was closed: {overview}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wallet_the_till_and_the_console_work_in_a_browser() {
	let net = Net::start("pages", &[]).await;
	let shots = shots_dir("the_wallet_the_till_and_the_console_work_in_a_browser");
	let merchant = net.merchant("M-LOTUS", "Lotus Tea House").await;
	let merchant_id = merchant["merchantId"].as_str().unwrap().to_string();
	let path = format!("/v1/admin/merchants/{merchant_id}/till-password");
	let template = "/v1/admin/merchants/{merchantId}/till-password";
	let body = json!({ "password": TILL_PASSWORD });
	let (status, answer) = net.admin_acquirer(Method::POST, template, &path, Some(body)).await;
	assert_eq!(status, 204, "{answer}");
	net.wallet("W-PAGES", 200_000).await;
	let (status, session) = net.login("W-PAGES", PIN).await;
	assert_eq!(status, 200, "{session}");
	refusals_are_named(&net, &merchant_id, session["token"].as_str().unwrap()).await;

	let console_port = free_port();
	let console_url = format!("http://127.0.0.1:{console_port}");
	let node_url = net.conn.url().to_string();
	let _console = NodeProcess::start_program_with_env(
		"console",
		Path::new(CONSOLE),
		&[
			"--listen",
			&format!("127.0.0.1:{console_port}"),
			"--insecure-http",
			"--node-url",
			&node_url,
			"--key",
			"//Charlie",
			"--log-format",
			"text",
		],
		&[("CLEARLINE_CONSOLE_PASSWORD", CONSOLE_PASSWORD)],
	);

	let driver = Driver::start().await;
	let wallet = driver.browser("wallet", 412, 915, &shots).await;
	let till = driver.browser("till", 1024, 1366, &shots).await;
	let console = driver.browser("console", 1440, 1500, &shots).await;

	// Everyone logs in.
	wallet.open(&format!("{}/wallet", net.issuer_url)).await;
	wallet.type_into("#login-wallet", "W-PAGES").await;
	wallet.type_into("#login-pin", PIN).await;
	wallet.click("#login-submit").await;
	wallet.wait_text("#balance", "2,000.00").await;

	till.open(&format!("{}/till", net.acquirer_url)).await;
	till.type_into("#till-merchant", &merchant_id).await;
	till.type_into("#till-password", TILL_PASSWORD).await;
	till.click("#till-login").await;
	till.wait_text("#merchant-name", "Lotus Tea House").await;

	let deadline = Instant::now() + Duration::from_secs(30);
	while reqwest::get(&console_url).await.is_err() {
		assert!(Instant::now() < deadline, "the console did not start: {}", _console.log_tail(20));
		tokio::time::sleep(Duration::from_millis(200)).await;
	}
	console_refusals(&console_url).await;
	console.open(&console_url).await;
	console.type_into("#console-password", CONSOLE_PASSWORD).await;
	console.click("#console-login").await;
	let acquirer = ss58(ACQUIRER_KEYS.chain);
	console.find(&format!("#participants tr[data-account='{acquirer}']")).await;
	console.find("#fx-chart svg").await;

	// 1. The wallet shows a payment code; the till, given its digits, charges it.
	wallet.click("#tab-pay").await;
	wallet.type_into("#pay-pin", PIN).await;
	wallet.click("#pay-show").await;
	wallet.find("#code-qr svg").await;
	let code = wallet.attr("#code-digits", "data-code").await;
	assert_eq!(code.len(), 18, "the payment code {code:?}");
	wallet.screenshot("payment-code").await;
	till.type_into("#amount", "25.80").await;
	// A USB scanner types the digits and presses Enter.
	till.type_into("#auth-code", &format!("{code}{}", char::from(Key::Enter))).await;
	till.wait_attr("#charge-state", "data-status", "SUCCESS").await;
	let charged = till.attr("#charge-state", "data-order-id").await;
	till.screenshot("charged").await;
	wallet.wait_attr("#pay-result", "data-status", "SUCCESS").await;
	wallet.wait_text("#pay-result", "25.80").await;
	wallet.screenshot("paid").await;
	// The console shows the posting and the moved net positions, live.
	console.find(&format!("#postings li.posting-event[data-order-id='{charged}']")).await;
	let position = format!("#net-positions tr[data-participant='{acquirer}'][data-currency='CNY']");
	console.wait_text(&position, &money(2580)).await;

	// 2. The till shows a dynamic QR; its picture goes to the wallet's Scan; paid with the
	// PIN, the till turns paid without a reload.
	wallet.click("#pay-stop").await;
	till.type_into("#amount", "12.00").await;
	till.click("#show-qr").await;
	let qr = till.find("#order-qr svg").await;
	till.wait_attr("#order-state", "data-status", "AWAITING_PAYMENT").await;
	let picture = shots.join("till-qr-picture.png");
	std::fs::write(&picture, qr.screenshot().await.unwrap()).unwrap();
	till.screenshot("dynamic-qr").await;
	wallet.click("#tab-scan").await;
	let upload = wallet.find("#scan-file").await;
	upload.send_keys(picture.to_str().unwrap()).await.unwrap();
	wallet.wait_text("#preview-merchant", "Lotus Tea House").await;
	wallet.wait_text("#preview-amount", "12.00").await;
	wallet.wait_text("#preview-hkd", "HKD").await;
	wallet.screenshot("scan-preview").await;
	wallet.type_into("#confirm-pin", PIN).await;
	wallet.click("#confirm-pay").await;
	wallet.wait_attr("#scan-result", "data-status", "SUCCESS").await;
	wallet.screenshot("scan-paid").await;
	till.wait_attr("#order-state", "data-status", "SUCCESS").await;
	till.screenshot("qr-paid").await;
	console.wait_text(&position, &money(2580 + 1200)).await;

	// 3. A refund from the till appears in the wallet's history.
	till.click("#order-done").await;
	let row = format!("#orders tr[data-order-id='{charged}']");
	till.type_into(&format!("{row} input.refund-amount"), "5.00").await;
	till.click(&format!("{row} button.refund")).await;
	till.wait_attr(&row, "data-trade-state", "PARTIAL_REFUND").await;
	till.screenshot("orders").await;
	wallet.click("#tab-home").await;
	wallet.find("#history li.history-line[data-kind='REFUND']").await;
	wallet.screenshot("history").await;
	console.find("#postings li.posting-event[data-event='ClearingBank.PaymentRefunded']").await;
	console.wait_text(&position, &money(2580 + 1200 - 500)).await;

	// The console closes the cycle, signed by the clearing bank's key it holds.
	console.screenshot("open-cycle").await;
	console.click("#close-cycle").await;
	console.click("#close-cycle-confirm").await;
	console.wait_text("#close-result", "1").await;
	console.find("#cycles tr[data-cycle='1']").await;
	console.screenshot("cycle-closed").await;
	let cycle = clearline_client::queries::cycle(&net.conn, Some(1), None).await.unwrap().unwrap();
	assert_eq!(cycle.entries, 3, "two payments and a refund in the closed cycle");

	for page in [wallet, till, console] {
		page.close().await;
	}
}
