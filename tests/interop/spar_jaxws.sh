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
certs="$FOLKREG_REPO/certs-dev"
spar="$FOLKREG_REPO/../shared/reference/spar/2021.1"

if ! command -v wsimport >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jaxws >/dev/null
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jaxws >/dev/null
  fi
fi
command -v javac >/dev/null || { echo "spar_jaxws.sh: needs a JDK (javac)"; exit 1; }
if [ -z "${SPAR_HIT:-}" ] || [ -z "${SPAR_MISS:-}" ]; then
  echo "FAIL jax-ws spar: SPAR_HIT and SPAR_MISS must be given"
  echo "jax-ws spar: 0 passed, 1 failed"
  exit 1
fi

# The JAX-WS runtime from Debian's jars in /usr/share/java (as jaxws.sh does).
jars="jaxws-rt jaxws-api jws-api jaxb-api jaxb-runtime jaxb-core jaxb-impl istack-commons-runtime saaj-impl stax-ex
streambuffer mimepull metro-policy gmbal glassfish-management-api glassfish-pfl-basic glassfish-pfl-tf
glassfish-pfl-dynamic glassfish-pfl-asm javax.activation geronimo-annotation-1.3-spec FastInfoset woodstox-core stax2-api"
cp=""
for j in $jars; do [ -f "/usr/share/java/$j.jar" ] && cp="$cp:/usr/share/java/$j.jar"; done
cp=${cp#:}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Mutual TLS for Java: Norrby's certificate and key as PKCS#12, the development root as the
# only trust anchor.
field() { python3 "$here/harness.py" cert "$1" "$2"; }
client=client-norrby
openssl pkcs12 -export -in "$certs/$(field $client cert)" -inkey "$certs/$(field $client key)" \
  -name "$client" -out "$work/client.p12" -passout pass:changeit
keytool -importcert -noprompt -storetype PKCS12 -keystore "$work/trust.p12" -storepass changeit \
  -alias root-ca -file "$certs/$(field root-ca cert)" >/dev/null 2>&1
ssl="-Djavax.net.ssl.keyStore=$work/client.p12 -Djavax.net.ssl.keyStoreType=PKCS12 -Djavax.net.ssl.keyStorePassword=changeit
-Djavax.net.ssl.trustStore=$work/trust.p12 -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=changeit"

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
