//! Submitting transactions and following each to a final answer.
//!
//! A [`TxSender`] signs for one account. It hands out nonces itself, one after the other,
//! holding them only while it signs: submissions are pipelined (`author_submitExtrinsic`
//! answers as soon as the pool has checked the transaction, and callers submit concurrently;
//! the pool keeps a transaction whose predecessor has not arrived yet until it does). A
//! refusal is read by the pool's error code ([`PoolRefusal`]): those a fresh nonce cures are
//! signed again; after any refusal, or a transaction that ended unfinalized, the next
//! signature reads the account's nonce from the node, so that the next transaction fills the
//! gap.
//!
//! Every transaction is mortal. That is what makes its end knowable: a transaction with
//! checkpoint block `birth` and lifetime `period` can only be in blocks `birth + 1` to
//! `birth + period - 1`, so once the chain has finalized block `birth + period`, reading
//! those blocks says for certain whether it was included (and what it did) or never will be
//! ([`TxResult::Expired`]). Outcomes come from one stream of finalized blocks per connection
//! (`crate::finality`), not from a watch per transaction; if the node stays out of reach, the
//! answer is [`TxResult::Unknown`], and [`resolve`] finds the real one later from the
//! [`PendingTx`] alone.

use crate::{
	connection::Connection,
	error::{Error, PoolRefusal, Result},
	extrinsic::{ChainContext, Mortality, Signer},
	outcome::{outcome_in, Outcome},
	rpc::NodeRpc,
};
use clearline_runtime::{AccountId, Nonce, RuntimeCall, BLOCK_HASH_COUNT};
use codec::Encode;
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
	/// Taken by the node's pool.
	Submitted,
	/// The connection dropped; the transaction may or may not be in the pool.
	ConnectionLost { error: String },
	/// The pool answered that it holds these very bytes already: a copy sent before and still
	/// in the pool, or the fork-aware pool's race between a submission and the move of the
	/// transaction into a new view (polkadot-sdk #11419). It is on its way, not refused. (A copy
	/// sent after the first was included is refused as outdated or banned, as before.)
	AlreadyInPool,
	/// Read the finalized blocks it can be in, up to this one.
	Searched { up_to: u32 },
	/// Sent again, the same bytes, over a connection made after the one that took it: a node
	/// that restarted has lost its pool, and the transaction would otherwise wait out its
	/// lifetime unseen.
	Resent,
	/// Sent again and refused: its nonce is used (by itself in a block not finalized yet, or
	/// by another transaction). The finalized blocks say which.
	ResendRefused { reason: String },
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
	/// How many transactions may be in flight at once; `submit` waits for a free slot.
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
			in_flight: 4096,
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
	/// Set when a transaction was refused, or left unfinalized: the nonces after it may be
	/// free again (or taken by someone else), so the next signature asks the chain.
	resync: Arc<AtomicBool>,
	checkpoint: Mutex<Option<(Instant, u32, H256)>>,
	slots: Arc<Semaphore>,
}

