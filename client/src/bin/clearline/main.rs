//! `clearline`: every operation of the clearing bank, issuers, acquirers and FX feeders, from
//! the command line, through `clearline-client`.

mod args;
mod output;

use args::*;
use clap::Parser;
use clearline_client::multisig::{approval_of, Approval, MultisigAccount};
use clearline_client::{
	calls, camt053,
	events::{finalized_events, EventFilter},
	instruction::{self, post_batch, post_once, PostResult, SignedInstruction},
	queries, resolve, ConnectOptions, Connection, Error, KeySource, PendingTx, SenderOptions,
	Signer, TxSender,
};
use clearline_runtime::{AccountId, RuntimeCall};
use futures::StreamExt;
use output::{Failure, Out};
use pallet_clearing_bank::{ParticipantRole, PaymentInstruction, Scenario};
use pallet_clearing_bank_rpc::PostingLookupJson;
use pallet_fx_rate::{PairLimits, QuoteSide};
use std::{collections::BTreeMap, io::Read, path::Path, sync::Arc};

#[tokio::main]
async fn main() {
	let cli = Cli::parse();
	let out = Out { json: cli.json, quiet: cli.quiet };
	if let Err(failure) = run(cli, &out).await {
		eprintln!("error: {}", failure.message);
		std::process::exit(failure.code);
	}
}

struct Ctx {
	cli: Cli,
	conn: Arc<Connection>,
}

impl Ctx {
	fn signer(&self) -> Result<Signer, Failure> {
		let k = &self.cli.key;
		let source = match (&k.key, &k.key_env, &k.key_file) {
			(Some(uri), _, _) => KeySource::uri(uri.clone()),
			(_, Some(var), _) => KeySource::Env(var.clone()),
			(_, _, Some(path)) => KeySource::File(path.clone()),
			_ => {
				return Err(Failure::usage(
					"this command signs a transaction: give --key, --key-env or --key-file",
				))
			}
		};
		Ok(source.load()?)
	}

	fn sender(&self, out: &Out) -> Result<TxSender, Failure> {
		let options = SenderOptions {
			lifetime: self.cli.lifetime,
			give_up: self.cli.timeout,
			in_flight: 1,
			tip: 0,
			progress: out.progress(),
		};
		Ok(TxSender::new(self.conn.clone(), self.signer()?, options)?)
	}

	/// Signs, submits and follows `call` (as an approval for `--multisig`'s account, if
	/// given); prints where it ended.
	async fn send(&self, out: &Out, call: RuntimeCall) -> Result<(), Failure> {
		let sender = self.sender(out)?;
		let Some(text) = &self.cli.multisig else {
			let report = sender.send(call).await?;
			return out.report(&report, None);
		};
		let multisig = MultisigAccount::parse(text)?;
		let call = multisig.approval(&self.conn, &sender.account(), call).await?;
		let report = sender.send(call).await?;
		out.report(&report, None)?;
		let clearline_client::TxResult::Finalized {
			outcome: clearline_client::Outcome::Succeeded(events),
			..
		} = &report.result
		else {
			return Ok(());
		};
		match approval_of(events) {
			Some(Approval::Waiting) => {
				out.progress_line(&format!(
					"approved for {}; waiting for the other signatories (threshold {})",
					multisig.account(),
					multisig.threshold
				));
				Ok(())
			}
			Some(Approval::Executed(None)) => {
				out.progress_line(&format!("executed as {}", multisig.account()));
				Ok(())
			}
			Some(Approval::Executed(Some(error))) => Err(Failure {
				code: 1,
				message: format!(
					"executed as {}, and the call failed: {error}",
					multisig.account()
				),
			}),
			None => Ok(()),
		}
	}
}

fn account(field: &'static str, text: &str) -> Result<AccountId, Failure> {
	Ok(calls::account(field, text)?)
}

fn read_input(path: &Path) -> Result<String, Failure> {
	let mut text = String::new();
	if path == Path::new("-") {
		std::io::stdin()
			.read_to_string(&mut text)
			.map_err(|e| Failure::usage(format!("standard input: {e}")))?;
	} else {
		text = std::fs::read_to_string(path)
			.map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
	}
	Ok(text)
}

