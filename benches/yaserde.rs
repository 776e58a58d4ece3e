//! Does yaserde pay for writing the record? (issue 16, item 5.)
//!
//! yaserde is a dev-dependency only: it parses through xml-rs, which expands internal
//! entities, so it must never read a request or a load file. This bench measures whether it
//! would pay for *writing*: for the same generated records (2,000 persons, seed 1) it writes
//! each record into a reused `Vec<u8>` with
//!
//! | case                 | what                                                                 |
//! |----------------------|----------------------------------------------------------------------|
//! | `quickxml_full`      | `xml::write::write_post`, every term (`PostStyle::answer(ALL)`)      |
//! | `quickxml_subset`    | `write_post` with the access mask of the subset below (the baseline) |
//! | `yaserde_subset`     | yaserde, a `#[derive(YaSerialize)]` mirror built beforehand          |
//! | `yaserde_map_subset` | yaserde, mapping the record to the mirror and then serialising it    |
//!
//! The subset: `PersonId`, `Namn`, `Folkbokforing`, `Adresser/Folkbokforingsadress`,
//! `Relationer` (every relation of the record), in the shape of Navet's
//! `FolkbokforingspostTYPE` (7_2_28, `xml::shape::RECORD`) that `write_post` writes:
//! `Folkbokforing` is `Folkbokforingsdatum, LanKod, KommunKod, Fastighetsbeteckning?,
//! FiktivtNr?`; its distrikt (term `Folkbokforing`) is `Adresser/Distrikt/Distriktskod`, after
//! `Folkbokforingsadress`; a `Relation` is `RelationId` (`PersonNr` or `FodelsetidNr`),
//! `Relationstyp`, a `Namn` for a person without a number and an `Avregistrering`
//! (`AvregistreringsorsakKod, Avregistreringsdatum?`). Before measuring, the bench checks that
//! the yaserde mirror writes the same bytes as `quickxml_subset` for every record and prints
//! how many differ (and the first difference).
//!
//! ```text
//! cargo bench --bench yaserde -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! After criterion, a table gives each case's median per record, bytes per second and the
//! ratio to `quickxml_subset` (read from criterion's `new/estimates.json` of this run).

#[path = "support/criterion_out.rs"]
mod criterion_out;
use criterion_out::{criterion_dir, median_ns};

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, Throughput};
use folkreg::access::{Term, TermMask};
use folkreg::model::{Folkbokforingspost, Identitetstyp, Relationsperson};
use folkreg::xml::write::{write_post, PostStyle};
use quick_xml::Writer;
use yaserde::ser::Config;
use yaserde::YaSerialize;

/// Persons generated (the generator adds a few related records).
const PERSONS: usize = 2_000;
/// Criterion group name.
const GROUP: &str = "yaserde";
/// The cases, in table order; the last is the baseline of the ratio.
const CASES: [&str; 4] = [
    "quickxml_full",
    "yaserde_subset",
    "yaserde_map_subset",
    "quickxml_subset",
];
/// The terms of the subset both writers write.
const SUBSET: TermMask = TermMask::of(&[
    Term::PersonId,
    Term::Namn,
    Term::Folkbokforing,
    Term::Folkbokforingsadress,
    Term::Relationer,
]);

// ---- the yaserde mirror of the subset (begin) ----

/// `Folkbokforingspost` with only `Personpost`.
#[derive(YaSerialize)]
#[yaserde(rename = "Folkbokforingspost")]
struct YPost {
    #[yaserde(rename = "Personpost")]
    personpost: YPersonpost,
}

/// `Personpost`, the subset's parts in the XSD's order.
#[derive(YaSerialize)]
struct YPersonpost {
    #[yaserde(rename = "PersonId")]
    person_id: YPersonId,
    #[yaserde(rename = "Namn")]
    namn: Option<YNamn>,
    #[yaserde(rename = "Folkbokforing")]
    folkbokforing: Option<YFolkbokforing>,
    #[yaserde(rename = "Adresser")]
    adresser: Option<YAdresser>,
    #[yaserde(rename = "Relationer")]
    relationer: Option<YRelationer>,
}

/// `PersonId`: one of the two numbers.
#[derive(YaSerialize)]
struct YPersonId {
    #[yaserde(rename = "PersonNr")]
    person_nr: Option<String>,
    #[yaserde(rename = "TilldelatPersonNrSamordningsNr")]
    samordningsnr: Option<String>,
}

