//! Turns the Danish name lists in `sandbox-data/names/` into `'static` arrays at compile time,
//! because `fake`'s `Data` trait (our `DA_DK` locale) wants `&'static [&'static str]` constants.

use std::{env, fmt::Write as _, fs, path::PathBuf};

fn read_rows(path: &PathBuf) -> Vec<Vec<String>> {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(',').map(|f| f.trim().to_owned()).collect())
        .collect()
}

fn main() {
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets this"));
    let names = manifest.join("../../sandbox-data/names");
    let mut out = String::new();
    for (konst, file) in [
        ("MALE", "first_names_male_top500.csv"),
        ("FEMALE", "first_names_female_top500.csv"),
    ] {
        let path = names.join(file);
        println!("cargo::rerun-if-changed={}", path.display());
        let rows = read_rows(&path);
        let _ = writeln!(out, "pub const FIRST_NAMES_{konst}: &[&str] = &[");
        for r in &rows {
            let _ = writeln!(out, "    {:?},", r[1]);
        }
        let _ = writeln!(out, "];\npub const FIRST_NAMES_{konst}_COUNT: &[u32] = &[");
        for r in &rows {
            let _ = writeln!(out, "    {},", r[2]);
        }
        out.push_str("];\n");
    }
    // Surnames: DST counts where published (ranks 1-20); for ranks 21-50 only the older
    // Københavns Universitet counts exist, so they are scaled by the DST/KU ratio of ranks 1-20.
    let path = names.join("surnames_top50.csv");
    println!("cargo::rerun-if-changed={}", path.display());
    let rows = read_rows(&path);
    let (dst, ku): (f64, f64) = rows
        .iter()
        .filter(|r| !r[2].is_empty())
        .map(|r| (r[2].parse::<f64>().unwrap(), r[3].parse::<f64>().unwrap()))
        .fold((0.0, 0.0), |a, b| (a.0 + b.0, a.1 + b.1));
    let ratio = dst / ku;
    out.push_str("pub const SURNAMES: &[&str] = &[\n");
    for r in &rows {
        let _ = writeln!(out, "    {:?},", r[1]);
    }
    out.push_str("];\npub const SURNAMES_COUNT: &[u32] = &[\n");
    for r in &rows {
        let n = if r[2].is_empty() {
            (r[3].parse::<f64>().unwrap() * ratio).round()
        } else {
            r[2].parse::<f64>().unwrap()
        };
        let _ = writeln!(out, "    {n},");
    }
    out.push_str("];\n");
    let all: Vec<String> = ["first_names_male_top500.csv", "first_names_female_top500.csv"]
        .iter()
        .flat_map(|f| read_rows(&names.join(f)).into_iter().map(|r| r[1].clone()))
        .collect();
    out.push_str("pub const FIRST_NAMES_ALL: &[&str] = &[\n");
    for n in all {
        let _ = writeln!(out, "    {n:?},");
    }
    out.push_str("];\n");
    let dest = PathBuf::from(env::var("OUT_DIR").expect("cargo sets this")).join("da_dk_names.rs");
    fs::write(dest, out).expect("writing generated names");
}
