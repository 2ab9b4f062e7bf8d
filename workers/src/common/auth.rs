//! Requests between parties are signed, and so are their answers.
//!
//! The sender signs the sender's and the recipient's party names, the method, the path with
//! its query, a timestamp, a fresh nonce and the hash of the body with its sr25519 API key;
//! the receiver refuses a request signed for another recipient, looks up the sender's public
//! key, checks the signature, refuses a timestamp outside its window and refuses a nonce it
//! has seen (the nonce is recorded in the same store as everything else, so a replay is
//! refused across restarts too).
//!
//! The receiver signs its answer, whatever the status, over both names, the request's nonce
//! and the hash of the request's signature (which covers the whole request), the status and
//! the hash of the body; the caller refuses an answer that does not verify
//! (`BadResponseSignature`), so that a line that rewrites answers can change nothing.

use super::{api::ApiError, now_ms, store::Db};
use axum::http::HeaderMap;
use clearline_client::Signer;
use sp_core::{crypto::Ss58Codec, sr25519, Pair as _};
use std::time::Duration;

pub const PARTY: &str = "x-clearline-party";
pub const RECIPIENT: &str = "x-clearline-recipient";
pub const TIMESTAMP: &str = "x-clearline-timestamp";
pub const NONCE: &str = "x-clearline-nonce";
pub const SIGNATURE: &str = "x-clearline-signature";

/// Separates request signatures from every other use of a key.
const DOMAIN: &str = "clearline-http/v2";
/// Separates answer signatures from request signatures.
const ANSWER_DOMAIN: &str = "clearline-http-answer/v2";

fn body_hash(body: &[u8]) -> String {
	hex::encode(sp_crypto_hashing::blake2_256(body))
}

/// The bytes a request signature covers.
fn signing_payload(
	party: &str,
	recipient: &str,
	method: &str,
	path: &str,
	timestamp: &str,
	nonce: &str,
	body: &[u8],
) -> Vec<u8> {
	let body_hash = body_hash(body);
	format!("{DOMAIN}\n{party}\n{recipient}\n{method}\n{path}\n{timestamp}\n{nonce}\n{body_hash}")
		.into_bytes()
}

/// What an answer names of the request it answers: its nonce and the hash of its signature
/// (which covers the whole request).
pub struct RequestRef {
	pub nonce: String,
	pub hash: [u8; 32],
}

impl RequestRef {
	/// The reference of a request with `nonce` and `signature` (its raw bytes).
	pub fn new(nonce: String, signature: &[u8]) -> Self {
		Self { nonce, hash: sp_crypto_hashing::blake2_256(signature) }
	}
}

