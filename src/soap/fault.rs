//! SOAP faults: the ONE type every refusal of a request becomes (WIRE.md, "Faults").
//!
//! Each variant maps to a stable integer code (`Felkod`, an `xs:int`), a SOAP 1.1 faultcode
//! and a Swedish + English text. Every fault is HTTP 500 (SOAP 1.1, WS-I BP R1126): Java
//! clients read a typed fault only from a 500. Texts never contain personal data.

use hyper::StatusCode;

/// Everything a SOAP request can be refused with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// 1101: malformed request, missing element, bad PersonId, bad field. The text says which.
    #[error("1101: {0}")]
    BadRequest(String),
    /// 1102: a search has no name criterion (neither `Fornamn` nor `EfterMellanNamn`).
    #[error("1102: search has no name criterion")]
    SearchTooBroad,
    /// 1103: more hits than the limit.
    #[error("1103: more than {0} hits")]
    TooManyHits(usize),
    /// 1104 (folkreg's addition): a SOAP Header block is marked `mustUnderstand="1"`;
    /// folkreg understands no header block (SOAP 1.1 §4.2.3). Holds the block's local name.
    #[error("1104: header block {0} must be understood")]
    MustUnderstand(String),
    /// 1201: OrgNr differs from the certificate's organisation.
    #[error("1201: OrgNr differs from the certificate's organisation")]
    OrgMismatch,
    /// 1202: BestallningsId not registered for this organisation.
    #[error("1202: unknown BestallningsId")]
    UnknownBestallning,
    /// 1203 (folkreg's addition): the avisering delivery was acknowledged and its retention
    /// period has passed.
    #[error("1203: delivery {0} has been removed")]
    DeliveryRemoved(u64),
    /// 1301: the certificate is not permitted by the register. The text says why.
    #[error("1301: certificate not permitted: {0}")]
    NotPermitted(String),
    /// 1401: the request body is larger than the limit.
    #[error("1401: request larger than {0} bytes")]
    TooLarge(usize),
    /// 1402 (folkreg's addition): the request body has a `Content-Encoding` other than
    /// `identity`; holds the coding as sent (refused before the body is read).
    #[error("1402: Content-Encoding {0} is not supported")]
    UnsupportedEncoding(String),
    /// 1501: maintenance window; retry after this many seconds.
    #[error("1501: closed for maintenance, retry after {retry_after} s")]
    Maintenance {
        /// Seconds until the window ends.
        retry_after: u64,
        /// Why (the planned outage's reason, or the weekly window).
        reason: String,
    },
    /// 1901: our fault; details only in the log under this request id.
    #[error("1901: internal error, request id {0}")]
    Internal(String),
}

impl Fault {
    /// The stable machine code, `Felkod` on the wire (WIRE.md's table; 1104, 1203 and 1402 are
    /// folkreg's additions). Audit lines and metrics carry it as the outcome.
    pub fn code(&self) -> u16 {
        match self {
            Fault::BadRequest(_) => 1101,
            Fault::SearchTooBroad => 1102,
            Fault::TooManyHits(_) => 1103,
            Fault::MustUnderstand(_) => 1104,
            Fault::OrgMismatch => 1201,
            Fault::UnknownBestallning => 1202,
            Fault::DeliveryRemoved(_) => 1203,
            Fault::NotPermitted(_) => 1301,
            Fault::TooLarge(_) => 1401,
            Fault::UnsupportedEncoding(_) => 1402,
            Fault::Maintenance { .. } => 1501,
            Fault::Internal(_) => 1901,
        }
    }

    /// HTTP status: 500 for every fault (SOAP 1.1, WS-I BP R1126; WIRE.md "Transport") —
    /// also for refusals HTTP has its own status for (403, 413, 415, 503), since a SOAP
    /// client reads a typed fault only from a 500. Maintenance still says `Retry-After`.
    pub fn status(&self) -> StatusCode {
        StatusCode::INTERNAL_SERVER_ERROR
    }

