//! A connection to one node that outlives the node's restarts: it checks that the node runs
//! the chain and the transaction format this client was built for, and, when the WebSocket
//! drops, connects again and checks the same before anything else is sent.

use crate::{
	error::{Error, Result},
	extrinsic::ChainContext,
	outcome::{block_events, EventRecord},
	rpc::{NodeRpc, RuntimeVersion},
};
use sp_core::H256;
use sp_crypto_hashing::blake2_256;
use std::{
	collections::BTreeMap,
	future::Future,
	sync::{Arc, Mutex},
	time::{Duration, Instant},
};
use tokio::sync::{Mutex as AsyncMutex, RwLock};

/// How a [`Connection`] talks to its node.
#[derive(Debug, Clone, Copy)]
pub struct ConnectOptions {
	/// The longest a single JSON-RPC request may take.
	pub request_timeout: Duration,
	/// How long to keep trying to reach the node again after the connection dropped before
	/// a call fails with [`Error::Unreachable`].
	pub reconnect_for: Duration,
}

impl Default for ConnectOptions {
	fn default() -> Self {
		Self { request_timeout: Duration::from_secs(30), reconnect_for: Duration::from_secs(60) }
	}
}

/// One finalized block as transaction tracking needs it: its extrinsics' hashes and its
/// events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FinalizedBlock {
	pub number: u32,
	pub hash: H256,
	/// `blake2_256` of each extrinsic's encoding, in block order.
	pub extrinsics: Vec<[u8; 32]>,
	pub events: Vec<EventRecord>,
}

impl FinalizedBlock {
	/// The position of the extrinsic with hash `hash`, if it is in this block.
	pub fn index_of(&self, hash: &H256) -> Option<u32> {
		self.extrinsics.iter().position(|x| x == hash.as_fixed_bytes()).map(|i| i as u32)
	}
}

/// How many finalized blocks are kept: the blocks a burst of transactions landed in are read
/// once for all of them, not once per transaction.
const BLOCK_CACHE: usize = 256;

/// A node connection that reconnects. Cheap to share behind an `Arc`.
pub struct Connection {
	url: String,
	options: ConnectOptions,
	genesis: H256,
	current: RwLock<Arc<NodeRpc>>,
	context: Mutex<ChainContext>,
	reconnecting: AsyncMutex<()>,
	blocks: Mutex<BTreeMap<u32, Arc<FinalizedBlock>>>,
	tracker: crate::finality::Tracker,
}

/// Refuses a node whose runtime encodes transactions differently from the one this client
/// was compiled against. A newer `spec_version` with the same `transaction_version` keeps the
/// format, so it is accepted and signed for.
pub fn check_runtime(found: &RuntimeVersion) -> Result<()> {
	let ours = &clearline_runtime::VERSION;
	if found.spec_name != *ours.spec_name || found.transaction_version != ours.transaction_version {
		return Err(Error::IncompatibleRuntime {
			expected: format!(
				"{} with transaction version {}",
				ours.spec_name, ours.transaction_version
			),
			found: format!(
				"{} with transaction version {}",
				found.spec_name, found.transaction_version
			),
		});
	}
	Ok(())
}

impl Connection {
	/// Connects to `url` and checks the node's runtime; with `genesis`, also that the node
	/// serves that chain.
	pub async fn open(
		url: &str,
		options: ConnectOptions,
		genesis: Option<H256>,
	) -> Result<Arc<Self>> {
		let rpc = NodeRpc::connect(url, options.request_timeout).await?;
		let context = verified_context(&rpc, genesis).await?;
		Ok(Self::from_parts(url, options, rpc, context))
	}

	/// As [`Connection::open`], but a node that cannot be reached yet is tried again for
	/// [`ConnectOptions::reconnect_for`]: for daemons started beside their node, which may
	/// still be opening its RPC port.
	pub async fn open_patiently(
		url: &str,
		options: ConnectOptions,
		genesis: Option<H256>,
	) -> Result<Arc<Self>> {
		let (rpc, context) = connect_patiently(url, options, genesis).await?;
		Ok(Self::from_parts(url, options, rpc, context))
	}

	fn from_parts(
		url: &str,
		options: ConnectOptions,
		rpc: NodeRpc,
		context: ChainContext,
	) -> Arc<Self> {
		Arc::new(Self {
			url: url.to_string(),
			options,
			genesis: context.genesis_hash,
			current: RwLock::new(Arc::new(rpc)),
			context: Mutex::new(context),
			reconnecting: AsyncMutex::new(()),
			blocks: Mutex::new(BTreeMap::new()),
			tracker: Default::default(),
		})
	}

	pub fn url(&self) -> &str {
		&self.url
	}

	pub fn options(&self) -> ConnectOptions {
		self.options
	}

	pub fn genesis_hash(&self) -> H256 {
		self.genesis
	}

	/// What transactions are signed for: the chain and the runtime version last seen.
	pub fn chain_context(&self) -> ChainContext {
		*self.context.lock().unwrap_or_else(|e| e.into_inner())
	}

	/// Reads the runtime version again (after an upgrade the node refuses the old one).
	pub async fn refresh_context(&self) -> Result<ChainContext> {
		let context = self.run(|rpc| async move { verified_context(&rpc, None).await }).await?;
		*self.context.lock().unwrap_or_else(|e| e.into_inner()) = context;
		Ok(context)
	}

	/// The live connection, connecting again first if the last one dropped.
	pub async fn rpc(&self) -> Result<Arc<NodeRpc>> {
		let current = self.current.read().await.clone();
		if current.is_connected() {
			return Ok(current);
		}
		self.reconnect(&current).await
	}

