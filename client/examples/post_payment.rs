//! Posts one payment on the development chain the way the issuer and the acquirer do it, and
//! prints the posting as the finalized chain holds it.
//!
//! ```sh
//! cargo run -p clearline-client --example post_payment -- ACQ-0001 9213
//! ```
//!
//! Arguments: the acquirer's order id (default `ACQ-DEMO-1`) and the merchant's price in CNY
//! minor units (default 9213, CNY 92.13). `CLEARLINE_URL` names the node (default
//! `ws://127.0.0.1:9944`). The development chain's issuer is Bob and its acquirer Dave.

use clearline_client::{sign_and_finalize, ChainContext, NodeRpc, Outcome, Signer};
use clearline_runtime::{RuntimeCall, RuntimeEvent};
use pallet_clearing_bank::{PaymentInstruction, Scenario};
use pallet_fx_rate::CurrencyCode;
use serde_json::{json, Value};
use std::{error::Error, time::Duration};

fn id(s: &str) -> Result<pallet_clearing_bank::OrderId, String> {
	s.as_bytes().to_vec().try_into().map_err(|_| format!("{s:?} is longer than 64 bytes"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
	let mut args = std::env::args().skip(1);
	let order = args.next().unwrap_or_else(|| "ACQ-DEMO-1".into());
	let cny: u128 = match args.next() {
		Some(a) => a.parse().map_err(|_| format!("{a:?} is not an amount in minor units"))?,
		None => 9213,
	};
	let url = std::env::var("CLEARLINE_URL").unwrap_or_else(|_| "ws://127.0.0.1:9944".into());
	let rpc = NodeRpc::connect(&url, Duration::from_secs(30)).await?;
	let issuer = Signer::from_uri("//Bob")?;
	let acquirer = Signer::from_uri("//Dave")?;

	// The issuer takes the quote for the merchant's exact CNY price from the chain...
	let params = vec![json!("HKD"), json!("CNY"), json!(cny.to_string()), json!("exact_target")];
	let quote: Value = rpc.call("fx_quote", params).await?;
	let hkd: u128 = quote["sourceAmount"].as_str().ok_or("quote without amount")?.parse()?;
	let instruction = PaymentInstruction {
		issuer: issuer.account_id(),
		acquirer: acquirer.account_id(),
		acquirer_order_id: id(&order)?,
		issuer_order_id: id(&format!("ISS-{order}"))?,
		aggregator_order_id: id(&format!("AGG-{order}"))?,
		merchant_id: id("M-DEMO-001")?,
		scenario: Scenario::CustomerPresented,
		debit_currency: CurrencyCode::HKD,
		debit_amount: hkd,
		credit_currency: CurrencyCode::CNY,
		credit_amount: cny,
		rate_id: quote["rateId"].as_u64().ok_or("quote without rate id")?,
	};
	// ...signs the instruction, and the acquirer posts it with that signature.
	let issuer_signature = issuer.sign_instruction(&ChainContext::fetch(&rpc).await?, &instruction);
	let call = RuntimeCall::ClearingBank(pallet_clearing_bank::Call::post_payment {
		instruction,
		issuer_signature,
	});
	let done = sign_and_finalize(&rpc, &acquirer, call, 64, Duration::from_secs(60)).await?;
	let block = done.block;
	match done.outcome {
		Outcome::Failed { error, .. } => {
			return Err(format!("refused in finalized block {block:?}: {error}").into())
		}
		Outcome::Succeeded(events) => {
			use pallet_clearing_bank::Event::*;
			for event in events {
				match event {
					RuntimeEvent::ClearingBank(PaymentPosted { posting_id, .. }) => {
						println!("posted as posting {posting_id}")
					}
					RuntimeEvent::ClearingBank(PaymentAlreadyPosted { posting_id, .. }) => {
						println!("posted before, as posting {posting_id}; nothing changed")
					}
					_ => {}
				}
			}
		}
	}

	let params = vec![json!(acquirer.account_id()), json!(order), json!(format!("{block:?}"))];
	let posting: Value = rpc.call("clearing_posting", params).await?;
	println!("finalized in block {block:?}");
	println!("{}", serde_json::to_string_pretty(&posting)?);
	Ok(())
}
