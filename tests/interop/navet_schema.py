"""folkreg's one-schema layout of Navet's ePersondata types, made and checked mechanically.

Navet's own files (../shared/reference/navet/v4-2023/schema/, na_webservices_xmls 7_2_28) put
the person types in a no-namespace schema (Navetavisering.xsd) imported into the V1 schema
(Epersondata.xsd). zeep and suds cannot read that layout (WIRE.md, "Decision — schema layout
that generic clients read"), so folkreg serves ONE schema, wsdl/epersondata.xsd, in the V1
namespace: every element and type of Epersondata.xsd, and every type of Navetavisering.xsd
that Epersondata.xsd reaches (FolkbokforingsposterTYPE and everything below it), each
unchanged but for two things: references to the no-namespace types now name them in V1
(`tns:`), and every local element of a Navetavisering type says `form="unqualified"`, so the
bytes on the wire are the ones Navet's layout gives (person data in no namespace).

    python3 tests/interop/navet_schema.py write   # (re)make wsdl/epersondata.xsd
    python3 tests/interop/navet_schema.py check   # fail if it differs from Navet's files
    python3 tests/interop/navet_schema.py check-wsdl FILE SERVICE VERSION
                                                  # a served ?wsdl against Navet's WSDL

`check` does not use what `write` does: it reads both layouts into canonical trees (every
QName resolved to its namespace, Navet's no-namespace names mapped to V1, `form` checked and
then dropped, documentation whitespace normalised) and compares them component by component,
and checks that the set of components is exactly Epersondata.xsd's plus the closure of what
it references in Navetavisering.xsd.
"""

import os
import re
import sys
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
NAVET = os.path.abspath(os.path.join(REPO, "..", "shared", "reference", "navet"))
SCHEMA_DIR = os.path.join(NAVET, "v4-2023", "schema")
OURS = os.path.join(REPO, "wsdl", "epersondata.xsd")

XS = "http://www.w3.org/2001/XMLSchema"
V1 = "http://xmls.skatteverket.se/se/skatteverket/folkbokforing/na/epersondata/V1"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
# Attributes whose value is a QName (or a list of them).
QNAME_ATTRS = {"type", "base", "ref", "itemType", "memberTypes", "element", "message", "binding"}
COMPONENTS = {"complexType", "simpleType", "group", "element", "attributeGroup", "attribute"}


def q(ns, local):
    return f"{{{ns}}}{local}"


def parse(path_or_text, text=False):
    """The root element and the document's prefix map (declared anywhere, one map)."""
    import io

    source = io.BytesIO(path_or_text.encode()) if text else path_or_text
    prefixes = {}
    root = None
    for event, item in ET.iterparse(source, events=("start-ns", "start")):
        if event == "start-ns":
            prefix, uri = item
            prefixes.setdefault(prefix, uri)
        elif root is None:
            root = item
    return root, prefixes


def components(root):
    """Top-level named schema components: {name: element}, in document order."""
    out = {}
    for child in root:
        local = child.tag.split("}")[-1]
        if local in COMPONENTS and child.get("name"):
            if child.get("name") in out:
                sys.exit(f"duplicate component {child.get('name')}")
            out[child.get("name")] = child
    return out


def refs(el):
    """Unprefixed QName references below el (Navet's no-namespace names)."""
    found = []
    for e in el.iter():
        for a in QNAME_ATTRS & set(e.attrib):
            for v in e.get(a).split():
                if ":" not in v:
                    found.append(v)
    return found


def closure(navetavisering, roots):
    """The Navetavisering components reachable from these names, in its document order."""
    comps = components(navetavisering)
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in comps:
            sys.exit(f"{name} is referenced but not defined in Navetavisering.xsd")
        seen.add(name)
        todo.extend(refs(comps[name]))
    return [n for n in comps if n in seen]


def navet():
    ep, _ = parse(os.path.join(SCHEMA_DIR, "Epersondata.xsd"))
    na, _ = parse(os.path.join(SCHEMA_DIR, "Navetavisering.xsd"))
    if ep.get("targetNamespace") != V1 or na.get("targetNamespace") is not None:
        sys.exit("Navet's files are not the layout this script knows")
    moved = closure(na, refs(ep))
    return ep, na, moved


# --- write -------------------------------------------------------------------------------


