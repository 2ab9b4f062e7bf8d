//! What a process costs while a benchmark runs: its CPU time from `/proc`, the node's own
//! Prometheus figures, and a sampled profile from `perf` where the machine has it.

use anyhow::{Context, Result};
use std::{
	collections::HashMap,
	path::Path,
	process::{Command, Stdio},
	time::Instant,
};

/// Clock ticks per second of `/proc/<pid>/stat` times (`getconf CLK_TCK`; 100 on Linux).
const CLK_TCK: f64 = 100.0;

/// CPU time (user + system, seconds) used so far by `pid`, threads included.
pub fn cpu_seconds(pid: u32) -> Result<f64> {
	let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
		.with_context(|| format!("reading /proc/{pid}/stat"))?;
	// The command name is in parentheses and may hold spaces: fields count from after it.
	let rest = stat.rsplit_once(')').map(|(_, r)| r).context("malformed /proc stat")?;
	let fields: Vec<&str> = rest.split_whitespace().collect();
	// utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
	let ticks: u64 = fields
		.get(11..13)
		.context("short /proc stat")?
		.iter()
		.map(|f| f.parse::<u64>().unwrap_or(0))
		.sum();
	Ok(ticks as f64 / CLK_TCK)
}

/// A process's CPU use between two moments, in cores (1.0 = one core busy all the time).
pub struct CpuMeter {
	pid: u32,
	start_cpu: f64,
	start: Instant,
}

impl CpuMeter {
	pub fn start(pid: u32) -> Result<Self> {
		Ok(Self { pid, start_cpu: cpu_seconds(pid)?, start: Instant::now() })
	}

	pub fn cores(&self) -> Result<f64> {
		let wall = self.start.elapsed().as_secs_f64();
		Ok(self.seconds()? / wall.max(1e-9))
	}

	/// CPU seconds used since the start.
	pub fn seconds(&self) -> Result<f64> {
		Ok(cpu_seconds(self.pid)? - self.start_cpu)
	}
}

/// CPU seconds used so far by each process whose command name is `name` (a PostgreSQL
/// server's postmaster and backends are all `postgres`), by pid; empty when there is none on
/// this machine.
pub fn cpu_seconds_of_command(name: &str) -> HashMap<u32, f64> {
	let Ok(entries) = std::fs::read_dir("/proc") else { return HashMap::new() };
	entries
		.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
		.filter(|pid| {
			std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == name)
		})
		.filter_map(|pid| Some((pid, cpu_seconds(pid).ok()?)))
		.collect()
}

/// The CPU seconds a group of processes of one command used between two moments: the growth
/// of those alive at both, and all of those that started in between.
pub fn cpu_seconds_between(before: &HashMap<u32, f64>, after: &HashMap<u32, f64>) -> f64 {
	after.iter().map(|(pid, end)| end - before.get(pid).copied().unwrap_or(0.0)).sum()
}

/// The sum and count of a Prometheus histogram (`name_sum`, `name_count`) in `text`, over all
/// its label sets.
pub fn histogram(text: &str, name: &str) -> Option<(f64, f64)> {
	let (mut sum, mut count, mut seen) = (0.0, 0.0, false);
	for line in text.lines().filter(|l| !l.starts_with('#')) {
		let Some((series, value)) = line.rsplit_once(' ') else { continue };
		let metric = series.split('{').next().unwrap_or(series);
		let Ok(value) = value.parse::<f64>() else { continue };
		if metric == format!("{name}_sum") {
			sum += value;
			seen = true;
		} else if metric == format!("{name}_count") {
			count += value;
		}
	}
	seen.then_some((sum, count))
}

/// The node's Prometheus text.
pub async fn scrape(http: &reqwest::Client, port: u16) -> Result<String> {
	Ok(http
		.get(format!("http://127.0.0.1:{port}/metrics"))
		.send()
		.await
		.context("scraping the node's Prometheus endpoint")?
		.text()
		.await?)
}

