//! The pages people use, served by the service they talk to: the wallet app by the issuer,
//! the merchant's till by the acquirer, the clearing bank's console by the console. Each page
//! is a static HTML shell with a small script that calls the service's JSON API on the same
//! origin; everything is built into the binary, so nothing is fetched from elsewhere.

use axum::{
	http::{header, HeaderValue},
	response::{IntoResponse, Response},
	routing::get,
	Router,
};

/// Scripts and styles only from the page's own origin; QR images are inline SVG and camera
/// frames are blobs.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data: blob:; \
	media-src 'self' blob:; style-src 'self' 'unsafe-inline'; object-src 'none'; \
	frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// The pages that exist; each service serves its own.
#[derive(Debug, Clone, Copy)]
pub enum Page {
	Wallet,
	Till,
	Console,
}

impl Page {
	fn html(self) -> &'static str {
		match self {
			Page::Wallet => include_str!("../pages/assets/wallet.html"),
			Page::Till => include_str!("../pages/assets/till.html"),
			Page::Console => include_str!("../pages/assets/console.html"),
		}
	}

	fn script(self) -> (&'static str, &'static str) {
		match self {
			Page::Wallet => ("/assets/wallet.js", include_str!("../pages/assets/wallet.js")),
			Page::Till => ("/assets/till.js", include_str!("../pages/assets/till.js")),
			Page::Console => ("/assets/console.js", include_str!("../pages/assets/console.js")),
		}
	}
}

const STYLES: &str = include_str!("../pages/assets/pages.css");
/// What the three pages' scripts share; loaded before each page's own.
const COMMON_SCRIPT: &str = include_str!("../pages/assets/common.js");

fn asset(content_type: &'static str, body: &'static str) -> Response {
	let mut response = body.into_response();
	let headers = response.headers_mut();
	headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
	// The assets change only with the binary; a new release is picked up at the next load.
	headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
	headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
	headers
		.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
	headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
	response
}

/// The routes of `page` served at `path`: its HTML, its script and the shared styles.
pub fn routes<S: Clone + Send + Sync + 'static>(page: Page, path: &'static str) -> Router<S> {
	let (script_path, script) = page.script();
	let html = page.html();
	Router::new()
		.route(path, get(move || async move { asset("text/html; charset=utf-8", html) }))
		.route(
			script_path,
			get(move || async move { asset("text/javascript; charset=utf-8", script) }),
		)
		.route("/assets/pages.css", get(|| async { asset("text/css; charset=utf-8", STYLES) }))
		.route(
			"/assets/common.js",
			get(|| async { asset("text/javascript; charset=utf-8", COMMON_SCRIPT) }),
		)
}
