//! SPAR's schema set as folkreg serves it (`wsdl/spar/`, SPAR's 2021.1 files unchanged, from
//! `../shared/reference/spar/2021.1`, Apache License 2.0): the WSDL at `PATH?wsdl` with its
//! address and its two schema includes pointed at this server, and every XSD at
//! `PATH` + `schema/` + its path in the set, so the XSDs' own relative imports resolve on this
//! server as they do in SPAR's folder.

/// Where SPAR's PersonSök answers: the path of SPAR's own address
/// (`https://kt-ext-ws.statenspersonadressregister.se/2021.1/`), so a client switches by host.
pub const PATH: &str = "/2021.1/";

/// The schema set's files under [`PATH`]`schema/`.
const SCHEMA_DIR: &str = "schema/";

/// SPAR's absolute location of the schema set, as the WSDL names it.
const SPAR_SCHEMA_BASE: &str = "http://xmls.statenspersonadressregister.se/se/spar/";

/// `personsok.wsdl`, unchanged.
const WSDL: &str = include_str!("../../wsdl/spar/granssnitt/personsok/2021.1/personsok.wsdl");

/// The placeholder address in SPAR's WSDL.
const WSDL_ADDRESS: &str = "http://localhost/personsok";

/// Every XSD of the set, by its path in the set.
const XSDS: [(&str, &str); 27] = [
    (
        "granssnitt/personsok/2021.1/PersonsokningFraga.xsd",
        include_str!("../../wsdl/spar/granssnitt/personsok/2021.1/PersonsokningFraga.xsd"),
    ),
    (
        "granssnitt/personsok/2021.1/PersonsokningSvar.xsd",
        include_str!("../../wsdl/spar/granssnitt/personsok/2021.1/PersonsokningSvar.xsd"),
    ),
    (
        "komponent/generellt/DatumTid-1.1.xsd",
        include_str!("../../wsdl/spar/komponent/generellt/DatumTid-1.1.xsd"),
    ),
    (
        "komponent/generellt/Typ-1.0.xsd",
        include_str!("../../wsdl/spar/komponent/generellt/Typ-1.0.xsd"),
    ),
    (
        "komponent/metadata/DeladeMetaElement-1.0.xsd",
        include_str!("../../wsdl/spar/komponent/metadata/DeladeMetaElement-1.0.xsd"),
    ),
    (
        "komponent/metadata/IdentifieringsinformationWs-1.1.xsd",
        include_str!("../../wsdl/spar/komponent/metadata/IdentifieringsinformationWs-1.1.xsd"),
    ),
    (
        "komponent/person/AviseringPost-1.2.xsd",
        include_str!("../../wsdl/spar/komponent/person/AviseringPost-1.2.xsd"),
    ),
    (
        "komponent/person/Avregistrering-1.0.xsd",
        include_str!("../../wsdl/spar/komponent/person/Avregistrering-1.0.xsd"),
    ),
    (
        "komponent/person/Fastighetstaxering-1.2.xsd",
        include_str!("../../wsdl/spar/komponent/person/Fastighetstaxering-1.2.xsd"),
    ),
    (
        "komponent/person/Folkbokforing-1.0.xsd",
        include_str!("../../wsdl/spar/komponent/person/Folkbokforing-1.0.xsd"),
    ),
    (
        "komponent/person/Hanvisning-1.0.xsd",
        include_str!("../../wsdl/spar/komponent/person/Hanvisning-1.0.xsd"),
    ),
    (
        "komponent/person/Inkomsttaxering-1.2.xsd",
        include_str!("../../wsdl/spar/komponent/person/Inkomsttaxering-1.2.xsd"),
    ),
    (
        "komponent/person/Person-1.2.xsd",
        include_str!("../../wsdl/spar/komponent/person/Person-1.2.xsd"),
    ),
    (
        "komponent/person/Persondetaljer-1.2.xsd",
        include_str!("../../wsdl/spar/komponent/person/Persondetaljer-1.2.xsd"),
    ),
    (
        "komponent/person/Relation-1.2.xsd",
        include_str!("../../wsdl/spar/komponent/person/Relation-1.2.xsd"),
    ),
    (
        "komponent/person/Samordningsnummer-1.0.xsd",
        include_str!("../../wsdl/spar/komponent/person/Samordningsnummer-1.0.xsd"),
    ),
    (
        "komponent/person/SkyddadePersonuppgifter-1.1.xsd",
        include_str!("../../wsdl/spar/komponent/person/SkyddadePersonuppgifter-1.1.xsd"),
    ),
    (
        "komponent/person/adress/DeladeAdressElement-1.1.xsd",
        include_str!("../../wsdl/spar/komponent/person/adress/DeladeAdressElement-1.1.xsd"),
    ),
    (
        "komponent/person/adress/Folkbokforingsadress-1.1.xsd",
        include_str!("../../wsdl/spar/komponent/person/adress/Folkbokforingsadress-1.1.xsd"),
    ),
    (
        "komponent/person/adress/Kontaktadress-1.0.xsd",
        include_str!("../../wsdl/spar/komponent/person/adress/Kontaktadress-1.0.xsd"),
    ),
    (
        "komponent/person/adress/SarskildPostadress-1.1.xsd",
        include_str!("../../wsdl/spar/komponent/person/adress/SarskildPostadress-1.1.xsd"),
    ),
    (
        "komponent/person/adress/Utlandsadress-1.1.xsd",
        include_str!("../../wsdl/spar/komponent/person/adress/Utlandsadress-1.1.xsd"),
    ),
    (
        "komponent/person/namn/DeladeNamnElement-1.0.xsd",
        include_str!("../../wsdl/spar/komponent/person/namn/DeladeNamnElement-1.0.xsd"),
    ),
    (
        "komponent/person/namn/Namn-1.0.xsd",
        include_str!("../../wsdl/spar/komponent/person/namn/Namn-1.0.xsd"),
    ),
    (
        "komponent/sok/PersonsokningSokparametrar-1.1.xsd",
        include_str!("../../wsdl/spar/komponent/sok/PersonsokningSokparametrar-1.1.xsd"),
    ),
    (
        "komponent/sok/Sokargument-1.2.xsd",
        include_str!("../../wsdl/spar/komponent/sok/Sokargument-1.2.xsd"),
    ),
    (
        "komponent/sok/Undantag-1.0.xsd",
        include_str!("../../wsdl/spar/komponent/sok/Undantag-1.0.xsd"),
    ),
];

