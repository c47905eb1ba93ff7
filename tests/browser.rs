//! The pages in a real browser (Debian's headless Chromium through chromedriver, installed
//! by `scripts/browser.sh`): every role logs in, walks its pages, does what it may and is
//! refused what it may not. Every page is checked and photographed at 1280 px and at phone
//! width (390 px); the PNGs are kept under `target/tmp/browser/` for people to look at.

mod service;
mod webdriver;

use serde_json::{Value, json};
use service::Data;
use std::path::PathBuf;
use std::time::Duration;
use webdriver::{Driver, Session};

const WIDE: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

/// Photographs the current page at both widths after checking that it is usable there:
/// nothing on the page is wider than the screen (tables scroll inside their own box), and
/// every control is within reach.
struct Camera {
    dir: PathBuf,
    n: usize,
}

impl Camera {
    fn new() -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir, n: 0 }
    }

    fn shoot(&mut self, s: &Session, name: &str) {
        self.n += 1;
        for (label, (w, h)) in [("wide", WIDE), ("phone", PHONE)] {
            let inner = s.set_viewport(w, h);
            assert_eq!(
                inner,
                json!([w, h]),
                "{name} at {w} px: the page does not fit ({})",
                s.url()
            );
            let problems = s.execute(USABLE, vec![]);
            assert_eq!(
                problems,
                json!([]),
                "{name} at {w} px: elements outside the screen (url {})",
                s.url()
            );
            let path = self.dir.join(format!("{:02}-{name}-{label}.png", self.n));
            s.save_screenshot(&path);
            let png = std::fs::read(&path).unwrap();
            assert!(png.starts_with(b"\x89PNG") && png.len() > 2000, "{}", path.display());
        }
        s.set_viewport(WIDE.0, WIDE.1);
    }
}

/// Returns what sticks out: the page wider than the window, or a visible control whose
/// right edge is beyond it (controls inside a sideways-scrolling table box excepted).
const USABLE: &str = r#"
const w = window.innerWidth;
const out = [];
if (document.documentElement.scrollWidth > w + 1) {
  out.push('page is ' + document.documentElement.scrollWidth + ' px wide');
  // Name the innermost elements that stick out.
  const wide = [...document.body.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > w + 1);
  for (const e of wide.filter(e => !wide.some(o => o !== e && e.contains(o))).slice(0, 5)) {
    out.push(e.tagName + '.' + e.className + ' ' + (e.textContent || '').slice(0, 40));
  }
}
for (const el of document.querySelectorAll('a, button, input, select, textarea, h1, p, dl')) {
  if (el.closest('.table-wrap')) continue;
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  if (r.right > w + 1 || r.left < -1) out.push(el.tagName + '#' + el.id + ' ' + Math.round(r.left) + '..' + Math.round(r.right));
}
return out;
"#;

