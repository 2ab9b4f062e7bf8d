//! The store each service keeps its half of every payment in: SQLite (one file, embedded, the
//! default) or PostgreSQL, through sqlx's `Any` driver, with the same schema on both, applied
//! by versioned migrations at start. A state change is one transaction: on disk entirely or
//! not at all, even after `kill -9`.
//!
//! Concurrency is the same on both backends because no function here relies on isolation for
//! a check-then-write: every status move is a conditional `UPDATE` (it moves only from the
//! states it names, and says whether it did), every money movement is guarded by a unique
//! key, and the sequences are single upserts. SQLite's one connection serialises a service's
//! transactions as before; PostgreSQL runs them concurrently at READ COMMITTED, and several
//! processes may share one database (see [`super::locks`] for the per-order lock across them).

use super::durability::GroupSync;
use futures::future::BoxFuture;
use sqlx::{
	any::AnyPoolOptions, migrate::Migrator, pool::PoolConnectionMetadata, AnyConnection, AnyPool,
	Row,
};
use std::{
	path::Path,
	sync::{
		atomic::{AtomicI64, Ordering},
		Arc,
	},
	time::Duration,
};

/// A store transaction: committed by [`Tx::commit`], rolled back when dropped without it.
pub struct Tx {
	inner: sqlx::Transaction<'static, sqlx::Any>,
	/// The store's group commit (SQLite).
	sync: Option<Arc<GroupSync>>,
}

impl Tx {
	/// Commits, and returns once the commit is on disk.
	pub async fn commit(self) -> Result<(), sqlx::Error> {
		self.inner.commit().await?;
		if let Some(sync) = self.sync {
			sync.wait().await;
		}
		Ok(())
	}
}

impl std::ops::Deref for Tx {
	type Target = AnyConnection;
	fn deref(&self) -> &AnyConnection {
		&self.inner
	}
}

impl std::ops::DerefMut for Tx {
	fn deref_mut(&mut self) -> &mut AnyConnection {
		&mut self.inner
	}
}

/// What the database behind a store is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
	Sqlite,
	Postgres,
}

