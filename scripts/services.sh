#!/usr/bin/env bash
# Builds and starts the issuer (http://127.0.0.1:8081, admin listener 127.0.0.1:9081) and the
# acquirer (http://127.0.0.1:8082, admin 127.0.0.1:9082), over plain HTTP,
# against the dev chain started by scripts/dev.sh, with the development keys: Bob is the
# issuer, Dave the acquirer (their chain keys; //Bob//api and //Dave//api sign the messages
# between them, //Dave//aggregators the acquirer's messages to aggregators). Stores go to $CLEARLINE_DATA (default
# ~/.local/share/clearline-dev); the admin token is $CLEARLINE_ADMIN_TOKEN (default
# dev-admin-token). With them it runs the chain's FX feeder (see below) and the clearing bank's
# console (http://127.0.0.1:8083, Charlie's key, the dev chain's clearing bank; its operators'
# password is $CLEARLINE_CONSOLE_PASSWORD, default dev-console-password). The pages: the wallet
# app at http://127.0.0.1:8081/wallet, the merchant's till at http://127.0.0.1:8082/till, the
# console at http://127.0.0.1:8083/. Ctrl-C stops them.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

DATA="${CLEARLINE_DATA:-$HOME/.local/share/clearline-dev}"
export CLEARLINE_ADMIN_TOKEN="${CLEARLINE_ADMIN_TOKEN:-dev-admin-token}"
export CLEARLINE_CONSOLE_PASSWORD="${CLEARLINE_CONSOLE_PASSWORD:-dev-console-password}"
NODE_URL="${CLEARLINE_URL:-ws://127.0.0.1:9944}"
DAVE=5DAAnrj7VHTznn2AWBemMuyBwZWs6FNFjdyVXUeYum3PTXFy

echo "[services] building clearline-issuer, clearline-acquirer, clearline-console, clearline-call, clearline"
cargo build --locked -p clearline-workers -p clearline-client --bins
mkdir -p "$DATA"
BIN="$CARGO_TARGET_DIR/debug"

public_key() { "$BIN/clearline-call" --key "$1" --public-key; }
ISSUER_API=$(public_key //Bob//api)
ACQUIRER_API=$(public_key //Dave//api)
echo "[services] the acquirer's key toward aggregators: $(public_key //Dave//aggregators)"

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop EXIT INT TERM

# Plain HTTP on this machine (--insecure-http); operations on the admin listeners, 9081 and
# 9082 on loopback.
"$BIN/clearline-issuer" --listen 127.0.0.1:8081 --admin-listen 9081 --insecure-http --database "$DATA/issuer.sqlite" \
	--node-url "$NODE_URL" --chain-key //Bob --api-key //Bob//api --acquirer-account "$DAVE" \
	--peer-url http://127.0.0.1:8082 --peer-public-key "$ACQUIRER_API" --log-format text &
pids+=($!)
"$BIN/clearline-acquirer" --listen 127.0.0.1:8082 --admin-listen 9082 --insecure-http --database "$DATA/acquirer.sqlite" \
	--node-url "$NODE_URL" --chain-key //Dave --api-key //Dave//api \
	--aggregator-key //Dave//aggregators \
	--peer-url http://127.0.0.1:8081 --peer-public-key "$ISSUER_API" --log-format text &
pids+=($!)
"$BIN/clearline-console" --listen 127.0.0.1:8083 --insecure-http --node-url "$NODE_URL" \
	--key //Charlie --log-format text &
pids+=($!)
# The chain's FX feeder (Ferdie), so that the services quote however long they run. A second
# feeder with the same key (scripts/dev.sh runs one) is harmless: each publishes only when the
# latest publication is about to go stale. CLEARLINE_FEEDER=off leaves it out.
if [ "${CLEARLINE_FEEDER:-on}" != off ]; then
	"$BIN/clearline" --url "$NODE_URL" --key //Ferdie fx feed HKD/CNY \
		--mid "${CLEARLINE_DEV_MID:-921300000}" > >(sed -u 's/^/[feeder] /') 2>&1 &
	pids+=($!)
fi
echo "[services] issuer on http://127.0.0.1:8081 (admin 9081), acquirer on http://127.0.0.1:8082 (admin 9082), console on http://127.0.0.1:8083; Ctrl-C stops them"
echo "[services] pages: http://127.0.0.1:8081/wallet (wallet app), http://127.0.0.1:8082/till (merchant's till), http://127.0.0.1:8083/ (clearing bank's console)"
wait -n "${pids[@]}"
