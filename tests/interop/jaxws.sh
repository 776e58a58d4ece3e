#!/usr/bin/env bash
# JAX-WS (the reference implementation, Debian's `jaxws`) against a running folkreg:
# 1. wsimport on Skatteverket's own Navet WSDLs (../shared/reference/navet/v4-2023);
# 2. wsimport on folkreg's live ?wsdl of both services; jaxws_compare.py fails on any class,
#    field or method that differs from those Navet's WSDL gives (packages aside: see there);
# 3. java/NavetClient.java, built on the classes of Navet's WSDL, calls folkreg over mutual
#    TLS on V2, V3 and V4: a person's relation identity numbers, the typed fault
#    NaWebServiceException with an int Felkod, a search by name.
# Needs FOLKREG_URL, FOLKREG_REPO and the demo person's PNR, RELATIONS, FORNAMN, EFTERNAMN
# (tests/interop/demo_people.py). Called by tests/interop/run.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
navet="$FOLKREG_REPO/../shared/reference/navet/v4-2023"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The JAX-WS runtime's classpath ($cp) and mutual TLS as client-norrby ($ssl).
# shellcheck source=tests/interop/jaxws_env.sh
. "$here/jaxws_env.sh"
client=client-norrby
jaxws_env "$work" "$client"

# 1. Navet's WSDLs (copied: ../shared is read-only and wsimport resolves the schema beside it).
cp -r "$navet" "$work/navet"
mkdir -p "$work/navet-src" "$work/navet-classes" "$work/live-src" "$work/live-classes"
for s in personpostXML namnsokningXML; do
  wsimport -quiet -keep -s "$work/navet-src" -d "$work/navet-classes" \
    -wsdllocation "$s.wsdl" "$work/navet/$s.wsdl"
done
# 2. folkreg's live WSDLs, fetched over mutual TLS by wsimport itself.
for s in personpostXML namnsokningXML; do
  WSIMPORT_OPTS="$ssl" wsimport -quiet -keep -s "$work/live-src" -d "$work/live-classes" \
    "$FOLKREG_URL/na/na_epersondata/V4/$s?wsdl"
done
failed=0
python3 "$here/jaxws_compare.py" "$work/navet-classes" "$work/live-classes" || failed=1

# 3. The client from Navet's WSDL, against folkreg.
mkdir -p "$work/client"
javac -nowarn -cp "$cp:$work/navet-classes" -d "$work/client" "$here/java/NavetClient.java"
if [ -z "${PNR:-}" ]; then
  echo "FAIL jax-ws client: no demo person given (PNR)"
  exit 1
fi
# shellcheck disable=SC2086
java $ssl -cp "$work/client:$work/navet-classes:$cp" NavetClient "$FOLKREG_URL" "$work/navet" \
  "$(field $client org)" "$(field $client bestallningsid)" "$PNR" "$RELATIONS" "$FORNAMN" "$EFTERNAMN" || failed=1
exit $failed
