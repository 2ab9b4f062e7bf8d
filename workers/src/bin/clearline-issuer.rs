//! `clearline-issuer`: see `clearline_workers::issuer`.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
	clearline_workers::issuer::run(clearline_workers::issuer::Config::parse()).await
}
