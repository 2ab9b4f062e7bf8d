//! Refunds credited to wallets. The issuer takes a refund from the finalized chain alone (the
//! acquirer's notice only says where to look): the refund must be the acquirer's, of a posting
//! of ours, and the wallet gets exactly the HKD the chain returned to our settlement account,
//! at the payment's own rate. The credit and its record are one transaction, unique by the
//! refund id, so a refund is credited once however often it is announced or resolved.

use super::{
	order,
	wallet::{self, EntryKind, WalletError},
	Issuer,
};
use crate::common::{
	api::ApiError,
	cycles::LocalEntry,
	now_ms,
	store::{Db, StoreError, StoreResult},
	wire::RefundCredited,
};
use clearline_client::queries;
use serde::Serialize;
use sqlx::{any::AnyRow, AnyConnection, Row};

/// Who had a refund credited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundSource {
	/// The acquirer's notice.
	Acquirer,
	/// An operator, for a refund reconciliation found on chain uncredited.
	Operator,
}

crate::text_enum!(RefundSource { Acquirer => "ACQUIRER", Operator => "OPERATOR" });

/// What the issuer refuses of a refund, by name.
#[derive(Debug, thiserror::Error)]
pub enum RefundError {
	#[error("refund {0} is not in a finalized block (yet)")]
	RefundNotOnChain(String),
	#[error("refund {refund} is of order {on_chain}, not {named}")]
	RefundOrderMismatch { refund: String, on_chain: String, named: String },
	#[error("the refunded payment is not one of this issuer's: {0}")]
	NotOurPayment(String),
	#[error("the chain could not be read: {0}")]
	ChainUnavailable(String),
	#[error(transparent)]
	Wallet(#[from] WalletError),
	#[error(transparent)]
	Store(#[from] StoreError),
}

impl From<sqlx::Error> for RefundError {
	fn from(e: sqlx::Error) -> Self {
		Self::Store(e.into())
	}
}

impl From<RefundError> for ApiError {
	fn from(e: RefundError) -> Self {
		let message = e.to_string();
		match e {
			// The acquirer's node may be ahead of ours: worth asking again.
			RefundError::RefundNotOnChain(_) => ApiError::unavailable("RefundNotOnChain", message),
			RefundError::RefundOrderMismatch { .. } => {
				ApiError::conflict("RefundOrderMismatch", message)
			}
			RefundError::NotOurPayment(_) => ApiError::not_found("NotOurPayment", message),
			RefundError::ChainUnavailable(_) => ApiError::unavailable("ChainUnavailable", message),
			RefundError::Wallet(e) => e.into(),
			RefundError::Store(e) => e.into(),
		}
	}
}

/// A credited refund.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreditedRefund {
	pub refund_id: String,
	pub issuer_order_id: String,
	pub acquirer_order_id: String,
	pub wallet_id: String,
	/// Minor units of CNY.
	pub credit_amount: i64,
	/// Minor units of HKD credited to the wallet.
	pub debit_amount: i64,
	pub posting_id: i64,
	pub cycle: i64,
	pub source: RefundSource,
	pub credited_at: i64,
}

impl From<CreditedRefund> for RefundCredited {
	fn from(r: CreditedRefund) -> Self {
		RefundCredited {
			refund_id: r.refund_id,
			issuer_order_id: r.issuer_order_id,
			acquirer_order_id: r.acquirer_order_id,
			credit_amount: r.credit_amount,
			debit_amount: r.debit_amount,
			status: "CREDITED".into(),
		}
	}
}

fn refund_from(r: &AnyRow) -> StoreResult<CreditedRefund> {
	Ok(CreditedRefund {
		refund_id: r.try_get("refund_id")?,
		issuer_order_id: r.try_get("issuer_order_id")?,
		acquirer_order_id: r.try_get("acquirer_order_id")?,
		wallet_id: r.try_get("wallet_id")?,
		credit_amount: r.try_get("credit_amount")?,
		debit_amount: r.try_get("debit_amount")?,
		posting_id: r.try_get("posting_id")?,
		cycle: r.try_get("cycle")?,
		source: r.try_get("source")?,
		credited_at: r.try_get("credited_at")?,
	})
}

async fn credited(tx: &mut AnyConnection, refund_id: &str) -> StoreResult<Option<CreditedRefund>> {
	let row = sqlx::query("SELECT * FROM refunds WHERE refund_id = $1")
		.bind(refund_id)
		.fetch_optional(tx)
		.await?;
	row.as_ref().map(refund_from).transpose()
}

/// Credits the acquirer's refund `refund_id` to the wallet that paid, from the finalized
/// chain's record of it, once; `named_order` is the acquirer order the caller says it refunds.
pub async fn credit(
	s: &Issuer,
	refund_id: &str,
	named_order: Option<&str>,
	source: RefundSource,
) -> Result<CreditedRefund, RefundError> {
	let unavailable = |e: clearline_client::Error| RefundError::ChainUnavailable(e.to_string());
	if let Some(done) = credited(&mut *s.db.conn().await?, refund_id).await? {
		return check_named(done, named_order);
	}
	let (_, head) = s.conn.finalized().await.map_err(unavailable)?;
	let record = queries::refund(&s.conn, &s.acquirer_account, refund_id, Some(head))
		.await
		.map_err(unavailable)?
		.ok_or_else(|| RefundError::RefundNotOnChain(refund_id.to_string()))?;
	let posting = queries::posting_by_id(&s.conn, record.posting_id, Some(head))
		.await
		.map_err(unavailable)?
		.filter(|p| p.issuer == s.sender.account())
		.ok_or_else(|| RefundError::NotOurPayment(format!("posting {}", record.posting_id)))?;
	if let Some(named) = named_order.filter(|n| *n != posting.acquirer_order_id) {
		return Err(RefundError::RefundOrderMismatch {
			refund: refund_id.to_string(),
			on_chain: posting.acquirer_order_id,
			named: named.to_string(),
		});
	}
	let mut tx = s.db.begin().await?;
	let order = order::order(&mut tx, &posting.issuer_order_id)
		.await?
		.ok_or_else(|| RefundError::NotOurPayment(posting.issuer_order_id.clone()))?;
	let wallet_id = order.wallet_id.ok_or_else(|| {
		RefundError::NotOurPayment(format!("{} has no wallet", posting.issuer_order_id))
	})?;
	let inserted = sqlx::query(
		"INSERT INTO refunds (refund_id, issuer_order_id, acquirer_order_id, wallet_id,
		 credit_amount, debit_amount, posting_id, cycle, source, credited_at)
		 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
	)
	.bind(refund_id)
	.bind(&posting.issuer_order_id)
	.bind(&posting.acquirer_order_id)
	.bind(&wallet_id)
	.bind(record.credit_amount.0 as i64)
	.bind(record.debit_amount.0 as i64)
	.bind(record.posting_id as i64)
	.bind(record.cycle as i64)
	.bind(source)
	.bind(now_ms())
	.execute(&mut *tx)
	.await?;
	if inserted.rows_affected() == 1 {
		let amount = record.debit_amount.0 as i64;
		wallet::book(&mut tx, &wallet_id, EntryKind::Refund, amount, refund_id).await?;
	}
	let done = credited(&mut tx, refund_id)
		.await?
		.ok_or_else(|| StoreError::unreadable("refund", "just written"))?;
	tx.commit().await?;
	if inserted.rows_affected() == 1 {
		crate::crash_point!(crate::common::faults::ISSUER_AFTER_REFUND_CREDIT);
		tracing::info!(refund = %refund_id, wallet = %wallet_id, amount = done.debit_amount, %source, "refund credited");
	}
	Ok(done)
}