	/// The live connection if there is one, without connecting again: for callers that only
	/// want to know whether the connection changed, and leave reconnecting to others.
	pub async fn connected_rpc(&self) -> Option<Arc<NodeRpc>> {
		let current = self.current.read().await.clone();
		current.is_connected().then_some(current)
	}

	/// Replaces `stale` with a new connection to the same node, trying for
	/// [`ConnectOptions::reconnect_for`], and checks that it still serves this chain.
	pub async fn reconnect(&self, stale: &Arc<NodeRpc>) -> Result<Arc<NodeRpc>> {
		let _one_at_a_time = self.reconnecting.lock().await;
		{
			// Someone else reconnected while this caller waited for the lock.
			let current = self.current.read().await.clone();
			if !Arc::ptr_eq(&current, stale) && current.is_connected() {
				return Ok(current);
			}
		}
		let (rpc, context) = connect_patiently(&self.url, self.options, Some(self.genesis)).await?;
		let rpc = Arc::new(rpc);
		*self.current.write().await = rpc.clone();
		*self.context.lock().unwrap_or_else(|e| e.into_inner()) = context;
		Ok(rpc)
	}

	/// Runs `request` on the live connection; if the connection fails under it, connects
	/// again and repeats it. Only for requests that may safely run twice (reads).
	pub async fn run<T, F, Fut>(&self, request: F) -> Result<T>
	where
		F: Fn(Arc<NodeRpc>) -> Fut,
		Fut: Future<Output = Result<T>>,
	{
		loop {
			let rpc = self.rpc().await?;
			match request(rpc.clone()).await {
				Err(e) if e.is_connection() => {
					self.reconnect(&rpc).await?;
				}
				result => return result,
			}
		}
	}

	/// The transactions this connection's finality task answers.
	pub(crate) fn tracker(&self) -> &crate::finality::Tracker {
		&self.tracker
	}

	/// Number and hash of the latest finalized block.
	pub async fn finalized(&self) -> Result<(u32, H256)> {
		self.run(|rpc| async move { rpc.finalized().await }).await
	}

	/// Finalized block `number`. The caller makes sure `number` is finalized: the answer is
	/// cached, which is only right for a block that cannot change.
	pub async fn finalized_block(&self, number: u32) -> Result<Arc<FinalizedBlock>> {
		if let Some(hit) = self.blocks.lock().unwrap_or_else(|e| e.into_inner()).get(&number) {
			return Ok(hit.clone());
		}
		let block = self
			.run(|rpc| async move {
				let hash = rpc.block_hash(number).await?;
				let extrinsics = rpc.block_extrinsics(hash).await?;
				Ok(FinalizedBlock {
					number,
					hash,
					extrinsics: extrinsics.iter().map(|x| blake2_256(x)).collect(),
					events: block_events(&rpc, hash).await?,
				})
			})
			.await?;
		let block = Arc::new(block);
		let mut cache = self.blocks.lock().unwrap_or_else(|e| e.into_inner());
		cache.insert(number, block.clone());
		while cache.len() > BLOCK_CACHE {
			cache.pop_first();
		}
		Ok(block)
	}
}

/// The node's chain context, once its runtime and (if given) genesis are the expected ones.
/// Connects to `url` and reads its chain context, trying again with a growing pause while
/// the node cannot be reached, for at most `options.reconnect_for`; any other error ends it.
async fn connect_patiently(
	url: &str,
	options: ConnectOptions,
	genesis: Option<H256>,
) -> Result<(NodeRpc, ChainContext)> {
	let started = Instant::now();
	let mut pause = Duration::from_millis(100);
	loop {
		let attempt = async {
			let rpc = NodeRpc::connect(url, options.request_timeout).await?;
			let context = verified_context(&rpc, genesis).await?;
			Ok::<_, Error>((rpc, context))
		};
		match attempt.await {
			Ok(connected) => return Ok(connected),
			Err(e) if !e.is_connection() => return Err(e),
			Err(e) => {
				if started.elapsed() + pause > options.reconnect_for {
					return Err(Error::Unreachable {
						url: url.to_string(),
						waited: started.elapsed(),
						last_error: e.to_string(),
					});
				}
				tokio::time::sleep(pause).await;
				pause = (pause * 2).min(Duration::from_secs(2));
			}
		}
	}
}

async fn verified_context(rpc: &NodeRpc, genesis: Option<H256>) -> Result<ChainContext> {
	let version = rpc.runtime_version().await?;
	check_runtime(&version)?;
	let context = ChainContext {
		genesis_hash: rpc.genesis_hash().await?,
		spec_version: version.spec_version,
		transaction_version: version.transaction_version,
	};
	if let Some(expected) = genesis {
		if expected != context.genesis_hash {
			return Err(Error::GenesisMismatch {
				url: rpc.url().to_string(),
				expected: format!("{expected:?}"),
				found: format!("{:?}", context.genesis_hash),
			});
		}
	}
	Ok(context)
}

#[cfg(test)]
mod tests {
	use super::*;

	fn version(name: &str, tx: u32) -> RuntimeVersion {
		RuntimeVersion { spec_name: name.into(), spec_version: 999, transaction_version: tx }
	}

	#[test]
	fn runtime_check_accepts_a_newer_spec_with_the_same_transaction_format() {
		let ours = &clearline_runtime::VERSION;
		assert!(check_runtime(&version(&ours.spec_name, ours.transaction_version)).is_ok());
		assert!(matches!(
			check_runtime(&version(&ours.spec_name, ours.transaction_version + 1)),
			Err(Error::IncompatibleRuntime { .. })
		));
		assert!(matches!(
			check_runtime(&version("node-template", ours.transaction_version)),
			Err(Error::IncompatibleRuntime { .. })
		));
	}
}
