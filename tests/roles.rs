//! The role matrix: every endpoint × role × own/other case, each status asserted.
//!
//! Organisations: authority A and vendor A (and vendor C) share the "own" case; authority B
//! and vendor B share the "other" one. The expectations are written out here by hand, not
//! derived from the server's policy code, so a change to a rule shows up as a failure.

mod service;

use serde_json::{Value, json};
use service::Data;

const ROLES: [&str; 5] = ["anonymous", "vendor", "authority", "advisor", "admin"];

/// One row: method, path template ({case}, {model}, {run} filled with the own or other
/// object), body, expected statuses per role in `ROLES` order for the own and other case.
struct Row {
    method: &'static str,
    path: &'static str,
    body: fn(&Ids) -> Option<Value>,
    own: [u16; 5],
    other: [u16; 5],
}

#[derive(Clone)]
struct Ids {
    case: String,
    model: String,
    run: String,
}

fn none(_: &Ids) -> Option<Value> {
    None
}

fn rows() -> Vec<Row> {
    const ALL_200: [u16; 5] = [401, 200, 200, 200, 200];
    const SEEN_BY_ALL: [u16; 5] = [401, 200, 200, 200, 200];
    const SEEN_BY_OVERSIGHT: [u16; 5] = [401, 404, 404, 200, 200];
    let r = |method, path, body, own, other| Row {
        method,
        path,
        body,
        own,
        other,
    };
    vec![
        r("GET", "/healthz", none, [200; 5], [200; 5]),
        r("GET", "/metrics", none, [200; 5], [200; 5]),
        r("GET", "/api/v1/openapi.json", none, [200; 5], [200; 5]),
        r("GET", "/api/v1/me", none, ALL_200, ALL_200),
        r("GET", "/api/v1/scenarios", none, ALL_200, ALL_200),
        r("GET", "/api/v1/scenarios/{scenario}", none, ALL_200, ALL_200),
        r(
            "GET",
            "/api/v1/scenarios/{scenario}/dataset",
            none,
            [401, 200, 403, 403, 200],
            [401, 200, 403, 403, 200],
        ),
        r("GET", "/api/v1/cases", none, ALL_200, ALL_200),
        r(
            "POST",
            "/api/v1/cases",
            |_| Some(json!({"name": "new"})),
            [401, 403, 201, 403, 201],
            [401, 403, 201, 403, 201],
        ),
        r("GET", "/api/v1/cases/{case}", none, SEEN_BY_ALL, SEEN_BY_OVERSIGHT),
        r(
            "GET",
            "/api/v1/cases/{case}/members",
            none,
            SEEN_BY_ALL,
            SEEN_BY_OVERSIGHT,
        ),
        r(
            "POST",
            "/api/v1/cases/{case}/members",
            |_| Some(json!({"org": "Datatilsynet"})),
            [401, 403, 200, 403, 200],
            [401, 404, 404, 403, 200],
        ),
        r(
            "GET",
            "/api/v1/cases/{case}/criteria",
            none,
            SEEN_BY_ALL,
            SEEN_BY_OVERSIGHT,
        ),
        r(
            "GET",
            "/api/v1/cases/{case}/findings",
            none,
            SEEN_BY_ALL,
            SEEN_BY_OVERSIGHT,
        ),
        // The advisor's one write; authorities of the case write too; vendors and admins do not.
        r(
            "POST",
            "/api/v1/cases/{case}/findings",
            |ids| {
                Some(
                    json!({"target": {"kind": "run", "id": ids.run}, "severity": "medium", "body": "Disparate impact 0.74 for women.",
                    "links": [{"kind": "run", "id": ids.run, "section": "fairness"}]}),
                )
            },
            [401, 403, 201, 201, 403],
            [401, 404, 404, 201, 403],
        ),
        r(
            "PUT",
            "/api/v1/cases/{case}/criteria",
            |_| {
                Some(
                    json!({"criteria": [{"attribute": "sex", "metric": "disparate_impact", "against": "reference", "op": ">=", "threshold": 0.8}]}),
                )
            },
            [401, 403, 200, 403, 200],
            [401, 404, 404, 403, 200],
        ),
        r(
            "GET",
            "/api/v1/cases/{case}/models",
            none,
            SEEN_BY_ALL,
            SEEN_BY_OVERSIGHT,
        ),
        // Uploading is the vendor's alone.
        r(
            "POST",
            "/api/v1/cases/{case}/models",
            none,
            [401, 201, 403, 403, 403],
            [401, 404, 404, 403, 403],
        ),
        r("GET", "/api/v1/models/{model}", none, SEEN_BY_ALL, SEEN_BY_OVERSIGHT),
        r(
            "GET",
            "/api/v1/models/{model}/inspection",
            none,
            SEEN_BY_ALL,
            SEEN_BY_OVERSIGHT,
        ),
        r(
            "GET",
            "/api/v1/models/{model}/manifest",
            none,
            SEEN_BY_ALL,
            SEEN_BY_OVERSIGHT,
        ),
        r("GET", "/api/v1/cases/{case}/runs", none, SEEN_BY_ALL, SEEN_BY_OVERSIGHT),
        r(
            "GET",
            "/api/v1/cases/{case}/leaderboard",
            none,
            SEEN_BY_ALL,
            SEEN_BY_OVERSIGHT,
        ),
        r(
            "GET",
            "/api/v1/cases/{case}/checklist",
            none,
            SEEN_BY_ALL,
            SEEN_BY_OVERSIGHT,
        ),
        r(
            "GET",
            "/api/v1/cases/{case}/checklist.csv",
            none,
            SEEN_BY_ALL,
            SEEN_BY_OVERSIGHT,
        ),
        r("GET", "/api/v1/checklist/schema", none, ALL_200, ALL_200),
        // The exit report and the draft public summary: whoever sees the case (a vendor's report holds its own work).
        r(
            "GET",
            "/api/v1/cases/{case}/exit-report",
            none,
            SEEN_BY_ALL,
            SEEN_BY_OVERSIGHT,
        ),
        r(
            "GET",
            "/api/v1/cases/{case}/exit-report.html",
            none,
            SEEN_BY_ALL,
            SEEN_BY_OVERSIGHT,
        ),
        // The draft summary counts every vendor's results: not for vendors.
        r(
            "GET",
            "/api/v1/cases/{case}/public-summary",
            none,
            [401, 403, 200, 200, 200],
            SEEN_BY_OVERSIGHT,
        ),
        // The public summary of a case not published is not there, for anyone, signed in or not.
        r(
            "GET",
            "/api/v1/public/cases/{case}/summary",
            none,
            [404, 404, 404, 404, 404],
            [404, 404, 404, 404, 404],
        ),
        r(
            "GET",
            "/api/v1/public/cases/{case}/summary.html",
            none,
            [404, 404, 404, 404, 404],
            [404, 404, 404, 404, 404],
        ),
        r("GET", "/api/v1/cases/{case}/plan", none, SEEN_BY_ALL, SEEN_BY_OVERSIGHT),
        // The authority that owns the case writes its plan (admins too); vendors and advisors read it.
        r(
            "PUT",
            "/api/v1/cases/{case}/plan",
            |_| Some(json!({"objectives": ["Test whether the profiling treats origins alike."]})),
            [401, 403, 200, 403, 200],
            [401, 404, 404, 403, 200],
        ),
        // The case's authority and admins answer the checklist; vendors read it, advisors review it. An empty object is no
        // checklist (422), so the rule is probed without saving; the CSV route is sent JSON (415).
        r(
            "PUT",
            "/api/v1/cases/{case}/checklist",
            none,
            [401, 403, 422, 403, 422],
            [401, 404, 404, 403, 422],
        ),
        r(
            "PUT",
            "/api/v1/cases/{case}/checklist.csv",
            none,
            [401, 403, 415, 403, 415],
            [401, 404, 404, 403, 415],
        ),
        // Two visible runs are needed to compare; the case's one queued run is refused for its state (409),
        // after visibility (404).
        r(
            "GET",
            "/api/v1/cases/{case}/comparison?runs={run},00000000000000000000000000000000",
            none,
            [401, 404, 404, 404, 404],
            [401, 404, 404, 404, 404],
        ),
        r(
            "GET",
            "/api/v1/cases/{case}/comparison?runs={run}",
            none,
            [401, 400, 400, 400, 400],
            [401, 400, 400, 400, 400],
        ),
        r(
            "GET",
            "/api/v1/cases/{case}/comparison.md?runs={run}",
            none,
            [401, 400, 400, 400, 400],
            [401, 400, 400, 400, 400],
        ),
        r("GET", "/api/v1/runs", none, ALL_200, ALL_200),
        r(
            "POST",
            "/api/v1/runs",
            |ids| Some(json!({"model_id": ids.model, "rows": 1000})),
            [401, 201, 201, 403, 201],
            [401, 404, 404, 403, 201],
        ),
        r("GET", "/api/v1/runs/{run}", none, SEEN_BY_ALL, SEEN_BY_OVERSIGHT),
        // The run is queued (this server executes none), so it has no report yet: 409 for
        // whoever may see it.
        r(
            "GET",
            "/api/v1/runs/{run}/report",
            none,
            [401, 409, 409, 409, 409],
            [401, 404, 404, 409, 409],
        ),
        r(
            "GET",
            "/api/v1/runs/{run}/report.md",
            none,
            [401, 409, 409, 409, 409],
            [401, 404, 404, 409, 409],
        ),
        r(
            "GET",
            "/api/v1/runs/{run}/report.html",
            none,
            [401, 409, 409, 409, 409],
            [401, 404, 404, 409, 409],
        ),
        // Cancelling: each probe gets a fresh queued run (see below).
        // Replaying is for oversight; the run has not succeeded (no executor here), so those allowed get 409.
        r(
            "POST",
            "/api/v1/runs/{run}/replay",
            none,
            [401, 403, 403, 409, 409],
            [401, 404, 404, 409, 409],
        ),
        r(
            "POST",
            "/api/v1/runs/{run}/cancel",
            none,
            [401, 200, 200, 403, 200],
            [401, 404, 404, 403, 200],
        ),
        r(
            "GET",
            "/api/v1/audit",
            none,
            [401, 403, 403, 200, 200],
            [401, 403, 403, 200, 200],
        ),
        // Live inference: health is public; a model is callable by whoever may see it. An
        // empty request is 400 for those, so the rule is probed without scoring.
        r("GET", "/v2/health/live", none, [200; 5], [200; 5]),
        r("GET", "/v2/health/ready", none, [200; 5], [200; 5]),
        r("GET", "/v2", none, [200; 5], [200; 5]),
        r("GET", "/v2/models/{model}", none, SEEN_BY_ALL, SEEN_BY_OVERSIGHT),
        r(
            "GET",
            "/v2/models/{model}/versions/{version}",
            none,
            SEEN_BY_ALL,
            SEEN_BY_OVERSIGHT,
        ),
        r("GET", "/v2/models/{model}/ready", none, SEEN_BY_ALL, SEEN_BY_OVERSIGHT),
        r(
            "GET",
            "/v2/models/{model}/versions/{version}/ready",
            none,
            SEEN_BY_ALL,
            SEEN_BY_OVERSIGHT,
        ),
        r(
            "POST",
            "/v2/models/{model}/infer",
            none,
            [401, 400, 400, 400, 400],
            [401, 404, 404, 400, 400],
        ),
        r(
            "POST",
            "/v2/models/{model}/versions/{version}/infer",
            none,
            [401, 400, 400, 400, 400],
            [401, 404, 404, 400, 400],
        ),
        r(
            "GET",
            "/api/v1/audit/verify",
            none,
            [401, 403, 403, 200, 200],
            [401, 403, 403, 200, 200],
        ),
        // Signing a checkpoint before reading one, so the read finds one whatever the periodic signer did.
        r(
            "POST",
            "/api/v1/audit/checkpoint",
            none,
            [401, 403, 403, 201, 201],
            [401, 403, 403, 201, 201],
        ),
        r(
            "GET",
            "/api/v1/audit/checkpoint",
            none,
            [401, 403, 403, 200, 200],
            [401, 403, 403, 200, 200],
        ),
        r("GET", "/api/v1/audit/key", none, ALL_200, ALL_200),
        // Without the entry or size asked for: refused by role first, then for the missing parameter.
        r(
            "GET",
            "/api/v1/audit/proof/inclusion",
            none,
            [401, 403, 403, 400, 400],
            [401, 403, 403, 400, 400],
        ),
        r(
            "GET",
            "/api/v1/audit/proof/consistency",
            none,
            [401, 403, 403, 400, 400],
            [401, 403, 403, 400, 400],
        ),
    ]
}