fn check_named(
	done: CreditedRefund,
	named_order: Option<&str>,
) -> Result<CreditedRefund, RefundError> {
	match named_order {
		Some(named) if named != done.acquirer_order_id => Err(RefundError::RefundOrderMismatch {
			refund: done.refund_id,
			on_chain: done.acquirer_order_id,
			named: named.to_string(),
		}),
		_ => Ok(done),
	}
}

/// What the order has had refunded: (CNY, HKD) minor units.
pub async fn refunded(tx: &mut AnyConnection, issuer_order_id: &str) -> StoreResult<(i64, i64)> {
	let row = sqlx::query(
		"SELECT CAST(COALESCE(SUM(credit_amount), 0) AS BIGINT), CAST(COALESCE(SUM(debit_amount), 0) AS BIGINT) FROM refunds
		 WHERE issuer_order_id = $1",
	)
	.bind(issuer_order_id)
	.fetch_one(tx)
	.await?;
	Ok((row.try_get(0)?, row.try_get(1)?))
}

/// The issuer's refunds of a cycle: each credited its HKD account.
pub async fn cycle_entries(db: &Db, cycle: u32) -> StoreResult<Vec<LocalEntry>> {
	let rows = sqlx::query(
		"SELECT r.refund_id, r.acquirer_order_id, r.credit_amount, r.debit_amount, r.posting_id,
		 o.instruction FROM refunds r JOIN orders o ON o.issuer_order_id = r.issuer_order_id
		 WHERE r.cycle = $1",
	)
	.bind(cycle as i64)
	.fetch_all(db.pool())
	.await?;
	rows.iter()
		.map(|r| {
			let debit: i64 = r.try_get("debit_amount")?;
			LocalEntry::refund(
				r.try_get("acquirer_order_id")?,
				r.try_get("refund_id")?,
				(r.try_get("credit_amount")?, debit),
				debit,
				r.try_get("posting_id")?,
				&r.try_get::<String, _>("instruction")?,
			)
		})
		.collect()
}
