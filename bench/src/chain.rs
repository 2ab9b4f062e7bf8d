//! Set-up transactions on a development chain: sent by the well-known development keys,
//! each required to succeed.

use anyhow::{bail, Context, Result};
use clearline_client::{Connection, Outcome, SenderOptions, Signer, TxResult, TxSender};
use clearline_runtime::RuntimeCall;
use serde_json::{json, Value};
use std::sync::Arc;

/// Sends `calls` signed by `key`, all in flight at once, and fails unless every one is
/// finalized and succeeded.
pub async fn send_all(conn: &Arc<Connection>, key: &str, calls: Vec<RuntimeCall>) -> Result<()> {
	let sender = TxSender::new(conn.clone(), Signer::from_uri(key)?, SenderOptions::default())?;
	let mut flights = Vec::new();
	for call in calls {
		flights.push(sender.submit(call).await.with_context(|| format!("submitting as {key}"))?);
	}
	for report in futures::future::join_all(flights.into_iter().map(|f| f.follow())).await {
		match report.result {
			TxResult::Finalized { outcome: Outcome::Succeeded(_), .. } => {}
			other => bail!("a set-up transaction of {key} did not succeed: {other:?}"),
		}
	}
	Ok(())
}

/// What the chain charges a signed extrinsic in block weight: its dispatch weight with its
/// extensions' (`payment_queryInfo`), plus the base weight every extrinsic pays.
pub async fn block_weight_of(conn: &Connection, extrinsic: &[u8]) -> Result<u64> {
	let hex = format!("0x{}", hex::encode(extrinsic));
	let info: Value = conn
		.run(|rpc| {
			let hex = hex.clone();
			async move { rpc.call("payment_queryInfo", vec![json!(hex)]).await }
		})
		.await?;
	let weight = &info["weight"];
	let ref_time = weight["ref_time"]
		.as_u64()
		.or_else(|| weight["refTime"].as_u64())
		.with_context(|| format!("payment_queryInfo answered without a weight: {info}"))?;
	Ok(ref_time + normal_limits().base_extrinsic.ref_time())
}

/// The runtime's limits for normal transactions.
pub fn normal_limits() -> frame_system::limits::WeightsPerClass {
	use frame_support::dispatch::DispatchClass;
	let weights = <clearline_runtime::Runtime as frame_system::Config>::BlockWeights::get();
	weights.get(DispatchClass::Normal).clone()
}

/// The most normal transactions of `weight` (as [`block_weight_of`] gives it) and `length`
/// bytes one block can hold.
pub fn per_block_ceiling(weight: u64, length: usize) -> u64 {
	use frame_support::dispatch::DispatchClass;
	let max_weight = normal_limits().max_total.map(|w| w.ref_time()).unwrap_or(u64::MAX);
	let lengths = <clearline_runtime::Runtime as frame_system::Config>::BlockLength::get();
	let max_length = u64::from(*lengths.max.get(DispatchClass::Normal));
	(max_weight / weight.max(1)).min(max_length / (length as u64).max(1))
}

/// Waits until the chain's HKD/CNY rate is one the feeder published (not the opening admin
/// rate), so that what is signed next stays at the effective rate for the whole run.
pub async fn wait_for_feeder_rate(conn: &Connection) -> Result<()> {
	use pallet_fx_rate::{CurrencyCode, Pair};
	let pair = Pair::new(CurrencyCode::HKD, CurrencyCode::CNY);
	for _ in 0..120 {
		if let Ok(rate) = clearline_client::queries::rate(conn, pair, None).await {
			if rate.feeder.is_some() {
				return Ok(());
			}
		}
		tokio::time::sleep(std::time::Duration::from_millis(500)).await;
	}
	bail!("the feeder published no HKD/CNY rate within a minute")
}
