//! What `clearline` prints: text for people, JSON for scripts, progress on standard error.

use clearline_client::{
	events::{describe, event_json, ChainEvent},
	instruction::{BatchReport, ItemOutcome},
	Outcome, PendingTx, Step, TxReport, TxResult,
};
use clearline_runtime::{AccountId, RuntimeEvent};
use pallet_clearing_bank_rpc::PostingJson;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;

/// Why the command failed, and its exit code.
#[derive(Debug)]
pub struct Failure {
	pub code: i32,
	pub message: String,
}

impl Failure {
	pub fn usage(message: impl Into<String>) -> Self {
		Failure { code: 2, message: message.into() }
	}
	pub fn not_found(message: String) -> Self {
		Failure { code: 1, message }
	}
	pub fn internal(e: impl std::fmt::Display) -> Self {
		Failure { code: 1, message: e.to_string() }
	}
}

pub struct Out {
	pub json: bool,
	pub quiet: bool,
}

fn short(hash: &impl std::fmt::Debug) -> String {
	let full = format!("{hash:?}");
	if full.len() > 14 {
		format!("{}…{}", &full[..8], &full[full.len() - 4..])
	} else {
		full
	}
}

/// Fee and bookkeeping events every transaction has; not worth a line.
fn routine(event: &RuntimeEvent) -> bool {
	matches!(
		event,
		RuntimeEvent::TransactionPayment(_)
			| RuntimeEvent::Balances(
				pallet_balances::Event::Withdraw { .. }
					| pallet_balances::Event::Deposit { .. }
					| pallet_balances::Event::BurnedDebt { .. }
			)
	)
}

/// `key=value` pairs of a JSON object, on one line.
fn fields_text(fields: &Value) -> String {
	match fields.as_object() {
		Some(map) => map
			.iter()
			.map(|(k, v)| match v {
				Value::String(s) => format!("{k}={s}"),
				other => format!("{k}={other}"),
			})
			.collect::<Vec<_>>()
			.join(" "),
		None => fields.to_string(),
	}
}

impl Out {
	pub fn progress_line(&self, line: &str) {
		if !self.quiet {
			eprintln!("{line}");
		}
	}

	/// Progress of a transaction on standard error.
	pub fn progress(&self) -> Option<clearline_client::tx::ProgressFn> {
		if self.quiet {
			return None;
		}
		Some(Arc::new(|tx: &PendingTx, step: &Step| {
			let line = match step {
				Step::Submitted => format!(
					"submitted {} (nonce {}, valid until block #{})",
					short(&tx.hash),
					tx.nonce,
					tx.death
				),
				Step::ConnectionLost { error } => {
					format!("connection lost ({error}); it may or may not have arrived")
				}
				Step::AlreadyInPool => "already in the pool (sent before)".into(),
				Step::Resent => "sent again over a new connection (the node may have restarted \
				                 and lost its pool)"
					.into(),
				Step::ResendRefused { reason } => {
					format!("sent again and refused ({reason}); the finalized blocks will tell")
				}
				Step::Searched { up_to } => {
					format!(
						"not in finalized blocks up to #{up_to} (lifetime ends at #{})",
						tx.death
					)
				}
			};
			eprintln!("{line}");
		}))
	}

	/// A query's answer: JSON, or the text `text` makes of it.
	pub fn value<T: Serialize>(&self, value: &T, text: impl Fn(&Value) -> String) {
		let value = serde_json::to_value(value).expect("answers serialize");
		if self.json {
			println!("{value}");
		} else {
			println!("{}", text(&value));
		}
	}

	/// A document (a signed instruction, a statement): pretty JSON either way.
	pub fn document(&self, value: &Value) {
		println!("{}", serde_json::to_string_pretty(value).expect("values serialize"));
	}

	pub fn event(&self, e: &ChainEvent) {
		if self.json {
			println!("{}", event_json(e));
		} else {
			let (name, fields) = describe(&e.event);
			println!("#{} {name} {}", e.block, fields_text(&fields));
		}
	}

	pub fn already_posted(&self, posting: &PostingJson<AccountId>) {
		let value = json!({ "result": "alreadyPosted", "posting": posting });
		if self.json {
			println!("{value}");
		} else {
			println!(
				"already posted as posting {} in block #{}; nothing sent",
				posting.posting_id, posting.block
			);
			println!("{}", posting_text(&value["posting"]));
		}
	}