async fn run(cli: Cli, out: &Out) -> Result<(), Failure> {
	let options = ConnectOptions {
		reconnect_for: cli.timeout.min(std::time::Duration::from_secs(60)),
		..ConnectOptions::default()
	};
	// The feeder is a daemon that may start beside its node; a one-off command answers at once.
	let conn = if matches!(cli.command, Command::Fx(FxCmd::Feed(_))) {
		Connection::open_patiently(&cli.url, options, None).await?
	} else {
		Connection::open(&cli.url, options, None).await?
	};
	let ctx = Ctx { cli, conn };
	let conn = &ctx.conn;
	match &ctx.cli.command {
		Command::Status => {
			let rpc = conn.rpc().await?;
			let version = rpc.runtime_version().await?;
			let (finalized, finalized_hash) = rpc.finalized().await?;
			let best = rpc.best_number().await?;
			out.value(
				&serde_json::json!({
					"url": conn.url(),
					"genesisHash": conn.genesis_hash(),
					"runtime": version.spec_name,
					"specVersion": version.spec_version,
					"transactionVersion": version.transaction_version,
					"bestBlock": best,
					"finalizedBlock": finalized,
					"finalizedHash": finalized_hash,
				}),
				|v| {
					format!(
						"{} at {}: runtime {} v{} (transactions v{}), best #{}, finalized #{} ({})",
						v["genesisHash"].as_str().unwrap_or_default(),
						v["url"].as_str().unwrap_or_default(),
						v["runtime"].as_str().unwrap_or_default(),
						v["specVersion"],
						v["transactionVersion"],
						v["bestBlock"],
						v["finalizedBlock"],
						v["finalizedHash"].as_str().unwrap_or_default(),
					)
				},
			);
			Ok(())
		}
		Command::Participant(cmd) => match cmd {
			ParticipantCmd::Register { account: who, role, code, name } => {
				let role = match role {
					Role::Issuer => ParticipantRole::Issuer,
					Role::Acquirer => ParticipantRole::Acquirer,
				};
				let call = calls::register_participant(account("account", who)?, role, code, name)?;
				ctx.send(out, call).await
			}
			ParticipantCmd::Suspend { account: who } => {
				ctx.send(out, calls::suspend_participant(account("account", who)?)).await
			}
			ParticipantCmd::Reinstate { account: who } => {
				ctx.send(out, calls::reinstate_participant(account("account", who)?)).await
			}
			ParticipantCmd::Deregister { account: who } => {
				ctx.send(out, calls::deregister_participant(account("account", who)?)).await
			}
			ParticipantCmd::Show { account: who } => {
				let who = account("account", who)?;
				let found = queries::participant(conn, &who, None).await?;
				let found =
					found.ok_or_else(|| Failure::not_found(format!("no participant {who}")))?;
				out.value(&found, output::participant_text);
				Ok(())
			}
		},
		Command::Limit { account: who, currency, amount } => {
			let call = calls::set_debit_limit(
				account("account", who)?,
				calls::currency("currency", currency)?,
				calls::amount("amount", amount)?,
			);
			ctx.send(out, call).await
		}
		Command::Fund(t) | Command::Withdraw(t) => {
			let (who, currency, amount) = (
				account("account", &t.account)?,
				calls::currency("currency", &t.currency)?,
				calls::amount("amount", &t.amount)?,
			);
			let call = match &ctx.cli.command {
				Command::Fund(_) => calls::fund(who, currency, amount, &t.reference)?,
				_ => calls::withdraw(who, currency, amount, &t.reference)?,
			};
			ctx.send(out, call).await
		}
		Command::SetClearingBank { account: who } => {
			let call = calls::sudo(calls::set_clearing_bank(account("account", who)?));
			ctx.send(out, call).await
		}
		Command::Fx(cmd) => fx(&ctx, out, cmd).await,
		Command::Quote { amount, source, target, exact_target } => {
			let side = if *exact_target { QuoteSide::ExactTarget } else { QuoteSide::ExactSource };
			let quote = queries::quote(
				conn,
				calls::currency("source", source)?,
				calls::currency("target", target)?,
				calls::amount("amount", amount)?,
				side,
				None,
			)
			.await?;
			out.value(&quote, output::quote_text);
			Ok(())
		}
		Command::Payment(cmd) => payment(&ctx, out, cmd).await,
		Command::Cycle(cmd) => match cmd {
			CycleCmd::Close => ctx.send(out, calls::close_cycle()).await,
			CycleCmd::Settle { cycle, reference } => {
				ctx.send(out, calls::settle_cycle(*cycle, reference)?).await
			}
			CycleCmd::Show { cycle } => {
				let found = queries::cycle(conn, *cycle, None).await?;
				let found =
					found.ok_or_else(|| Failure::not_found(format!("no cycle {cycle:?}")))?;
				out.value(&found, output::cycle_text);
				Ok(())
			}
		},
		Command::Statement { cycle, account: who, format } => {
			let who = account("account", who)?;
			let statement = queries::statement(conn, *cycle, &who, None)
				.await?
				.ok_or_else(|| Failure::not_found(format!("no cycle {cycle}")))?;
			match format {
				StatementFormat::Json => {
					// A statement is a document: JSON whatever `--json` says.
					out.document(&serde_json::to_value(&statement).map_err(Failure::internal)?);
				}
				StatementFormat::Camt053 => {
					let participant = queries::participant(conn, &who, None)
						.await?
						.ok_or_else(|| Failure::not_found(format!("no participant {who}")))?;
					let mut decimals = BTreeMap::new();
					for c in camt053::currencies(&statement) {
						if let Some(info) = queries::currency(conn, c).await? {
							decimals.insert(c, info.minor_units);
						}
					}
					let now = chrono::Utc::now().timestamp_millis() as u64;
					print!("{}", camt053::statement_xml(&statement, &participant, &decimals, now)?);
				}
			}
			Ok(())
		}
		Command::Transfer { to, amount } => {
			let call = calls::transfer(account("to", to)?, calls::amount("amount", amount)?);
			ctx.send(out, call).await
		}
		Command::Balance { account: who } => {
			let who = account("account", who)?;
			let info = queries::native_account(conn, &who, None).await?;
			let value = serde_json::json!({
				"account": who,
				"nonce": info.nonce,
				"free": info.data.free.to_string(),
				"reserved": info.data.reserved.to_string(),
				"frozen": info.data.frozen.to_string(),
			});
			out.value(&value, |v| {
				format!(
					"{}: free {}, reserved {}, nonce {}",
					v["account"].as_str().unwrap_or_default(),
					v["free"].as_str().unwrap_or_default(),
					v["reserved"].as_str().unwrap_or_default(),
					v["nonce"]
				)
			});
			Ok(())
		}
		Command::Watch { from, participant, all, to } => {
			let filter = match (participant, all) {
				(Some(p), _) => EventFilter::Participant(account("participant", p)?),
				(None, true) => EventFilter::All,
				(None, false) => EventFilter::Clearing,
			};
			let from = match from {
				Some(n) => *n,
				None => conn.finalized().await?.0 + 1,
			};
			out.progress_line(&format!("watching finalized blocks from #{from}"));
			let mut stream = Box::pin(finalized_events(conn.clone(), from, filter));
			while let Some(item) = stream.next().await {
				match item {
					Ok(block) => {
						for event in &block.events {
							out.event(event);
						}
						if to.is_some_and(|to| block.number >= to) {
							break;
						}
					}
					Err(e) => out.progress_line(&format!("warning: {e}; retrying")),
				}
			}
			Ok(())
		}
		Command::Tx(TxCmd::Resolve { pending, wait }) => {
			let text = read_input(pending)?;
			let value: serde_json::Value = serde_json::from_str(&text)
				.map_err(|e| Failure::usage(format!("not a pending transaction: {e}")))?;
			// Either the pending transaction itself or the whole `unknown` report.
			let tx: PendingTx =
				serde_json::from_value(value.get("pending").unwrap_or(&value).clone())
					.map_err(|e| Failure::usage(format!("not a pending transaction: {e}")))?;
			out.progress_line(&format!(
				"searching blocks #{}..#{} for {:?}",
				tx.birth + 1,
				tx.death,
				tx.hash
			));
			let report = resolve(conn, &tx, *wait).await;
			out.report(&report, None)
		}
	}
}

