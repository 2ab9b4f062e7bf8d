//! JSON-RPC calls to a node, over one WebSocket connection.

use crate::error::{Error, Result};
use jsonrpsee::{
	core::client::{ClientT, Subscription, SubscriptionClientT},
	rpc_params,
	ws_client::{WsClient, WsClientBuilder},
};
use serde::Deserialize;
use sp_core::{Bytes, H256};
use std::time::Duration;

/// The parts of `state_getRuntimeVersion` that transaction signing needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeVersion {
	pub spec_name: String,
	pub spec_version: u32,
	pub transaction_version: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HeaderJson {
	parent_hash: H256,
	number: String,
}

/// A block header's number and parent, as far as clients need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderInfo {
	pub number: u32,
	pub parent_hash: H256,
}

/// A JSON-RPC connection to one node.
pub struct NodeRpc {
	client: WsClient,
	url: String,
}

impl NodeRpc {
	/// Connects to `url` (`ws://127.0.0.1:9944`); each call then waits at most `request_timeout`.
	pub async fn connect(url: &str, request_timeout: Duration) -> Result<Self> {
		// Every transaction followed to finality holds one subscription and a burst of
		// submissions holds one request each: the defaults (256 requests) are too few for a
		// service with hundreds of transactions in flight.
		let client = WsClientBuilder::default()
			.request_timeout(request_timeout)
			.connection_timeout(request_timeout)
			.max_concurrent_requests(4096)
			.build(url)
			.await?;
		Ok(Self { client, url: url.to_string() })
	}

	pub fn url(&self) -> &str {
		&self.url
	}

	/// Whether the WebSocket connection is still open.
	pub fn is_connected(&self) -> bool {
		self.client.is_connected()
	}

	pub async fn block_hash(&self, number: u32) -> Result<H256> {
		let hash: Option<H256> =
			self.client.request("chain_getBlockHash", rpc_params![number]).await?;
		hash.ok_or_else(|| Error::NotFound(format!("block #{number}")))
	}

	pub async fn genesis_hash(&self) -> Result<H256> {
		self.block_hash(0).await
	}

	pub async fn runtime_version(&self) -> Result<RuntimeVersion> {
		Ok(self.client.request("state_getRuntimeVersion", rpc_params![]).await?)
	}

	pub async fn finalized_head(&self) -> Result<H256> {
		Ok(self.client.request("chain_getFinalizedHead", rpc_params![]).await?)
	}

	/// The header of `hash`, or of the best block when `hash` is `None`.
	pub async fn header(&self, hash: Option<H256>) -> Result<HeaderInfo> {
		let header: Option<HeaderJson> =
			self.client.request("chain_getHeader", rpc_params![hash]).await?;
		let header = header.ok_or_else(|| Error::NotFound(format!("header {hash:?}")))?;
		let number = u32::from_str_radix(header.number.trim_start_matches("0x"), 16)
			.map_err(|e| Error::bad("chain_getHeader", e))?;
		Ok(HeaderInfo { number, parent_hash: header.parent_hash })
	}

	/// Number and hash of the latest finalized block.
	pub async fn finalized(&self) -> Result<(u32, H256)> {
		let hash = self.finalized_head().await?;
		Ok((self.header(Some(hash)).await?.number, hash))
	}

	pub async fn best_number(&self) -> Result<u32> {
		Ok(self.header(None).await?.number)
	}

	/// The next nonce of `account`, counting its transactions already in the pool.
	pub async fn account_next_index(&self, account: &str) -> Result<u32> {
		Ok(self.client.request("system_accountNextIndex", rpc_params![account]).await?)
	}

	/// The raw value at `key`, at block `at` or the best block.
	pub async fn storage(&self, key: &[u8], at: Option<H256>) -> Result<Option<Vec<u8>>> {
		let value: Option<Bytes> =
			self.client.request("state_getStorage", rpc_params![Bytes(key.to_vec()), at]).await?;
		Ok(value.map(|b| b.0))
	}

