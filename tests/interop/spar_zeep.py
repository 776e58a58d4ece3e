"""zeep against folkreg's SPAR PersonSök 2021.1 (`/2021.1/`): the client is built from the
live ?wsdl alone (its schema set fetched from the server over mutual TLS), and calls
`PersonSok`: a hit by IdNummer checked against the delivery the server loaded, a no-hit, a
search over the cap, SPAR's refusals (Undantag), and the end user's categories narrowing
what the organisation may see."""

import os
import sys

import zeep
from zeep.transports import Transport

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from demo_people import ordinary_with_relations, text  # noqa: E402
from harness import Tally  # noqa: E402

URL = os.environ["FOLKREG_URL"]
DATA = os.environ["FOLKREG_DATA"]
REPO = os.environ["FOLKREG_REPO"]
MISS = "190001019801"  # a valid number the demo population does not hold

tally = Tally("zeep (SPAR)")
check = tally.check


def client_for(name):
    """A zeep client for PersonSok presenting this dev certificate, from the live WSDL."""
    session = harness.mtls_session(REPO, name)
    client = zeep.Client(f"{URL}/2021.1/?wsdl", transport=Transport(session=session))
    return client.service


def ident(kund=(500200, 500200), utokad=None):
    out = {
        "KundNrLeveransMottagare": kund[0],
        "KundNrSlutkund": kund[1],
        "UppdragId": 637,
        "SlutAnvandarId": "zeep-interop",
    }
    if utokad:
        out["SlutAnvandarUtokadBehorighet"] = utokad
    return out


def posts(answer):
    return list(answer["PersonsokningSvarspost"] or [])


def main():
    norrby = client_for("client-norrby")
    person = ordinary_with_relations(DATA)
    if person is None:
        tally.fail("no ordinary person with relations in the demo delivery")
        tally.finish()
    pp = person.find("Personpost")
    pnr = text(pp, "PersonId/PersonNr")
    efternamn = text(pp, "Namn/Efternamn")

    # A hit by number, as the delivery holds the person.
    answer = norrby.PersonSok(Identifieringsinformation=ident(), PersonsokningFraga={"IdNummer": pnr})
    hits = posts(answer)
    check("hit: posts", len(hits), 1)
    if hits:
        post = hits[0]
        check("hit: IdNummer", str(post["PersonId"]["IdNummer"]), pnr)
        check("hit: Efternamn", post["Namn"][0]["Efternamn"] if post["Namn"] else None, efternamn)
        # An element with SPAR's attribute sattAvSPAR: zeep keeps the text in _value_1.
        check("hit: Sekretessmarkering", post["Sekretessmarkering"]["_value_1"], "NEJ")
        check("hit: no relations without the end user's Relationer", post["Relation"] or [], [])
    check("hit: no Undantag", answer["Undantag"], None)
    check("hit: UUID", bool(answer["UUID"]), True)

    # With the end user's Relationer (Norrby holds relationer), the relations come.
    answer = norrby.PersonSok(
        Identifieringsinformation=ident(utokad=["Relationer"]), PersonsokningFraga={"IdNummer": pnr}
    )
    hits = posts(answer)
    check("relations: present", bool(hits and hits[0]["Relation"]), True)

    # Taxering (Norrby holds it): the income only for an end user with Taxering.
    with_tax = posts(norrby.PersonSok(
        Identifieringsinformation=ident(utokad=["Taxering"]), PersonsokningFraga={"IdNummer": pnr}
    ))
    check("taxering: SummeradInkomst", bool(with_tax and with_tax[0]["SummeradInkomst"] is not None), True)
    without = posts(norrby.PersonSok(Identifieringsinformation=ident(), PersonsokningFraga={"IdNummer": pnr}))
    check("taxering: none without", bool(without and without[0]["SummeradInkomst"] is not None), False)

    # No hit: no posts and no Undantag.
    answer = norrby.PersonSok(Identifieringsinformation=ident(), PersonsokningFraga={"IdNummer": MISS})
    check("no hit: posts", posts(answer), [])
    check("no hit: no Undantag", answer["Undantag"], None)

    # Over the cap: no posts, the real count and the cap.
    answer = norrby.PersonSok(
        Identifieringsinformation=ident(), PersonsokningFraga={"MellanEfternamnSokArgument": "Anders*"}
    )
    over = answer["OverstigerMaxAntalSvarsposter"]
    check("cap: posts", posts(answer), [])
    check("cap: MaxAntalSvarsposter", over and over["MaxAntalSvarsposter"], 100)
    check("cap: AntalPoster > 100", bool(over and over["AntalPoster"] > 100), True)

    # A narrow search finds the person.
    postort = text(pp, "Adresser/Folkbokforingsadress/Postort")
    answer = norrby.PersonSok(
        Identifieringsinformation=ident(),
        PersonsokningFraga={"MellanEfternamnSokArgument": efternamn, "PostortSokArgument": postort},
    )
    found = [str(p["PersonId"]["IdNummer"]) for p in posts(answer)]
    check("search: finds the person", pnr in found, True)

    # SPAR's refusals (Kod is xs:string in Undantag-1.0.xsd): another organisation's
    # customer numbers; a wildcard too short.
    answer = norrby.PersonSok(
        Identifieringsinformation=ident(kund=(500300, 500300)), PersonsokningFraga={"IdNummer": pnr}
    )
    check("undantag: Kod (customer numbers)", answer["Undantag"] and answer["Undantag"]["Kod"], "2007")
    check("undantag: no posts", posts(answer), [])
    answer = norrby.PersonSok(
        Identifieringsinformation=ident(), PersonsokningFraga={"MellanEfternamnSokArgument": "A*"}
    )
    check("undantag: Kod (wildcard)", answer["Undantag"] and answer["Undantag"]["Kod"], "2004")

    # Lund (grund only): an end user's Taxering cannot widen it.
    lund = client_for("client-lund")
    answer = lund.PersonSok(
        Identifieringsinformation=ident(kund=(500100, 500100), utokad=["Relationer", "Taxering"]),
        PersonsokningFraga={"IdNummer": pnr},
    )
    hits = posts(answer)
    check("lund: one post", len(hits), 1)
    check("lund: no relations", bool(hits and hits[0]["Relation"]), False)
    tally.finish()


if __name__ == "__main__":
    main()
