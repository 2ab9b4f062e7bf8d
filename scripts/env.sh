# Shared by the scripts: where cargo builds. A target directory outside the checkout that
# survives between runs, so that a second build (or CI run) recompiles only what changed.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clearline/target}"
# Only the node needs the wasm runtime; never let an inherited SKIP_WASM_BUILD produce a node
# without one.
unset SKIP_WASM_BUILD
