//! Runs real `clearline-node` processes (and the issuer and acquirer services) for tests: on
//! free ports, with their output in a log file, and always stopped, whether the test passes,
//! fails or is itself killed.

use clearline_client::NodeRpc;
use std::{
	collections::BTreeSet,
	fs::File,
	future::Future,
	io::{BufRead, BufReader},
	net::TcpListener,
	os::unix::process::{CommandExt, ExitStatusExt},
	path::{Path, PathBuf},
	process::{Child, Command, ExitStatus, Stdio},
	sync::Mutex,
	time::{Duration, Instant},
};

/// A port nobody listens on right now, and never one handed out before in this process, so
/// that nodes started by tests running in parallel never get the same port. (The OS may hand
/// the same ephemeral port to two probes in a row once the first probe has closed it.)
pub fn free_port() -> u16 {
	static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
	loop {
		let port = TcpListener::bind("127.0.0.1:0")
			.and_then(|l| l.local_addr())
			.expect("binding an ephemeral port on loopback")
			.port();
		if HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner()).insert(port) {
			return port;
		}
	}
}

/// A running `clearline-node`.
pub struct NodeProcess {
	name: String,
	binary: PathBuf,
	args: Vec<String>,
	env: Vec<(String, String)>,
	child: Option<Child>,
	log_path: PathBuf,
	pub rpc_port: u16,
	pub p2p_port: u16,
	// Kept for the node's lifetime: holds the log (and, for `--base-path` users, the chain).
	_dir: tempfile::TempDir,
}

impl NodeProcess {
	/// Starts `binary` with `args` plus `--rpc-port`, `--port` (unless `args` has
	/// `--listen-addr`), no Prometheus and no telemetry.
	/// `args` may contain `{dir}`, replaced by a directory that lives as long as this value, and
	/// `{p2p_port}`, replaced by the node's p2p port.
	pub fn start(name: &str, binary: &Path, args: &[&str]) -> Self {
		let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
		args.extend(["--rpc-port".into(), "{rpc_port}".into()]);
		// `--listen-addr` replaces `--port` (the node refuses both).
		if !args.iter().any(|a| a == "--listen-addr") {
			args.extend(["--port".into(), "{p2p_port}".into()]);
		}
		args.extend(["--no-prometheus".into(), "--no-telemetry".into()]);
		let args: Vec<&str> = args.iter().map(String::as_str).collect();
		Self::start_program(name, binary, &args)
	}

	/// Starts any program (a service, say) with exactly `args`, with the same guarantees: its
	/// output in a log file, and killed with the test. `args` may contain `{dir}` (as above),
	/// `{rpc_port}` and `{p2p_port}`, replaced by two free ports kept in `rpc_port` and
	/// `p2p_port`.
	pub fn start_program(name: &str, binary: &Path, args: &[&str]) -> Self {
		Self::start_program_with_env(name, binary, args, &[])
	}

	/// [`Self::start_program`] with extra environment variables (kept for restarts; see
	/// [`Self::set_env`]).
	pub fn start_program_with_env(
		name: &str,
		binary: &Path,
		args: &[&str],
		env: &[(&str, &str)],
	) -> Self {
		let dir = tempfile::Builder::new()
			.prefix(&format!("clearline-{name}-"))
			.tempdir()
			.expect("creating a temporary directory");
		let (rpc_port, p2p_port) = (free_port(), free_port());
		let dir_str = dir.path().to_str().expect("temp paths are UTF-8").to_string();
		let args = args
			.iter()
			.map(|a| {
				a.replace("{dir}", &dir_str)
					.replace("{rpc_port}", &rpc_port.to_string())
					.replace("{p2p_port}", &p2p_port.to_string())
			})
			.collect();
		let mut process = Self {
			name: name.into(),
			binary: binary.into(),
			args,
			env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
			child: None,
			log_path: dir.path().join(format!("{name}.log")),
			rpc_port,
			p2p_port,
			_dir: dir,
		};
		process.spawn();
		process
	}

