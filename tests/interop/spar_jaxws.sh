#!/usr/bin/env bash
# JAX-WS (the reference implementation, Debian's `jaxws`) against a running folkreg's SPAR
# PersonSök 2021.1: wsimport on SPAR's own WSDL and schemas (../shared/reference/spar/2021.1,
# not folkreg's ?wsdl), then java/SparClient.java, built on those classes, calls
# $FOLKREG_URL/2021.1/ over mutual TLS as Norrby kommun: a hit by IdNummer, a no-hit, the cap
# of 100 posts (OverstigerMaxAntalSvarsposter) and two Undantag (2007, 2004).
# Needs FOLKREG_URL, FOLKREG_REPO, SPAR_HIT (the IdNummer of an ordinary person in the store)
# and SPAR_MISS (a valid IdNummer not in it); SPAR_JAVA_OPTS (optional) goes to the JVM, e.g.
# -Dcom.sun.xml.ws.transport.http.client.HttpTransportPipe.dump=true to see the wire.
# Called by tests/interop/run.sh.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
spar="$FOLKREG_REPO/../shared/reference/spar/2021.1"

if [ -z "${SPAR_HIT:-}" ] || [ -z "${SPAR_MISS:-}" ]; then
  echo "FAIL jax-ws spar: SPAR_HIT and SPAR_MISS must be given"
  echo "jax-ws spar: 0 passed, 1 failed"
  exit 1
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The JAX-WS runtime's classpath ($cp) and mutual TLS as Norrby kommun ($ssl).
# shellcheck source=tests/interop/jaxws_env.sh
. "$here/jaxws_env.sh"
jaxws_env "$work" client-norrby

# SPAR's WSDL and schemas, copied (../shared is read-only, and so would the copy's folders be,
# which the cleanup could not remove). The WSDL includes its two top-level XSDs by absolute URL
# (http://xmls.statenspersonadressregister.se/se/spar/...); -catalog with SPAR's folder's
# catalog.xml rewrites that prefix onto the copy, so wsimport runs offline (without it,
# wsimport fails: the host is unreachable here). The XSDs reach one another by relative paths.
# No -B-XautoNameResolution or binding file is needed: SPAR's schemas compile as they are.
# -wsdllocation keeps the temp path out of the generated service class; SparClient passes the
# copy's WSDL to the service constructor itself.
cp -r "$spar" "$work/spar"
chmod -R u+w "$work/spar"
wsdl="$work/spar/granssnitt/personsok/2021.1/personsok.wsdl"
mkdir -p "$work/src" "$work/classes" "$work/client"
wsimport -quiet -keep -s "$work/src" -d "$work/classes" -catalog "$work/spar/catalog.xml" \
  -wsdllocation personsok.wsdl "$wsdl"

javac -nowarn -encoding UTF-8 -cp "$cp:$work/classes" -d "$work/client" "$here/java/SparClient.java"
# shellcheck disable=SC2086
java ${SPAR_JAVA_OPTS:-} $ssl -cp "$work/client:$work/classes:$cp" SparClient "$FOLKREG_URL" "$wsdl" "$SPAR_HIT" "$SPAR_MISS"
