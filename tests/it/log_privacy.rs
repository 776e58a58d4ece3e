//! Ordinary logs never carry personal data (CONTRACT.md): the real binary at the most verbose
//! log level (`RUST_LOG=trace`, every crate) serves the suite's kinds of traffic — lookups and
//! searches by every dev certificate, refused ones too, malformed and oversized requests that
//! carry identity numbers and names — and then its whole log is searched for every identity
//! number of the demo population and the names and addresses of the persons asked about.

use std::collections::HashSet;

use crate::common::*;
use folkreg::model::Folkbokforingspost;

/// Names, addresses and numbers of a person, as they could appear in a log.
fn personal_texts(p: &Folkbokforingspost) -> Vec<String> {
    let pp = &p.personpost;
    let mut out = vec![p.pnr().to_string(), p.pnr().as_str()[2..].to_owned()];
    for name in [&pp.namn.fornamn, &pp.namn.mellannamn, &pp.namn.efternamn]
        .into_iter()
        .flatten()
    {
        out.extend(name.split(' ').filter(|w| w.len() >= 4).map(str::to_owned));
    }
    for a in [
        &pp.adresser.folkbokforingsadress,
        &pp.adresser.sarskild_postadress,
    ]
    .into_iter()
    .flatten()
    {
        out.extend(a.utdelningsadress2.clone());
        out.extend(a.care_of.clone());
    }
    out
}

/// Every `[n, n, …]` list of ASCII digit codes in the text, decoded.
fn byte_lists(text: &str) -> Vec<String> {
    text.split('[')
        .skip(1)
        .filter_map(|rest| {
            let inner = rest.split(']').next()?;
            let bytes: Option<Vec<u8>> = inner.split(',').map(|b| b.trim().parse().ok()).collect();
            let bytes = bytes?;
            (bytes.len() >= 10 && bytes.iter().all(u8::is_ascii_digit))
                .then(|| String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_holds_no_identity_number_name_or_address() {
    // The server generates and loads the demo itself, so that the log of that is searched too.
    let mut server = RealServer::start_generating_demo(&[], &[("RUST_LOG", "trace")]).await;
    let addr = server.addr;
    let pop = demo_population();
    // Every kind of record: the first protected, samordningsnummer, deregistered, and a
    // spread of ordinary ones.
    let mut asked: Vec<&Folkbokforingspost> = pop.iter().step_by(2_000).collect();
    asked.extend(pop.iter().filter(|p| p.is_protected()).take(2));
    asked.extend(
        pop.iter()
            .filter(|p| p.personpost.avregistrering.is_some())
            .take(2),
    );
    asked.extend(
        pop.iter()
            .filter(|p| p.personpost.samordning.is_some())
            .take(2),
    );

    let certs: Vec<CertEntry> = certs_index()
        .into_iter()
        .filter(|c| c.kind == "client")
        .collect();
    let mut answered = 0;
    for client in &certs {
        let org = client.org.clone().unwrap_or_else(|| "162021004748".into());
        let bid = client
            .bestallningsid
            .clone()
            .unwrap_or_else(|| "00000079-FO01-0001".into());
        for p in &asked {
            let pnr = p.pnr().to_string();
            let mut bodies = vec![(PP, personpost_body(&org, &bid, &pnr))];
            if let (Some(efternamn), Some(adr)) = (
                p.personpost.namn.efternamn.as_deref(),
                p.personpost.adresser.folkbokforingsadress.as_ref(),
            ) {
                let postort = adr.postort.clone().unwrap_or_default();
                let gata = adr.utdelningsadress2.clone().unwrap_or_default();
                bodies.push((
                    NS,
                    namnsokning_body(
                        &org,
                        &bid,
                        &[
                            ("EfterMellanNamn", efternamn),
                            ("Postort", &postort),
                            ("Adress", &gata),
                        ],
                    ),
                ));
                // Malformed: an unclosed element after the personal data.
                bodies.push((
                    NS,
                    format!("<Envelope><Body><NamnsokningRequest><Fornamn>{efternamn}</Fornamn><PersonId>{pnr}</PersonId"),
                ));
            }
            // The wrong organisation, and an order id the register does not know.
            bodies.push((PP, personpost_body("162120000134", &bid, &pnr)));
            bodies.push((PP, personpost_body(&org, "okänd-beställning", &pnr)));
            // A person id that is not a number, carrying the name.
            bodies.push((
                PP,
                personpost_body(
                    &org,
                    &bid,
                    &format!(
                        "{pnr}{}",
                        p.personpost.namn.efternamn.clone().unwrap_or_default()
                    ),
                ),
            ));
            for (path, body) in bodies {
                if raw_at(addr, client, post_request(path, &body).as_bytes())
                    .await
                    .is_ok()
                {
                    answered += 1;
                }
            }
        }
        if client.name == "client-lund" {
            // Too large, full of identity numbers.
            let big: String = asked
                .iter()
                .map(|p| p.pnr().to_string())
                .cycle()
                .take(8_000)
                .collect();
            let _ = raw_at(addr, client, post_request(PP, &big).as_bytes()).await;
        }
    }
    assert!(answered > 50, "the traffic was served ({answered} answers)");

    // SIGTERM: a graceful stop flushes everything the server would log.
    server.terminate().await;
    let text = std::fs::read_to_string(&server.log).expect("log");
    if let Ok(keep) = std::env::var("FOLKREG_KEEP_LOG") {
        let _ = std::fs::write(keep, &text);
    }
    assert!(text.lines().count() > 50, "trace logging was on:\n{text}");
    // Every run of 10 or 12 digits in the log, against every number in the population.
    let numbers: HashSet<String> = pop
        .iter()
        .flat_map(|p| [p.pnr().to_string(), p.pnr().as_str()[2..].to_owned()])
        .collect();
    let mut run = String::new();
    for c in text.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        assert!(
            !numbers.contains(&run),
            "an identity number is in the log (a run of {} digits)",
            run.len()
        );
        run.clear();
    }
    // The same numbers written as byte lists (`[49, 57, …]`, as sled's trace lines would).
    for list in byte_lists(&text) {
        assert!(
            !numbers.contains(&list),
            "an identity number is in the log as a byte list"
        );
    }
    for p in &asked {
        for t in personal_texts(p) {
            if let Some(at) = text.find(&t) {
                let line = text[..at].lines().count();
                panic!(
                    "a name or address is in the log, line {line} ({} characters)",
                    t.len()
                );
            }
        }
    }
}
