//! The browser pages over plain HTTP: sessions and their cookie, CSRF, who is offered and
//! who is refused what (every page route × six callers, expectations written by hand), and
//! the audit entries the pages leave. The real-browser walk is in `browser.rs`.

mod service;

use serde_json::json;
use service::{Client, Data, Service};
use std::time::Duration;

/// A browser without a browser: keeps the session cookie, follows no redirects.
struct Page {
    agent: ureq::Agent,
    base: String,
    cookie: Option<String>,
    csrf: Option<String>,
}

struct Answer {
    status: u16,
    location: Option<String>,
    set_cookie: Option<String>,
    body: String,
}

impl Page {
    fn new(base: &str) -> Self {
        Self {
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .max_redirects(0)
                .timeout_global(Some(Duration::from_secs(60)))
                .build()
                .into(),
            base: base.to_owned(),
            cookie: None,
            csrf: None,
        }
    }

    fn finish(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
        let mut r = r.expect("transport");
        let header = |name: &str| r.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let (location, set_cookie) = (header("location"), header("set-cookie"));
        Answer {
            status: r.status().as_u16(),
            location,
            set_cookie,
            body: r.body_mut().read_to_string().unwrap_or_default(),
        }
    }

    fn get(&self, path: &str) -> Answer {
        let mut rb = self.agent.get(&format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            rb = rb.header("cookie", &format!("sandkasse_session={c}"));
        }
        Self::finish(rb.call())
    }

    /// Gets `path` with `extra` headers and, besides the session's, the cookie `also`.
    fn get_with(&self, path: &str, also: Option<&str>, extra: &[(&str, &str)]) -> Answer {
        let mut rb = self.agent.get(&format!("{}{path}", self.base));
        let cookies: Vec<String> = self
            .cookie
            .iter()
            .map(|c| format!("sandkasse_session={c}"))
            .chain(also.map(str::to_owned))
            .collect();
        if !cookies.is_empty() {
            rb = rb.header("cookie", &cookies.join("; "));
        }
        for (k, v) in extra {
            rb = rb.header(*k, *v);
        }
        Self::finish(rb.call())
    }

    /// Posts `body` with `extra` headers; `content_type` defaults to a form.
    fn post_with(&self, path: &str, content_type: &str, body: &[u8], extra: &[(&str, &str)]) -> Answer {
        let mut rb = self
            .agent
            .post(&format!("{}{path}", self.base))
            .header("content-type", content_type);
        if let Some(c) = &self.cookie {
            rb = rb.header("cookie", &format!("sandkasse_session={c}"));
        }
        for (k, v) in extra {
            rb = rb.header(*k, *v);
        }
        Self::finish(rb.send(body))
    }

    /// Posts a form, adding this session's CSRF field.
    fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all: Vec<(&str, &str)> = fields.to_vec();
        if let Some(c) = &self.csrf {
            all.push(("csrf", c));
        }
        self.post_with(path, "application/x-www-form-urlencoded", encode(&all).as_bytes(), &[])
    }

    /// Logs in and picks the CSRF secret out of the next page, as a browser would see it.
    fn login(base: &str, token: &str) -> Self {
        let mut p = Self::new(base);
        let a = p.post("/ui/login", &[("token", token), ("next", "/ui/runs")]);
        assert_eq!(a.status, 303, "login: {}", a.body);
        assert_eq!(a.location.as_deref(), Some("/ui/runs"));
        let cookie = a.set_cookie.expect("a session cookie");
        p.cookie = Some(
            cookie
                .strip_prefix("sandkasse_session=")
                .and_then(|c| c.split(';').next())
                .expect("the cookie's value")
                .to_owned(),
        );
        let page = p.get("/ui/cases");
        assert_eq!(page.status, 200);
        p.csrf = Some(between(&page.body, "name=\"csrf\" value=\"", "\"").to_owned());
        p
    }
}