/// Whether `path` is SPAR's service path (with or without its last slash).
pub fn is_service(path: &str) -> bool {
    path == PATH || Some(path) == PATH.strip_suffix('/')
}

/// The WSDL for a client that reached this server at `base` (`https://host:port`): its
/// address and its schema includes on this server.
pub fn wsdl(base: &str) -> String {
    WSDL.replace(WSDL_ADDRESS, &format!("{base}{PATH}"))
        .replace(SPAR_SCHEMA_BASE, &format!("{base}{PATH}{SCHEMA_DIR}"))
}

/// The XSD at `path` (a request path), if it is one of the set.
pub fn xsd(path: &str) -> Option<&'static str> {
    let name = path.strip_prefix(PATH)?.strip_prefix(SCHEMA_DIR)?;
    XSDS.iter().find(|(n, _)| *n == name).map(|(_, text)| *text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wsdl_names_this_server_and_every_import_is_served() {
        let w = wsdl("https://localhost:8443");
        assert!(w.contains("location=\"https://localhost:8443/2021.1/\""));
        assert!(!w.contains("statenspersonadressregister.se/se/spar"));
        assert!(w.contains("operation name=\"PersonSok\""));
        // Every schemaLocation, resolved as a client resolves it, is a file served here.
        let mut pending: Vec<String> = w
            .split("schemaLocation=\"")
            .skip(1)
            .filter_map(|s| s.split('"').next())
            .map(|u| u.trim_start_matches("https://localhost:8443").to_owned())
            .collect();
        assert_eq!(pending.len(), 2);
        let mut seen = std::collections::BTreeSet::new();
        while let Some(path) = pending.pop() {
            let text = xsd(&path).unwrap_or_else(|| panic!("{path} is not served"));
            if !seen.insert(path.clone()) {
                continue;
            }
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            for loc in text.split("schemaLocation=\"").skip(1) {
                let rel = loc.split('"').next().unwrap_or("");
                pending.push(resolve(dir, rel));
            }
        }
        assert_eq!(seen.len(), XSDS.len(), "every file of the set is reached");
        assert!(xsd("/2021.1/schema/../Cargo.toml").is_none());
        assert!(is_service("/2021.1") && is_service("/2021.1/") && !is_service("/2021.1/x"));
    }

    /// `dir` + a relative reference, `..` segments applied.
    fn resolve(dir: &str, rel: &str) -> String {
        let mut parts: Vec<&str> = dir.trim_end_matches('/').split('/').collect();
        for seg in rel.split('/') {
            match seg {
                ".." => {
                    parts.pop();
                }
                "." => {}
                s => parts.push(s),
            }
        }
        parts.join("/")
    }
}