/// `Namn`.
#[derive(YaSerialize)]
struct YNamn {
    #[yaserde(rename = "Tilltalsnamnsmarkering")]
    tilltalsnamnsmarkering: Option<String>,
    #[yaserde(rename = "Fornamn")]
    fornamn: Option<String>,
    #[yaserde(rename = "Mellannamn")]
    mellannamn: Option<String>,
    #[yaserde(rename = "Efternamn")]
    efternamn: Option<String>,
    #[yaserde(rename = "Aviseringsnamn")]
    aviseringsnamn: Option<String>,
}

/// `Folkbokforing` (Navet's `FolkbokforingTYPE`: its distrikt is under `Adresser`).
#[derive(YaSerialize)]
struct YFolkbokforing {
    #[yaserde(rename = "Folkbokforingsdatum")]
    folkbokforingsdatum: String,
    #[yaserde(rename = "LanKod")]
    lan_kod: String,
    #[yaserde(rename = "KommunKod")]
    kommun_kod: String,
    #[yaserde(rename = "Fastighetsbeteckning")]
    fastighetsbeteckning: Option<String>,
    #[yaserde(rename = "FiktivtNr")]
    fiktivt_nr: Option<String>,
}

/// `Adresser` with `Folkbokforingsadress` and `Distrikt` (the latter is term `Folkbokforing`,
/// so the subset's mask writes it).
#[derive(YaSerialize)]
struct YAdresser {
    #[yaserde(rename = "Folkbokforingsadress")]
    folkbokforingsadress: Option<YSvenskAdress>,
    #[yaserde(rename = "Distrikt")]
    distrikt: Option<YDistrikt>,
}

/// `Adresser/Distrikt`.
#[derive(YaSerialize)]
struct YDistrikt {
    #[yaserde(rename = "Distriktskod")]
    distriktskod: String,
}

/// A Swedish address.
#[derive(YaSerialize)]
struct YSvenskAdress {
    #[yaserde(rename = "CareOf")]
    care_of: Option<String>,
    #[yaserde(rename = "Utdelningsadress1")]
    utdelningsadress1: Option<String>,
    #[yaserde(rename = "Utdelningsadress2")]
    utdelningsadress2: Option<String>,
    #[yaserde(rename = "PostNr")]
    post_nr: Option<String>,
    #[yaserde(rename = "Postort")]
    postort: Option<String>,
}

/// `Relationer`.
#[derive(YaSerialize)]
struct YRelationer {
    #[yaserde(rename = "Relation")]
    relation: Vec<YRelation>,
}

/// One `Relation`: its id (a number, or the birth date for a person without one), its type,
/// the name of a person without a number and the relative's avregistrering.
#[derive(YaSerialize)]
struct YRelation {
    #[yaserde(rename = "RelationId")]
    relation_id: YRelationId,
    #[yaserde(rename = "Relationstyp")]
    relationstyp: String,
    #[yaserde(rename = "Namn")]
    namn: Option<YNamn>,
    #[yaserde(rename = "Avregistrering")]
    avregistrering: Option<YRelAvregistrering>,
}

/// `RelationId`: the choice of `PersonNr` and `FodelsetidNr`, flattened to options.
#[derive(YaSerialize)]
struct YRelationId {
    #[yaserde(rename = "PersonNr")]
    person_nr: Option<String>,
    #[yaserde(rename = "FodelsetidNr")]
    fodelsetid_nr: Option<String>,
}

/// `Relation/Avregistrering`.
#[derive(YaSerialize)]
struct YRelAvregistrering {
    #[yaserde(rename = "AvregistreringsorsakKod")]
    avregistreringsorsak_kod: String,
    #[yaserde(rename = "Avregistreringsdatum")]
    avregistreringsdatum: Option<String>,
}

