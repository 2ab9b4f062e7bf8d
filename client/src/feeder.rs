//! An FX feeder that keeps a pair's rate fresh: it reads a mid from its source and publishes it
//! before its latest publication goes stale, or sooner when the source moved. It runs until
//! stopped, survives a node or source that is away for a while (it retries, and says so), and
//! never publishes a mid it could not read.
//!
//! The chain refuses a feeder's mid outside the pair's deviation band (`RateOutOfBand`): a
//! market move that large needs the admin's `force_publish_rate`, and the feeder says so in
//! its log and leaves that mid for five minutes instead of paying for a refusal every poll.

use crate::{
	calls, connection::Connection, error::Error, queries, storage, tx::TxSender, Outcome, TxResult,
};
use clearline_runtime::AccountId;
use pallet_fx_rate::{FeederStatus, Moment, Pair, PairConfig, RateId, RATE_SCALE};
use sp_runtime::Permill;
use std::{path::PathBuf, time::Duration};

/// Where the feeder reads the mid rate.
#[derive(Debug, Clone)]
pub enum MidSource {
	/// A fixed mid, scaled by 10^9 (a development chain's).
	Fixed(u128),
	/// A file holding the rate as decimal text (`0.9213`), read again at every poll.
	File(PathBuf),
	/// An HTTP(S) endpoint answering JSON, the rate at `pointer` (RFC 6901, `/rates/CNY`), as a
	/// decimal string (`"0.9213"`) or a whole number. A JSON number with a fraction is refused:
	/// it would be read through a float.
	Http { url: String, pointer: String },
}

/// How the feeder publishes.
#[derive(Debug, Clone)]
pub struct FeedOptions {
	pub pair: Pair,
	pub source: MidSource,
	pub spread: Permill,
	/// How long each publication is valid; at most the pair's `max_validity`.
	pub valid_for: Duration,
	/// Publish again once the latest publication has less than this left.
	pub refresh_before: Duration,
	/// Publish again when the source moved at least this far from the latest publication
	/// (zero: only to refresh).
	pub min_change: Permill,
	/// How often the chain and the source are read.
	pub poll: Duration,
}

/// Why the feeder cannot go on: configuration the chain will never accept.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
	#[error("the pair {0:?} is not configured on this chain")]
	UnknownPair(Pair),
	#[error("{0} is not a feeder of {1:?}; the clearing bank adds feeders")]
	NotAFeeder(AccountId, Pair),
	#[error("{0}")]
	Client(#[from] Error),
}

/// What one round decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Round {
	/// Published `mid` as `rate_id`, valid until `valid_until`.
	Published { rate_id: Option<RateId>, mid: u128, valid_until: Moment },
	/// The latest publication holds: nothing to do.
	Fresh { rate_id: RateId, stale_in: Duration },
	/// Something failed; retried at the next poll.
	Failed(String),
}

/// Parses a decimal rate (`0.9213`, `7.1`, `1`) exactly into the chain's fixed point (10^9),
/// without floating point; at most nine decimals.
pub fn parse_decimal_rate(text: &str) -> Result<u128, String> {
	let text = text.trim();
	let (whole, fraction) = match text.split_once('.') {
		Some((whole, fraction)) => (whole, Some(fraction)),
		None => (text, None),
	};
	let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
	if !digits(whole) || !fraction.is_none_or(digits) {
		return Err(format!("{text:?} is not a decimal rate such as 0.9213"));
	}
	let fraction = fraction.unwrap_or("");
	if fraction.len() > 9 {
		return Err(format!("{text:?} has more than nine decimals"));
	}
	let scale = 10u128.pow(9 - fraction.len() as u32);
	let whole: u128 = whole.parse().map_err(|_| format!("{text:?} is too large"))?;
	let fraction: u128 = if fraction.is_empty() { 0 } else { fraction.parse().unwrap_or(0) };
	whole
		.checked_mul(RATE_SCALE)
		.and_then(|w| w.checked_add(fraction * scale))
		.filter(|m| *m > 0)
		.ok_or_else(|| format!("{text:?} is zero or too large"))
}

/// The mid a source gives now.
pub async fn read_mid(source: &MidSource, http: &reqwest::Client) -> Result<u128, String> {
	match source {
		MidSource::Fixed(mid) => Ok(*mid),
		MidSource::File(path) => {
			let file = path.clone();
			let text = tokio::task::spawn_blocking(move || std::fs::read_to_string(file))
				.await
				.map_err(|e| format!("{}: {e}", path.display()))?
				.map_err(|e| format!("{}: {e}", path.display()))?;
			parse_decimal_rate(&text).map_err(|e| format!("{}: {e}", path.display()))
		}
		MidSource::Http { url, pointer } => {
			let answer = http
				.get(url)
				.timeout(Duration::from_secs(10))
				.send()
				.await
				.and_then(|a| a.error_for_status())
				.map_err(|e| format!("{url}: {e}"))?;
			let body: serde_json::Value =
				answer.json().await.map_err(|e| format!("{url}: not JSON: {e}"))?;
			let value =
				body.pointer(pointer).ok_or_else(|| format!("{url}: no value at {pointer}"))?;
			match value {
				serde_json::Value::String(s) => parse_decimal_rate(s),
				serde_json::Value::Number(n) if n.is_u64() => parse_decimal_rate(&n.to_string()),
				other => Err(format!(
					"{url}: {pointer} is {other}; give the rate as a decimal string (\"0.9213\")"
				)),
			}
			.map_err(|e| format!("{url}: {e}"))
		}
	}
}