	/// Where a transaction ended; `Err` (with its exit code) unless it succeeded.
	pub fn report(
		&self,
		report: &TxReport,
		posting: Option<&PostingJson<AccountId>>,
	) -> Result<(), Failure> {
		let tx = &report.tx;
		match &report.result {
			TxResult::Finalized { block, number, index, outcome } => {
				let (events, error) = match outcome {
					Outcome::Succeeded(events) => (events, None),
					Outcome::Failed { error, events } => (events, Some(error)),
				};
				let events: Vec<_> = events.iter().filter(|e| !routine(e)).collect();
				if self.json {
					let events: Vec<Value> = events
						.iter()
						.map(|e| {
							let (name, fields) = describe(e);
							json!({ "event": name, "fields": fields })
						})
						.collect();
					let mut value = json!({
						"result": if error.is_some() { "failed" } else { "finalized" },
						"txHash": tx.hash,
						"block": block,
						"blockNumber": number,
						"extrinsic": index,
						"events": events,
					});
					if let Some(error) = error {
						value["error"] = json!(error);
					}
					if let Some(posting) = posting {
						value["posting"] = json!(posting);
					}
					println!("{value}");
				} else {
					println!("finalized in block #{number} ({block:?}), extrinsic {index}");
					for e in &events {
						let (name, fields) = describe(e);
						println!("  {name} {}", fields_text(&fields));
					}
					if let Some(posting) = posting {
						println!("{}", posting_text(&json!(posting)));
					}
				}
				match error {
					None => Ok(()),
					Some(error) => Err(Failure {
						code: 1,
						message: format!(
							"{error} (the call failed in finalized block #{number}; fees were paid)"
						),
					}),
				}
			}
			TxResult::Expired { death } => {
				if self.json {
					println!(
						"{}",
						json!({ "result": "expired", "txHash": tx.hash, "death": death })
					);
				}
				Err(Failure {
					code: 3,
					message: format!(
						"transaction {:?} expired: not in any finalized block before #{death}, and \
						 it can no longer be",
						tx.hash
					),
				})
			}
			TxResult::Unknown { reason } => {
				// The pending transaction goes to standard output either way, so that it can be
				// given to `clearline tx resolve` later.
				println!("{}", json!({ "result": "unknown", "reason": reason, "pending": tx }));
				Err(Failure {
					code: 4,
					message: format!(
						"outcome unknown: {reason}; keep the JSON printed above and run `clearline \
						 tx resolve <file>` later"
					),
				})
			}
		}
	}
}

impl Out {
	/// Each transaction of a batch (its events, in text mode), then what each item came to;
	/// fails unless every item is posted.
	pub fn batch(&self, batch: &BatchReport) -> Result<(), Failure> {
		let mut failures: Vec<String> = batch.stopped.iter().cloned().collect();
		for report in &batch.reports {
			if self.json {
				if let TxResult::Unknown { reason } = &report.result {
					failures.push(format!("outcome unknown: {reason}"));
				}
			} else if let Err(failure) = self.report(report, None) {
				failures.push(failure.message);
			}
		}
		let item_json = |(order, outcome): &(String, ItemOutcome)| match outcome {
			ItemOutcome::Posted { posting_id, .. } => {
				json!({ "acquirerOrderId": order, "result": "posted", "postingId": posting_id })
			}
			ItemOutcome::AlreadyPosted { posting_id } => json!({ "acquirerOrderId": order,
				"result": "alreadyPosted", "postingId": posting_id }),
			ItemOutcome::Refused { error } => {
				json!({ "acquirerOrderId": order, "result": "refused", "error": error })
			}
			ItemOutcome::Unresolved => json!({ "acquirerOrderId": order, "result": "unresolved" }),
		};
		let count = |f: fn(&ItemOutcome) -> bool| batch.items.iter().filter(|(_, o)| f(o)).count();
		let refused = count(|o| matches!(o, ItemOutcome::Refused { .. }));
		let unresolved = count(|o| matches!(o, ItemOutcome::Unresolved));
		if self.json {
			let transactions: Vec<Value> = batch
				.reports
				.iter()
				.map(|r| match &r.result {
					TxResult::Finalized { block, number, index, outcome } => json!({
						"txHash": r.tx.hash, "result": match outcome {
							Outcome::Succeeded(_) => "finalized", Outcome::Failed { .. } => "failed" },
						"block": block, "blockNumber": number, "extrinsic": index }),
					TxResult::Expired { death } => {
						json!({ "txHash": r.tx.hash, "result": "expired", "death": death })
					}
					TxResult::Unknown { reason } => {
						json!({ "result": "unknown", "reason": reason, "pending": r.tx })
					}
				})
				.collect();
			let items: Vec<Value> = batch.items.iter().map(item_json).collect();
			let mut value = json!({ "items": items, "transactions": transactions });
			if let Some(stopped) = &batch.stopped {
				value["stopped"] = json!(stopped);
			}
			println!("{value}");
		} else if !self.quiet {
			for item in &batch.items {
				let v = item_json(item);
				let detail = match (v["postingId"].as_u64(), v["error"].as_str()) {
					(Some(id), _) => format!("posting {id}"),
					(None, Some(error)) => error.to_string(),
					_ => "see the transaction above".into(),
				};
				println!("{:<24} {:<14} {detail}", item.0, s(&v, "result"));
			}
		}
		if refused + unresolved == 0 && failures.is_empty() {
			return Ok(());
		}
		failures.insert(
			0,
			format!(
				"{refused} of {} instructions refused, {unresolved} without a final answer \
				 (posting the same file again is safe)",
				batch.items.len()
			),
		);
		Err(Failure { code: if unresolved > 0 { 4 } else { 1 }, message: failures.join("; ") })
	}
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
	v[key].as_str().unwrap_or_default()
}

