//! The invariant check every fault test ends with, read from the services' own stores (read
//! only), the aggregator's inbox and the finalized chain:
//! - every order is final on both sides, and both sides agree on each order's end;
//! - wallet debits minus reversals equal the issuer's debits on chain, and successful
//!   acquirer orders equal its credits on chain, posting by posting;
//! - no order, posting or notification is lost or duplicated, and no payment is both posted
//!   and reversed;
//! - every refund is final; each successful one is on chain with the same amounts, credited
//!   to its wallet exactly once at the chain's figure, and an order's refunds never exceed it;
//!   a failed one moved nothing;
//! - once the clearing bank closes the cycle, both services' digests equal the chain's.

use super::{ss58, Net};
use clearline_client::{calls, queries};
use clearline_testkit::wait_for;
use pallet_fx_rate::CurrencyCode;
use serde_json::Value;
use sqlx::{any::AnyRow, AnyPool, Row};
use std::{
	collections::{BTreeMap, BTreeSet},
	time::Duration,
};

/// The settlement accounts before the test's payments.
pub struct Baseline {
	bob_hkd: i128,
	dave_cny: i128,
}

impl Baseline {
	pub async fn take(net: &Net) -> Self {
		Self {
			bob_hkd: net.chain_balance("//Bob", CurrencyCode::HKD).await,
			dave_cny: net.chain_balance("//Dave", CurrencyCode::CNY).await,
		}
	}
}

/// What the audit found, for the test's report.
#[derive(Debug)]
pub struct Tally {
	pub orders: usize,
	pub succeeded: usize,
	pub failed: usize,
	/// Orders the issuer debited and then reversed.
	pub reversed: usize,
	pub hkd: i64,
	pub cny: i64,
	/// Successful refunds, and what they gave back.
	pub refunds: usize,
	pub refunded_hkd: i64,
	pub refunded_cny: i64,
	pub deliveries: usize,
	pub cycle: u32,
}

/// A service's store, as the test sees it: a SQLite file opened read only (the service keeps
/// writing it), or the service's PostgreSQL database.
pub async fn open(database: &str) -> AnyPool {
	sqlx::any::install_default_drivers();
	let url = if database.contains("://") {
		database.to_string()
	} else {
		format!("sqlite://{database}?mode=ro")
	};
	// No idle reaper (sqlx issue 3645: it can spin a core and hang the runtime's shutdown).
	sqlx::pool::PoolOptions::new()
		.max_connections(1)
		.idle_timeout(None)
		.max_lifetime(None)
		.connect(&url)
		.await
		.unwrap_or_else(|e| panic!("opening {database}: {e}"))
}

async fn rows<T>(db: &AnyPool, sql: &str, f: impl Fn(&AnyRow) -> Result<T, sqlx::Error>) -> Vec<T> {
	let found = sqlx::query(sql).fetch_all(db).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
	found.iter().map(|r| f(r).unwrap_or_else(|e| panic!("{sql}: {e}"))).collect()
}

