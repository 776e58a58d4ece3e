//! Hostile input against the real `folkreg serve`: one table of cases, each a request (or a
//! scripted TLS or TCP interaction) with the exact outcome it must get — an HTTP status with
//! its SOAP fault code and the words that name what was wrong, or a closed connection —
//! while a well-behaved client asks for a person in a loop, every answer of which must be
//! right, and each case is followed (or, for the slow ones, accompanied) by a lookup that
//! must be served.
//!
//! The server runs with short timeouts and a small connection limit (`[soap]
//! max_connections`, `handshake_timeout_seconds`, `header_timeout_seconds`,
//! `body_timeout_seconds`) so the slow cases take seconds, not minutes. The quick cases run
//! one after another; the slow ones (a timeout or `openssl` pauses to wait for) then run
//! side by side, [`SLOW_AT_ONCE`] at a time, each on its own connection with its own lookup
//! meanwhile and after; the connection flood runs last, alone, as it fills the server's
//! connection limit. Nothing here asserts how long anything took: a deadline only stops a
//! hung case from hanging the suite.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::*;
use folkreg::soap::{SOAP11_NS, V1_NS};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Ingvar Kenneth Daniel Ekström of the demo population (README, "Try it").
const KNOWN: &str = "196510213637";
/// The server's connection limit in this test.
const MAX_CONNECTIONS: usize = 8;
/// The server's handshake, header and body timeouts in this test, in seconds.
const TIMEOUT_SECONDS: u64 = 2;
/// How long a case may take before it counts as hung (a guard, not an assertion of speed).
const HUNG: Duration = Duration::from_secs(90);
/// Slow cases run at once: each holds one of the server's connections, and its lookup
/// meanwhile another, with one more for the steady client, within [`MAX_CONNECTIONS`]; so
/// no lookup waits in the accept queue behind a case that waits for a timeout.
const SLOW_AT_ONCE: usize = (MAX_CONNECTIONS - 1) / 2;

/// What a case must get.
#[derive(Debug, Clone, PartialEq)]
enum Expect {
    /// A SOAP fault: HTTP status, Felkod, and words of the Beskrivning.
    Fault(u16, &'static str, &'static str),
    /// A plain HTTP answer with this status (from the HTTP layer, before SOAP).
    Http(u16),
    /// An ordinary answer: 200 with this PersonNr in it.
    Answer(&'static str),
    /// The server closes the connection without an HTTP answer.
    Closed,
    /// The connection ends without an HTTP answer, and what was seen says this.
    ClosedWith(&'static str),
}

/// What a case got.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Fault(u16, String, String),
    Http(u16, String),
    Closed(String),
}

impl Outcome {
    fn matches(&self, want: &Expect) -> bool {
        match (self, want) {
            (Outcome::Fault(s, code, text), Expect::Fault(ws, wcode, wtext)) => {
                s == ws && code == wcode && text.contains(wtext)
            }
            (Outcome::Http(s, _), Expect::Http(ws)) => s == ws,
            (Outcome::Http(200, body), Expect::Answer(pnr)) => {
                element_text(body, "PersonNr").as_deref() == Some(*pnr)
            }
            (Outcome::Closed(_), Expect::Closed) => true,
            (Outcome::Closed(what), Expect::ClosedWith(needle)) => what.contains(needle),
            _ => false,
        }
    }

    fn of(bytes: &[u8], how: &str) -> Outcome {
        let text = String::from_utf8_lossy(bytes);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            let first: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
            return Outcome::Closed(format!(
                "{how}; {} bytes, no HTTP answer [{}]",
                bytes.len(),
                first.join(" ")
            ));
        };
        if body.contains("HTTP/1.1 ") {
            return Outcome::Http(0, "more than one answer on the connection".into());
        }
        let status = head
            .lines()
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match element_text(body, "Felkod") {
            Some(code) => Outcome::Fault(
                status,
                code,
                element_text(body, "Beskrivning").unwrap_or_default(),
            ),
            None => Outcome::Http(status, body.to_owned()),
        }
    }
}

/// How a case talks to the server.
enum Interaction {
    /// A POST with `Content-Length` and this Content-Type (None: no such header), over TLS.
    Post {
        path: &'static str,
        client: &'static str,
        content_type: Option<&'static str>,
        body: Vec<u8>,
    },
    /// Bytes written over TLS in steps; the answer is read meanwhile until the server closes.
    Tls {
        client: &'static str,
        steps: Vec<Step>,
    },
    /// Bytes written over plain TCP to the TLS port.
    Tcp { steps: Vec<Step> },
    /// More idle TCP connections than the limit, held until the server closes each.
    Flood { connections: usize },
    /// `openssl s_client` with these options, fed these lines one at a time.
    Openssl {
        args: &'static [&'static str],
        lines: Vec<String>,
    },
}

