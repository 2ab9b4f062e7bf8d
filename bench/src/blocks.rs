//! Follows the finalized chain and counts, block by block, what the benchmark put in it.

use anyhow::Result;
use clearline_client::{queries, storage, Connection};
use clearline_runtime::{AccountId, RuntimeEvent};
use frame_support::dispatch::PerDispatchClass;
use serde::Serialize;
use sp_runtime::Weight;
use std::{
	collections::BTreeSet,
	sync::{
		atomic::{AtomicBool, AtomicU64, Ordering},
		Arc, Mutex,
	},
	time::Duration,
};

/// One finalized block as the benchmark sees it.
#[derive(Debug, Clone, Serialize)]
pub struct BlockSample {
	pub number: u32,
	/// The block's timestamp (chain time, ms since the Unix epoch).
	pub timestamp_ms: u64,
	/// Balance transfers sent by the benchmark's signers.
	pub transfers: u32,
	/// `PaymentPosted` events.
	pub postings: u32,
	/// Instructions that posted nothing: `PaymentRefused` and `PaymentAlreadyPosted` (none is
	/// expected; a batch counts them among the items that left the pool).
	pub not_posted: u32,
	/// Extrinsics that failed (`ExtrinsicFailed`): none is expected.
	pub failed: u32,
	/// The normal dispatch class's weight used by the block (ref time, picoseconds).
	pub normal_ref_time: u64,
}

/// The finalized blocks seen so far, and running totals the submitters pace themselves by.
#[derive(Default)]
pub struct Seen {
	pub blocks: Mutex<Vec<BlockSample>>,
	pub transfers: AtomicU64,
	pub postings: AtomicU64,
	pub not_posted: AtomicU64,
	pub failed: AtomicU64,
	/// Chain time of the newest finalized block.
	pub latest_ms: AtomicU64,
	pub error: Mutex<Option<String>>,
	stop: AtomicBool,
}

impl Seen {
	pub fn stop(&self) {
		self.stop.store(true, Ordering::SeqCst);
	}

	/// The samples of blocks whose timestamp is in `(from, to]`.
	pub fn between(&self, from: u64, to: u64) -> Vec<BlockSample> {
		let blocks = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
		blocks.iter().filter(|b| b.timestamp_ms > from && b.timestamp_ms <= to).cloned().collect()
	}
}

/// Reads every finalized block from `from` on, until told to stop, into `seen`.
pub fn follow(conn: Arc<Connection>, from: u32, signers: BTreeSet<AccountId>) -> Arc<Seen> {
	let seen = Arc::new(Seen::default());
	let state = seen.clone();
	tokio::spawn(async move {
		let mut next = from;
		while !state.stop.load(Ordering::SeqCst) {
			match read_new(&conn, &mut next, &signers, &state).await {
				Ok(()) => tokio::time::sleep(Duration::from_millis(50)).await,
				Err(e) => {
					*state.error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
					tokio::time::sleep(Duration::from_millis(500)).await;
				}
			}
		}
	});
	seen
}

async fn read_new(
	conn: &Connection,
	next: &mut u32,
	signers: &BTreeSet<AccountId>,
	seen: &Seen,
) -> Result<()> {
	let (finalized, _) = conn.finalized().await?;
	while *next <= finalized {
		let block = conn.finalized_block(*next).await?;
		let (mut transfers, mut postings, mut not_posted, mut failed) = (0, 0, 0, 0);
		for record in &block.events {
			match &record.event {
				RuntimeEvent::Balances(pallet_balances::Event::Transfer { from, .. })
					if signers.contains(from) =>
				{
					transfers += 1
				}
				RuntimeEvent::ClearingBank(pallet_clearing_bank::Event::PaymentPosted {
					..
				}) => postings += 1,
				RuntimeEvent::ClearingBank(
					pallet_clearing_bank::Event::PaymentRefused { .. }
					| pallet_clearing_bank::Event::PaymentAlreadyPosted { .. },
				) => not_posted += 1,
				RuntimeEvent::System(frame_system::Event::ExtrinsicFailed { .. }) => failed += 1,
				_ => {}
			}
		}
		let timestamp_ms = queries::chain_time(conn, Some(block.hash)).await?;
		let key = frame_support::storage::storage_prefix(b"System", b"BlockWeight").to_vec();
		let weight: PerDispatchClass<Weight> =
			storage::decode_at(conn, "System::BlockWeight", key, Some(block.hash))
				.await?
				.unwrap_or_default();
		seen.transfers.fetch_add(transfers.into(), Ordering::SeqCst);
		seen.postings.fetch_add(postings.into(), Ordering::SeqCst);
		seen.not_posted.fetch_add(not_posted.into(), Ordering::SeqCst);
		seen.failed.fetch_add(failed.into(), Ordering::SeqCst);
		seen.latest_ms.store(timestamp_ms, Ordering::SeqCst);
		seen.blocks.lock().unwrap_or_else(|e| e.into_inner()).push(BlockSample {
			number: block.number,
			timestamp_ms,
			transfers,
			postings,
			not_posted,
			failed,
			normal_ref_time: weight.get(frame_support::dispatch::DispatchClass::Normal).ref_time(),
		});
		*next += 1;
	}
	Ok(())
}
