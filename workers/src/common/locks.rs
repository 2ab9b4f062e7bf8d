//! One lock per order, so that one task at a time moves an order on: a duplicate request,
//! a resumed task and reconciliation wait for (or skip) the one already at work.

use std::{collections::HashMap, sync::Arc};
use tokio::sync::Mutex;

#[derive(Default)]
pub struct OrderLocks {
	locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl OrderLocks {
	/// The lock of `order_id`. Locks nobody holds or waits for are dropped on the way.
	pub async fn of(&self, order_id: &str) -> Arc<Mutex<()>> {
		let mut locks = self.locks.lock().await;
		locks.retain(|_, l| Arc::strong_count(l) > 1);
		locks.entry(order_id.to_string()).or_default().clone()
	}
}