/// A pair's configuration, read from storage.
pub async fn pair_config(
	conn: &Connection,
	pair: Pair,
) -> crate::error::Result<Option<PairConfig>> {
	let key = pallet_fx_rate::Pairs::<clearline_runtime::Runtime>::hashed_key_for(pair);
	storage::decode_at(conn, "FxRate::Pairs", key, None).await
}

/// `who`'s standing as a feeder of `pair`, read from storage.
pub async fn feeder_status(
	conn: &Connection,
	pair: Pair,
	who: &AccountId,
) -> crate::error::Result<Option<FeederStatus>> {
	let key = pallet_fx_rate::Feeders::<clearline_runtime::Runtime>::hashed_key_for(pair, who);
	storage::decode_at(conn, "FxRate::Feeders", key, None).await
}

/// How long the feeder leaves a mid the chain refused as out of band before it offers the same
/// mid again: each refusal is a transaction with a fee, and only the admin or the other
/// feeders can change the band.
const OUT_OF_BAND_PAUSE: Duration = Duration::from_secs(300);

/// What the feeder remembers between rounds.
#[derive(Debug, Default)]
pub struct FeedState {
	/// When it last published.
	last_published: Option<std::time::Instant>,
	/// The mid the chain last refused as out of band, and when.
	out_of_band: Option<(u128, std::time::Instant)>,
}

/// The feeder: one [`Feeder::round`] per poll.
pub struct Feeder {
	sender: TxSender,
	options: FeedOptions,
	http: reqwest::Client,
}

impl Feeder {
	pub fn new(sender: TxSender, options: FeedOptions) -> Self {
		Self { sender, options, http: reqwest::Client::new() }
	}

	/// Runs rounds until the future is dropped; `log` gets one line per event worth telling.
	/// Returns only for what no retry can cure.
	pub async fn run(&self, log: impl Fn(&str)) -> Result<(), FeedError> {
		log(&format!(
			"feeding {}/{} as {} every {:?}",
			self.options.pair.base.as_str(),
			self.options.pair.quote.as_str(),
			self.sender.account(),
			self.options.poll
		));
		let mut state = FeedState::default();
		let mut last_fresh_line = None;
		loop {
			match self.round(&mut state).await? {
				Round::Published { rate_id, mid, valid_until } => {
					last_fresh_line = None;
					log(&format!(
						"published rate {} mid {mid} valid until {valid_until}",
						rate_id.map_or("?".into(), |id| id.to_string())
					));
				}
				Round::Fresh { rate_id, stale_in } => {
					// One line per rate, not per poll.
					if last_fresh_line != Some(rate_id) {
						log(&format!("rate {rate_id} is fresh for {}s more", stale_in.as_secs()));
						last_fresh_line = Some(rate_id);
					}
				}
				Round::Failed(reason) => {
					last_fresh_line = None;
					log(&format!(
						"not published: {reason}; trying again in {:?}",
						self.options.poll
					));
				}
			}
			tokio::time::sleep(self.options.poll).await;
		}
	}

