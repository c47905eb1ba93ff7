//! The reference statistics, compiled into the binary from `sandbox-data/`.
//!
//! The product must never read `../shared` (or any data directory) at run time, so the CSV files
//! are embedded with `include_str!` and parsed once per process. A malformed file is a build
//! defect, caught by this module's tests, so parsing panics with the file and line.

use std::sync::OnceLock;

macro_rules! data {
    ($path:literal) => {
        ($path, include_str!(concat!("../../../sandbox-data/", $path)))
    };
}

/// One of the 98 municipalities.
#[derive(Debug, Clone)]
pub struct Municipality {
    pub code: u16,
    pub name: String,
    pub region_code: u16,
    /// Population on 1 January 2020 (DST FOLK1A).
    pub population: u64,
    /// Share of immigrants and descendants around 2023 (estimate; see sandbox-data).
    pub non_danish_share: f64,
}

/// A country of origin for immigrants and descendants.
#[derive(Debug, Clone)]
pub struct Country {
    /// ISO 3166-1 alpha-3.
    pub code: String,
    pub western: bool,
    pub immigrant_weight: f64,
    pub descendant_weight: f64,
    pub name_culture: String,
}

/// Origin shares of one age band (model calibrated to 2023 national shares).
#[derive(Debug, Clone, Copy)]
pub struct OriginBand {
    pub age_min: u32,
    pub age_max: u32,
    pub immigrant: f64,
    pub descendant: f64,
}

/// A name with a relative frequency, for one culture (and sex, for first names).
#[derive(Debug, Clone)]
pub struct WeightedName {
    pub culture: String,
    /// `Some(true)` male, `Some(false)` female, `None` for surnames.
    pub male: Option<bool>,
    pub name: String,
    pub weight: f64,
}

/// Everything the population model reads.
#[derive(Debug)]
pub struct RefData {
    pub municipalities: Vec<Municipality>,
    /// `(region_code, name)` in DST code order.
    pub regions: Vec<(u16, String)>,
    /// Population by single year of age (index) as `(male, female)`, 1 April 2021.
    pub pyramid: Vec<(u64, u64)>,
    /// 5-year age bands for the fidelity report: `(label, age_min, age_max, male, female)`.
    pub pyramid_5yr: Vec<(String, u32, u32, u64, u64)>,
    pub countries: Vec<Country>,
    pub origin_bands: Vec<OriginBand>,
    /// 2023 national shares by origin group, in [`crate::model::Origin`] order.
    pub origin_2023: [f64; 5],
    pub foreign_first_names: Vec<WeightedName>,
    pub foreign_surnames: Vec<WeightedName>,
}

/// Splits one CSV line, honouring double quotes.
fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// Parses an embedded CSV into rows keyed by header name.
struct Table {
    file: &'static str,
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn parse((file, text): (&'static str, &'static str)) -> Self {
        let mut lines = text
            .trim_start_matches('\u{feff}')
            .lines()
            .filter(|l| !l.trim().is_empty());
        let header = split_csv(lines.next().unwrap_or_else(|| panic!("{file}: empty")));
        let rows = lines.map(split_csv).collect();
        Self { file, header, rows }
    }

    fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h.trim() == name)
            .unwrap_or_else(|| panic!("{}: no column {name:?}", self.file))
    }

    fn get<T: std::str::FromStr>(&self, row: usize, name: &str) -> T {
        let raw = self.rows[row][self.col(name)].trim();
        raw.parse()
            .unwrap_or_else(|_| panic!("{} line {}: bad {name} {raw:?}", self.file, row + 2))
    }

    fn str(&self, row: usize, name: &str) -> String {
        self.rows[row][self.col(name)].trim().to_owned()
    }
}

