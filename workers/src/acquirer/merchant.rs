//! Aggregators and their merchants, as the acquirer registered them.

use super::order::{OrderError, OrderResult};
use crate::common::{
	now_ms,
	store::{next_number, Db, StoreResult},
};
use serde::Serialize;
use sqlx::{any::AnyRow, AnyConnection, Row};

/// Whether a merchant can be paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MerchantStatus {
	Active,
	Suspended,
}

crate::text_enum!(MerchantStatus { Active => "ACTIVE", Suspended => "SUSPENDED" });

/// A merchant as the API shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Merchant {
	pub merchant_id: String,
	pub aggregator_id: String,
	pub aggregator_merchant_id: String,
	pub name: String,
	pub city: String,
	pub mcc: String,
	pub status: MerchantStatus,
}

fn merchant_from(r: &AnyRow) -> StoreResult<Merchant> {
	Ok(Merchant {
		merchant_id: r.try_get("merchant_id")?,
		aggregator_id: r.try_get("aggregator_id")?,
		aggregator_merchant_id: r.try_get("aggregator_merchant_id")?,
		name: r.try_get("name")?,
		city: r.try_get("city")?,
		mcc: r.try_get("mcc")?,
		status: r.try_get("status")?,
	})
}

const SELECT_MERCHANT: &str = "SELECT merchant_id, aggregator_id, aggregator_merchant_id, name, \
	city, mcc, status FROM merchants";

/// The merchant with our id `merchant_id`.
pub async fn merchant(tx: &mut AnyConnection, merchant_id: &str) -> OrderResult<Merchant> {
	let row = sqlx::query(&format!("{SELECT_MERCHANT} WHERE merchant_id = $1"))
		.bind(merchant_id)
		.fetch_optional(tx)
		.await?;
	Ok(row.as_ref().map(merchant_from).transpose()?.ok_or(OrderError::UnknownMerchant)?)
}

/// An aggregator's merchant by the aggregator's own id for it.
async fn of_aggregator(
	tx: &mut AnyConnection,
	aggregator: &str,
	aggregator_merchant_id: &str,
) -> StoreResult<Option<Merchant>> {
	let row = sqlx::query(&format!(
		"{SELECT_MERCHANT} WHERE aggregator_id = $1 AND aggregator_merchant_id = $2"
	))
	.bind(aggregator)
	.bind(aggregator_merchant_id)
	.fetch_optional(tx)
	.await?;
	row.as_ref().map(merchant_from).transpose()
}

fn active(merchant: Merchant) -> OrderResult<Merchant> {
	if merchant.status != MerchantStatus::Active {
		return Err(OrderError::MerchantSuspended);
	}
	Ok(merchant)
}

/// The merchant, which must be active.
pub async fn active_merchant(tx: &mut AnyConnection, merchant_id: &str) -> OrderResult<Merchant> {
	active(merchant(tx, merchant_id).await?)
}

/// The aggregator's merchant, which must be active.
pub async fn aggregator_merchant(
	tx: &mut AnyConnection,
	aggregator: &str,
	aggregator_merchant_id: &str,
) -> OrderResult<Merchant> {
	active(
		of_aggregator(tx, aggregator, aggregator_merchant_id)
			.await?
			.ok_or(OrderError::UnknownMerchant)?,
	)
}

/// [`aggregator_merchant`], outside a transaction.
pub async fn load_aggregator_merchant(
	db: &Db,
	aggregator: &str,
	aggregator_merchant_id: &str,
) -> OrderResult<Merchant> {
	aggregator_merchant(&mut *db.conn().await?, aggregator, aggregator_merchant_id).await
}

/// The merchant, which must exist (admin).
pub async fn get(db: &Db, merchant_id: &str) -> OrderResult<Merchant> {
	merchant(&mut *db.conn().await?, merchant_id).await
}

/// Registers an aggregator's merchant under our next merchant id; the same merchant again
/// is answered as registered.
pub async fn add(
	db: &Db,
	aggregator_id: &str,
	aggregator_merchant_id: &str,
	name: &str,
	city: &str,
	mcc: &str,
) -> OrderResult<Merchant> {
	let mut tx = db.begin().await?;
	if aggregator_key(&mut tx, aggregator_id).await?.is_none() {
		return Err(OrderError::UnknownAggregator);
	}
	if let Some(m) = of_aggregator(&mut tx, aggregator_id, aggregator_merchant_id).await? {
		return Ok(m);
	}
	let id = format!("M{:08}", next_number(&mut tx, "merchant").await?);
	sqlx::query(
		"INSERT INTO merchants (merchant_id, aggregator_id, aggregator_merchant_id, name, city,
		 mcc, status, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	)
	.bind(&id)
	.bind(aggregator_id)
	.bind(aggregator_merchant_id)
	.bind(name)
	.bind(city)
	.bind(mcc)
	.bind(MerchantStatus::Active)
	.bind(now_ms())
	.execute(&mut *tx)
	.await?;
	let merchant = merchant(&mut tx, &id).await?;
	tx.commit().await?;
	Ok(merchant)
}

