//! Navet's contract on real answers (WIRE.md): a spread of record kinds from the demo
//! population asked for over the wire, on V2, V3 and V4, each answer validated against
//! Skatteverket's own `Epersondata.xsd` (unmodified, `../shared/reference/navet/v4-2023/`);
//! the WSDL identity of every served version; a typed fault. With `FOLKREG_CAPTURE_DIR` set,
//! these answers are also saved for `tests/interop/validate_answers.py` (as every answer the
//! tests receive is), and the `#[ignore]`d `every_demo_record_answers_in_navets_schema`
//! writes the whole demo population's answers for it (run by `.ci/run`).

use std::path::PathBuf;

use crate::common::*;
use folkreg::access::Access;
use folkreg::soap::response::{answer_at, Answer};
use folkreg::soap::service::Version;

/// Navet's own schema of the requests, answers and faults.
fn navet_schema() -> PathBuf {
    repo().join("../shared/reference/navet/v4-2023/schema/Epersondata.xsd")
}

/// The text between `open` and the last `close` of `xml`: an element that declares its own
/// namespaces, so it stands alone for a schema.
fn between<'a>(xml: &'a str, open: &str, close: &str) -> &'a str {
    let start = xml
        .find(open)
        .unwrap_or_else(|| panic!("no {open} in {xml}"))
        + open.len();
    let end = xml
        .rfind(close)
        .unwrap_or_else(|| panic!("no {close} in {xml}"));
    &xml[start..end]
}

/// Panics unless the Body's child of `envelope` (an answer), or its fault's `detail` child,
/// validates against Navet's `Epersondata.xsd`.
fn assert_navet_valid(what: &str, envelope: &str) {
    let part = if envelope.contains("<S:Fault>") {
        between(envelope, "<detail>", "</detail>")
    } else {
        between(envelope, "<S:Body>", "</S:Body>")
    };
    if let Err(e) = xmllint_schema(part, &navet_schema()) {
        panic!("{what}: Navet's Epersondata.xsd refuses the answer: {e}\n{envelope}");
    }
}

/// Every demo record as `personpostXML` answers it to an organisation with every category
/// (V4): (the number asked, the answer).
fn full_answers(server: &TestServer) -> Vec<(String, String)> {
    let snapshot = server.state.store.snapshot();
    let full = Access::full();
    snapshot
        .iter()
        .map(|p| {
            let pnr = p.expect("a stored record").pnr();
            let views = folkreg::ops::personpost::run(&snapshot, &full, &pnr).expect("the lookup");
            let xml = answer_at(Answer::Personpost, Version::V4, &views);
            (
                pnr.to_string(),
                String::from_utf8(xml).expect("UTF-8 answer"),
            )
        })
        .collect()
}

/// A kind of record the contract must carry, recognised in its answer by Navet's elements.
struct Kind {
    name: &'static str,
    is: fn(&str) -> bool,
    /// Asked for also by an organisation without the sekretess category.
    protected: bool,
}

/// The identity number's day (`DD` of `YYYYMMDDNNNC`) is 61-91: a samordningsnummer.
fn samordningsnummer_day(n: &str) -> bool {
    n.get(6..8)
        .and_then(|d| d.parse::<u32>().ok())
        .is_some_and(|d| d > 60)
}

const KINDS: &[Kind] = &[
    Kind {
        name: "relation with a number",
        is: |a| a.contains("<RelationId><PersonNr>"),
        protected: false,
    },
    Kind {
        name: "relation without a number",
        is: |a| a.contains("<RelationId><FodelsetidNr>"),
        protected: false,
    },
    Kind {
        name: "sekretessmarkering",
        is: |a| a.contains("<Sekretessmarkering>J</Sekretessmarkering>"),
        protected: true,
    },
    Kind {
        name: "skyddad folkbokföring",
        is: |a| a.contains("<SkyddadFolkbokforing>J</SkyddadFolkbokforing>"),
        protected: true,
    },
    Kind {
        name: "samordningsnummer, aktivt",
        is: |a| a.contains("<IdentitetsstatusVarde>AKTIVT<"),
        protected: false,
    },
    Kind {
        name: "samordningsnummer, vilandeförklarat",
        is: |a| a.contains("<IdentitetsstatusVarde>VILANDEFORKLARAT<"),
        protected: false,
    },
    Kind {
        name: "samordningsnummer, vilandeförklarat stängt",
        is: |a| a.contains("<IdentitetsstatusVarde>VILANDEFORKLARAT_STANGT<"),
        protected: false,
    },
    Kind {
        name: "samordningsnummer, avregistrerat",
        is: |a| a.contains("<IdentitetsstatusVarde>AVREGISTRERAT<"),
        protected: false,
    },
    Kind {
        name: "tilldelat personnummer",
        is: |a| {
            element_text(a, "TilldelatPersonNrSamordningsNr")
                .is_some_and(|n| !samordningsnummer_day(&n))
        },
        protected: false,
    },
    Kind {
        name: "hänvisning",
        is: |a| a.contains("<HanvisningsPersonNr>"),
        protected: false,
    },
    Kind {
        name: "avliden",
        is: |a| a.contains("<AvregistreringsorsakKod>AV</AvregistreringsorsakKod>"),
        protected: false,
    },
    Kind {
        name: "utvandrad",
        is: |a| a.contains("<AvregistreringsorsakKod>UV</AvregistreringsorsakKod>"),
        protected: false,
    },
    Kind {
        name: "historik",
        is: |a| a.contains("<Historik>"),
        protected: false,
    },
    Kind {
        name: "civilstånd with its date",
        is: |a| a.contains("<Civilstandsdatum>"),
        protected: false,
    },
    Kind {
        name: "invandring",
        is: |a| a.contains("<Invandring>"),
        protected: false,
    },
    Kind {
        name: "medborgarskap",
        is: |a| a.contains("<Medborgarskap>"),
        protected: false,
    },
];