/// A signed request's headers, and what its answer must be signed over.
pub struct SignedRequest {
	pub headers: Vec<(&'static str, String)>,
	pub answers_to: RequestRef,
}

/// The headers that authenticate a request from `party` to `recipient`.
pub fn sign(
	key: &Signer,
	party: &str,
	recipient: &str,
	method: &str,
	path: &str,
	body: &[u8],
) -> SignedRequest {
	let timestamp = now_ms().to_string();
	let nonce = hex::encode(rand::random::<[u8; 16]>());
	let payload = signing_payload(party, recipient, method, path, &timestamp, &nonce, body);
	let signature = key.sign_message(&payload).0;
	let headers = vec![
		(PARTY, party.to_string()),
		(RECIPIENT, recipient.to_string()),
		(TIMESTAMP, timestamp),
		(NONCE, nonce.clone()),
		(SIGNATURE, format!("0x{}", hex::encode(signature))),
	];
	SignedRequest { headers, answers_to: RequestRef::new(nonce, &signature) }
}

/// The bytes an answer signature covers.
fn answer_payload(
	responder: &str,
	caller: &str,
	request: &RequestRef,
	status: u16,
	body: &[u8],
) -> Vec<u8> {
	let (nonce, request_hash, body_hash) =
		(&request.nonce, hex::encode(request.hash), body_hash(body));
	format!(
		"{ANSWER_DOMAIN}\n{responder}\n{caller}\n{nonce}\n{request_hash}\n{status}\n{body_hash}"
	)
	.into_bytes()
}

/// The headers that authenticate `responder`'s answer to `request` from `caller`.
pub fn sign_answer(
	key: &Signer,
	responder: &str,
	caller: &str,
	request: &RequestRef,
	status: u16,
	body: &[u8],
) -> [(&'static str, String); 2] {
	let payload = answer_payload(responder, caller, request, status, body);
	let signature = format!("0x{}", hex::encode(key.sign_message(&payload).0));
	[(PARTY, responder.to_string()), (SIGNATURE, signature)]
}

/// Who a caller expects to answer: the party name it signs as, and its public key.
#[derive(Debug, Clone)]
pub struct Counterparty {
	pub party: String,
	pub key: sr25519::Public,
}

/// Checks that an answer to `request` (sent by `caller`) was signed by `from`; why not, if
/// it was not.
pub fn verify_answer(
	headers: &HeaderMap,
	from: &Counterparty,
	caller: &str,
	request: &SignedRequest,
	status: u16,
	body: &[u8],
) -> Result<(), String> {
	let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
	let responder = text(PARTY).ok_or("the answer is not signed")?;
	if responder != from.party {
		return Err(format!("the answer is signed by {responder}, not {}", from.party));
	}
	let signature = text(SIGNATURE)
		.and_then(|s| hex::decode(s.trim_start_matches("0x")).ok())
		.and_then(|b| <[u8; 64]>::try_from(b).ok())
		.ok_or("the answer's signature is not 64 bytes of hex")?;
	let payload = answer_payload(responder, caller, &request.answers_to, status, body);
	if !sr25519::Pair::verify(&sr25519::Signature::from_raw(signature), &payload, &from.key) {
		return Err("the answer's signature does not verify".into());
	}
	Ok(())
}

/// A public key as configured: SS58 or `0x` and 32 bytes of hex.
pub fn parse_public_key(text: &str) -> Result<sr25519::Public, String> {
	if let Some(hex_text) = text.strip_prefix("0x") {
		let bytes: [u8; 32] = hex::decode(hex_text)
			.ok()
			.and_then(|b| b.try_into().ok())
			.ok_or("not 32 bytes of hex")?;
		return Ok(sr25519::Public::from_raw(bytes));
	}
	sr25519::Public::from_ss58check(text).map_err(|e| format!("not an SS58 address: {e:?}"))
}

/// The public key of a signer, as parties exchange it.
pub fn public_key_text(key: &Signer) -> String {
	key.account_id().to_ss58check()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
	headers
		.get(name)
		.and_then(|v| v.to_str().ok())
		.ok_or_else(|| ApiError::unauthorized("Unauthenticated", format!("missing header {name}")))
}

/// The claimed sender of a request, before anything is verified.
pub fn claimed_party(headers: &HeaderMap) -> Result<String, ApiError> {
	header(headers, PARTY).map(str::to_string)
}

/// Verifies a request from `party`, whose public key is `key`, to `us`, and records its
/// nonce.
#[allow(clippy::too_many_arguments)]
pub async fn verify(
	db: &Db,
	headers: &HeaderMap,
	method: &str,
	path: &str,
	body: &[u8],
	party: &str,
	key: &sr25519::Public,
	us: &str,
	window: Duration,
) -> Result<(), ApiError> {
	let recipient = header(headers, RECIPIENT)?;
	if recipient != us {
		return Err(ApiError::unauthorized(
			"WrongRecipient",
			format!("the request is signed for {recipient}, not for {us}"),
		));
	}
	let timestamp = header(headers, TIMESTAMP)?;
	let nonce = header(headers, NONCE)?.to_string();
	let signature = header(headers, SIGNATURE)?;
	let ts: i64 = timestamp
		.parse()
		.map_err(|_| ApiError::unauthorized("Unauthenticated", "timestamp is not a number"))?;
	let window_ms = window.as_millis() as i64;
	if now_ms().abs_diff(ts) > window_ms as u64 {
		return Err(ApiError::unauthorized(
			"StaleRequest",
			"the request's timestamp is outside the accepted window",
		));
	}
	if nonce.len() < 16 || nonce.len() > 64 {
		return Err(ApiError::unauthorized("Unauthenticated", "nonce must be 16 to 64 characters"));
	}
	let sig: [u8; 64] = hex::decode(signature.trim_start_matches("0x"))
		.ok()
		.and_then(|b| b.try_into().ok())
		.ok_or_else(|| {
			ApiError::unauthorized("BadSignature", "signature is not 64 bytes of hex")
		})?;
	let payload = signing_payload(party, recipient, method, path, timestamp, &nonce, body);
	if !sr25519::Pair::verify(&sr25519::Signature::from_raw(sig), &payload, key) {
		return Err(ApiError::unauthorized(
			"BadSignature",
			"the signature does not verify over this request",
		));
	}
	let now = now_ms();
	if !super::store::record_nonce(db, party, &nonce, now, now - 2 * window_ms).await? {
		return Err(ApiError::unauthorized("ReplayedRequest", "this request was received before"));
	}
	Ok(())
}

/// A request's head and its body (at most 1 MiB), for verification.
pub async fn body_of(
	request: axum::extract::Request,
) -> Result<(axum::http::request::Parts, axum::body::Bytes), ApiError> {
	let (parts, body) = request.into_parts();
	let body = axum::body::to_bytes(body, 1 << 20)
		.await
		.map_err(|_| ApiError::bad_request("BodyTooLarge", "the body exceeds 1 MiB"))?;
	Ok((parts, body))
}

/// [`verify`] over a request read by [`body_of`].
pub async fn verify_request(
	db: &Db,
	parts: &axum::http::request::Parts,
	body: &[u8],
	party: &str,
	key: &sr25519::Public,
	us: &str,
	window: Duration,
) -> Result<(), ApiError> {
	let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
	verify(db, &parts.headers, parts.method.as_str(), path, body, party, key, us, window).await
}

/// An aggregator's check of a notification the acquirer sent to its `POST /notify`: the
/// acquirer's signature (a replayed or stale one refused through `db`'s nonces), made for
/// this aggregator `us`, then the notification itself, which must name `us` too.
pub async fn verify_notification(
	db: &Db,
	headers: &HeaderMap,
	body: &[u8],
	acquirer: &Counterparty,
	us: &str,
	window: Duration,
) -> Result<super::wire::Notification, ApiError> {
	let claimed = claimed_party(headers)?;
	if claimed != acquirer.party {
		return Err(ApiError::unauthorized(
			"UnknownParty",
			format!("{claimed} is not the acquirer; only it notifies"),
		));
	}
	verify(db, headers, "POST", "/notify", body, &acquirer.party, &acquirer.key, us, window)
		.await?;
	let n: super::wire::Notification = serde_json::from_slice(body)
		.map_err(|e| ApiError::bad_request("MalformedNotification", e.to_string()))?;
	if n.aggregator_id != us {
		return Err(ApiError::unauthorized(
			"WrongRecipient",
			format!("the notification is for {}, not for {us}", n.aggregator_id),
		));
	}
	Ok(n)
}

/// A secret people type (a wallet's PIN, a till's password, the console's password) as
/// stored: PBKDF2-HMAC-SHA256.
pub fn hash_secret(secret: &str, salt: &[u8], iterations: u32) -> [u8; 32] {
	let mut out = [0u8; 32];
	pbkdf2::pbkdf2_hmac::<sha2::Sha256>(secret.as_bytes(), salt, iterations, &mut out);
	out
}

/// Whether two secrets (or their hashes) are equal, in a time that does not depend on where
/// they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
	a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token of an `Authorization: Bearer` header.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
	headers
		.get(axum::http::header::AUTHORIZATION)
		.and_then(|v| v.to_str().ok())
		.and_then(|v| v.strip_prefix("Bearer "))
}

/// Checks the admin bearer token in constant time.
pub fn check_admin(headers: &HeaderMap, token: &str) -> Result<(), ApiError> {
	let given = bearer(headers)
		.ok_or_else(|| ApiError::unauthorized("Unauthenticated", "admin token required"))?;
	if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
		return Err(ApiError::unauthorized("Unauthenticated", "wrong admin token"));
	}
	Ok(())
}

