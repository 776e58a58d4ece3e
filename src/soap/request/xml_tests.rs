//! What the envelope reader makes of character data: predefined entities and character
//! references decode, anything else referenced is refused by name, and the limits count the
//! decoded text. Written against quick-xml 0.37's behaviour and kept across its upgrade.

use super::*;

fn envelope(text: &str) -> String {
    format!(
        "<s:Envelope xmlns:s=\"{SOAP11_NS}\"><s:Body><op xmlns=\"{V1_NS}\"><T>{text}</T></op></s:Body></s:Envelope>"
    )
}

fn text_of(text: &str) -> Result<String, Fault> {
    let op = operation(envelope(text).as_bytes(), MAX_ELEMENTS)?;
    Ok(op.child("T")?.expect("element T").text.clone())
}

fn refused(text: &str) -> String {
    match text_of(text) {
        Err(Fault::BadRequest(msg)) => msg,
        other => panic!("{text:?} should be refused with fault 1101, got {other:?}"),
    }
}

#[test]
fn predefined_entities_and_character_references_decode() {
    assert_eq!(
        text_of("a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;").unwrap(),
        "a & b <c> \"d\" 'e'"
    );
    assert_eq!(text_of("&#x41;&#66;&#xe5;&#228; x").unwrap(), "ABåä x");
    assert_eq!(text_of("  &amp;  ").unwrap(), "  &  ");
    assert_eq!(text_of("&#32;A&#x20;").unwrap(), " A ");
    assert_eq!(
        text_of("x<!-- c -->y<![CDATA[&amp;]]>z").unwrap(),
        "xy&amp;z"
    );
    assert_eq!(text_of("").unwrap(), "");
}

#[test]
fn an_unknown_entity_is_refused_by_name() {
    let msg = refused("a &nbsp; b");
    assert!(msg.starts_with("malformed XML: "), "{msg}");
    assert!(msg.contains("unrecognized entity `nbsp`"), "{msg}");
    let msg = refused("&unknownentity;");
    assert!(msg.contains("unrecognized entity `unknownentity`"), "{msg}");
}

#[test]
fn broken_references_are_refused() {
    for text in ["a & b", "&amp", "&#xZZ;", "&#0;", "&#;", "&;", "&#x110000;"] {
        let msg = refused(text);
        assert!(msg.starts_with("malformed XML: "), "{text:?}: {msg}");
    }
}

#[test]
fn the_text_limit_counts_decoded_bytes() {
    assert!(text_of(&"a".repeat(MAX_TEXT)).is_ok());
    assert!(refused(&"a".repeat(MAX_TEXT + 1)).contains("longer than"));
    // Each `&amp;` is five bytes on the wire and one in the text.
    assert_eq!(text_of(&"&amp;".repeat(MAX_TEXT)).unwrap().len(), MAX_TEXT);
    assert!(refused(&"&amp;".repeat(MAX_TEXT + 1)).contains("longer than"));
    assert!(refused(&format!("{}&#xe5;", "a".repeat(MAX_TEXT - 1))).contains("longer than"));
}

#[test]
fn doctype_and_entity_declarations_are_refused() {
    let body = format!(
        "<!DOCTYPE s:Envelope [<!ENTITY x \"y\">]>{}",
        envelope("&x;")
    );
    match operation(body.as_bytes(), MAX_ELEMENTS) {
        Err(Fault::BadRequest(msg)) => {
            assert_eq!(msg, "DOCTYPE and entity declarations are not allowed")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn references_around_the_envelope() {
    // Whitespace and comments may follow the envelope; a reference may not.
    let ok = format!("{}\n <!-- c -->\n", envelope("x"));
    assert!(operation(ok.as_bytes(), MAX_ELEMENTS).is_ok());
    for tail in ["&amp;", "&#x41;", "&nbsp;"] {
        let after = format!("{}{tail}", envelope("x"));
        match operation(after.as_bytes(), MAX_ELEMENTS) {
            Err(Fault::BadRequest(msg)) => assert_eq!(msg, "content after the envelope"),
            other => panic!("{tail:?}: {other:?}"),
        }
        let before = format!("{tail}{}", envelope("x"));
        match operation(before.as_bytes(), MAX_ELEMENTS) {
            Err(Fault::BadRequest(msg)) if tail == "&nbsp;" => {
                assert!(msg.contains("unrecognized entity `nbsp`"), "{msg}")
            }
            Err(Fault::BadRequest(msg)) => assert_eq!(msg, "text outside the envelope"),
            other => panic!("{tail:?}: {other:?}"),
        }
    }
}

#[test]
fn namespace_declarations_count_as_attributes() {
    let decls = |n: usize| {
        (0..n)
            .map(|i| format!(" xmlns:p{i}=\"urn:x\""))
            .collect::<String>()
    };
    let body = |n: usize| {
        format!(
            "<s:Envelope xmlns:s=\"{SOAP11_NS}\"><s:Body><op{} xmlns=\"{V1_NS}\"/></s:Body></s:Envelope>",
            decls(n)
        )
    };
    assert!(operation(body(MAX_ATTRIBUTES - 1).as_bytes(), MAX_ELEMENTS).is_ok());
    for n in [MAX_ATTRIBUTES, 4_000] {
        match operation(body(n).as_bytes(), MAX_ELEMENTS) {
            Err(Fault::BadRequest(msg)) => {
                assert_eq!(
                    msg,
                    format!("more than {MAX_ATTRIBUTES} attributes on one element")
                )
            }
            other => panic!("{n}: {other:?}"),
        }
    }
}
