//! `clearline-acquirer`: see `clearline_workers::acquirer`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	clearline_workers::acquirer::run(clearline_workers::acquirer::Config::parse()).await
}
