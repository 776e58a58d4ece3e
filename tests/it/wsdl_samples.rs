//! `wsdl/epersondata.xsd` accepts the sample requests: the two in WIRE.md (read from the
//! spec itself, put in the V1 namespace as its text says every request element is) and the
//! README's `examples/`. The responses are validated where the server tests produce them.

use crate::common::{repo, xmllint};

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

#[test]
fn the_wire_md_samples_validate() {
    let wire = std::fs::read_to_string(repo().join("../shared/spec/WIRE.md"))
        .expect("../shared/spec/WIRE.md beside the repository");
    let requests = wire
        .split("## Requests (Known)")
        .nth(1)
        .and_then(|s| s.split("```").nth(1))
        .expect("the request samples block");
    let bestallning = requests
        .lines()
        .find(|l| l.contains("<Bestallning>"))
        .expect("a Bestallning line")
        .trim()
        .to_owned();
    let mut checked = 0;
    for sample in requests.split("\n\n") {
        let sample = sample.trim();
        if sample.is_empty() {
            continue;
        }
        // "…same…" in the second sample stands for the first one's Bestallning.
        let sample = sample.replace("<Bestallning>…same…</Bestallning>", &bestallning);
        let root = sample
            .trim_start_matches('<')
            .split('>')
            .next()
            .expect("root")
            .to_owned();
        let xml = sample.replacen(
            &format!("<{root}>"),
            &format!("<{root} xmlns=\"{V1_NS}\">"),
            1,
        );
        xmllint(&xml).unwrap_or_else(|e| panic!("WIRE.md sample {root} is refused: {e}\n{xml}"));
        checked += 1;
    }
    assert_eq!(checked, 2, "both WIRE.md samples were checked");
}

#[test]
fn the_readme_examples_validate() {
    for name in ["examples/personpost.xml", "examples/namnsokning.xml"] {
        let envelope = std::fs::read_to_string(repo().join(name)).expect(name);
        let body = body_of(&envelope).trim();
        // The operation element inherits the v1 prefix from the envelope: declare it here.
        let root_end = body.find('>').expect("root tag");
        let xml = format!(
            "{} xmlns:v1=\"{V1_NS}\"{}",
            &body[..root_end],
            &body[root_end..]
        );
        xmllint(&xml).unwrap_or_else(|e| panic!("{name} is refused: {e}\n{xml}"));
    }
}
