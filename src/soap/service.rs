//! The services folkreg answers on the SOAP listener, by path, with their WSDL and schemas:
//! the table the listener routes by and the one place that knows which document describes
//! which endpoint, and under which WSDL namespace (Navet's, after the path's version).

use super::{AVI_NS, NA_WSDL_NS};

/// `personpostXML`'s WSDL as shipped: Navet's V4 file (target namespace, documentation and
/// `soap:address` are set for the version and URL asked when served).
const PERSONPOST_WSDL: &str = include_str!("../../wsdl/personpostXML.wsdl");
/// `namnsokningXML`'s WSDL, likewise Navet's.
const NAMNSOKNING_WSDL: &str = include_str!("../../wsdl/namnsokningXML.wsdl");
/// `hamtaAvisering`'s WSDL.
const HAMTA_WSDL: &str = include_str!("../../wsdl/hamtaAvisering.wsdl");
/// `lamnaInfil`'s WSDL.
const INFIL_WSDL: &str = include_str!("../../wsdl/lamnaInfil.wsdl");
/// Navet's ePersondata types as one V1 schema (made from Navet's files by
/// `tests/interop/navet_schema.py`), which the lookup WSDLs import.
const XSD: &str = include_str!("../../wsdl/epersondata.xsd");
/// The avisering schema the avisering WSDLs import (it imports [`XSD`] for the records).
const AVI_XSD: &str = include_str!("../../wsdl/avisering.xsd");

/// The ePersondata schema's file name, in imports and in `?xsd=`.
const XSD_NAME: &str = "epersondata.xsd";
/// The avisering schema's.
const AVI_XSD_NAME: &str = "avisering.xsd";

/// The version the WSDL files are written for (replaced by the path's when served).
const WSDL_FILE_VERSION: Version = Version::V4;
/// The host the WSDL files' `soap:address` names (replaced by the URL the client used).
const WSDL_FILE_HOST: &str = "https://localhost:8443";

/// One SOAP service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `personpostXML`: one person by number.
    Personpost,
    /// `namnsokningXML`: a search by name.
    Namnsokning,
    /// `hamtaAvisering`: one page of an avisering or urval delivery.
    HamtaAvisering,
    /// `lamnaInfil`: one page of an infil order's population.
    LamnaInfil,
}

/// The version segment of a path: Navet's ePersondata answers under `V2`, `V3` and `V4`
/// (the same messages; the WSDL's target namespace follows the version), folkreg's avisering
/// services under `V1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `V1`: the avisering services.
    V1,
    /// `V2`: ePersondata, 2015.
    V2,
    /// `V3`: ePersondata.
    V3,
    /// `V4`: ePersondata, 2023 (na_webservices_xmls 7_2_28).
    V4,
}

impl Version {
    /// As in paths (`V4`).
    pub fn path(self) -> &'static str {
        match self {
            Version::V1 => "V1",
            Version::V2 => "V2",
            Version::V3 => "V3",
            Version::V4 => "V4",
        }
    }

    /// As in Navet's WSDL namespaces (`v4`).
    fn ns(self) -> &'static str {
        match self {
            Version::V1 => "v1",
            Version::V2 => "v2",
            Version::V3 => "v3",
            Version::V4 => "v4",
        }
    }

    /// As in the WSDL's `documentation` (`Version 4.0`).
    fn documentation(self) -> String {
        format!("Version {}.0", &self.path()[1..])
    }
}

/// A service at a version: what a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// The service.
    pub service: Service,
    /// The version its path names.
    pub version: Version,
}

impl Endpoint {
    /// The endpoint at this path: ePersondata under V2, V3 and V4, avisering under V1.
    pub fn from_path(path: &str) -> Option<Endpoint> {
        let (family, rest) = path.strip_prefix("/na/")?.split_once('/')?;
        let (version, name) = rest.split_once('/')?;
        let version = match (family, version) {
            ("na_avisering", "V1") => Version::V1,
            ("na_epersondata", "V2") => Version::V2,
            ("na_epersondata", "V3") => Version::V3,
            ("na_epersondata", "V4") => Version::V4,
            _ => return None,
        };
        let service = match (version, name) {
            (Version::V1, "hamtaAvisering") => Service::HamtaAvisering,
            (Version::V1, "lamnaInfil") => Service::LamnaInfil,
            (Version::V1, _) => return None,
            (_, "personpostXML") => Service::Personpost,
            (_, "namnsokningXML") => Service::Namnsokning,
            _ => return None,
        };
        Some(Endpoint { service, version })
    }