/// The mirror of `post`'s subset, with the same omissions as `write_post` (an element
/// without a value is left out).
fn mirror(post: &Folkbokforingspost) -> YPost {
    let p = &post.personpost;
    let id = p.person_id.as_str().to_string();
    let person_id = match p.identitetstyp {
        Identitetstyp::Personnummer => YPersonId {
            person_nr: Some(id),
            samordningsnr: None,
        },
        _ => YPersonId {
            person_nr: None,
            samordningsnr: Some(id),
        },
    };
    let n = &p.namn;
    let namn = (n.tilltalsnamnsmarkering.is_some()
        || n.fornamn.is_some()
        || n.mellannamn.is_some()
        || n.efternamn.is_some()
        || n.aviseringsnamn.is_some())
    .then(|| YNamn {
        tilltalsnamnsmarkering: n.tilltalsnamnsmarkering.map(|t| format!("{t:02}")),
        fornamn: n.fornamn.clone(),
        mellannamn: n.mellannamn.clone(),
        efternamn: n.efternamn.clone(),
        aviseringsnamn: n.aviseringsnamn.clone(),
    });
    let folkbokforing = p.folkbokforing.as_ref().map(|f| YFolkbokforing {
        folkbokforingsdatum: f.folkbokforingsdatum.to_string(),
        lan_kod: f.lan_kod.clone(),
        kommun_kod: f.kommun_kod.clone(),
        fastighetsbeteckning: f.fastighetsbeteckning.clone(),
        fiktivt_nr: f.fiktivt_nr.clone(),
    });
    let folkbokforingsadress = p
        .adresser
        .folkbokforingsadress
        .as_ref()
        .map(|a| YSvenskAdress {
            care_of: a.care_of.clone(),
            utdelningsadress1: a.utdelningsadress1.clone(),
            utdelningsadress2: a.utdelningsadress2.clone(),
            post_nr: a.post_nr.clone(),
            postort: a.postort.clone(),
        });
    let distrikt = p
        .folkbokforing
        .as_ref()
        .and_then(|f| f.distrikt.clone())
        .map(|distriktskod| YDistrikt { distriktskod });
    let adresser = (folkbokforingsadress.is_some() || distrikt.is_some()).then_some(YAdresser {
        folkbokforingsadress,
        distrikt,
    });
    let relationer = (!p.relationer.is_empty()).then(|| YRelationer {
        relation: p
            .relationer
            .iter()
            .map(|r| {
                let (relation_id, namn) = match &r.person {
                    Relationsperson::PersonNr(pnr) => (
                        YRelationId {
                            person_nr: Some(pnr.as_str().to_string()),
                            fodelsetid_nr: None,
                        },
                        None,
                    ),
                    Relationsperson::Uppgifter {
                        fodelsedatum,
                        fornamn,
                        efternamn,
                    } => (
                        YRelationId {
                            person_nr: None,
                            fodelsetid_nr: Some(fodelsedatum.to_string()),
                        },
                        (fornamn.is_some() || efternamn.is_some()).then(|| YNamn {
                            tilltalsnamnsmarkering: None,
                            fornamn: fornamn.clone(),
                            mellannamn: None,
                            efternamn: efternamn.clone(),
                            aviseringsnamn: None,
                        }),
                    ),
                };
                YRelation {
                    relation_id,
                    relationstyp: r.typ.code().to_string(),
                    namn,
                    avregistrering: r.avregistreringsorsak.map(|k| YRelAvregistrering {
                        avregistreringsorsak_kod: k.code().to_string(),
                        avregistreringsdatum: r.avregistreringsdatum.map(|d| d.to_string()),
                    }),
                }
            })
            .collect(),
    });
    YPost {
        personpost: YPersonpost {
            person_id,
            namn,
            folkbokforing,
            adresser,
            relationer,
        },
    }
}

// ---- the yaserde mirror of the subset (end) ----

/// yaserde's configuration for a record inside a larger document: no declaration, no indent.
fn yaserde_config() -> Config {
    Config {
        perform_indent: false,
        write_document_declaration: false,
        indent_string: None,
    }
}

/// Writes one record with folkreg's writer into `buf` (cleared first).
fn quickxml(buf: &mut Vec<u8>, post: &Folkbokforingspost, terms: TermMask) {
    buf.clear();
    let mut w = Writer::new(&mut *buf);
    write_post(&mut w, post, PostStyle::answer(terms)).expect("writing to a Vec cannot fail");
}

/// Serialises one mirror with yaserde into `buf` (cleared first).
fn yaserde_write(buf: &mut Vec<u8>, post: &YPost, config: &Config) {
    buf.clear();
    yaserde::ser::serialize_with_writer(post, &mut *buf, config)
        .expect("serialising to a Vec cannot fail");
}