async fn fx(ctx: &Ctx, out: &Out, cmd: &FxCmd) -> Result<(), Failure> {
	let call = match cmd {
		FxCmd::Currency { code, numeric, minor_units } => {
			calls::register_currency(calls::currency("code", code)?, *numeric, *minor_units)
		}
		FxCmd::Pair {
			pair,
			max_spread_ppm,
			max_validity_ms,
			grace_ms,
			min_feeds,
			max_deviation_ppm,
		} => calls::configure_pair(
			calls::pair(pair)?,
			PairLimits {
				max_spread: calls::ppm("max spread", *max_spread_ppm)?,
				max_validity: *max_validity_ms,
				grace_period: *grace_ms,
				min_feeds: *min_feeds,
				max_deviation: calls::ppm("max deviation", *max_deviation_ppm)?,
			},
		),
		FxCmd::Enable { pair } => calls::set_pair_enabled(calls::pair(pair)?, true),
		FxCmd::Disable { pair } => calls::set_pair_enabled(calls::pair(pair)?, false),
		FxCmd::AddFeeder { pair, account: who } => {
			calls::add_feeder(calls::pair(pair)?, account("account", who)?)
		}
		FxCmd::RemoveFeeder { pair, account: who } => {
			calls::remove_feeder(calls::pair(pair)?, account("account", who)?)
		}
		FxCmd::Publish { pair, mid, spread_ppm, valid_for_ms } => calls::publish_rate(
			calls::pair(pair)?,
			calls::amount("mid", mid)?,
			calls::ppm("spread", *spread_ppm)?,
			*valid_for_ms,
		),
		FxCmd::ForcePublish { pair, mid, spread_ppm, valid_for_ms } => calls::force_publish_rate(
			calls::pair(pair)?,
			calls::amount("mid", mid)?,
			calls::ppm("spread", *spread_ppm)?,
			*valid_for_ms,
		),
		FxCmd::Feed(args) => return feed(ctx, out, args).await,
		FxCmd::Rate { pair, id } => {
			let rate = match (pair, id) {
				(_, Some(id)) => queries::rate_by_id(&ctx.conn, *id, None)
					.await?
					.ok_or_else(|| Failure::not_found(format!("no rate {id}")))?,
				(Some(pair), None) => queries::rate(&ctx.conn, calls::pair(pair)?, None).await?,
				(None, None) => return Err(Failure::usage("give a pair or --id")),
			};
			out.value(&rate, output::rate_text);
			return Ok(());
		}
	};
	ctx.send(out, call).await
}

