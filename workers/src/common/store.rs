//! The embedded store: one SQLite file per service, written in WAL mode with full sync, so
//! that a state change is either entirely on disk or not at all, even after `kill -9`.

use super::api::ApiError;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::{
	path::Path,
	sync::{Arc, Mutex},
};

/// A shared handle on the store. Every closure given to [`Db::write`] or [`Db::read`] runs
/// in one SQLite transaction on a blocking thread; `write` takes the write lock at once
/// (`BEGIN IMMEDIATE`), so that a check and the change it guards cannot interleave with
/// another request's.
#[derive(Clone)]
pub struct Db {
	conn: Arc<Mutex<Connection>>,
}

impl Db {
	/// Opens (creating if needed) the store at `path` and applies `schema` and the table of
	/// request nonces.
	pub fn open(path: &Path, schema: &str) -> anyhow::Result<Self> {
		if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
			std::fs::create_dir_all(dir)?;
		}
		let conn = Connection::open(path)?;
		conn.pragma_update(None, "journal_mode", "WAL")?;
		conn.pragma_update(None, "synchronous", "FULL")?;
		conn.pragma_update(None, "foreign_keys", "ON")?;
		conn.busy_timeout(std::time::Duration::from_secs(10))?;
		conn.execute_batch(schema)?;
		conn.execute_batch(super::auth::NONCE_SCHEMA)?;
		conn.execute_batch(COUNTERS_SCHEMA)?;
		Ok(Self { conn: Arc::new(Mutex::new(conn)) })
	}

	/// Adds the `(table, column, declaration)` columns a store created by an earlier release
	/// lacks, so that an upgraded service opens the store it left.
	pub fn add_missing_columns(&self, columns: &[(&str, &str, &str)]) -> anyhow::Result<()> {
		let conn = self.conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
		for (table, column, declaration) in columns {
			let present: i64 = conn.query_row(
				&format!("SELECT COUNT(*) FROM pragma_table_info('{table}') WHERE name = ?1"),
				[column],
				|r| r.get(0),
			)?;
			if present == 0 {
				conn.execute_batch(&format!(
					"ALTER TABLE {table} ADD COLUMN {column} {declaration}"
				))?;
			}
		}
		Ok(())
	}

	async fn transaction<T, F>(&self, behavior: TransactionBehavior, f: F) -> Result<T, ApiError>
	where
		T: Send + 'static,
		F: FnOnce(&Transaction) -> Result<T, ApiError> + Send + 'static,
	{
		let conn = self.conn.clone();
		tokio::task::spawn_blocking(move || {
			let mut conn = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
			let tx = conn.transaction_with_behavior(behavior)?;
			let value = f(&tx)?;
			tx.commit()?;
			Ok(value)
		})
		.await
		.map_err(ApiError::internal)?
	}

	/// Runs `f` in a write transaction: committed if it returns `Ok`, rolled back otherwise.
	pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
	where
		T: Send + 'static,
		F: FnOnce(&Transaction) -> Result<T, ApiError> + Send + 'static,
	{
		self.transaction(TransactionBehavior::Immediate, f).await
	}

	/// Runs `f` in a read transaction (one consistent snapshot).
	pub async fn read<T, F>(&self, f: F) -> Result<T, ApiError>
	where
		T: Send + 'static,
		F: FnOnce(&Transaction) -> Result<T, ApiError> + Send + 'static,
	{
		self.transaction(TransactionBehavior::Deferred, f).await
	}
}

/// Sequences for the ids a service hands out (orders, merchants, wallets).
const COUNTERS_SCHEMA: &str =
	"CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);";

/// The next number of sequence `name` (from 1).
pub fn next_number(tx: &Transaction, name: &str) -> Result<i64, ApiError> {
	tx.execute(
		"INSERT INTO counters (name, value) VALUES (?1, 1)
		 ON CONFLICT(name) DO UPDATE SET value = value + 1",
		rusqlite::params![name],
	)?;
	Ok(tx.query_row(
		"SELECT value FROM counters WHERE name = ?1",
		rusqlite::params![name],
		|r| r.get(0),
	)?)
}

/// Moves the order whose `key_column` is `order_id` to `status`: from any status (`from`
/// `None`), or only from one of `from`. Whether it moved. `key_column` and the statuses are
/// the services' own constants, never request data.
pub fn move_status(
	tx: &Transaction,
	key_column: &str,
	order_id: &str,
	from: Option<&[&str]>,
	status: &str,
	reason: Option<&str>,
) -> Result<bool, ApiError> {
	let condition = match from {
		Some(from) => {
			let list = from.iter().map(|s| format!("'{s}'")).collect::<Vec<_>>().join(",");
			format!(" AND status IN ({list})")
		}
		None => String::new(),
	};
	let sql = format!(
		"UPDATE orders SET status = ?2, reason = ?3, updated_at = ?4
		 WHERE {key_column} = ?1{condition}"
	);
	let changed = tx.execute(&sql, rusqlite::params![order_id, status, reason, super::now_ms()])?;
	Ok(changed > 0)
}

/// How many orders are in each status.
pub fn status_counts(tx: &Transaction) -> Result<Vec<(String, i64)>, ApiError> {
	let mut stmt = tx.prepare("SELECT status, COUNT(*) FROM orders GROUP BY status")?;
	let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
	Ok(rows)
}

/// Whether a SQLite error is a uniqueness violation (an idempotency key seen before).
pub fn is_unique_violation(e: &rusqlite::Error) -> bool {
	matches!(
		e,
		rusqlite::Error::SqliteFailure(f, _)
			if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
				|| f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
	)
}
