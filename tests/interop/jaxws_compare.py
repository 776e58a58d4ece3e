"""Compares the JAX-WS classes wsimport generates from Navet's own WSDL with those it
generates from folkreg's live ?wsdl: the same class names, fields and methods (field and
method types by simple name).

    python3 tests/interop/jaxws_compare.py NAVET_CLASSES FOLKREG_CLASSES

Packages differ by design: Navet's person types are in a no-namespace schema, so JAXB puts
them in the package `generated`; folkreg's one-schema layout puts them in the V1 package
with the request types. Names are therefore compared without packages. Not compared:
`ObjectFactory` and `package-info` (one per package, so their number differs; the factory
methods of both of Navet's factories together are compared with folkreg's one instead), and
the classes of Navet's avisering file format (`Navetavisering` and the types only its
`Aviseringsinformation` reaches), which no ePersondata message uses and folkreg's schema
therefore does not carry.
"""

import os
import re
import subprocess
import sys

AVISERING_ONLY = {
    "Navetavisering",
    "AviseringsinformationTYPE",
    "MedieleverantorTYPE",
    "MediemottagareTYPE",
    "FilinformationTYPE",
    "UtfilTYPE",
}
PACKAGE = re.compile(r"\b(?:[a-z_][a-z0-9_]*\.)+(?=[A-Z])")


def classes(root):
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith(".class"):
                rel = os.path.relpath(os.path.join(d, f), root)[: -len(".class")]
                out[rel.replace(os.sep, ".")] = rel.rsplit(os.sep, 1)[-1]
    return out  # fully qualified -> simple name (with $ for nested)


def members(root, fq_names):
    """{simple class name: sorted member lines} from javap -p, packages stripped."""
    run = subprocess.run(["javap", "-p", "-cp", root] + sorted(fq_names), capture_output=True, text=True, check=True)
    out, current = {}, None
    for line in run.stdout.splitlines():
        line = PACKAGE.sub("", line.strip())
        if line.startswith("Compiled from"):
            continue
        m = re.match(r"(?:public |protected |private )?(?:abstract |final |static )*(?:class|interface|enum) (\S+)", line)
        if m and line.endswith("{"):
            current = m.group(1)
            out[current] = [re.sub(r"\s+", " ", line)]
        elif current and line not in ("}", ""):
            out[current].append(line)
    return {k: [v[0]] + sorted(v[1:]) for k, v in out.items()}


def factory_methods(root, fq):
    factories = [n for n in fq if fq[n] == "ObjectFactory"]
    lines = set()
    for factory in factories:  # one at a time: they share the simple name
        for lines_of in members(root, [factory]).values():
            lines.update(l for l in lines_of[1:] if not any(a in l for a in AVISERING_ONLY))
    return lines


def main(navet_root, ours_root):
    navet, ours = classes(navet_root), classes(ours_root)
    skip = {"ObjectFactory", "package-info"}
    navet_names = {s: fq for fq, s in navet.items() if s not in skip}
    our_names = {s: fq for fq, s in ours.items() if s not in skip}
    problems = []
    expected = set(navet_names) - AVISERING_ONLY
    for name in sorted(expected - set(our_names)):
        problems.append(f"folkreg's WSDL lacks class {name}")
    for name in sorted(set(our_names) - expected):
        problems.append(f"folkreg's WSDL has class {name}, Navet's does not")
    common = sorted(expected & set(our_names))
    theirs = members(navet_root, [navet_names[n] for n in common])
    mine = members(ours_root, [our_names[n] for n in common])
    for name in common:
        if theirs.get(name) != mine.get(name):
            a, b = set(theirs.get(name, [])), set(mine.get(name, []))
            problems.append(f"{name}: only Navet's {sorted(a - b)}, only folkreg's {sorted(b - a)}")
    tf, mf = factory_methods(navet_root, navet), factory_methods(ours_root, ours)
    if tf != mf:
        problems.append(f"ObjectFactory methods: only Navet's {sorted(tf - mf)}, only folkreg's {sorted(mf - tf)}")
    for p in problems:
        print(f"FAIL jax-ws classes: {p}")
    print(
        f"jax-ws classes: {len(common)} classes compared ({len(AVISERING_ONLY)} avisering-file classes only in Navet's),"
        f" {len(tf)} factory methods, {len(problems)} difference(s)"
    )
    return 0 if not problems else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
