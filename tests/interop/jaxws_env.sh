# Sourced by jaxws.sh and spar_jaxws.sh: what a JAX-WS client of folkreg needs.
#   jaxws_env WORK CLIENT
# installs Debian's `jaxws` (wsimport) if missing, checks for a JDK, and sets
#   cp   the JAX-WS runtime's classpath from Debian's jars in /usr/share/java (as
#        ../shared/peers/metro does);
#   ssl  JVM flags for mutual TLS: CLIENT's certificate and key (certs-dev/index.toml) as
#        PKCS#12 in WORK, the development root as the only trust anchor.
# Needs FOLKREG_REPO. Also defines `field NAME FIELD`: one field of a development
# certificate's entry (tests/interop/harness.py).
field() { python3 "$(dirname "${BASH_SOURCE[0]}")/harness.py" cert "$1" "$2"; }

jaxws_env() {
  local work=$1 client=$2
  local certs="$FOLKREG_REPO/certs-dev"
  if ! command -v wsimport >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ]; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jaxws >/dev/null
    else
      sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq jaxws >/dev/null
    fi
  fi
  command -v javac >/dev/null || { echo "jaxws_env: needs a JDK (javac)"; return 1; }

  local jars="jaxws-rt jaxws-api jws-api jaxb-api jaxb-runtime jaxb-core jaxb-impl istack-commons-runtime saaj-impl stax-ex
streambuffer mimepull metro-policy gmbal glassfish-management-api glassfish-pfl-basic glassfish-pfl-tf
glassfish-pfl-dynamic glassfish-pfl-asm javax.activation geronimo-annotation-1.3-spec FastInfoset woodstox-core stax2-api"
  cp=""
  local j
  for j in $jars; do [ -f "/usr/share/java/$j.jar" ] && cp="$cp:/usr/share/java/$j.jar"; done
  cp=${cp#:}

  openssl pkcs12 -export -in "$certs/$(field "$client" cert)" -inkey "$certs/$(field "$client" key)" \
    -name "$client" -out "$work/client.p12" -passout pass:changeit
  keytool -importcert -noprompt -storetype PKCS12 -keystore "$work/trust.p12" -storepass changeit \
    -alias root-ca -file "$certs/$(field root-ca cert)" >/dev/null 2>&1
  ssl="-Djavax.net.ssl.keyStore=$work/client.p12 -Djavax.net.ssl.keyStoreType=PKCS12 -Djavax.net.ssl.keyStorePassword=changeit
-Djavax.net.ssl.trustStore=$work/trust.p12 -Djavax.net.ssl.trustStoreType=PKCS12 -Djavax.net.ssl.trustStorePassword=changeit"
}
