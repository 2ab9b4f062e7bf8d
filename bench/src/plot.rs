//! The figures as pictures: throughput over time and the latency distribution.

use crate::{latency::Latency, throughput::Throughput};
use anyhow::{Context, Result};
use plotters::prelude::*;
use std::path::Path;

/// Where Debian's fonts-dejavu-core puts its sans-serif face (`scripts/setup.sh` installs it).
const FONTS: &[&str] =
	&["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf"];

/// Makes the sans-serif face available to the charts; once per process.
pub fn load_font() -> Result<()> {
	let path = FONTS
		.iter()
		.find(|p| Path::new(p).exists())
		.context("no DejaVuSans.ttf: install fonts-dejavu-core (scripts/setup.sh does)")?;
	let bytes: &'static [u8] = Box::leak(std::fs::read(path)?.into_boxed_slice());
	plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
		.map_err(|_| anyhow::anyhow!("{path} is not a font plotters can read"))?;
	Ok(())
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
	anyhow::anyhow!("drawing: {e:?}")
}

/// Finalized transfers and postings per block (one block a second) over the run, with the
/// weight limit each kind could reach.
pub fn throughput(t: &Throughput, path: &Path) -> Result<()> {
	let root = BitMapBackend::new(path, (1100, 560)).into_drawing_area();
	root.fill(&WHITE).map_err(err)?;
	let phases: Vec<_> = [(&t.transfer, BLUE), (&t.posting, RED), (&t.batched, GREEN)]
		.into_iter()
		.filter_map(|(p, colour)| Some((p.as_ref()?, colour)))
		.collect();
	let x_min = phases.iter().flat_map(|(p, _)| p.series.iter().map(|s| s.t_s)).fold(0.0, f64::min);
	let x_max = phases.iter().flat_map(|(p, _)| p.series.iter().map(|s| s.t_s)).fold(1.0, f64::max);
	let y_max = phases
		.iter()
		.flat_map(|(p, _)| p.series.iter().map(|s| f64::from(s.count)))
		.chain(phases.iter().map(|(p, _)| p.ceiling_per_block as f64))
		.fold(1.0, f64::max)
		* 1.1;
	let mut chart = ChartBuilder::on(&root)
		.caption(
			format!(
				"Finalized per one-second block, {} signers: postings/transfers = {} single, {} \
				 batched",
				t.signers,
				t.ratio.map(|r| format!("{r:.2}")).unwrap_or_else(|| "-".into()),
				t.batched_ratio.map(|r| format!("{r:.2}")).unwrap_or_else(|| "-".into())
			),
			("sans-serif", 22),
		)
		.margin(12)
		.x_label_area_size(42)
		.y_label_area_size(64)
		.build_cartesian_2d(x_min..x_max, 0.0..y_max)
		.map_err(err)?;
	chart
		.configure_mesh()
		.x_desc("chain time since the measured window opened (s); before 0: warm-up")
		.y_desc("finalized per block")
		.label_style(("sans-serif", 14))
		.draw()
		.map_err(err)?;
	for (phase, colour) in phases {
		let label = format!(
			"{}: {:.0}/s over {:.0} s",
			match phase.kind {
				crate::throughput::Kind::Transfer => "transfer_keep_alive",
				crate::throughput::Kind::Posting => "post_payment",
				crate::throughput::Kind::Batch => "post_payments",
			},
			phase.per_second,
			phase.window_seconds
		);
		chart
			.draw_series(LineSeries::new(
				phase.series.iter().map(|s| (s.t_s, f64::from(s.count))),
				colour.stroke_width(2),
			))
			.map_err(err)?
			.label(label)
			.legend(move |(x, y)| {
				PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
			});
		let ceiling = phase.ceiling_per_block as f64;
		chart
			.draw_series(DashedLineSeries::new(
				vec![(x_min, ceiling), (x_max, ceiling)],
				6,
				4,
				colour.mix(0.6).stroke_width(1),
			))
			.map_err(err)?
			.label(format!("weight limit: {} a block", phase.ceiling_per_block))
			.legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], colour.mix(0.6)));
	}
	finish(chart, root, SeriesLabelPosition::UpperRight)
}

type Chart<'a> = ChartContext<
	'a,
	BitMapBackend<'a>,
	Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Draws the legend at `position` and writes the picture.
fn finish(
	mut chart: Chart<'_>,
	root: DrawingArea<BitMapBackend<'_>, plotters::coord::Shift>,
	position: SeriesLabelPosition,
) -> Result<()> {
	chart
		.configure_series_labels()
		.label_font(("sans-serif", 14))
		.background_style(WHITE.mix(0.85))
		.border_style(BLACK)
		.position(position)
		.draw()
		.map_err(err)?;
	root.present().map_err(err)?;
	Ok(())
}

/// The share of payments notified within each latency, per network.
pub fn latency(runs: &[Latency], path: &Path) -> Result<()> {
	let root = BitMapBackend::new(path, (1100, 560)).into_drawing_area();
	root.fill(&WHITE).map_err(err)?;
	let x_max = runs.iter().flat_map(|r| r.samples_ms.iter().copied()).fold(100.0, f64::max) * 1.05;
	let mut chart = ChartBuilder::on(&root)
		.caption(
			"micropay → merchant notification: share of payments notified within",
			("sans-serif", 22),
		)
		.margin(12)
		.x_label_area_size(42)
		.y_label_area_size(64)
		.build_cartesian_2d(0.0..x_max, 0.0..100.0)
		.map_err(err)?;
	chart
		.configure_mesh()
		.x_desc("end-to-end latency (ms)")
		.y_desc("% of payments")
		.label_style(("sans-serif", 14))
		.draw()
		.map_err(err)?;
	for (run, colour) in runs.iter().zip([BLUE, RED, GREEN, MAGENTA]) {
		let mut sorted = run.samples_ms.clone();
		sorted.sort_by(f64::total_cmp);
		let n = sorted.len().max(1) as f64;
		let label = match &run.end_to_end {
			Some(p) => format!(
				"{:?}, {} validator(s), {}/s: p50 {:.0} ms, p95 {:.0} ms, p99 {:.0} ms",
				run.network, run.validators, run.offered_per_second, p.p50_ms, p.p95_ms, p.p99_ms
			),
			None => format!("{:?}: no payment notified", run.network),
		};
		chart
			.draw_series(LineSeries::new(
				sorted.iter().enumerate().map(|(i, ms)| (*ms, (i + 1) as f64 * 100.0 / n)),
				colour.stroke_width(2),
			))
			.map_err(err)?
			.label(label)
			.legend(move |(x, y)| {
				PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
			});
	}
	finish(chart, root, SeriesLabelPosition::LowerRight)
}
