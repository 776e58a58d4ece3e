//! SPAR's PersonSök program–program 2021.1 (`../shared/reference/spar/2021.1`): the second
//! wire on the same store, register, access rules and audit log as Navet's.
//!
//! What it owns: reading `SPARPersonsokningFraga` into typed values ([`request`]) and writing
//! `SPARPersonsokningSvar` with its posts as SPAR's `AviseringPostTYPE` ([`record`],
//! [`answer`]). What it must never do: decide what a caller may see — every record comes in as
//! an [`crate::access::View`] that the access rules made, and only its terms are written.

pub mod answer;
pub mod record;
pub mod request;
pub mod wsdl;

/// The namespaces of SPAR's 2021.1 schema set (`README.md` of `reference/spar`), by the
/// prefix folkreg writes them with.
pub mod ns {
    const BASE: &str = "http://statenspersonadressregister.se/schema/";

    /// `PersonsokningFraga.xsd`: the request's root.
    pub const FRAGA: &str =
        "http://statenspersonadressregister.se/schema/personsok/2021.1/personsokningfraga";
    /// `PersonsokningSvar.xsd`: the answer's root, its posts and `UUID`.
    pub const SVAR: &str =
        "http://statenspersonadressregister.se/schema/personsok/2021.1/personsokningsvar";
    /// `IdentifieringsinformationWs-1.1.xsd`.
    pub const IDINFO: &str = "http://statenspersonadressregister.se/schema/komponent/metadata/identifieringsinformationWs-1.1";
    /// `PersonsokningSokparametrar-1.1.xsd`: `PersonsokningFraga`.
    pub const SOK: &str =
        "http://statenspersonadressregister.se/schema/komponent/sok/personsokningsokparametrar-1.1";
    /// `Sokargument-1.2.xsd`: the search arguments.
    pub const ARG: &str =
        "http://statenspersonadressregister.se/schema/komponent/sok/sokargument-1.2";
    /// `Undantag-1.0.xsd`: `Undantag`, `OverstigerMaxAntalSvarsposter`.
    pub const UNDANTAG: &str =
        "http://statenspersonadressregister.se/schema/komponent/sok/undantag-1.0";
    /// `Person-1.2.xsd`: `IdNummer`, `PersonId`, `SenasteAndringSPAR`, …
    pub const PERSON: &str =
        "http://statenspersonadressregister.se/schema/komponent/person/person-1.2";

    /// Every namespace of the schema set starts with this.
    pub fn is_spar(ns: &str) -> bool {
        ns.starts_with(BASE)
    }
}

/// The most posts one answer holds; above it the answer is `OverstigerMaxAntalSvarsposter`
/// with the real count (SPAR's documentation; not in the schema).
pub const MAX_SVARSPOSTER: usize = 100;