/// Reads a PDF Chromium printed with poppler's `pdfinfo` and `pdftotext` (installed by `scripts/browser.sh`):
/// every page is A4 portrait and has text on it, and the `headings` appear in the text in this order. Prints
/// a line per page (its size, how much text, its first line) for people reading the test output, and returns
/// the whole text.
fn check_pdf(path: &std::path::Path, headings: &[&str]) -> String {
    let run = |tool: &str, args: &[String]| -> String {
        let o = std::process::Command::new(tool)
            .args(args)
            .arg(path)
            .args(if tool == "pdftotext" { &["-"][..] } else { &[][..] })
            .output()
            .unwrap_or_else(|e| panic!("{tool} is not on PATH ({e}): run scripts/browser.sh"));
        assert!(
            o.status.success(),
            "{tool} {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let info = run("pdfinfo", &[]);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count in pdfinfo's answer: {info}"));
    assert!(pages >= 1, "{info}");
    let sizes = run("pdfinfo", &["-f".into(), "1".into(), "-l".into(), pages.to_string()]);
    let sizes: Vec<(f64, f64)> = sizes
        .lines()
        .filter(|l| l.starts_with("Page") && l.contains(" size:"))
        .map(|l| {
            let dims: Vec<f64> = l
                .split_once("size:")
                .unwrap()
                .1
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect();
            (dims[0], dims[1])
        })
        .collect();
    assert_eq!(sizes.len(), pages, "one size per page: {sizes:?}");
    let mut all = String::new();
    println!("{}: {pages} pages", path.display());
    for (i, (w, h)) in sizes.iter().enumerate() {
        let n = i + 1;
        // A4 is 595.28 × 841.89 points; Chromium rounds to whole device pixels.
        assert!(
            (w - 595.28).abs() < 3.0 && (h - 841.89).abs() < 3.0,
            "page {n} of {} is {w} × {h} pt, not A4 portrait",
            path.display()
        );
        let text = run(
            "pdftotext",
            &["-layout".into(), "-f".into(), n.to_string(), "-l".into(), n.to_string()],
        );
        let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
        let chars = text.chars().filter(|c| !c.is_whitespace()).count();
        println!("  page {n}: {w:.1} × {h:.1} pt, {chars} characters, begins {first:?}");
        assert!(chars > 0, "page {n} of {} is blank", path.display());
        all.push_str(&text);
    }
    let flat = all.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut from = 0;
    for h in headings {
        let at = flat[from..]
            .find(h)
            .unwrap_or_else(|| panic!("{h:?} missing (or out of order) in {}", path.display()));
        from += at + h.len();
    }
    flat
}

struct People {
    vendor: String,
    other_vendor: String,
    authority: String,
    advisor: String,
    admin: String,
}

fn login(s: &Session, base: &str, token: &str, name: &str, role: &str) {
    s.goto(&format!("{base}/ui/login"));
    s.find("#token").send_keys(token);
    s.find("#login").click();
    s.wait_for("#who", Duration::from_secs(10));
    assert!(s.find("#who").text().contains(name), "{}", s.find("#who").text());
    assert_eq!(s.find("#role").text(), role);
    // The session cookie is out of the page's reach.
    let cookies = s.cookies();
    let c = cookies
        .iter()
        .find(|c| c["name"] == "sandkasse_session")
        .expect("the session cookie");
    assert_eq!(c["httpOnly"], true);
    assert_eq!(c["sameSite"], "Strict");
    assert_eq!(s.execute("return document.cookie", vec![]), json!(""));
}

fn logout(s: &Session) {
    s.find("#logout").click();
    s.wait_for("#token", Duration::from_secs(10));
    assert!(s.url().contains("/ui/login"));
}

fn refused(s: &Session, title: &str) {
    assert_eq!(s.find("#error-title").text(), title, "{}", s.url());
}

fn texts(s: &Session, css: &str) -> Vec<String> {
    s.find_all(css).iter().map(|e| e.text()).collect()
}

/// Waits until the browser is at an address containing `part`, with the page loaded.
fn wait_url(s: &Session, part: &str) {
    s.wait_until(
        |s| s.url().contains(part) && s.execute("return document.readyState", vec![]) == json!("complete"),
        Duration::from_secs(30),
        part,
    );
}

/// Waits for a run page to show a finished state; the page reloads itself.
fn wait_finished(s: &Session) -> String {
    let mut state = String::new();
    s.wait_until(
        |s| {
            // One script reads the state: the page may reload between two commands.
            let v = s.execute(
                "const e = document.querySelector('#run-state'); return e ? e.textContent : ''",
                vec![],
            );
            state = v.as_str().unwrap_or_default().trim().to_owned();
            ["succeeded", "failed", "cancelled"].contains(&state.as_str())
        },
        Duration::from_secs(240),
        "the run to finish (the page refreshes itself)",
    );
    state
}