fn encode(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| {
            let e: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={e}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> &'a str {
    let i = s.find(start).unwrap_or_else(|| panic!("{start:?} not in page")) + start.len();
    let j = s[i..].find(end).unwrap() + i;
    &s[i..j]
}

struct World {
    data: Data,
    service: Service,
    tokens: Vec<(&'static str, String)>,
    case: String,
    model: String,
    run: String,
}

const CRITERIA: &str =
    r#"[{"attribute": "sex", "metric": "demographic_parity_difference", "op": "<=", "threshold": 0.2}]"#;

fn world() -> World {
    let data = Data::sqlite();
    let tokens = vec![
        ("vendor", data.add_user("Nordlys", "vendor", "Vera Vendor")),
        ("other vendor", data.add_user("Fjord", "vendor", "Otto Other")),
        ("authority", data.add_user("STAR", "authority", "Anna Authority")),
        ("advisor", data.add_user("Datatilsynet", "advisor", "Dorte Advisor")),
        ("admin", data.add_user("Drift", "admin", "Adam Admin")),
    ];
    let service = data.start(&[]);
    let api = |i: usize| service.client(Some(&tokens[i].1));
    let case = api(2).post("/api/v1/cases", &json!({"name": "Pages", "members": ["Nordlys"]}));
    assert_eq!(case.status, 201, "{}", case.text());
    let case = case.json()["id"].as_str().unwrap().to_owned();
    let model = api(0).upload_files(&case, "unemployment-logreg");
    assert_eq!(model.status, 201, "{}", model.text());
    let model = model.json()["id"].as_str().unwrap().to_owned();
    let run = api(2).post("/api/v1/runs", &json!({"model_id": model, "rows": 2000}));
    assert_eq!(run.status, 201, "{}", run.text());
    let run = run.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(api(2).wait_run(&run, Duration::from_secs(120))["state"], "succeeded");
    World {
        data,
        service,
        tokens,
        case,
        model,
        run,
    }
}

fn model_upload(p: &Page, case: &str) -> Answer {
    let dir = service::models_dir();
    let model = std::fs::read(dir.join("unemployment-logreg.onnx")).unwrap();
    // Another version than the world's upload: a name and version are a vendor's once per case.
    let manifest = std::fs::read_to_string(dir.join("unemployment-logreg.toml"))
        .unwrap()
        .replace("version = \"1.0.0\"", "version = \"1.0.0-page\"")
        .into_bytes();
    let csrf = p.csrf.clone().unwrap_or_default();
    let (ct, body) = service::multipart(&[
        ("csrf", "", csrf.as_bytes()),
        ("model", "m.onnx", &model),
        ("manifest", "m.toml", &manifest),
    ]);
    p.post_with(&format!("/ui/cases/{case}/models"), &ct, &body, &[])
}

#[test]
fn every_page_answers_each_caller_as_written_here() {
    let w = world();
    let base = &w.service.base;
    // Callers in this order: anonymous, vendor (owns the model), other vendor (not in the
    // case), authority (started the run), advisor, admin. A page without a session is a
    // 303 to the login page; a post without one is 401 (it did nothing); 303 after a post
    // is a post that worked.
    let mut callers = vec![("anonymous", Page::new(base))];
    for (name, token) in &w.tokens {
        callers.push((name, Page::login(base, token)));
    }
    let fill = |p: &str| {
        p.replace("{case}", &w.case)
            .replace("{model}", &w.model)
            .replace("{run}", &w.run)
    };
    type Probe<'a> = (&'a str, &'a str, [u16; 6]);
    let gets: Vec<Probe> = vec![
        ("GET", "/ui/cases", [303, 200, 200, 200, 200, 200]),
        ("GET", "/ui/cases/{case}", [303, 200, 404, 200, 200, 200]),
        ("GET", "/ui/cases/{case}/upload", [303, 200, 404, 403, 403, 403]),
        // One run named twice is no comparison (400), once the case is visible.
        (
            "GET",
            "/ui/cases/{case}/compare?run={run}&run={run}",
            [303, 400, 404, 400, 400, 400],
        ),
        (
            "GET",
            "/ui/cases/{case}/exit-report?lang=da",
            [303, 200, 404, 200, 200, 200],
        ),
        (
            "GET",
            "/ui/cases/{case}/public-summary?lang=en",
            [303, 403, 404, 200, 200, 200],
        ),
        ("GET", "/ui/models/{model}", [303, 200, 404, 200, 200, 200]),
        ("GET", "/ui/runs", [303, 200, 200, 200, 200, 200]),
        ("GET", "/ui/runs/{run}", [303, 200, 404, 200, 200, 200]),
        ("GET", "/ui/runs/{run}/report?lang=da", [303, 200, 404, 200, 200, 200]),
        ("GET", "/ui/audit", [303, 403, 403, 403, 200, 200]),
        ("GET", "/ui/login", [200, 303, 303, 303, 303, 303]),
        ("GET", "/ui/assets/style.css", [200; 6]),
        ("GET", "/", [303; 6]),
    ];
    for (_, path, want) in &gets {
        for ((who, page), want) in callers.iter().zip(want) {
            let a = page.get(&fill(path));
            assert_eq!(
                a.status,
                *want,
                "{who} GET {path}: {}",
                &a.body[..a.body.len().min(400)]
            );
            if *who == "anonymous" && *want == 303 && path.starts_with("/ui/") && *path != "/ui/login" {
                assert!(
                    a.location
                        .as_deref()
                        .unwrap_or_default()
                        .starts_with("/ui/login?next=/ui/"),
                    "{path}"
                );
            }
        }
    }
    type PostProbe<'a> = (&'a str, Vec<(&'a str, String)>, [u16; 6]);
    let posts: Vec<PostProbe> = vec![
        (
            "/ui/cases",
            vec![("name", "Opened from a page".into())],
            [401, 403, 403, 303, 403, 303],
        ),
        (
            "/ui/cases/{case}/criteria",
            vec![("criteria", CRITERIA.into())],
            [401, 403, 404, 303, 403, 303],
        ),
        // The advisor's one write, and the authority's; refused to vendors and admins.
        (
            "/ui/cases/{case}/findings",
            vec![
                ("target", "case".into()),
                ("severity", "note".into()),
                ("body", "Written from a page.\nSecond line.".into()),
            ],
            [401, 403, 404, 303, 303, 403],
        ),
        (
            "/ui/runs",
            vec![("model_id", w.model.clone()), ("rows", "500".into())],
            [401, 303, 404, 303, 403, 303],
        ),
        // The run is finished: those who may cancel are told it is too late (409); a vendor
        // may not cancel the authority's run at all.
        ("/ui/runs/{run}/cancel", vec![], [401, 403, 404, 409, 403, 409]),
        // Replaying is for oversight: the advisor and the admin get the replay's page.
        ("/ui/runs/{run}/replay", vec![], [401, 403, 404, 403, 200, 200]),
    ];
    for (path, fields, want) in &posts {
        for ((who, page), want) in callers.iter().zip(want) {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let a = page.post(&fill(path), &fields);
            assert_eq!(
                a.status,
                *want,
                "{who} POST {path}: {}",
                &a.body[..a.body.len().min(600)]
            );
            if *want >= 400 {
                assert!(
                    a.body.contains("id=\"error-message\""),
                    "{who} {path}: refusals are pages"
                );
            }
        }
    }
    // The advisor's replay of the finished run reproduces it.
    let replayed = callers[4].1.post(&fill("/ui/runs/{run}/replay"), &[]);
    assert_eq!(callers[4].0, "advisor");
    assert!(
        replayed.body.contains("id=\"replay-verdict\"")
            && (replayed.body.contains("byte-identical") || replayed.body.contains("byte for byte de samme")),
        "{}",
        &replayed.body[..replayed.body.len().min(2000)]
    );
    // Every page route is probed here or, for login and logout, in the sessions test.
    let mut probed: Vec<(&str, String)> = gets
        .iter()
        .map(|(m, p, _)| (*m, p.split('?').next().unwrap().to_owned()))
        .chain(posts.iter().map(|(p, _, _)| ("POST", (*p).to_owned())))
        .chain([
            ("POST", "/ui/cases/{case}/models".to_owned()),
            ("POST", "/ui/login".to_owned()),
            ("POST", "/ui/logout".to_owned()),
            ("GET", "/ui".to_owned()),
            // In the language tests below.
            ("GET", "/ui/lang/{lang}".to_owned()),
        ])
        .collect();
    probed.sort();
    let mut routes: Vec<(&str, String)> = server::web::ROUTES.iter().map(|(m, p)| (*m, (*p).to_owned())).collect();
    routes.sort();
    assert_eq!(probed, routes, "the page routes and the probes differ");
    assert_eq!(callers[0].1.get("/ui").status, 303);
    let uploads = [401, 303, 404, 403, 403, 403];
    for ((who, page), want) in callers.iter().zip(uploads) {
        let a = model_upload(page, &w.case);
        assert_eq!(a.status, want, "{who} upload: {}", &a.body[..a.body.len().min(400)]);
        if *who == "vendor" {
            assert!(a.location.unwrap().starts_with("/ui/models/"));
        }
    }
    // The other vendor's pages name nothing of the case: not its name, model or run.
    for path in ["/ui/cases", "/ui/runs", "/ui/runs?state=succeeded"] {
        let a = callers[2].1.get(path);
        assert_eq!(a.status, 200);
        for secret in [
            w.case.as_str(),
            w.model.as_str(),
            w.run.as_str(),
            "Pages",
            "unemployment-logreg",
        ] {
            assert!(!a.body.contains(secret), "other vendor's {path} shows {secret}");
        }
    }
    // Addresses that are no page, and queries that do not parse, are answered as pages.
    let a = callers[1].1.get("/ui/nowhere");
    assert_eq!(a.status, 404);
    assert!(a.body.contains("id=\"error-message\""));
    let a = callers[4].1.get("/ui/audit?limit=many");
    assert_eq!(a.status, 400);
    assert!(a.body.contains("id=\"error-message\""), "{}", a.body);
    // What each role is offered on the case page matches what it may do.
    let case_page = |i: usize| callers[i].1.get(&fill("/ui/cases/{case}")).body;
    let offers = |body: &str| {
        [
            body.contains("id=\"upload-link\""),
            body.contains("id=\"run-form\""),
            body.contains("Change the criteria"),
            body.contains("href=\"/ui/audit\""),
            body.contains("Write a finding"),
        ]
    };
    assert_eq!(offers(&case_page(1)), [true, true, false, false, false], "vendor");
    assert_eq!(offers(&case_page(3)), [false, true, true, false, true], "authority");
    assert_eq!(offers(&case_page(4)), [false, false, false, true, true], "advisor");
    assert_eq!(offers(&case_page(5)), [false, true, true, true, false], "admin");
    // The findings written above are on the case page, as plain text; the vendor reads none (they are on the
    // case, not its work).
    let advisor_view = case_page(4);
    assert!(
        advisor_view.contains("<bdi>Written from a page.</bdi><br><bdi>Second line.</bdi>"),
        "the finding's line break is a break: {advisor_view}"
    );
    assert!(!case_page(1).contains("Written from a page."));
    // The vendor cannot cancel the authority's run, so is not offered it; the authority is.
    let r = w
        .service
        .client(Some(&w.tokens[2].1))
        .post("/api/v1/runs", &json!({"model_id": w.model, "rows": 2_000_000}));
    let long = r.json()["id"].as_str().unwrap().to_owned();
    let vendor_view = callers[1].1.get(&format!("/ui/runs/{long}"));
    let authority_view = callers[3].1.get(&format!("/ui/runs/{long}"));
    assert_eq!((vendor_view.status, authority_view.status), (200, 200));
    assert!(vendor_view.body.contains("id=\"run-state\""));
    let (vendor_view, authority_view) = (vendor_view.body, authority_view.body);
    assert!(!vendor_view.contains("id=\"cancel\""));
    assert!(authority_view.contains("id=\"cancel\""));
    assert!(
        authority_view.contains("http-equiv=\"refresh\""),
        "a live run's page updates itself"
    );
    let a = callers[3].1.post(&format!("/ui/runs/{long}/cancel"), &[]);
    assert_eq!(a.status, 303);
    let after = callers[3].1.get(&format!("/ui/runs/{long}")).body;
    assert!(after.contains("state-cancelled") && !after.contains("http-equiv=\"refresh\""));
}

#[test]
fn sessions_csrf_and_the_audit_trail() {
    let w = world();
    let base = &w.service.base;
    // A wrong token is refused with the form again and no cookie.
    let anon = Page::new(base);
    let a = anon.post("/ui/login", &[("token", "0123"), ("next", "/ui/cases")]);
    assert_eq!(a.status, 401);
    assert!(a.set_cookie.is_none());
    assert!(a.body.contains("That token is not valid"));
    // A login from another site is refused; so is a place to return to elsewhere.
    let a = anon.post_with(
        "/ui/login",
        "application/x-www-form-urlencoded",
        format!("token={}", w.tokens[0].1).as_bytes(),
        &[("origin", "https://evil.example")],
    );
    assert_eq!(a.status, 403);
    let a = anon.post(
        "/ui/login",
        &[("token", &w.tokens[0].1), ("next", "https://evil.example/")],
    );
    assert_eq!(a.location.as_deref(), Some("/ui/cases"));
    // The cookie: HttpOnly, SameSite=Strict, only for the pages, Secure behind TLS.
    let cookie = a.set_cookie.unwrap();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/ui"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let a = anon.post_with(
        "/ui/login",
        "application/x-www-form-urlencoded",
        format!("token={}", w.tokens[0].1).as_bytes(),
        &[("x-forwarded-proto", "https")],
    );
    assert!(a.set_cookie.unwrap().contains("; Secure"));

    // CSRF: a post without the secret, with a wrong one, or from another site changes
    // nothing; the same post with it works.
    let vendor = Page::login(base, &w.tokens[0].1);
    let runs_before = listed(&w.service.client(Some(&w.tokens[0].1)), "/api/v1/runs");
    let fields = format!("model_id={}&rows=300", w.model);
    let form = "application/x-www-form-urlencoded";
    let refused = [
        vendor.post_with("/ui/runs", form, fields.as_bytes(), &[]),
        vendor.post_with("/ui/runs", form, format!("{fields}&csrf=00").as_bytes(), &[]),
        vendor.post_with(
            "/ui/runs",
            form,
            format!("{fields}&csrf={}", vendor.csrf.as_deref().unwrap()).as_bytes(),
            &[("origin", "https://evil.example")],
        ),
        vendor.post_with(
            "/ui/runs",
            form,
            format!("{fields}&csrf={}", vendor.csrf.as_deref().unwrap()).as_bytes(),
            &[("sec-fetch-site", "cross-site")],
        ),
    ];
    for (i, a) in refused.iter().enumerate() {
        assert_eq!(a.status, 403, "attempt {i}: {}", a.body);
    }
    let upload_without_csrf = {
        let mut p = Page::new(base);
        p.cookie = vendor.cookie.clone();
        model_upload(&p, &w.case)
    };
    assert_eq!(upload_without_csrf.status, 403);
    assert_eq!(
        listed(&w.service.client(Some(&w.tokens[0].1)), "/api/v1/runs"),
        runs_before
    );
    let ok = vendor.post("/ui/runs", &[("model_id", &w.model), ("rows", "300")]);
    assert_eq!(ok.status, 303, "{}", ok.body);
    assert_eq!(
        listed(&w.service.client(Some(&w.tokens[0].1)), "/api/v1/runs"),
        runs_before + 1
    );
    // Bad values are named.
    let a = vendor.post("/ui/runs", &[("model_id", &w.model), ("rows", "many")]);
    assert_eq!(a.status, 400);
    assert!(a.body.contains("citizens must be a whole number"), "{}", a.body);
    let a = vendor.post("/ui/runs", &[("model_id", &w.model), ("rows", "99999999")]);
    assert_eq!(a.status, 400);
    assert!(a.body.contains("rows must be in 1..="), "{}", a.body);

    // The cookie is no key to the API, and the token no key to the pages.
    let mut api_with_cookie = Page::new(base);
    api_with_cookie.cookie = vendor.cookie.clone();
    assert_eq!(api_with_cookie.get("/api/v1/me").status, 401);
    let with_bearer = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .new_agent()
        .get(&format!("{base}/ui/cases"))
        .header("authorization", &format!("Bearer {}", w.tokens[0].1))
        .call()
        .unwrap();
    assert_eq!(with_bearer.status().as_u16(), 303);

    // Criteria that do not parse are refused in the form, with the reason, and not stored.
    let authority = Page::login(base, &w.tokens[2].1);
    let a = authority.post(
        &format!("/ui/cases/{}/criteria", w.case),
        &[(
            "criteria",
            r#"[{"attribute": "sex", "metric": "nonsense", "op": "<=", "threshold": 1}]"#,
        )],
    );
    assert_eq!(a.status, 422);
    assert!(
        a.body.contains("id=\"criteria-error\"") && a.body.contains("nonsense"),
        "{}",
        a.body
    );
    let a = authority.post(&format!("/ui/cases/{}/criteria", w.case), &[("criteria", CRITERIA)]);
    assert_eq!(a.status, 303);
    assert!(
        authority
            .get(&format!("/ui/cases/{}", w.case))
            .body
            .contains("demographic_parity_difference")
    );

    // A rejected model is shown its findings and nothing is stored.
    let vendor_api = w.service.client(Some(&w.tokens[0].1));
    let models_before = listed(&vendor_api, &format!("/api/v1/cases/{}/models", w.case));
    let (ct, body) = service::multipart(&[
        ("csrf", "", vendor.csrf.as_deref().unwrap().as_bytes()),
        ("model", "m.onnx", b"not an onnx model"),
        (
            "manifest",
            "m.toml",
            &std::fs::read(service::models_dir().join("unemployment-logreg.toml")).unwrap(),
        ),
    ]);
    let a = vendor.post_with(&format!("/ui/cases/{}/models", w.case), &ct, &body, &[]);
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body.contains("id=\"upload-error\""));
    let models_after = listed(&vendor_api, &format!("/api/v1/cases/{}/models", w.case));
    assert_eq!(models_before, models_after);

    // Logging out ends the session on the server: the old cookie is worth nothing.
    let advisor = Page::login(base, &w.tokens[3].1);
    assert_eq!(advisor.get(&format!("/ui/cases/{}", w.case)).status, 200);
    let a = advisor.post("/ui/logout", &[]);
    assert_eq!(a.status, 303);
    assert!(a.set_cookie.unwrap().contains("Max-Age=0"));
    assert_eq!(advisor.get("/ui/cases").status, 303);

    // The audit log holds the pages' actions: logins by who logged in, the advisor's page
    // reads with their case, the vendor's run, the refusals.
    let log = w
        .service
        .client(Some(&w.tokens[4].1))
        .get("/api/v1/audit?limit=1000")
        .json();
    let entries = log["entries"].as_array().unwrap();
    let find = |action: &str, outcome: &str| {
        entries
            .iter()
            .filter(|e| e["action"] == action && e["outcome"] == outcome)
            .collect::<Vec<_>>()
    };
    let logins = find("POST /ui/login", "303");
    assert!(logins.iter().any(|e| e["role"] == "advisor"), "{logins:?}");
    assert!(!find("POST /ui/login", "401").is_empty());
    let reads = find("GET /ui/cases/{case}", "200");
    assert!(
        reads
            .iter()
            .any(|e| e["role"] == "advisor" && e["case_id"] == w.case.as_str()),
        "{reads:?}"
    );
    assert!(
        find("POST /ui/runs", "303")
            .iter()
            .any(|e| e["object"].as_str().unwrap().starts_with("run "))
    );
    assert_eq!(find("POST /ui/runs", "403").len(), 4);
    assert!(!find("POST /ui/logout", "303").is_empty());
    let verify = w
        .service
        .client(Some(&w.tokens[4].1))
        .get("/api/v1/audit/verify")
        .json();
    assert_eq!(verify["intact"], true);
}

/// Sessions live in the store: a restart logs nobody out, a second process on the same
/// database knows the session, and a logout through one ends it in the other.
#[test]
fn sessions_outlive_a_restart_and_are_shared_by_processes_on_one_database() {
    let data = Data::sqlite();
    let token = data.add_user("Datatilsynet", "advisor", "Dorte Advisor");
    let mut first = data.start(&[]);
    let mut page = Page::login(&first.base, &token);
    assert!(first.terminate().success());
    let second = data.start(&[]);
    page.base = second.base.clone();
    let a = page.get("/ui/cases");
    assert_eq!(a.status, 200, "the session outlived the restart: {}", a.body);
    assert!(a.body.contains(page.csrf.as_deref().unwrap()), "with its CSRF secret");
    assert!(a.body.contains("Dorte Advisor"), "and its user");
    drop(second);

    let data = Data::postgres();
    let token = data.add_user("Datatilsynet", "advisor", "Dorte Advisor");
    let (one, two) = (data.start(&[]), data.start(&[]));
    let on_one = Page::login(&one.base, &token);
    let mut on_two = Page::new(&two.base);
    on_two.cookie = on_one.cookie.clone();
    on_two.csrf = on_one.csrf.clone();
    assert_eq!(
        on_two.get("/ui/audit").status,
        200,
        "the other process knows the session"
    );
    let out = on_two.post("/ui/logout", &[]);
    assert_eq!(out.status, 303, "{}", out.body);
    for (name, p) in [("one", &on_one), ("two", &on_two)] {
        let a = p.get("/ui/cases");
        assert_eq!(a.status, 303, "process {name} still knows the ended session");
        assert!(a.location.unwrap_or_default().starts_with("/ui/login"));
    }
}

/// How many objects an API list answers.
fn listed(api: &Client, path: &str) -> usize {
    api.get(path).json().as_array().unwrap().len()
}

#[test]
fn the_audit_page_says_when_it_checked_the_chain_and_checks_again_on_request() {
    let w = world();
    let advisor = Page::login(&w.service.base, &w.tokens[3].1);
    let a = advisor.get("/ui/audit");
    assert_eq!(a.status, 200);
    assert!(
        a.body.contains("The chain is intact.") && a.body.contains("checked at"),
        "{}",
        a.body
    );
    // Someone with database access rewrites one outcome while the service runs.
    w.data.edit_audit_outcome(3, "403");
    // Within 30 s the page shows its last check, saying when it was made ...
    let a = advisor.get("/ui/audit");
    assert!(a.body.contains("The chain is intact."), "{}", a.body);
    // ... and a check on request finds the edit, which the page then keeps showing.
    for path in ["/ui/audit?check=now", "/ui/audit"] {
        let a = advisor.get(path);
        assert_eq!(a.status, 200);
        assert!(a.body.contains("The chain is broken at entry 3."), "{path}: {}", a.body);
    }
    // The API always checks in full.
    let v = w
        .service
        .client(Some(&w.tokens[3].1))
        .get("/api/v1/audit/verify")
        .json();
    assert_eq!(v["intact"], false);
    assert_eq!(advisor.get("/ui/audit?check=soon").status, 400);
}

/// Whether every occurrence of `needle` in `page` lies inside a `<bdi>` element, or in an
/// `<option>`, which can hold only text.
fn only_inside_bdi(page: &str, needle: &str) -> bool {
    page.match_indices(needle).all(|(i, _)| {
        let before = &page[..=i];
        let in_option = before.rfind('<').is_some_and(|t| before[t..].starts_with("<option"));
        in_option
            || before
                .rfind("<bdi")
                .is_some_and(|open| !before[open..].contains("</bdi>"))
    })
}

#[test]
fn bidi_overrides_in_names_reach_the_pages_only_escaped_and_isolated() {
    // U+202E reverses what follows it: "Nordlys<U+202E>gpj.exe" reads as "Nordlysexe.jpg".
    const RLO: char = '\u{202e}';
    let data = Data::sqlite();
    let vendor = data.add_user(&format!("Nord{RLO}lys"), "vendor", &format!("Vera {RLO}Vendor"));
    let authority = data.add_user("STAR", "authority", "Anna Authority");
    let advisor = data.add_user("Datatilsynet", "advisor", "Dorte Advisor");
    let service = data.start(&[]);
    let api = |t: &str| service.client(Some(t));
    let case_name = format!("Sag {RLO}gpj.exe");
    let case = api(&authority).post(
        "/api/v1/cases",
        &json!({"name": case_name, "members": [format!("Nord{RLO}lys")]}),
    );
    assert_eq!(case.status, 201, "{}", case.text());
    let case = case.json()["id"].as_str().unwrap().to_owned();
    let dir = service::models_dir();
    let onnx = std::fs::read(dir.join("unemployment-logreg.onnx")).unwrap();
    let manifest = std::fs::read_to_string(dir.join("unemployment-logreg.toml"))
        .unwrap()
        .replace("name = \"unemployment-logreg\"", "name = \"logreg\\u202Eevil\\u2066\"")
        .replace("version = \"1.0.0\"", "version = \"1.0\\u202E\"");
    let model = api(&vendor).upload(&case, &onnx, manifest.as_bytes());
    assert_eq!(model.status, 201, "{}", model.text());
    // The API answers the data as it is: JSON escapes nothing that needs it.
    assert_eq!(model.json()["name"], "logreg\u{202e}evil\u{2066}");
    let model = model.json()["id"].as_str().unwrap().to_owned();
    let run = api(&authority).post("/api/v1/runs", &json!({"model_id": model, "rows": 2000}));
    assert_eq!(run.status, 201, "{}", run.text());
    let run = run.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(
        api(&authority).wait_run(&run, Duration::from_secs(120))["state"],
        "succeeded"
    );

    let as_authority = Page::login(&service.base, &authority);
    let as_vendor = Page::login(&service.base, &vendor);
    let as_advisor = Page::login(&service.base, &advisor);
    let pages = [
        (&as_authority, "/ui/cases".to_owned()),
        (&as_authority, format!("/ui/cases/{case}")),
        (&as_authority, format!("/ui/models/{model}")),
        (&as_authority, "/ui/runs".to_owned()),
        (&as_authority, format!("/ui/runs/{run}")),
        (&as_authority, format!("/ui/runs/{run}/report?lang=en")),
        (&as_vendor, format!("/ui/cases/{case}")),
        (&as_advisor, "/ui/audit".to_owned()),
    ];
    for (who, path) in pages {
        let a = who.get(&path);
        assert_eq!(a.status, 200, "{path}: {}", a.body);
        for c in [RLO, '\u{2066}'] {
            assert!(!a.body.contains(c), "{path}: a raw U+{:04X} in the page", c as u32);
        }
        // Shown, visibly escaped, and isolated from the text around it.
        assert!(a.body.contains("\\u{202e}"), "{path}: the name is not shown");
        for shown in [
            "Sag \\u{202e}gpj.exe",
            "logreg\\u{202e}evil\\u{2066}",
            "Nord\\u{202e}lys",
        ] {
            assert!(
                only_inside_bdi(&a.body, &format!(">{shown}<")),
                "{path}: {shown} outside <bdi>"
            );
        }
    }
    let case_page = as_authority.get(&format!("/ui/cases/{case}")).body;
    assert!(case_page.contains("<bdi>Sag \\u{202e}gpj.exe</bdi>"), "{case_page}");
    assert!(case_page.contains("<bdi>Nord\\u{202e}lys</bdi>"), "{case_page}");
    let vendor_page = as_vendor.get("/ui/cases").body;
    assert!(vendor_page.contains("<bdi>Vera \\u{202e}Vendor</bdi>"), "{vendor_page}");
}

/// What a browser asking for Danish first sends.
const DANISH: (&str, &str) = ("accept-language", "da-DK,da;q=0.9,en;q=0.8");

#[test]
fn the_pages_speak_the_browsers_language_and_remember_the_switch() {
    let w = world();
    let base = &w.service.base;
    let anon = Page::new(base);
    // The login page by the browser's language; English when it names neither or nothing.
    let da = anon.get_with("/ui/login", None, &[DANISH]);
    assert_eq!(da.status, 200);
    assert!(
        da.body.contains("<html lang=\"da\">") && da.body.contains(">Log ind<"),
        "{}",
        da.body
    );
    for header in [
        Some("en"),
        Some("en-GB,en;q=0.9,da;q=0.5"),
        Some("de-DE,fr;q=0.5"),
        None,
    ] {
        let extra: Vec<(&str, &str)> = header.iter().map(|h| ("accept-language", *h)).collect();
        let en = anon.get_with("/ui/login", None, &extra);
        assert!(
            en.body.contains("<html lang=\"en\">") && en.body.contains(">Log in<"),
            "{header:?}: {}",
            en.body
        );
    }
    // Logged in: the navigation and the logout in Danish, with the switch back to English.
    let vendor = Page::login(base, &w.tokens[0].1);
    let a = vendor.get_with("/ui/cases", None, &[DANISH]);
    assert!(a.body.contains("<html lang=\"da\">"), "{}", a.body);
    for word in [">Sager<", ">Kørsler<", ">Log ud<", ">leverandør<"] {
        assert!(a.body.contains(word), "{word}: {}", a.body);
    }
    assert!(a.body.contains("href=\"/ui/lang/en?next=/ui/cases\""), "{}", a.body);
    // The switch: a cookie for the pages only, then back to the page it was on.
    let a = vendor.get_with("/ui/lang/en?next=/ui/runs%3Fstate%3Dsucceeded", None, &[DANISH]);
    assert_eq!(a.status, 303, "{}", a.body);
    assert_eq!(a.location.as_deref(), Some("/ui/runs?state=succeeded"));
    let cookie = a.set_cookie.expect("the language cookie");
    for part in ["sandkasse_lang=en;", "Path=/ui", "HttpOnly", "SameSite=Lax", "Max-Age="] {
        assert!(cookie.contains(part), "{part}: {cookie}");
    }
    assert!(!cookie.contains("Secure"), "{cookie}");
    let behind_tls = anon.get_with("/ui/lang/da", None, &[("x-forwarded-proto", "https")]);
    assert!(behind_tls.set_cookie.unwrap().ends_with("; Secure"));
    // The cookie is followed over the header, both ways.
    let a = vendor.get_with("/ui/runs", Some("sandkasse_lang=en"), &[DANISH]);
    assert!(
        a.body.contains("<html lang=\"en\">") && a.body.contains(">Runs<"),
        "{}",
        a.body
    );
    let a = vendor.get_with("/ui/runs", Some("sandkasse_lang=da"), &[("accept-language", "en")]);
    assert!(
        a.body.contains("<html lang=\"da\">") && a.body.contains(">Kørsler<"),
        "{}",
        a.body
    );
    let a = anon.get_with("/ui/login", Some("sandkasse_lang=da"), &[]);
    assert!(a.body.contains(">Log ind<"), "{}", a.body);
    // A language that is not offered is no page and sets nothing.
    let a = anon.get_with("/ui/lang/de?next=/ui/runs", None, &[]);
    assert_eq!(a.status, 404);
    assert!(a.set_cookie.is_none() && a.body.contains("id=\"error-message\""));
}

#[test]
fn the_language_switch_returns_only_to_our_own_pages() {
    let w = world();
    let anon = Page::new(&w.service.base);
    for (next, to) in [
        ("/ui/runs", "/ui/runs"),
        ("/ui/login%3Fnext%3D/ui/audit", "/ui/login?next=/ui/audit"),
        ("//evil.example/ui/", "/ui/cases"),
        ("/%5Cevil.example", "/ui/cases"),
        ("/ui/%5Cevil.example", "/ui/cases"),
        ("https://evil.example/ui/cases", "/ui/cases"),
        ("https%3A%2F%2Fevil.example%2Fui%2F", "/ui/cases"),
        ("/ui/%0D%0ASet-Cookie:%20x=1", "/ui/cases"),
        ("/ui/%09x", "/ui/cases"),
        ("/api/v1/me", "/ui/cases"),
        ("", "/ui/cases"),
    ] {
        let a = anon.get(&format!("/ui/lang/da?next={next}"));
        assert_eq!(a.status, 303, "{next}: {}", a.body);
        assert_eq!(a.location.as_deref(), Some(to), "{next}");
    }
    let a = anon.get("/ui/lang/en");
    assert_eq!(a.location.as_deref(), Some("/ui/cases"));
}

/// A page's text as read: without tags, and without what is data rather than the page's own
/// words (names in `<bdi>`, code, JSON in text areas and blocks).
fn own_words(html: &str) -> String {
    let mut s = html.to_owned();
    for (open, close) in [
        ("<bdi", "</bdi>"),
        ("<code", "</code>"),
        ("<textarea", "</textarea>"),
        ("<pre", "</pre>"),
    ] {
        while let Some(i) = s.find(open) {
            let j = s[i..].find(close).map_or(s.len(), |j| i + j + close.len());
            s.replace_range(i..j, " ");
        }
    }
    let mut out = String::new();
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Whether `word` is in `text` as a whole (not "Log in" in "Log ind").
fn has_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric)
    })
}