    /// SOAP 1.1 faultcode: the caller's errors are `S:Client`, ours `S:Server`, a header
    /// block we do not understand `S:MustUnderstand` (SOAP 1.1 §4.4.1).
    pub fn faultcode(&self) -> &'static str {
        match self {
            Fault::MustUnderstand(_) => "S:MustUnderstand",
            Fault::Maintenance { .. } | Fault::Internal(_) => "S:Server",
            _ => "S:Client",
        }
    }

    /// `Retry-After` seconds, for maintenance.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Fault::Maintenance { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// The faultstring: short Swedish text (Navet's clients show it).
    pub fn faultstring(&self) -> &'static str {
        match self {
            Fault::BadRequest(_)
            | Fault::SearchTooBroad
            | Fault::OrgMismatch
            | Fault::UnknownBestallning => "Felaktiga inparametrar",
            Fault::DeliveryRemoved(_) => "Leveransen är gallrad",
            Fault::TooManyHits(_) => "För många träffar",
            Fault::NotPermitted(_) => "Certifikatet saknar behörighet",
            Fault::TooLarge(_) => "För stor begäran",
            Fault::MustUnderstand(_) => "Huvudelementet förstås inte",
            Fault::UnsupportedEncoding(_) => "Komprimerad begäran stöds inte",
            Fault::Maintenance { .. } => "Tjänsten är stängd för underhåll",
            Fault::Internal(_) => "Internt fel",
        }
    }

    /// `Beskrivning`: the Swedish text, ` / `, the English text.
    pub fn beskrivning(&self) -> String {
        match self {
            Fault::BadRequest(what) => format!("Felaktiga inparametrar: {what} / Invalid input: {what}"),
            Fault::SearchTooBroad => "Felaktiga inparametrar: sökningen saknar namn, ange Fornamn eller EfterMellanNamn / \
                Invalid input: the search has no name criterion, give Fornamn or EfterMellanNamn"
                .into(),
            Fault::TooManyHits(limit) => format!(
                "För många träffar: fler än {limit} personer matchar, begränsa sökningen / \
                 Too many hits: more than {limit} persons match, narrow the search"
            ),
            Fault::OrgMismatch => "Felaktiga inparametrar: OrgNr stämmer inte med certifikatets organisation / \
                Invalid input: OrgNr differs from the certificate's organisation"
                .into(),
            Fault::UnknownBestallning => "Felaktiga inparametrar: okänt BestallningsId för organisationen / \
                Invalid input: unknown BestallningsId for this organisation"
                .into(),
            Fault::DeliveryRemoved(l) => format!(
                "Leverans {l} är kvitterad och gallrad; be tjänstens förvaltare om en ny leverans / \
                 Delivery {l} was acknowledged and has been removed; ask for a re-delivery"
            ),
            Fault::NotPermitted(why) => {
                format!("Certifikatet är inte behörigt: {why} / The certificate is not permitted: {why}")
            }
            Fault::TooLarge(limit) => {
                format!("För stor begäran: högst {limit} byte / Request too large: at most {limit} bytes")
            }
            Fault::MustUnderstand(block) => format!(
                "Huvudelementet {block} är märkt mustUnderstand men tjänsten förstår inga huvudelement / \
                 Header block {block} is marked mustUnderstand but the service understands no header blocks"
            ),
            Fault::UnsupportedEncoding(coding) => format!(
                "Content-Encoding {coding} stöds inte, skicka begäran okomprimerad / \
                 Content-Encoding {coding} is not supported, send the request uncompressed (identity)"
            ),
            Fault::Maintenance { retry_after, reason } => format!(
                "Tjänsten är stängd för underhåll ({reason}), försök igen om {retry_after} sekunder / \
                 The service is closed for maintenance ({reason}), retry in {retry_after} seconds"
            ),
            Fault::Internal(id) => format!("Internt fel, ärende-id {id} / Internal error, request id {id}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_of_codes_statuses_and_faultcodes() {
        let m = Fault::Maintenance {
            retry_after: 60,
            reason: "veckounderhåll".into(),
        };
        let table: Vec<(Fault, u16, &str)> = vec![
            (Fault::BadRequest("x".into()), 1101, "S:Client"),
            (Fault::SearchTooBroad, 1102, "S:Client"),
            (Fault::TooManyHits(100), 1103, "S:Client"),
            (
                Fault::MustUnderstand("Security".into()),
                1104,
                "S:MustUnderstand",
            ),
            (Fault::OrgMismatch, 1201, "S:Client"),
            (Fault::UnknownBestallning, 1202, "S:Client"),
            (Fault::DeliveryRemoved(7), 1203, "S:Client"),
            (Fault::NotPermitted("revoked".into()), 1301, "S:Client"),
            (Fault::TooLarge(65536), 1401, "S:Client"),
            (Fault::UnsupportedEncoding("gzip".into()), 1402, "S:Client"),
            (m.clone(), 1501, "S:Server"),
            (Fault::Internal("r1".into()), 1901, "S:Server"),
        ];
        for (f, code, faultcode) in table {
            assert_eq!(f.code(), code);
            assert_eq!(
                f.status().as_u16(),
                500,
                "{code}: every SOAP fault is HTTP 500"
            );
            assert_eq!(f.faultcode(), faultcode, "{code}");
            assert!(f.beskrivning().contains(" / "), "{code}: Swedish / English");
        }
        assert_eq!(m.retry_after(), Some(60));
        assert!(Fault::BadRequest("PersonId".into())
            .beskrivning()
            .starts_with("Felaktiga inparametrar"));
        assert_eq!(
            Fault::SearchTooBroad.beskrivning(),
            "Felaktiga inparametrar: sökningen saknar namn, ange Fornamn eller EfterMellanNamn / \
             Invalid input: the search has no name criterion, give Fornamn or EfterMellanNamn"
        );
    }
}