/// One step of a scripted interaction.
#[derive(Clone)]
enum Step {
    Write(Vec<u8>),
    /// Each byte alone, with this pause between them.
    Trickle(Vec<u8>, Duration),
    /// This chunk (already in chunked framing) again and again, with this pause, until the
    /// server answers or closes.
    Forever(Vec<u8>, Duration),
    /// Send nothing for this long (the server must act on its own before it ends).
    Wait(Duration),
}

struct Case {
    name: &'static str,
    interaction: Interaction,
    expect: Expect,
}

fn lund() -> CertEntry {
    cert("client-lund")
}

fn envelope(inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><S:Envelope xmlns:S="{SOAP11_NS}" xmlns:v1="{V1_NS}"><S:Body>{inner}</S:Body></S:Envelope>"#
    )
}

fn personpost(pnr: &str) -> String {
    let c = lund();
    personpost_body(
        c.org.as_deref().unwrap_or(""),
        c.bestallningsid.as_deref().unwrap_or(""),
        pnr,
    )
}

fn operation(pnr: &str) -> String {
    let c = lund();
    format!(
        "<v1:PersonpostRequest><v1:Bestallning><v1:OrgNr>{}</v1:OrgNr><v1:BestallningsId>{}</v1:BestallningsId></v1:Bestallning><v1:PersonId>{pnr}</v1:PersonId></v1:PersonpostRequest>",
        c.org.as_deref().unwrap_or(""),
        c.bestallningsid.as_deref().unwrap_or("")
    )
}

fn post(body: impl Into<Vec<u8>>) -> Interaction {
    Interaction::Post {
        path: PP,
        client: "client-lund",
        content_type: Some("text/xml; charset=utf-8"),
        body: body.into(),
    }
}

fn post_as(content_type: Option<&'static str>, body: impl Into<Vec<u8>>) -> Interaction {
    Interaction::Post {
        path: PP,
        client: "client-lund",
        content_type,
        body: body.into(),
    }
}

/// A POST to lamnaInfil as client-norrby (whose register entry has an infil order).
fn infil(body: impl Into<Vec<u8>>) -> Interaction {
    Interaction::Post {
        path: INFIL,
        client: "client-norrby",
        content_type: Some("text/xml"),
        body: body.into(),
    }
}

fn head(path: &str, extra: &str) -> Vec<u8> {
    format!("POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml; charset=utf-8\r\n{extra}Connection: close\r\n\r\n").into_bytes()
}

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut v = format!("{:x}\r\n", data.len()).into_bytes();
    v.extend_from_slice(data);
    v.extend_from_slice(b"\r\n");
    v
}

