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
certs="$FOLKREG_REPO/certs-dev"
navet="$FOLKREG_REPO/../shared/reference/navet/v4-2023"

if ! command -v wsimport >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jaxws >/dev/null
  else
    sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jaxws >/dev/null
  fi
fi
command -v javac >/dev/null || { echo "jaxws.sh: needs a JDK (javac)"; exit 1; }

# The JAX-WS runtime from Debian's jars in /usr/share/java (as ../shared/peers/metro does).
jars="jaxws-rt jaxws-api jws-api jaxb-api jaxb-runtime jaxb-core jaxb-impl istack-commons-runtime saaj-impl stax-ex
streambuffer mimepull metro-policy gmbal glassfish-management-api glassfish-pfl-basic glassfish-pfl-tf
glassfish-pfl-dynamic glassfish-pfl-asm javax.activation geronimo-annotation-1.3-spec FastInfoset woodstox-core stax2-api"
cp=""
for j in $jars; do [ -f "/usr/share/java/$j.jar" ] && cp="$cp:/usr/share/java/$j.jar"; done
cp=${cp#:}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Mutual TLS for Java: the client's certificate and key as PKCS#12, the development root as
# the only trust anchor.
field() { python3 "$(dirname "$0")/harness.py" cert "$1" "$2"; }
client=client-norrby
openssl pkcs12 -export -in "$certs/$(field $client cert)" -inkey "$certs/$(field $client key)" \
  -name "$client" -out "$work/client.p12" -passout pass:changeit
keytool -importcert -noprompt -storetype PKCS12 -keystore "$work/trust.p12" -storepass changeit \
  -alias root-ca -file "$certs/$(field root-ca cert)" >/dev/null 2>&1
ssl="-Djavax.net.ssl.keyStore=$work/client.p12 -Djavax.net.ssl.keyStoreType=PKCS12 -Djavax.net.ssl.keyStorePassword=changeit
-Djavax.net.ssl.trustStore=$work/trust.p12 -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=changeit"

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
