//! The register's code lists (Navet 8.7, 8.20, 8.29, 8.32), each with its wire spelling in one
//! place: `code()` writes it, `from_code()` reads it.

use serde::{Deserialize, Serialize};

/// Declares a code enum with its wire codes, so the spelling lives in one table.
macro_rules! code_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $code:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The code as written on the wire.
            pub fn code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// Reads a wire code.
            pub fn from_code(s: &str) -> Option<$name> {
                match s { $($code => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

code_enum! {
    /// Avregistreringsorsak (8.7).
    AvregistreringsorsakKod {
        /// Avliden.
        AV = "AV",
        /// Utflyttad från Sverige.
        UV = "UV",
        /// Gammalt personnummer (after a number change).
        GN = "GN",
        /// Gammalt samordningsnummer (until 2021-06-18).
        GS = "GS",
        /// Annan anledning (before 2006-09-20).
        AN = "AN",
        /// Försvunnen.
        OB = "OB",
        /// Teknisk avregistrering.
        TA = "TA",
        /// Annullering av samordningsnummer.
        AS = "AS",
        /// Falsk identitet.
        FI = "FI",
    }
}

code_enum! {
    /// Civilstånd (8.20).
    CivilstandKod {
        /// Ogift.
        OG = "OG",
        /// Gift.
        G = "G",
        /// Änka/änkling.
        A = "Ä",
        /// Skild.
        S = "S",
        /// Registrerad partner.
        RP = "RP",
        /// Skild partner.
        SP = "SP",
        /// Efterlevande partner.
        EP = "EP",
    }
}

code_enum! {
    /// Relationstyp (WIRE.md decision).
    Relationstyp {
        /// Make/maka/partner.
        M = "M",
        /// Vårdnadshavare.
        V = "V",
        /// Vårdnadshavare för.
        VF = "VF",
        /// Mor.
        MO = "MO",
        /// Far.
        FA = "FA",
        /// Förälder (partner of the mother, since 2006-06-01): Navet's `F`. (Stored by
        /// variant index: the code changed from folkreg's own `FO`, the stored value did not.)
        F = "F",
        /// Barn.
        B = "B",
    }
}

code_enum! {
    /// Folkbokföringstyp in historik (8.32).
    Folkbokforingstyp {
        /// Folkbokförd.
        FB = "FB",
        /// Utflyttad från Sverige.
        UV = "UV",
        /// Försvunnen.
        OB = "OB",
    }
}

code_enum! {
    /// Kön.
    Kon {
        /// Man.
        M = "M",
        /// Kvinna.
        K = "K",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for c in AvregistreringsorsakKod::ALL {
            assert_eq!(AvregistreringsorsakKod::from_code(c.code()), Some(*c));
        }
        for c in CivilstandKod::ALL {
            assert_eq!(CivilstandKod::from_code(c.code()), Some(*c));
        }
        for c in Relationstyp::ALL {
            assert_eq!(Relationstyp::from_code(c.code()), Some(*c));
        }
        assert_eq!(CivilstandKod::A.code(), "Ä");
        assert_eq!(AvregistreringsorsakKod::from_code("XX"), None);
    }
}
