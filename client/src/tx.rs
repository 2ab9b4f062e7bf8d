//! Submitting transactions and following each to a final answer.
//!
//! A [`TxSender`] signs for one account. It hands out nonces itself, one after the other,
//! and submits under the same lock, so that any number of concurrent callers never give two
//! transactions the same nonce ("Priority is too low") nor one the chain has used
//! ("Transaction is outdated"); when the pool refuses a transaction anyway, or a followed
//! transaction leaves the pool unfinalized, the next submission reads the nonce from the
//! chain again.
//!
//! Every transaction is mortal. That is what makes its end knowable: a transaction with
//! checkpoint block `birth` and lifetime `period` can only be in blocks `birth + 1` to
//! `birth + period - 1`, so once the chain has finalized block `birth + period`, reading
//! those blocks says for certain whether it was included (and what it did) or never will be
//! ([`TxResult::Expired`]). [`InFlight::follow`] reports the pool's view while it lasts and
//! falls back to reading finalized blocks when the pool drops the transaction or the node
//! goes away; if the node stays out of reach, the answer is [`TxResult::Unknown`], and
//! [`resolve`] finds the real one later from the [`PendingTx`] alone.

use crate::{
	connection::Connection,
	error::{Error, Result},
	extrinsic::{ChainContext, Mortality, Signer},
	outcome::{outcome_in, Outcome},
	rpc::TxStatus,
};
use clearline_runtime::{AccountId, Nonce, RuntimeCall, BLOCK_HASH_COUNT};
use codec::Encode;
use jsonrpsee::core::client::Subscription;
use serde::{Deserialize, Serialize};
use sp_core::H256;
use sp_crypto_hashing::blake2_256;
use sp_runtime::generic::Era;
use std::{
	sync::{
		atomic::{AtomicBool, Ordering},
		Arc, Mutex,
	},
	time::{Duration, Instant},
};
use tokio::sync::{Mutex as AsyncMutex, OwnedSemaphorePermit, Semaphore};

/// A signed transaction and everything needed to find it on chain later; a service stores
/// this before submitting, so that after a crash it can [`resolve`] what it sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingTx {
	/// `blake2_256` of the encoding: the hash the node reports.
	pub hash: H256,
	pub signer: AccountId,
	pub nonce: Nonce,
	/// The mortality checkpoint: the transaction can be in blocks after this one...
	pub birth: u32,
	/// ...and before this one.
	pub death: u32,
	#[serde(with = "hex_bytes")]
	pub encoded: Vec<u8>,
}

mod hex_bytes {
	use serde::{Deserialize, Deserializer, Serializer};
	pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
		s.serialize_str(&format!("0x{}", hex::encode(bytes)))
	}
	pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
		let text = String::deserialize(d)?;
		hex::decode(text.trim_start_matches("0x")).map_err(serde::de::Error::custom)
	}
}

/// The shortest and longest lifetimes in blocks: an era's period is a power of two from 4, and
/// a checkpoint older than the chain's `BlockHashCount` can no longer be checked.
pub const MIN_LIFETIME: u64 = 4;
pub const MAX_LIFETIME: u64 = BLOCK_HASH_COUNT as u64;

fn check_lifetime(lifetime: u64) -> Result<()> {
	if !(MIN_LIFETIME..=MAX_LIFETIME).contains(&lifetime) {
		return Err(Error::input(
			"lifetime",
			format!("{lifetime} blocks is not between {MIN_LIFETIME} and {MAX_LIFETIME}"),
		));
	}
	Ok(())
}

/// Signs `call` with `nonce`, mortal for `lifetime` blocks (rounded up to a power of two) from
/// checkpoint block `number` (`hash`).
pub fn prepare(
	signer: &Signer,
	ctx: &ChainContext,
	call: RuntimeCall,
	nonce: Nonce,
	lifetime: u64,
	checkpoint: (u32, H256),
) -> Result<PendingTx> {
	prepare_tipped(signer, ctx, call, nonce, lifetime, checkpoint, 0)
}

