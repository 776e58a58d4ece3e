//! The development PKI's cases: the organisations and one client certificate per way the
//! service must accept or refuse a caller. The certificates, the register, `index.toml` and the
//! README are all written from this one table.

use super::Expect;
use crate::access::{Category, Switch};

/// How the certificate names its organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IdForm {
    /// `organizationIdentifier` = `NTRSE-` + 10 digits.
    OrganizationIdentifier,
    /// `serialNumber` = 10 digits.
    SerialNumber10,
    /// `serialNumber` = `16` + 10 digits.
    SerialNumber12,
    /// No organisation number at all.
    Nothing,
}

/// A development organisation.
pub(super) struct OrgSpec {
    /// First nine digits; the check digit is computed.
    pub(super) nine: &'static str,
    pub(super) namn: &'static str,
    pub(super) categories: &'static [Category],
    pub(super) switches: &'static [Switch],
    pub(super) bestallningsid: &'static str,
    /// Listed in the register.
    pub(super) registered: bool,
    /// One line for the register's comment.
    pub(super) about: &'static str,
}

pub(super) const LUND: OrgSpec = OrgSpec {
    nine: "202100474",
    namn: "Lunds universitet",
    categories: &[Category::Grund],
    switches: &[],
    bestallningsid: "00000079-FO01-0001",
    registered: true,
    about: "grund only, no switches; its certificates carry organizationIdentifier NTRSE-",
};

pub(super) const NORRBY: OrgSpec = OrgSpec {
    nine: "212000013",
    namn: "Norrby kommun",
    categories: &[
        Category::Grund,
        Category::Relationer,
        Category::Medborgarskap,
        Category::Taxering,
    ],
    switches: &[
        Switch::Samordningsnummer,
        Switch::TilldelatPersonnummer,
        Switch::SarskildaUppgifter,
    ],
    bestallningsid: "00000079-FO02-0001",
    registered: true,
    about: "every category but sekretess, every switch; certificates carry serialNumber 16+orgnr",
};

pub(super) const EXEMPEL: OrgSpec = OrgSpec {
    nine: "556677889",
    namn: "Exempel Försäkring AB",
    categories: &Category::ALL,
    switches: &[Switch::Samordningsnummer],
    bestallningsid: "00000079-FO03-0001",
    registered: true,
    about: "all five categories incl. sekretess, switch samordningsnummer; serialNumber 10 digits",
};

pub(super) const OKAND: OrgSpec = OrgSpec {
    nine: "559100123",
    namn: "Okänd Organisation AB",
    categories: &[],
    switches: &[],
    bestallningsid: "00000079-FO09-0001",
    registered: false,
    about: "not in the register",
};

pub(super) const NO_NUMBER: OrgSpec = OrgSpec {
    nine: "",
    namn: "Utan Nummer AB",
    categories: &[],
    switches: &[],
    bestallningsid: "00000079-FO09-0002",
    registered: false,
    about: "its certificate carries no organisation number",
};

/// The certificate's validity.
#[derive(Debug, Clone, Copy)]
pub(super) enum Validity {
    /// From yesterday for ten years.
    Current,
    /// 2019-01-01 to 2020-01-01.
    Expired,
    /// 2099-01-01 to 2100-01-01.
    Future,
}

/// Who signs the client certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Issuer {
    Intermediate,
    OtherCa,
}

/// The client certificate's ExtendedKeyUsage extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// clientAuth.
    ClientAuth,
    /// serverAuth only.
    ServerAuthOnly,
    /// No ExtendedKeyUsage extension at all.
    Absent,
}

/// The client certificate's KeyUsage extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum KeyUse {
    /// digitalSignature.
    DigitalSignature,
    /// keyEncipherment only (an encryption certificate): no digitalSignature.
    KeyEnciphermentOnly,
}

/// The client certificate's register entry.
#[derive(Debug, Clone, Copy)]
pub(super) enum Listing {
    /// Not in the register.
    Absent,
    /// Listed, permitted from issue to its expiry.
    Window,
    /// Listed without a permission window.
    Open,
    /// Listed with a window that ended 2025-01-01.
    Ended,
    /// Listed with a window that starts 2099-01-01.
    Later,
    /// Listed and marked revoked.
    Revoked,
}

/// One client certificate case.
pub(super) struct ClientSpec {
    pub(super) name: &'static str,
    pub(super) org: &'static OrgSpec,
    pub(super) id: IdForm,
    pub(super) validity: Validity,
    pub(super) issuer: Issuer,
    /// Its extended key usage.
    pub(super) purpose: Purpose,
    /// Its key usage.
    pub(super) key_use: KeyUse,
    /// Listed in the CRL.
    pub(super) crl_revoked: bool,
    pub(super) listing: Listing,
    pub(super) expect: Expect,
    pub(super) reason: Option<&'static str>,
    pub(super) why: &'static str,
}