	fn spawn(&mut self) {
		let log = File::options()
			.create(true)
			.append(true)
			.open(&self.log_path)
			.expect("opening the node's log file");
		let mut command = Command::new(&self.binary);
		command
			.args(&self.args)
			.envs(self.env.iter().map(|(k, v)| (k, v)))
			.stdin(Stdio::null())
			.stdout(log.try_clone().expect("cloning a file handle"))
			.stderr(log);
		// If the test process dies without unwinding (SIGKILL, abort), the kernel kills the
		// node too, so no node outlives its test.
		unsafe {
			command.pre_exec(|| {
				if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
					return Err(std::io::Error::last_os_error());
				}
				Ok(())
			});
		}
		let child = command
			.spawn()
			.unwrap_or_else(|e| panic!("starting {} ({}): {e}", self.name, self.binary.display()));
		self.child = Some(child);
	}

	pub fn name(&self) -> &str {
		&self.name
	}

	pub fn rpc_url(&self) -> String {
		format!("ws://127.0.0.1:{}", self.rpc_port)
	}

	pub fn pid(&self) -> Option<u32> {
		self.child.as_ref().map(|c| c.id())
	}

	/// Connects to the node's RPC, retrying until it answers or `timeout` passes (a debug
	/// build takes a while to compile the runtime before it opens the port).
	pub async fn rpc(&mut self, timeout: Duration) -> NodeRpc {
		let url = self.rpc_url();
		let deadline = Instant::now() + timeout;
		loop {
			self.assert_running();
			match NodeRpc::connect(&url, Duration::from_secs(10)).await {
				Ok(rpc) if rpc.genesis_hash().await.is_ok() => return rpc,
				_ if Instant::now() >= deadline => panic!(
					"{}: RPC at {url} did not answer within {timeout:?}\n{}",
					self.name,
					self.log_tail(40)
				),
				_ => tokio::time::sleep(Duration::from_millis(250)).await,
			}
		}
	}

	/// Panics (with the log) if the node has exited.
	pub fn assert_running(&mut self) {
		if let Some(child) = self.child.as_mut() {
			if let Ok(Some(status)) = child.try_wait() {
				panic!("{} exited early with {status}\n{}", self.name, self.log_tail(60));
			}
		}
	}

	/// SIGTERM, then waits for the process to exit (SIGKILL after `grace`). Returns how it
	/// ended.
	pub fn stop(&mut self, grace: Duration) -> ExitStatus {
		let mut child = self.child.take().expect("stop called on a node that is not running");
		unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
		let deadline = Instant::now() + grace;
		loop {
			if let Some(status) = child.try_wait().expect("waiting for the node") {
				return status;
			}
			if Instant::now() >= deadline {
				let _ = child.kill();
				return child.wait().expect("waiting for the killed node");
			}
			std::thread::sleep(Duration::from_millis(50));
		}
	}

	/// SIGKILL, as in a crash or a power cut; returns once the process is gone.
	pub fn kill(&mut self) {
		if let Some(mut child) = self.child.take() {
			let _ = child.kill();
			let _ = child.wait();
		}
	}

	/// Sets (`Some`) or removes (`None`) an environment variable for the next start.
	pub fn set_env(&mut self, key: &str, value: Option<&str>) {
		self.env.retain(|(k, _)| k != key);
		if let Some(v) = value {
			self.env.push((key.into(), v.into()));
		}
	}

	/// Waits up to `timeout` for the process to end on its own; how it ended, or `None` if it
	/// still runs. An ended process can be [`Self::restart`]ed.
	pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
		let deadline = Instant::now() + timeout;
		loop {
			let child = self.child.as_mut()?;
			if let Some(status) = child.try_wait().expect("waiting for the process") {
				self.child = None;
				return Some(status);
			}
			if Instant::now() >= deadline {
				return None;
			}
			tokio::time::sleep(Duration::from_millis(50)).await;
		}
	}

	/// Starts the node again with the same arguments, ports and directory.
	pub fn restart(&mut self) {
		assert!(self.child.is_none(), "restart of {} while it runs", self.name);
		self.spawn();
	}

	/// The last `lines` lines the node logged, for failure messages.
	pub fn log_tail(&self, lines: usize) -> String {
		let Ok(file) = File::open(&self.log_path) else { return String::new() };
		let all: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
		let from = all.len().saturating_sub(lines);
		format!(
			"--- last {} lines of {} ---\n{}",
			all.len() - from,
			self.name,
			all[from..].join("\n")
		)
	}
}

impl Drop for NodeProcess {
	fn drop(&mut self) {
		self.kill();
	}
}

