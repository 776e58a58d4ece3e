"""Known persons of the demo population, read from the delivery `folkreg serve` loaded
($FOLKREG_DATA/demo/leverans-demo-FULL.xml.gz), by Navet's element names
(FolkbokforingspostTYPE): the truth the interoperability clients compare answers with.

    python3 tests/interop/demo_people.py DATA_DIR   # prints NAME=VALUE lines for a shell
"""

import gzip
import shlex
import os
import sys
import xml.etree.ElementTree as ET


def local(tag):
    return tag.rsplit("}", 1)[-1]


def text(el, path):
    found = el.find(path)
    return None if found is None else found.text


def relation_ids(pp):
    """(Relationstyp, number) of each Relation, the number being RelationId's PersonNr or
    FodelsetidNr, as strings."""
    out = []
    for r in pp.findall("Relationer/Relation"):
        rid = r.find("RelationId")
        number = None
        if rid is not None and len(rid):
            number = rid[0].text
        out.append((text(r, "Relationstyp"), number))
    return out


def ordinary_with_relations(data_dir):
    """The first person without protection or avregistrering, with a personnummer, a name, a
    folkbokföringsadress, civilstånd and relations of which at least one has a PersonNr."""
    demo = os.path.join(data_dir, "demo", "leverans-demo-FULL.xml.gz")
    for _, el in ET.iterparse(gzip.open(demo), events=("end",)):
        if local(el.tag) != "Folkbokforingspost":
            continue
        for e in el.iter():
            e.tag = local(e.tag)
        p = el.find("Personpost")
        if (
            p is not None
            and text(el, "Sekretessmarkering") not in ("J",)
            and text(el, "SkyddadFolkbokforing") not in ("J",)
            and p.find("Avregistrering") is None
            and p.find("PersonId/PersonNr") is not None
            and p.find("Adresser/Folkbokforingsadress/Postort") is not None
            and p.find("Namn/Fornamn") is not None
            and p.find("Namn/Efternamn") is not None
            and p.find("Civilstand/CivilstandKod") is not None
            and p.find("Relationer/Relation/RelationId/PersonNr") is not None
        ):
            return el
        el.clear()
    return None


if __name__ == "__main__":
    post = ordinary_with_relations(sys.argv[1])
    if post is None:
        sys.exit("demo_people: the demo delivery has no ordinary person with a numbered relation in Navet's elements")
    pp = post.find("Personpost")
    for name, value in [
        ("PNR", text(pp, "PersonId/PersonNr")),
        ("FORNAMN", text(pp, "Namn/Fornamn").split()[0]),
        ("EFTERNAMN", text(pp, "Namn/Efternamn")),
        ("RELATIONS", ",".join(sorted(n for _, n in relation_ids(pp) if n))),
    ]:
        print(f"{name}={shlex.quote(value)}")
