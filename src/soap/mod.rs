//! SOAP 1.1: request envelopes in ([`request`]), answers and faults out ([`response`],
//! [`fault`]), the endpoints and their WSDLs ([`service`]), in the wire format of Navet
//! ePersondata V2, V3 and V4 (na_webservices_xmls 7_2_28; WIRE.md).
//!
//! Owns the namespaces and prefixes clients depend on (`S`, `ns0`), the limits on what a
//! request may contain, and the one [`Fault`] type. Never decides who may see what.

pub mod fault;
pub mod request;
pub mod response;
pub mod service;

pub use fault::Fault;
pub use request::Bestallning;

/// SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// SOAP 1.2 envelope namespace (refused with a clear fault).
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";
/// Navet's V1 namespace: request elements and the response wrapper.
pub const V1_NS: &str =
    "http://xmls.skatteverket.se/se/skatteverket/folkbokforing/na/epersondata/V1";
/// folkreg's avisering service (hamtaAvisering): request and response wrapper elements.
pub const AVI_NS: &str = "urn:folkreg:avisering:1";
/// The start of Navet's ePersondata WSDL target namespaces,
/// `{NA_WSDL_NS}{personpostXML|namnsokningXML}/v{2|3|4}` after the path's version
/// ([`service::Endpoint::target_namespace`]); declared as `ns1` on answers.
pub const NA_WSDL_NS: &str = "http://www.skatteverket.se/folkbokforing/na/";