/// A validator of the `local` chain (`--alice` … `--dave`), on loopback only, with a fixed p2p
/// identity (validators do not generate one on their own, so that an operator never loses the
/// peer id others have configured) and its database under its directory, so that it can be
/// restarted. The others find the network through `bootnode` (a multiaddr with a peer id).
pub fn local_validator(
	binary: &Path,
	label: &str,
	name: &str,
	node_key: u8,
	bootnode: Option<&str>,
) -> NodeProcess {
	let node_key = format!("{node_key:064x}");
	let flag = format!("--{name}");
	let mut args = vec![
		"--node-key",
		&node_key,
		"--chain",
		"local",
		"--base-path",
		"{dir}/chain",
		// Only the nodes we start: peers are found through the bootnode, never by mDNS.
		"--no-mdns",
		"--listen-addr",
		"/ip4/127.0.0.1/tcp/{p2p_port}",
		&flag,
	];
	if let Some(b) = bootnode {
		args.extend(["--bootnodes", b]);
	}
	NodeProcess::start(label, binary, &args)
}

/// The FX feeder a chain needs to keep quoting: `clearline fx feed HKD/CNY` (the `clearline`
/// binary beside `node_binary`) against `rpc_url`, signing as `key` (`//Ferdie`, the
/// development chains' feeder, or a key file's path), publishing the fixed `mid`, with
/// `extra` arguments.
pub fn start_feeder(
	label: &str,
	node_binary: &Path,
	rpc_url: &str,
	key: &str,
	mid: u128,
	extra: &[&str],
) -> NodeProcess {
	let mid = mid.to_string();
	let key_flag = if key.starts_with("//") { "--key" } else { "--key-file" };
	let mut args =
		vec!["--url", rpc_url, key_flag, key, "fx", "feed", "HKD/CNY", "--mid", mid.as_str()];
	args.extend(extra);
	NodeProcess::start_program(label, &node_binary.with_file_name("clearline"), &args)
}

/// A service's development keys, each its own (a service refuses to start with one key in two
/// roles): its chain key, its API key toward the other service, and the acquirer's key toward
/// aggregators.
#[derive(Debug, Clone, Copy)]
pub struct DevKeys {
	pub chain: &'static str,
	pub api: &'static str,
	pub aggregators: Option<&'static str>,
}

/// The issuer's keys on the dev chains (Bob is its participant account).
pub const ISSUER_KEYS: DevKeys = DevKeys { chain: "//Bob", api: "//Bob//api", aggregators: None };
/// The acquirer's keys on the dev chains (Dave is its participant account).
pub const ACQUIRER_KEYS: DevKeys =
	DevKeys { chain: "//Dave", api: "//Dave//api", aggregators: Some("//Dave//aggregators") };

/// The SS58 public key of a development secret URI.
pub fn public_key(uri: &str) -> String {
	use sp_core::crypto::Ss58Codec;
	clearline_client::Signer::from_uri(uri).expect("a valid secret URI").account_id().to_ss58check()
}

/// How one issuer or acquirer service is started: the options every start needs, in the
/// services' own flag names (`clearline-issuer --help`). The tests and the benchmark start
/// both services through this one description.
pub struct ServiceLaunch<'a> {
	/// The program, `clearline-issuer` or `clearline-acquirer`.
	pub binary: &'a Path,
	pub port: u16,
	/// The admin listener's port (on 127.0.0.1).
	pub admin_port: u16,
	/// Its store: a SQLite file's path or a PostgreSQL URL.
	pub database: &'a str,
	pub node_url: &'a str,
	/// The service's keys, and the other service's.
	pub keys: DevKeys,
	pub peer: DevKeys,
	/// The other service's URL.
	pub peer_url: &'a str,
	pub admin_token: &'a str,
}

impl ServiceLaunch<'_> {
	/// The command line: these options, plain-text logs, then `extra`. Plain HTTP
	/// (`--insecure-http`) unless `extra` gives a certificate (`--tls-cert`).
	pub fn args(&self, extra: &[&str]) -> Vec<String> {
		let mut args: Vec<String> = [
			"--listen",
			&format!("127.0.0.1:{}", self.port),
			"--admin-listen",
			&self.admin_port.to_string(),
			"--database",
			self.database,
			"--node-url",
			self.node_url,
			"--chain-key",
			self.keys.chain,
			"--api-key",
			self.keys.api,
			"--peer-url",
			self.peer_url,
			"--peer-public-key",
			&public_key(self.peer.api),
			"--log-format",
			"text",
		]
		.iter()
		.map(|s| s.to_string())
		.collect();
		// The acquirer signs toward aggregators with a key of its own.
		if let Some(key) = self.keys.aggregators {
			args.extend(["--aggregator-key".to_string(), key.to_string()]);
		}
		// The issuer names the acquirer's chain account in its instructions.
		if self.peer.aggregators.is_some() {
			args.extend(["--acquirer-account".to_string(), public_key(self.peer.chain)]);
		}
		if !extra.contains(&"--tls-cert") {
			args.push("--insecure-http".to_string());
		}
		args.extend(extra.iter().map(|s| s.to_string()));
		args
	}

	/// Starts the service as `label`, with `extra` options after the common ones.
	pub fn start(&self, label: &str, extra: &[&str]) -> NodeProcess {
		let args = self.args(extra);
		let args: Vec<&str> = args.iter().map(String::as_str).collect();
		let env = [("CLEARLINE_ADMIN_TOKEN", self.admin_token)];
		NodeProcess::start_program_with_env(label, self.binary, &args, &env)
	}
}

