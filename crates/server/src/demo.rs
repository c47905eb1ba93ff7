//! `serve --demo`: organisations, users, two cases, criteria and the sample models, so a
//! fresh server has something to look at. Seeding is idempotent: a second start finds the
//! demo organisations and seeds nothing (tokens exist only when first printed; add more users
//! with `sandkasse users add`).

use crate::config::Config;
use store::BlobStore;
use store::Store;
use store::{NewModel, OrgKind, Role};

/// One seeded account.
#[derive(Debug, Clone)]
pub struct DemoUser {
    pub name: String,
    pub role: Role,
    pub org: String,
    pub token: String,
}

#[derive(Debug, Clone, Default)]
pub struct DemoInfo {
    /// Empty when the demo had been seeded before.
    pub users: Vec<DemoUser>,
    pub notes: Vec<String>,
}

const ORGS: &[(&str, OrgKind)] = &[
    ("Styrelsen for Arbejdsmarked og Rekruttering", OrgKind::Authority),
    ("Nordlys Analytics", OrgKind::Vendor),
    ("Fjord AI", OrgKind::Vendor),
    ("Datatilsynet", OrgKind::Advisor),
    ("Sandkasse drift", OrgKind::Admin),
];

const USERS: &[(&str, Role, usize)] = &[
    ("Anna Authority", Role::Authority, 0),
    ("Niels Nordlys", Role::Vendor, 1),
    ("Frida Fjord", Role::Vendor, 2),
    ("Dorte Datatilsynet", Role::Advisor, 3),
    ("Adam Admin", Role::Admin, 4),
];

/// A sample model to seed: file stem in the models directory, vendor (index into `ORGS`).
type SampleModel = (&'static str, usize);

/// Case name, member organisations (indices into `ORGS`), models, whether the yes/no criteria
/// apply (runs of regression and multi-class models take no criteria yet, and refuse them).
const CASES: &[(&str, &[usize], &[SampleModel], bool)] = &[
    (
        "Risiko for langtidsledighed (profilering af nyledige)",
        &[0, 1],
        &[("unemployment-gbm", 1), ("unemployment-logreg", 1)],
        true,
    ),
    (
        "Genoptræning af ældre borgere",
        &[0, 2],
        &[("rehabilitation-gbm", 2)],
        true,
    ),
    (
        "Visitation til hjemmehjælp (ældrepleje)",
        &[0, 2],
        &[("eldercare-hours-gbm", 2), ("eldercare-level-logreg", 2)],
        false,
    ),
];

const CRITERIA: &str = r#"[
  {"name": "four-fifths rule by origin", "attribute": "origin", "metric": "disparate_impact", "against": "reference", "op": ">=", "threshold": 0.8},
  {"name": "equal opportunity by sex", "attribute": "sex", "metric": "equal_opportunity_difference", "op": "<=", "threshold": 0.1}
]"#;

pub async fn seed(store: &Store, blobs: &BlobStore, config: &Config) -> Result<DemoInfo, String> {
    let e = |e: store::StoreError| e.to_string();
    if store.list_orgs().await.map_err(e)?.iter().any(|o| o.name == ORGS[0].0) {
        return Ok(DemoInfo {
            users: Vec::new(),
            notes: vec![
                "the demo was seeded before; its tokens were printed then (add users with `sandkasse users add`)"
                    .into(),
            ],
        });
    }
    let mut orgs = Vec::new();
    for (name, kind) in ORGS {
        orgs.push(store.create_org(name, *kind).await.map_err(e)?);
    }
    let mut users = Vec::new();
    let mut info = DemoInfo::default();
    for (name, role, org) in USERS {
        let (user, token) = store.create_user(&orgs[*org].id, name, *role).await.map_err(e)?;
        info.users.push(DemoUser {
            name: (*name).into(),
            role: *role,
            org: orgs[*org].name.clone(),
            token: token.expose().to_owned(),
        });
        users.push(user);
    }
    let criteria_json: serde_json::Value = serde_json::from_str(CRITERIA).map_err(|e| e.to_string())?;
    let models_dir = &config.demo_models;
    for (case_name, members, models, with_criteria) in CASES {
        let case = store.create_case(case_name, &users[0].id).await.map_err(e)?;
        for m in *members {
            store.add_case_member(&case.id, &orgs[*m].id).await.map_err(e)?;
        }
        if *with_criteria {
            store
                .set_criteria(&case.id, &criteria_json, &users[0].id)
                .await
                .map_err(e)?;
        }
        for (stem, vendor) in *models {
            let onnx = models_dir.join(format!("{stem}.onnx"));
            let toml = models_dir.join(format!("{stem}.toml"));
            let (Ok(model), Ok(manifest_text)) = (std::fs::read(&onnx), std::fs::read_to_string(&toml)) else {
                info.notes
                    .push(format!("sample model {} not found; not seeded", onnx.display()));
                continue;
            };
            let manifest = inference::Manifest::parse(&manifest_text).map_err(|e| e.to_string())?;
            let mut inspection = inference::inspect(&model, &inference::Limits::default());
            if !inspection.findings.is_empty() {
                return Err(format!("sample model {} fails inspection", onnx.display()));
            }
            inspection.summary.warnings = evaluate::check_manifest_fits_scenario(&manifest).map_err(|problems| {
                let reasons: Vec<String> = problems.iter().map(ToString::to_string).collect();
                format!(
                    "sample manifest {} does not fit its scenario: {}",
                    toml.display(),
                    reasons.join("; ")
                )
            })?;
            let model_sha = blobs.put(&model).map_err(|e| e.to_string())?;
            let manifest_sha = blobs.put(manifest_text.as_bytes()).map_err(|e| e.to_string())?;
            store
                .create_model(NewModel {
                    case_id: case.id.clone(),
                    org_id: orgs[*vendor].id.clone(),
                    name: manifest.name.clone(),
                    version: manifest.version.clone(),
                    scenario: manifest.scenario.clone(),
                    model_sha256: model_sha,
                    manifest_sha256: manifest_sha,
                    inspection: serde_json::to_value(&inspection.summary).map_err(|e| e.to_string())?,
                })
                .await
                .map_err(e)?;
        }
    }
    store
        .append_audit(store::NewEntry {
            time: store::Timestamp::now().as_str().to_owned(),
            actor: "system".into(),
            org: String::new(),
            role: "operator".into(),
            action: "seed demo".into(),
            object: format!(
                "{} organisations, {} users, {} cases",
                ORGS.len(),
                USERS.len(),
                CASES.len()
            ),
            outcome: "ok".into(),
            request_id: store::RunId::generate().as_str().to_owned(),
            case_id: None,
        })
        .await
        .map_err(e)?;
    Ok(info)
}