/// Suspends or reactivates a merchant.
pub async fn set_status(
	db: &Db,
	merchant_id: &str,
	status: MerchantStatus,
) -> OrderResult<Merchant> {
	let mut tx = db.begin().await?;
	let changed = sqlx::query("UPDATE merchants SET status = $2 WHERE merchant_id = $1")
		.bind(merchant_id)
		.bind(status)
		.execute(&mut *tx)
		.await?;
	if changed.rows_affected() == 0 {
		return Err(OrderError::UnknownMerchant);
	}
	let merchant = merchant(&mut tx, merchant_id).await?;
	tx.commit().await?;
	Ok(merchant)
}

/// The public key an aggregator signs its requests with, as registered.
pub async fn aggregator_key(
	tx: &mut AnyConnection,
	aggregator_id: &str,
) -> StoreResult<Option<String>> {
	let row = sqlx::query("SELECT public_key FROM aggregators WHERE aggregator_id = $1")
		.bind(aggregator_id)
		.fetch_optional(tx)
		.await?;
	Ok(row.map(|r| r.try_get(0)).transpose()?)
}

/// The notify URL for an aggregator's new order: `requested`, if it is on one of the
/// aggregator's registered origins, else the registered URL.
pub async fn notify_url_for(
	tx: &mut AnyConnection,
	aggregator_id: &str,
	requested: Option<&str>,
) -> OrderResult<String> {
	let a = aggregator(tx, aggregator_id).await?.ok_or(OrderError::UnknownAggregator)?;
	match requested {
		Some(url) => {
			super::destinations::check_order_url(url, &a.notify_origins)
				.map_err(|e| OrderError::NotifyUrlNotAllowed(e.to_string()))?;
			Ok(url.to_string())
		}
		None => Ok(a.notify_url),
	}
}

/// An aggregator as registered.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Aggregator {
	pub aggregator_id: String,
	pub name: String,
	pub public_key: String,
	pub notify_url: String,
	/// Every origin (`scheme://host:port`) an order's notify URL may be on: the notify URL's
	/// and those registered beside it.
	pub notify_origins: Vec<String>,
	/// Whether notifications may go to internal addresses (loopback, private, link-local).
	pub private_addresses: bool,
}

impl Aggregator {
	/// The notify URL's origin first, then the others registered, each once.
	fn with_origins(mut self, extra: &str) -> Self {
		let mut origins: Vec<String> =
			super::destinations::origin_of(&self.notify_url).into_iter().collect();
		for origin in extra.lines().map(str::trim).filter(|o| !o.is_empty()) {
			if !origins.iter().any(|o| o == origin) {
				origins.push(origin.to_string());
			}
		}
		self.notify_origins = origins;
		self
	}
}

/// The aggregator `aggregator_id`, if registered.
pub async fn aggregator(
	tx: &mut AnyConnection,
	aggregator_id: &str,
) -> StoreResult<Option<Aggregator>> {
	let row = sqlx::query(
		"SELECT aggregator_id, name, public_key, notify_url, notify_origins, private_addresses
		 FROM aggregators WHERE aggregator_id = $1",
	)
	.bind(aggregator_id)
	.fetch_optional(tx)
	.await?;
	let Some(r) = row else { return Ok(None) };
	let aggregator = Aggregator {
		aggregator_id: r.try_get("aggregator_id")?,
		name: r.try_get("name")?,
		public_key: r.try_get("public_key")?,
		notify_url: r.try_get("notify_url")?,
		notify_origins: Vec::new(),
		private_addresses: r.try_get::<i64, _>("private_addresses")? != 0,
	};
	Ok(Some(aggregator.with_origins(&r.try_get::<String, _>("notify_origins")?)))
}

/// Registers an aggregator, or updates its name, key and where it is notified.
pub async fn register_aggregator(db: &Db, a: &Aggregator) -> StoreResult<()> {
	sqlx::query(
		"INSERT INTO aggregators (aggregator_id, name, public_key, notify_url, notify_origins,
		 private_addresses, created_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7)
		 ON CONFLICT (aggregator_id) DO UPDATE SET name = $2, public_key = $3, notify_url = $4,
		 notify_origins = $5, private_addresses = $6",
	)
	.bind(&a.aggregator_id)
	.bind(&a.name)
	.bind(&a.public_key)
	.bind(&a.notify_url)
	.bind(a.notify_origins.join("\n"))
	.bind(i64::from(a.private_addresses))
	.bind(now_ms())
	.execute(db.pool())
	.await?;
	Ok(())
}
