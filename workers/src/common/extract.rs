//! Who may call a handler, decided before it runs: [`Admin`] for the bearer token of the
//! admin endpoints, [`SignedBy`] for a request signed by a party in a given role (the body it
//! signed is handed to the handler).

use super::{api::ApiError, auth, listener::ClientCertificate, service::CommonArgs, store::Db};
use axum::{
	async_trait,
	body::Bytes,
	extract::{FromRequest, FromRequestParts, Request},
	http::request::Parts,
};
use sp_core::sr25519;
use std::{future::Future, marker::PhantomData, sync::Arc, time::Duration};

/// The role a signing party plays toward this service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
	Issuer,
	Acquirer,
	Aggregator,
}

/// What a service knows to authenticate its callers.
pub trait Authenticates: Send + Sync + 'static {
	/// Where request nonces are kept.
	fn db(&self) -> &Db;
	/// The options that hold the admin token and the request window.
	fn common(&self) -> &CommonArgs;

	/// The name this service signs as; requests must be signed for it.
	fn name(&self) -> &str;

	/// The admin endpoints' bearer token.
	fn admin_token(&self) -> &str;

	/// How far a signed request's timestamp may be from our clock.
	fn request_window(&self) -> Duration {
		self.common().request_window.into()
	}

	/// The role and public key of the party that signs as `party`, if it may call us.
	fn party_key(
		&self,
		party: &str,
	) -> impl Future<Output = Result<Option<(Role, sr25519::Public)>, ApiError>> + Send;
}

/// The admin's bearer token was given.
pub struct Admin;

#[async_trait]
impl<S: Authenticates> FromRequestParts<Arc<S>> for Admin {
	type Rejection = ApiError;

	async fn from_request_parts(parts: &mut Parts, s: &Arc<S>) -> Result<Self, ApiError> {
		auth::check_admin(&parts.headers, s.admin_token())?;
		Ok(Admin)
	}
}

/// A role a handler serves, and how it refuses any other.
pub trait Caller: Send + Sync + 'static {
	const ROLE: Role;
	/// The code and message for a valid signature by a party in another role.
	const WRONG_ROLE: (&'static str, &'static str);
}

/// The issuer's requests.
pub struct IssuerCall;
/// The acquirer's requests.
pub struct AcquirerCall;
/// An aggregator's requests.
pub struct AggregatorCall;

impl Caller for IssuerCall {
	const ROLE: Role = Role::Issuer;
	const WRONG_ROLE: (&'static str, &'static str) =
		("NotTheIssuer", "this endpoint serves the issuer");
}

impl Caller for AcquirerCall {
	const ROLE: Role = Role::Acquirer;
	const WRONG_ROLE: (&'static str, &'static str) =
		("NotTheAcquirer", "this endpoint serves the acquirer");
}

impl Caller for AggregatorCall {
	const ROLE: Role = Role::Aggregator;
	const WRONG_ROLE: (&'static str, &'static str) =
		("NotAnAggregator", "this endpoint serves aggregators");
}

/// A request whose signature verified, by a party in role `C`: the party's name and the body
/// it signed (at most 1 MiB).
pub struct SignedBy<C> {
	pub party: String,
	pub body: Bytes,
	_caller: PhantomData<C>,
}

#[async_trait]
impl<S: Authenticates, C: Caller> FromRequest<Arc<S>> for SignedBy<C> {
	type Rejection = ApiError;

	async fn from_request(request: Request, s: &Arc<S>) -> Result<Self, ApiError> {
		let (parts, body) = auth::body_of(request).await?;
		let bank = matches!(C::ROLE, Role::Issuer | Role::Acquirer);
		let mutual_tls = s.common().server_tls.tls_client_ca.is_some();
		if bank && mutual_tls && parts.extensions.get::<ClientCertificate>().is_none() {
			return Err(ApiError::unauthorized(
				"ClientCertificateRequired",
				"this endpoint takes the other bank's requests over mutual TLS only",
			));
		}
		let party = auth::claimed_party(&parts.headers)?;
		let (role, key) = s
			.party_key(&party)
			.await?
			.ok_or_else(|| ApiError::unauthorized("UnknownParty", format!("no party {party}")))?;
		auth::verify_request(s.db(), &parts, &body, &party, &key, s.name(), s.request_window())
			.await?;
		if role != C::ROLE {
			let (code, message) = C::WRONG_ROLE;
			return Err(ApiError::forbidden(code, message));
		}
		Ok(Self { party, body, _caller: PhantomData })
	}
}
