"""zeep, a third-party SOAP client, against a running folkreg: from the live ?wsdl alone (no
plugin), mutual TLS, V2, V3 and V4 of both ePersondata services (Navet's operation getData),
answers checked field by field against the delivery the server loaded, typed faults
(zeep.exceptions.Fault, detail WebServiceFault/Felkod an int), and folkreg's own avisering
services."""

import os
import sys
import urllib.request

import zeep
from zeep.transports import Transport

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from demo_people import ordinary_with_relations, relation_ids, text  # noqa: E402
from harness import Tally, dev_certs  # noqa: E402

URL = os.environ["FOLKREG_URL"]
DATA = os.environ["FOLKREG_DATA"]
REPO = os.environ["FOLKREG_REPO"]
VERSIONS = ["V2", "V3", "V4"]

tally = Tally("zeep")
check = tally.check
index = dev_certs(REPO)


def caller(name):
    """A zeep transport presenting this dev client certificate, and its Bestallning."""
    c = next(c for c in index if c["name"] == name)
    session = harness.mtls_session(REPO, name)
    return Transport(session=session), {"OrgNr": c["org"], "BestallningsId": c["bestallningsid"]}


def records(answer):
    """zeep unwraps the one-child response to Folkbokforingsposter; its list of records."""
    if answer is None:
        return []
    if isinstance(answer, list):
        return answer
    return list(answer["Folkbokforingspost"] or [])


def as_int(value):
    """Navet's numbers and dates are xs:integer: zeep gives int; the delivery gives text."""
    return None if value is None else int(value)


def felkod(fault):
    """WebServiceFault/Felkod of a zeep Fault's detail, as the int the schema declares."""
    found = [e.text for e in fault.detail.iter() if isinstance(e.tag, str) and e.tag.endswith("WebServiceFault")]
    codes = [e.text for e in fault.detail.iter() if isinstance(e.tag, str) and e.tag.endswith("Felkod")]
    check("fault detail is WebServiceFault", len(found), 1)
    return int(codes[0]) if codes else None


def client(service, version, transport):
    return zeep.Client(f"{URL}/na/na_epersondata/{version}/{service}?wsdl", transport=transport)


# Every category but sekretess: the whole record of an ordinary person, field by field.
transport, bestallning = caller("client-norrby")
expected = ordinary_with_relations(DATA)
if expected is None:
    print("FAIL the demo delivery has no ordinary person with a numbered relation in Navet's elements")
    sys.exit(1)
pp = expected.find("Personpost")
pnr = text(pp, "PersonId/PersonNr")
want_relations = sorted((t, as_int(n)) for t, n in relation_ids(pp))

for version in VERSIONS:
    pp_client = client("personpostXML", version, transport)
    check(f"{version} personpostXML operations", sorted(pp_client.service._operations), ["getData"])
    posts = records(pp_client.service.getData(Bestallning=bestallning, PersonId=pnr))
    check(f"{version} personpost hits", len(posts), 1)
    if not posts:
        continue
    gp = posts[0]["Personpost"]
    check(f"{version} PersonNr", gp["PersonId"]["PersonNr"], int(pnr))
    for field in ["Fornamn", "Mellannamn", "Efternamn"]:
        check(f"{version} Namn/{field}", gp["Namn"][field], text(pp, f"Namn/{field}"))
    check(f"{version} Tilltalsnamnsmarkering", gp["Namn"]["Tilltalsnamnsmarkering"], as_int(text(pp, "Namn/Tilltalsnamnsmarkering")))
    for field in ["LanKod", "KommunKod", "Fastighetsbeteckning"]:
        check(f"{version} Folkbokforing/{field}", gp["Folkbokforing"][field], text(pp, f"Folkbokforing/{field}"))
    check(f"{version} Folkbokforingsdatum", gp["Folkbokforing"]["Folkbokforingsdatum"], as_int(text(pp, "Folkbokforing/Folkbokforingsdatum")))
    adress = gp["Adresser"]["Folkbokforingsadress"]
    for field in ["CareOf", "Utdelningsadress1", "Utdelningsadress2", "Postort"]:
        check(f"{version} Folkbokforingsadress/{field}", adress[field], text(pp, f"Adresser/Folkbokforingsadress/{field}"))
    check(f"{version} PostNr", adress["PostNr"], as_int(text(pp, "Adresser/Folkbokforingsadress/PostNr")))
    check(f"{version} CivilstandKod", gp["Civilstand"]["CivilstandKod"], text(pp, "Civilstand/CivilstandKod"))
    check(
        f"{version} Medborgarskap",
        [m["MedborgarskapslandKod"] for m in gp["Medborgarskap"]],
        [m.text for m in pp.findall("Medborgarskap/MedborgarskapslandKod")],
    )
    got_relations = sorted(
        (r["Relationstyp"], r["RelationId"]["PersonNr"] if r["RelationId"]["PersonNr"] is not None else r["RelationId"]["FodelsetidNr"])
        for r in (gp["Relationer"]["Relation"] if gp["Relationer"] else [])
    )
    check(f"{version} Relation RelationId/Relationstyp", got_relations, want_relations)