	/// The runtime's SCALE-encoded metadata (`state_getMetadata`), as standard clients read it.
	pub async fn metadata(&self) -> Result<Vec<u8>> {
		let bytes: Bytes = self.client.request("state_getMetadata", rpc_params![]).await?;
		Ok(bytes.0)
	}

	/// Any JSON-RPC method, with positional parameters, decoded into `R`.
	pub async fn call<R: serde::de::DeserializeOwned>(
		&self,
		method: &str,
		params: Vec<serde_json::Value>,
	) -> Result<R> {
		let mut array = jsonrpsee::core::params::ArrayParams::new();
		for p in params {
			array.insert(p).map_err(|e| Error::bad("params", e))?;
		}
		self.client.request(method, array).await.map_err(|e| match e {
			jsonrpsee::core::ClientError::Call(obj) => {
				let message = match obj.data() {
					Some(data) => format!("{} ({})", obj.message(), data.get()),
					None => obj.message().to_string(),
				};
				Error::Refused { method: method.to_string(), code: obj.code(), message }
			}
			other => Error::Rpc(other),
		})
	}

	/// This node's libp2p peer id.
	pub async fn local_peer_id(&self) -> Result<String> {
		Ok(self.client.request("system_localPeerId", rpc_params![]).await?)
	}

	/// The SCALE-encoded extrinsics of block `hash`, in block order.
	pub async fn block_extrinsics(&self, hash: H256) -> Result<Vec<Vec<u8>>> {
		#[derive(Deserialize)]
		struct Body {
			extrinsics: Vec<Bytes>,
		}
		#[derive(Deserialize)]
		struct SignedBlock {
			block: Body,
		}
		let block: Option<SignedBlock> =
			self.client.request("chain_getBlock", rpc_params![hash]).await?;
		let block = block.ok_or_else(|| Error::NotFound(format!("block {hash:?}")))?;
		Ok(block.block.extrinsics.into_iter().map(|b| b.0).collect())
	}

	/// Submits an encoded extrinsic (`author_submitExtrinsic`): the answer is the pool's
	/// acceptance (the transaction's hash) or its refusal, [`Error::Rejected`] with the pool's
	/// error code. What became of the transaction, the finalized blocks say.
	pub async fn submit(&self, extrinsic: &[u8]) -> Result<H256> {
		self.client
			.request("author_submitExtrinsic", rpc_params![Bytes(extrinsic.to_vec())])
			.await
			.map_err(rejection)
	}

	/// The finalized heads as they are finalized (`chain_subscribeFinalizedHeads`); only the
	/// arrival matters to the caller, which reads the blocks themselves.
	pub async fn finalized_heads(&self) -> Result<Subscription<serde_json::Value>> {
		Ok(self
			.client
			.subscribe(
				"chain_subscribeFinalizedHeads",
				rpc_params![],
				"chain_unsubscribeFinalizedHeads",
			)
			.await?)
	}
}

/// A JSON-RPC error answer to a submission is the pool's refusal, with its reason ("Invalid
/// Transaction: Transaction is outdated"); anything else is a connection failure.
fn rejection(e: jsonrpsee::core::ClientError) -> Error {
	match e {
		jsonrpsee::core::ClientError::Call(obj) => {
			let detail = obj
				.data()
				.map(|d| serde_json::from_str::<String>(d.get()).unwrap_or_else(|_| d.to_string()));
			let mut reason = match detail {
				Some(d) => format!("{}: {d}", obj.message()),
				None => obj.message().to_string(),
			};
			// The runtime's own custom refusal, named.
			let suspended = pallet_clearing_bank::SIGNER_SUSPENDED;
			if reason.ends_with(&format!("Custom error: {suspended}")) {
				reason.push_str(" (SignerSuspended: the participant is suspended)");
			}
			Error::Rejected { code: obj.code(), reason }
		}
		other => Error::Rpc(other),
	}
}
