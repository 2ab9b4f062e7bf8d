//! One lock per order, so that one task at a time moves an order on: a duplicate request, a
//! resumed task and reconciliation wait for (or skip) the one already at work.
//!
//! Within a process the lock is a mutex per order. On PostgreSQL it is also a session-level
//! advisory lock on the order, so that processes sharing the database exclude each other too.
//! One session of the process's own holds all its advisory locks (a session can hold any
//! number), so a thousand orders in flight take one connection, not a thousand; a process that
//! dies loses its session, and its locks with it.
//!
//! The lock saves work, not money: every status move is conditional and the chain refuses a
//! second posting of an order, so an order worked twice (if the lock session broke and
//! another process took the order meanwhile) still settles once.

use super::store::{Backend, Db, StoreError};
use sqlx::{AnyConnection, Connection, Row};
use std::{collections::HashMap, sync::Arc, time::Duration};
use tokio::sync::{Mutex, OwnedMutexGuard};

#[derive(Clone)]
pub struct OrderLocks {
	inner: Arc<Inner>,
}

struct Inner {
	db: Db,
	/// Keeps the advisory keys of one kind of order apart from another's.
	namespace: &'static str,
	local: Mutex<HashMap<String, Arc<Mutex<()>>>>,
	/// The session holding this process's advisory locks (PostgreSQL), opened when first
	/// needed and again after it broke.
	session: Mutex<Option<AnyConnection>>,
}

/// An order held: released when dropped.
pub struct OrderGuard {
	_local: OwnedMutexGuard<()>,
	advisory: Option<(Arc<Inner>, i64)>,
}

impl Drop for OrderGuard {
	fn drop(&mut self) {
		if let Some((inner, key)) = self.advisory.take() {
			tokio::spawn(async move {
				if let Err(e) = inner.advisory("pg_advisory_unlock($1)", key).await {
					tracing::warn!(error = %e, "could not release an order's advisory lock");
				}
			});
		}
	}
}

impl Inner {
	/// Runs one advisory-lock function on the lock session; its boolean answer.
	async fn advisory(&self, function: &str, key: i64) -> Result<bool, StoreError> {
		let mut session = self.session.lock().await;
		if session.is_none() {
			*session = Some(self.db.conn().await?.detach());
		}
		let conn = session.as_mut().expect("opened above");
		let sql = format!("SELECT CASE WHEN {} THEN 1 ELSE 0 END", function);
		match sqlx::query(&sql).bind(key).fetch_one(&mut *conn).await {
			Ok(row) => Ok(row.try_get::<i32, _>(0)? == 1),
			Err(e) => {
				// A broken session has lost its locks; the next call opens a new one.
				if let Some(conn) = session.take() {
					let _ = conn.close().await;
				}
				Err(e.into())
			}
		}
	}
}

impl OrderLocks {
	pub fn new(db: Db, namespace: &'static str) -> Self {
		let inner = Inner { db, namespace, local: Mutex::default(), session: Mutex::default() };
		Self { inner: Arc::new(inner) }
	}

	async fn local(&self, order_id: &str) -> Arc<Mutex<()>> {
		let mut locks = self.inner.local.lock().await;
		// Locks nobody holds or waits for are dropped on the way.
		locks.retain(|_, l| Arc::strong_count(l) > 1);
		locks.entry(order_id.to_string()).or_default().clone()
	}

	fn key(&self, order_id: &str) -> i64 {
		let id = format!("{}/{order_id}", self.inner.namespace);
		i64::from_le_bytes(sp_crypto_hashing::blake2_64(id.as_bytes()))
	}

	/// The order's advisory lock, where the backend has one: `None` if another process
	/// holds it.
	async fn advisory(
		&self,
		order_id: &str,
	) -> Result<Option<Option<(Arc<Inner>, i64)>>, StoreError> {
		if self.inner.db.backend() == Backend::Sqlite {
			return Ok(Some(None));
		}
		let key = self.key(order_id);
		let held = self.inner.advisory("pg_try_advisory_lock($1)", key).await?;
		Ok(held.then(|| Some((self.inner.clone(), key))))
	}

	/// Waits until the order is free, then holds it.
	pub async fn lock(&self, order_id: &str) -> Result<OrderGuard, StoreError> {
		let local = self.local(order_id).await.lock_owned().await;
		loop {
			if let Some(advisory) = self.advisory(order_id).await? {
				return Ok(OrderGuard { _local: local, advisory });
			}
			// Another process has it: polled, so that waiting holds the session for no one.
			tokio::time::sleep(Duration::from_millis(50)).await;
		}
	}

	/// Holds the order if nobody does; `None` if somebody does.
	pub async fn try_lock(&self, order_id: &str) -> Result<Option<OrderGuard>, StoreError> {
		let Ok(local) = self.local(order_id).await.try_lock_owned() else { return Ok(None) };
		Ok(self.advisory(order_id).await?.map(|advisory| OrderGuard { _local: local, advisory }))
	}
}