/// The one number `sql` selects, with `$1` bound to `param`.
pub async fn count_with(db: &AnyPool, sql: &str, param: &str) -> i64 {
	let row = sqlx::query(sql).bind(param).fetch_one(db).await;
	row.and_then(|r| r.try_get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

async fn count(db: &AnyPool, sql: &str) -> i64 {
	let row = sqlx::query(sql).fetch_one(db).await;
	row.and_then(|r| r.try_get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Asks a service to reconcile now (`POST /v1/admin/reconcile` on its admin listener at
/// `url`); its answer is not needed, the store records the outcome.
async fn reconcile(net: &Net, url: &str) {
	let _ =
		net.http.post(format!("{url}/v1/admin/reconcile")).bearer_auth(super::ADMIN).send().await;
}

/// Orders neither side has finished, and failures the acquirer has not heard of.
const ISSUER_OPEN: &str =
	"SELECT COUNT(*) FROM orders WHERE status IN ('RECEIVED', 'DEBITED', 'UNKNOWN')
	OR (status IN ('REJECTED', 'FAILED') AND acquirer_informed = 0)";
const ACQUIRER_OPEN: &str =
	"SELECT COUNT(*) FROM orders WHERE status IN ('DEBIT_REQUESTED', 'POSTING', 'UNKNOWN')";
const UNDELIVERED: &str =
	"SELECT COUNT(*) FROM outbox WHERE kind <> 'DEBIT_REQUEST' AND status <> 'DELIVERED'";
const REFUNDS_OPEN: &str = "SELECT COUNT(*) FROM refunds WHERE status = 'PROCESSING'";
/// Cancelled payments that posted and are not yet refunded in full, nor being refunded.
const CANCELS_OPEN: &str = "SELECT COUNT(*) FROM orders o WHERE o.cancel_requested_at IS NOT NULL
	AND o.status = 'SUCCESS' AND (SELECT COALESCE(SUM(r.amount), 0) FROM refunds r
	WHERE r.order_id = o.order_id AND r.status <> 'FAILED') < o.amount";

struct AcquirerOrder {
	id: String,
	status: String,
	amount: i64,
	posting_id: Option<i64>,
	cycle: Option<i64>,
}

struct IssuerOrder {
	id: String,
	acquirer_order_id: String,
	status: String,
	debit_amount: Option<i64>,
	posting_id: Option<i64>,
}

/// Waits (reconciling) until every order is final on both sides and every notification
/// delivered.
pub async fn settle(net: &Net, timeout: Duration) {
	wait_for(timeout, "every order final and every notification delivered", || async {
		for url in [&net.issuer_admin_url, &net.acquirer_admin_url] {
			reconcile(net, url).await;
		}
		let (i, a) = (open(&net.issuer_db).await, open(&net.acquirer_db).await);
		// What owes messages is read before the messages: a refund or order that ends between
		// the reads has queued its messages by the time they are counted.
		let open_orders = (
			count(&i, ISSUER_OPEN).await,
			count(&a, ACQUIRER_OPEN).await,
			count(&a, REFUNDS_OPEN).await,
			count(&a, CANCELS_OPEN).await,
		);
		let undelivered = count(&a, UNDELIVERED).await;
		(i.close().await, a.close().await);
		(open_orders == (0, 0, 0, 0) && undelivered == 0).then_some(())
	})
	.await;
}

/// [`settle`]s, then checks every invariant; panics naming the first that fails.
pub async fn audit(net: &Net, before: &Baseline, timeout: Duration) -> Tally {
	settle(net, timeout).await;
	let (i, a) = (open(&net.issuer_db).await, open(&net.acquirer_db).await);
	let acquirer: Vec<AcquirerOrder> = rows(
		&a,
		"SELECT order_id, status, amount, posting_id, cycle FROM orders ORDER BY order_id",
		|r| {
			Ok(AcquirerOrder {
				id: r.try_get(0)?,
				status: r.try_get(1)?,
				amount: r.try_get(2)?,
				posting_id: r.try_get(3)?,
				cycle: r.try_get(4)?,
			})
		},
	)
	.await;
	let issuer: BTreeMap<String, IssuerOrder> = rows(
		&i,
		"SELECT issuer_order_id, acquirer_order_id, status, debit_amount, posting_id FROM orders",
		|r| {
			Ok(IssuerOrder {
				id: r.try_get(0)?,
				acquirer_order_id: r.try_get(1)?,
				status: r.try_get(2)?,
				debit_amount: r.try_get(3)?,
				posting_id: r.try_get(4)?,
			})
		},
	)
	.await
	.into_iter()
	.map(|o| (o.acquirer_order_id.clone(), o))
	.collect();
	let known: BTreeSet<&str> = acquirer.iter().map(|o| o.id.as_str()).collect();
	for o in issuer.values() {
		assert!(
			known.contains(o.acquirer_order_id.as_str()),
			"issuer order {} has no acquirer order",
			o.id
		);
	}

	// Wallet ledger: each debit once, each reversal once and only of a failed debit.
	let entries: Vec<(String, String, i64)> =
		rows(&i, "SELECT kind, reference, amount FROM wallet_entries", |r| {
			Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?))
		})
		.await;
	let entry = |kind: &str, reference: &str| {
		entries.iter().filter(|(k, r, _)| k == kind && r == reference).map(|e| e.2).sum::<i64>()
	};
	let wallets = rows(&i, "SELECT wallet_id, balance FROM wallets", |r| {
		Ok((r.try_get::<String, _>(0)?, r.try_get::<i64, _>(1)?))
	})
	.await;
	for (wallet, balance) in wallets {
		let booked = count_with(
			&i,
			"SELECT CAST(COALESCE(SUM(amount), 0) AS BIGINT) FROM wallet_entries WHERE wallet_id = $1",
			&wallet,
		)
		.await;
		assert_eq!(balance, booked, "wallet {wallet}: balance is not the sum of its entries");
	}

	let dave = calls::account("acquirer", &ss58("//Dave")).unwrap();
	let (_, head) = net.conn.finalized().await.unwrap();
	let mut tally = Tally {
		orders: acquirer.len(),
		succeeded: 0,
		failed: 0,
		reversed: 0,
		hkd: 0,
		cny: 0,
		refunds: 0,
		refunded_hkd: 0,
		refunded_cny: 0,
		deliveries: net.inbox.heard().deliveries.len(),
		cycle: 0,
	};
	let mut cycles = BTreeSet::new();
	for o in &acquirer {
		let posting = queries::posting(&net.conn, &dave, &o.id, Some(head)).await.unwrap();
		let mine = issuer.get(&o.id);
		match o.status.as_str() {
			"SUCCESS" => {
				let p = posting
					.unwrap_or_else(|| panic!("{}: SUCCESS without a posting on chain", o.id));
				let mine =
					mine.unwrap_or_else(|| panic!("{}: SUCCESS unknown to the issuer", o.id));
				assert_eq!(mine.status, "SUCCESS", "{}: the issuer says {}", o.id, mine.status);
				assert_eq!(
					o.posting_id,
					Some(p.posting_id as i64),
					"{}: acquirer's posting id",
					o.id
				);
				assert_eq!(
					mine.posting_id,
					Some(p.posting_id as i64),
					"{}: issuer's posting id",
					o.id
				);
				assert_eq!(p.credit_amount.0 as i64, o.amount, "{}: credit on chain", o.id);
				let debit = mine.debit_amount.expect("a debited order has its amount");
				assert_eq!(p.debit_amount.0 as i64, debit, "{}: debit on chain", o.id);
				assert_eq!(entry("DEBIT", &mine.id), -debit, "{}: one wallet debit", o.id);
				assert_eq!(entry("REVERSAL", &mine.id), 0, "{}: reversed though posted", o.id);
				tally.succeeded += 1;
				tally.hkd += debit;
				tally.cny += o.amount;
				cycles.insert(o.cycle.expect("a posted order has its cycle") as u32);
			}
			"FAILED" => {
				assert!(posting.is_none(), "{}: FAILED but posted on chain", o.id);
				if let Some(mine) = mine {
					assert!(
						matches!(mine.status.as_str(), "FAILED" | "REJECTED"),
						"{}: the acquirer failed it, the issuer says {}",
						o.id,
						mine.status
					);
					let (debit, reversal) = (entry("DEBIT", &mine.id), entry("REVERSAL", &mine.id));
					assert_eq!(debit + reversal, 0, "{}: debited and not reversed exactly", o.id);
					if debit != 0 {
						tally.reversed += 1;
					}
				}
				tally.failed += 1;
			}
			other => panic!("{}: {other} after reconciliation", o.id),
		}
	}

	// No payment both posted and reversed, looked up by the issuer's own order id.
	let bob = calls::account("issuer", &ss58("//Bob")).unwrap();
	for o in issuer.values() {
		if entry("REVERSAL", &o.id) != 0 {
			let posting = queries::posting(&net.conn, &bob, &o.id, Some(head)).await.unwrap();
			assert!(posting.is_none(), "{}: reversed, and posted on chain as {posting:?}", o.id);
		}
	}

	// Money: the wallets, the issuer's account and the acquirer's account moved together.
	let wallets_paid: i64 = -entries
		.iter()
		.filter(|(k, _, _)| k == "DEBIT" || k == "REVERSAL")
		.map(|e| e.2)
		.sum::<i64>();
	assert_eq!(wallets_paid, tally.hkd, "wallet debits minus reversals = the issuer's successes");
	let refunds = audit_refunds(net, &a, &i, &acquirer, &entry, head).await;
	for r in refunds.iter().filter(|r| r.status == "SUCCESS") {
		tally.refunds += 1;
		tally.refunded_hkd += r.debit_amount.unwrap_or_default();
		tally.refunded_cny += r.amount;
		cycles.insert(r.cycle.expect("a settled refund has its cycle") as u32);
	}
	let wallets_refunded: i64 =
		entries.iter().filter(|(k, _, _)| k == "REFUND").map(|e| e.2).sum::<i64>();
	assert_eq!(wallets_refunded, tally.refunded_hkd, "wallet refunds = the successful refunds");
	assert_eq!(
		net.chain_balance("//Bob", CurrencyCode::HKD).await,
		before.bob_hkd - tally.hkd as i128 + tally.refunded_hkd as i128,
		"the issuer's HKD on chain moved by exactly the wallets' net debits and refunds"
	);
	assert_eq!(
		net.chain_balance("//Dave", CurrencyCode::CNY).await,
		before.dave_cny + tally.cny as i128 - tally.refunded_cny as i128,
		"the acquirer's CNY on chain moved by exactly its successful orders and refunds"
	);

	// Notifications: one applied per final order, saying what the order says; none
	// contradicting.
	{
		let heard = net.inbox.heard();
		assert!(heard.conflicts.is_empty(), "contradicting notifications: {:?}", heard.conflicts);
		for o in &acquirer {
			let n = heard
				.applied
				.get(&o.id)
				.map(|a| &a.notification)
				.unwrap_or_else(|| panic!("{}: no notification reached the aggregator", o.id));
			assert_eq!(n.status, o.status, "{}: notified {}", o.id, n.status);
		}
		for r in &refunds {
			let n = heard
				.applied
				.get(&format!("{}/{}", r.order_id, r.id))
				.and_then(|a| a.notification.refund.as_ref())
				.unwrap_or_else(|| {
					panic!("refund {}: no notification reached the aggregator", r.id)
				});
			assert_eq!(n.status, r.status, "refund {}: notified {}", r.id, n.status);
		}
		assert_eq!(
			heard.applied.len(),
			acquirer.len() + refunds.len(),
			"notifications for unknown orders or refunds"
		);
	}

	// The cycle: the clearing bank closes it; both services reconcile it with the chain.
	assert!(cycles.len() <= 1, "postings across cycles {cycles:?}: nobody closed one");
	if let Some(&cycle) = cycles.first() {
		net.sudo_tx("//Charlie", calls::close_cycle()).await;
		tally.cycle = cycle;
		for (db, url, who) in [
			(&net.issuer_db, &net.issuer_admin_url, "issuer"),
			(&net.acquirer_db, &net.acquirer_admin_url, "acquirer"),
		] {
			let report = wait_for(
				Duration::from_secs(60),
				&format!("{who} reconciles cycle {cycle}"),
				|| async {
					reconcile(net, url).await;
					let db = open(db).await;
					let row =
						sqlx::query("SELECT report FROM cycle_reconciliations WHERE cycle = $1")
							.bind(cycle as i64)
							.fetch_optional(&db)
							.await
							.unwrap();
					db.close().await;
					let text: Option<String> = row.map(|r| r.try_get(0).unwrap());
					text.map(|t| serde_json::from_str::<Value>(&t).unwrap())
				},
			)
			.await;
			assert_eq!(report["ok"], true, "{who}: {report}");
			assert_eq!(report["chainEntries"], tally.succeeded + tally.refunds, "{who}: {report}");
			assert_eq!(report["localDigest"], report["chainDigest"], "{who}: {report}");
		}
	}
	tally
}

struct AcquirerRefund {
	id: String,
	order_id: String,
	amount: i64,
	status: String,
	debit_amount: Option<i64>,
	cycle: Option<i64>,
}

/// Every refund final; a successful one on chain as recorded, credited to its wallet once at
/// the chain's figure; a failed one nowhere; no order refunded beyond its amount; the issuer
/// credited nothing the acquirer did not refund. The acquirer's refunds.
async fn audit_refunds(
	net: &Net,
	a: &AnyPool,
	i: &AnyPool,
	orders: &[AcquirerOrder],
	entry: &impl Fn(&str, &str) -> i64,
	head: sp_core::H256,
) -> Vec<AcquirerRefund> {
	let refunds: Vec<AcquirerRefund> = rows(
		a,
		"SELECT refund_id, order_id, amount, status, debit_amount, cycle FROM refunds",
		|r| {
			Ok(AcquirerRefund {
				id: r.try_get(0)?,
				order_id: r.try_get(1)?,
				amount: r.try_get(2)?,
				status: r.try_get(3)?,
				debit_amount: r.try_get(4)?,
				cycle: r.try_get(5)?,
			})
		},
	)
	.await;
	let credited: BTreeMap<String, i64> =
		rows(i, "SELECT refund_id, debit_amount FROM refunds", |r| {
			Ok((r.try_get(0)?, r.try_get(1)?))
		})
		.await
		.into_iter()
		.collect();
	let dave = calls::account("acquirer", &ss58("//Dave")).unwrap();
	let mut refunded: BTreeMap<&str, i64> = BTreeMap::new();
	for r in &refunds {
		let on_chain = queries::refund(&net.conn, &dave, &r.id, Some(head)).await.unwrap();
		match r.status.as_str() {
			"SUCCESS" => {
				let c =
					on_chain.unwrap_or_else(|| panic!("refund {}: SUCCESS, not on chain", r.id));
				assert_eq!(c.credit_amount.0 as i64, r.amount, "refund {}: amount on chain", r.id);
				let debit = r.debit_amount.expect("a settled refund has its HKD");
				assert_eq!(c.debit_amount.0 as i64, debit, "refund {}: HKD on chain", r.id);
				assert_eq!(credited.get(&r.id), Some(&debit), "refund {}: issuer's credit", r.id);
				assert_eq!(entry("REFUND", &r.id), debit, "refund {}: one wallet credit", r.id);
				*refunded.entry(&r.order_id).or_default() += r.amount;
			}
			"FAILED" => {
				assert!(on_chain.is_none(), "refund {}: FAILED, on chain", r.id);
				assert!(!credited.contains_key(&r.id), "refund {}: FAILED, credited", r.id);
			}
			other => panic!("refund {}: {other} after reconciliation", r.id),
		}
	}
	for id in credited.keys() {
		assert!(refunds.iter().any(|r| &r.id == id), "the issuer credited an unknown refund {id}");
	}
	for (order_id, total) in refunded {
		let o = orders.iter().find(|o| o.id == order_id).expect("a refund's order");
		assert!(total <= o.amount, "{order_id}: refunded {total} of {}", o.amount);
		let p = queries::posting(&net.conn, &dave, order_id, Some(head)).await.unwrap().unwrap();
		assert_eq!(p.refunded_credit.0 as i64, total, "{order_id}: refunded on chain");
	}
	refunds
}