#[cfg(test)]
mod tests {
	use super::*;

	#[tokio::test]
	async fn a_signed_request_verifies_once_for_its_recipient_and_an_altered_one_never() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("t.sqlite");
		let db = Db::open(path.to_str().unwrap(), &crate::common::inbox::MIGRATIONS).await.unwrap();
		let key = Signer::from_uri("//Agg").unwrap();
		let public = parse_public_key(&public_key_text(&key)).unwrap();
		let window = Duration::from_secs(60);
		let body = br#"{"amount":100}"#;
		let headers: HeaderMap = sign(&key, "agg", "acquirer", "POST", "/v1/micropay", body)
			.headers
			.into_iter()
			.map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
			.collect();
		let check = |path: &'static str, body: &'static [u8], party: &'static str, us| {
			let (db, headers) = (db.clone(), headers.clone());
			async move { verify(&db, &headers, "POST", path, body, party, &public, us, window).await }
		};
		let code = |r: Result<(), ApiError>| r.unwrap_err().code;
		let altered = br#"{"amount":900}"#;
		assert_eq!(code(check("/v1/micropay", altered, "agg", "acquirer").await), "BadSignature");
		assert_eq!(code(check("/v1/orders", body, "agg", "acquirer").await), "BadSignature");
		assert_eq!(code(check("/v1/micropay", body, "other", "acquirer").await), "BadSignature");
		assert_eq!(code(check("/v1/micropay", body, "agg", "issuer").await), "WrongRecipient");
		let mut readdressed = headers.clone();
		readdressed.insert(RECIPIENT, "issuer".parse().unwrap());
		let e = verify(
			&db,
			&readdressed,
			"POST",
			"/v1/micropay",
			body,
			"agg",
			&public,
			"issuer",
			window,
		);
		assert_eq!(code(e.await), "BadSignature");
		check("/v1/micropay", body, "agg", "acquirer").await.unwrap();
		assert_eq!(code(check("/v1/micropay", body, "agg", "acquirer").await), "ReplayedRequest");

		let mut old = headers.clone();
		old.insert(TIMESTAMP, (now_ms() - 120_000).to_string().parse().unwrap());
		let e = verify(&db, &old, "POST", "/v1/micropay", body, "agg", &public, "acquirer", window);
		assert_eq!(code(e.await), "StaleRequest");
	}

	#[test]
	fn an_answer_verifies_only_as_signed_for_its_request() {
		let acquirer = Signer::from_uri("//Acq").unwrap();
		let from = Counterparty {
			party: "acquirer".into(),
			key: parse_public_key(&public_key_text(&acquirer)).unwrap(),
		};
		let caller = Signer::from_uri("//Agg").unwrap();
		let request = sign(&caller, "agg", "acquirer", "GET", "/v1/orders/A", b"");
		let body = br#"{"status":"SUCCESS"}"#;
		let signed = |status: u16, body: &[u8], request: &SignedRequest| -> HeaderMap {
			sign_answer(&acquirer, "acquirer", "agg", &request.answers_to, status, body)
				.into_iter()
				.map(|(k, v)| (k.parse().unwrap(), v.parse().unwrap()))
				.collect()
		};
		let headers = signed(200, body, &request);
		verify_answer(&headers, &from, "agg", &request, 200, body).unwrap();
		// Another body, another status, another caller, or the answer to another request.
		assert!(verify_answer(&headers, &from, "agg", &request, 200, br#"{"status":"FAILURE"}"#)
			.is_err());
		assert!(verify_answer(&headers, &from, "agg", &request, 500, body).is_err());
		assert!(verify_answer(&headers, &from, "agg-2", &request, 200, body).is_err());
		let other = sign(&caller, "agg", "acquirer", "GET", "/v1/orders/A", b"");
		assert!(verify_answer(&headers, &from, "agg", &other, 200, body).is_err());
		// Unsigned, or signed by someone else.
		assert!(verify_answer(&HeaderMap::new(), &from, "agg", &request, 200, body).is_err());
		let impostor = Counterparty {
			party: "acquirer".into(),
			key: parse_public_key(&public_key_text(&caller)).unwrap(),
		};
		assert!(verify_answer(&headers, &impostor, "agg", &request, 200, body).is_err());
	}

	#[test]
	fn the_admin_token_must_match() {
		let mut h = HeaderMap::new();
		assert_eq!(check_admin(&h, "s3cret").unwrap_err().code, "Unauthenticated");
		h.insert("authorization", "Bearer s3cre".parse().unwrap());
		assert!(check_admin(&h, "s3cret").is_err());
		h.insert("authorization", "Bearer s3cret".parse().unwrap());
		assert!(check_admin(&h, "s3cret").is_ok());
	}
}