fn chunked(body: &[u8], piece: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for c in body.chunks(piece) {
        v.extend(chunk(c));
    }
    v.extend_from_slice(b"0\r\n\r\n");
    v
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A body whose PersonId element has `n` attributes (or namespace declarations).
fn many_attributes(n: usize, xmlns: bool) -> String {
    let mut attrs = String::with_capacity(n * 12);
    for i in 0..n {
        if xmlns {
            attrs.push_str(&format!(" xmlns:p{i:x}=\"u\""));
        } else {
            attrs.push_str(&format!(" a{i:x}=\"\""));
        }
    }
    personpost(KNOWN).replace("<v1:PersonId>", &format!("<v1:PersonId{attrs}>"))
}

/// An infil page (client-norrby's infil order) whose PersonNr carries `n` attributes.
fn infil_with_attributes(n: usize, xmlns: bool) -> String {
    let mut attrs = String::with_capacity(n * 12);
    for i in 0..n {
        if xmlns {
            attrs.push_str(&format!(" xmlns:p{i:x}=\"u\""));
        } else {
            attrs.push_str(&format!(" a{i:x}=\"\""));
        }
    }
    format!(
        r#"<S:Envelope xmlns:S="{SOAP11_NS}"><S:Body><LamnaInfilRequest xmlns="urn:folkreg:avisering:1"><Bestallning><OrgNr>162120000134</OrgNr><BestallningsId>00000079-AV02-0002</BestallningsId></Bestallning><Sida>1</Sida><AntalSidor>1</AntalSidor><PersonNr{attrs}>{KNOWN}</PersonNr></LamnaInfilRequest></S:Body></S:Envelope>"#
    )
}

fn cases() -> Vec<Case> {
    let pp = personpost(KNOWN);
    let ten_mb_text = personpost(&"1".repeat(10 << 20));
    let seventy_kb = format!("{}{pp}", " ".repeat(70_000));
    let billion_laughs = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">{}]>{}",
        (1..10)
            .map(|i| format!(
                "<!ENTITY lol{i} \"{}\">",
                format!(
                    "&lol{};",
                    if i == 1 {
                        String::new()
                    } else {
                        (i - 1).to_string()
                    }
                )
                .repeat(10)
            ))
            .collect::<String>(),
        pp.replace(KNOWN, "&lol9;")
            .replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "")
    );
    let xxe = format!(
        "<?xml version=\"1.0\"?><!DOCTYPE S:Envelope [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>{}",
        pp.replace(KNOWN, "&xxe;")
            .replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>", "")
    );
    // 10,000 levels closed again are 70 KB: over the 64 KiB limit of personpostXML, so sent
    // unclosed there (the depth limit acts long before the end), and whole to lamnaInfil.
    let deep_open = envelope(&"<a>".repeat(10_000));
    let deep_infil = format!(
        r#"<S:Envelope xmlns:S="{SOAP11_NS}"><S:Body>{}{}</S:Body></S:Envelope>"#,
        "<a>".repeat(10_000),
        "</a>".repeat(10_000)
    );
    let mut latin1 = pp.replace("UTF-8", "ISO-8859-1").into_bytes();
    latin1.extend_from_slice(b"<!-- \xe5\xe4\xf6 -->");
    let mut not_utf8 = pp.clone().into_bytes();
    let at = not_utf8
        .windows(KNOWN.len())
        .position(|w| w == KNOWN.as_bytes())
        .unwrap_or(0);
    not_utf8[at + 3] = 0xFF;
    let mut utf16 = vec![0xFF, 0xFE];
    for u in pp.replace("UTF-8", "UTF-16").encode_utf16() {
        utf16.extend_from_slice(&u.to_le_bytes());
    }
    let soap12 = pp.replace(SOAP11_NS, folkreg::soap::SOAP12_NS);
    let no_body = envelope("").replace("<S:Body></S:Body>", "<S:Header/>");
    let two_ops = envelope(&format!("{}{}", operation(KNOWN), operation(KNOWN)));
    let wrong_ns = pp.replace(V1_NS, "urn:not-navet");
    let unknown_op = pp.replace("PersonpostRequest", "PersonpostXMLRequest");
    let dup_person_id = pp.replace(
        "</v1:PersonpostRequest>",
        &format!("<v1:PersonId>{KNOWN}</v1:PersonId></v1:PersonpostRequest>"),
    );
    let bestallning = pp
        .split_once("<v1:Bestallning>")
        .and_then(|(_, rest)| rest.split_once("</v1:Bestallning>"))
        .map(|(inner, _)| format!("<v1:Bestallning>{inner}</v1:Bestallning>"))
        .unwrap_or_default();
    let dup_bestallning = pp.replace(&bestallning, &bestallning.repeat(2));
    let dup_org = pp.replace(
        "</v1:Bestallning>",
        "<v1:OrgNr>2120000134</v1:OrgNr></v1:Bestallning>",
    );
    let two_bodies = pp.replace(
        "</soapenv:Envelope>",
        &format!(
            "<soapenv:Body>{}</soapenv:Body></soapenv:Envelope>",
            operation(KNOWN)
        ),
    );
    let two_headers = pp.replace("<soapenv:Header/>", "<soapenv:Header/><soapenv:Header/>");
    let pi_inside = pp.replace(
        "<soapenv:Body>",
        "<?xml-stylesheet href=\"x.xsl\"?><soapenv:Body>",
    );
    let pi_after = format!("{pp}<?foo bar?>");
    let must_understand = |v: &str| {
        pp.replace("<soapenv:Header/>", &format!("<soapenv:Header><w:Security xmlns:w=\"urn:x\" soapenv:mustUnderstand=\"{v}\"/></soapenv:Header>"))
    };
    let encoded = |coding: &str| Interaction::Tls {
        client: "client-lund",
        steps: vec![
            Step::Write(head(
                PP,
                &format!(
                    "Content-Encoding: {coding}\r\nContent-Length: {}\r\n",
                    pp.len()
                ),
            )),
            Step::Write(pp.clone().into_bytes()),
        ],
    };
    let infil_dup_sida =
        infil_with_attributes(0, false).replace("<Sida>1</Sida>", "<Sida>1</Sida><Sida>1</Sida>");
    let id = |v: &str| post(personpost(v));
    let fault = |code, text| Expect::Fault(500, code, text);

    vec![
        Case { name: "a well-formed request (control)", interaction: post(pp.clone()), expect: Expect::Answer(KNOWN) },
        // Malformed XML.
        Case { name: "unclosed envelope", interaction: post("<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>"), expect: fault("1101", "malformed XML: the envelope is not closed") },
        Case { name: "mismatched end tag", interaction: post(pp.replace("</v1:PersonId>", "</v1:PersonID>")), expect: fault("1101", "malformed XML") },
        Case { name: "not XML at all", interaction: post("PersonId=196510213637"), expect: fault("1101", "text outside the envelope") },
        Case { name: "empty body", interaction: post(""), expect: fault("1101", "malformed XML: the envelope is not closed") },
        Case { name: "content after the envelope", interaction: post(format!("{pp}<x/>")), expect: fault("1101", "content after the envelope") },
        // DOCTYPE and entities.
        Case { name: "DOCTYPE with internal entities (billion laughs)", interaction: post(billion_laughs), expect: fault("1101", "DOCTYPE and entity declarations are not allowed") },
        Case { name: "DOCTYPE with an external entity to a local file (XXE)", interaction: post(xxe), expect: fault("1101", "DOCTYPE and entity declarations are not allowed") },
        Case { name: "an undeclared entity reference", interaction: id("&xxe;"), expect: fault("1101", "malformed XML") },
        // Size and shape.
        Case { name: "elements nested 10,000 deep (unclosed)", interaction: post(deep_open), expect: fault("1101", "elements nested deeper than 12") },
        Case { name: "elements nested 10,000 deep in an infil page (1 MiB limit)", interaction: infil(deep_infil), expect: fault("1101", "elements nested deeper than 12") },
        Case { name: "a 10 MB text node with Content-Length", interaction: post(ten_mb_text.clone()), expect: fault("1401", "at most 65536 bytes") },
        Case { name: "a 10 MB text node chunked, no Content-Length", interaction: Interaction::Tls { client: "client-lund", steps: vec![Step::Write(head(PP, "Transfer-Encoding: chunked\r\n")), Step::Write(chunked(ten_mb_text.as_bytes(), 16 << 10))] }, expect: fault("1401", "at most 65536 bytes") },
        Case { name: "100,000 attributes (over the size limit)", interaction: post(many_attributes(100_000, false)), expect: fault("1401", "at most 65536 bytes") },
        Case { name: "100,000 namespace declarations (over the size limit)", interaction: post(many_attributes(100_000, true)), expect: fault("1401", "at most 65536 bytes") },
        Case { name: "5,000 attributes on one element (within the size limit)", interaction: post(many_attributes(5_000, false)), expect: fault("1101", "more than 64 attributes on one element") },
        Case { name: "4,000 namespace declarations on one element", interaction: post(many_attributes(4_000, true)), expect: fault("1101", "more than 64 attributes on one element") },
        Case { name: "90,000 attributes in an infil page (1 MiB limit)", interaction: infil(infil_with_attributes(90_000, false)), expect: fault("1101", "more than 64 attributes on one element") },
        Case { name: "55,000 namespace declarations in an infil page", interaction: infil(infil_with_attributes(55_000, true)), expect: fault("1101", "more than 64 attributes on one element") },
        Case { name: "a body over the limit with Content-Length", interaction: post(seventy_kb.clone()), expect: fault("1401", "at most 65536 bytes") },
        Case { name: "a body over the limit chunked, no Content-Length", interaction: Interaction::Tls { client: "client-lund", steps: vec![Step::Write(head(PP, "Transfer-Encoding: chunked\r\n")), Step::Write(chunked(seventy_kb.as_bytes(), 4096))] }, expect: fault("1401", "at most 65536 bytes") },
        Case { name: "a Content-Length that lies (says 10 GB)", interaction: Interaction::Tls { client: "client-lund", steps: vec![Step::Write(head(PP, "Content-Length: 10000000000\r\n")), Step::Write(pp.clone().into_bytes())] }, expect: fault("1401", "at most 65536 bytes") },
        // Envelope and operation.
        Case { name: "SOAP 1.2 envelope", interaction: post(soap12.clone()), expect: fault("1101", "SOAP 1.2 envelopes are not supported; use SOAP 1.1") },
        Case { name: "SOAP 1.2 content type", interaction: post_as(Some("application/soap+xml; charset=utf-8"), soap12), expect: fault("1101", "application/soap+xml is SOAP 1.2") },
        Case { name: "wrong content type", interaction: post_as(Some("application/x-www-form-urlencoded"), pp.clone()), expect: fault("1101", "Content-Type application/x-www-form-urlencoded is not text/xml") },
        Case { name: "content type charset not UTF-8", interaction: post_as(Some("text/xml; charset=iso-8859-1"), pp.clone()), expect: fault("1101", "only UTF-8 requests are accepted; the Content-Type says charset=iso-8859-1") },
        Case { name: "no content type (read as text/xml)", interaction: post_as(None, pp.clone()), expect: Expect::Answer(KNOWN) },
        Case { name: "missing Body", interaction: post(no_body), expect: fault("1101", "element Body is missing") },
        Case { name: "two operations in one Body", interaction: post(two_ops), expect: fault("1101", "Body holds more than one element") },
        Case { name: "operation in a wrong namespace", interaction: post(wrong_ns), expect: fault("1101", "is in an unknown namespace") },
        Case { name: "unknown operation", interaction: post(unknown_op), expect: fault("1101", "unknown operation element in Body") },
        // SOAP 1.1 strictness (issue 21): nothing is answered "with the first one".
        Case { name: "a second PersonId", interaction: post(dup_person_id), expect: fault("1101", "element PersonId appears twice") },
        Case { name: "a second Bestallning", interaction: post(dup_bestallning), expect: fault("1101", "element Bestallning appears twice") },
        Case { name: "a second OrgNr", interaction: post(dup_org), expect: fault("1101", "element OrgNr appears twice") },
        Case { name: "a second Sida in an infil page", interaction: infil(infil_dup_sida), expect: fault("1101", "element Sida appears twice") },
        Case { name: "two Bodies", interaction: post(two_bodies), expect: fault("1101", "the envelope holds more than one Body") },
        Case { name: "two Headers", interaction: post(two_headers), expect: fault("1101", "the envelope holds more than one Header") },
        Case { name: "a processing instruction in the envelope", interaction: post(pi_inside), expect: fault("1101", "processing instructions are not allowed") },
        Case { name: "a processing instruction after the envelope", interaction: post(pi_after), expect: fault("1101", "processing instructions are not allowed") },
        Case { name: "a header block with mustUnderstand=\"1\"", interaction: post(must_understand("1")), expect: fault("1104", "Header block Security is marked mustUnderstand") },
        Case { name: "a header block with mustUnderstand=\"true\"", interaction: post(must_understand("true")), expect: fault("1104", "Header block Security is marked mustUnderstand") },
        Case { name: "a header block with mustUnderstand=\"0\" (accepted)", interaction: post(must_understand("0")), expect: Expect::Answer(KNOWN) },
        Case { name: "Content-Encoding gzip", interaction: encoded("gzip"), expect: fault("1402", "Content-Encoding gzip is not supported") },
        Case { name: "Content-Encoding deflate", interaction: encoded("deflate"), expect: fault("1402", "Content-Encoding deflate is not supported") },
        Case { name: "Content-Encoding br", interaction: encoded("br"), expect: fault("1402", "Content-Encoding br is not supported") },
        Case { name: "Content-Encoding identity (accepted)", interaction: encoded("identity"), expect: Expect::Answer(KNOWN) },
        Case { name: "personpost sent to the infil endpoint", interaction: infil(personpost_body("162120000134", "00000079-FO02-0001", KNOWN)), expect: fault("1101", "this endpoint answers lamnaInfil only") },
        // Identity numbers.
        Case { name: "PersonId failing Luhn", interaction: id("196510213638"), expect: fault("1101", "PersonId: identity number check digit is wrong") },
        Case { name: "PersonId with an impossible date", interaction: id("196513213637"), expect: fault("1101", "PersonId: identity number has an impossible date") },
        Case { name: "PersonId of 11 digits", interaction: id("19651021363"), expect: fault("1101", "PersonId: identity number has 11 characters") },
        Case { name: "PersonId of 13 digits", interaction: id("1965102136370"), expect: fault("1101", "PersonId: identity number has 13 characters") },
        Case { name: "PersonId with letters", interaction: id("19651021ABCD"), expect: fault("1101", "PersonId: identity number has a non-digit at position 9") },
        Case { name: "PersonId of full-width digits", interaction: id("１９６５１０２１３６３７"), expect: fault("1101", "PersonId: identity number has a non-digit at position 1 (only ASCII digits 0-9)") },
        Case { name: "PersonId empty", interaction: id(""), expect: fault("1101", "PersonId is empty") },
        // Encodings.
        Case { name: "non-UTF-8 bytes", interaction: post(not_utf8), expect: fault("1101", "the request is not UTF-8 (an invalid byte at offset") },
        Case { name: "a UTF-8 byte order mark (allowed)", interaction: post([&b"\xEF\xBB\xBF"[..], pp.as_bytes()].concat()), expect: Expect::Answer(KNOWN) },
        Case { name: "declared encoding ISO-8859-1", interaction: post(latin1), expect: fault("1101", "only UTF-8 requests are accepted; the XML declaration says ISO-8859-1") },
        Case { name: "UTF-16 with a byte order mark", interaction: post(utf16), expect: fault("1101", "only UTF-8 requests are accepted; this one is UTF-16") },
        // HTTP framing.
        // RFC 9112 §6.3: Transfer-Encoding wins and the connection is closed after the answer,
        // so the request pipelined behind it is never read.
        Case { name: "Content-Length and Transfer-Encoding both (smuggling)", interaction: Interaction::Tls { client: "client-lund", steps: vec![Step::Write([format!("POST {PP} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n").into_bytes(), chunked(pp.as_bytes(), 512), request_text(&pp).into_bytes()].concat())] }, expect: Expect::Answer(KNOWN) },
        Case { name: "two different Content-Lengths", interaction: Interaction::Tls { client: "client-lund", steps: vec![Step::Write(head(PP, &format!("Content-Length: {}\r\nContent-Length: 5\r\n", pp.len()))), Step::Write(pp.clone().into_bytes())] }, expect: Expect::Http(400) },
        Case { name: "1 MB of headers", interaction: Interaction::Tls { client: "client-lund", steps: vec![Step::Write(format!("POST {PP} HTTP/1.1\r\nHost: localhost\r\nX-Padding: {}\r\n\r\n", "a".repeat(1 << 20)).into_bytes())] }, expect: Expect::Http(431) },
        Case { name: "not HTTP after the handshake", interaction: Interaction::Tls { client: "client-lund", steps: vec![Step::Write(b"\x00\x01\x02 hello\r\n\r\n".to_vec())] }, expect: Expect::Http(400) },
        // Slow clients and timeouts.
        Case { name: "a chunked body that never ends", interaction: Interaction::Tls { client: "client-lund", steps: vec![Step::Write(head(PP, "Transfer-Encoding: chunked\r\n")), Step::Forever(chunk(b" "), Duration::from_millis(200))] }, expect: fault("1101", "the request body was not sent in time") },
        Case { name: "a stalled body", interaction: Interaction::Tls { client: "client-lund", steps: vec![Step::Write(head(PP, &format!("Content-Length: {}\r\n", pp.len()))), Step::Write(pp.as_bytes()[..100].to_vec()), Step::Wait(secs(60))] }, expect: fault("1101", "the request body was not sent in time") },
        Case { name: "headers one byte a second (slowloris)", interaction: Interaction::Tls { client: "client-lund", steps: vec![Step::Trickle(head(PP, "Content-Length: 10\r\n"), secs(1))] }, expect: Expect::Closed },
        Case { name: "a TLS connection that never sends a request", interaction: Interaction::Tls { client: "client-lund", steps: vec![Step::Wait(secs(60))] }, expect: Expect::Closed },
        Case { name: "a TCP connection that never starts TLS", interaction: Interaction::Tcp { steps: vec![Step::Wait(secs(60))] }, expect: Expect::Closed },
        Case { name: "a TLS handshake one byte a second", interaction: Interaction::Tcp { steps: vec![Step::Trickle(client_hello_prefix(), secs(1))] }, expect: Expect::Closed },
        Case { name: "more connections than the limit", interaction: Interaction::Flood { connections: MAX_CONNECTIONS * 3 }, expect: Expect::Closed },
        // TLS.
        // A TLS alert record (0x15), fatal (02), and the connection closed.
        Case { name: "plain HTTP to the TLS port", interaction: Interaction::Tcp { steps: vec![Step::Write(format!("POST {PP} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {}\r\n\r\n{pp}", pp.len()).into_bytes())] }, expect: Expect::ClosedWith("no HTTP answer [15 03") },
        Case { name: "TLS 1.2 renegotiation (openssl s_client R)", interaction: Interaction::Openssl { args: &["-tls1_2"], lines: vec!["R".into(), request_text(&pp)] }, expect: Expect::ClosedWith("no renegotiation") },
        Case { name: "TLS 1.3 key update, then a request (openssl s_client K)", interaction: Interaction::Openssl { args: &["-tls1_3"], lines: vec!["K".into(), request_text(&pp)] }, expect: Expect::Answer(KNOWN) },
    ]
}

