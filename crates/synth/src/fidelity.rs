//! Fidelity: how closely generated citizens match the reference statistics.
//!
//! Counts are mergeable and gathered while a dataset is written, so `--report` costs one pass
//! over four columns. The comparison is against DST's figures: municipality and region
//! populations, the age-by-sex pyramid and the 2023 origin shares.

use crate::refdata;
use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Int16Type, UInt8Type};
use serde::Serialize;

/// Counts of the variables the reference statistics describe (original rows only: twins are
/// counterfactual and not part of the population).
#[derive(Debug, Clone, Default)]
pub struct FidelityCounts {
    /// Original rows counted.
    pub rows: u64,
    /// Per municipality, in reference-data order.
    pub municipality: Vec<u64>,
    /// Per region, in reference-data order.
    pub region: Vec<u64>,
    /// Index `band * 2 + male` over the 5-year bands.
    pub age_sex: Vec<u64>,
    /// Per origin group, in `Origin` order.
    pub origin: [u64; 5],
}

impl FidelityCounts {
    /// Counts the original rows of one batch (twins are skipped).
    pub fn add(&mut self, batch: &RecordBatch) {
        let d = refdata::get();
        if self.municipality.is_empty() {
            self.municipality = vec![0; d.municipalities.len()];
            self.region = vec![0; d.regions.len()];
            self.age_sex = vec![0; d.pyramid_5yr.len() * 2];
        }
        let keys = |name: &str| {
            batch
                .column_by_name(name)
                .and_then(|c| c.as_dictionary_opt::<Int16Type>())
                .map(|a| a.keys().clone())
                .expect("generated batches have the population columns")
        };
        let (muni, region, sex, origin) = (keys("municipality"), keys("region"), keys("sex"), keys("origin"));
        let age = batch
            .column_by_name("age")
            .expect("age column")
            .as_primitive::<UInt8Type>();
        let twin = batch.column_by_name("is_twin").map(|c| c.as_boolean().clone());
        let band_of: Vec<usize> = (0..=255u32)
            .map(|a| {
                d.pyramid_5yr
                    .iter()
                    .position(|b| (b.1..=b.2).contains(&a))
                    .unwrap_or(d.pyramid_5yr.len() - 1)
            })
            .collect();
        for i in 0..batch.num_rows() {
            if twin.as_ref().is_some_and(|t| t.value(i)) {
                continue;
            }
            self.rows += 1;
            self.municipality[muni.value(i) as usize] += 1;
            self.region[region.value(i) as usize] += 1;
            self.age_sex[band_of[age.value(i) as usize] * 2 + sex.value(i) as usize] += 1;
            self.origin[origin.value(i) as usize] += 1;
        }
    }

    /// Compares the counts with the reference statistics.
    pub fn report(&self) -> FidelityReport {
        let d = refdata::get();
        let n = self.rows.max(1) as f64;
        let pop: f64 = d.municipalities.iter().map(|m| m.population as f64).sum();
        let municipality = Section::new(
            "municipality share (DST FOLK1A 1 Jan 2020)",
            d.municipalities
                .iter()
                .zip(&self.municipality)
                .map(|(m, &c)| (m.name.clone(), m.population as f64 / pop, c as f64 / n))
                .collect(),
            0.002,
        );
        let region = Section::new(
            "region share (DST 1 Jan 2020)",
            d.regions
                .iter()
                .zip(&self.region)
                .map(|((code, name), &c)| {
                    let p: u64 = d
                        .municipalities
                        .iter()
                        .filter(|m| m.region_code == *code)
                        .map(|m| m.population)
                        .sum();
                    (name.clone(), p as f64 / pop, c as f64 / n)
                })
                .collect(),
            0.003,
        );
        let people: f64 = d.pyramid_5yr.iter().map(|b| (b.3 + b.4) as f64).sum();
        let age_sex = Section::new(
            "age band x sex share (DST FOLK1A 2021Q2)",
            d.pyramid_5yr
                .iter()
                .enumerate()
                .flat_map(|(i, b)| {
                    [
                        (
                            format!("{} F", b.0),
                            b.4 as f64 / people,
                            self.age_sex[i * 2] as f64 / n,
                        ),
                        (
                            format!("{} M", b.0),
                            b.3 as f64 / people,
                            self.age_sex[i * 2 + 1] as f64 / n,
                        ),
                    ]
                })
                .collect(),
            0.002,
        );
        let origin = Section::new(
            "origin share (DST 2023, derived)",
            crate::model::Origin::ALL
                .iter()
                .map(|&o| {
                    (
                        o.label().to_owned(),
                        d.origin_2023[o as usize],
                        self.origin[o as usize] as f64 / n,
                    )
                })
                .collect(),
            0.005,
        );
        let sections = vec![region, municipality, age_sex, origin];
        FidelityReport {
            rows: self.rows,
            pass: sections.iter().all(|s| s.pass),
            sections,
        }
    }
}

/// One comparison table.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    pub name: String,
    /// `(category, reference share, generated share)`.
    pub rows: Vec<(String, f64, f64)>,
    pub max_abs_diff: f64,
    pub tolerance: f64,
    pub pass: bool,
}

impl Section {
    fn new(name: &str, rows: Vec<(String, f64, f64)>, tolerance: f64) -> Self {
        let max_abs_diff = rows.iter().map(|r| (r.1 - r.2).abs()).fold(0.0, f64::max);
        Self {
            name: name.to_owned(),
            rows,
            max_abs_diff,
            tolerance,
            pass: max_abs_diff <= tolerance,
        }
    }
}

/// The comparison of generated citizens with the reference statistics, for `sandkasse generate --report`.
#[derive(Debug, Clone, Serialize)]
pub struct FidelityReport {
    /// Original rows compared.
    pub rows: u64,
    /// One table per variable.
    pub sections: Vec<Section>,
    /// Whether every table is within its tolerance.
    pub pass: bool,
}

impl std::fmt::Display for FidelityReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "Fidelity of {} generated citizens against the reference statistics",
            self.rows
        )?;
        for s in &self.sections {
            writeln!(
                f,
                "\n{}: max |difference| {:.4} (tolerance {:.4}) {}",
                s.name,
                s.max_abs_diff,
                s.tolerance,
                if s.pass { "PASS" } else { "FAIL" }
            )?;
            writeln!(
                f,
                "  {:<28} {:>10} {:>10} {:>9}",
                "category", "reference", "generated", "diff"
            )?;
            for (cat, r, g) in &s.rows {
                writeln!(f, "  {cat:<28} {r:>10.4} {g:>10.4} {:>+9.4}", g - r)?;
            }
        }
        Ok(())
    }
}
