#!/bin/bash
# The listener probe of issue 21 item 3 (not in CI): a registered client's latency with and
# without a flood of 4,300 silent connections (reopened as soon as closed) from another
# source address, against the release `folkreg serve` on the demo data. Prints loadgen's
# figures for both, in the same run.
#
#   tests/soak/flood.sh                      # 4,300 connections, 20 s per measurement
#   FLOOD=8000 SECONDS_EACH=30 tests/soak/flood.sh
#   PER_SOURCE=100000 tests/soak/flood.sh    # as a flood from many addresses: the
#                                            # handshake budget alone protects the client
set -euo pipefail
cd "$(dirname "$0")/../.."
FLOOD=${FLOOD:-4300}
SECONDS_EACH=${SECONDS_EACH:-20}
CONNECTIONS=${CONNECTIONS:-1,8}
cargo build --release --bin folkreg >/dev/null
cargo bench --bench loadgen --no-run >/dev/null 2>&1
LOADGEN=$(ls -t target/release/deps/loadgen-* | grep -v '\.d$' | head -1)
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
repo=$(pwd)
cat >"$work/folkreg.toml" <<TOML
data_dir = "$work/data"
register = "$repo/deploy/register.dev.toml"
[tls]
cert = "$repo/certs-dev/server.pem"
key = "$repo/certs-dev/server.key"
client_ca = "$repo/certs-dev/ca-bundle.pem"
crls = ["$repo/certs-dev/crl.pem"]
[soap]
listen = "127.0.0.1:$port"
max_connections_per_source = ${PER_SOURCE:-256}
[admin]
listen = "127.0.0.1:$admin"
TOML
ulimit -n 65536 2>/dev/null || true
target/release/folkreg serve --config "$work/folkreg.toml" >"$work/serve.log" 2>&1 &
server=$!
ready=
for _ in $(seq 1 120); do
  if curl -sf "http://127.0.0.1:$admin/readyz" >/dev/null; then ready=1; break; fi
  sleep 1
done
[ -n "$ready" ] || { echo "folkreg did not become ready:"; tail -n 20 "$work/serve.log"; exit 1; }
measure() {
  "$LOADGEN" run --addr "127.0.0.1:$port" --connections "$CONNECTIONS" --duration "$SECONDS_EACH" \
    --warmup 2 --client client-lund | python3 tests/soak/report.py
}
echo "without a flood:"
measure
python3 tests/soak/flood.py --port "$port" --connections "$FLOOD" --seconds $(( (SECONDS_EACH + 3) * 3 )) &
flood=$!
sleep 5
echo "with $FLOOD silent connections from 127.0.0.2, reopened when closed:"
measure
wait $flood
curl -s "http://127.0.0.1:$admin/metrics" | grep -E '^folkreg_connections_shed_total|^folkreg_handshake_errors'