const VERSIONS: [&str; 3] = ["V2", "V3", "V4"];

fn order(client: &CertEntry) -> (String, String) {
    (
        client.org.clone().expect("org"),
        client.bestallningsid.clone().expect("bestallningsid"),
    )
}

/// `ns1` as an answer at `version` of `service` declares it.
fn ns1(service: &str, version: &str) -> String {
    format!(
        "xmlns:ns1=\"http://www.skatteverket.se/folkbokforing/na/{service}/{}\"",
        version.to_lowercase()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spread_of_record_kinds_answers_in_navets_schema() {
    let server = TestServer::start().await;
    let answers = full_answers(&server);
    let every_category = cert("client-exempel");
    let no_sekretess = cert("client-norrby");
    let mut missing = Vec::new();
    for (i, kind) in KINDS.iter().enumerate() {
        let Some((pnr, _)) = answers.iter().find(|(_, a)| (kind.is)(a)) else {
            missing.push(kind.name);
            continue;
        };
        let version = VERSIONS[i % VERSIONS.len()];
        let path = format!("/na/na_epersondata/{version}/personpostXML");
        let clients: &[&CertEntry] = if kind.protected {
            &[&every_category, &no_sekretess]
        } else {
            &[&every_category]
        };
        for client in clients {
            let (org, bid) = order(client);
            let r = server
                .post(client, &path, &personpost_body(&org, &bid, pnr))
                .await;
            let what = format!("{} asked by {} on {version}", kind.name, client.name);
            assert_eq!(r.status, 200, "{what}: {}", r.body);
            assert!(r.body.contains(&format!(">{pnr}<")), "{what}: {}", r.body);
            assert!(
                r.body.contains(&ns1("personpostXML", version)),
                "{what}: {}",
                r.body
            );
            assert_navet_valid(&what, &r.body);
        }
    }
    assert!(
        missing.is_empty(),
        "no demo record answers as these kinds (in Navet's elements): {missing:?}"
    );
    server.stop().await;
}

/// A search by Fornamn and Efternamn (as SUNET's Navet client sends it) finds a known
/// person on every version, and the answer is Navet's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_by_name_answers_in_navets_schema_on_every_version() {
    let server = TestServer::start().await;
    let answers = full_answers(&server);
    let (pnr, known) = answers
        .iter()
        .find(|(_, a)| {
            a.contains("<RelationId><PersonNr>")
                && !a.contains("<Sekretessmarkering>J")
                && !a.contains("<SkyddadFolkbokforing>J")
                && !a.contains("<Avregistrering>")
                && a.contains("<Fornamn>")
                && a.contains("<Efternamn>")
        })
        .expect("an ordinary person with a relation");
    let fornamn = element_text(known, "Fornamn").expect("Fornamn");
    let fornamn = fornamn.split(' ').next().expect("a first name");
    let efternamn = element_text(known, "Efternamn").expect("Efternamn");
    let client = cert("client-norrby");
    let (org, bid) = order(&client);
    for version in VERSIONS {
        let r = server
            .post(
                &client,
                &format!("/na/na_epersondata/{version}/namnsokningXML"),
                &namnsokning_body(
                    &org,
                    &bid,
                    &[("Fornamn", fornamn), ("EfterMellanNamn", &efternamn)],
                ),
            )
            .await;
        assert_eq!(r.status, 200, "{version}: {}", r.body);
        assert!(
            r.body.contains("<ns0:NamnsokningXMLResponse "),
            "{}",
            r.body
        );
        assert!(
            r.body.contains(&ns1("namnsokningXML", version)),
            "{}",
            r.body
        );
        assert!(
            r.body.contains(&format!(">{pnr}<")),
            "{version}: {}",
            r.body
        );
        assert_navet_valid(&format!("search on {version}"), &r.body);
    }
    server.stop().await;
}

/// A bad PersonId is the WSDL's declared fault: HTTP 500, `detail/WebServiceFault` with an
/// int `Felkod`, valid in Navet's schema, on every version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_person_id_is_navets_typed_fault() {
    let server = TestServer::start().await;
    let client = cert("client-lund");
    let (org, bid) = order(&client);
    for version in VERSIONS {
        let r = server
            .post(
                &client,
                &format!("/na/na_epersondata/{version}/personpostXML"),
                &personpost_body(&org, &bid, "198602212395"),
            )
            .await;
        assert_eq!(r.status, 500, "{version}: {}", r.body);
        assert!(r.body.contains(":WebServiceFault"), "{}", r.body);
        let felkod = r.text_of("Felkod").expect("Felkod");
        assert_eq!(felkod.parse::<i32>().ok(), Some(1101), "{}", r.body);
        assert_navet_valid(&format!("fault on {version}"), &r.body);
    }
    server.stop().await;
}