/// [`prepare`] with a `tip` to the block author on top of the fee, which raises the
/// transaction's priority in the pool.
pub fn prepare_tipped(
	signer: &Signer,
	ctx: &ChainContext,
	call: RuntimeCall,
	nonce: Nonce,
	lifetime: u64,
	(number, hash): (u32, H256),
	tip: u128,
) -> Result<PendingTx> {
	check_lifetime(lifetime)?;
	let era = Era::mortal(lifetime, number.into());
	let xt =
		signer.sign(ctx, call, nonce, Mortality::Mortal { period: lifetime, number, hash }, tip);
	let encoded = xt.encode();
	Ok(PendingTx {
		hash: H256(blake2_256(&encoded)),
		signer: signer.account_id(),
		nonce,
		birth: era.birth(number.into()) as u32,
		death: era.death(number.into()) as u32,
		encoded,
	})
}

/// One thing seen on a transaction's way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "step")]
pub enum Step {
	/// Handed to the node.
	Submitted,
	/// The pool's own report.
	Pool { status: TxStatus },
	/// The connection dropped; the transaction may or may not be in the pool.
	ConnectionLost { error: String },
	/// The pool answered that it holds these very bytes already: a copy sent before and still
	/// in the pool, or the fork-aware pool's race between a submission and the move of the
	/// transaction into a new view (polkadot-sdk #11419). It is on its way, not refused. (A copy
	/// sent after the first was included is refused as outdated or banned, as before.)
	AlreadyInPool,
	/// Reading finalized blocks for it, up to this one.
	Searched { up_to: u32 },
}

/// How a transaction ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxResult {
	/// In finalized block `number` at `index`; `outcome` is what its call did there.
	Finalized { block: H256, number: u32, index: u32, outcome: Outcome },
	/// Its lifetime is over and no finalized block holds it: it never will be.
	Expired { death: u32 },
	/// No final answer yet (the node could not be reached, or time ran out first); `resolve`
	/// it later.
	Unknown { reason: String },
}

/// A transaction's way and where it ended.
#[derive(Debug, Clone)]
pub struct TxReport {
	pub tx: PendingTx,
	pub path: Vec<Step>,
	pub result: TxResult,
}

/// Called with every step of every transaction a sender follows, for progress displays.
pub type ProgressFn = Arc<dyn Fn(&PendingTx, &Step) + Send + Sync>;

/// How a [`TxSender`] sends.
#[derive(Clone)]
pub struct SenderOptions {
	/// Lifetime of each transaction in blocks (4 to 4096; rounded up to a power of two).
	pub lifetime: u64,
	/// How many transactions may be in flight at once; `submit` waits for a free slot. The
	/// node allows 1024 watched transactions per connection.
	pub in_flight: usize,
	/// How long `follow` keeps trying for a final answer before it says `Unknown`.
	pub give_up: Duration,
	/// Paid to the block author on top of each transaction's fee (native token units).
	pub tip: u128,
	pub progress: Option<ProgressFn>,
}

impl Default for SenderOptions {
	fn default() -> Self {
		Self {
			lifetime: 64,
			in_flight: 512,
			give_up: Duration::from_secs(300),
			tip: 0,
			progress: None,
		}
	}
}

/// Where the next nonce comes from.
#[derive(Default)]
struct NonceState {
	next: Option<Nonce>,
}

/// The finalized block transactions take as their checkpoint, re-read every few seconds.
const CHECKPOINT_AGE: Duration = Duration::from_secs(2);

