// node-soap, a third dynamic SOAP client, against a running folkreg: it loads the live ?wsdl
// of V2, V3 and V4 of both ePersondata services with no plugin, calls getData over mutual
// TLS and reads a typed fault's Felkod. Run by tests/interop/run.sh.
"use strict";
const fs = require("fs");
const https = require("https");
const path = require("path");
const soap = require("soap");

const URL = process.env.FOLKREG_URL;
const CERTS = path.join(process.env.FOLKREG_REPO, "certs-dev");
const PNR = process.env.PNR;
const FORNAMN = process.env.FORNAMN;
const EFTERNAMN = process.env.EFTERNAMN;
const ORG = process.env.ORG;
const BESTALLNINGSID = process.env.BESTALLNINGSID;

let passed = 0;
let failed = 0;
function check(what, got, want) {
  if (got === want) {
    passed += 1;
  } else {
    failed += 1;
    console.log(`FAIL ${what}: got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
  }
}

const key = fs.readFileSync(path.join(CERTS, "client-lund.key"));
const cert = fs.readFileSync(path.join(CERTS, "client-lund.pem"));
const ca = fs.readFileSync(path.join(CERTS, "root-ca.pem"));
const agent = new https.Agent({ key, cert, ca });
const bestallning = { OrgNr: ORG, BestallningsId: BESTALLNINGSID };

function posts(result) {
  const list = result && result.Folkbokforingsposter && result.Folkbokforingsposter.Folkbokforingspost;
  if (!list) return [];
  return Array.isArray(list) ? list : [list];
}

async function client(url) {
  const c = await soap.createClientAsync(url, { wsdl_options: { httpsAgent: agent } });
  c.setSecurity(new soap.ClientSSLSecurity(key, cert, ca));
  return c;
}

async function main() {
  for (const version of ["V2", "V3", "V4"]) {
    const base = `${URL}/na/na_epersondata/${version}`;
    let pp;
    let ns;
    try {
      pp = await client(`${base}/personpostXML?wsdl`);
      ns = await client(`${base}/namnsokningXML?wsdl`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL ${version}: node-soap cannot load the WSDL: ${e}`);
      continue;
    }
    check(`${version} operation`, typeof pp.getDataAsync, "function");
    const [answer] = await pp.getDataAsync({ Bestallning: bestallning, PersonId: PNR });
    const found = posts(answer);
    check(`${version} personpost hits`, found.length, 1);
    if (found.length) {
      check(`${version} PersonNr`, String(found[0].Personpost.PersonId.PersonNr), PNR);
      check(`${version} Efternamn`, found[0].Personpost.Namn.Efternamn, EFTERNAMN);
    }
    const [searched] = await ns.getDataAsync({
      Bestallning: bestallning,
      SokvillkorNamn: { Fornamn: FORNAMN, EfterMellanNamn: EFTERNAMN },
    });
    check(
      `${version} namnsokning finds the person`,
      posts(searched).some((p) => String(p.Personpost.PersonId.PersonNr) === PNR),
      true,
    );
    try {
      await pp.getDataAsync({ Bestallning: bestallning, PersonId: "198602212395" });
      check(`${version} bad PersonId is a fault`, false, true);
    } catch (e) {
      const fault = e.root && e.root.Envelope && e.root.Envelope.Body && e.root.Envelope.Body.Fault;
      const felkod = fault && fault.detail && fault.detail.WebServiceFault && fault.detail.WebServiceFault.Felkod;
      check(`${version} Felkod`, Number(felkod), 1101);
    }
  }
  console.log(`node-soap: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.log(`FAIL node-soap: ${e}`);
  process.exit(1);
});