def write():
    ep, na, moved = navet()
    ET.register_namespace("xs", XS)
    out = ET.Element(q(XS, "schema"))
    out.set("targetNamespace", V1)
    out.set("elementFormDefault", "qualified")
    out.set("attributeFormDefault", "unqualified")
    out.set("version", ep.get("version", "1.0"))
    out.set("xmlns:tns", V1)

    def retarget(el, local_form):
        for e in el.iter():
            for a in QNAME_ATTRS & set(e.attrib):
                e.set(a, " ".join(v if ":" in v else "tns:" + v for v in e.get(a).split()))
            if local_form and e is not el and e.tag == q(XS, "element"):
                e.set("form", "unqualified")
        return el

    for child in ep:
        if child.tag == q(XS, "import"):
            continue
        if isinstance(child.tag, str):
            out.append(retarget(child, False))
    out.append(ET.Comment(
        " From Navetavisering.xsd (na_webservices_xmls 7_2_28): every type Epersondata.xsd"
        " reaches, in the V1 namespace; local elements unqualified, as Navet's no-namespace"
        " schema has them. "
    ))
    comps = components(na)
    for name in moved:
        out.append(retarget(comps[name], True))
    ET.indent(out, space="  ")
    body = ET.tostring(out, encoding="unicode")
    header = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!-- version: na_webservices_xmls.7_2.28 -->\n"
        "<!--\n"
        "  folkreg: Navet's ePersondata schema (Epersondata.xsd with the Navetavisering.xsd types it\n"
        "  reaches) as ONE schema in the V1 namespace, so that zeep, suds and node-soap read it\n"
        "  (WIRE.md, \"Decision - schema layout that generic clients read\"). The wire bytes are\n"
        "  Navet's. Made by tests/interop/navet_schema.py write; checked against Navet's own files\n"
        "  by tests/interop/navet_schema.py check (CI). Do not edit by hand.\n"
        "-->\n"
    )
    with open(OURS, "w", encoding="utf-8") as f:
        f.write(header + body + "\n")
    print(f"wrote {os.path.relpath(OURS, REPO)}: {len(components(ep))} Epersondata components,"
          f" {len(moved)} from Navetavisering")


# --- check -------------------------------------------------------------------------------


def canon(el, prefixes, no_ns, expect_form, path):
    """A comparable tree: (tag, attrs, text, children). QName values become {ns}local, with
    unprefixed names in no_ns; `form` must equal expect_form on local elements (unless that is
    "any": Navet's own files), then dropped."""
    attrs = {}
    for k, v in el.attrib.items():
        if k == "form":
            continue
        if k in QNAME_ATTRS:
            vals = []
            for name in v.split():
                prefix, _, local = name.rpartition(":")
                ns = prefixes.get(prefix) if prefix else no_ns
                if prefix and ns is None:
                    raise ValueError(f"{path}: undeclared prefix in {name}")
                vals.append(q(ns, local) if ns else local)
            v = " ".join(vals)
        attrs[k] = v
    if expect_form != "any" and el.tag == q(XS, "element") and "/" in path:
        if el.get("form") != expect_form:
            raise ValueError(f"{path}: form={el.get('form')!r}, want {expect_form!r}")
    text = " ".join((el.text or "").split())
    children = tuple(
        canon(c, prefixes, no_ns, expect_form, f"{path}/{c.get('name') or c.tag.split('}')[-1]}")
        for c in el
        if isinstance(c.tag, str)
    )
    return (el.tag, tuple(sorted(attrs.items())), text, children)


def first_difference(a, b, path="") -> str:
    if a[0] != b[0]:
        return f"{path}: element {a[0]} vs {b[0]}"
    if a[1] != b[1]:
        return f"{path}: attributes {dict(a[1])} vs {dict(b[1])}"
    if a[2] != b[2]:
        return f"{path}: text {a[2]!r} vs {b[2]!r}"
    if len(a[3]) != len(b[3]):
        return f"{path}: {len(a[3])} children vs {len(b[3])}"
    for x, y in zip(a[3], b[3]):
        d = first_difference(x, y, f"{path}/{dict(x[1]).get('name', x[0].split('}')[-1])}")
        if d:
            return d
    return ""


