//! Prometheus metrics: requests by route and status, and what each service counts of its
//! own work.

use axum::{
	extract::{MatchedPath, Request, State},
	middleware::Next,
	response::{IntoResponse, Response},
};
use prometheus::{Encoder, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder};
use std::sync::Arc;

pub struct Metrics {
	registry: Registry,
	http: IntCounterVec,
	/// Orders entering each status.
	pub orders: IntCounterVec,
	/// Outcomes of calls to the other party and to the chain, by target and result.
	pub calls: IntCounterVec,
	/// Reconciliation: orders resolved, and mismatches found.
	pub reconciliation: IntCounterVec,
	/// Orders in each status now (set by the reconciliation run).
	pub open_orders: IntGaugeVec,
}

impl Metrics {
	pub fn new(service: &str) -> Arc<Self> {
		let registry = Registry::new_custom(Some(format!("clearline_{service}")), None)
			.expect("a valid prefix");
		let counter = |name: &str, help: &str, labels: &[&str]| {
			let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
			registry.register(Box::new(c.clone())).expect("registered once");
			c
		};
		let http = counter("http_requests_total", "HTTP requests served", &["route", "status"]);
		let orders = counter("orders_total", "Orders entering a status", &["status"]);
		let calls =
			counter("calls_total", "Calls to the other party and the chain", &["target", "result"]);
		let reconciliation = counter("reconciliation_total", "Reconciliation results", &["result"]);
		let open_orders =
			IntGaugeVec::new(Opts::new("orders", "Orders by current status"), &["status"])
				.expect("valid metric");
		registry.register(Box::new(open_orders.clone())).expect("registered once");
		Arc::new(Self { registry, http, orders, calls, reconciliation, open_orders })
	}

	pub fn order(&self, status: &str) {
		self.orders.with_label_values(&[status]).inc();
	}

	pub fn call(&self, target: &str, result: &str) {
		self.calls.with_label_values(&[target, result]).inc();
	}

	/// Records a reconciliation run's cycle results and the orders per status now; returns how
	/// many orders are in a status `open` calls open.
	pub fn after_reconciliation(
		&self,
		cycles: &[super::cycles::CycleReport],
		counts: &[(String, i64)],
		open: fn(&str) -> bool,
	) -> u32 {
		for c in cycles {
			let label = if c.ok { "cycle_ok" } else { "cycle_mismatch" };
			self.reconciliation.with_label_values(&[label]).inc();
		}
		let mut still_open = 0;
		for (status, n) in counts {
			self.open_orders.with_label_values(&[status]).set(*n);
			if open(status) {
				still_open += *n as u32;
			}
		}
		still_open
	}

	/// The text exposition format.
	pub fn render(&self) -> String {
		let mut out = Vec::new();
		TextEncoder::new()
			.encode(&self.registry.gather(), &mut out)
			.expect("text encoding does not fail");
		String::from_utf8(out).unwrap_or_default()
	}
}

/// Middleware counting every request by its route template and status.
pub async fn count_requests(
	State(metrics): State<Arc<Metrics>>,
	request: Request,
	next: Next,
) -> Response {
	let route = request
		.extensions()
		.get::<MatchedPath>()
		.map(|p| p.as_str().to_string())
		.unwrap_or_else(|| "unmatched".into());
	let response = next.run(request).await;
	metrics.http.with_label_values(&[&route, response.status().as_str()]).inc();
	response
}

/// `GET /metrics`.
pub async fn serve(State(metrics): State<Arc<Metrics>>) -> impl IntoResponse {
	([("content-type", "text/plain; version=0.0.4")], metrics.render())
}