/// Whether `status` is a clean exit (code 0, not ended by a signal).
pub fn exited_cleanly(status: ExitStatus) -> bool {
	status.success() && status.signal().is_none()
}

/// Polls `check` every 200 ms until it returns `Some`, or panics with `what` after `timeout`.
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut check: F) -> T
where
	F: FnMut() -> Fut,
	Fut: Future<Output = Option<T>>,
{
	let deadline = Instant::now() + timeout;
	loop {
		if let Some(value) = check().await {
			return value;
		}
		if Instant::now() >= deadline {
			panic!("timed out after {timeout:?} waiting for {what}");
		}
		tokio::time::sleep(Duration::from_millis(200)).await;
	}
}

/// Waits until the node's finalized block number is at least `number`; returns it.
pub async fn wait_finalized(rpc: &NodeRpc, number: u32, timeout: Duration) -> u32 {
	wait_for(timeout, &format!("block #{number} finalized at {}", rpc.url()), || async {
		match rpc.finalized().await {
			Ok((n, _)) if n >= number => Some(n),
			_ => None,
		}
	})
	.await
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn free_ports_are_never_handed_out_twice() {
		let ports: Vec<u16> = (0..200).map(|_| free_port()).collect();
		let distinct: BTreeSet<u16> = ports.iter().copied().collect();
		assert_eq!(distinct.len(), ports.len());
	}

	#[test]
	fn a_stopped_process_is_reaped_and_a_dropped_one_killed() {
		let mut sleeper = NodeProcess::start("sleep", Path::new("/bin/sleep"), &["30"]);
		// `sleep` rejects the node flags appended to its arguments and exits at once with an
		// error, which `stop` reports as it is.
		std::thread::sleep(Duration::from_millis(300));
		let status = sleeper.stop(Duration::from_secs(5));
		assert!(!exited_cleanly(status));
		assert!(sleeper.pid().is_none());

		// A program started as it is gets exactly its arguments: `sleep 30` is still asleep.
		let mut plain = NodeProcess::start_program("plain", Path::new("/bin/sleep"), &["30"]);
		std::thread::sleep(Duration::from_millis(300));
		plain.assert_running();
		assert!(!exited_cleanly(plain.stop(Duration::from_secs(5))));

		let pid = {
			let shell = NodeProcess::start("sh", Path::new("/bin/sh"), &["-c", "sleep 30", "sh"]);
			shell.pid().unwrap()
		};
		// Dropped: the process must be gone (kill(pid, 0) fails with ESRCH once reaped).
		assert_eq!(unsafe { libc::kill(pid as i32, 0) }, -1);
	}
}

/// Sends `call` signed by `signer` through the node at `conn` the way users do (a
/// [`clearline_client::TxSender`]) and waits for its finalized block: the block's hash and
/// what the call did there. Panics if it is not finalized within a minute.
pub async fn finalize(
	conn: &std::sync::Arc<clearline_client::Connection>,
	signer: &clearline_client::Signer,
	call: clearline_runtime::RuntimeCall,
) -> (sp_core::H256, clearline_client::Outcome) {
	use clearline_client::{SenderOptions, TxResult, TxSender};
	let options = SenderOptions { give_up: Duration::from_secs(60), ..SenderOptions::default() };
	let sender = TxSender::new(conn.clone(), signer.clone(), options).expect("sender options");
	let report = sender.send(call).await.unwrap_or_else(|e| panic!("not submitted: {e}"));
	match report.result {
		TxResult::Finalized { block, outcome, .. } => (block, outcome),
		other => panic!("not finalized: {other:?} ({:?})", report.path),
	}
}
