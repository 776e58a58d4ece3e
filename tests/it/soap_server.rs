//! The real server on an ephemeral port, real TLS, the development PKI from `certs-dev/`:
//! both operations, the faults, WSDL serving, every certificate of `certs-dev/index.toml`
//! against its expected outcome, and every answer validated against `wsdl/epersondata.xsd`.

use crate::common::*;
use folkreg::model::{Folkbokforingspost, Identitetstyp};

fn ordinary(server: &TestServer) -> Folkbokforingspost {
    let snap = server.state.store.snapshot();
    let found = snap
        .iter()
        .filter_map(Result::ok)
        .find(|p| {
            !p.is_protected()
                && p.personpost.identitetstyp == Identitetstyp::Personnummer
                && p.personpost.avregistrering.is_none()
                && p.personpost.adresser.folkbokforingsadress.is_some()
        })
        .expect("an ordinary person in the demo data");
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personpost_and_namnsokning_answer_and_validate() {
    let server = TestServer::start().await;
    let client = accepted_client(&[]);
    let (org, bid) = (
        client.org.clone().unwrap(),
        client.bestallningsid.clone().unwrap(),
    );
    let person = ordinary(&server);
    let pnr = person.pnr().to_string();

    let r = server
        .post(&client, PP, &personpost_body(&org, &bid, &pnr))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some("text/xml; charset=utf-8"));
    assert_eq!(r.text_of("PersonNr").as_deref(), Some(pnr.as_str()));
    assert_eq!(
        r.text_of("Efternamn"),
        person.personpost.namn.efternamn.clone()
    );
    assert!(r.body.contains("<ns0:PersonpostXMLResponse xmlns:ns0="));
    assert_valid(&r.body);

    // V4 path and the 10-digit OrgNr work the same.
    let r4 = server
        .post(
            &client,
            "/na/na_epersondata/V4/personpostXML",
            &personpost_body(&org[2..], &bid, &pnr),
        )
        .await;
    assert_eq!(r4.status, 200);
    assert_eq!(
        r4.body,
        r.body.replace("/personpostXML/v2\"", "/personpostXML/v4\""),
        "the same answer, declaring V4's WSDL namespace as ns1"
    );

    // A number that does not exist: an empty list, not a fault.
    let r = server
        .post(&client, PP, &personpost_body(&org, &bid, "189001012385"))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<ns0:Folkbokforingsposter/>"), "{}", r.body);
    assert_valid(&r.body);

    // Search by the person's first name, surname and postort finds the person.
    let fornamn = person.personpost.namn.fornamn.clone().unwrap();
    let first = fornamn.split(' ').next().unwrap().to_owned();
    let efternamn = person.personpost.namn.efternamn.clone().unwrap();
    let postort = person
        .personpost
        .adresser
        .folkbokforingsadress
        .clone()
        .unwrap()
        .postort
        .unwrap();
    let r = server
        .post(
            &client,
            NS,
            &namnsokning_body(
                &org,
                &bid,
                &[
                    ("Fornamn", &first),
                    ("EfterMellanNamn", &efternamn),
                    ("Postort", &postort),
                ],
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.body.contains(&format!("<PersonNr>{pnr}</PersonNr>")),
        "{}",
        r.body
    );
    assert!(r.body.contains("<ns0:NamnsokningXMLResponse"));
    assert_valid(&r.body);

    // A search without a name is refused; a very common prefix gives "too many", never a
    // cut list.
    let r = server
        .post(
            &client,
            NS,
            &namnsokning_body(&org, &bid, &[("Postort", &postort), ("Kon", "K")]),
        )
        .await;
    assert_eq!(
        (r.status, r.text_of("Felkod").as_deref()),
        (500, Some("1102"))
    );
    let r = server
        .post(
            &client,
            NS,
            &namnsokning_body(&org, &bid, &[("EfterMellanNamn", "an*"), ("Kon", "K")]),
        )
        .await;
    assert_eq!(
        (r.status, r.text_of("Felkod").as_deref()),
        (500, Some("1103")),
        "{}",
        r.body
    );
    assert_eq!(r.text_of("faultcode").as_deref(), Some("S:Client"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_and_http_errors() {
    let server = TestServer::start().await;
    let client = accepted_client(&[]);
    let (org, bid) = (
        client.org.clone().unwrap(),
        client.bestallningsid.clone().unwrap(),
    );
    let cases: Vec<(&str, String, u16, Option<&str>)> = vec![
        (
            PP,
            personpost_body(&org, &bid, "198602212395"),
            500,
            Some("1101"),
        ),
        (
            PP,
            personpost_body("165565475489", &bid, "198602212394"),
            500,
            Some("1201"),
        ),
        (
            PP,
            personpost_body(&org, "99999999-XX01-0001", "198602212394"),
            500,
            Some("1202"),
        ),
        (PP, "<S:Envelope".to_owned(), 500, Some("1101")),
        (
            NS,
            personpost_body(&org, &bid, "198602212394"),
            500,
            Some("1101"),
        ),
        (
            PP,
            format!(
                "{}{}",
                " ".repeat(70_000),
                personpost_body(&org, &bid, "198602212394")
            ),
            500,
            Some("1401"),
        ),
        (
            "/na/na_epersondata/V2/nothing",
            personpost_body(&org, &bid, "198602212394"),
            404,
            None,
        ),
        (
            "/na/na_epersondata/V2/personpost",
            personpost_body(&org, &bid, "198602212394"),
            404,
            None,
        ),
    ];
    for (path, body, status, code) in cases {
        let r = server.post(&client, path, &body).await;
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert_eq!(r.text_of("Felkod").as_deref(), code, "{path}: {}", r.body);
        if code.is_some() {
            assert_valid_fault(&r.body);
        }
    }
    let r = server
        .raw(
            &client,
            format!(
                "PUT {PP} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wsdl_and_xsd_are_served_with_the_callers_address() {
    let server = TestServer::start().await;
    let client = accepted_client(&[]);
    let req = format!(
        "GET {PP}?wsdl HTTP/1.1\r\nHost: folkreg.example:8443\r\nConnection: close\r\n\r\n"
    );
    let r = server.raw(&client, req.as_bytes()).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<wsdlsoap:address location=\"https://folkreg.example:8443/na/na_epersondata/V2/personpostXML\"/>"), "{}", r.body);
    assert!(r
        .body
        .contains("schemaLocation=\"personpostXML?xsd=epersondata.xsd\""));
    let req =
        format!("GET {NS}?xsd=epersondata.xsd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let r = server.raw(&client, req.as_bytes()).await.unwrap();
    assert_eq!(r.status, 200);
    assert!(r.body.contains("<xs:schema"));
    server.stop().await;
}

/// Every certificate in `certs-dev/index.toml` gets the outcome the index says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dev_certificate_gets_its_expected_outcome() {
    let server = TestServer::start().await;
    let person = ordinary(&server).pnr().to_string();
    let clients: Vec<_> = certs_index()
        .into_iter()
        .filter(|c| c.kind == "client")
        .collect();
    assert!(clients.len() >= 10, "positive and negative cases");
    for c in clients {
        let org = c.org.clone().unwrap_or_else(|| "162021004748".into());
        let bid = c
            .bestallningsid
            .clone()
            .unwrap_or_else(|| "00000079-FO01-0001".into());
        let body = personpost_body(&org, &bid, &person);
        let req = format!(
            "POST {PP} HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let got = server.raw(&c, req.as_bytes()).await;
        let why = c.why.clone().unwrap_or_default();
        match c.expect.as_deref() {
            Some("accepted") => {
                let r = got.unwrap_or_else(|e| panic!("{}: {e} ({why})", c.name));
                assert_eq!(r.status, 200, "{} ({why}): {}", c.name, r.body);
            }
            Some("register-refused") => {
                let r = got.unwrap_or_else(|e| panic!("{}: {e} ({why})", c.name));
                assert_eq!(
                    (r.status, r.text_of("Felkod").as_deref()),
                    (500, Some("1301")),
                    "{} ({why})",
                    c.name
                );
            }
            Some("handshake-refused") => {
                assert!(got.is_err(), "{} must fail the handshake ({why})", c.name)
            }
            other => panic!("{}: unknown expect {other:?}", c.name),
        }
    }
    server.stop().await;
}