/// Every path of both services and every version serves Navet's WSDL names under that
/// version's namespace, and the one schema it imports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_version_serves_navets_wsdl_identity() {
    let server = TestServer::start().await;
    let client = cert("client-lund");
    for version in VERSIONS {
        for (service, capital, request) in [
            ("personpostXML", "PersonpostXML", "PersonpostRequest"),
            ("namnsokningXML", "NamnsokningXML", "NamnsokningRequest"),
        ] {
            let path = format!("/na/na_epersondata/{version}/{service}");
            let get = |query: &str| {
                format!("GET {path}?{query} HTTP/1.1\r\nHost: localhost:8443\r\nConnection: close\r\n\r\n")
            };
            let r = server.raw(&client, get("wsdl").as_bytes()).await.unwrap();
            assert_eq!(r.status, 200, "{path}: {}", r.body);
            let ns = format!(
                "http://www.skatteverket.se/folkbokforing/na/{service}/{}",
                version.to_lowercase()
            );
            for want in [
                format!("targetNamespace=\"{ns}\""),
                format!("<wsdl:documentation>Version {}.0<", &version[1..]),
                "<wsdl:operation name=\"getData\">".into(),
                "<wsdl:message name=\"getDataRequest\">".into(),
                "<wsdl:message name=\"getDataResponse\">".into(),
                format!("<wsdl:part name=\"parameters\" element=\"na:{request}\"/>"),
                format!("<wsdl:part name=\"parameters\" element=\"na:{capital}Response\"/>"),
                "<wsdl:message name=\"NaWebServiceException\">".into(),
                "<wsdl:part name=\"fault\" element=\"na:WebServiceFault\"/>".into(),
                format!("<wsdl:portType name=\"{capital}Interface\">"),
                format!(
                    "<wsdl:binding name=\"{capital}SoapBinding\" type=\"impl:{capital}Interface\">"
                ),
                "<wsdlsoap:operation soapAction=\"\"/>".into(),
                format!("<wsdl:service name=\"{capital}Service\">"),
                format!("<wsdl:port binding=\"impl:{capital}SoapBinding\" name=\"{service}\">"),
                format!("<wsdlsoap:address location=\"https://localhost:8443{path}\"/>"),
                format!("schemaLocation=\"{service}?xsd=epersondata.xsd\""),
            ] {
                assert!(
                    r.body.contains(&want),
                    "{path}?wsdl lacks {want}:\n{}",
                    r.body
                );
            }
            let r = server
                .raw(&client, get("xsd=epersondata.xsd").as_bytes())
                .await
                .unwrap();
            assert_eq!(r.status, 200, "{path}?xsd=epersondata.xsd");
            assert!(r
                .body
                .contains("<xs:complexType name=\"FolkbokforingspostTYPE\">"));
            let r = server
                .raw(&client, get("xsd=Navetavisering.xsd").as_bytes())
                .await
                .unwrap();
            assert_eq!(r.status, 404, "one schema: {path}?xsd=Navetavisering.xsd");
        }
    }
    server.stop().await;
}

/// The answers `folkreg serve` gives every demo record, to an organisation with every
/// category, written for xmllint: `.ci/run` runs this with `FOLKREG_DEMO_ANSWERS` set and
/// validates the folder with `tests/interop/validate_answers.py` (valid/total).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by .ci/run with FOLKREG_DEMO_ANSWERS=DIR, then validate_answers.py DIR"]
async fn every_demo_record_answers_in_navets_schema() {
    let dir = PathBuf::from(
        std::env::var_os("FOLKREG_DEMO_ANSWERS").expect("FOLKREG_DEMO_ANSWERS=DIR to write to"),
    );
    std::fs::create_dir_all(&dir).expect("the answers' folder");
    let server = TestServer::start().await;
    let answers = full_answers(&server);
    assert!(answers.len() >= folkreg::dev::demo::DEMO_PERSONS);
    for (i, (_, xml)) in answers.iter().enumerate() {
        std::fs::write(dir.join(format!("demo-{i:05}.xml")), xml).expect("write an answer");
    }
    println!("{} demo answers in {}", answers.len(), dir.display());
    server.stop().await;
}
