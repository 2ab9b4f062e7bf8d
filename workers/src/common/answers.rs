//! Every answer to a signed request is signed too, by the key this party uses toward the
//! caller: a middleware around all routes, so that no handler (nor an error from an extractor
//! that refused the request) can answer unsigned. Requests without a signature (the wallet
//! app, admin, health, metrics) get plain answers.

use super::auth;
use axum::{
	body::Body,
	extract::{Request, State},
	http::{HeaderValue, StatusCode},
	middleware::Next,
	response::Response,
};
use clearline_client::Signer;
use std::sync::Arc;

/// The keys a party signs its answers with.
pub struct AnswerKeys {
	/// The name it answers as.
	pub name: String,
	/// Per caller name, the key toward that caller; `others` for any other caller.
	pub by_caller: Vec<(String, Signer)>,
	pub others: Signer,
}

impl AnswerKeys {
	fn key_for(&self, caller: &str) -> &Signer {
		self.by_caller.iter().find(|(name, _)| name == caller).map_or(&self.others, |(_, k)| k)
	}
}

/// Signs the answer to a request that carries a signature, whatever its status.
pub async fn sign_answers(
	State(keys): State<Arc<AnswerKeys>>,
	request: Request,
	next: Next,
) -> Response {
	let signed = {
		let headers = request.headers();
		let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(String::from);
		(text(auth::PARTY), text(auth::NONCE), text(auth::SIGNATURE))
	};
	let (Some(caller), Some(nonce), Some(signature)) = signed else {
		return next.run(request).await;
	};
	let answers_to = auth::RequestRef::new(
		nonce,
		&hex::decode(signature.trim_start_matches("0x")).unwrap_or_default(),
	);
	let response = next.run(request).await;
	let (mut parts, body) = response.into_parts();
	let bytes = match axum::body::to_bytes(body, usize::MAX).await {
		Ok(b) => b,
		Err(e) => {
			tracing::error!(error = %e, "an answer's body could not be read to sign it");
			parts.status = StatusCode::INTERNAL_SERVER_ERROR;
			axum::body::Bytes::new()
		}
	};
	let key = keys.key_for(&caller);
	let status = parts.status.as_u16();
	for (name, value) in auth::sign_answer(key, &keys.name, &caller, &answers_to, status, &bytes) {
		match HeaderValue::from_str(&value) {
			Ok(v) => {
				parts.headers.insert(name, v);
			}
			// Our own name is a header value already; this cannot happen for a valid config.
			Err(e) => tracing::error!(error = %e, "an answer signature header is not valid"),
		}
	}
	Response::from_parts(parts, Body::from(bytes))
}
