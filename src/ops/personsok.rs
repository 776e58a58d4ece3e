//! SPAR's `PersonSok` (PersonSök 2021.1): one person by `IdNummer`, or a search by SPAR's
//! arguments, answered as SPAR answers — posts, an `Undantag`, or
//! `OverstigerMaxAntalSvarsposter` — on the same store, register and access rules as Navet's
//! operations.
//!
//! Who may call: the certificate's organisation (as for every operation), under customer
//! numbers its register entry lists (`[[organisation.spar]]`). What it may see: the
//! organisation's categories, narrowed to those the end user holds
//! (`SlutAnvandarUtokadBehorighet`; grund always) — never widened.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{Context, OpError, Trail};
use crate::access::{Access, Category, Protection, View};
use crate::audit::SparCaller;
use crate::register::Organisation;
use crate::spar::answer::{self, Utfall};
use crate::spar::request::{Fraga, Sok, Undantag};
use crate::spar::MAX_SVARSPOSTER;
use crate::store::{SearchOutcome, Snapshot};

/// The parsed request.
#[derive(Debug)]
pub struct Personsok {
    /// What the request asks.
    pub fraga: Fraga,
}

/// A rendered answer: data (posts, none, or over the cap), or SPAR's refusal — both HTTP 200,
/// as SPAR answers; the audit line tells them apart.
pub enum Reply {
    /// Posts, none, or `OverstigerMaxAntalSvarsposter`.
    Data(Vec<u8>),
    /// An `Undantag` with this `Kod`.
    Undantag(u32, Vec<u8>),
}

/// What a search or lookup gave, before rendering.
enum Outcome {
    Posts(Vec<View>),
    TooMany(u64),
}

impl Personsok {
    /// Checks the customer numbers against `org`'s register entry, runs the lookup (in place)
    /// or the search (off the async workers), and renders the answer; `trail` gets the SPAR caller, the
    /// number asked for and the numbers answered.
    pub async fn apply(
        self,
        cx: &Context<'_>,
        org: Arc<Organisation>,
        trail: &mut Trail,
    ) -> Result<Reply, OpError> {
        let ident = &self.fraga.ident;
        trail.spar = Some(SparCaller {
            leveransmottagare: ident.kund_nr_leverans_mottagare,
            slutkund: ident.kund_nr_slutkund,
            uppdrag_id: ident.uppdrag_id,
            slut_anvandar_id: ident.slut_anvandar_id.clone(),
        });
        if let Sok::IdNummer(pnr) = &self.fraga.sok {
            trail.asked.push(pnr.as_str().to_owned());
        }
        let uuid = uuid_of(cx.request_id.0);
        if !org.allows_spar(ident.kund_nr_leverans_mottagare, ident.kund_nr_slutkund) {
            let refusal = Undantag {
                kod: Undantag::EJ_BEHORIG_KUND,
                beskrivning: "KundNrLeveransMottagare/KundNrSlutkund: these customer numbers are \
                              not registered for the certificate's organisation"
                    .into(),
            };
            return Ok(refused(&refusal, cx.request_id.0));
        }
        let access = access_for(&org, &ident.utokad_behorighet);
        let sok = self.fraga.sok;
        let outcome = if let Sok::IdNummer(_) = sok {
            // One record (and its links): as cheap as Navet's lookup, answered in place.
            run(&cx.store.snapshot(), &access, &sok)?
        } else {
            // A search reads index ranges and up to 101 records: off the async workers.
            let store = cx.store.clone();
            tokio::task::spawn_blocking(move || run(&store.snapshot(), &access, &sok))
                .await
                .map_err(|_| OpError::Panicked)??
        };
        Ok(Reply::Data(match outcome {
            Outcome::Posts(posts) => {
                trail.answered(&posts);
                answer::render(Utfall::Poster(&posts), &uuid)
            }
            Outcome::TooMany(antal) => {
                trail.hits_seen = Some(u32::try_from(antal).unwrap_or(u32::MAX));
                answer::render(
                    Utfall::Overstiger {
                        antal,
                        max: MAX_SVARSPOSTER as u64,
                    },
                    &uuid,
                )
            }
        }))
    }
}

