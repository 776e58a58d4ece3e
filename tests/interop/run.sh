#!/usr/bin/env bash
# Interoperability with third-party SOAP clients: starts the real `folkreg serve` (the debug
# binary `cargo test` built, built-in demo data, development PKI) on free ports and drives it
# with Python zeep and suds and node-soap (from the live WSDL alone, no plugin), curl (raw envelopes, faults) and JAX-WS (a
# client generated from Navet's own WSDL; jaxws.sh), and SPAR's PersonSök with zeep and JAX-WS (spar_zeep.py,
# spar_jaxws.sh: a client generated from SPAR's own WSDL), after checking that the served WSDLs and
# schema are Navet's (navet_schema.py). Every part runs; any failure fails the run. Called by
# .ci/run.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/interop

python3 -c 'import zeep' 2>/dev/null || python3 -m pip install --quiet 'zeep>=4.2,<5'
python3 -c 'import suds' 2>/dev/null || python3 -m pip install --quiet 'suds-community>=1.1,<2'

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

url="https://localhost:$soap_port"
failed=0

# The served WSDLs are Navet's (every version of both services), the schema Navet's types.
python3 "$here/navet_schema.py" check || failed=1
ca="$repo/certs-dev/root-ca.pem"
for version in V2 V3 V4; do
  for service in personpostXML namnsokningXML; do
    curl -sf --cacert "$ca" --cert "$repo/certs-dev/client-lund.pem" --key "$repo/certs-dev/client-lund.key" \
      -o "$work/$service-$version.wsdl" "$url/na/na_epersondata/$version/$service?wsdl" || { echo "FAIL GET $version/$service?wsdl"; failed=1; continue; }
    python3 "$here/navet_schema.py" check-wsdl "$work/$service-$version.wsdl" "$service" "$version" || failed=1
  done
done

FOLKREG_URL="$url" FOLKREG_ADMIN="http://127.0.0.1:$admin_port" \
  FOLKREG_DATA="$work/data" FOLKREG_REPO="$repo" python3 "$here/zeep_client.py" || failed=1
FOLKREG_URL="$url" FOLKREG_DATA="$work/data" FOLKREG_REPO="$repo" python3 "$here/suds_client.py" || failed=1
# SPAR's PersonSök 2021.1 (/2021.1/): zeep from the live ?wsdl and its schema set.
FOLKREG_URL="$url" FOLKREG_DATA="$work/data" FOLKREG_REPO="$repo" python3 "$here/spar_zeep.py" || failed=1
FOLKREG_URL="$url" FOLKREG_REPO="$repo" bash "$here/curl_faults.sh" || failed=1

# A client generated from Navet's own WSDL (JAX-WS), given a known person of the demo data.
PNR="" RELATIONS="" FORNAMN="" EFTERNAMN=""
if people=$(python3 "$here/demo_people.py" "$work/data"); then eval "$people"; fi
FOLKREG_URL="$url" FOLKREG_REPO="$repo" PNR="$PNR" RELATIONS="$RELATIONS" FORNAMN="$FORNAMN" \
  EFTERNAMN="$EFTERNAMN" bash "$here/jaxws.sh" || failed=1

# SPAR: a JAX-WS client generated from SPAR's own WSDL, a hit (the same known person), a
# no-hit, the cap and Undantag.
FOLKREG_URL="$url" FOLKREG_REPO="$repo" SPAR_HIT="$PNR" SPAR_MISS=190001019801 \
  bash "$here/spar_jaxws.sh" || failed=1

# node-soap (npm), a third client that loads the live ?wsdl, as the same known person.
(cd "$here/node" && npm ci --no-audit --no-fund --silent) || { echo "FAIL npm ci (tests/interop/node)"; failed=1; }
FOLKREG_URL="$url" FOLKREG_REPO="$repo" PNR="$PNR" FORNAMN="$FORNAMN" EFTERNAMN="$EFTERNAMN" \
  ORG="$(python3 "$here/harness.py" cert client-lund org)" \
  BESTALLNINGSID="$(python3 "$here/harness.py" cert client-lund bestallningsid)" \
  node "$here/node/client.js" || failed=1
exit $failed
