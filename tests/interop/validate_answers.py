"""Validates SOAP answers folkreg sent against Navet's own schema (WIRE.md: every answer body
and every fault detail must validate against v4-2023/schema/, unmodified).

    python3 tests/interop/validate_answers.py DIR...

Each *.xml file under DIR is one SOAP envelope as received (the integration tests save every
answer they get into $FOLKREG_CAPTURE_DIR; the demo population's answers are rendered by
tests/it/navet_contract.rs). From each, the Body's child is taken:
- `PersonpostXMLResponse` / `NamnsokningXMLResponse`: validated against Navet's
  ../shared/reference/navet/v4-2023/schema/Epersondata.xsd;
- a `Fault`: its `detail` child (`WebServiceFault`), against the same schema;
- an avisering answer (`HamtaAviseringResponse`, `LamnaInfilResponse`, folkreg's own service):
  against wsdl/avisering.xsd, whose records are Navet's FolkbokforingspostTYPE;
- a delivery file (root `Navetavisering`: a downloaded avisering or urval delivery, or a file
  `folkreg generate` wrote): whole, against Navet's own Navetavisering.xsd;
- a SPAR answer (`SPARPersonsokningSvar`, SPAR's PersonSök 2021.1): against SPAR's own
  ../shared/reference/spar/2021.1/granssnitt/personsok/2021.1/PersonsokningSvar.xsd.
Prints valid/total per kind and the first errors; exits 1 if any is invalid or none was found.
"""

import os
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
NAVET_SCHEMA = os.path.abspath(
    os.path.join(REPO, "..", "shared", "reference", "navet", "v4-2023", "schema", "Epersondata.xsd")
)
AVI_SCHEMA = os.path.join(REPO, "wsdl", "avisering.xsd")
FILE_SCHEMA = os.path.abspath(
    os.path.join(REPO, "..", "shared", "reference", "navet", "v4-2023", "schema", "Navetavisering.xsd")
)
SPAR_SCHEMA = os.path.abspath(
    os.path.join(
        REPO, "..", "shared", "reference", "spar", "2021.1", "granssnitt", "personsok", "2021.1",
        "PersonsokningSvar.xsd",
    )
)
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
CHUNK = 400


def local(tag):
    return tag.rsplit("}", 1)[-1]


def part_of(path):
    """(kind, schema, element) of the envelope at path, or (why, None, None)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as e:
        return f"not well-formed: {e}", None, None
    if root.tag == "Navetavisering":
        return "delivery file", FILE_SCHEMA, root
    body = root.find(f"{{{SOAP11}}}Body")
    if body is None or len(body) != 1:
        return "no SOAP 1.1 Body with one child", None, None
    child = body[0]
    name = local(child.tag)
    if name in ("PersonpostXMLResponse", "NamnsokningXMLResponse"):
        return "answer", NAVET_SCHEMA, child
    if name == "Fault":
        detail = child.find("detail")
        if detail is None or len(detail) != 1:
            return "fault without one detail element", None, None
        return "fault detail", NAVET_SCHEMA, detail[0]
    if name in ("HamtaAviseringResponse", "LamnaInfilResponse"):
        return "avisering answer", AVI_SCHEMA, child
    if name == "SPARPersonsokningSvar":
        return "SPAR answer", SPAR_SCHEMA, child
    return f"unknown Body child {name}", None, None


def main(dirs):
    files = sorted(
        os.path.join(d, f) for d in dirs if os.path.isdir(d) for f in os.listdir(d) if f.endswith(".xml")
    )
    if not files:
        print(f"validate_answers: no captured answers in {' '.join(dirs)}")
        return 1
    ET.register_namespace("S", SOAP11)
    work = tempfile.mkdtemp(prefix="folkreg-answers-")
    groups = {}  # (kind, schema) -> [(extracted file, source file)]
    broken = []
    for i, path in enumerate(files):
        kind, schema, el = part_of(path)
        if schema is None:
            broken.append((path, kind))
            continue
        out = os.path.join(work, f"{i:06}.xml")
        ET.ElementTree(el).write(out, encoding="UTF-8", xml_declaration=True)
        groups.setdefault((kind, schema), []).append((out, path))
    invalid = list(broken)
    for (kind, schema), items in sorted(groups.items()):
        ok = 0
        for start in range(0, len(items), CHUNK):
            chunk = items[start : start + CHUNK]
            run = subprocess.run(
                ["xmllint", "--noout", "--schema", schema] + [f for f, _ in chunk],
                capture_output=True,
                text=True,
            )
            errors = {}
            for line in run.stderr.splitlines():
                for f, _ in chunk:
                    if line.startswith(f + ":") and "validates" not in line:
                        errors.setdefault(f, []).append(line[len(f) + 1 :])
            failed = {f for f, _ in chunk if f + " fails to validate" in run.stderr}
            for f, source in chunk:
                if f in failed:
                    invalid.append((source, "; ".join(errors.get(f, ["fails to validate"])[:3])))
                elif f + " validates" in run.stderr:
                    ok += 1
                else:
                    invalid.append((source, run.stderr.strip()[:300] or "xmllint said nothing"))
        print(f"{kind}: {ok}/{len(items)} valid against {os.path.relpath(schema, REPO)}")
    for path, why in invalid[:8]:
        print(f"INVALID {path}: {why[:400]}")
    if len(invalid) > 8:
        print(f"... and {len(invalid) - 8} more")
    total = len(files)
    print(f"validate_answers: {total - len(invalid)}/{total} valid")
    return 1 if invalid else 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1:]))