/// Signs and submits for one account. Share it behind an `Arc` between tasks.
pub struct TxSender {
	conn: Arc<Connection>,
	signer: Signer,
	options: SenderOptions,
	nonce: AsyncMutex<NonceState>,
	/// Set when a followed transaction left the pool unfinalized: the nonces after it may be
	/// free again, so the next submission asks the chain.
	resync: Arc<AtomicBool>,
	checkpoint: Mutex<Option<(Instant, u32, H256)>>,
	slots: Arc<Semaphore>,
}

/// The pool's answer (`author_submit*`) when it holds the submitted bytes already.
const POOL_ALREADY_IMPORTED: i32 = 1013;

/// Pool refusals that a fresh nonce or chain context cures.
fn retryable(reason: &str) -> bool {
	reason.contains("outdated")
		|| reason.contains("Priority is too low")
		|| reason.contains("bad signature")
}

impl TxSender {
	pub fn new(conn: Arc<Connection>, signer: Signer, options: SenderOptions) -> Result<Self> {
		check_lifetime(options.lifetime)?;
		let slots = Arc::new(Semaphore::new(options.in_flight.max(1)));
		Ok(Self {
			conn,
			signer,
			options,
			nonce: AsyncMutex::new(NonceState::default()),
			resync: Arc::new(AtomicBool::new(false)),
			checkpoint: Mutex::new(None),
			slots,
		})
	}

	pub fn account(&self) -> AccountId {
		self.signer.account_id()
	}

	pub fn connection(&self) -> &Arc<Connection> {
		&self.conn
	}

	/// Forgets the local nonce: the next submission reads it from the chain.
	pub async fn resync(&self) {
		self.nonce.lock().await.next = None;
	}

	async fn checkpoint(&self) -> Result<(u32, H256)> {
		if let Some((at, number, hash)) = *self.checkpoint.lock().unwrap_or_else(|e| e.into_inner())
		{
			if at.elapsed() < CHECKPOINT_AGE {
				return Ok((number, hash));
			}
		}
		let (number, hash) = self.conn.finalized().await?;
		*self.checkpoint.lock().unwrap_or_else(|e| e.into_inner()) =
			Some((Instant::now(), number, hash));
		Ok((number, hash))
	}

	async fn chain_nonce(&self) -> Result<Nonce> {
		let account = self.account().to_string();
		self.conn
			.run(|rpc| {
				let account = account.clone();
				async move { rpc.account_next_index(&account).await }
			})
			.await
	}

	/// Signs `call` with the next nonce and submits it, once a slot is free. A refusal by the
	/// pool is an error (after one retry with a fresh nonce where that can help); once this
	/// returns, the transaction is the caller's to [`InFlight::follow`].
	pub async fn submit(&self, call: RuntimeCall) -> Result<InFlight> {
		let slot = self.slots.clone().acquire_owned().await.expect("the semaphore is never closed");
		let mut state = self.nonce.lock().await;
		if self.resync.swap(false, Ordering::SeqCst) {
			state.next = None;
		}
		let mut attempt = 0;
		loop {
			attempt += 1;
			let nonce = match state.next {
				Some(n) => n,
				None => self.chain_nonce().await?,
			};
			let checkpoint = self.checkpoint().await?;
			let ctx = self.conn.chain_context();
			let tx = prepare_tipped(
				&self.signer,
				&ctx,
				call.clone(),
				nonce,
				self.options.lifetime,
				checkpoint,
				self.options.tip,
			)?;
			let progress = self.options.progress.clone();
			match InFlight::submit(self.conn.clone(), tx, self.options.give_up, progress).await {
				Ok(mut flight) => {
					// After a broken connection the nonce may or may not be taken: ask the chain
					// next time. Bytes the pool holds already have taken it.
					let arrived =
						flight.watch.is_some() || flight.path.contains(&Step::AlreadyInPool);
					state.next = arrived.then_some(nonce + 1);
					flight.resync = Some(self.resync.clone());
					flight._slot = Some(slot);
					return Ok(flight);
				}
				Err(Error::Rejected { code, reason }) => {
					state.next = None;
					if attempt < 3 && retryable(&reason) {
						if reason.contains("bad signature") {
							self.conn.refresh_context().await?;
						}
						continue;
					}
					return Err(Error::Rejected { code, reason });
				}
				Err(e) => {
					// The node may have taken it before the answer failed: ask next time.
					state.next = None;
					return Err(e);
				}
			}
		}
	}

