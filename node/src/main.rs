//! `clearline-node`: the Clearline settlement chain's node.

mod chain_spec;
mod cli;
mod command;
mod new_network;
mod rpc;
mod service;

fn main() -> sc_cli::Result<()> {
	command::run()
}
