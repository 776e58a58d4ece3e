"""zeep, a third-party SOAP client, against a running folkreg: WSDL alone, mutual TLS,
both operations checked field by field against the delivery the server loaded, and faults."""

import gzip
import os
import sys
import tomllib
import urllib.request
import xml.etree.ElementTree as ET

import requests
import zeep
from zeep.transports import Transport

URL = os.environ["FOLKREG_URL"]
DATA = os.environ["FOLKREG_DATA"]
REPO = os.environ["FOLKREG_REPO"]
CERTS = os.path.join(REPO, "certs-dev")

failures = 0
passed = 0


def check(what, got, want):
    global failures, passed
    if got == want:
        passed += 1
    else:
        failures += 1
        print(f"FAIL {what}: got {got!r}, want {want!r}")


index = tomllib.load(open(os.path.join(CERTS, "index.toml"), "rb"))["cert"]
root_ca = next(c for c in index if c["kind"] == "root-ca")


def caller(name):
    """A zeep transport presenting this dev client certificate, and its Bestallning."""
    c = next(c for c in index if c["name"] == name)
    session = requests.Session()
    # Only the development root: REQUESTS_CA_BUNDLE in the environment must not replace it.
    session.trust_env = False
    session.verify = os.path.join(CERTS, root_ca["cert"])
    session.cert = (os.path.join(CERTS, c["cert"]), os.path.join(CERTS, c["key"]))
    return Transport(session=session), {"OrgNr": c["org"], "BestallningsId": c["bestallningsid"]}


# Every category but sekretess: the whole record of an ordinary person, field by field.
transport, bestallning = caller("client-norrby")


def records(answer):
    """zeep unwraps the one-child response to Folkbokforingsposter; its list of records."""
    if answer is None:
        return []
    if isinstance(answer, list):
        return answer
    return list(answer["Folkbokforingspost"] or [])


def text(el, path):
    found = el.find(path)
    return None if found is None else found.text


# The truth: an ordinary person from the delivery the server loaded.
demo = os.path.join(DATA, "demo", "leverans-demo-FULL.xml.gz")
expected = None
for _, el in ET.iterparse(gzip.open(demo), events=("end",)):
    if el.tag != "Folkbokforingspost":
        continue
    p = el.find("Personpost")
    if (
        el.find("Sekretessmarkering") is None
        and el.find("SkyddadFolkbokforing") is None
        and p.find("Avregistrering") is None
        and p.find("PersonId/PersonNr") is not None
        and p.find("Adresser/Folkbokforingsadress/Postort") is not None
        and p.find("Namn/Fornamn") is not None
        and p.find("Civilstand") is not None
    ):
        expected = el
        break
    el.clear()
assert expected is not None, "the demo data has an ordinary person"
pp = expected.find("Personpost")
pnr = text(pp, "PersonId/PersonNr")

pp_client = zeep.Client(f"{URL}/na/na_epersondata/V2/personpostXML?wsdl", transport=transport)
answer = pp_client.service.personpostXML(Bestallning=bestallning, PersonId=pnr)
posts = records(answer)
check("personpost hits", len(posts), 1)
got = posts[0]
gp = got["Personpost"]
check("PersonNr", gp["PersonId"]["PersonNr"], pnr)
check("Arendeuppgift", got["Arendeuppgift"]["andringstidpunkt"], expected.find("Arendeuppgift").get("andringstidpunkt"))
for field in ["Fornamn", "Mellannamn", "Efternamn", "Tilltalsnamnsmarkering"]:
    check(f"Namn/{field}", gp["Namn"][field], text(pp, f"Namn/{field}"))
for field in ["Folkbokforingsdatum", "LanKod", "KommunKod", "Fastighetsbeteckning", "Distrikt"]:
    check(f"Folkbokforing/{field}", gp["Folkbokforing"][field], text(pp, f"Folkbokforing/{field}"))
