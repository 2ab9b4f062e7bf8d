//! One stream of finalized blocks for every transaction a connection follows: a task reads
//! each finalized block once, with its events, and answers every transaction watched for that
//! is in it (finalized, with what its call did) or whose lifetime ended before it (expired).
//! A thousand transactions in flight cost one subscription and one read of each block, not a
//! thousand watch subscriptions.
//!
//! The task starts with the first watch and scans while anything is watched, from the oldest
//! checkpoint watched; it survives the node going away (the connection reconnects, and the
//! scan goes on from the block it stopped at). Blocks finalized before a transaction was
//! watched are the follower's to read ([`crate::tx::InFlight::follow`] does).

use crate::{
	connection::{Connection, FinalizedBlock},
	outcome::outcome_in,
	tx::TxResult,
};
use sp_core::H256;
use std::{
	collections::HashMap,
	sync::{
		atomic::{AtomicBool, Ordering},
		Arc, Mutex, Weak,
	},
	time::Duration,
};
use tokio::sync::oneshot;

struct Watched {
	birth: u32,
	death: u32,
	answer: oneshot::Sender<TxResult>,
}

/// The transactions a connection's finality task answers, by hash.
#[derive(Default)]
pub(crate) struct Tracker {
	watched: Mutex<HashMap<H256, Vec<Watched>>>,
	running: AtomicBool,
}

impl Tracker {
	/// Watches for the transaction `hash`, which can be in blocks `birth + 1` to `death - 1`;
	/// the answer comes once a finalized block holds it, or once block `death` is finalized
	/// without it.
	pub(crate) fn watch(
		&self,
		conn: &Arc<Connection>,
		hash: H256,
		birth: u32,
		death: u32,
	) -> oneshot::Receiver<TxResult> {
		let (answer, receiver) = oneshot::channel();
		self.lock().entry(hash).or_default().push(Watched { birth, death, answer });
		if !self.running.swap(true, Ordering::SeqCst) {
			tokio::spawn(run(Arc::downgrade(conn)));
		}
		receiver
	}

	fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<H256, Vec<Watched>>> {
		self.watched.lock().unwrap_or_else(|e| e.into_inner())
	}

	/// The first block to read for what is watched now; `None` if nothing is.
	fn oldest_block(&self) -> Option<u32> {
		let mut watched = self.lock();
		// Followers that stopped waiting need no answer.
		watched.retain(|_, list| {
			list.retain(|w| !w.answer.is_closed());
			!list.is_empty()
		});
		watched.values().flatten().map(|w| w.birth + 1).min()
	}

	/// Answers what finalized block `block` settles.
	fn settle(&self, block: &FinalizedBlock) {
		let mut watched = self.lock();
		for (index, hash) in block.extrinsics.iter().enumerate() {
			let Some(list) = watched.remove(&H256(*hash)) else { continue };
			let result = match outcome_in(&block.events, index as u32) {
				Ok(outcome) => TxResult::Finalized {
					block: block.hash,
					number: block.number,
					index: index as u32,
					outcome,
				},
				Err(e) => {
					TxResult::Unknown { reason: format!("in block #{}, but {e}", block.number) }
				}
			};
			for w in list {
				let _ = w.answer.send(result.clone());
			}
		}
		watched.retain(|_, list| {
			let (ended, live): (Vec<_>, Vec<_>) =
				std::mem::take(list).into_iter().partition(|w| w.death <= block.number);
			for w in ended {
				let _ = w.answer.send(TxResult::Expired { death: w.death });
			}
			*list = live;
			!list.is_empty()
		});
	}
}

/// How long the task waits for a new finalized head before it looks by itself.
const HEAD_WAIT: Duration = Duration::from_secs(1);

async fn run(conn: Weak<Connection>) {
	let mut next: Option<u32> = None;
	let mut heads = None;
	loop {
		let Some(c) = conn.upgrade() else { return };
		if heads.is_none() {
			heads = match c.rpc().await {
				Ok(rpc) => rpc.finalized_heads().await.ok(),
				Err(_) => None,
			};
		}
		match heads.as_mut() {
			Some(sub) => match tokio::time::timeout(HEAD_WAIT, sub.next()).await {
				Ok(Some(Ok(_))) | Err(_) => {}
				// Ended or broken: subscribed again on the next round.
				Ok(_) => heads = None,
			},
			None => tokio::time::sleep(HEAD_WAIT / 2).await,
		}
		let Some(oldest) = c.tracker().oldest_block() else {
			next = None;
			continue;
		};
		let Ok((finalized, _)) = c.finalized().await else { continue };
		let mut number = next.map_or(oldest, |n| n.max(oldest));
		while number <= finalized {
			match c.finalized_block(number).await {
				Ok(block) => c.tracker().settle(&block),
				// Read again on the next round (the connection reconnects meanwhile).
				Err(_) => break,
			}
			number += 1;
		}
		next = Some(number);
	}
}