# Lunds universitet has grund only: the same lookup without relations, civilstånd,
# medborgarskap (the access rules, seen through a generic client).
lund_transport, lund_bestallning = caller("client-lund")
lund_posts = records(client("personpostXML", "V4", lund_transport).service.getData(Bestallning=lund_bestallning, PersonId=pnr))
check("grund-only hits", len(lund_posts), 1)
if lund_posts:
    lp = lund_posts[0]["Personpost"]
    check("grund-only Namn", lp["Namn"]["Efternamn"], text(pp, "Namn/Efternamn"))
    check("grund-only Civilstand", lp["Civilstand"], None)
    check("grund-only Relationer", lp["Relationer"], None)
    check("grund-only Medborgarskap", list(lp["Medborgarskap"] or []), [])

pp_client = client("personpostXML", "V4", transport)
# A number that does not exist: an empty answer, not a fault.
missing = pp_client.service.getData(Bestallning=bestallning, PersonId="189001012385")
check("missing person", len(records(missing)), 0)

# A bad PersonId (Luhn): the WSDL's declared fault, Felkod 1101.
try:
    pp_client.service.getData(Bestallning=bestallning, PersonId="198602212395")
    check("bad PersonId raised", False, True)
except zeep.exceptions.Fault as f:
    check("bad PersonId fault code", f.code, "S:Client")
    check("bad PersonId Felkod", felkod(f), 1101)

# Search: the same person by first name and surname (as SUNET's Navet client sends them).
fornamn = text(pp, "Namn/Fornamn").split()[0]
efternamn = text(pp, "Namn/Efternamn")
unused = {k: None for k in ["Adress", "EfterMellanNamn", "FodelsetidFrom", "FodelsetidTom", "Fornamn", "Kon", "PostnummerFrom", "PostnummerTom", "Postort"]}
for version in VERSIONS:
    ns_client = client("namnsokningXML", version, transport)
    check(f"{version} namnsokningXML operations", sorted(ns_client.service._operations), ["getData"])
    hits = records(ns_client.service.getData(Bestallning=bestallning, SokvillkorNamn={**unused, "Fornamn": fornamn, "EfterMellanNamn": efternamn}))
    check(f"{version} search finds the person", int(pnr) in [h["Personpost"]["PersonId"]["PersonNr"] for h in hits], True)

# A search with no name criterion: Felkod 1102.
try:
    client("namnsokningXML", "V4", transport).service.getData(Bestallning=bestallning, SokvillkorNamn={**unused, "Postort": "MALMÖ"})
    check("no name criterion raised", False, True)
except zeep.exceptions.Fault as f:
    check("no name criterion fault code", f.code, "S:Client")
    check("no name criterion Felkod", felkod(f), 1102)