/// The start of a TLS ClientHello record: enough for the server to wait for the rest.
fn client_hello_prefix() -> Vec<u8> {
    let mut v = vec![
        0x16, 0x03, 0x01, 0x00, 0xc8, 0x01, 0x00, 0x00, 0xc4, 0x03, 0x03,
    ];
    v.extend(std::iter::repeat_n(0x42, 64));
    v
}

fn request_text(body: &str) -> String {
    format!(
        "POST {PP} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Writes `steps` to `stream` while reading from it until the server closes; the outcome is
/// what was read.
async fn script<S>(stream: S, steps: Vec<Step>) -> Outcome
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let writer = tokio::spawn(async move {
        for step in steps {
            let result = match step {
                Step::Write(bytes) => wr.write_all(&bytes).await,
                Step::Trickle(bytes, pause) => {
                    let mut r = Ok(());
                    for b in bytes {
                        r = wr.write_all(&[b]).await;
                        if r.is_err() {
                            break;
                        }
                        tokio::time::sleep(pause).await;
                    }
                    r
                }
                Step::Forever(bytes, pause) => loop {
                    if let Err(e) = wr.write_all(&bytes).await {
                        break Err(e);
                    }
                    tokio::time::sleep(pause).await;
                },
                Step::Wait(d) => {
                    tokio::time::sleep(d).await;
                    Ok(())
                }
            };
            if result.is_err() {
                break;
            }
        }
        // Keep the write side open: half-closing would end a request early.
        std::future::pending::<()>().await;
        drop(wr);
    });
    let mut buf = Vec::new();
    let how = loop {
        let mut chunk = [0u8; 8192];
        match rd.read(&mut chunk).await {
            Ok(0) => break "closed".to_owned(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => break format!("closed ({})", e.kind()),
        }
    };
    writer.abort();
    Outcome::of(&buf, &how)
}

async fn tls_to(
    addr: std::net::SocketAddr,
    client: &CertEntry,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
    connector_for(client).connect(name, tcp).await
}

/// Where the server under test listens.
#[derive(Clone, Copy)]
struct Addrs {
    /// SOAP over TLS.
    soap: std::net::SocketAddr,
    /// The admin listener.
    admin: std::net::SocketAddr,
}

async fn run_case(server: Addrs, interaction: Interaction) -> Outcome {
    match interaction {
        Interaction::Post {
            path,
            client,
            content_type,
            body,
        } => {
            let mut req = format!("POST {path} HTTP/1.1\r\nHost: localhost\r\n");
            if let Some(ct) = content_type {
                req.push_str(&format!("Content-Type: {ct}\r\n"));
            }
            req.push_str(&format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            ));
            let mut bytes = req.into_bytes();
            bytes.extend_from_slice(&body);
            match tls_to(server.soap, &cert(client)).await {
                Ok(tls) => script(tls, vec![Step::Write(bytes)]).await,
                Err(e) => Outcome::Closed(format!("handshake failed: {e}")),
            }
        }
        Interaction::Tls { client, steps } => match tls_to(server.soap, &cert(client)).await {
            Ok(tls) => script(tls, steps).await,
            Err(e) => Outcome::Closed(format!("handshake failed: {e}")),
        },
        Interaction::Tcp { steps } => match TcpStream::connect(server.soap).await {
            Ok(tcp) => script(tcp, steps).await,
            Err(e) => Outcome::Closed(format!("connect failed: {e}")),
        },
        Interaction::Flood { connections } => flood(server, connections).await,
        Interaction::Openssl { args, lines } => {
            let addr = server.soap;
            tokio::task::spawn_blocking(move || openssl(addr, args, &lines))
                .await
                .expect("join")
        }
    }
}

/// Opens `n` TCP connections that send nothing; while they are open a lookup and the admin
/// listener must be served. Closed means: the server closed every one of them itself.
async fn flood(server: Addrs, n: usize) -> Outcome {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        match TcpStream::connect(server.soap).await {
            Ok(s) => held.push(s),
            Err(e) => return Outcome::Closed(format!("connect failed: {e}")),
        }
    }
    let lookup = lookup_once(server.soap).await;
    let health = admin_at(server.admin, "GET", "/healthz").await;
    let mut closed = 0;
    for mut s in held {
        let mut b = [0u8; 64];
        match s.read(&mut b).await {
            Ok(0) | Err(_) => closed += 1,
            Ok(_) => {}
        }
    }
    match (lookup, health) {
        (Ok(()), (200, _)) if closed == n => Outcome::Closed(format!(
            "all {n} closed by the server; a lookup and /healthz were served meanwhile"
        )),
        (lookup, health) => Outcome::Http(
            0,
            format!("{closed} of {n} closed; lookup {lookup:?}; healthz {health:?}"),
        ),
    }
}