for field in ["CareOf", "Utdelningsadress1", "Utdelningsadress2", "PostNr", "Postort"]:
    check(
        f"Folkbokforingsadress/{field}",
        gp["Adresser"]["Folkbokforingsadress"][field],
        text(pp, f"Adresser/Folkbokforingsadress/{field}"),
    )
check("Kon", gp["Kon"], text(pp, "Kon"))
check("Fodelsetid", gp["Fodelsetid"], text(pp, "Fodelsetid"))
check("CivilstandKod", gp["Civilstand"]["CivilstandKod"], text(pp, "Civilstand/CivilstandKod"))
check(
    "Medborgarskap",
    [m["MedborgarskapslandKod"] for m in gp["Medborgarskap"]],
    [m.text for m in pp.findall("Medborgarskap/MedborgarskapslandKod")],
)
check(
    "Relationer",
    [(r["Relationstyp"], r["PersonNr"]) for r in (gp["Relationer"]["Relation"] if gp["Relationer"] else [])],
    [(text(r, "Relationstyp"), text(r, "PersonNr")) for r in pp.findall("Relationer/Relation")],
)

# Lunds universitet has grund only: the same lookup without relations, civilstånd,
# medborgarskap (the access rules, seen through a generic client).
lund_transport, lund_bestallning = caller("client-lund")
lund_client = zeep.Client(f"{URL}/na/na_epersondata/V2/personpostXML?wsdl", transport=lund_transport)
lund_posts = records(lund_client.service.personpostXML(Bestallning=lund_bestallning, PersonId=pnr))
check("grund-only hits", len(lund_posts), 1)
lp = lund_posts[0]["Personpost"]
check("grund-only Namn", lp["Namn"]["Efternamn"], text(pp, "Namn/Efternamn"))
check("grund-only Civilstand", lp["Civilstand"], None)
check("grund-only Relationer", lp["Relationer"], None)
check("grund-only Medborgarskap", list(lp["Medborgarskap"] or []), [])

# A number that does not exist: an empty answer, not a fault.
missing = pp_client.service.personpostXML(Bestallning=bestallning, PersonId="189001012385")
check("missing person", len(records(missing)), 0)

# Search: the same person by first name, surname and postort.
ns_client = zeep.Client(f"{URL}/na/na_epersondata/V2/namnsokningXML?wsdl", transport=transport)
criteria = {
    "Adress": None,
    "EfterMellanNamn": text(pp, "Namn/Efternamn"),
    "FodelsetidFrom": text(pp, "Fodelsetid"),
    "FodelsetidTom": text(pp, "Fodelsetid"),
    "Fornamn": text(pp, "Namn/Fornamn").split()[0],
    "Kon": None,
    "PostnummerFrom": None,
    "PostnummerTom": None,
    "Postort": text(pp, "Adresser/Folkbokforingsadress/Postort"),
    "Kategori": None,
}
hits = ns_client.service.namnsokningXML(Bestallning=bestallning, SokvillkorNamn=criteria)
hits = records(hits)
check("search finds the person", pnr in [h["Personpost"]["PersonId"]["PersonNr"] for h in hits], True)

# Faults come through zeep as zeep.exceptions.Fault with the detail's Felkod.
try:
    ns_client.service.namnsokningXML(Bestallning=bestallning, SokvillkorNamn={**criteria, "EfterMellanNamn": None, "Fornamn": None})
    check("1102 raised", False, True)
except zeep.exceptions.Fault as f:
    check("fault code", f.code, "S:Client")
    felkod = [e.text for e in f.detail.iter() if e.tag.endswith("Felkod")]
    check("Felkod", felkod, ["1102"])

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
    felkod = [e.text for e in f.detail.iter() if e.tag.endswith("Felkod")]
    check("not an avisering order Felkod", felkod, ["1101"])

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

print(f"zeep: {passed} passed, {failures} failed")
sys.exit(1 if failures else 0)