/// Why the store could not do what was asked. Never an answer to a caller as such: the API
/// layer turns it into `500 Internal` (or `503` while the database is unreachable).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
	#[error("database: {0}")]
	Database(#[from] sqlx::Error),
	#[error("migrations: {0}")]
	Migration(#[from] sqlx::migrate::MigrateError),
	/// A row holds something this release cannot read (a status it does not know, a signed
	/// instruction that does not parse).
	#[error("the store holds an unreadable {what}: {detail}")]
	Unreadable { what: &'static str, detail: String },
}

impl StoreError {
	pub fn unreadable(what: &'static str, detail: impl std::fmt::Display) -> Self {
		Self::Unreadable { what, detail: detail.to_string() }
	}

	/// Whether the database refused a row because its unique key exists: a concurrent request
	/// with the same idempotency key won the race.
	pub fn is_unique_violation(&self) -> bool {
		matches!(self, Self::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
	}
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The migrations of one store, for each backend (`workers/migrations/<store>/<backend>/`).
pub struct Migrations {
	pub sqlite: &'static Migrator,
	pub postgres: &'static Migrator,
}

/// A shared handle on a store.
#[derive(Clone)]
pub struct Db {
	pool: AnyPool,
	backend: Backend,
	/// The PostgreSQL URL, for the connections that are not the pool's (notifications).
	url: Option<String>,
	/// Group commit, on SQLite (see [`super::durability`]).
	sync: Option<Arc<GroupSync>>,
	/// When (ms) request nonces were last forgotten, so that only one request in
	/// [`NONCE_PRUNE_EVERY_MS`] starts it.
	nonces_pruned_at: Arc<AtomicI64>,
}

/// How often the nonces too old to matter are deleted: out of a request's path, at most this
/// often (a request with an older timestamp is refused as stale before its nonce is looked at).
const NONCE_PRUNE_EVERY_MS: i64 = 10_000;

/// Creates the SQLite file `path` readable and writable by its owner only (0600), or makes an
/// existing one so, with its log files: the store holds wallets, PIN hashes and payment codes.
/// SQLite creates the log files with the main file's mode.
fn owner_only(path: &Path) -> std::io::Result<()> {
	use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
	std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
	for file in [path.to_path_buf(), log_file(path, "-wal"), log_file(path, "-shm")] {
		if file.exists() {
			std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
		}
	}
	Ok(())
}

fn log_file(path: &Path, suffix: &str) -> std::path::PathBuf {
	let mut name = path.as_os_str().to_owned();
	name.push(suffix);
	name.into()
}

impl Db {
	/// Opens the store `database` names, a PostgreSQL URL (`postgres://…`) or a SQLite file's
	/// path (created if absent), and applies the migrations it lacks.
	pub async fn open(database: &str, migrations: &Migrations) -> anyhow::Result<Self> {
		sqlx::any::install_default_drivers();
		let mut sqlite_file = None;
		let (backend, url) = match database.split_once("://") {
			Some(("postgres" | "postgresql", _)) => (Backend::Postgres, database.to_string()),
			Some((scheme, _)) => anyhow::bail!(
				"--database: unsupported scheme {scheme}:// (give postgres://… or a SQLite file's path)"
			),
			None => {
				let path = Path::new(database.strip_prefix("sqlite:").unwrap_or(database));
				if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
					std::fs::create_dir_all(dir)?;
				}
				owner_only(path)?;
				sqlite_file = Some(path.to_path_buf());
				(Backend::Sqlite, format!("sqlite://{}?mode=rwc", path.display()))
			}
		};
		// Connections are kept for the life of the process: sqlx 0.8.6's idle reaper can read
		// a wrapped idle count and spin a core for good (sqlx issue 3645), and on SQLite the
		// group commit wants the same log file throughout.
		let options = AnyPoolOptions::new()
			.acquire_timeout(Duration::from_secs(30))
			.idle_timeout(None)
			.max_lifetime(None);
		let pool = match backend {
			// One connection: SQLite has one writer anyway, and one connection makes every
			// transaction of the service run alone, as a write lock taken at BEGIN would.
			Backend::Sqlite => options
				.max_connections(1)
				.after_connect(sqlite_pragmas)
				.connect(&url)
				.await
				.map_err(|e| anyhow::anyhow!("opening the SQLite store {database}: {e}"))?,
			Backend::Postgres => options
				.max_connections(32)
				.connect(&url)
				.await
				.map_err(|e| anyhow::anyhow!("connecting to PostgreSQL: {e}"))?,
		};
		let migrator = match backend {
			Backend::Sqlite => migrations.sqlite,
			Backend::Postgres => migrations.postgres,
		};
		migrator.run(&pool).await.map_err(|e| anyhow::anyhow!("migrating the store: {e}"))?;
		let url = (backend == Backend::Postgres).then(|| database.to_string());
		let sync = sqlite_file.map(GroupSync::start);
		let nonces_pruned_at = Arc::new(AtomicI64::new(0));
		Ok(Self { pool, backend, url, sync, nonces_pruned_at })
	}

	/// The PostgreSQL URL the store was opened with; `None` on SQLite.
	pub fn postgres_url(&self) -> Option<&str> {
		self.url.as_deref()
	}

	pub fn backend(&self) -> Backend {
		self.backend
	}

	/// A transaction; what it writes is kept only if it is committed.
	pub async fn begin(&self) -> StoreResult<Tx> {
		Ok(Tx { inner: self.pool.begin().await?, sync: self.sync.clone() })
	}

	/// A connection for reads that need no transaction (one statement each).
	pub async fn conn(&self) -> StoreResult<sqlx::pool::PoolConnection<sqlx::Any>> {
		Ok(self.pool.acquire().await?)
	}

	/// Whether the database answers (for `/health`).
	pub async fn ping(&self) -> StoreResult<()> {
		sqlx::query("SELECT 1").execute(&self.pool).await?;
		Ok(())
	}

	pub(crate) fn pool(&self) -> &AnyPool {
		&self.pool
	}
}

/// Creates the empty database `name` on the PostgreSQL server `server` (a URL of any of its
/// databases, as a user allowed to create them); the new database's URL, for `--database`.
pub async fn create_postgres_database(server: &str, name: &str) -> anyhow::Result<String> {
	anyhow::ensure!(
		!name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
		"database name {name:?}: letters, digits and _ only"
	);
	sqlx::any::install_default_drivers();
	let mut admin = <AnyConnection as sqlx::Connection>::connect(server)
		.await
		.map_err(|e| anyhow::anyhow!("connecting to PostgreSQL at {server}: {e}"))?;
	sqlx::query(&format!("CREATE DATABASE \"{name}\"")).execute(&mut admin).await?;
	let _ = sqlx::Connection::close(admin).await;
	let base = server.rsplit_once('/').map_or(server, |(base, _)| base);
	Ok(format!("{base}/{name}"))
}

/// Every SQLite connection: write-ahead log, synced by the group commit rather than inside
/// each commit (see [`super::durability`]), so that a committed change survives `kill -9`
/// and power loss; foreign keys enforced; a wait for a lock another process holds (a reader
/// of the file) rather than an error.
fn sqlite_pragmas<'c>(
	conn: &'c mut AnyConnection,
	_: PoolConnectionMetadata,
) -> BoxFuture<'c, Result<(), sqlx::Error>> {
	Box::pin(async move {
		for pragma in [
			"PRAGMA journal_mode = WAL",
			"PRAGMA synchronous = NORMAL",
			"PRAGMA foreign_keys = ON",
			"PRAGMA busy_timeout = 10000",
		] {
			sqlx::query(pragma).execute(&mut *conn).await?;
		}
		Ok(())
	})
}

/// The next number of sequence `name` (from 1). On PostgreSQL a sequence object (migration
/// `number_sequences`): a counter row would stay locked until the transaction commits, so
/// that every new order of the service waited for the one before it; numbers a rolled-back
/// transaction took are skipped there. On SQLite the one connection serialises anyway, and a
/// rollback gives the number back.
pub async fn next_number(tx: &mut AnyConnection, name: &'static str) -> StoreResult<i64> {
	let row = if tx.backend_name() == "PostgreSQL" {
		sqlx::query("SELECT nextval(CAST($1 AS regclass))")
			.bind(format!("{name}_numbers"))
			.fetch_one(tx)
			.await?
	} else {
		sqlx::query(
			"INSERT INTO counters (name, value) VALUES ($1, 1)
			 ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value",
		)
		.bind(name)
		.fetch_one(tx)
		.await?
	};
	Ok(row.try_get(0)?)
}

/// Records a signed request's nonce; false if the nonce was seen before (a replay).
///
/// One statement, committed on its own: the insert is the whole check, and the answer to the
/// request waits for the store's durability like every other (see [`super::durability`]).
/// Nonces older than `forget_before` are deleted by a task of their own, at most once every
/// [`NONCE_PRUNE_EVERY_MS`], rather than by every request.
pub async fn record_nonce(
	db: &Db,
	party: &str,
	nonce: &str,
	now: i64,
	forget_before: i64,
) -> StoreResult<bool> {
	let fresh = sqlx::query(
		"INSERT INTO request_nonces (party, nonce, seen_at) VALUES ($1, $2, $3)
		 ON CONFLICT DO NOTHING",
	)
	.bind(party)
	.bind(nonce)
	.bind(now)
	.execute(db.pool())
	.await?
	.rows_affected()
		== 1;
	let last = db.nonces_pruned_at.load(Ordering::Relaxed);
	if now - last >= NONCE_PRUNE_EVERY_MS
		&& db
			.nonces_pruned_at
			.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
			.is_ok()
	{
		let db = db.clone();
		tokio::spawn(async move {
			if let Err(e) = forget_nonces(&db, forget_before).await {
				tracing::warn!(error = %e, "could not delete old request nonces");
			}
		});
	}
	Ok(fresh)
}

/// Deletes the request nonces seen before `before`.
async fn forget_nonces(db: &Db, before: i64) -> StoreResult<u64> {
	Ok(sqlx::query("DELETE FROM request_nonces WHERE seen_at < $1")
		.bind(before)
		.execute(db.pool())
		.await?
		.rows_affected())
}

/// How many rows of `orders` are in each status, as stored.
pub async fn status_counts(db: &Db) -> StoreResult<Vec<(String, i64)>> {
	let rows = sqlx::query("SELECT status, COUNT(*) FROM orders GROUP BY status")
		.fetch_all(db.pool())
		.await?;
	rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Stores text-valued enums (statuses and kinds) through sqlx's own conversion: written as
/// their name, read back refusing a name this release does not know.
#[macro_export]
macro_rules! text_enum {
	($ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
		impl $ty {
			/// Every value, in declaration order.
			#[allow(dead_code)]
			pub const ALL: &'static [$ty] = &[$($ty::$variant),+];
			pub fn as_str(self) -> &'static str {
				match self { $($ty::$variant => $text),+ }
			}
		}
		impl std::fmt::Display for $ty {
			fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
				f.write_str(self.as_str())
			}
		}
		impl std::str::FromStr for $ty {
			type Err = String;
			fn from_str(s: &str) -> Result<Self, String> {
				match s {
					$($text => Ok($ty::$variant),)+
					other => Err(format!("unknown {} {other:?}", stringify!($ty))),
				}
			}
		}
		impl serde::Serialize for $ty {
			fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
				s.serialize_str(self.as_str())
			}
		}
		impl sqlx::Type<sqlx::Any> for $ty {
			fn type_info() -> sqlx::any::AnyTypeInfo {
				<str as sqlx::Type<sqlx::Any>>::type_info()
			}
			fn compatible(ty: &sqlx::any::AnyTypeInfo) -> bool {
				<str as sqlx::Type<sqlx::Any>>::compatible(ty)
			}
		}
		impl<'q> sqlx::Encode<'q, sqlx::Any> for $ty {
			fn encode_by_ref(
				&self,
				buf: &mut <sqlx::Any as sqlx::Database>::ArgumentBuffer<'q>,
			) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
				<&str as sqlx::Encode<'q, sqlx::Any>>::encode(self.as_str(), buf)
			}
		}
		impl<'r> sqlx::Decode<'r, sqlx::Any> for $ty {
			fn decode(
				value: <sqlx::Any as sqlx::Database>::ValueRef<'r>,
			) -> Result<Self, sqlx::error::BoxDynError> {
				let text = <&str as sqlx::Decode<'r, sqlx::Any>>::decode(value)?;
				text.parse().map_err(Into::into)
			}
		}
	};
}