pub fn posting_text(p: &Value) -> String {
	format!(
		"posting {} ({}, cycle {} {}): {} {} {} from issuer {} to acquirer {} {} {}, rate {}\n  \
		 acquirer order {}, issuer order {}, aggregator order {}, merchant {}, block #{}, \
		 refunded {} {}",
		p["postingId"],
		s(p, "status"),
		p["cycle"],
		s(p, "cycleStatus"),
		s(p, "scenario"),
		s(p, "debitCurrency"),
		s(p, "debitAmount"),
		s(p, "issuer"),
		s(p, "acquirer"),
		s(p, "creditCurrency"),
		s(p, "creditAmount"),
		p["rateId"],
		s(p, "acquirerOrderId"),
		s(p, "issuerOrderId"),
		s(p, "aggregatorOrderId"),
		s(p, "merchantId"),
		p["block"],
		s(p, "creditCurrency"),
		s(p, "refundedCredit"),
	)
}

pub fn participant_text(p: &Value) -> String {
	let mut text = format!(
		"{} {} ({}, {}): {}",
		s(p, "role"),
		s(p, "code"),
		s(p, "name"),
		s(p, "status"),
		s(p, "account")
	);
	for a in p["accounts"].as_array().into_iter().flatten() {
		text.push_str(&format!(
			"\n  {} balance {}, debit limit {}, available {}",
			s(a, "currency"),
			s(a, "balance"),
			s(a, "debitLimit"),
			s(a, "available")
		));
	}
	text
}

pub fn quote_text(q: &Value) -> String {
	format!(
		"{} {} -> {} {} at rate {} (id {}, mid {}, scale {}), valid until {} ms",
		s(q, "source"),
		s(q, "sourceAmount"),
		s(q, "target"),
		s(q, "targetAmount"),
		s(q, "appliedRate"),
		q["rateId"],
		s(q, "mid"),
		s(q, "rateScale"),
		q["validUntil"],
	)
}

pub fn void_text(v: &Value) -> String {
	format!(
		"issuer order {} of {} voided at {} ms in block #{}: it can never be posted",
		s(v, "issuerOrderId"),
		s(v, "issuer"),
		v["voidedAt"],
		v["block"],
	)
}

pub fn rate_text(r: &Value) -> String {
	format!(
		"rate {} {}/{}: mid {} (scale {}), spread {} ppm, by {}, published {} valid until {} ms",
		r["rateId"],
		s(&r["pair"], "base"),
		s(&r["pair"], "quote"),
		s(r, "mid"),
		s(r, "rateScale"),
		r["spreadPpm"],
		r["feeder"].as_str().unwrap_or("the admin"),
		r["publishedAt"],
		r["validUntil"],
	)
}

pub fn cycle_text(c: &Value) -> String {
	let mut text = format!(
		"cycle {} {}: {} entries, digest {}, settlement {}",
		c["cycle"],
		s(c, "status"),
		c["entries"],
		s(c, "digest"),
		c["settlementRef"].as_str().unwrap_or("-"),
	);
	for n in c["netPositions"].as_array().into_iter().flatten() {
		text.push_str(&format!(
			"\n  {} {} net {}",
			s(n, "participant"),
			s(n, "currency"),
			s(n, "net")
		));
	}
	text
}
