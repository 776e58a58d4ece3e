//! The services folkreg answers on the SOAP listener, by path, with their WSDL and schema:
//! the table the listener routes by and the one place that knows which document describes
//! which endpoint.

/// `personpostXML`'s WSDL as shipped (its `soap:address` is replaced when served).
const PERSONPOST_WSDL: &str = include_str!("../../wsdl/personpostXML.wsdl");
/// `namnsokningXML`'s WSDL.
const NAMNSOKNING_WSDL: &str = include_str!("../../wsdl/namnsokningXML.wsdl");
/// `hamtaAvisering`'s WSDL.
const HAMTA_WSDL: &str = include_str!("../../wsdl/hamtaAvisering.wsdl");
/// `lamnaInfil`'s WSDL.
const INFIL_WSDL: &str = include_str!("../../wsdl/lamnaInfil.wsdl");
/// The ePersondata schema the lookup WSDLs import.
const XSD: &str = include_str!("../../wsdl/epersondata.xsd");
/// The avisering schema the avisering WSDLs import.
const AVI_XSD: &str = include_str!("../../wsdl/avisering.xsd");

/// One SOAP endpoint.
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

impl Service {
    /// The service at this path: ePersondata under V2 and V4, avisering under V1.
    pub fn from_path(path: &str) -> Option<Service> {
        match path {
            "/na/na_avisering/V1/hamtaAvisering" => return Some(Service::HamtaAvisering),
            "/na/na_avisering/V1/lamnaInfil" => return Some(Service::LamnaInfil),
            _ => {}
        }
        let rest = path.strip_prefix("/na/na_epersondata/")?;
        let (version, name) = rest.split_once('/')?;
        if version != "V2" && version != "V4" {
            return None;
        }
        match name {
            "personpostXML" => Some(Service::Personpost),
            "namnsokningXML" => Some(Service::Namnsokning),
            _ => None,
        }
    }

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

    /// The `soap:address` written in the WSDL file (replaced by the address the client used).
    fn wsdl_address(self) -> String {
        match self {
            Service::HamtaAvisering | Service::LamnaInfil => {
                format!("https://localhost:8443/na/na_avisering/V1/{}", self.name())
            }
            _ => format!(
                "https://localhost:8443/na/na_epersondata/V2/{}",
                self.name()
            ),
        }
    }

    /// The schema the WSDL imports: file name and text.
    pub fn xsd(self) -> (&'static str, &'static str) {
        match self {
            Service::HamtaAvisering | Service::LamnaInfil => ("avisering.xsd", AVI_XSD),
            _ => ("epersondata.xsd", XSD),
        }
    }

    /// The WSDL as served at `address` (the URL the client used): its `soap:address` is that
    /// URL and its schema import points at `?xsd=NAME` beside it.
    pub fn wsdl(self, address: &str) -> String {
        let (xsd_name, _) = self.xsd();
        self.wsdl_file()
            .replace(&self.wsdl_address(), address)
            .replace(
                &format!("schemaLocation=\"{xsd_name}\""),
                &format!("schemaLocation=\"{}?xsd={xsd_name}\"", self.name()),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_v2_and_v4_only() {
        assert_eq!(
            Service::from_path("/na/na_epersondata/V2/personpostXML"),
            Some(Service::Personpost)
        );
        assert_eq!(
            Service::from_path("/na/na_epersondata/V4/namnsokningXML"),
            Some(Service::Namnsokning)
        );
        assert_eq!(
            Service::from_path("/na/na_epersondata/V2/personpost"),
            None,
            "termdata variant not served"
        );
        assert_eq!(
            Service::from_path("/na/na_epersondata/V3/personpostXML"),
            None
        );
        assert_eq!(Service::from_path("/"), None);
    }

    #[test]
    fn the_served_wsdl_names_the_address_used() {
        let text = Service::Personpost
            .wsdl("https://navet.example:443/na/na_epersondata/V4/personpostXML");
        assert!(text
            .contains("location=\"https://navet.example:443/na/na_epersondata/V4/personpostXML\""));
        assert!(text.contains("schemaLocation=\"personpostXML?xsd=epersondata.xsd\""));
        assert!(!text.contains("localhost:8443"));
    }
}
