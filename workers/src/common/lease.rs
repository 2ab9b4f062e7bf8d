//! Leadership among the processes that share one store: exactly one of them does the work that
//! must not run twice at once (the acquirer's poster, its outbox, its reconciliation), every
//! one of them answers requests, and when the leader dies another leads within about a second.
//!
//! On PostgreSQL the lease is a session-level advisory lock held on a connection of its own.
//! The server lets go of it the moment that session ends: when the process dies (the kernel
//! closes its socket) or the connection breaks. The holder checks its session every
//! [`HEARTBEAT`] and stops leading when the check fails, and every other process tries for the
//! lock as often. On SQLite the store belongs to one process, which always leads.
//!
//! The lease saves work, not money: a leader whose session broke may go on for up to a
//! heartbeat after another took over, and what it sends then is refused by the chain as a
//! posting it holds already.
//!
//! [`Signals`] carries wake-ups between the processes (PostgreSQL's `LISTEN`/`NOTIFY`): "an
//! order was queued" to the leader, "a batch was recorded" to the others. A signal lost while
//! a connection is down costs time, never an answer: every waiter also polls the store.

use super::store::{Backend, Db, StoreResult};
use sqlx::Row;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How often the leader checks its session and the others try for the lease.
pub const HEARTBEAT: Duration = Duration::from_millis(500);

/// Whether this process leads: a view on the lease, which a task of its own keeps.
#[derive(Clone)]
pub struct Lease {
	leading: watch::Receiver<bool>,
}

impl Lease {
	/// Starts keeping the lease `name` of `db`.
	pub fn start(db: &Db, name: &str) -> Self {
		let (tx, leading) = watch::channel(false);
		let key = i64::from_le_bytes(sp_crypto_hashing::blake2_64(name.as_bytes()));
		let (db, name) = (db.clone(), name.to_string());
		tokio::spawn(async move {
			match db.backend() {
				Backend::Sqlite => {
					tx.send_replace(true);
					// Kept alive: a closed channel would read as "no longer leading".
					tx.closed().await;
				}
				Backend::Postgres => hold(db, key, &name, tx).await,
			}
		});
		Self { leading }
	}

	pub fn is_leading(&self) -> bool {
		*self.leading.borrow()
	}

	/// A receiver that changes when leadership does.
	pub fn watch(&self) -> watch::Receiver<bool> {
		self.leading.clone()
	}
}

/// Tries for the advisory lock until it is held, then holds it while the session answers;
/// again after losing it.
async fn hold(db: Db, key: i64, name: &str, leading: watch::Sender<bool>) {
	loop {
		let mut session = match db.conn().await {
			Ok(conn) => conn.detach(),
			Err(e) => {
				tracing::warn!(lease = name, error = %e, "no session for the lease");
				tokio::time::sleep(HEARTBEAT).await;
				continue;
			}
		};
		let acquired = loop {
			let row = sqlx::query("SELECT CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END")
				.bind(key)
				.fetch_one(&mut session)
				.await;
			match row.and_then(|r| r.try_get::<i32, _>(0)) {
				Ok(1) => break true,
				Ok(_) => tokio::time::sleep(HEARTBEAT).await,
				Err(e) => {
					tracing::warn!(lease = name, error = %e, "the lease's session broke");
					break false;
				}
			}
		};
		if acquired {
			tracing::info!(lease = name, "this process leads");
			leading.send_replace(true);
			loop {
				tokio::time::sleep(HEARTBEAT).await;
				if let Err(e) = sqlx::query("SELECT 1").execute(&mut session).await {
					tracing::warn!(lease = name, error = %e, "lease lost: its session broke");
					break;
				}
			}
			leading.send_replace(false);
		}
		let _ = sqlx::Connection::close(session).await;
	}
}

/// Wake-ups between the processes of one store (PostgreSQL); nothing on SQLite, whose one
/// process wakes its own tasks directly.
#[derive(Clone)]
pub struct Signals {
	db: Db,
}

impl Signals {
	pub fn new(db: &Db) -> Self {
		Self { db: db.clone() }
	}

	/// Tells every process listening on `channel`, with `payload`.
	pub async fn send(&self, channel: &str, payload: &str) -> StoreResult<()> {
		if self.db.backend() == Backend::Postgres {
			// Selected through a subquery: pg_notify returns `void`, a type sqlx's Any driver
			// cannot read.
			sqlx::query("SELECT 1 FROM (SELECT pg_notify($1, $2)) AS sent")
				.bind(channel)
				.bind(payload)
				.execute(self.db.pool())
				.await?;
		}
		Ok(())
	}

	/// The payloads sent on `channels` from now on (by any process, this one included); never
	/// anything on SQLite. Reconnects after a broken connection (what was sent meanwhile is
	/// lost).
	pub fn listen(&self, channels: &'static [&'static str]) -> mpsc::Receiver<(String, String)> {
		let (tx, rx) = mpsc::channel(1024);
		let Some(url) = self.db.postgres_url().map(str::to_string) else { return rx };
		tokio::spawn(async move {
			loop {
				let mut listener = match sqlx::postgres::PgListener::connect(&url).await {
					Ok(l) => l,
					Err(e) => {
						tracing::warn!(error = %e, "cannot listen for signals");
						tokio::time::sleep(HEARTBEAT).await;
						continue;
					}
				};
				if let Err(e) = listener.listen_all(channels.iter().copied()).await {
					tracing::warn!(error = %e, "cannot listen for signals");
					tokio::time::sleep(HEARTBEAT).await;
					continue;
				}
				loop {
					match listener.recv().await {
						Ok(n) => {
							let signal = (n.channel().to_string(), n.payload().to_string());
							if tx.send(signal).await.is_err() {
								return;
							}
						}
						Err(e) => {
							tracing::warn!(error = %e, "signals interrupted");
							break;
						}
					}
				}
			}
		});
		rx
	}
}