#[test]
fn every_endpoint_role_and_case_answers_as_the_rules_say() {
    let data = Data::sqlite();
    let tokens = [
        None,
        Some(data.add_user("Vendor A", "vendor", "va")),
        Some(data.add_user("Authority A", "authority", "aa")),
        Some(data.add_user("Datatilsynet", "advisor", "dt")),
        Some(data.add_user("Drift", "admin", "ad")),
    ];
    let vendor_b = data.add_user("Vendor B", "vendor", "vb");
    let authority_b = data.add_user("Authority B", "authority", "ab");
    let vendor_c = data.add_user("Vendor C", "vendor", "vc");
    // Hundreds of anonymous probes from one address: this test is about the role rules, not
    // the anonymous rate limit (tested in tests/serve.rs).
    let server = data.start(&["--run-slots", "0", "--anonymous-burst", "100000"]);
    let client = |i: usize| server.client(tokens[i].as_deref());
    let (va, aa) = (client(1), client(2));
    let (vb, ab, vc) = (
        server.client(Some(&vendor_b)),
        server.client(Some(&authority_b)),
        server.client(Some(&vendor_c)),
    );
    let setup = |authority: &service::Client, vendor: &service::Client, members: Value| -> Ids {
        let case = authority
            .post("/api/v1/cases", &json!({"name": "c", "members": members}))
            .json()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let crit = json!({"criteria": [{"attribute": "origin", "metric": "disparate_impact", "against": "reference", "op": ">=", "threshold": 0.8}]});
        let r = authority.put(&format!("/api/v1/cases/{case}/criteria"), &crit);
        assert_eq!(r.status, 200, "{}", r.text());
        let r = vendor.upload_files(&case, "unemployment-logreg");
        assert_eq!(r.status, 201, "{}", r.text());
        let model = r.json()["id"].as_str().unwrap().to_owned();
        let run = vendor
            .post("/api/v1/runs", &json!({"model_id": model, "rows": 1000}))
            .json()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        Ids { case, model, run }
    };
    let own = setup(&aa, &va, json!(["Vendor A", "Vendor C"]));
    let other = setup(&ab, &vb, json!(["Vendor B"]));

    // Within the own case, vendor C's model and run exist for the authority but not for vendor A.
    let c_model = vc.upload_files(&own.case, "unemployment-logreg").json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(va.get(&format!("/api/v1/models/{c_model}")).status, 404);
    assert_eq!(aa.get(&format!("/api/v1/models/{c_model}")).status, 200);
    let c_run = vc.post("/api/v1/runs", &json!({"model_id": c_model})).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(va.get(&format!("/api/v1/runs/{c_run}")).status, 404);
    assert_eq!(va.post(&format!("/api/v1/runs/{c_run}/cancel"), &json!({})).status, 404);
    let listed = va.get(&format!("/api/v1/cases/{}/models", own.case)).json();
    assert!(
        listed.as_array().unwrap().iter().all(|m| m["id"] != c_model.as_str()),
        "{listed}"
    );
    // The authority's run on vendor A's model is vendor A's to see, but not to cancel.
    let a_run = aa.post("/api/v1/runs", &json!({"model_id": own.model})).json()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(va.get(&format!("/api/v1/runs/{a_run}")).status, 200);
    assert_eq!(va.post(&format!("/api/v1/runs/{a_run}/cancel"), &json!({})).status, 403);

    let model_bytes = std::fs::read(service::models_dir().join("unemployment-logreg.onnx")).unwrap();
    // Another version than the setup's upload: a name and version are a vendor's once per case.
    let manifest = std::fs::read_to_string(service::models_dir().join("unemployment-logreg.toml"))
        .unwrap()
        .replace("version = \"1.0.0\"", "version = \"1.0.1\"")
        .into_bytes();
    let mut failures = Vec::new();
    let mut probes = 0;
    for row in rows() {
        for (which, ids, expected) in [("own", &own, row.own), ("other", &other, row.other)] {
            for (i, role) in ROLES.iter().enumerate() {
                let mut ids = ids.clone();
                if row.path.ends_with("/cancel") {
                    // A fresh queued run, started by the case's own vendor.
                    let starter = if which == "own" { &va } else { &vb };
                    ids.run = starter.post("/api/v1/runs", &json!({"model_id": ids.model})).json()["id"]
                        .as_str()
                        .unwrap()
                        .to_owned();
                }
                let path = row
                    .path
                    .replace("{case}", &ids.case)
                    .replace("{model}", &ids.model)
                    .replace("{run}", &ids.run)
                    .replace("{scenario}", "unemployment-risk")
                    .replace("{version}", "1.0.0")
                    + if row.path.ends_with("/dataset") {
                        "?rows=100"
                    } else {
                        ""
                    };
                let c = client(i);
                let r = match (row.method, row.path) {
                    ("GET", _) => c.get(&path),
                    ("POST", "/api/v1/cases/{case}/models") => c.upload(&ids.case, &model_bytes, &manifest),
                    ("POST", _) => c.post(&path, &(row.body)(&ids).unwrap_or(json!({}))),
                    ("PUT", _) => c.put(&path, &(row.body)(&ids).unwrap_or(json!({}))),
                    (m, _) => panic!("{m}"),
                };
                probes += 1;
                if r.status != expected[i] {
                    failures.push(format!(
                        "{} {} ({which} case) as {role}: {} (want {}) {}",
                        row.method,
                        row.path,
                        r.status,
                        expected[i],
                        r.text().chars().take(200).collect::<String>()
                    ));
                }
                if r.status >= 400 {
                    // The protocol's own error shape under /v2, the API's elsewhere.
                    let e = &r.json()["error"];
                    let ok = if row.path.starts_with("/v2") {
                        e.is_string()
                    } else {
                        e["code"].is_string()
                    };
                    assert!(ok, "{path}: {}", r.text());
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {probes} probes differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // Every route is in the matrix.
    let covered: Vec<(&str, &str)> = rows()
        .iter()
        .map(|r| (r.method, r.path.split('?').next().unwrap_or(r.path)))
        .collect();
    for (method, path) in server::api::routes() {
        assert!(
            covered.contains(&(method.as_str(), path.as_str())),
            "{method} {path} is not in the matrix"
        );
    }
    // Refused writes changed nothing: the other case still has exactly its one model.
    let models = client(4).get(&format!("/api/v1/cases/{}/models", other.case)).json();
    assert_eq!(models.as_array().unwrap().len(), 1, "{models}");
}

#[test]
fn the_openapi_document_lists_exactly_the_routes() {
    let doc: Value = serde_json::from_str(include_str!("../crates/server/openapi.json")).unwrap();
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "delete", "patch"].contains(&method.as_str()) {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    documented.sort();
    let mut routes: Vec<(String, String)> = server::api::routes();
    routes.sort();
    assert_eq!(documented, routes);
}
