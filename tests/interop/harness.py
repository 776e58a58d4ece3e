"""What the interoperability clients share: a tally of checks, and the development
certificates of certs-dev/index.toml.

    python3 tests/interop/harness.py cert NAME FIELD   # one field of a certificate's entry
"""

import os
import sys
import tomllib


class Tally:
    """Counts checks; `finish` prints the line run.sh's output shows and exits with it."""

    def __init__(self, client):
        self.client = client
        self.passed = 0
        self.failed = 0

    def check(self, what, got, want):
        if got == want:
            self.passed += 1
        else:
            self.fail(f"{what}: got {got!r}, want {want!r}")

    def fail(self, what):
        self.failed += 1
        print(f"FAIL {what}")

    def finish(self):
        print(f"{self.client}: {self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def certs_dir(repo):
    return os.path.join(repo, "certs-dev")


def dev_certs(repo):
    """Every entry of certs-dev/index.toml."""
    with open(os.path.join(certs_dir(repo), "index.toml"), "rb") as f:
        return tomllib.load(f)["cert"]


def dev_cert(repo, name):
    """The entry called `name`."""
    return next(c for c in dev_certs(repo) if c["name"] == name)


def root_ca(repo):
    """The development trust anchor's entry."""
    return next(c for c in dev_certs(repo) if c["kind"] == "root-ca")


def mtls_session(repo, name):
    """A requests session presenting this dev client certificate, trusting only the
    development root (REQUESTS_CA_BUNDLE in the environment must not replace it)."""
    import requests

    certs = certs_dir(repo)
    c = dev_cert(repo, name)
    session = requests.Session()
    session.trust_env = False
    session.verify = os.path.join(certs, root_ca(repo)["cert"])
    session.cert = (os.path.join(certs, c["cert"]), os.path.join(certs, c["key"]))
    return session


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "cert":
        sys.exit("usage: harness.py cert NAME FIELD")
    repo = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
    print(dev_cert(repo, sys.argv[2])[sys.argv[3]])
