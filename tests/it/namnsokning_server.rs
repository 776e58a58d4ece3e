//! Namnsökning's inputs as WIRE.md "Requests" says, over real mTLS against the demo store:
//! one name criterion alone is a search, no name is fault 1102, `Kategori` AL/FB, leading
//! parts of `Fodelsetid…` (a day of 61–91 finds a samordningsnummer) and `Postnummer…`,
//! names case- and accent-insensitive with a trailing wildcard, unused criteria empty or
//! `xsi:nil`. The persons are picked from the store the server serves, by what the records
//! hold, not by the search code under test.

use std::collections::{HashMap, HashSet};

use crate::common::*;
use folkreg::model::{Folkbokforingspost, Identitetstyp};

/// Most hits a search answers before fault 1103 (the default `max_hits`).
const MAX_HITS: usize = 100;

/// The identity numbers an answer holds, in order.
fn hits(body: &str) -> Vec<String> {
    body.split("<Folkbokforingspost>")
        .skip(1)
        .filter_map(|post| {
            let start = post.find("<PersonId>")?;
            let end = post.find("</PersonId>")? + "</PersonId>".len();
            let id = &post[start..end];
            element_text(id, "PersonNr")
                .or_else(|| element_text(id, "TilldelatPersonNrSamordningsNr"))
        })
        .collect()
}

/// The same request with every empty criterion sent as `xsi:nil="true"` instead.
fn with_nils(body: &str) -> String {
    let mut out = body.replacen(
        "<soapenv:Envelope ",
        "<soapenv:Envelope xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ",
        1,
    );
    for n in folkreg::soap::request::SOKVILLKOR_NAMN {
        out = out.replace(
            &format!("<v1:{n}></v1:{n}>"),
            &format!("<v1:{n} xsi:nil=\"true\"/>"),
        );
    }
    out
}

/// The demo store's records, and the numbers linked by hänvisning (a search never finds
/// a record linked to a protected one; these tests keep clear of links altogether).
struct Population {
    posts: Vec<Folkbokforingspost>,
    linked: HashSet<String>,
}

impl Population {
    fn of(server: &TestServer) -> Population {
        let posts: Vec<Folkbokforingspost> = server
            .state
            .store
            .snapshot()
            .iter()
            .filter_map(Result::ok)
            .collect();
        let mut linked = HashSet::new();
        for p in &posts {
            for h in &p.personpost.hanvisning {
                linked.insert(h.to_string());
                linked.insert(p.pnr().to_string());
            }
        }
        Population { posts, linked }
    }

    /// Persons a search may find: not protected, not linked.
    fn findable(&self) -> impl Iterator<Item = &Folkbokforingspost> {
        self.posts
            .iter()
            .filter(|p| !p.is_protected() && !self.linked.contains(&p.pnr().to_string()))
    }

    /// For each folded word, how many records (protected ones too: an upper bound on the
    /// hits of a search by it) carry it in the names `scope` gives.
    fn word_counts(
        &self,
        scope: impl Fn(&Folkbokforingspost) -> Vec<String>,
    ) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for p in &self.posts {
            let words: HashSet<String> = scope(p)
                .iter()
                .flat_map(|n| folkreg::search::words(n))
                .collect();
            for w in words {
                *counts.entry(w).or_default() += 1;
            }
        }
        counts
    }
}

/// Whether `word` is a word of `name`, folded as the service folds (case and accents; the
/// folding itself is `search`'s unit tests' subject).
fn has_word(name: &str, word: &str) -> bool {
    let word = folkreg::search::fold(word);
    folkreg::search::words(name).any(|w| w == word.trim())
}

fn fornamn(p: &Folkbokforingspost) -> Vec<String> {
    p.personpost.namn.fornamn.iter().cloned().collect()
}

fn mellannamn(p: &Folkbokforingspost) -> Vec<String> {
    p.personpost.namn.mellannamn.iter().cloned().collect()
}

fn efter_mellan(p: &Folkbokforingspost) -> Vec<String> {
    let n = &p.personpost.namn;
    n.efternamn
        .iter()
        .chain(n.mellannamn.iter())
        .cloned()
        .collect()
}

/// Whether a name starts with two letters (a `xx*` prefix of it is a valid pattern).
fn two_letters(name: Option<&String>) -> bool {
    name.is_some_and(|n| n.chars().take(2).filter(|c| c.is_alphabetic()).count() == 2)
}

/// A findable person (passing `also`) and a word of the name `pick` gives that at most
/// `MAX_HITS` records carry in the names a search by it looks at (`scope`).
fn rare_word(
    pop: &Population,
    pick: impl Fn(&Folkbokforingspost) -> Vec<String>,
    scope: impl Fn(&Folkbokforingspost) -> Vec<String>,
    also: impl Fn(&Folkbokforingspost) -> bool,
) -> (&Folkbokforingspost, String) {
    let counts = pop.word_counts(scope);
    pop.findable()
        .filter(|p| also(p))
        .find_map(|p| {
            let names = pick(p);
            let word = names
                .iter()
                .flat_map(|n| n.split([' ', '-']))
                .filter(|w| w.chars().count() >= 3 && w.chars().all(char::is_alphabetic))
                .find(|w| {
                    counts
                        .get(&folkreg::search::fold(w))
                        .is_some_and(|n| (1..=MAX_HITS).contains(n))
                })?;
            Some((p, word.to_owned()))
        })
        .expect("a findable person with a name word few others carry")
}

