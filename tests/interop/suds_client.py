"""suds (suds-community), a second dynamic third-party SOAP client, against a running folkreg:
it loads the live ?wsdl of V2, V3 and V4 of personpostXML and namnsokningXML with no plugin
(WIRE.md: Navet's own two-file layout defeats it; folkreg's one V1 schema must not), calls
getData over mutual TLS, reads the answer, and reads a typed fault's Felkod."""

import os
import ssl
import sys
import urllib.request

from suds import WebFault
from suds.client import Client
from suds.transport.http import HttpTransport

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from demo_people import ordinary_with_relations, text  # noqa: E402
from harness import Tally, dev_cert  # noqa: E402

URL = os.environ["FOLKREG_URL"]
DATA = os.environ["FOLKREG_DATA"]
REPO = os.environ["FOLKREG_REPO"]
CERTS = os.path.join(REPO, "certs-dev")

tally = Tally("suds")
check = tally.check
root_ca = harness.root_ca(REPO)
lund = dev_cert(REPO, "client-lund")


class MutualTls(HttpTransport):
    """suds' HTTP transport presenting client-lund's certificate, trusting only the dev root."""

    def u2handlers(self):
        context = ssl.create_default_context(cafile=os.path.join(CERTS, root_ca["cert"]))
        context.load_cert_chain(os.path.join(CERTS, lund["cert"]), os.path.join(CERTS, lund["key"]))
        return [urllib.request.HTTPSHandler(context=context)]


bestallning = {"OrgNr": lund["org"], "BestallningsId": lund["bestallningsid"]}
person = ordinary_with_relations(DATA)
pnr = text(person, "Personpost/PersonId/PersonNr")
efternamn = text(person, "Personpost/Namn/Efternamn")
fornamn = text(person, "Personpost/Namn/Fornamn")

for version in ["V2", "V3", "V4"]:
    base = f"{URL}/na/na_epersondata/{version}"
    try:
        pp = Client(f"{base}/personpostXML?wsdl", transport=MutualTls(), cache=None)
        ns = Client(f"{base}/namnsokningXML?wsdl", transport=MutualTls(), cache=None)
    except Exception as e:  # a WSDL suds cannot load is the failure this test exists for
        tally.fail(f"{version}: suds cannot load the WSDL: {e!r}")
        continue
    check(f"{version} service", pp.wsdl.services[0].name, "PersonpostXMLService")
    answer = pp.service.getData(Bestallning=bestallning, PersonId=int(pnr))
    posts = answer.Folkbokforingspost if answer and hasattr(answer, "Folkbokforingspost") else []
    check(f"{version} personpost hits", len(posts), 1)
    if posts:
        check(f"{version} PersonNr", str(posts[0].Personpost.PersonId.PersonNr), pnr)
        check(f"{version} Efternamn", str(posts[0].Personpost.Namn.Efternamn), efternamn)
    found = ns.service.getData(
        Bestallning=bestallning,
        SokvillkorNamn={"Fornamn": fornamn.split()[0], "EfterMellanNamn": efternamn},
    )
    hits = found.Folkbokforingspost if found and hasattr(found, "Folkbokforingspost") else []
    check(
        f"{version} namnsokning finds the person",
        any(str(h.Personpost.PersonId.PersonNr) == pnr for h in hits),
        True,
    )
    try:
        pp.service.getData(Bestallning=bestallning, PersonId=198602212395)
        check(f"{version} bad PersonId is a fault", False, True)
    except WebFault as e:
        check(f"{version} Felkod", int(e.fault.detail.WebServiceFault.Felkod), 1101)

tally.finish()