	/// Signs `call` with the next nonce without submitting it, for a caller that keeps the
	/// transaction before it goes out (so that after a crash it resends these very bytes,
	/// which the chain can include at most once). Submit it with [`TxSender::submit_signed`]
	/// before signing the next, or the nonces after it wait for it in the pool.
	pub async fn sign_next(&self, call: RuntimeCall) -> Result<PendingTx> {
		let mut state = self.nonce.lock().await;
		if self.resync.swap(false, Ordering::SeqCst) {
			state.next = None;
		}
		let nonce = match state.next {
			Some(n) => n,
			None => self.chain_nonce().await?,
		};
		let checkpoint = self.checkpoint().await?;
		let ctx = self.conn.chain_context();
		let tx = prepare_tipped(
			&self.signer,
			&ctx,
			call,
			nonce,
			self.options.lifetime,
			checkpoint,
			self.options.tip,
		)?;
		state.next = Some(nonce + 1);
		Ok(tx)
	}

	/// Submits a transaction from [`TxSender::sign_next`] (or one kept from before a restart),
	/// once a slot is free. A refusal, or a submission whose arrival is unknown, makes the next
	/// `sign_next` read the nonce from the chain.
	pub async fn submit_signed(&self, tx: PendingTx) -> Result<InFlight> {
		let slot = self.slots.clone().acquire_owned().await.expect("the semaphore is never closed");
		let progress = self.options.progress.clone();
		match InFlight::submit(self.conn.clone(), tx, self.options.give_up, progress).await {
			Ok(mut flight) => {
				if flight.watch.is_none() && !flight.path.contains(&Step::AlreadyInPool) {
					self.resync.store(true, Ordering::SeqCst);
				}
				flight.resync = Some(self.resync.clone());
				flight._slot = Some(slot);
				Ok(flight)
			}
			Err(e) => {
				self.resync.store(true, Ordering::SeqCst);
				Err(e)
			}
		}
	}

	/// Submits `call` and follows it to its end.
	pub async fn send(&self, call: RuntimeCall) -> Result<TxReport> {
		Ok(self.submit(call).await?.follow().await)
	}
}

/// A submitted transaction, not yet followed to its end.
///
/// [`TxSender::submit`] makes these; [`InFlight::submit`] submits a transaction prepared (and
/// perhaps stored) beforehand, such as one with an explicit nonce.
pub struct InFlight {
	conn: Arc<Connection>,
	tx: PendingTx,
	watch: Option<Subscription<TxStatus>>,
	path: Vec<Step>,
	give_up: Duration,
	progress: Option<ProgressFn>,
	resync: Option<Arc<AtomicBool>>,
	_slot: Option<OwnedSemaphorePermit>,
}

impl InFlight {
	/// Submits `tx` as it is. A refusal by the pool is [`Error::Rejected`], except "already
	/// imported", which means the pool holds these bytes ([`Step::AlreadyInPool`]); a connection
	/// that breaks during the submission leaves it to `follow` to find out whether it arrived.
	pub async fn submit(
		conn: Arc<Connection>,
		tx: PendingTx,
		give_up: Duration,
		progress: Option<ProgressFn>,
	) -> Result<Self> {
		let rpc = conn.rpc().await?;
		let (watch, mut path) = (None, vec![Step::Submitted]);
		let mut flight = InFlight {
			conn,
			tx,
			watch,
			path: Vec::new(),
			give_up,
			progress,
			resync: None,
			_slot: None,
		};
		match rpc.submit_and_watch(&flight.tx.encoded).await {
			Ok(sub) => flight.watch = Some(sub),
			Err(e) if e.is_connection() => path.push(Step::ConnectionLost { error: e.to_string() }),
			// Followed like one whose connection dropped: through the finalized blocks.
			Err(Error::Rejected { code: POOL_ALREADY_IMPORTED, .. }) => {
				path.push(Step::AlreadyInPool)
			}
			Err(e) => return Err(e),
		}
		for step in path {
			flight.step(step);
		}
		Ok(flight)
	}