/// Total bytes each writer produces over `posts`, and the records whose yaserde output
/// differs from `quickxml_subset` (the first one printed).
fn check(posts: &[Folkbokforingspost], mirrors: &[YPost]) -> (u64, u64, u64) {
    let config = yaserde_config();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    let (mut full, mut subset, mut differ) = (0u64, 0u64, 0u64);
    for (post, m) in posts.iter().zip(mirrors) {
        quickxml(&mut a, post, TermMask::ALL);
        full += a.len() as u64;
        quickxml(&mut a, post, SUBSET);
        subset += a.len() as u64;
        yaserde_write(&mut b, m, &config);
        if a != b {
            if differ == 0 {
                eprintln!(
                    "yaserde: first difference ({}):\n  quick-xml: {}\n  yaserde:   {}",
                    post.pnr().as_str(),
                    String::from_utf8_lossy(&a),
                    String::from_utf8_lossy(&b)
                );
            }
            differ += 1;
        }
    }
    (full, subset, differ)
}

fn bench(c: &mut Criterion, posts: &[Folkbokforingspost], mirrors: &[YPost], bytes: (u64, u64)) {
    let config = yaserde_config();
    let mut buf = Vec::with_capacity(16 * 1024);
    let mut g = c.benchmark_group(GROUP);
    g.throughput(Throughput::Bytes(bytes.0));
    g.bench_function("quickxml_full", |b| {
        b.iter(|| {
            for p in posts {
                quickxml(&mut buf, black_box(p), TermMask::ALL);
                black_box(&buf);
            }
        })
    });
    g.throughput(Throughput::Bytes(bytes.1));
    g.bench_function("quickxml_subset", |b| {
        b.iter(|| {
            for p in posts {
                quickxml(&mut buf, black_box(p), SUBSET);
                black_box(&buf);
            }
        })
    });
    g.bench_function("yaserde_subset", |b| {
        b.iter(|| {
            for m in mirrors {
                yaserde_write(&mut buf, black_box(m), &config);
                black_box(&buf);
            }
        })
    });
    g.bench_function("yaserde_map_subset", |b| {
        b.iter(|| {
            for p in posts {
                yaserde_write(&mut buf, &mirror(black_box(p)), &config);
                black_box(&buf);
            }
        })
    });
    g.finish();
}

fn report(since: SystemTime, records: usize, bytes: (u64, u64)) {
    let Some(dir) = criterion_dir() else {
        eprintln!("yaserde: criterion's output directory is unknown; no table");
        return;
    };
    let base = median_ns(&dir, GROUP, "quickxml_subset", since);
    eprintln!("\nwriting {records} records: criterion medians of this run, ratio = case / quickxml_subset");
    eprintln!(
        "{:<20} {:>12} {:>10} {:>12} {:>8}",
        "case", "ns/record", "B/record", "MB/s", "ratio"
    );
    for case in CASES {
        let total = if case == "quickxml_full" {
            bytes.0
        } else {
            bytes.1
        };
        let m = median_ns(&dir, GROUP, case, since);
        let cell = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".into(), f);
        eprintln!(
            "{case:<20} {:>12} {:>10.0} {:>12} {:>8}",
            cell(m, &|m| format!("{:.0}", m / records as f64)),
            total as f64 / records as f64,
            cell(m, &|m| format!("{:.1}", total as f64 / m * 1e3)),
            match (m, base) {
                (Some(m), Some(b)) if b > 0.0 => format!("{:.2}x", m / b),
                _ => "-".into(),
            }
        );
    }
}

fn main() {
    // A second earlier, so estimates written in the first second of the run are not missed
    // on file systems with coarse timestamps.
    let since = SystemTime::now() - Duration::from_secs(1);
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 1).expect("a valid date");
    let posts = folkreg::dev::generate::population(PERSONS, 1, today);
    let mirrors: Vec<YPost> = posts.iter().map(mirror).collect();
    let (full, subset, differ) = check(&posts, &mirrors);
    eprintln!(
        "yaserde: {} records; bytes: full {full}, subset {subset}; yaserde output differs from quick-xml's on {differ}",
        posts.len()
    );
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    bench(&mut c, &posts, &mirrors, (full, subset));
    c.final_summary();
    report(since, posts.len(), (full, subset));
}