/// The answer to a request SPAR refuses ([`Undantag`]), with the request's id as UUID.
pub fn refused(u: &Undantag, request_id: u64) -> Reply {
    let body = answer::render(
        Utfall::Undantag {
            kod: u.kod,
            beskrivning: &u.beskrivning,
        },
        &uuid_of(request_id),
    );
    Reply::Undantag(u.kod, body)
}

/// What the caller may see: the organisation's categories, narrowed to grund and the
/// extended categories the end user holds. An end user's category the organisation lacks
/// gives nothing.
pub fn access_for(org: &Organisation, end_user: &[Category]) -> Access {
    let categories: BTreeSet<Category> = org
        .categories
        .iter()
        .copied()
        .filter(|c| *c == Category::Grund || end_user.contains(c))
        .collect();
    Access::from_sets(&categories, &org.switches)
}

/// The answer to `sok` on one snapshot as `access` may see it, rendered as the operation
/// renders it (with `uuid`): for tests and tools that compare what leaves.
pub fn answer_on(
    snapshot: &Snapshot<'_>,
    access: &Access,
    sok: &Sok,
    uuid: &str,
) -> Result<Vec<u8>, OpError> {
    Ok(match run(snapshot, access, sok)? {
        Outcome::Posts(posts) => answer::render(Utfall::Poster(&posts), uuid),
        Outcome::TooMany(antal) => answer::render(
            Utfall::Overstiger {
                antal,
                max: MAX_SVARSPOSTER as u64,
            },
            uuid,
        ),
    })
}

/// The lookup or the search, on one snapshot.
fn run(snapshot: &Snapshot<'_>, access: &Access, sok: &Sok) -> Result<Outcome, OpError> {
    match sok {
        // By number: Navet's lookup — the person as the caller may see them, a protected
        // person too with only what the access rules leave (SPAR: number, markings,
        // avregistrering, hänvisning).
        Sok::IdNummer(pnr) => Ok(Outcome::Posts(super::personpost::run(
            snapshot, access, pnr,
        )?)),
        // By arguments: protected persons (and every record linked to one) are never found.
        // A `NamnSokArgument` is two store queries (its word as förnamn, and as
        // mellan/efternamn); their hits are merged by number.
        Sok::Argument(arg) => {
            let visible = |p: &crate::model::Folkbokforingspost, protection: Protection| {
                arg.matches(p) && access.may_find(p, protection)
            };
            let queries = arg.store_queries();
            let mut hits: std::collections::BTreeMap<crate::ids::pnr::Pnr, _> =
                std::collections::BTreeMap::new();
            let mut over = false;
            for q in &queries {
                match snapshot.search(q, MAX_SVARSPOSTER, visible)? {
                    SearchOutcome::TooMany => over = true,
                    SearchOutcome::Hits(found) => {
                        hits.extend(found.into_iter().map(|p| (p.pnr(), p)));
                    }
                }
                over |= hits.len() > MAX_SVARSPOSTER;
                if over {
                    break;
                }
            }
            if over {
                // SPAR's answer says how many there are: the numbers of every query's hits,
                // each person once (no record kept).
                let mut numbers = std::collections::BTreeSet::new();
                for q in &queries {
                    numbers.extend(snapshot.matching_numbers(q, visible)?);
                }
                return Ok(Outcome::TooMany(numbers.len() as u64));
            }
            Ok(Outcome::Posts(super::namnsokning::found_views(
                access,
                hits.into_values(),
            )))
        }
    }
}

/// An answer's `UUID`: the request id in UUID form (version 8, "custom": the id's 16 hex
/// digits in the first two groups and the last), so a client's reference to an answer finds
/// its audit line.
fn uuid_of(request_id: u64) -> String {
    let hex = format!("{request_id:016x}");
    format!(
        "{}-{}-8000-8000-00000000{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..]
    )
}