    /// Its path.
    pub fn path(self) -> String {
        let family = match self.service {
            Service::Personpost | Service::Namnsokning => "na_epersondata",
            Service::HamtaAvisering | Service::LamnaInfil => "na_avisering",
        };
        format!(
            "/na/{family}/{}/{}",
            self.version.path(),
            self.service.name()
        )
    }

    /// Its WSDL's target namespace: for ePersondata Navet's
    /// `http://www.skatteverket.se/folkbokforing/na/{personpostXML|namnsokningXML}/v{2|3|4}`
    /// (declared as `ns1` on answers), for avisering folkreg's own.
    pub fn target_namespace(self) -> String {
        match self.service {
            Service::Personpost | Service::Namnsokning => {
                format!("{NA_WSDL_NS}{}/{}", self.service.name(), self.version.ns())
            }
            Service::HamtaAvisering | Service::LamnaInfil => AVI_NS.to_owned(),
        }
    }

    /// The WSDL as served at `address` (the URL the client used): its target namespace and
    /// documentation are this version's, its `soap:address` is that URL, and its schema
    /// import points at `?xsd=NAME` beside it.
    pub fn wsdl(self, address: &str) -> String {
        let file = Endpoint {
            service: self.service,
            version: match self.service {
                Service::Personpost | Service::Namnsokning => WSDL_FILE_VERSION,
                Service::HamtaAvisering | Service::LamnaInfil => Version::V1,
            },
        };
        let text = self
            .service
            .wsdl_file()
            .replace(&format!("{WSDL_FILE_HOST}{}", file.path()), address)
            .replace(
                &format!("\"{}\"", file.target_namespace()),
                &format!("\"{}\"", self.target_namespace()),
            )
            .replace(
                &format!(">{}<", file.version.documentation()),
                &format!(">{}<", self.version.documentation()),
            );
        self.service.point_imports(&text)
    }

    /// The schema `?xsd=name` asks for at this endpoint, as served (its imports pointing at
    /// `?xsd=` beside it), or `None` if its WSDL does not use one of that name.
    pub fn xsd(self, name: &str) -> Option<String> {
        self.service
            .schemas()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| self.service.point_imports(text))
    }
}

