//! Path-specific counterfactual twins: the `total` path is today's twins byte for byte (which also
//! checks the data dictionary's causal graph against the generator's code: a cause the dictionary
//! leaves out would be held and the twin would differ), a path changes exactly the columns it
//! names, and a path the graph does not have is refused with the columns that would be right.

use arrow::array::{Array, RecordBatch};
use synth::{Counterfactual, DatasetSpec, Generator, Path, Split, SynthError};

fn twins_spec(scenario: &str, rows: u64, attribute: Counterfactual) -> DatasetSpec {
    let mut spec = DatasetSpec::new(scenario, rows, 7).unwrap();
    spec.split = Split::Test;
    spec.counterfactual = Some(attribute);
    spec
}

/// The rows of `batch` where `is_twin` is `twin`.
fn halves(batch: &RecordBatch, twin: bool) -> RecordBatch {
    let is_twin = batch.column_by_name("is_twin").unwrap();
    let is_twin = is_twin.as_any().downcast_ref::<arrow::array::BooleanArray>().unwrap();
    let keep: arrow::array::BooleanArray = is_twin.iter().map(|t| Some(t == Some(twin))).collect();
    arrow::compute::filter_record_batch(batch, &keep).unwrap()
}

/// The columns whose values differ anywhere between two batches of one schema.
fn differing(a: &RecordBatch, b: &RecordBatch) -> Vec<String> {
    let skip = ["is_twin"];
    a.schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| !skip.contains(&f.name().as_str()))
        .filter(|(i, _)| a.column(*i).to_data() != b.column(*i).to_data())
        .map(|(_, f)| f.name().clone())
        .collect()
}

#[test]
fn the_total_path_is_todays_twins_byte_for_byte() {
    for scenario in [
        "population",
        "unemployment-risk",
        "rehabilitation-need",
        "eldercare-visitation",
    ] {
        for attribute in [Counterfactual::Origin, Counterfactual::Sex] {
            let g = Generator::new(twins_spec(scenario, 3000, attribute)).unwrap();
            let dataset = g.batch(0);
            let total = g.resolve_path(attribute, &Path::Total, None).unwrap();
            let (citizens, twins) = g.path_twins(attribute, &[total], 0..3000).unwrap();
            assert_eq!(citizens, halves(&dataset, false), "{scenario} {attribute:?}: citizens");
            assert_eq!(
                twins[0],
                halves(&dataset, true),
                "{scenario} {attribute:?}: total twins"
            );
        }
    }
}

#[test]
fn a_path_changes_only_the_columns_it_recomputes() {
    let attribute = Counterfactual::Origin;
    let g = Generator::new(twins_spec("unemployment-risk", 4000, attribute)).unwrap();
    let proxy = g.resolve_path(attribute, &Path::Proxy, None).unwrap();
    let mediated = g.resolve_path(attribute, &Path::Mediated, None).unwrap();
    let through = g
        .resolve_path(attribute, &Path::Through(vec!["education".into()]), None)
        .unwrap();
    assert_eq!(
        proxy.columns,
        [
            "country_of_origin",
            "municipality_code",
            "municipality",
            "region",
            "first_name",
            "last_name"
        ]
    );
    assert!(!mediated.columns.iter().any(|c| proxy.columns.contains(c)));
    assert!(mediated.columns.contains(&"education") && mediated.columns.contains(&"months_employed_3y"));
    assert_eq!(through.columns, ["education", "education_isced"]);
    let (citizens, twins) = g
        .path_twins(attribute, &[proxy.clone(), mediated.clone(), through], 0..4000)
        .unwrap();
    // Off the total path the attribute's own column and the CPR number stay the citizen's: only
    // the recomputed descendants differ.
    let always: [&str; 0] = [];
    let expect = |cols: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = citizens
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|c| always.contains(&c.as_str()) || cols.contains(&c.as_str()))
            .collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(sorted(differing(&citizens, &twins[0])), expect(&proxy.columns));
    // Mediated twins differ in mediators only (not every mediator differs in 4000 rows for sure,
    // but every differing column is one): and never in a proxy.
    let m = differing(&citizens, &twins[1]);
    assert!(
        m.iter()
            .all(|c| always.contains(&c.as_str()) || mediated.columns.contains(&c.as_str())),
        "{m:?}"
    );
    assert!(
        m.contains(&"education".to_owned()) && m.contains(&"months_employed_3y".to_owned()),
        "{m:?}"
    );
    assert_eq!(
        sorted(differing(&citizens, &twins[2])),
        expect(&["education", "education_isced"])
    );
}