/// `fx feed`: runs the feeder until SIGINT or SIGTERM.
async fn feed(ctx: &Ctx, out: &Out, a: &FeedArgs) -> Result<(), Failure> {
	use clearline_client::feeder::{FeedOptions, Feeder, MidSource};
	let source = match (&a.mid, &a.mid_file, &a.mid_url) {
		(Some(mid), _, _) => MidSource::Fixed(calls::amount("mid", mid)?),
		(_, Some(path), _) => MidSource::File(path.clone()),
		(_, _, Some(url)) => MidSource::Http { url: url.clone(), pointer: a.mid_pointer.clone() },
		_ => return Err(Failure::usage("give --mid, --mid-file or --mid-url")),
	};
	let options = FeedOptions {
		pair: calls::pair(&a.pair)?,
		source,
		spread: calls::ppm("spread", a.spread_ppm)?,
		valid_for: a.valid_for,
		refresh_before: a.refresh_before,
		min_change: calls::ppm("min change", a.min_change_ppm)?,
		poll: a.poll,
	};
	if options.refresh_before >= options.valid_for {
		return Err(Failure::usage("--refresh-before must be shorter than --valid-for"));
	}
	// The feeder follows each publication itself; no per-transaction progress lines.
	let quiet = Out { json: out.json, quiet: true };
	let feeder = Feeder::new(ctx.sender(&quiet)?, options);
	let log = |line: &str| {
		println!("{} {line}", chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"));
	};
	let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
		.map_err(Failure::internal)?;
	tokio::select! {
		result = feeder.run(log) => result.map_err(|e| Failure { code: 1, message: e.to_string() }),
		_ = tokio::signal::ctrl_c() => { log("stopped (SIGINT)"); Ok(()) }
		_ = terminate.recv() => { log("stopped (SIGTERM)"); Ok(()) }
	}
}

async fn payment(ctx: &Ctx, out: &Out, cmd: &PaymentCmd) -> Result<(), Failure> {
	let conn = &ctx.conn;
	match cmd {
		PaymentCmd::Sign(a) => {
			let issuer = ctx.signer()?;
			let debit_currency = calls::currency("debit currency", &a.debit_currency)?;
			let credit_currency = calls::currency("credit currency", &a.credit_currency)?;
			let credit_amount = calls::amount("credit amount", &a.credit_amount)?;
			let (debit_amount, rate_id) = match (&a.debit_amount, a.rate_id) {
				(Some(amount), Some(rate)) => (calls::amount("debit amount", amount)?, rate),
				_ => {
					let q = queries::quote(
						conn,
						debit_currency,
						credit_currency,
						credit_amount,
						QuoteSide::ExactTarget,
						None,
					)
					.await?;
					(q.source_amount.0, q.rate_id)
				}
			};
			let id = |field, text: &str| calls::order_id(field, text);
			let instruction = PaymentInstruction {
				issuer: issuer.account_id(),
				acquirer: account("acquirer", &a.acquirer)?,
				acquirer_order_id: id("order", &a.order)?,
				issuer_order_id: id(
					"issuer order",
					&a.issuer_order.clone().unwrap_or_else(|| format!("ISS-{}", a.order)),
				)?,
				aggregator_order_id: id(
					"aggregator order",
					&a.aggregator_order.clone().unwrap_or_else(|| format!("AGG-{}", a.order)),
				)?,
				merchant_id: id("merchant", &a.merchant)?,
				scenario: match a.scenario {
					ScenarioArg::CustomerPresented => Scenario::CustomerPresented,
					ScenarioArg::DynamicQr => Scenario::DynamicQr,
					ScenarioArg::StaticQr => Scenario::StaticQr,
					ScenarioArg::InApp => Scenario::InApp,
				},
				debit_currency,
				debit_amount,
				credit_currency,
				credit_amount,
				rate_id,
				expires_at: instruction::expires_in(a.expires_in.into()),
			};
			let signed = SignedInstruction::sign(&issuer, &conn.chain_context(), &instruction);
			out.document(&serde_json::to_value(&signed).map_err(Failure::internal)?);
			Ok(())
		}
		PaymentCmd::Post { signed } => {
			let text = read_input(signed)?;
			let value: serde_json::Value = serde_json::from_str(&text)
				.map_err(|e| Failure::usage(format!("not JSON: {e}")))?;
			if value.is_array() {
				let batch: Vec<SignedInstruction> = serde_json::from_value(value).map_err(|e| {
					Failure::usage(format!("not a list of signed instructions: {e}"))
				})?;
				let sender = ctx.sender(out)?;
				return out.batch(&post_batch(&sender, &batch).await?);
			}
			let signed: SignedInstruction = serde_json::from_value(value)
				.map_err(|e| Failure::usage(format!("not a signed instruction: {e}")))?;
			let sender = ctx.sender(out)?;
			match post_once(&sender, &signed).await? {
				PostResult::AlreadyPosted(posting) => {
					out.already_posted(&posting);
					Ok(())
				}
				PostResult::Sent(report) => {
					let posting = match &report.result {
						clearline_client::TxResult::Finalized { block, .. } => queries::posting(
							conn,
							&sender.account(),
							&signed.acquirer_order_id,
							Some(*block),
						)
						.await
						.ok()
						.flatten(),
						_ => None,
					};
					out.report(&report, posting.as_ref())
				}
			}
		}
		PaymentCmd::Void { issuer_order } => {
			let sender = ctx.sender(out)?;
			let report = sender.send(calls::void_instruction(issuer_order)?).await?;
			if let clearline_client::TxResult::Finalized {
				outcome: clearline_client::Outcome::Failed { error, .. },
				block,
				..
			} = &report.result
			{
				if error.ends_with("AlreadyPosted)") {
					// The chain cannot name the posting in its error; its state can.
					let posting =
						queries::posting(conn, &sender.account(), issuer_order, Some(*block))
							.await?;
					return out.report(&report, posting.as_ref()).map_err(|mut failure| {
						if let Some(p) = &posting {
							failure.message = format!(
								"{}: {issuer_order} is posted already as posting {} (acquirer \
								 order {})",
								failure.message, p.posting_id, p.acquirer_order_id
							);
						}
						failure
					});
				}
			}
			out.report(&report, None)
		}
		PaymentCmd::Refund { order, refund_id, amount } => {
			let call = calls::refund(order, refund_id, calls::amount("amount", amount)?)?;
			ctx.send(out, call).await
		}
		PaymentCmd::Show { order, party, id } => {
			let found = match (order, party, id) {
				(_, _, Some(id)) => {
					queries::posting_by_id(conn, *id, None).await?.map(PostingLookupJson::Posted)
				}
				(Some(order), Some(party), None) => {
					queries::instruction(conn, &account("party", party)?, order, None).await?
				}
				_ => return Err(Failure::usage("give an order id with --party, or --id")),
			};
			match found.ok_or_else(|| Failure::not_found("no such posting".to_string()))? {
				PostingLookupJson::Posted(p) => out.value(&p, output::posting_text),
				PostingLookupJson::Voided(v) => out.value(&v, output::void_text),
			}
			Ok(())
		}
	}
}

impl From<Error> for Failure {
	fn from(e: Error) -> Self {
		let code = match &e {
			Error::InvalidInput { .. } | Error::InvalidKey(_) => 2,
			e if e.is_connection() => 5,
			_ => 1,
		};
		Failure { code, message: e.to_string() }
	}
}