impl Service {
    /// Its name in paths, metrics and the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Service::Personpost => "personpostXML",
            Service::Namnsokning => "namnsokningXML",
            Service::HamtaAvisering => "hamtaAvisering",
            Service::LamnaInfil => "lamnaInfil",
        }
    }

    /// Whether its requests are infil pages (a larger body and element budget).
    pub fn takes_infil(self) -> bool {
        self == Service::LamnaInfil
    }

    fn wsdl_file(self) -> &'static str {
        match self {
            Service::Personpost => PERSONPOST_WSDL,
            Service::Namnsokning => NAMNSOKNING_WSDL,
            Service::HamtaAvisering => HAMTA_WSDL,
            Service::LamnaInfil => INFIL_WSDL,
        }
    }

    /// The schemas its WSDL reads (directly or by import): file name and text.
    pub fn schemas(self) -> &'static [(&'static str, &'static str)] {
        match self {
            Service::Personpost | Service::Namnsokning => &[(XSD_NAME, XSD)],
            Service::HamtaAvisering | Service::LamnaInfil => {
                &[(AVI_XSD_NAME, AVI_XSD), (XSD_NAME, XSD)]
            }
        }
    }

    /// `text` with every `schemaLocation="NAME"` of its schemas pointing at `?xsd=NAME` of
    /// this service (relative, so the client resolves it beside the URL it used).
    fn point_imports(self, text: &str) -> String {
        self.schemas()
            .iter()
            .fold(text.to_owned(), |text, (name, _)| {
                text.replace(
                    &format!("schemaLocation=\"{name}\""),
                    &format!("schemaLocation=\"{}?xsd={name}\"", self.name()),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(path: &str) -> Option<(Service, Version)> {
        Endpoint::from_path(path).map(|e| (e.service, e.version))
    }

    #[test]
    fn epersondata_answers_under_v2_v3_and_v4_avisering_under_v1() {
        for (v, version) in [
            ("V2", Version::V2),
            ("V3", Version::V3),
            ("V4", Version::V4),
        ] {
            for (name, service) in [
                ("personpostXML", Service::Personpost),
                ("namnsokningXML", Service::Namnsokning),
            ] {
                let path = format!("/na/na_epersondata/{v}/{name}");
                assert_eq!(at(&path), Some((service, version)), "{path}");
                assert_eq!(Endpoint { service, version }.path(), path);
            }
        }
        assert_eq!(
            at("/na/na_avisering/V1/hamtaAvisering"),
            Some((Service::HamtaAvisering, Version::V1))
        );
        assert_eq!(
            at("/na/na_avisering/V1/lamnaInfil"),
            Some((Service::LamnaInfil, Version::V1))
        );
        for path in [
            "/na/na_epersondata/V2/personpost",
            "/na/na_epersondata/V1/personpostXML",
            "/na/na_epersondata/V5/personpostXML",
            "/na/na_epersondata/V4/hamtaAvisering",
            "/na/na_avisering/V2/hamtaAvisering",
            "/na/na_avisering/V1/personpostXML",
            "/na/na_epersondata/V4/personpostXML/",
            "/na/na_epersondata/V4",
            "/",
        ] {
            assert_eq!(at(path), None, "{path}");
        }
    }

    #[test]
    fn the_wsdl_namespace_follows_the_service_and_the_version() {
        let e = Endpoint::from_path("/na/na_epersondata/V3/namnsokningXML").unwrap();
        assert_eq!(
            e.target_namespace(),
            "http://www.skatteverket.se/folkbokforing/na/namnsokningXML/v3"
        );
        let e = Endpoint::from_path("/na/na_epersondata/V2/personpostXML").unwrap();
        assert_eq!(
            e.target_namespace(),
            "http://www.skatteverket.se/folkbokforing/na/personpostXML/v2"
        );
    }

    #[test]
    fn the_served_wsdl_is_navets_for_the_version_and_names_the_address_used() {
        for v in ["V2", "V3", "V4"] {
            let path = format!("/na/na_epersondata/{v}/personpostXML");
            let address = format!("https://navet.example:443{path}");
            let text = Endpoint::from_path(&path).unwrap().wsdl(&address);
            let ns = format!(
                "http://www.skatteverket.se/folkbokforing/na/personpostXML/{}",
                v.to_lowercase()
            );
            assert!(text.contains(&format!("targetNamespace=\"{ns}\"")), "{v}");
            assert!(text.contains(&format!("xmlns:impl=\"{ns}\"")), "{v}");
            assert!(text.contains(&format!("Version {}.0", &v[1..])), "{v}");
            assert!(text.contains(&format!("location=\"{address}\"")), "{v}");
            assert!(text.contains("schemaLocation=\"personpostXML?xsd=epersondata.xsd\""));
            for name in [
                "<wsdl:operation name=\"getData\">",
                "<wsdl:message name=\"getDataRequest\">",
                "<wsdl:message name=\"getDataResponse\">",
                "<wsdl:message name=\"NaWebServiceException\">",
                "<wsdl:part name=\"fault\" element=\"na:WebServiceFault\"/>",
                "<wsdl:portType name=\"PersonpostXMLInterface\">",
                "<wsdl:binding name=\"PersonpostXMLSoapBinding\"",
                "<wsdl:service name=\"PersonpostXMLService\">",
                "name=\"personpostXML\">",
                "soapAction=\"\"",
            ] {
                assert!(text.contains(name), "{v}: {name}");
            }
            assert!(!text.contains("localhost:8443"));
            let other = if v == "V4" { "/v2\"" } else { "/v4\"" };
            assert!(!text.contains(other), "{v}");
        }
    }

    #[test]
    fn schemas_are_served_beside_the_wsdl_that_imports_them() {
        let pp = Endpoint::from_path("/na/na_epersondata/V4/personpostXML").unwrap();
        assert!(pp.xsd("epersondata.xsd").is_some());
        assert!(pp.xsd("avisering.xsd").is_none());
        assert!(pp.xsd("../secret").is_none());
        let av = Endpoint::from_path("/na/na_avisering/V1/hamtaAvisering").unwrap();
        let avi = av.xsd("avisering.xsd").unwrap();
        assert!(
            avi.contains("schemaLocation=\"hamtaAvisering?xsd=epersondata.xsd\""),
            "the avisering schema imports the records' schema beside it"
        );
        assert!(av.xsd("epersondata.xsd").is_some());
    }
}
