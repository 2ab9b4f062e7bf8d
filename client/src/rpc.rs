//! JSON-RPC calls to a node, over one WebSocket connection.

use crate::error::{Error, Result};
use jsonrpsee::{
	core::client::{ClientT, Subscription, SubscriptionClientT},
	rpc_params,
	ws_client::{WsClient, WsClientBuilder},
};
use serde::{Deserialize, Serialize};
use sp_core::{Bytes, H256};
use std::time::Duration;

/// A transaction's progress as the node reports it (`author_submitAndWatchExtrinsic`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TxStatus {
	/// In the pool, waiting for an earlier nonce.
	Future,
	/// In the pool, ready to be included.
	Ready,
	/// Gossiped to these peers.
	Broadcast(Vec<String>),
	/// Included in this block (not yet final).
	InBlock(H256),
	/// The block it was in left the best chain.
	Retracted(H256),
	/// Included, but finality did not follow in time; the outcome is not known.
	FinalityTimeout(H256),
	/// In this finalized block: final.
	Finalized(H256),
	/// Replaced by another transaction with the same nonce.
	Usurped(H256),
	/// Dropped from the pool (for example, the pool is full).
	Dropped,
	/// Found invalid (for example, its mortality passed or its nonce is stale).
	Invalid,
}

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

	/// Submits an encoded extrinsic and returns the stream of its status updates. A refusal
	/// by the pool is [`Error::Rejected`]: the transaction is not in the pool, unless the
	/// refusal is "already imported" (1013), which says the pool has it.
	pub async fn submit_and_watch(&self, extrinsic: &[u8]) -> Result<Subscription<TxStatus>> {
		self.client
			.subscribe(
				"author_submitAndWatchExtrinsic",
				rpc_params![Bytes(extrinsic.to_vec())],
				"author_unwatchExtrinsic",
			)
			.await
			.map_err(rejection)
	}

	/// Submits an encoded extrinsic and follows it until it is in a finalized block, which it
	/// returns, together with every status seen on the way. Anything that ends the watch
	/// without finality is an error that names the last status.
	pub async fn submit_and_wait_finalized(
		&self,
		extrinsic: &[u8],
		timeout: Duration,
	) -> Result<(H256, Vec<TxStatus>)> {
		let mut sub = self.submit_and_watch(extrinsic).await?;
		let mut seen = Vec::new();
		let follow = async {
			while let Some(status) = sub.next().await {
				let status = status.map_err(|e| Error::bad("author_extrinsicUpdate", e))?;
				seen.push(status.clone());
				match status {
					TxStatus::Finalized(block) => return Ok(block),
					TxStatus::Dropped => {
						return Err(Error::TxFailed {
							status: "dropped",
							detail: format!("{seen:?}"),
						})
					}
					TxStatus::Invalid => {
						return Err(Error::TxFailed {
							status: "invalid",
							detail: format!("{seen:?}"),
						})
					}
					TxStatus::Usurped(by) => {
						return Err(Error::TxFailed {
							status: "usurped",
							detail: format!("by {by:?}"),
						})
					}
					TxStatus::FinalityTimeout(block) => {
						return Err(Error::TxFailed {
							status: "finality timeout",
							detail: format!("in block {block:?}"),
						})
					}
					_ => {}
				}
			}
			Err(Error::TxFailed {
				status: "unwatched",
				detail: "the node closed the subscription".into(),
			})
		};
		let block = tokio::time::timeout(timeout, follow)
			.await
			.map_err(|_| Error::Timeout(timeout, "finality of a submitted transaction".into()))??;
		Ok((block, seen))
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

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn tx_status_decodes_the_node_json() {
		let hash = "0x0101010101010101010101010101010101010101010101010101010101010101";
		let parse = |s: &str| serde_json::from_str::<TxStatus>(s).unwrap();
		assert_eq!(parse("\"ready\""), TxStatus::Ready);
		assert_eq!(parse("\"invalid\""), TxStatus::Invalid);
		assert_eq!(
			parse(&format!("{{\"inBlock\":\"{hash}\"}}")),
			TxStatus::InBlock(H256::repeat_byte(1))
		);
		assert_eq!(
			parse(&format!("{{\"finalized\":\"{hash}\"}}")),
			TxStatus::Finalized(H256::repeat_byte(1))
		);
		assert!(serde_json::from_str::<TxStatus>("\"unheard-of\"").is_err());
	}
}
