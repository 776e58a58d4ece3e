#!/usr/bin/env bash
# Interoperability with third-party SOAP clients: starts the real `folkreg serve` (the debug
# binary `cargo test` built, built-in demo data, development PKI) on free ports and drives it with Python zeep
# (from the WSDL alone) and curl (raw envelopes, faults). Called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/interop

python3 -c 'import zeep' 2>/dev/null || python3 -m pip install --quiet 'zeep>=4.2,<5'

# The binary `cargo test` built and ran: `cargo test --no-run` is a no-op after `cargo test`
# and builds it with the same features when this runs alone. (`cargo build` would compile
# hyper, hyper-util and folkreg again without the dev-dependencies' features, about 100 s on
# 2 cores; a release build, every dependency.)
cargo test --locked --no-run --quiet
bin="${CARGO_TARGET_DIR:-target}/debug/folkreg"

work=$(mktemp -d)
cleanup() { [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
soap_port=$(port); admin_port=$(port)
repo=$(pwd)
cat > "$work/folkreg.toml" <<TOML
data_dir = "$work/data"
register = "$repo/deploy/register.dev.toml"
[soap]
listen = "127.0.0.1:$soap_port"
[admin]
listen = "127.0.0.1:$admin_port"
[tls]
cert = "$repo/certs-dev/server.pem"
key = "$repo/certs-dev/server.key"
client_ca = "$repo/certs-dev/ca-bundle.pem"
crls = ["$repo/certs-dev/crl.pem"]
TOML

"$bin" serve --config "$work/folkreg.toml" >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  if grep -q "folkreg serving" "$work/serve.log"; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$work/serve.log"; echo "folkreg serve exited"; exit 1; fi
  sleep 0.1
done
grep -q "folkreg serving" "$work/serve.log" || { cat "$work/serve.log"; echo "folkreg serve did not start"; exit 1; }

FOLKREG_URL="https://localhost:$soap_port" FOLKREG_ADMIN="http://127.0.0.1:$admin_port" \
  FOLKREG_DATA="$work/data" FOLKREG_REPO="$repo" python3 "$here/zeep_client.py"
FOLKREG_URL="https://localhost:$soap_port" FOLKREG_REPO="$repo" bash "$here/curl_faults.sh"
