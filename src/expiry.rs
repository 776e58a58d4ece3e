//! What expires when: the server certificate, each CA, each CRL's next update (from the TLS
//! files in use) and each registered client certificate (as `add-cert` recorded it). One list,
//! read by `/metrics` and by the warning a configurable number of days ahead.
//!
//! Names are certificate common names and organisation numbers with the certificate's comment
//! or fingerprint prefix — never personal data.

use chrono::{DateTime, Utc};

use crate::register::Register;
use crate::tls::ExpiryReport;

/// Whose expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The server's own TLS material: its certificate, the CAs, the CRLs.
    Server,
    /// A client certificate in the register.
    Client,
}

/// One thing that expires.
#[derive(Debug, Clone, PartialEq)]
pub struct Expiring {
    /// Server material or a client certificate.
    pub owner: Owner,
    /// `server:CN`, `ca:CN`, `crl:ISSUER` or `ORGNR:comment`.
    pub name: String,
    /// Days until it expires (negative once expired).
    pub days: f64,
}

/// Everything that expires, as of `now`.
pub fn list(tls: &ExpiryReport, register: &Register, now: DateTime<Utc>) -> Vec<Expiring> {
    let days = |at: DateTime<Utc>| (at - now).num_seconds() as f64 / 86_400.0;
    let server = tls
        .days_until_expiry(now)
        .into_iter()
        .map(|(name, days)| Expiring {
            owner: Owner::Server,
            name,
            days,
        });
    let clients = register.certificates().filter_map(|(org, cert)| {
        let at = cert.cert_expires?;
        let name = match &cert.comment {
            Some(c) => format!("{}:{}", org.orgnr, c),
            None => format!("{}:{}", org.orgnr, &cert.fingerprint_hex()[..16]),
        };
        Some(Expiring {
            owner: Owner::Client,
            name,
            days: days(at),
        })
    });
    server.chain(clients).collect()
}

/// Logs a warning for each entry expiring within `within_days` (or already expired); returns
/// how many.
pub fn warn(list: &[Expiring], within_days: u32) -> usize {
    let mut n = 0;
    for e in list.iter().filter(|e| e.days < f64::from(within_days)) {
        n += 1;
        let what = match e.owner {
            Owner::Server => "server TLS material",
            Owner::Client => "client certificate",
        };
        if e.days < 0.0 {
            tracing::warn!(name = %e.name, days = e.days.floor(), "{what} has EXPIRED");
        } else {
            tracing::warn!(
                name = %e.name,
                days = e.days.floor(),
                within = within_days,
                "{what} expires soon"
            );
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::{ExpiryEntry, ExpiryKind};
    use chrono::TimeZone;

    #[test]
    fn warns_within_the_horizon_only() {
        let now = Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0).unwrap();
        let entry = |kind, name: &str, days| ExpiryEntry {
            kind,
            name: name.into(),
            at: now + chrono::Duration::days(days),
        };
        let tls = ExpiryReport {
            entries: vec![
                entry(ExpiryKind::ServerCertificate, "folkreg", 29),
                entry(ExpiryKind::CaCertificate, "root", 400),
                entry(ExpiryKind::CrlNextUpdate, "intermediate", -1),
            ],
        };
        let register = Register::default();
        let all = list(&tls, &register, now);
        assert_eq!(all.len(), 3);
        assert_eq!(all[0].name, "server:folkreg");
        assert!((all[0].days - 29.0).abs() < 1e-9);
        assert_eq!(warn(&all, 30), 2, "29 days and expired");
        assert_eq!(warn(&all, 29), 1, "only the expired CRL");
        assert_eq!(warn(&all, 0), 1);
    }
}