/// Every client certificate: the accepted ones, then each way of being refused.
pub(super) const CLIENTS: &[ClientSpec] = &[
    ClientSpec {
        name: "client-lund",
        org: &LUND,
        id: IdForm::OrganizationIdentifier,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        purpose: Purpose::ClientAuth,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: false,
        listing: Listing::Window,
        expect: Expect::Accepted,
        reason: None,
        why: "registered organisation and fingerprint; categories grund only",
    },
    ClientSpec {
        name: "client-norrby",
        org: &NORRBY,
        id: IdForm::SerialNumber12,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        purpose: Purpose::ClientAuth,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: false,
        listing: Listing::Open,
        expect: Expect::Accepted,
        reason: None,
        why: "registered; every category but sekretess and every switch; serialNumber 16+orgnr",
    },
    ClientSpec {
        name: "client-exempel",
        org: &EXEMPEL,
        id: IdForm::SerialNumber10,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        purpose: Purpose::ClientAuth,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: false,
        listing: Listing::Window,
        expect: Expect::Accepted,
        reason: None,
        why: "registered; all five categories including sekretess; serialNumber 10 digits",
    },
    ClientSpec {
        name: "client-expired",
        org: &LUND,
        id: IdForm::OrganizationIdentifier,
        validity: Validity::Expired,
        issuer: Issuer::Intermediate,
        purpose: Purpose::ClientAuth,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: false,
        listing: Listing::Open,
        expect: Expect::HandshakeRefused,
        reason: Some("expired"),
        why: "expired 2020-01-01 (registered, so only the TLS layer can refuse it)",
    },
    ClientSpec {
        name: "client-not-yet-valid",
        org: &LUND,
        id: IdForm::OrganizationIdentifier,
        validity: Validity::Future,
        issuer: Issuer::Intermediate,
        purpose: Purpose::ClientAuth,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: false,
        listing: Listing::Open,
        expect: Expect::HandshakeRefused,
        reason: Some("not_yet_valid"),
        why: "valid only from 2099-01-01 (registered, so only the TLS layer can refuse it)",
    },
    ClientSpec {
        name: "client-revoked",
        org: &LUND,
        id: IdForm::OrganizationIdentifier,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        purpose: Purpose::ClientAuth,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: true,
        listing: Listing::Open,
        expect: Expect::HandshakeRefused,
        reason: Some("revoked"),
        why: "its serial is in crl.pem (registered, so only the TLS layer can refuse it)",
    },
    ClientSpec {
        name: "client-other-ca",
        org: &LUND,
        id: IdForm::OrganizationIdentifier,
        validity: Validity::Current,
        issuer: Issuer::OtherCa,
        purpose: Purpose::ClientAuth,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: false,
        listing: Listing::Open,
        expect: Expect::HandshakeRefused,
        reason: Some("unknown_issuer"),
        why: "issued by other-ca, which the server does not trust (registered fingerprint)",
    },
    ClientSpec {
        name: "client-server-eku",
        org: &EXEMPEL,
        id: IdForm::SerialNumber10,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        purpose: Purpose::ServerAuthOnly,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: false,
        listing: Listing::Open,
        expect: Expect::HandshakeRefused,
        reason: Some("invalid_purpose"),
        why: "extended key usage serverAuth only, no clientAuth (registered fingerprint)",
    },
    ClientSpec {
        name: "client-no-eku",
        org: &EXEMPEL,
        id: IdForm::SerialNumber10,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        purpose: Purpose::Absent,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: false,
        listing: Listing::Open,
        expect: Expect::HandshakeRefused,
        reason: Some("invalid_purpose"),
        why: "no extended key usage extension at all: clientAuth is required (registered fingerprint)",
    },
    ClientSpec {
        name: "client-no-digital-signature",
        org: &NORRBY,
        id: IdForm::SerialNumber12,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        purpose: Purpose::ClientAuth,
        key_use: KeyUse::KeyEnciphermentOnly,
        crl_revoked: false,
        listing: Listing::Open,
        expect: Expect::HandshakeRefused,
        reason: Some("key_usage"),
        why: "key usage keyEncipherment only, no digitalSignature (registered fingerprint)",
    },
    ClientSpec {
        name: "client-no-orgnr",
        org: &NO_NUMBER,
        id: IdForm::Nothing,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        purpose: Purpose::ClientAuth,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: false,
        listing: Listing::Absent,
        expect: Expect::RegisterRefused,
        reason: Some("no_organisation_number"),
        why: "valid certificate whose subject carries no organisation number",
    },
    ClientSpec {
        name: "client-unknown-org",
        org: &OKAND,
        id: IdForm::OrganizationIdentifier,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        purpose: Purpose::ClientAuth,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: false,
        listing: Listing::Absent,
        expect: Expect::RegisterRefused,
        reason: Some("unknown_organisation"),
        why: "valid certificate of an organisation the register does not list",
    },
    ClientSpec {
        name: "client-unregistered",
        org: &LUND,
        id: IdForm::OrganizationIdentifier,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        purpose: Purpose::ClientAuth,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: false,
        listing: Listing::Absent,
        expect: Expect::RegisterRefused,
        reason: Some("unknown_certificate"),
        why: "valid certificate of a registered organisation, but its fingerprint is not listed",
    },
    ClientSpec {
        name: "client-permission-ended",
        org: &NORRBY,
        id: IdForm::SerialNumber12,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        purpose: Purpose::ClientAuth,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: false,
        listing: Listing::Ended,
        expect: Expect::RegisterRefused,
        reason: Some("no_longer_permitted"),
        why: "valid certificate whose register permission ended 2025-01-01",
    },
    ClientSpec {
        name: "client-permission-later",
        org: &NORRBY,
        id: IdForm::SerialNumber12,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        purpose: Purpose::ClientAuth,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: false,
        listing: Listing::Later,
        expect: Expect::RegisterRefused,
        reason: Some("not_yet_permitted"),
        why: "valid certificate whose register permission starts 2099-01-01",
    },
    ClientSpec {
        name: "client-register-revoked",
        org: &EXEMPEL,
        id: IdForm::SerialNumber10,
        validity: Validity::Current,
        issuer: Issuer::Intermediate,
        purpose: Purpose::ClientAuth,
        key_use: KeyUse::DigitalSignature,
        crl_revoked: false,
        listing: Listing::Revoked,
        expect: Expect::RegisterRefused,
        reason: Some("revoked"),
        why: "valid certificate marked revoked = true in the register (not in the CRL)",
    },
];