/// An order status: stored by name, with the moves allowed between statuses.
pub trait OrderState:
	Copy
	+ PartialEq
	+ Send
	+ Sync
	+ Unpin
	+ 'static
	+ sqlx::Type<sqlx::Any>
	+ for<'q> sqlx::Encode<'q, sqlx::Any>
	+ for<'r> sqlx::Decode<'r, sqlx::Any>
{
	/// Whether an order may move from this status to `to`.
	fn may_become(self, to: Self) -> bool;
}

/// Why an order did not move.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused<S> {
	NoSuchOrder,
	/// A move the status table does not allow.
	Illegal {
		from: S,
		to: S,
	},
}

/// Moves the order of `orders` whose `key_column` is `id` to `to`, with `reason`, from
/// whatever status it is in, if the move is allowed. `key_column` is the service's own
/// constant, never request data.
pub async fn move_order<S: OrderState>(
	tx: &mut AnyConnection,
	key_column: &'static str,
	id: &str,
	to: S,
	reason: Option<&str>,
) -> StoreResult<Result<(), Refused<S>>> {
	let row = sqlx::query(&format!("SELECT status FROM orders WHERE {key_column} = $1"))
		.bind(id)
		.fetch_optional(&mut *tx)
		.await?;
	let Some(row) = row else { return Ok(Err(Refused::NoSuchOrder)) };
	let from: S = row.try_get(0)?;
	Ok(match move_order_if(tx, key_column, id, &[from], to, reason).await? {
		Ok(_) => Ok(()),
		Err(refused) => Err(refused),
	})
}