	pub fn tx(&self) -> &PendingTx {
		&self.tx
	}

	fn step(&mut self, step: Step) {
		if let Some(p) = &self.progress {
			p(&self.tx, &step);
		}
		self.path.push(step);
	}

	/// Follows the pool's reports until the transaction is in a finalized block; if the pool
	/// lets go of it first, or the node goes away, reads finalized blocks until its lifetime
	/// is over. Gives `Unknown` after the sender's `give_up` time without an answer.
	pub async fn follow(mut self) -> TxReport {
		let deadline = Instant::now() + self.give_up;
		if let Some(mut watch) = self.watch.take() {
			loop {
				let next = tokio::time::timeout_at(deadline.into(), watch.next()).await;
				let status = match next {
					Err(_) => {
						let reason = timed_out(&self.tx);
						return self.end(TxResult::Unknown { reason });
					}
					Ok(None) => {
						self.step(Step::ConnectionLost {
							error: "the node ended the watch".into(),
						});
						break;
					}
					Ok(Some(Err(e))) => {
						self.step(Step::ConnectionLost { error: e.to_string() });
						break;
					}
					Ok(Some(Ok(status))) => status,
				};
				self.step(Step::Pool { status: status.clone() });
				match status {
					TxStatus::Finalized(block) => {
						match finalized_in(&self.conn, &self.tx, block).await {
							Ok(result) => return self.end(result),
							// The block is final; only reading it failed. Searching finds it.
							Err(_) => break,
						}
					}
					TxStatus::Dropped
					| TxStatus::Invalid
					| TxStatus::Usurped(_)
					| TxStatus::FinalityTimeout(_) => break,
					_ => {}
				}
			}
		}
		let (tx, progress, mut path) =
			(self.tx.clone(), self.progress.clone(), std::mem::take(&mut self.path));
		let result = search(&self.conn, &tx, deadline, &mut |step| {
			if let Some(p) = &progress {
				p(&tx, &step);
			}
			path.push(step);
		})
		.await;
		self.path = path;
		self.end(result)
	}

	fn end(mut self, result: TxResult) -> TxReport {
		if !matches!(result, TxResult::Finalized { .. }) {
			if let Some(flag) = self.resync.take() {
				flag.store(true, Ordering::SeqCst);
			}
		}
		TxReport { tx: self.tx.clone(), path: std::mem::take(&mut self.path), result }
	}
}

fn timed_out(tx: &PendingTx) -> String {
	format!("no final answer in time; its lifetime ends at block #{}", tx.death)
}

/// The result for a transaction the pool reported in finalized block `block`.
async fn finalized_in(conn: &Connection, tx: &PendingTx, block: H256) -> Result<TxResult> {
	let number = conn.run(|rpc| async move { rpc.header(Some(block)).await }).await?.number;
	let found = conn.finalized_block(number).await?;
	if found.hash != block {
		return Err(Error::NotFound(format!("block {block:?} on the finalized chain")));
	}
	let index = found
		.index_of(&tx.hash)
		.ok_or_else(|| Error::NotFound(format!("{:?} in block {block:?}", tx.hash)))?;
	let outcome = outcome_in(&found.events, index)?;
	Ok(TxResult::Finalized { block, number, index, outcome })
}