/// The mean of a histogram between two scrapes, or `None` if nothing was observed.
pub fn mean_between(before: &str, after: &str, name: &str) -> Option<f64> {
	let (s0, c0) = histogram(before, name).unwrap_or((0.0, 0.0));
	let (s1, c1) = histogram(after, name)?;
	(c1 > c0).then(|| (s1 - s0) / (c1 - c0))
}

/// Whether `perf record` can sample here (it needs the binary and a kernel that lets an
/// unprivileged or root user sample the CPU clock).
pub fn perf_available() -> bool {
	Command::new("perf")
		.args(["record", "-e", "cpu-clock", "-o", "/dev/null", "--", "true"])
		.stdout(Stdio::null())
		.stderr(Stdio::null())
		.status()
		.map(|s| s.success())
		.unwrap_or(false)
}

/// Samples `pid` on the CPU clock for `seconds` and writes where its time went to `report`:
/// by thread (Substrate names its threads after their work: block authoring, the pool's
/// validation, RPC, database), by library, and the top functions.
pub async fn profile(pid: u32, seconds: u64, report: &Path) -> Result<()> {
	let data = report.with_extension("data");
	let status = tokio::process::Command::new("perf")
		.kill_on_drop(true)
		.args(["record", "-e", "cpu-clock", "-F", "499", "-p", &pid.to_string(), "-o"])
		.arg(&data)
		.args(["--", "sleep", &seconds.to_string()])
		.stdout(Stdio::null())
		.stderr(Stdio::null())
		.status()
		.await
		.context("running perf record")?;
	anyhow::ensure!(status.success(), "perf record failed: {status}");
	let mut text = String::new();
	for (sort, limit) in [("comm", "0.5"), ("dso", "0.5"), ("symbol", "0.4")] {
		let output = tokio::process::Command::new("perf")
			.kill_on_drop(true)
			.args(["report", "--stdio", "--sort", sort, "--percent-limit", limit, "-i"])
			.arg(&data)
			.stderr(Stdio::null())
			.output()
			.await
			.context("running perf report")?;
		text.push_str(&format!("## CPU samples of the node by {sort}\n"));
		text.push_str(&tidy(&String::from_utf8_lossy(&output.stdout)));
		text.push('\n');
	}
	std::fs::write(report, text)?;
	let _ = std::fs::remove_file(&data);
	Ok(())
}

/// `perf report` output without its comment lines and column padding, long names cut.
fn tidy(report: &str) -> String {
	report
		.lines()
		.filter(|l| !l.starts_with('#') && !l.trim().is_empty())
		.map(|l| {
			let line = l.split_whitespace().collect::<Vec<_>>().join(" ");
			let line = line.trim_end_matches(" - -").to_string();
			line.chars().take(160).collect::<String>() + "\n"
		})
		.collect()
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn reads_a_histogram_over_label_sets() {
		let text = "# HELP x\nfoo_sum{a=\"1\"} 2.5\nfoo_count{a=\"1\"} 5\nfoo_sum{a=\"2\"} 1.5\nfoo_count{a=\"2\"} 3\nfoo_bucket{le=\"1\"} 4\n";
		assert_eq!(histogram(text, "foo"), Some((4.0, 8.0)));
		assert_eq!(histogram(text, "bar"), None);
		let before = "foo_sum 1\nfoo_count 2\n";
		assert_eq!(mean_between(before, text, "foo"), Some(0.5));
	}

	#[test]
	fn tidies_a_perf_report() {
		let report = "# comment\n     5.29%  libc.so.6      [.] memmove          -      -   \n\n";
		assert_eq!(tidy(report), "5.29% libc.so.6 [.] memmove\n");
	}

	#[test]
	fn this_process_uses_cpu() {
		let pid = std::process::id();
		let before = cpu_seconds(pid).unwrap();
		let mut x = 0u64;
		let start = Instant::now();
		while start.elapsed().as_millis() < 100 {
			x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
		}
		assert!(x != 1);
		assert!(cpu_seconds(pid).unwrap() > before);
	}
}