/// Drives `openssl s_client` with the lund client certificate: each line is sent after the
/// previous one had time to act; the outcome is what came back (Closed if no HTTP answer).
fn openssl(addr: std::net::SocketAddr, args: &[&str], lines: &[String]) -> Outcome {
    use std::io::{Read, Write};
    let dir = repo().join("certs-dev");
    let c = lund();
    let mut child = std::process::Command::new("openssl")
        .arg("s_client")
        .args(args)
        .arg("-connect")
        .arg(addr.to_string())
        .arg("-servername")
        .arg("localhost")
        .arg("-CAfile")
        .arg(dir.join("root-ca.pem"))
        .arg("-cert")
        .arg(dir.join(&c.cert))
        .arg("-key")
        .arg(dir.join(c.key.as_deref().unwrap_or("")))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("openssl (installed by .ci/run)");
    let mut stdin = child.stdin.take().expect("stdin");
    std::thread::sleep(Duration::from_secs(1));
    for line in lines {
        let _ = stdin.write_all(line.as_bytes());
        let _ = stdin.write_all(b"\n");
        let _ = stdin.flush();
        std::thread::sleep(Duration::from_secs(1));
    }
    // The server closes the connection (Connection: close, or a timeout); then s_client ends.
    let mut out = String::new();
    let mut stdout = child.stdout.take().expect("stdout");
    let _ = stdout.read_to_string(&mut out);
    drop(stdin);
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let _ = child.wait();
    match out.find("HTTP/1.1 ") {
        Some(at) => Outcome::of(&out.as_bytes()[at..], "openssl"),
        None => Outcome::Closed(format!(
            "s_client: {}",
            err.lines()
                .chain(out.lines())
                .filter(|l| l.contains("RENEGOTIATING")
                    || l.contains("KEYUPDATE")
                    || l.contains("error")
                    || l.contains("alert")
                    || l.contains("closed"))
                .collect::<Vec<_>>()
                .join(" | ")
        )),
    }
}

