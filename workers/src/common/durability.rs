//! Group commit for the SQLite store: many transactions' commits made durable by one `fsync`.
//!
//! SQLite's `synchronous = FULL` syncs the write-ahead log inside every commit, while the
//! service's one connection waits: measured, that one connection then limits a service to
//! about 1,500 commits a second however many requests wait, and a payment takes about five
//! commits on each side. So the connection commits with `synchronous = NORMAL` (the commit's
//! frames are written to the log, not yet synced), and durability is restored outside the
//! connection:
//!
//! - [`crate::common::store::Tx::commit`] returns only once the log holding the commit is
//!   synced, so whoever committed acts on durable state, as with `FULL`;
//! - nothing leaves the process before the log is synced up to that moment
//!   ([`make_durable`]): every HTTP answer of the services, every request they send, and
//!   (through the commit that stores it) every transaction they submit to the chain. A
//!   commit that another task read before it was synced is therefore never seen outside.
//!
//! One syncing task per store serves all waiters: a waiter asks for the next round, and a
//! round syncs everything committed before it began, so commits that arrive while a sync runs
//! share the next one. A power loss can lose only commits nobody outside has seen, which is
//! what a crash just before them would have done. A failed `fsync` aborts the process, as
//! PostgreSQL does: after one, the kernel may have dropped the pages it could not write, and
//! only a restart that reads the disk again knows what is there.

use std::{
	os::unix::fs::MetadataExt,
	path::PathBuf,
	sync::{
		atomic::{AtomicU64, Ordering},
		Arc, Mutex, Weak,
	},
};
use tokio::sync::{mpsc, watch};

/// The sync rounds of one SQLite store.
pub struct GroupSync {
	/// Rounds begun so far.
	started: Arc<AtomicU64>,
	/// The last round whose sync has finished, as the syncing task announces it.
	finished: watch::Receiver<u64>,
	ask: mpsc::UnboundedSender<()>,
}

/// Every SQLite store this process has open, for [`make_durable`].
static STORES: Mutex<Vec<Weak<GroupSync>>> = Mutex::new(Vec::new());

impl GroupSync {
	/// Starts the syncing task for the SQLite database at `database` (its log is the file
	/// beside it with `-wal` appended). Needs a Tokio runtime.
	pub fn start(database: PathBuf) -> Arc<Self> {
		let started = Arc::new(AtomicU64::new(0));
		let (announce, finished) = watch::channel(0);
		let (ask, asked) = mpsc::unbounded_channel();
		let mut wal = database.into_os_string();
		wal.push("-wal");
		tokio::spawn(sync_rounds(PathBuf::from(wal), started.clone(), announce, asked));
		let this = Arc::new(Self { started, finished, ask });
		let mut stores = STORES.lock().expect("not poisoned");
		stores.retain(|s| s.strong_count() > 0);
		stores.push(Arc::downgrade(&this));
		this
	}

	/// Returns once everything committed to this store before the call is on disk.
	pub async fn wait(&self) {
		let ticket = self.started.load(Ordering::SeqCst) + 1;
		let mut finished = self.finished.clone();
		// Both fail only once the task is gone with its runtime: nothing runs to be answered.
		let _ = self.ask.send(());
		let _ = finished.wait_for(|done| *done >= ticket).await;
	}
}

/// Returns once everything committed to any SQLite store of this process before the call is
/// on disk; at once when there is none (PostgreSQL syncs inside its commit).
pub async fn make_durable() {
	let stores: Vec<Arc<GroupSync>> =
		STORES.lock().expect("not poisoned").iter().filter_map(Weak::upgrade).collect();
	futures::future::join_all(stores.iter().map(|s| s.wait())).await;
}

async fn sync_rounds(
	wal: PathBuf,
	started: Arc<AtomicU64>,
	announce: watch::Sender<u64>,
	mut asked: mpsc::UnboundedReceiver<()>,
) {
	// The directory entry of a new log must be on disk too, or recovery would not find the
	// log: the directory is synced whenever the log is a file not seen before.
	let mut synced_log = None;
	while asked.recv().await.is_some() {
		while asked.try_recv().is_ok() {}
		let round = started.fetch_add(1, Ordering::SeqCst) + 1;
		let (wal_path, seen) = (wal.clone(), synced_log);
		let result = tokio::task::spawn_blocking(move || sync_log(&wal_path, seen)).await;
		match result {
			Ok(Ok(log)) => synced_log = log.or(synced_log),
			Ok(Err(e)) => {
				tracing::error!(log = %wal.display(), error = %e, "fsync of the store's log failed: stopping");
				std::process::abort();
			}
			Err(e) => {
				tracing::error!(log = %wal.display(), error = %e, "the store's sync task failed: stopping");
				std::process::abort();
			}
		}
		announce.send_replace(round);
	}
}

/// Syncs the log, and its directory if the log is not the file `seen` (an inode); the log's
/// inode, or `None` when there is no log (everything is in the database file, which SQLite
/// syncs when it checkpoints).
fn sync_log(wal: &std::path::Path, seen: Option<u64>) -> std::io::Result<Option<u64>> {
	let file = match std::fs::File::open(wal) {
		Ok(file) => file,
		Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
		Err(e) => return Err(e),
	};
	file.sync_all()?;
	let inode = file.metadata()?.ino();
	if seen != Some(inode) {
		let dir = wal.parent().filter(|d| !d.as_os_str().is_empty());
		std::fs::File::open(dir.unwrap_or(std::path::Path::new(".")))?.sync_all()?;
	}
	Ok(Some(inode))
}

#[cfg(test)]
mod tests {
	use super::*;

	#[tokio::test]
	async fn waiters_share_sync_rounds_and_each_waits_for_one_begun_after_it() {
		let dir = tempfile::tempdir().unwrap();
		let database = dir.path().join("store.sqlite");
		std::fs::write(dir.path().join("store.sqlite-wal"), b"frames").unwrap();
		let sync = GroupSync::start(database);

		sync.wait().await;
		assert!(*sync.finished.borrow() >= 1, "a wait returns only after a round");

		// Many waiters at once are served by far fewer rounds than there are waiters.
		let before = sync.started.load(Ordering::SeqCst);
		futures::future::join_all((0..200).map(|_| sync.wait())).await;
		let rounds = sync.started.load(Ordering::SeqCst) - before;
		assert!((1..200).contains(&rounds), "{rounds} rounds for 200 waiters");

		// make_durable covers this store: a round begins after the call.
		let started = sync.started.load(Ordering::SeqCst);
		make_durable().await;
		assert!(*sync.finished.borrow() > started);
	}

	#[tokio::test]
	async fn a_store_without_a_log_yet_is_durable_at_once() {
		let dir = tempfile::tempdir().unwrap();
		let sync = GroupSync::start(dir.path().join("absent.sqlite"));
		sync.wait().await;
		assert_eq!(sync_log(&dir.path().join("absent.sqlite-wal"), None).unwrap(), None);
	}
}