/// The identity number's first eight digits (a samordningsnummer's day + 60).
fn written_date(p: &Folkbokforingspost) -> String {
    p.pnr().as_str()[..8].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namnsokning_inputs_as_wire_says() {
    let server = TestServer::start().await;
    let client = accepted_client(&[]);
    let (org, bid) = (
        client.org.clone().expect("org"),
        client.bestallningsid.clone().expect("bestallningsid"),
    );
    let pop = Population::of(&server);
    let search = |fields: &[(&str, &str)]| namnsokning_body(&org, &bid, fields);
    let found = |body: &str, pnr: &str| hits(body).iter().any(|h| h == pnr);

    // Fornamn alone is a search: the person is among the hits, each of which has the name.
    let (p, word) = rare_word(&pop, fornamn, fornamn, |p| {
        two_letters(p.personpost.namn.efternamn.as_ref())
    });
    let pnr = p.pnr().to_string();
    for body in [
        search(&[("Fornamn", &word)]),
        with_nils(&search(&[("Fornamn", &word)])),
    ] {
        let r = server.post(&client, NS, &body).await;
        assert_eq!(r.status, 200, "Fornamn {word} alone: {}", r.body);
        assert_valid(&r.body);
        assert!(found(&r.body, &pnr), "Fornamn {word} alone finds {pnr}");
        assert!(hits(&r.body).len() <= MAX_HITS);
        for h in hits(&r.body) {
            let post = pop
                .posts
                .iter()
                .find(|q| q.pnr().to_string() == h)
                .expect("a hit is a record");
            assert!(
                fornamn(post).iter().any(|n| has_word(n, &word)),
                "{h} has förnamn {word}"
            );
        }
    }
    // Case and accents do not matter; å ä ö are letters of their own.
    let upper = word.to_uppercase();
    let r = server
        .post(&client, NS, &search(&[("Fornamn", &upper)]))
        .await;
    assert!(found(&r.body, &pnr), "Fornamn {upper}: {}", r.body);

    // EfterMellanNamn alone is a search too, and matches a mellannamn.
    let (m, mellan) = rare_word(&pop, mellannamn, efter_mellan, |_| true);
    let r = server
        .post(&client, NS, &search(&[("EfterMellanNamn", &mellan)]))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        found(&r.body, &m.pnr().to_string()),
        "EfterMellanNamn {mellan} is a mellannamn"
    );

    // A trailing wildcard after two characters, narrowed by the exact födelsetid.
    let efternamn = p.personpost.namn.efternamn.clone().expect("efternamn");
    let prefix: String = efternamn.chars().take(2).collect::<String>() + "*";
    let date = written_date(p);
    let r = server
        .post(
            &client,
            NS,
            &search(&[
                ("EfterMellanNamn", &prefix),
                ("FodelsetidFrom", &date),
                ("FodelsetidTom", &date),
            ]),
        )
        .await;
    assert!(
        found(&r.body, &pnr),
        "EfterMellanNamn {prefix} born {date}: {}",
        r.body
    );
    let r = server
        .post(&client, NS, &search(&[("EfterMellanNamn", "A*")]))
        .await;
    assert_eq!(
        r.text_of("Felkod").as_deref(),
        Some("1101"),
        "one letter before *"
    );

    // No name criterion at all: fault 1102, whatever else is given.
    for fields in [
        &[][..],
        &[
            ("Postort", "Lund"),
            ("Kon", "K"),
            ("FodelsetidFrom", "1980"),
            ("Kategori", "FB"),
        ][..],
    ] {
        for body in [search(fields), with_nils(&search(fields))] {
            let r = server.post(&client, NS, &body).await;
            assert_eq!(
                (r.status, r.text_of("Felkod").as_deref()),
                (500, Some("1102")),
                "{fields:?}"
            );
            assert_eq!(r.text_of("faultcode").as_deref(), Some("S:Client"));
            assert!(
                r.text_of("Beskrivning").is_some_and(|b| b
                    .starts_with("Felaktiga inparametrar: sökningen saknar namn")
                    && b.contains(" / Invalid input: the search has no name criterion")),
                "{}",
                r.body
            );
            assert_valid_fault(&r.body);
        }
    }

    // Kategori: AL (or empty, or nil) finds an avregistrerad person, FB does not.
    let gone = pop
        .findable()
        .find(|p| {
            p.personpost.avregistrering.is_some()
                && p.personpost.identitetstyp == Identitetstyp::Personnummer
                && p.personpost.namn.efternamn.is_some()
        })
        .expect("an avregistrerad person in the demo data");
    let (gone_pnr, gone_date) = (gone.pnr().to_string(), written_date(gone));
    let gone_name = gone.personpost.namn.efternamn.clone().expect("efternamn");
    for (kategori, finds) in [("AL", true), ("", true), ("FB", false)] {
        let body = search(&[
            ("EfterMellanNamn", &gone_name),
            ("FodelsetidFrom", &gone_date),
            ("FodelsetidTom", &gone_date),
            ("Kategori", kategori),
        ]);
        for body in [body.clone(), with_nils(&body)] {
            let r = server.post(&client, NS, &body).await;
            assert_eq!(r.status, 200, "Kategori {kategori:?}: {}", r.body);
            assert_eq!(
                found(&r.body, &gone_pnr),
                finds,
                "Kategori {kategori:?}: {}",
                r.body
            );
        }
    }
    let r = server
        .post(
            &client,
            NS,
            &search(&[("EfterMellanNamn", &gone_name), ("Kategori", "XX")]),
        )
        .await;
    assert_eq!(r.text_of("Felkod").as_deref(), Some("1101"));
    assert!(
        r.body.contains("Kategori must be AL, FB or empty"),
        "{}",
        r.body
    );

    // FodelsetidFrom with a day of 61-91 finds a samordningsnummer born that day; the same
    // day as a personnummer writes it does not.
    let samordning = pop
        .findable()
        .find(|p| {
            p.personpost.identitetstyp == Identitetstyp::Samordningsnummer
                && p.personpost.namn.efternamn.is_some()
        })
        .expect("a samordningsnummer in the demo data");
    let (s_pnr, s_date) = (samordning.pnr().to_string(), written_date(samordning));
    assert!(
        (61..=91).contains(&s_date[6..].parse::<u32>().expect("day")),
        "{s_date}"
    );
    let s_name = samordning
        .personpost
        .namn
        .efternamn
        .clone()
        .expect("efternamn");
    let real_day = format!(
        "{}{:02}",
        &s_date[..6],
        s_date[6..].parse::<u32>().expect("day") - 60
    );
    for (from, tom, finds) in [
        (s_date.as_str(), s_date.as_str(), true),
        (s_date.as_str(), "", true),
        (&s_date[..6], &s_date[..6], true),
        (&s_date[..4], &s_date[..4], true),
        (real_day.as_str(), real_day.as_str(), false),
    ] {
        let r = server
            .post(
                &client,
                NS,
                &search(&[
                    ("EfterMellanNamn", &s_name),
                    ("FodelsetidFrom", from),
                    ("FodelsetidTom", tom),
                ]),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_valid(&r.body);
        assert_eq!(
            found(&r.body, &s_pnr),
            finds,
            "From {from} Tom {tom}: {}",
            r.body
        );
        for h in hits(&r.body) {
            assert!(
                h[..8] >= *from && (tom.is_empty() || h[..tom.len()] <= *tom),
                "{h}: From {from} Tom {tom}"
            );
        }
    }
    let r = server
        .post(
            &client,
            NS,
            &search(&[("EfterMellanNamn", &s_name), ("FodelsetidFrom", "19800145")]),
        )
        .await;
    assert_eq!(r.text_of("Felkod").as_deref(), Some("1101"));
    assert!(
        r.body.contains("FodelsetidFrom has no day 01-31, or 61-91"),
        "{}",
        r.body
    );

    // A postnummer prefix: From 12 and Tom 12 are every postnummer starting 12.
    let (q, postnr) = pop
        .findable()
        .filter(|p| p.personpost.adresser.sarskild_postadress.is_none())
        .find_map(|p| {
            let nr = p
                .personpost
                .adresser
                .folkbokforingsadress
                .as_ref()?
                .post_nr
                .clone()?;
            p.personpost.namn.efternamn.as_ref()?;
            (nr.len() == 5).then_some((p, nr))
        })
        .expect("a person with a postnummer");
    let q_name = q.personpost.namn.efternamn.clone().expect("efternamn");
    let q_pnr = q.pnr().to_string();
    let next = (postnr[..2].parse::<u32>().expect("digits") + 1).to_string();
    for (from, tom, finds) in [
        (&postnr[..2], &postnr[..2], true),
        (&postnr[..3], "", true),
        ("", &postnr[..1], true),
        (postnr.as_str(), postnr.as_str(), true),
        (next.as_str(), "", false),
    ] {
        let r = server
            .post(
                &client,
                NS,
                &search(&[
                    ("EfterMellanNamn", &q_name),
                    ("PostnummerFrom", from),
                    ("PostnummerTom", tom),
                ]),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            found(&r.body, &q_pnr),
            finds,
            "From {from} Tom {tom}: {}",
            r.body
        );
    }
    let r = server
        .post(
            &client,
            NS,
            &search(&[("EfterMellanNamn", &q_name), ("PostnummerTom", "123456")]),
        )
        .await;
    assert_eq!(r.text_of("Felkod").as_deref(), Some("1101"));
    assert!(
        r.body.contains("PostnummerTom must be 1 to 5 digits"),
        "{}",
        r.body
    );

    // No hit: an empty list, HTTP 200.
    let r = server
        .post(&client, NS, &search(&[("Fornamn", "Qxzqxz")]))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("<ns0:Folkbokforingsposter/>"), "{}", r.body);
    assert_valid(&r.body);
    server.stop().await;
}