	/// Reads the chain and the source once and publishes if the rate needs it: the feeder has
	/// no fresh publication that counts (none, stale soon, or older than the pair's latest
	/// admin rate, which supersedes it), or the source moved far enough and the last
	/// publication is at least `poll × 3` old (so that a jittery source cannot spend the
	/// hour's quota).
	pub async fn round(&self, state: &mut FeedState) -> Result<Round, FeedError> {
		let conn = self.sender.connection();
		let pair = self.options.pair;
		let me = self.sender.account();
		let config = match pair_config(conn, pair).await {
			Ok(Some(c)) => c,
			Ok(None) => return Err(FeedError::UnknownPair(pair)),
			Err(e) => return retry_or_stop(e),
		};
		let status = match feeder_status(conn, pair, &me).await {
			Ok(Some(s)) => s,
			Ok(None) => return Err(FeedError::NotAFeeder(me, pair)),
			Err(e) => return retry_or_stop(e),
		};
		let admin_cut_off = match admin_rate(conn, pair).await {
			Ok(id) => id,
			Err(e) => return retry_or_stop(e),
		};
		let now = match queries::chain_time(conn, None).await {
			Ok(t) => t,
			Err(e) => return retry_or_stop(e),
		};
		let latest = match status.latest_rate.filter(|id| admin_cut_off.is_none_or(|a| *id > a)) {
			Some(id) => match queries::rate_by_id(conn, id, None).await {
				Ok(rate) => rate.map(|r| (id, r)),
				Err(e) => return retry_or_stop(e),
			},
			None => None,
		};
		let mid = match read_mid(&self.options.source, &self.http).await {
			Ok(mid) => mid,
			Err(reason) => return Ok(Round::Failed(format!("source: {reason}"))),
		};
		let valid_for = (self.options.valid_for.as_millis() as u64).min(config.limits.max_validity);
		// Never refresh earlier than half a publication's life: a pair whose validity is short
		// would otherwise be republished at every poll.
		let refresh_before = self.options.refresh_before.min(Duration::from_millis(valid_for / 2));
		if let Some((id, rate)) = &latest {
			let stale_from =
				rate.valid_until.min(rate.published_at.saturating_add(config.limits.max_validity));
			let left = Duration::from_millis(stale_from.saturating_sub(now));
			let moved = mid.abs_diff(rate.mid.0);
			let change_due = !self.options.min_change.is_zero()
				&& moved >= self.options.min_change.mul_floor(rate.mid.0).max(1)
				&& state.last_published.is_none_or(|t| t.elapsed() >= self.options.poll * 3);
			if left > refresh_before && !change_due {
				return Ok(Round::Fresh { rate_id: *id, stale_in: left });
			}
		}
		if let Some((refused, at)) = state.out_of_band {
			if refused == mid && at.elapsed() < OUT_OF_BAND_PAUSE {
				return Ok(Round::Failed(format!(
					"mid {mid} was refused as out of the band {}s ago; offered again after {}s \
					 unless the source moves (a move this large needs the admin: clearline fx \
					 force-publish)",
					at.elapsed().as_secs(),
					OUT_OF_BAND_PAUSE.as_secs()
				)));
			}
		}
		let call = calls::publish_rate(pair, mid, self.options.spread, valid_for);
		let report = match self.sender.send(call).await {
			Ok(r) => r,
			Err(Error::Rejected { reason, .. }) => {
				return Ok(Round::Failed(format!("the pool refused the publication: {reason}")))
			}
			Err(e) => return retry_or_stop(e),
		};
		Ok(match report.result {
			TxResult::Finalized { outcome: Outcome::Succeeded(events), .. } => {
				state.last_published = Some(std::time::Instant::now());
				state.out_of_band = None;
				let published = events.iter().find_map(|e| match e {
					clearline_runtime::RuntimeEvent::FxRate(
						pallet_fx_rate::Event::RatePublished { rate_id, valid_until, .. },
					) => Some((*rate_id, *valid_until)),
					_ => None,
				});
				Round::Published {
					rate_id: published.map(|p| p.0),
					mid,
					valid_until: published.map_or(now + valid_for, |p| p.1),
				}
			}
			TxResult::Finalized { outcome: Outcome::Failed { error, .. }, .. }
				if error.contains("RateOutOfBand") =>
			{
				state.out_of_band = Some((mid, std::time::Instant::now()));
				Round::Failed(format!(
					"the chain refused mid {mid} as out of the pair's deviation band ({error}); \
					 a move this large needs the admin (clearline fx force-publish)"
				))
			}
			TxResult::Finalized { outcome: Outcome::Failed { error, .. }, .. } => {
				Round::Failed(format!("the chain refused the publication: {error}"))
			}
			TxResult::Expired { .. } => Round::Failed("the publication expired unfinalized".into()),
			TxResult::Unknown { reason } => Round::Failed(format!("outcome unknown: {reason}")),
		})
	}
}

/// The pair's latest admin rate, read from storage: feeder publications older than it no
/// longer count.
pub async fn admin_rate(conn: &Connection, pair: Pair) -> crate::error::Result<Option<RateId>> {
	let key = pallet_fx_rate::AdminRates::<clearline_runtime::Runtime>::hashed_key_for(pair);
	storage::decode_at(conn, "FxRate::AdminRates", key, None).await
}

/// A client error in a round: the next round tries again, unless no retry can cure it (this
/// client does not fit the node's runtime or chain, or its own key or input is wrong).
fn retry_or_stop(e: Error) -> Result<Round, FeedError> {
	match e {
		Error::IncompatibleRuntime { .. }
		| Error::GenesisMismatch { .. }
		| Error::InvalidKey(_)
		| Error::InvalidInput { .. } => Err(e.into()),
		e if e.is_connection() => Ok(Round::Failed(format!("node unreachable: {e}"))),
		e => Ok(Round::Failed(e.to_string())),
	}
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn decimal_rates_parse_exactly() {
		assert_eq!(parse_decimal_rate("0.9213"), Ok(921_300_000));
		assert_eq!(parse_decimal_rate(" 7.123456789\n"), Ok(7_123_456_789));
		assert_eq!(parse_decimal_rate("1"), Ok(RATE_SCALE));
		for bad in ["", ".5", "1.", "0", "0.0", "-1", "1e3", "0.1234567891", "abc", "1.2.3"] {
			assert!(parse_decimal_rate(bad).is_err(), "{bad:?} accepted");
		}
	}
}
