//! The sample requests are valid: the requests the tests send against Skatteverket's own
//! `Epersondata.xsd` (WIRE.md's contract for requests), and the README's `examples/` against
//! it and `wsdl/epersondata.xsd`. The responses are validated where the server tests produce
//! them (and all of them by `tests/interop/validate_answers.py` in CI).

use crate::common::{namnsokning_body, personpost_body, repo, xmllint, xmllint_schema};

use folkreg::soap::V1_NS;

/// The operation element of a SOAP envelope (between `Body>` and `</…Body>`).
fn body_of(envelope: &str) -> &str {
    let start = envelope.find("Body>").expect("a Body") + "Body>".len();
    let end = envelope
        .rfind("</")
        .and_then(|e| envelope[..e].rfind("</"))
        .expect("end");
    &envelope[start..end]
}

/// The operation element of a request envelope, with the namespace declarations of the
/// envelope it inherits put on it, so it stands alone for a schema.
fn standalone(envelope: &str) -> String {
    let body = body_of(envelope).trim();
    let root_end = body.find('>').expect("root tag");
    let root = &body[..root_end];
    let mut decls = String::new();
    if root.contains("v1:") && !root.contains("xmlns:v1") {
        decls.push_str(&format!(" xmlns:v1=\"{V1_NS}\""));
    }
    if body.contains("xsi:") && !root.contains("xmlns:xsi") {
        decls.push_str(" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"");
    }
    format!("{root}{decls}{}", &body[root_end..])
}

/// WIRE.md names Skatteverket's own `Epersondata.xsd` as the contract of the requests: the
/// requests the tests send (a lookup, and searches with every criterion, with empty and
/// nil criteria) are ones Navet's schema accepts.
#[test]
fn navets_schema_accepts_the_requests_the_tests_send() {
    let schema = repo().join("../shared/reference/navet/v4-2023/schema/Epersondata.xsd");
    assert!(
        schema.exists(),
        "{} beside the repository",
        schema.display()
    );
    let lookup = personpost_body("162021004748", "00000079-FO01-0001", "196510213637");
    let search = namnsokning_body(
        "162021004748",
        "00000079-FO01-0001",
        &[
            ("Fornamn", "Ingvar"),
            ("EfterMellanNamn", "Ekstr*"),
            ("Postort", "Solna"),
            ("FodelsetidFrom", "19600101"),
            ("FodelsetidTom", "19691231"),
            ("Kon", "M"),
            ("PostnummerFrom", "16900"),
            ("PostnummerTom", "17999"),
            ("Kategori", "FB"),
        ],
    );
    for (name, envelope) in [("lookup", lookup), ("search", search)] {
        let xml = standalone(&envelope);
        xmllint_schema(&xml, &schema)
            .unwrap_or_else(|e| panic!("Navet's Epersondata.xsd refuses the {name}: {e}\n{xml}"));
    }
}

/// The README's examples are requests both Navet's own schema and the one folkreg serves
/// accept.
#[test]
fn the_readme_examples_validate() {
    let navet = repo().join("../shared/reference/navet/v4-2023/schema/Epersondata.xsd");
    for name in ["examples/personpost.xml", "examples/namnsokning.xml"] {
        let envelope = std::fs::read_to_string(repo().join(name)).expect(name);
        let xml = standalone(&envelope);
        xmllint(&xml).unwrap_or_else(|e| panic!("{name} is refused: {e}\n{xml}"));
        xmllint_schema(&xml, &navet)
            .unwrap_or_else(|e| panic!("{name} is refused by Navet's schema: {e}\n{xml}"));
    }
}
