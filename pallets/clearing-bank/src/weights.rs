//! BOOTSTRAP ONLY: replaced by scripts/benchmark.sh output before commit.
use core::marker::PhantomData;
use frame_support::weights::Weight;
pub trait WeightInfo {
	fn set_clearing_bank() -> Weight;
	fn register_participant() -> Weight;
	fn suspend_participant() -> Weight;
	fn reinstate_participant() -> Weight;
	fn set_debit_limit() -> Weight;
	fn fund() -> Weight;
	fn withdraw() -> Weight;
	fn post_payment() -> Weight;
	fn refund() -> Weight;
	fn close_cycle() -> Weight;
	fn settle_cycle() -> Weight;
}
pub struct SubstrateWeight<T>(PhantomData<T>);
impl<T: frame_system::Config> WeightInfo for SubstrateWeight<T> {
	fn set_clearing_bank() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn register_participant() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn suspend_participant() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn reinstate_participant() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn set_debit_limit() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn fund() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn withdraw() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn post_payment() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn refund() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn close_cycle() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn settle_cycle() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
}
impl WeightInfo for () {
	fn set_clearing_bank() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn register_participant() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn suspend_participant() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn reinstate_participant() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn set_debit_limit() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn fund() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn withdraw() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn post_payment() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn refund() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn close_cycle() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
	fn settle_cycle() -> Weight {
		Weight::from_parts(1_000_000_000, 10_000)
	}
}
