#!/usr/bin/env bash
# Installs what a fresh Debian machine with rustup lacks to build and test Clearline.
# Idempotent: every step checks first and does nothing when the thing is already there.
set -euo pipefail

say() { printf '[setup] %s\n' "$*"; }
fail() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

need_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		fail "'$*' needs root and sudo is not available; run it as root and re-run this script"
	fi
}

# protoc: sc-network's build scripts generate code from .proto files.
# clang/libclang: bindgen-based -sys crates in the dependency tree.
# pkg-config, libssl-dev: openssl-sys when a crate asks for the system TLS library.
# curl, jq: the README's walkthrough of the services.
# postgresql: the services' second backend; scripts/test.sh runs their suites on a throwaway
# cluster of it (the package's own cluster is not used).
packages=(protobuf-compiler clang libclang-dev pkg-config libssl-dev make git curl jq ca-certificates postgresql chromium chromium-driver)
# `--bench` (scripts/bench.sh): the plots' font, and perf for the node's profiles.
if [ "${1:-}" = "--bench" ]; then
	packages+=(fonts-dejavu-core linux-perf)
fi
missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	command -v apt-get >/dev/null || fail "apt-get not found; install these by hand: ${missing[*]}"
	say "installing system packages: ${missing[*]}"
	need_root apt-get update -qq || fail "apt-get update failed (no network to the Debian mirror?)"
	need_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
		|| fail "apt-get could not install: ${missing[*]}"
else
	say "system packages present"
fi
command -v protoc >/dev/null || fail "protoc still missing after installing protobuf-compiler"

command -v rustup >/dev/null || fail "rustup not found: install Rust with rustup first (https://rustup.rs)"
command -v cargo >/dev/null || fail "cargo not found on PATH (source \$HOME/.cargo/env?)"

# The runtime is compiled to wasm by substrate-wasm-builder. wasm32v1-none is the target
# current toolchains use; older ones fall back to wasm32-unknown-unknown plus rust-src.
installed=$(rustup target list --installed)
if grep -qx 'wasm32v1-none' <<<"$installed"; then
	say "wasm target wasm32v1-none present"
elif rustup target add wasm32v1-none >/dev/null 2>&1; then
	say "installed wasm target wasm32v1-none"
else
	say "wasm32v1-none unavailable on this toolchain; falling back to wasm32-unknown-unknown + rust-src"
	grep -qx 'wasm32-unknown-unknown' <<<"$installed" || rustup target add wasm32-unknown-unknown \
		|| fail "could not install the wasm32-unknown-unknown target"
	rustup component list --installed | grep -q '^rust-src' || rustup component add rust-src \
		|| fail "could not install the rust-src component"
fi
say "done"