#[test]
fn every_page_in_danish_has_no_english_left() {
    let w = world();
    let base = &w.service.base;
    let (vendor, authority, admin) = (
        Page::login(base, &w.tokens[0].1),
        Page::login(base, &w.tokens[2].1),
        Page::login(base, &w.tokens[4].1),
    );
    assert_eq!(
        authority
            .post(&format!("/ui/cases/{}/criteria", w.case), &[("criteria", CRITERIA)])
            .status,
        303
    );
    // A run still going, for the live progress.
    let r = w
        .service
        .client(Some(&w.tokens[2].1))
        .post("/api/v1/runs", &json!({"model_id": w.model, "rows": 2_000_000}));
    let live = r.json()["id"].as_str().unwrap().to_owned();
    let anon = Page::new(base);
    let danish = |p: &Page, path: &str| p.get_with(path, None, &[DANISH]);
    let mut pages: Vec<(String, u16, Answer)> = vec![
        ("login".into(), 200, danish(&anon, "/ui/login")),
        ("404".into(), 404, danish(&vendor, "/ui/nowhere")),
        ("403".into(), 403, danish(&vendor, "/ui/audit")),
        ("live run".into(), 200, danish(&authority, &format!("/ui/runs/{live}"))),
    ];
    for path in [
        "/ui/cases",
        "/ui/cases/{case}",
        "/ui/cases/{case}/upload",
        "/ui/models/{model}",
        "/ui/runs",
        "/ui/runs?state=succeeded",
        "/ui/runs/{run}",
    ] {
        let path = path
            .replace("{case}", &w.case)
            .replace("{model}", &w.model)
            .replace("{run}", &w.run);
        pages.push((format!("vendor {path}"), 200, danish(&vendor, &path)));
    }
    for path in ["/ui/cases", "/ui/cases/{case}", "/ui/audit"] {
        let path = path.replace("{case}", &w.case);
        pages.push((format!("admin {path}"), 200, danish(&admin, &path)));
    }
    // Forms refused: shown again, in Danish around the reason.
    let refused_run = vendor.post_with(
        "/ui/runs",
        "application/x-www-form-urlencoded",
        format!(
            "model_id={}&rows=many&csrf={}",
            w.model,
            vendor.csrf.as_deref().unwrap()
        )
        .as_bytes(),
        &[DANISH],
    );
    pages.push(("refused run".into(), 400, refused_run));
    let _ = authority.post(&format!("/ui/runs/{live}/cancel"), &[]);

    // Whatever the table says in English and differently in Danish must not be on a Danish
    // page, nor the words that a string left out of the table would most likely be.
    let mut english: Vec<&str> = server::web::text::T::ALL
        .iter()
        .map(|t| t.pair())
        // "Vendor": a user of this world is called Vera Vendor, in the audit filter's menu.
        .filter(|(da, en)| da != en && en.len() >= 4 && !da.contains(en) && *en != "Vendor")
        .map(|(_, en)| en)
        .collect();
    english.extend([
        "Log out",
        "Log in",
        "Cases",
        "Runs",
        "Start a run",
        "Audit log",
        "rows scored",
        "this page",
        "Criteria",
        "Upload a",
        "Created",
        "Not found",
        "Not allowed",
        "Back to",
        "Report (",
        "None yet",
        "Filter",
        "entries",
        "Previous",
        "Next page",
        "Accepted",
        "succeeded",
        "queued",
        "running",
        "vendor",
        "authority",
        "admin",
    ]);
    for (what, status, a) in &pages {
        assert_eq!(a.status, *status, "{what}: {}", &a.body[..a.body.len().min(600)]);
        assert!(a.body.contains("<html lang=\"da\">"), "{what}");
        let text = own_words(&a.body);
        for word in &english {
            assert!(
                !has_word(&text, word),
                "{what}: English {word:?} in the Danish page: {text}"
            );
        }
        for attribute in [
            "aria-label=\"main\"",
            "placeholder=\"scenario default\"",
            "aria-label=\"pages\"",
        ] {
            assert!(!a.body.contains(attribute), "{what}: {attribute}");
        }
    }
    let text = |what: &str| own_words(&pages.iter().find(|p| p.0 == what).unwrap().2.body);
    // The domain's words are the reports' own: the metric's and attribute's labels.
    let case = text(&format!("admin /ui/cases/{}", w.case));
    assert!(
        case.contains("Demografisk paritet, forskel") && case.contains("Køn"),
        "{case}"
    );
    assert!(case.contains("≤ 0,2"), "numbers written the Danish way: {case}");
    let live = text("live run");
    assert!(
        live.contains("rækker scoret") || live.contains("lykkedes") || live.contains("annulleret"),
        "{live}"
    );
}