/// One personpostXML lookup of the known person; Ok if the answer is right.
async fn lookup_once(addr: std::net::SocketAddr) -> Result<(), String> {
    let r = raw_at(
        addr,
        &lund(),
        post_request(PP, &personpost(KNOWN)).as_bytes(),
    )
    .await
    .map_err(|e| format!("no answer: {e}"))?;
    match (r.status, r.text_of("PersonNr")) {
        (200, Some(p)) if p == KNOWN => Ok(()),
        (s, _) => Err(format!(
            "HTTP {s}: {}",
            r.body.chars().take(300).collect::<String>()
        )),
    }
}

/// The well-behaved client: lookups in a loop until told to stop, counting each outcome.
struct Steady {
    ok: Arc<AtomicU64>,
    failures: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Steady {
    fn start(addr: std::net::SocketAddr) -> Steady {
        let ok = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn({
            let (ok, failures, stop) = (ok.clone(), failures.clone(), stop.clone());
            async move {
                while !stop.load(Ordering::Relaxed) {
                    match lookup_once(addr).await {
                        Ok(()) => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => failures.lock().expect("lock").push(e),
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        Steady {
            ok,
            failures,
            stop,
            task,
        }
    }

    async fn finish(self) -> (u64, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.task.await;
        let failures = self.failures.lock().expect("lock").clone();
        (self.ok.load(Ordering::Relaxed), failures)
    }
}

impl Case {
    /// Whether the case waits for a server timeout, or pauses between `openssl` lines, or
    /// floods the connection limit.
    fn is_slow(&self) -> bool {
        let waits = |steps: &[Step]| {
            steps
                .iter()
                .any(|s| matches!(s, Step::Trickle(..) | Step::Forever(..) | Step::Wait(_)))
        };
        match &self.interaction {
            Interaction::Post { .. } => false,
            Interaction::Tls { steps, .. } | Interaction::Tcp { steps } => waits(steps),
            Interaction::Flood { .. } | Interaction::Openssl { .. } => true,
        }
    }
}

/// Runs one case with, at the same time, one more lookup that must be served, and one after
/// it; prints what happened, and returns it if it is not what the case must get.
async fn check(server: Addrs, case: Case, steady_ok: Arc<AtomicU64>) -> Option<String> {
    let name = case.name;
    let served_before = steady_ok.load(Ordering::Relaxed);
    let started = std::time::Instant::now();
    let (outcome, meanwhile) = tokio::time::timeout(HUNG, async {
        tokio::join!(run_case(server, case.interaction), async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            lookup_once(server.soap).await
        })
    })
    .await
    .unwrap_or_else(|_| (Outcome::Closed("HUNG".into()), Err("hung".into())));
    let after = lookup_once(server.soap).await;
    let line = format!(
        "{name}: {outcome:?}; lookup meanwhile {meanwhile:?}, after {after:?}; steady client served {} during the case ({:.1} s)",
        steady_ok.load(Ordering::Relaxed) - served_before,
        started.elapsed().as_secs_f64()
    );
    eprintln!("{line}");
    if !outcome.matches(&case.expect) || meanwhile.is_err() || after.is_err() {
        Some(format!("{line}\n    expected {:?}", case.expect))
    } else {
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_input_gets_exact_answers_while_others_are_served() {
    let mut server = RealServer::start_custom(&[], &[], |_, config| {
        config.replace(
            "[soap]\n",
            &format!(
                "[soap]\nmax_connections = {MAX_CONNECTIONS}\nhandshake_timeout_seconds = {TIMEOUT_SECONDS}\nheader_timeout_seconds = {TIMEOUT_SECONDS}\nbody_timeout_seconds = {TIMEOUT_SECONDS}\n"
            ),
        )
    })
    .await;
    lookup_once(server.addr)
        .await
        .expect("the server answers before the battery");
    let steady = Steady::start(server.addr);
    let addrs = Addrs {
        soap: server.addr,
        admin: server.admin,
    };
    let (slow, quick): (Vec<Case>, Vec<Case>) = cases().into_iter().partition(Case::is_slow);
    let (flood, slow): (Vec<Case>, Vec<Case>) = slow
        .into_iter()
        .partition(|c| matches!(c.interaction, Interaction::Flood { .. }));
    let mut wrong = Vec::new();
    for case in quick {
        wrong.extend(check(addrs, case, steady.ok.clone()).await);
    }
    let at_once = Arc::new(tokio::sync::Semaphore::new(SLOW_AT_ONCE));
    let mut side_by_side = tokio::task::JoinSet::new();
    for (i, case) in slow.into_iter().enumerate() {
        let (at_once, ok) = (at_once.clone(), steady.ok.clone());
        side_by_side.spawn(async move {
            let _turn = at_once.acquire_owned().await.expect("semaphore");
            (i, check(addrs, case, ok).await)
        });
    }
    let mut slow_wrong = side_by_side.join_all().await;
    slow_wrong.sort_by_key(|(i, _)| *i);
    wrong.extend(slow_wrong.into_iter().flat_map(|(_, w)| w));
    for case in flood {
        wrong.extend(check(addrs, case, steady.ok.clone()).await);
    }
    let (served, failures) = steady.finish().await;
    eprintln!(
        "steady client: {served} lookups served, {} failed",
        failures.len()
    );
    assert!(
        wrong.is_empty(),
        "cases with the wrong outcome:\n{}",
        wrong.join("\n")
    );
    assert!(
        failures.is_empty(),
        "the well-behaved client was not served: {failures:#?}"
    );
    assert!(served > 0, "the well-behaved client ran");
    // Still alive, and the log shows no panic.
    assert!(server.alive(), "the server process is still running");
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    assert!(
        !log.contains("panicked"),
        "no panic in the server's log:\n{log}"
    );
}
