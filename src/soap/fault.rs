//! SOAP faults: the ONE type every refusal of a request becomes (WIRE.md, "Faults").
//!
//! Each variant maps to a stable machine code, an HTTP status, a SOAP 1.1 faultcode and a
//! Swedish + English text. Texts never contain personal data.

use hyper::StatusCode;

/// Everything a SOAP request can be refused with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// FR1101: malformed request, missing element, bad PersonId, bad field. The text says which.
    #[error("FR1101: {0}")]
    BadRequest(String),
    /// FR1102: a search needs a name plus one more criterion.
    #[error("FR1102: search needs a name plus one more criterion")]
    SearchTooBroad,
    /// FR1103: more hits than the limit.
    #[error("FR1103: more than {0} hits")]
    TooManyHits(usize),
    /// FR1104: a SOAP Header block is marked `mustUnderstand="1"`; folkreg understands no
    /// header block (SOAP 1.1 §4.2.3). Holds the block's local name.
    #[error("FR1104: header block {0} must be understood")]
    MustUnderstand(String),
    /// FR1201: OrgNr differs from the certificate's organisation.
    #[error("FR1201: OrgNr differs from the certificate's organisation")]
    OrgMismatch,
    /// FR1202: BestallningsId not registered for this organisation.
    #[error("FR1202: unknown BestallningsId")]
    UnknownBestallning,
    /// FR1203: the avisering delivery was acknowledged and its retention period has passed.
    #[error("FR1203: delivery {0} has been removed")]
    DeliveryRemoved(u64),
    /// FR1301: the certificate is not permitted by the register. The text says why.
    #[error("FR1301: certificate not permitted: {0}")]
    NotPermitted(String),
    /// FR1401: the request body is larger than the limit.
    #[error("FR1401: request larger than {0} bytes")]
    TooLarge(usize),
    /// FR1402: the request body has a `Content-Encoding` other than `identity`; holds the
    /// coding as sent (refused with 415 before the body is read).
    #[error("FR1402: Content-Encoding {0} is not supported")]
    UnsupportedEncoding(String),
    /// FR1501: maintenance window; retry after this many seconds.
    #[error("FR1501: closed for maintenance, retry after {retry_after} s")]
    Maintenance {
        /// Seconds until the window ends.
        retry_after: u64,
        /// Why (the planned outage's reason, or the weekly window).
        reason: String,
    },
    /// FR1901: our fault; details only in the log under this request id.
    #[error("FR1901: internal error, request id {0}")]
    Internal(String),
}

impl Fault {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Fault::BadRequest(_) => "FR1101",
            Fault::SearchTooBroad => "FR1102",
            Fault::TooManyHits(_) => "FR1103",
            Fault::MustUnderstand(_) => "FR1104",
            Fault::OrgMismatch => "FR1201",
            Fault::UnknownBestallning => "FR1202",
            Fault::DeliveryRemoved(_) => "FR1203",
            Fault::NotPermitted(_) => "FR1301",
            Fault::TooLarge(_) => "FR1401",
            Fault::UnsupportedEncoding(_) => "FR1402",
            Fault::Maintenance { .. } => "FR1501",
            Fault::Internal(_) => "FR1901",
        }
    }

    /// HTTP status: 500 per SOAP 1.1, except 403, 413, 415 and 503 (CONTRACT.md).
    pub fn status(&self) -> StatusCode {
        match self {
            Fault::NotPermitted(_) => StatusCode::FORBIDDEN,
            Fault::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Fault::UnsupportedEncoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Fault::Maintenance { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
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
            Fault::SearchTooBroad => "Felaktiga inparametrar: sökningen kräver ett namn och minst ett sökbegrepp till / \
                Invalid input: a search needs a name plus at least one more criterion"
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
        let table: Vec<(Fault, &str, u16, &str)> = vec![
            (Fault::BadRequest("x".into()), "FR1101", 500, "S:Client"),
            (Fault::SearchTooBroad, "FR1102", 500, "S:Client"),
            (Fault::TooManyHits(100), "FR1103", 500, "S:Client"),
            (
                Fault::MustUnderstand("Security".into()),
                "FR1104",
                500,
                "S:MustUnderstand",
            ),
            (Fault::OrgMismatch, "FR1201", 500, "S:Client"),
            (Fault::UnknownBestallning, "FR1202", 500, "S:Client"),
            (
                Fault::NotPermitted("revoked".into()),
                "FR1301",
                403,
                "S:Client",
            ),
            (Fault::TooLarge(65536), "FR1401", 413, "S:Client"),
            (
                Fault::UnsupportedEncoding("gzip".into()),
                "FR1402",
                415,
                "S:Client",
            ),
            (m.clone(), "FR1501", 503, "S:Server"),
            (Fault::Internal("r1".into()), "FR1901", 500, "S:Server"),
        ];
        for (f, code, status, faultcode) in table {
            assert_eq!(f.code(), code);
            assert_eq!(f.status().as_u16(), status, "{code}");
            assert_eq!(f.faultcode(), faultcode, "{code}");
            assert!(f.beskrivning().contains(" / "), "{code}: Swedish / English");
        }
        assert_eq!(m.retry_after(), Some(60));
        assert!(Fault::BadRequest("PersonId".into())
            .beskrivning()
            .starts_with("Felaktiga inparametrar"));
    }
}
