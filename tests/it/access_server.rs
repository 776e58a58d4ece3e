//! The access rules through the real server and real certificates: the three accepted dev
//! organisations (`certs-dev/index.toml`) differ in categories and switches, and each gets
//! exactly its share of the demo population. Every answer validates against the XSD.

use crate::common::*;
use folkreg::model::{Folkbokforingspost, Identitetstyp};

/// A caller: its certificate, organisation and order id.
struct Caller {
    cert: CertEntry,
    org: String,
    bid: String,
}

fn caller(name: &str) -> Caller {
    let cert = cert(name);
    Caller {
        org: cert.org.clone().expect("org"),
        bid: cert.bestallningsid.clone().expect("bestallningsid"),
        cert,
    }
}

impl Caller {
    async fn lookup(&self, server: &TestServer, pnr: &str) -> HttpResponse {
        let r = server
            .post(&self.cert, PP, &personpost_body(&self.org, &self.bid, pnr))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_valid(&r.body);
        r
    }

    async fn search(&self, server: &TestServer, fields: &[(&str, &str)]) -> HttpResponse {
        server
            .post(
                &self.cert,
                NS,
                &namnsokning_body(&self.org, &self.bid, fields),
            )
            .await
    }
}

fn find(server: &TestServer, what: impl Fn(&Folkbokforingspost) -> bool) -> Folkbokforingspost {
    let snap = server.state.store.snapshot();
    let found = snap
        .iter()
        .filter_map(Result::ok)
        .find(|p| what(p))
        .expect("the demo population has one");
    found
}

