//! Errors as the HTTP APIs return them: a status, a stable code and a message, as JSON.

use super::store::StoreError;
use axum::{
	http::StatusCode,
	response::{IntoResponse, Response},
	Json,
};
use serde::{Deserialize, Serialize};

/// `429 TooManyRequests` with `Retry-After`, for a caller past a rate limit.
pub fn too_many_requests(wait: std::time::Duration) -> Response {
	let secs = wait.as_secs().max(1);
	let message = format!("too many calls; try again in {secs} s");
	let mut response =
		ApiError::new(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", message).into_response();
	response.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
	response
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
	/// Stable, for programs: `WrongPin`, `UnknownMerchant`, ...
	pub code: String,
	/// For people.
	pub message: String,
}

/// An error a handler answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
	pub status: StatusCode,
	pub code: String,
	pub message: String,
}

impl ApiError {
	pub fn new(status: StatusCode, code: impl Into<String>, message: impl Into<String>) -> Self {
		Self { status, code: code.into(), message: message.into() }
	}
	pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
		Self::new(StatusCode::BAD_REQUEST, code, message)
	}
	pub fn invalid(field: &str, reason: impl std::fmt::Display) -> Self {
		Self::bad_request("InvalidField", format!("{field}: {reason}"))
	}
	pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
		Self::new(StatusCode::UNAUTHORIZED, code, message)
	}
	pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
		Self::new(StatusCode::FORBIDDEN, code, message)
	}
	pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
		Self::new(StatusCode::NOT_FOUND, code, message)
	}
	pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
		Self::new(StatusCode::CONFLICT, code, message)
	}
	pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
		Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
	}
	pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
		Self::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
	}
	/// An error the caller cannot act on: logged with a correlation id, and answered with that
	/// id only, never the error's text (which can name tables, paths or peers).
	pub fn internal(message: impl std::fmt::Display) -> Self {
		let id = hex::encode(rand::random::<[u8; 8]>());
		tracing::error!(error = %message, correlation_id = %id, "internal error");
		Self::new(
			StatusCode::INTERNAL_SERVER_ERROR,
			"Internal",
			format!("internal error; correlation id {id} (in the service's log)"),
		)
	}
}

impl std::fmt::Display for ApiError {
	fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
		write!(f, "{} ({})", self.code, self.message)
	}
}

impl std::error::Error for ApiError {}

impl From<StoreError> for ApiError {
	fn from(e: StoreError) -> Self {
		match e {
			// Two requests with one idempotency key at once: the loser is asked to retry,
			// and will then be answered as the winner was.
			e if e.is_unique_violation() => ApiError::conflict(
				"ConcurrentRequest",
				"a request with the same key is being handled; send it again",
			),
			e => ApiError::internal(e),
		}
	}
}

impl From<sqlx::Error> for ApiError {
	fn from(e: sqlx::Error) -> Self {
		StoreError::from(e).into()
	}
}

impl IntoResponse for ApiError {
	fn into_response(self) -> Response {
		let body = ErrorBody { code: self.code, message: self.message };
		(self.status, Json(body)).into_response()
	}
}

/// Parses a JSON request body, naming what is wrong with it.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
	serde_json::from_slice(body).map_err(|e| ApiError::bad_request("MalformedBody", e.to_string()))
}

/// The idempotency fingerprint of a request: a hash of its parsed content, so that the same
/// request sent again matches whatever its JSON formatting.
pub fn request_hash<T: Serialize>(value: &T) -> String {
	hex::encode(sp_crypto_hashing::blake2_256(&serde_json::to_vec(value).unwrap_or_default()))
}

/// An identifier as the chain takes it, by the chain's own rule (1 to 64 visible ASCII
/// characters).
pub fn check_id(field: &str, id: &str) -> Result<(), ApiError> {
	match pallet_clearing_bank::parse_order_id(id.as_bytes()) {
		Some(_) => Ok(()),
		None => Err(ApiError::invalid(field, "must be 1 to 64 visible ASCII characters")),
	}
}

/// Free text (names, descriptions): not empty, bounded, no control characters.
pub fn check_text(field: &str, text: &str, max: usize) -> Result<(), ApiError> {
	if text.trim().is_empty() || text.chars().count() > max || text.chars().any(char::is_control) {
		return Err(ApiError::invalid(field, format!("must be 1 to {max} printable characters")));
	}
	Ok(())
}

/// An amount in minor units (a JSON integer): positive and below 10^15.
pub fn check_amount(field: &str, amount: i64) -> Result<i64, ApiError> {
	if amount <= 0 || amount >= 1_000_000_000_000_000 {
		return Err(ApiError::invalid(field, "must be a positive number of minor units"));
	}
	Ok(amount)
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn an_internal_error_answers_a_correlation_id_not_its_text() {
		let e = ApiError::internal("no such table: wallets at /var/lib/clearline/issuer.sqlite");
		assert_eq!((e.status, e.code.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, "Internal"));
		assert!(
			!e.message.contains("wallets") && e.message.contains("correlation id"),
			"{}",
			e.message
		);
	}
}