#[test]
fn a_mediator_recomputed_alone_sees_the_citizens_own_parents() {
    // Through months employed only: the twin's months are drawn from its changed origin, while its
    // education (a parent of months, held) stays the citizen's. So the twin's months differ from the
    // citizen's where origin matters, and its spells (a child of months, held) never do.
    let attribute = Counterfactual::Origin;
    let g = Generator::new(twins_spec("unemployment-risk", 4000, attribute)).unwrap();
    let months = g
        .resolve_path(attribute, &Path::Through(vec!["months_employed_3y".into()]), None)
        .unwrap();
    let (citizens, twins) = g.path_twins(attribute, &[months], 0..4000).unwrap();
    let mut d = differing(&citizens, &twins[0]);
    d.sort();
    // The attribute's own column and the CPR number stay the citizen's off the total path.
    assert_eq!(d, ["months_employed_3y"]);
}

#[test]
fn paths_the_graph_does_not_have_are_refused() {
    let attribute = Counterfactual::Origin;
    let g = Generator::new(twins_spec("unemployment-risk", 10, attribute)).unwrap();
    let message = |p: Path| match g.resolve_path(attribute, &p, None) {
        Err(SynthError::Path(m)) => m,
        other => panic!("{p:?} was not refused: {other:?}"),
    };
    let m = message(Path::Through(vec!["age".into()]));
    assert!(
        m.contains("age does not descend from origin") && m.contains("municipality"),
        "{m}"
    );
    let m = message(Path::Hold(vec!["shoe_size".into()]));
    assert!(
        m.contains("\"shoe_size\" is not a column") && m.contains("education"),
        "{m}"
    );
    let m = message(Path::Through(Vec::new()));
    assert!(m.contains("names no column"), "{m}");
    // Sex causes names, not geography: its default proxies are the names alone, and a proxy list
    // naming geography for sex is refused.
    let sex = g.resolve_path(Counterfactual::Sex, &Path::Proxy, None).unwrap();
    assert_eq!(sex.columns, ["first_name", "last_name"]);
    assert!(matches!(
        g.resolve_path(Counterfactual::Sex, &Path::Proxy, Some(&["municipality"])),
        Err(SynthError::Path(m)) if m.contains("municipality does not descend from sex")
    ));
    // A dataset without twins has no CPR numbers to give path twins.
    let plain = Generator::new(DatasetSpec::new("unemployment-risk", 10, 7).unwrap()).unwrap();
    let total = plain.resolve_path(attribute, &Path::Total, None).unwrap();
    assert!(matches!(
        plain.path_twins(attribute, &[total], 0..10),
        Err(SynthError::Path(_))
    ));
}

#[test]
fn path_names_round_trip() {
    for p in [
        Path::Total,
        Path::Proxy,
        Path::Mediated,
        Path::Through(vec!["education".into(), "sector".into()]),
        Path::Hold(vec!["municipality".into()]),
    ] {
        assert_eq!(Path::parse(&p.name()).unwrap(), p);
    }
    assert_eq!(
        Path::parse("through:education,sector").unwrap(),
        Path::Through(vec!["education".into(), "sector".into()])
    );
    assert!(Path::parse("sideways").is_err());
}