def check():
    ep, na, moved = navet()
    _, ep_prefixes = parse(os.path.join(SCHEMA_DIR, "Epersondata.xsd"))
    _, na_prefixes = parse(os.path.join(SCHEMA_DIR, "Navetavisering.xsd"))
    ours, our_prefixes = parse(OURS)
    problems = []
    if ours.get("targetNamespace") != V1:
        problems.append("targetNamespace is not V1")
    if ours.get("elementFormDefault") != "qualified":
        problems.append('elementFormDefault is not "qualified"')
    if any(c.tag in (q(XS, "import"), q(XS, "include")) for c in ours):
        problems.append("imports or includes another schema: it must stand alone")
    ep_comps, na_comps, our_comps = components(ep), components(na), components(ours)
    clash = set(ep_comps) & set(moved)
    if clash:
        problems.append(f"names in both Navet files: {sorted(clash)}")
    want = list(ep_comps) + moved
    missing = [n for n in want if n not in our_comps]
    extra = [n for n in our_comps if n not in want]
    if missing:
        problems.append(f"missing components: {missing}")
    if extra:
        problems.append(f"components Navet's files do not have (or do not reach): {extra}")
    for name in want:
        if name not in our_comps:
            continue
        if name in ep_comps:
            source, prefixes, form = ep_comps[name], ep_prefixes, None
        else:
            source, prefixes, form = na_comps[name], na_prefixes, "unqualified"
        try:
            # Navet's unprefixed references name no-namespace types, which now live in V1.
            theirs = canon(source, prefixes, V1, "any", name)
            mine = canon(our_comps[name], our_prefixes, None, form, name)
        except ValueError as e:
            problems.append(str(e))
            continue
        d = first_difference(mine, theirs, name)
        if d:
            problems.append(f"differs from Navet's: {d}")
    for p in problems:
        print(f"FAIL epersondata.xsd: {p}")
    print(f"schema layout: {len(want) - len(missing)} of {len(want)} components as Navet's"
          f" ({len(ep_comps)} from Epersondata.xsd, {len(moved)} from Navetavisering.xsd),"
          f" {len(problems)} problem(s)")
    return not problems


# --- check-wsdl --------------------------------------------------------------------------


def reference_wsdl(service, version):
    """Navet's WSDL for this service and version: V2 and V4 as published, V3 (not in the
    public files) as V4 with the version in its namespace, documentation and address."""
    if version == "V2":
        return open(os.path.join(NAVET, "v2-2015", f"{service}.wsdl"), encoding="utf-8").read()
    text = open(os.path.join(NAVET, "v4-2023", f"{service}.wsdl"), encoding="utf-8").read()
    if version == "V3":
        text = (text.replace(f"/{service}/v4", f"/{service}/v3")
                .replace("Version 4.0", "Version 3.0")
                .replace("/V4/", "/V3/"))
    return text


def wsdl_canon(text):
    root, prefixes = parse(text, text=True)
    out = []
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        attrs = {}
        for k, v in el.attrib.items():
            if k == "schemaLocation" or (k == "location" and el.tag == q(SOAP, "address")):
                v = "(address)"
            elif k in QNAME_ATTRS and ":" in v:
                prefix, _, local = v.partition(":")
                v = q(prefixes.get(prefix, "?" + prefix), local)
            attrs[k] = v
        out.append((el.tag, tuple(sorted(attrs.items())), " ".join((el.text or "").split())))
    return out


def check_wsdl(path, service, version):
    served = open(path, encoding="utf-8").read()
    mine, theirs = wsdl_canon(served), wsdl_canon(reference_wsdl(service, version))
    ok = mine == theirs
    if not ok:
        for i, (a, b) in enumerate(zip(mine, theirs)):
            if a != b:
                print(f"FAIL {service} {version} WSDL, item {i}: served {a} vs Navet's {b}")
                break
        else:
            print(f"FAIL {service} {version} WSDL: {len(mine)} items vs Navet's {len(theirs)}")
    # The import points at the one schema, served beside the WSDL.
    if f'schemaLocation="{service}?xsd=epersondata.xsd"' not in served:
        print(f"FAIL {service} {version} WSDL: the import is not {service}?xsd=epersondata.xsd")
        ok = False
    print(f"{service} {version} WSDL: {'as Navet' if ok else 'DIFFERS from Navet'}")
    return ok


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "check"
    if cmd == "write":
        write()
    elif cmd == "check":
        sys.exit(0 if check() else 1)
    elif cmd == "check-wsdl" and len(sys.argv) == 5:
        sys.exit(0 if check_wsdl(*sys.argv[2:]) else 1)
    else:
        sys.exit(__doc__)