/// How many times [`TxSender::submit`] signs a call again after a refusal a fresh nonce cures.
const SUBMISSIONS: u32 = 3;

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

	/// Forgets the local nonce: the next signature reads it from the chain.
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

	/// The account's next nonce as the node sees it (its transactions in the pool counted).
	async fn chain_nonce(&self) -> Result<Nonce> {
		let account = self.account().to_string();
		self.conn
			.run(|rpc| {
				let account = account.clone();
				async move { rpc.account_next_index(&account).await }
			})
			.await
	}

	/// Signs `call` with the next nonce without submitting it. The nonce is held only while
	/// signing: callers submit concurrently, and the pool keeps a transaction whose
	/// predecessor has not arrived yet until it does. A caller that keeps the transaction
	/// before it goes out (so that after a crash it resends these very bytes, which the chain
	/// includes at most once) submits it with [`TxSender::submit_signed`].
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
	/// once a slot is free, without waiting for anything but the pool's answer. A refusal, or
	/// a submission whose arrival is unknown, makes the next signature read the nonce from the
	/// chain: a refused nonce is a gap the next transaction fills.
	pub async fn submit_signed(&self, tx: PendingTx) -> Result<InFlight> {
		let slot = self.slots.clone().acquire_owned().await.expect("the semaphore is never closed");
		let progress = self.options.progress.clone();
		match InFlight::submit(self.conn.clone(), tx, self.options.give_up, progress).await {
			Ok(mut flight) => {
				if flight.path.iter().any(|s| matches!(s, Step::ConnectionLost { .. })) {
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

	/// Signs `call` with the next nonce and submits it. A refusal that a fresh nonce or chain
	/// context cures (by the pool's error code: outdated, future, too low a priority, a bad
	/// signature) signs it again, up to three times in all; any other refusal is the error.
	/// Once this returns, the transaction is the caller's to [`InFlight::follow`].
	pub async fn submit(&self, call: RuntimeCall) -> Result<InFlight> {
		let mut attempt = 0;
		loop {
			attempt += 1;
			let tx = self.sign_next(call.clone()).await?;
			match self.submit_signed(tx).await {
				Err(e)
					if attempt < SUBMISSIONS
						&& e.refusal().is_some_and(PoolRefusal::cured_by_fresh_nonce) =>
				{
					if e.refusal() == Some(PoolRefusal::BadSignature) {
						self.conn.refresh_context().await?;
					}
				}
				other => return other,
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
	/// The connection's finality task's answer, watched for before the submission.
	answer: tokio::sync::oneshot::Receiver<TxResult>,
	/// The connection whose node took it (or answered about it); `None` if the submission's
	/// arrival is unknown. Any other live connection gets the bytes again.
	sent_over: Option<Arc<NodeRpc>>,
	path: Vec<Step>,
	give_up: Duration,
	progress: Option<ProgressFn>,
	resync: Option<Arc<AtomicBool>>,
	_slot: Option<OwnedSemaphorePermit>,
}

impl InFlight {
	/// Submits `tx` as it is (`author_submitExtrinsic`). A refusal by the pool is
	/// [`Error::Rejected`], except "already imported", which means the pool holds these bytes
	/// ([`Step::AlreadyInPool`]); a connection that breaks during the submission leaves it to
	/// `follow` to find out whether it arrived.
	pub async fn submit(
		conn: Arc<Connection>,
		tx: PendingTx,
		give_up: Duration,
		progress: Option<ProgressFn>,
	) -> Result<Self> {
		// Watched first: no finalized block can hold it before it is submitted.
		let answer = conn.tracker().watch(&conn, tx.hash, tx.birth, tx.death);
		let (step, sent_over) = match conn.rpc().await {
			Ok(rpc) => match rpc.submit(&tx.encoded).await {
				Ok(_) => (Step::Submitted, Some(rpc)),
				Err(e) if e.is_connection() => {
					(Step::ConnectionLost { error: e.to_string() }, None)
				}
				Err(e) if e.refusal() == Some(PoolRefusal::AlreadyImported) => {
					(Step::AlreadyInPool, Some(rpc))
				}
				Err(e) => return Err(e),
			},
			Err(e) if e.is_connection() => (Step::ConnectionLost { error: e.to_string() }, None),
			Err(e) => return Err(e),
		};
		let mut flight = InFlight {
			conn,
			tx,
			answer,
			sent_over,
			path: Vec::new(),
			give_up,
			progress,
			resync: None,
			_slot: None,
		};
		flight.step(step);
		Ok(flight)
	}

	pub fn tx(&self) -> &PendingTx {
		&self.tx
	}

	/// What its submission saw so far.
	pub fn path(&self) -> &[Step] {
		&self.path
	}

	fn step(&mut self, step: Step) {
		if let Some(p) = &self.progress {
			p(&self.tx, &step);
		}
		self.path.push(step);
	}

	/// Waits for the finalized block that holds the transaction (and reads what its call did
	/// there), or for the end of its lifetime without one. The blocks finalized before it was
	/// submitted are read here; the later ones by the connection's finality task. Gives
	/// `Unknown` after the sender's `give_up` time without an answer.
	pub async fn follow(mut self) -> TxReport {
		let deadline = Instant::now() + self.give_up;
		let (tx, progress) = (self.tx.clone(), self.progress.clone());
		let mut path = std::mem::take(&mut self.path);
		let mut step = |s: Step| {
			if let Some(p) = &progress {
				p(&tx, &s);
			}
			path.push(s);
		};
		// What the finalized chain held already (a transaction submitted before, or a node
		// quicker than the task).
		let result = match search(&self.conn, &tx, Instant::now(), &mut step).await {
			TxResult::Unknown { .. } => loop {
				let now = Instant::now();
				if now >= deadline {
					break TxResult::Unknown { reason: timed_out(&tx) };
				}
				let wait = (deadline - now).min(RESEND_CHECK);
				match tokio::time::timeout(wait, &mut self.answer).await {
					Ok(Ok(result)) => break result,
					// The task let go of it: the blocks are read here instead.
					Ok(Err(_)) => break search(&self.conn, &tx, deadline, &mut step).await,
					Err(_) => self.resend_if_reconnected(&mut step).await,
				}
			},
			found => found,
		};
		self.path = path;
		self.end(result)
	}

	/// Sends the transaction's bytes again if the live connection is not the one its node
	/// took it over. The chain includes these bytes at most once, so sending them again is
	/// never a second payment; a node that restarted while it waited in the pool would
	/// otherwise never see it, and its sender would wait its whole lifetime for `Expired`.
	async fn resend_if_reconnected(&mut self, step: &mut (dyn FnMut(Step) + Send)) {
		let Some(rpc) = self.conn.connected_rpc().await else { return };
		if self.sent_over.as_ref().is_some_and(|sent| Arc::ptr_eq(sent, &rpc)) {
			return;
		}
		match rpc.submit(&self.tx.encoded).await {
			Ok(_) => step(Step::Resent),
			// Tried again at the next check.
			Err(e) if e.is_connection() => return,
			Err(e) if e.refusal() == Some(PoolRefusal::AlreadyImported) => {
				step(Step::AlreadyInPool)
			}
			Err(e) => step(Step::ResendRefused { reason: e.to_string() }),
		}
		self.sent_over = Some(rpc);
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

/// How often a follower waiting for its answer checks whether the connection was made
/// again (and its transaction needs sending again).
const RESEND_CHECK: Duration = Duration::from_secs(1);

fn timed_out(tx: &PendingTx) -> String {
	format!("no final answer in time; its lifetime ends at block #{}", tx.death)
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
		use sp_runtime::transaction_validity::InvalidTransaction as Invalid;
		let refusal = |code, invalid: Invalid| {
			PoolRefusal::of(code, &format!("Invalid Transaction: {}", <&str>::from(invalid)))
		};
		assert_eq!(refusal(1010, Invalid::Stale), PoolRefusal::Outdated);
		assert_eq!(refusal(1010, Invalid::BadProof), PoolRefusal::BadSignature);
		assert_eq!(refusal(1010, Invalid::Payment), PoolRefusal::CannotPay);
		assert_eq!(refusal(1010, Invalid::BadSigner), PoolRefusal::Invalid);
		assert_eq!(
			PoolRefusal::of(1014, "Priority is too low: (100 vs 100)"),
			PoolRefusal::TooLowPriority
		);
		assert_eq!(PoolRefusal::of(1016, "Immediately Dropped"), PoolRefusal::PoolFull);
		for cured in [PoolRefusal::Outdated, PoolRefusal::TooLowPriority, PoolRefusal::BadSignature]
		{
			assert!(cured.cured_by_fresh_nonce());
		}
		for not in [PoolRefusal::CannotPay, PoolRefusal::Invalid, PoolRefusal::PoolFull] {
			assert!(!not.cured_by_fresh_nonce());
		}
	}
}