/// Moves the order to `to`, with `reason`, only if its status is one of `from` (each an
/// allowed move); whether it moved.
pub async fn move_order_if<S: OrderState>(
	tx: &mut AnyConnection,
	key_column: &'static str,
	id: &str,
	from: &[S],
	to: S,
	reason: Option<&str>,
) -> StoreResult<Result<bool, Refused<S>>> {
	if let Some(&bad) = from.iter().find(|f| !f.may_become(to)) {
		return Ok(Err(Refused::Illegal { from: bad, to }));
	}
	let placeholders: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 5)).collect();
	let sql = format!(
		"UPDATE orders SET status = $2, reason = $3, updated_at = $4
		 WHERE {key_column} = $1 AND status IN ({})",
		placeholders.join(", ")
	);
	let mut query = sqlx::query(&sql).bind(id).bind(to).bind(reason).bind(super::now_ms());
	for f in from {
		query = query.bind(*f);
	}
	Ok(Ok(query.execute(tx).await?.rows_affected() > 0))
}

#[cfg(test)]
mod tests {
	use super::*;

	async fn nonces(db: &Db) -> i64 {
		sqlx::query("SELECT COUNT(*) FROM request_nonces")
			.fetch_one(db.pool())
			.await
			.unwrap()
			.try_get(0)
			.unwrap()
	}

	#[tokio::test]
	async fn a_nonce_counts_once_and_old_nonces_are_forgotten_out_of_the_requests_path() {
		let dir = tempfile::tempdir().unwrap();
		let path = dir.path().join("t.sqlite");
		let db = Db::open(path.to_str().unwrap(), &super::super::inbox::MIGRATIONS).await.unwrap();
		assert!(record_nonce(&db, "agg", "n-old", 1_000, 0).await.unwrap());
		assert!(!record_nonce(&db, "agg", "n-old", 1_000, 0).await.unwrap());
		// Another party's nonce is its own.
		assert!(record_nonce(&db, "other", "n-old", 1_000, 0).await.unwrap());
		// Less than NONCE_PRUNE_EVERY_MS after the last prune (at 0 here) nothing is deleted…
		assert!(record_nonce(&db, "agg", "n-1", 5_000, 2_000).await.unwrap());
		tokio::time::sleep(Duration::from_millis(200)).await;
		assert_eq!(nonces(&db).await, 3);
		// …and after it, a request starts one that forgets what is older than its window.
		assert!(record_nonce(&db, "agg", "n-2", 11_000, 2_000).await.unwrap());
		let deadline = std::time::Instant::now() + Duration::from_secs(10);
		while nonces(&db).await != 2 {
			assert!(std::time::Instant::now() < deadline, "old nonces were not forgotten");
			tokio::time::sleep(Duration::from_millis(20)).await;
		}
		assert!(!record_nonce(&db, "agg", "n-1", 11_000, 2_000).await.unwrap());
	}
}
