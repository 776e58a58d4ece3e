#!/usr/bin/env bash
# Raw envelopes with curl --cert/--key against a running folkreg: every fault a client can
# provoke, with its HTTP status and Felkod. Needs FOLKREG_URL and FOLKREG_REPO.
set -uo pipefail
certs="$FOLKREG_REPO/certs-dev"
idx="$certs/index.toml"
field() { python3 -c "import tomllib,sys; c=[c for c in tomllib.load(open('$idx','rb'))['cert'] if $1][0]; print(c.get('$2',''))"; }
ca="$certs/$(field "c['kind']=='root-ca'" cert)"
acc="c['kind']=='client' and c.get('expect')=='accepted'"
cert="$certs/$(field "$acc" cert)"; key="$certs/$(field "$acc" key)"
org=$(field "$acc" org); bid=$(field "$acc" bestallningsid)
V1=http://xmls.skatteverket.se/se/skatteverket/folkbokforing/na/epersondata/V1
pass=0; fail=0

envelope() { printf '<S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/" xmlns:v1="%s"><S:Body>%s</S:Body></S:Envelope>' "$V1" "$1"; }
pp() { envelope "<v1:PersonpostRequest><v1:Bestallning><v1:OrgNr>$1</v1:OrgNr><v1:BestallningsId>$2</v1:BestallningsId></v1:Bestallning><v1:PersonId>$3</v1:PersonId></v1:PersonpostRequest>"; }

# expect NAME STATUS FELKOD PATH BODY [extra curl args...]
expect() {
  local name=$1 status=$2 code=$3 path=$4 body=$5; shift 5
  local out; out=$(mktemp)
  local got
  got=$(printf '%s' "$body" | curl -s -o "$out" -w '%{http_code}' --cacert "$ca" --cert "$cert" --key "$key" \
    -H 'Content-Type: text/xml; charset=utf-8' --data-binary @- "$@" "$FOLKREG_URL$path")
  if [ "$got" = "$status" ] && { [ -z "$code" ] || grep -q "<ns0:Felkod>$code</ns0:Felkod>" "$out"; }; then
    pass=$((pass+1))
  else
    fail=$((fail+1)); echo "FAIL $name: HTTP $got (want $status, $code): $(head -c 400 "$out")"
  fi
  rm -f "$out"
}

P=/na/na_epersondata/V2/personpostXML
expect "lookup ok" 200 "" $P "$(pp "$org" "$bid" 189001012385)"
expect "bad Luhn" 500 1101 $P "$(pp "$org" "$bid" 198602212395)"
expect "malformed XML" 500 1101 $P "<S:Envelope"
expect "OrgNr of another organisation" 500 1201 $P "$(pp 165560000001 "$bid" 198602212394)"
expect "unknown BestallningsId" 500 1202 $P "$(pp "$org" 99999999-XX01-0001 198602212394)"
expect "too large" 500 1401 $P "$(head -c 70000 /dev/zero | tr '\0' ' ')$(pp "$org" "$bid" 198602212394)"
expect "wrong method" 405 "" $P "" -X PUT
expect "unknown path" 404 "" /na/na_epersondata/V2/nothing "$(pp "$org" "$bid" 198602212394)"
expect "termdata variant not served" 404 "" /na/na_epersondata/V2/personpost "$(pp "$org" "$bid" 198602212394)"

# Certificates the register refuses get fault 1301 (HTTP 500, as every SOAP fault).
while IFS=$'\t' read -r c k; do
  out=$(mktemp)
  got=$(pp "$org" "$bid" 198602212394 | curl -s -o "$out" -w '%{http_code}' --cacert "$ca" --cert "$certs/$c" --key "$certs/$k" \
    -H 'Content-Type: text/xml; charset=utf-8' --data-binary @- "$FOLKREG_URL$P")
  if [ "$got" = 500 ] && grep -q "<ns0:Felkod>1301</ns0:Felkod>" "$out"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAIL register-refused $c: HTTP $got"; fi
  rm -f "$out"
done < <(python3 -c "import tomllib; [print(c['cert']+'\t'+c['key']) for c in tomllib.load(open('$idx','rb'))['cert'] if c.get('expect')=='register-refused']")

echo "curl: $pass passed, $fail failed"
[ "$fail" = 0 ]