fn parse() -> RefData {
    let regions_t = Table::parse(data!("regions.csv"));
    let regions: Vec<(u16, String)> = (0..regions_t.rows.len())
        .map(|r| (regions_t.get(r, "region_code"), regions_t.str(r, "region")))
        .collect();

    let muni = Table::parse(data!("municipalities.csv"));
    let origin_t = Table::parse(data!("municipality_origin.csv"));
    let municipalities = (0..muni.rows.len())
        .map(|r| {
            let code: u16 = muni.get(r, "code");
            let region = muni.str(r, "region");
            let region_code = regions
                .iter()
                .find(|(_, n)| *n == region)
                .unwrap_or_else(|| panic!("municipalities.csv: unknown region {region}"))
                .0;
            let share_row = (0..origin_t.rows.len())
                .find(|&o| origin_t.get::<u16>(o, "code") == code)
                .unwrap_or_else(|| panic!("municipality_origin.csv: no row for {code}"));
            Municipality {
                code,
                name: muni.str(r, "name"),
                region_code,
                population: muni.get(r, "population"),
                non_danish_share: origin_t.get(share_row, "share_immigrants_descendants"),
            }
        })
        .collect();

    let single = Table::parse(data!("age_sex_single_year.csv"));
    let pyramid = (0..single.rows.len())
        .map(|r| (single.get(r, "male"), single.get(r, "female")))
        .collect();
    let five = Table::parse(data!("age_sex_5yr.csv"));
    let pyramid_5yr = (0..five.rows.len())
        .map(|r| {
            let max = five.rows[r][five.col("age_max")].trim();
            (
                five.str(r, "age_band"),
                five.get(r, "age_min"),
                if max.is_empty() { 200 } else { five.get(r, "age_max") },
                five.get(r, "male"),
                five.get(r, "female"),
            )
        })
        .collect();

    let c = Table::parse(data!("countries.csv"));
    let countries = (0..c.rows.len())
        .map(|r| Country {
            code: c.str(r, "country_code"),
            western: c.str(r, "western") == "true",
            immigrant_weight: c.get(r, "immigrant_weight"),
            descendant_weight: c.get(r, "descendant_weight"),
            name_culture: c.str(r, "name_culture"),
        })
        .collect();

    let ob = Table::parse(data!("origin_by_age.csv"));
    let origin_bands = (0..ob.rows.len())
        .map(|r| OriginBand {
            age_min: ob.get(r, "age_min"),
            age_max: ob.get(r, "age_max"),
            immigrant: ob.get(r, "immigrant_share"),
            descendant: ob.get(r, "descendant_share"),
        })
        .collect();

    let os = Table::parse(data!("origin_shares.csv"));
    let share_2023 = |group: &str| -> f64 {
        (0..os.rows.len())
            .find(|&r| os.str(r, "date") == "2023-01-01" && os.str(r, "group") == group)
            .map(|r| os.get(r, "share_of_population"))
            .unwrap_or_else(|| panic!("origin_shares.csv: no 2023 row for {group}"))
    };
    let origin_2023 = [
        share_2023("danish_origin"),
        share_2023("immigrant_western"),
        share_2023("immigrant_non_western"),
        share_2023("descendant_western"),
        share_2023("descendant_non_western"),
    ];

    let ff = Table::parse(data!("names/foreign_first_names.csv"));
    let foreign_first_names = (0..ff.rows.len())
        .map(|r| WeightedName {
            culture: ff.str(r, "culture"),
            male: Some(ff.str(r, "sex") == "M"),
            name: ff.str(r, "name"),
            weight: ff.get(r, "weight"),
        })
        .collect();
    let fs = Table::parse(data!("names/foreign_surnames.csv"));
    let foreign_surnames = (0..fs.rows.len())
        .map(|r| WeightedName {
            culture: fs.str(r, "culture"),
            male: None,
            name: fs.str(r, "name"),
            weight: fs.get(r, "weight"),
        })
        .collect();

    RefData {
        municipalities,
        regions,
        pyramid,
        pyramid_5yr,
        countries,
        origin_bands,
        origin_2023,
        foreign_first_names,
        foreign_surnames,
    }
}

/// The process-wide reference data, parsed on first use.
pub fn get() -> &'static RefData {
    static DATA: OnceLock<RefData> = OnceLock::new();
    DATA.get_or_init(parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_tables_are_complete_and_consistent() {
        let d = get();
        assert_eq!(d.municipalities.len(), 98);
        assert_eq!(d.regions.len(), 5);
        let total: u64 = d.municipalities.iter().map(|m| m.population).sum();
        assert_eq!(total, 5_822_679);
        for (code, _) in &d.regions {
            let n = d.municipalities.iter().filter(|m| m.region_code == *code).count();
            assert!(n >= 11, "region {code} has {n} municipalities");
        }
        let people: u64 = d.pyramid.iter().map(|(m, f)| m + f).sum();
        assert_eq!(people, 5_843_347);
        assert!(
            d.municipalities
                .iter()
                .all(|m| m.non_danish_share > 0.0 && m.non_danish_share < 1.0)
        );
        let ishoj = d.municipalities.iter().find(|m| m.name == "Ishøj").unwrap();
        let rebild = d.municipalities.iter().find(|m| m.name == "Rebild").unwrap();
        assert!(ishoj.non_danish_share > 4.0 * rebild.non_danish_share);
        assert!((d.origin_2023.iter().sum::<f64>() - 1.0).abs() < 0.002);
        assert!(d.countries.iter().any(|c| c.western) && d.countries.iter().any(|c| !c.western));
        assert!(d.origin_bands.first().unwrap().age_min == 0);
    }

    #[test]
    fn csv_splitting_honours_quotes() {
        assert_eq!(split_csv(r#"a,"b, c",d"#), vec!["a", "b, c", "d"]);
        assert_eq!(split_csv(r#""say ""hi""",x"#), vec![r#"say "hi""#, "x"]);
    }
}