# Ändringsavisering from its own WSDLs: Norrby kommun's orders in the development register.
# A fresh server has applied no load since the orders were taken up: not produced yet.
av_order = {"OrgNr": bestallning["OrgNr"], "BestallningsId": "00000079-AV02-0001"}
av_client = zeep.Client(f"{URL}/na/na_avisering/V1/hamtaAvisering?wsdl", transport=transport)
av = av_client.service.hamtaAvisering(Bestallning=av_order, Lopnummer=1)
check("hamtaAvisering Status", av["Status"], "EJ_KLAR")
check("hamtaAvisering no Leverans", av["Leverans"], None)
infil_order = {"OrgNr": bestallning["OrgNr"], "BestallningsId": "00000079-AV02-0002"}
infil_client = zeep.Client(f"{URL}/na/na_avisering/V1/lamnaInfil?wsdl", transport=transport)
page = infil_client.service.lamnaInfil(Bestallning=infil_order, Sida=1, AntalSidor=1, PersonNr=[pnr])
check("lamnaInfil Status", page["Status"], "KLAR")
check("lamnaInfil AntalPersoner", int(page["AntalPersoner"]), 1)
try:
    av_client.service.hamtaAvisering(Bestallning=bestallning, Lopnummer=1)
    check("not an avisering order raised", False, True)
except zeep.exceptions.Fault as f:
    check("not an avisering order Felkod", felkod(f), 1101)

# Urval (Navet 3.2-3.4), fetched with the same hamtaAvisering. Svar direkt mot infil: the last
# page of a lamnaInfil with SvarDirekt names the delivery that answers it.
direkt_order = {"OrgNr": bestallning["OrgNr"], "BestallningsId": "00000079-UR02-0003"}
answer = infil_client.service.lamnaInfil(
    Bestallning=direkt_order, Sida=1, AntalSidor=1, SvarDirekt=True, PersonNr=[pnr, "191212121212"]
)
check("svar direkt Status", answer["Status"], "KLAR")
check("svar direkt AntalPersoner", int(answer["AntalPersoner"]), 2)
check("svar direkt Lopnummer", int(answer["Lopnummer"]), 1)
direkt = av_client.service.hamtaAvisering(Bestallning=direkt_order, Lopnummer=1)
check("svar direkt delivery Status", direkt["Status"], "KLAR")
check("svar direkt delivery Typ", direkt["Leverans"]["Urval"]["Typ"], "svar_direkt")
check("svar direkt delivery AntalEjFunna", int(direkt["Leverans"]["Urval"]["AntalEjFunna"]), 1)
check("svar direkt delivery AntalPosterA", int(direkt["Leverans"]["AntalPosterA"]), 1)
check("svar direkt delivery records", len(direkt["Aviseringar"]["Avisering"]), 1)
if direkt["Aviseringar"]["Avisering"]:
    record = direkt["Aviseringar"]["Avisering"][0]["Folkbokforingspost"]
    check("svar direkt record PersonNr", record["Personpost"]["PersonId"]["PersonNr"], int(pnr))

# The nightly run (POST /load on the admin listener runs it now) draws Norrby's slumpmässigt
# urval: six undergroups of five.
admin = os.environ["FOLKREG_ADMIN"]
with urllib.request.urlopen(urllib.request.Request(f"{admin}/load", method="POST"), timeout=300) as r:
    check("POST /load", r.status, 200)
slump_order = {"OrgNr": bestallning["OrgNr"], "BestallningsId": "00000079-UR02-0002"}
slump = av_client.service.hamtaAvisering(Bestallning=slump_order, Lopnummer=1)
check("slumpmässigt urval Status", slump["Status"], "KLAR")
urval = slump["Leverans"]["Urval"]
check("slumpmässigt urval Typ", urval["Typ"], "slumpmassigt_urval")
check("slumpmässigt urval seed recorded", urval["Slumpfro"] is not None, True)
check(
    "slumpmässigt urval undergroups",
    [(int(u["Onskat"]), int(u["Antal"])) for u in urval["Undergrupp"]],
    [(5, 5)] * 6,
)
check("slumpmässigt urval records", int(slump["Leverans"]["AntalPosterA"]), 30)

tally.finish()
