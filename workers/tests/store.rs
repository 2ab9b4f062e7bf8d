//! The per-order lock on the backend the tests run on: PostgreSQL when `CLEARLINE_TEST_POSTGRES`
//! names a server (scripts/test.sh runs this file a second time so), else SQLite. On
//! PostgreSQL two lock holders with stores of their own stand for two processes sharing one
//! database.

mod support;

use clearline_workers::{
	acquirer::MIGRATIONS,
	common::locks::OrderLocks,
	store::{Backend, Db},
};
use std::time::Duration;
use support::{database, postgres_server};

/// Waits up to 5 s for `locks` to take `order` (a release is sent on its way, not awaited; a
/// lock session that broke is opened again by the next try).
async fn taken_soon(locks: &OrderLocks, order: &str) -> bool {
	for _ in 0..100 {
		if let Ok(Some(_)) = locks.try_lock(order).await {
			return true;
		}
		tokio::time::sleep(Duration::from_millis(50)).await;
	}
	false
}

#[tokio::test(flavor = "multi_thread")]
async fn an_order_is_held_by_one_holder_at_a_time_and_released_with_its_holder() {
	let dir = tempfile::tempdir().unwrap();
	let url = database(dir.path(), "locks", "acquirer").await;
	let db = Db::open(&url, &MIGRATIONS).await.unwrap();
	assert_eq!(db.backend() == Backend::Postgres, postgres_server().is_some());
	let here = OrderLocks::new(db.clone(), "acquirer-order");

	// Within a process.
	let held = here.lock("ACQ1").await.unwrap();
	assert!(here.try_lock("ACQ1").await.unwrap().is_none(), "held twice in one process");
	assert!(here.try_lock("ACQ2").await.unwrap().is_some(), "another order is free");
	drop(held);
	assert!(taken_soon(&here, "ACQ1").await, "not released");
	if db.backend() == Backend::Sqlite {
		return; // one process per SQLite file: nothing else to exclude
	}

	// Across processes: another store, another session.
	let other_db = Db::open(&url, &MIGRATIONS).await.unwrap();
	let there = OrderLocks::new(other_db, "acquirer-order");
	let held = here.lock("ACQ3").await.unwrap();
	assert!(there.try_lock("ACQ3").await.unwrap().is_none(), "held by two processes");
	let waiting = tokio::spawn({
		let there = there.clone();
		async move { there.lock("ACQ3").await.map(|_| ()) }
	});
	tokio::time::sleep(Duration::from_millis(300)).await;
	assert!(!waiting.is_finished(), "the other process did not wait");
	drop(held);
	tokio::time::timeout(Duration::from_secs(5), waiting).await.unwrap().unwrap().unwrap();

	// Releasing one order keeps the others held (one session holds them all).
	let kept = here.lock("ACQ5").await.unwrap();
	drop(here.lock("ACQ6").await.unwrap());
	assert!(taken_soon(&there, "ACQ6").await, "ACQ6 not released");
	assert!(there.try_lock("ACQ5").await.unwrap().is_none(), "releasing ACQ6 released ACQ5");
	drop(kept);

	// A holder that dies (its session ends) releases what it held.
	let _held = there.lock("ACQ4").await.unwrap();
	assert!(here.try_lock("ACQ4").await.unwrap().is_none());
	let admin = sqlx::PgPool::connect(&url).await.unwrap();
	sqlx::query(
		"SELECT pg_terminate_backend(pid) FROM pg_locks
		 WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()",
	)
	.execute(&admin)
	.await
	.unwrap();
	assert!(taken_soon(&here, "ACQ4").await, "a dead holder's lock was kept");
}