#[test]
fn every_role_walks_its_pages_in_a_real_browser() {
    let data = Data::sqlite();
    let p = People {
        vendor: data.add_user("Nordlys", "vendor", "Vera Vendor"),
        other_vendor: data.add_user("Fjord", "vendor", "Otto Other"),
        authority: data.add_user("STAR", "authority", "Anna Authority"),
        advisor: data.add_user("Datatilsynet", "advisor", "Dorte Advisor"),
        admin: data.add_user("Drift", "admin", "Adam Admin"),
    };
    let service = data.start(&[]);
    let base = service.base.clone();
    let api = |t: &str| service.client(Some(t));
    let case = api(&p.authority).post(
        "/api/v1/cases",
        &json!({"name": "Risiko for langtidsledighed", "members": ["Nordlys"]}),
    );
    let case = case.json()["id"].as_str().unwrap().to_owned();
    let criteria = json!({"criteria": [
        {"name": "four-fifths rule by origin", "attribute": "origin", "metric": "disparate_impact", "against": "reference", "op": ">=", "threshold": 0.8},
        {"name": "equal opportunity by sex", "attribute": "sex", "metric": "equal_opportunity_difference", "op": "<=", "threshold": 0.1}
    ]});
    assert_eq!(
        api(&p.authority)
            .put(&format!("/api/v1/cases/{case}/criteria"), &criteria)
            .status,
        200
    );
    let vendor_id = api(&p.vendor).get("/api/v1/me").json()["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let driver = Driver::start();
    let s = driver.session(WIDE.0, WIDE.1);
    assert_eq!(s.set_viewport(WIDE.0, WIDE.1), json!([WIDE.0, WIDE.1]));
    let mut cam = Camera::new();

    // Anyone: the login page, and a wrong token.
    s.goto(&format!("{base}/ui/cases"));
    s.wait_for("#token", Duration::from_secs(10));
    assert!(s.url().contains("/ui/login?next="), "{}", s.url());
    cam.shoot(&s, "login");
    s.find("#token").send_keys("not-a-token");
    s.find("#login").click();
    assert!(s.find("#login-error").text().contains("not valid"));
    cam.shoot(&s, "login-refused");

    // The vendor: its case, the upload form, the inspected model, a run with live progress,
    // the report in both languages; the audit log is not offered and is refused.
    login(&s, &base, &p.vendor, "Vera Vendor", "vendor");
    assert!(s.try_find("a[href='/ui/audit']").is_none());
    assert_eq!(texts(&s, "tr.case td a"), vec!["Risiko for langtidsledighed"]);
    cam.shoot(&s, "vendor-cases");
    s.find("tr.case td a").click();
    s.wait_for("#case-name", Duration::from_secs(10));
    assert_eq!(s.find_all("tr.criterion").len(), 2);
    assert!(s.try_find("#run-form").is_none(), "no model yet, so no run form");
    assert!(!s.page_source().contains("Change the criteria"));
    cam.shoot(&s, "vendor-case");
    s.find("#upload-link").click();
    s.wait_for("#upload", Duration::from_secs(10));
    cam.shoot(&s, "vendor-upload-form");
    // A model that fails inspection first: its findings are shown and nothing is kept.
    let models = service::models_dir();
    let bad_model = models.join("hostile/custom_op_domain.onnx");
    let bad_manifest = models.join("hostile/custom_op_domain.toml");
    s.find("#model-file").send_keys(bad_model.to_str().unwrap());
    s.find("#manifest-file").send_keys(bad_manifest.to_str().unwrap());
    s.find("#upload-submit").click();
    s.wait_for("#upload-error", Duration::from_secs(30));
    assert!(
        s.find("#upload-error").text().contains("domain"),
        "{}",
        s.find("#upload-error").text()
    );
    cam.shoot(&s, "vendor-upload-rejected");
    s.find("#model-file")
        .send_keys(models.join("unemployment-logreg.onnx").to_str().unwrap());
    s.find("#manifest-file")
        .send_keys(models.join("unemployment-logreg.toml").to_str().unwrap());
    s.find("#upload-submit").click();
    s.wait_for("#inspection", Duration::from_secs(30));
    assert!(s.url().contains("/ui/models/"), "{}", s.url());
    let model_id = s.url().rsplit('/').next().unwrap().to_owned();
    assert!(!s.find_all("tr.operator").is_empty());
    assert!(texts(&s, "tr.port td").iter().any(|t| t == "input"));
    cam.shoot(&s, "vendor-model");
    let rows = s.find("#run-rows");
    rows.clear();
    rows.send_keys("1000000");
    s.find("#run-submit").click();
    s.wait_for("#run-state", Duration::from_secs(10));
    assert!(s.url().contains("/ui/runs/"));
    let run_url = s.url();
    // A million citizens take seconds: while they run, the progress bar is shown and the
    // page loads itself again (a new document) without anyone touching it.
    assert!(s.try_find("#run-progress").is_some(), "a live run shows its progress");
    let loaded = || s.execute("return performance.timeOrigin", vec![]);
    let first = loaded();
    s.wait_until(
        |_| loaded() != first,
        Duration::from_secs(10),
        "the run page to reload itself",
    );
    cam.shoot(&s, "vendor-run-live");
    assert_eq!(wait_finished(&s), "succeeded");
    assert!(s.try_find("#run-progress").is_none());
    cam.shoot(&s, "vendor-run-done");
    s.find("#report-en").click();
    wait_url(&s, "/report?lang=en");
    assert!(s.page_source().contains("Provenance"));
    assert_eq!(s.execute("return document.documentElement.lang", vec![]), json!("en"));
    cam.shoot(&s, "vendor-report-en");
    s.goto(&run_url);
    s.find("#report-da").click();
    wait_url(&s, "/report?lang=da");
    assert!(s.page_source().contains("Oprindelse"));
    assert_eq!(s.execute("return document.documentElement.lang", vec![]), json!("da"));
    cam.shoot(&s, "vendor-report-da");
    s.goto(&format!("{base}/ui/audit"));
    refused(&s, "Not allowed");
    cam.shoot(&s, "vendor-audit-refused");
    s.goto(&format!("{base}/ui/runs"));
    assert_eq!(s.find_all("tr.run").len(), 1);
    cam.shoot(&s, "vendor-runs");
    logout(&s);
    // After logging out the pages are closed again.
    s.goto(&run_url);
    s.wait_for("#token", Duration::from_secs(10));

    // A vendor outside the case sees nothing of it, even by address.
    login(&s, &base, &p.other_vendor, "Otto Other", "vendor");
    assert!(s.try_find("#no-cases").is_some());
    s.goto(&run_url);
    refused(&s, "Not found");
    cam.shoot(&s, "other-vendor-run-not-found");
    s.goto(&format!("{base}/ui/models/{model_id}"));
    refused(&s, "Not found");
    logout(&s);

    // The authority: criteria it may change, a run it starts from the case page; no upload.
    login(&s, &base, &p.authority, "Anna Authority", "authority");
    s.goto(&format!("{base}/ui/cases/{case}"));
    assert!(s.try_find("#upload-link").is_none());
    assert!(s.page_source().contains("Change the criteria"));
    s.find("#run-model").select_by_value(&model_id);
    let rows = s.find("#run-rows");
    rows.clear();
    rows.send_keys("5000");
    cam.shoot(&s, "authority-case");
    s.find("#run-submit").click();
    s.wait_for("#run-state", Duration::from_secs(10));
    assert_eq!(wait_finished(&s), "succeeded");
    s.find("#report-en").click();
    wait_url(&s, "/report?lang=en");
    cam.shoot(&s, "authority-report");
    s.goto(&format!("{base}/ui/cases/{case}/upload"));
    refused(&s, "Not allowed");
    cam.shoot(&s, "authority-upload-refused");
    // The public summary as a draft, then published through the plan and read by anyone, without signing in.
    s.goto(&format!("{base}/ui/cases/{case}"));
    s.find("#public-summary-da").click();
    wait_url(&s, "/public-summary?lang=da");
    assert!(
        s.try_find("#public-draft").is_some(),
        "not published yet: marked as a draft"
    );
    cam.shoot(&s, "authority-public-summary-draft");
    let plan = json!({
        "objectives": ["Afprøv om profileringen behandler borgere ens."],
        "legal_questions": ["Er profileringen en afgørelse efter GDPR art. 22?"],
        "models_in_scope": [model_id],
        "participants": [{"organisation": "STAR", "role": "authority"}],
        "publication": {"published": true, "status": "piloting",
            "intended_purpose": "Finde nyledige med risiko for langtidsledighed, så de får tilbud tidligt.",
            "how_it_works": "En model vurderer oplysninger fra registre om ledighed, alder og uddannelse.",
            "legal_basis": "Lov om en aktiv beskæftigelsesindsats.",
            "human_oversight": "En sagsbehandler træffer altid afgørelsen; borgeren kan klage.",
            "contact": "star@star.dk"}
    });
    let r = api(&p.authority).put(&format!("/api/v1/cases/{case}/plan"), &plan);
    assert_eq!(r.status, 200, "{}", r.text());
    s.goto(&format!("{base}/ui/cases"));
    logout(&s);

    // Anyone may read the published summary; it names no run, model or person.
    let anon = driver.session(WIDE.0, WIDE.1);
    for lang in ["da", "en"] {
        anon.goto(&format!("{base}/api/v1/public/cases/{case}/summary.html?lang={lang}"));
        anon.wait_for("#public-title", Duration::from_secs(10));
        assert!(anon.try_find("#public-draft").is_none());
        assert!(anon.find("#public-systems").text().contains("unemployment-logreg"));
        assert!(!anon.page_source().contains(&model_id));
        cam.shoot(&anon, &format!("public-summary-{lang}"));
    }
    drop(anon);

    // The advisor: the audit log, its verification and its filters; nothing to change, and
    // a change forced with a hand-made form is refused.
    login(&s, &base, &p.advisor, "Dorte Advisor", "advisor");
    s.find("a[href='/ui/audit']").click();
    s.wait_for("#chain-status", Duration::from_secs(10));
    assert!(
        s.find("#chain-status").text().contains("intact"),
        "{}",
        s.find("#chain-status").text()
    );
    let actions = texts(&s, "tr.entry td.mono");
    assert!(
        actions.iter().any(|a| a == "POST /ui/cases/{case}/models"),
        "{actions:?}"
    );
    assert!(actions.iter().any(|a| a == "POST /ui/runs"), "{actions:?}");
    cam.shoot(&s, "advisor-audit");
    s.find("#audit-filter select[name=actor]").select_by_value(&vendor_id);
    s.find("#audit-filter button").click();
    wait_url(&s, &format!("actor={vendor_id}"));
    assert!(s.url().contains(&format!("actor={vendor_id}")));
    let actors: Vec<String> = s
        .find_all("tr.entry")
        .iter()
        .map(|r| r.find_all("td")[2].text())
        .collect();
    assert!(!actors.is_empty());
    assert!(actors.iter().all(|a| a == "Vera Vendor"), "{actors:?}");
    cam.shoot(&s, "advisor-audit-filtered");
    s.goto(&format!("{base}/ui/cases/{case}"));
    assert!(s.try_find("#run-form").is_none());
    assert!(s.try_find("#upload-link").is_none());
    assert!(!s.page_source().contains("Change the criteria"));
    assert_eq!(s.find_all("tr.run").len(), 2);
    cam.shoot(&s, "advisor-case");
    s.goto(&run_url);
    assert!(s.try_find("#cancel").is_none());
    cam.shoot(&s, "advisor-run");
    // The advisor writes a finding (with a participant's hostile text), then reads the case's exit report in
    // both languages on screen and printed by Chromium to A4.
    let hostile = "<img src=x onerror=alert(1)> Udvælgelsesraten for kvinder er 0,74 af mænds.";
    let r = api(&p.advisor).post(
        &format!("/api/v1/cases/{case}/findings"),
        &json!({"target": {"kind": "case"}, "severity": "medium", "body": hostile}),
    );
    assert_eq!(r.status, 201, "{}", r.text());
    let sections = |l: &str| -> Vec<&'static str> {
        if l == "da" {
            vec![
                "Slutrapport",
                "Sammenfatning",
                "Deltagere",
                "Kørsler",
                "Isolation",
                "Fund og noter",
                "Tjekliste over krav",
                "Revisionslogens kontrolpunkt",
            ]
        } else {
            vec![
                "Exit report",
                "Summary",
                "Participants",
                "Runs",
                "Isolation",
                "Findings and notes",
                "Requirements checklist",
                "The audit log's checkpoint",
            ]
        }
    };
    let key = api(&p.advisor).get("/api/v1/audit/key").json()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    for lang in ["da", "en"] {
        s.goto(&format!("{base}/ui/cases/{case}"));
        s.find(&format!("#exit-report-{lang}")).click();
        wait_url(&s, &format!("/exit-report?lang={lang}"));
        assert_eq!(s.execute("return document.documentElement.lang", vec![]), json!(lang));
        assert!(s.find("#exit-title").text().starts_with(sections(lang)[0]));
        assert_eq!(
            s.find_all("#exit-runs table.exit-run").len(),
            2,
            "both runs of the case"
        );
        // The hostile finding is text on the page, not an element.
        assert!(s.find("#exit-findings").text().contains("<img src=x"));
        assert_eq!(
            s.execute("return document.querySelectorAll('img').length", vec![]),
            json!(0)
        );
        assert!(
            s.find("#exit-checkpoint").text().contains(&key),
            "the sandbox's public key is shown"
        );
        cam.shoot(&s, &format!("advisor-exit-report-{lang}"));
        let pdf = cam.dir.join(format!("exit-report-{lang}.pdf"));
        let bytes = s.print_pdf_a4();
        assert!(bytes.starts_with(b"%PDF-"), "Chromium printed no PDF");
        std::fs::write(&pdf, bytes).unwrap();
        let text = check_pdf(&pdf, &sections(lang));
        assert!(text.contains("Udvælgelsesraten for kvinder"), "the finding is printed");
    }
    s.goto(&run_url);
    let forced = r#"
        const f = document.createElement('form');
        f.method = 'post'; f.action = '/ui/runs';
        for (const [k, v] of Object.entries({csrf: document.querySelector('input[name=csrf]').value, model_id: arguments[0], rows: '1000'})) {
          const i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = v; f.appendChild(i);
        }
        document.body.appendChild(f); f.submit();
    "#;
    s.execute(forced, vec![Value::from(model_id.clone())]);
    s.wait_for("#error-title", Duration::from_secs(10));
    refused(&s, "Not allowed");
    assert!(s.find("#error-message").text().contains("starting a run"));
    cam.shoot(&s, "advisor-run-refused");
    logout(&s);

    // The admin sees every case and the audit log.
    login(&s, &base, &p.admin, "Adam Admin", "admin");
    assert!(s.try_find("a[href='/ui/audit']").is_some());
    s.goto(&format!("{base}/ui/runs"));
    assert_eq!(s.find_all("tr.run").len(), 2);
    cam.shoot(&s, "admin-runs");
    logout(&s);

    // The advisor's refused run left no run behind.
    let runs = api(&p.admin).get("/api/v1/runs").json();
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs}");
    println!("screenshots: {} ({} pages × 2 widths)", cam.dir.display(), cam.n);
}