/// The answer to a number that does not exist, for this caller.
async fn not_found(server: &TestServer, c: &Caller) -> String {
    c.lookup(server, "189001012385").await.body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_organisation_gets_exactly_its_categories() {
    let server = TestServer::start().await;
    // grund only, no switches.
    let lund = caller("client-lund");
    // every category but sekretess, every switch.
    let norrby = caller("client-norrby");
    // every category, only the samordningsnummer switch.
    let exempel = caller("client-exempel");

    // An ordinary person with relations, medborgarskap and taxering terms.
    let p = find(&server, |p| {
        !p.is_protected()
            && p.personpost.identitetstyp == Identitetstyp::Personnummer
            && !p.personpost.relationer.is_empty()
            && !p.personpost.medborgarskap.is_empty()
            && p.personpost.civilstand.is_some()
    });
    let pnr = p.pnr().to_string();
    let r = lund.lookup(&server, &pnr).await;
    assert!(r.body.contains("<Namn>") && r.body.contains("<Folkbokforing>"));
    for hidden in [
        "<Relationer>",
        "<Civilstand>",
        "<Medborgarskap>",
        "<Taxering>",
        "<HemortSverige>",
    ] {
        assert!(!r.body.contains(hidden), "grund-only sees {hidden}");
    }
    let r = norrby.lookup(&server, &pnr).await;
    assert!(r.body.contains("<Relationer>") && r.body.contains("<Medborgarskap>"));

    // Uppehållsrätt needs the switch sarskilda_uppgifter: norrby has it, exempel not.
    let u = find(&server, |p| {
        p.personpost.uppehallsratt.is_some() && !p.is_protected()
    });
    let upnr = u.pnr().to_string();
    assert!(norrby
        .lookup(&server, &upnr)
        .await
        .body
        .contains("<Uppehallsratt>"));
    let r = exempel.lookup(&server, &upnr).await;
    assert!(r.body.contains("<PersonNr>") && !r.body.contains("<Uppehallsratt>"));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_persons_minimal_without_sekretess_never_in_a_search() {
    let server = TestServer::start().await;
    let lund = caller("client-lund");
    let norrby = caller("client-norrby");
    let exempel = caller("client-exempel");
    for (what, p) in [
        (
            "sekretessmarkering",
            find(&server, |p| {
                p.sekretessmarkering && !p.skyddad_folkbokforing
            }),
        ),
        (
            "skyddad folkbokföring",
            find(&server, |p| p.skyddad_folkbokforing),
        ),
    ] {
        let pnr = p.pnr().to_string();
        let name = p.personpost.namn.efternamn.clone().expect("a surname");
        for c in [&lund, &norrby] {
            let r = c.lookup(&server, &pnr).await;
            assert_eq!(
                r.text_of("PersonNr").as_deref(),
                Some(pnr.as_str()),
                "{what}"
            );
            assert!(
                r.body
                    .contains("<Sekretessmarkering>J</Sekretessmarkering>")
                    || r.body
                        .contains("<SkyddadFolkbokforing>J</SkyddadFolkbokforing>"),
                "{what}: the marking is in every answer"
            );
            for hidden in [
                "<Namn>",
                "<Adresser>",
                "<Folkbokforing>",
                "<Relationer>",
                "Arendeuppgift",
                "<Kon>",
            ] {
                assert!(
                    !r.body.contains(hidden),
                    "{what}: {hidden} without sekretess"
                );
            }
            assert!(!r.body.contains(&name), "{what}: the name leaked");
        }
        // With sekretess: the terms of its other categories.
        let r = exempel.lookup(&server, &pnr).await;
        assert_eq!(
            r.text_of("Efternamn").as_deref(),
            Some(name.as_str()),
            "{what}"
        );

        // A search that matches the person finds nothing, whatever the categories.
        let postort = p
            .personpost
            .adresser
            .folkbokforingsadress
            .as_ref()
            .or(p.personpost.adresser.sarskild_postadress.as_ref())
            .and_then(|a| a.postort.clone())
            .expect("a postort");
        let born = p.pnr().as_str()[..8].to_owned();
        for c in [&lund, &norrby, &exempel] {
            let r = c
                .search(
                    &server,
                    &[
                        ("EfterMellanNamn", &name),
                        ("FodelsetidFrom", &born),
                        ("FodelsetidTom", &born),
                        ("Postort", &postort),
                    ],
                )
                .await;
            assert_eq!(r.status, 200, "{}", r.body);
            assert!(!r.body.contains(&pnr), "{what}: found by a search");
        }
    }
    server.stop().await;
}

/// Direct lookups give every organisation samordningsnummer and tilldelat personnummer with
/// number, name, address, folkbokföring and avregistrering, whatever its switches (Navet 3.5,
/// DOMAIN.md §1); the switches govern ändringsavisering and urval only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_organisation_looks_up_samordningsnummer_and_tilldelat_personnummer() {
    let server = TestServer::start().await;
    let lund = caller("client-lund");
    let norrby = caller("client-norrby");
    let exempel = caller("client-exempel");
    let samordning = find(&server, |p| {
        p.personpost.identitetstyp == Identitetstyp::Samordningsnummer && !p.is_protected()
    });
    let tilldelat = find(&server, |p| {
        p.personpost.identitetstyp == Identitetstyp::TilldelatPersonnummer && !p.is_protected()
    });
    let (s, t) = (samordning.pnr().to_string(), tilldelat.pnr().to_string());
    // With the switch (norrby; exempel for samordningsnummer) and without it (lund; exempel
    // for tilldelat personnummer): the record, in TilldelatPersonNrSamordningsNr, with its
    // name.
    for (c, n, post) in [
        (&lund, &s, &samordning),
        (&lund, &t, &tilldelat),
        (&exempel, &t, &tilldelat),
        (&norrby, &s, &samordning),
        (&exempel, &s, &samordning),
        (&norrby, &t, &tilldelat),
    ] {
        let r = c.lookup(&server, n).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            r.text_of("TilldelatPersonNrSamordningsNr").as_deref(),
            Some(n.as_str()),
            "{}",
            r.body
        );
        if let Some(efternamn) = &post.personpost.namn.efternamn {
            assert!(r.body.contains(efternamn.as_str()), "no name: {}", r.body);
        }
        assert_ne!(r.body, not_found(&server, c).await);
    }
    server.stop().await;
}
