//! Crash points for the fault-injection tests: named places in a payment where the process
//! can be made to die with SIGKILL, so that the tests crash a service exactly between two
//! steps (after the debit and before the bookkeeping call, say) instead of wherever a timer
//! happens to land. Compiled in only with the `failpoints` feature; release builds carry none.
//!
//! `CLEARLINE_CRASH_AT=point[,point…]` arms points at start-up. A build without the feature
//! refuses to start with it set, so that a test never passes against a binary that cannot
//! crash where it was told to.

/// The points, in the order a payment reaches them (a refund's are [`REFUND_POINTS`]).
pub const POINTS: &[&str] = &[
	ISSUER_BEFORE_DEBIT,
	ISSUER_AFTER_DEBIT,
	ISSUER_AFTER_BOOKKEEPING,
	ACQUIRER_BEFORE_SUBMIT,
	ACQUIRER_AFTER_SUBMIT,
	ACQUIRER_BEFORE_RECORD,
];
/// The quote is in hand; the wallet is not yet debited.
pub const ISSUER_BEFORE_DEBIT: &str = "issuer-before-debit";
/// Debited and signed in the store; the acquirer has not been called.
pub const ISSUER_AFTER_DEBIT: &str = "issuer-after-debit";
/// The acquirer answered the bookkeeping call; the issuer has not recorded the answer.
pub const ISSUER_AFTER_BOOKKEEPING: &str = "issuer-after-bookkeeping";
/// The order's batch is signed and stored; nothing submitted to the chain.
pub const ACQUIRER_BEFORE_SUBMIT: &str = "acquirer-before-submit";
/// The batch is submitted to the node's pool; not yet finalized.
pub const ACQUIRER_AFTER_SUBMIT: &str = "acquirer-after-submit";
/// The posting's finalized outcome is known; the acquirer has not recorded it.
pub const ACQUIRER_BEFORE_RECORD: &str = "acquirer-before-record";

/// The points a refund reaches, in order.
pub const REFUND_POINTS: &[&str] =
	&[ACQUIRER_REFUND_BEFORE_SUBMIT, ACQUIRER_REFUND_BEFORE_RECORD, ISSUER_AFTER_REFUND_CREDIT];
/// The refund's transaction is signed and stored with it; it is not submitted.
pub const ACQUIRER_REFUND_BEFORE_SUBMIT: &str = "acquirer-refund-before-submit";
/// The refund is in a finalized block; the acquirer has not recorded it.
pub const ACQUIRER_REFUND_BEFORE_RECORD: &str = "acquirer-refund-before-record";
/// The issuer credited the wallet; the acquirer's notice is not answered.
pub const ISSUER_AFTER_REFUND_CREDIT: &str = "issuer-after-refund-credit";

const VARIABLE: &str = "CLEARLINE_CRASH_AT";

/// Arms the points named in `CLEARLINE_CRASH_AT`.
pub fn arm_from_env() -> anyhow::Result<()> {
	let Ok(list) = std::env::var(VARIABLE) else { return Ok(()) };
	let points: Vec<&str> = list.split(',').map(str::trim).filter(|p| !p.is_empty()).collect();
	let known = |p: &&str| POINTS.contains(p) || REFUND_POINTS.contains(p);
	if let Some(unknown) = points.iter().find(|p| !known(p)) {
		let all = [POINTS, REFUND_POINTS].concat().join(", ");
		anyhow::bail!("{VARIABLE}: no crash point {unknown:?} (known: {all})");
	}
	arm(&points)
}

#[cfg(feature = "failpoints")]
fn arm(points: &[&str]) -> anyhow::Result<()> {
	for point in points {
		let name = point.to_string();
		fail::cfg_callback(*point, move || crash(&name)).map_err(anyhow::Error::msg)?;
		tracing::warn!(point, "crash point armed: this process SIGKILLs itself when it gets there");
	}
	Ok(())
}

#[cfg(not(feature = "failpoints"))]
fn arm(points: &[&str]) -> anyhow::Result<()> {
	if points.is_empty() {
		return Ok(());
	}
	anyhow::bail!("{VARIABLE} is set, but this build has no crash points (build with the `failpoints` feature)")
}

#[cfg(feature = "failpoints")]
fn crash(point: &str) {
	tracing::warn!(point, "crash point reached: SIGKILL");
	// SIGKILL, not exit or abort: nothing is flushed and no destructor runs, as in a power cut.
	unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
}

/// A crash point: nothing at all unless built with `failpoints` and armed.
#[macro_export]
macro_rules! crash_point {
	($name:expr) => {
		#[cfg(feature = "failpoints")]
		fail::fail_point!($name);
	};
}