/// Reads the finalized blocks `tx` can be in, as they are finalized, until it is found or its
/// lifetime is over; `Unknown` if `deadline` comes first.
async fn search(
	conn: &Connection,
	tx: &PendingTx,
	deadline: Instant,
	step: &mut (dyn FnMut(Step) + Send),
) -> TxResult {
	let mut next = tx.birth + 1;
	let mut last_error = None;
	loop {
		match conn.finalized().await {
			Ok((finalized, _)) => {
				let up_to = finalized.min(tx.death);
				while next <= up_to {
					match conn.finalized_block(next).await {
						Ok(block) => {
							if let Some(index) = block.index_of(&tx.hash) {
								return match outcome_in(&block.events, index) {
									Ok(outcome) => TxResult::Finalized {
										block: block.hash,
										number: block.number,
										index,
										outcome,
									},
									Err(e) => TxResult::Unknown {
										reason: format!("in block #{next}, but {e}"),
									},
								};
							}
							next += 1;
						}
						Err(e) => {
							last_error = Some(e.to_string());
							break;
						}
					}
				}
				if next > up_to && up_to > tx.birth {
					step(Step::Searched { up_to });
				}
				if finalized >= tx.death && next > tx.death {
					return TxResult::Expired { death: tx.death };
				}
			}
			Err(e) => last_error = Some(e.to_string()),
		}
		if Instant::now() >= deadline {
			let reason = match last_error {
				Some(e) => format!("{}; last error: {e}", timed_out(tx)),
				None => timed_out(tx),
			};
			return TxResult::Unknown { reason };
		}
		tokio::time::sleep(Duration::from_millis(500)).await;
	}
}

/// The final answer for a transaction sent earlier (whose report was `Unknown`, or whose
/// sender crashed): reads the blocks it can be in, waiting for its lifetime to end if needed,
/// for at most `wait`.
pub async fn resolve(conn: &Connection, tx: &PendingTx, wait: Duration) -> TxReport {
	let mut path = Vec::new();
	let result = search(conn, tx, Instant::now() + wait, &mut |s| path.push(s)).await;
	TxReport { tx: tx.clone(), path, result }
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn a_pending_transaction_knows_the_blocks_it_can_be_in() {
		let ctx = ChainContext {
			genesis_hash: H256::repeat_byte(1),
			spec_version: clearline_runtime::VERSION.spec_version,
			transaction_version: clearline_runtime::VERSION.transaction_version,
		};
		let alice = Signer::from_uri("//Alice").unwrap();
		let call = crate::calls::close_cycle();
		let tx = prepare(&alice, &ctx, call.clone(), 3, 64, (1000, H256::repeat_byte(2))).unwrap();
		assert_eq!((tx.birth, tx.death), (1000, 1064));
		assert_eq!(tx.hash, H256(blake2_256(&tx.encoded)));
		// A lifetime that is not a power of two is rounded up.
		let tx = prepare(&alice, &ctx, call.clone(), 3, 40, (1000, H256::repeat_byte(2))).unwrap();
		assert_eq!(tx.death - tx.birth, 64);
		for bad in [0, 3, MAX_LIFETIME + 1] {
			assert!(matches!(
				prepare(&alice, &ctx, call.clone(), 3, bad, (1000, H256::zero())),
				Err(Error::InvalidInput { field: "lifetime", .. })
			));
		}
		// A pending transaction survives being stored as JSON.
		let json = serde_json::to_string(&tx).unwrap();
		assert_eq!(serde_json::from_str::<PendingTx>(&json).unwrap(), tx);
	}

	#[test]
	fn only_nonce_and_version_refusals_are_retried() {
		assert!(retryable("Invalid Transaction: Transaction is outdated"));
		assert!(retryable("Priority is too low: (100 vs 100)"));
		assert!(retryable("Invalid Transaction: Transaction has a bad signature"));
		assert!(!retryable("Invalid Transaction: Invalid signing address"));
		assert!(!retryable("Invalid Transaction: Inability to pay some fees"));
	}
}
