//! `clearline-console`: see `clearline_workers::console`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	clearline_workers::console::run(clearline_workers::console::Config::parse()).await
}
