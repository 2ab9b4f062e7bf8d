#[cfg(all(feature = "std", feature = "metadata-hash"))]
fn main() {
	// Token symbol and decimals as in `src/lib.rs` (`TOKEN_SYMBOL`, `TOKEN_DECIMALS`).
	substrate_wasm_builder::WasmBuilder::init_with_defaults()
		.enable_metadata_hash("CLR", 12)
		.build();
}

#[cfg(all(feature = "std", not(feature = "metadata-hash")))]
fn main() {
	substrate_wasm_builder::WasmBuilder::build_using_defaults();
}

// Building the runtime for wasm itself needs no nested wasm build.
#[cfg(not(feature = "std"))]
fn main() {}
