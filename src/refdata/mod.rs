//! Reference data: Sweden's 21 län and 290 kommuner (SCB codes, the division since 2007),
//! embedded from `kommuner.csv`, plus the postnummer block folkreg's synthetic data assigns to
//! each kommun.
//!
//! Owns only facts; never personal data.

use std::sync::OnceLock;

const KOMMUNER_CSV: &str = include_str!("kommuner.csv");

/// One kommun.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kommun {
    /// Four-digit kommunkod (län + kommun), e.g. `0180`.
    pub kod: &'static str,
    /// Name, e.g. `Stockholm`.
    pub namn: &'static str,
    /// Two-digit länskod.
    pub lan_kod: &'static str,
    /// Name of the län.
    pub lan_namn: &'static str,
    /// First postnummer of the kommun's block of synthetic postnummer (see [`postnummer_block`]).
    pub postnummer_fran: u32,
}

impl Kommun {
    /// The two-digit kommun part of the code, as Folkbokforing/KommunKod carries it.
    pub fn kommun_kod2(&self) -> &'static str {
        &self.kod[2..]
    }

    /// Postort for the kommun's addresses: the name in capitals, as the post writes it.
    pub fn postort(&self) -> String {
        self.namn.to_uppercase()
    }
}

/// Number of postnummer each kommun gets in the synthetic data.
pub const POSTNUMMER_PER_KOMMUN: u32 = 20;

/// The first digit of Swedish postnummer by län, roughly as PostNord assigns them, so that
/// synthetic postnummer ranges look right (1xx xx Stockholm, 9xx xx Norrbotten ...).
fn postnummer_base(lan: &str) -> u32 {
    match lan {
        "01" => 10000,
        "03" => 74000,
        "04" => 61000,
        "05" => 58000,
        "06" => 55000,
        "07" => 35000,
        "08" => 38000,
        "09" => 62000,
        "10" => 37000,
        "12" => 20000,
        "13" => 30000,
        "14" => 40000,
        "17" => 65000,
        "18" => 70000,
        "19" => 72000,
        "20" => 78000,
        "21" => 80000,
        "22" => 85000,
        "23" => 83000,
        "24" => 90000,
        _ => 94000,
    }
}

/// Every kommun, in code order.
pub fn kommuner() -> &'static [Kommun] {
    static ALL: OnceLock<Vec<Kommun>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut out: Vec<Kommun> = Vec::with_capacity(290);
        let mut index_in_lan = 0u32;
        let mut last_lan = "";
        for line in KOMMUNER_CSV.lines().skip(1) {
            let mut f = line.split(',');
            let (Some(kod), Some(namn), Some(lan_kod), Some(lan_namn)) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                continue;
            };
            if lan_kod != last_lan {
                index_in_lan = 0;
                last_lan = lan_kod;
            }
            let postnummer_fran = postnummer_base(lan_kod) + index_in_lan * 100;
            index_in_lan += 1;
            out.push(Kommun {
                kod,
                namn,
                lan_kod,
                lan_namn,
                postnummer_fran,
            });
        }
        out
    })
}

/// The kommun with this four-digit code.
pub fn kommun(kod: &str) -> Option<&'static Kommun> {
    // Looked up for every record of a load: a map, not a scan of 290.
    static BY_KOD: OnceLock<std::collections::HashMap<&'static str, &'static Kommun>> =
        OnceLock::new();
    BY_KOD
        .get_or_init(|| kommuner().iter().map(|k| (k.kod, k)).collect())
        .get(kod)
        .copied()
}

/// Whether a two-digit länskod exists.
pub fn is_lan(kod: &str) -> bool {
    static LAN: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();
    LAN.get_or_init(|| kommuner().iter().map(|k| k.lan_kod).collect())
        .contains(kod)
}

/// The synthetic postnummer block of a kommun: `POSTNUMMER_PER_KOMMUN` numbers from its start.
pub fn postnummer_block(k: &Kommun) -> std::ops::Range<u32> {
    k.postnummer_fran..k.postnummer_fran + POSTNUMMER_PER_KOMMUN
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn has_290_kommuner_in_21_lan() {
        assert_eq!(kommuner().len(), 290);
        let lan: HashSet<_> = kommuner().iter().map(|k| k.lan_kod).collect();
        assert_eq!(lan.len(), 21);
        assert_eq!(kommun("0180").map(|k| k.namn), Some("Stockholm"));
        assert_eq!(kommun("2584").map(|k| k.lan_namn), Some("Norrbottens län"));
    }

    #[test]
    fn postnummer_blocks_do_not_overlap() {
        let mut seen = HashSet::new();
        for k in kommuner() {
            for p in postnummer_block(k) {
                assert!(p < 100000);
                assert!(seen.insert(p), "postnummer {p} given twice");
            }
        }
    }
}
