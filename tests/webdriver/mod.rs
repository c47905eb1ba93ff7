//! A small synchronous W3C WebDriver client for the browser tests: it starts Debian's
//! `chromedriver` (see `scripts/browser.sh`) and drives headless Chromium through it.
//!
//! Every command panics with WebDriver's own error message when it fails, so a test reads as a
//! plain script.
// Each test binary that includes this module uses only part of its API.
#![allow(dead_code)]

use base64::Engine;
use serde_json::{Value, json};
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The W3C "web element identifier": the key under which WebDriver sends an element reference.
pub const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn by_css(css: &str) -> Option<Value> {
    Some(json!({"using": "css selector", "value": css}))
}

fn string(v: Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

/// A running chromedriver and the HTTP agent that talks to it; the process is killed when the
/// last `Driver`, `Session` or `Element` that shares it is dropped.
struct Conn {
    agent: ureq::Agent,
    base: String,
    child: Child,
    logs: tempfile::TempDir,
}

impl Conn {
    /// Sends one command and returns the answer's `value`, or WebDriver's error as `Err`.
    fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.base);
        let answer = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            "POST" => self.agent.post(&url).send_json(body.unwrap_or_else(|| json!({}))),
            other => panic!("unsupported method {other}"),
        };
        let mut answer = answer.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = answer.status();
        let bytes = answer.body_mut().with_config().limit(1 << 30).read_to_vec();
        let bytes = bytes.map_err(|e| format!("{method} {path}: {e}"))?;
        let mut v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{method} {path}: {e}: {}", String::from_utf8_lossy(&bytes)))?;
        let value = v["value"].take();
        match value["error"].as_str() {
            Some(error) => {
                let message = value["message"].as_str().unwrap_or_default();
                Err(format!("{method} {path}: {error}: {message}"))
            }
            None if !status.is_success() => Err(format!("{method} {path}: HTTP {status}: {v}")),
            None => Ok(value),
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_call(method, path, body)
            .unwrap_or_else(|e| panic!("WebDriver: {e}"))
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A chromedriver process on a free local port.
pub struct Driver {
    conn: Arc<Conn>,
}

impl Driver {
    /// Starts `chromedriver` and waits (20 s at most) until it says it is ready.
    pub fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let logs = tempfile::tempdir().unwrap();
        let log = File::create(logs.path().join("chromedriver.log")).unwrap();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("chromedriver is not on PATH: run scripts/browser.sh");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let mut conn = Conn {
            agent,
            base: format!("http://127.0.0.1:{port}"),
            child,
            logs,
        };
        let t = Instant::now();
        while !conn.try_call("GET", "/status", None).is_ok_and(|s| s["ready"] == true) {
            let exited = conn.child.try_wait().unwrap();
            if exited.is_some() || t.elapsed() > Duration::from_secs(20) {
                let log = std::fs::read_to_string(conn.logs.path().join("chromedriver.log"));
                panic!("chromedriver not ready ({exited:?}): {}", log.unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Driver { conn: Arc::new(conn) }
    }

    /// A new headless Chromium window of `width`×`height` with a fresh profile.
    pub fn session(&self, width: u32, height: u32) -> Session {
        let profile = tempfile::tempdir().unwrap();
        let mut options = json!({"args": [
            "--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
            format!("--window-size={width},{height}"),
            format!("--user-data-dir={}", profile.path().display()),
        ]});
        if Path::new("/usr/bin/chromium").exists() {
            options["binary"] = json!("/usr/bin/chromium");
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "timeouts": {"pageLoad": 60_000, "script": 30_000},
        }}});
        let v = self.conn.call("POST", "/session", Some(caps));
        let id = v["sessionId"].as_str().expect("no sessionId").to_owned();
        Session {
            conn: self.conn.clone(),
            path: format!("/session/{id}"),
            _profile: profile,
        }
    }
}

/// One browser window; deleted (and Chromium closed) on drop.
pub struct Session {
    conn: Arc<Conn>,
    path: String,
    _profile: tempfile::TempDir,
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.conn.try_call("DELETE", &self.path, None);
    }
}

impl Session {
    fn cmd(&self, method: &str, what: &str, body: Option<Value>) -> Value {
        self.conn.call(method, &format!("{}{what}", self.path), body)
    }

    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url})));
    }

    pub fn url(&self) -> String {
        string(self.cmd("GET", "/url", None))
    }

    pub fn title(&self) -> String {
        string(self.cmd("GET", "/title", None))
    }

    pub fn back(&self) {
        self.cmd("POST", "/back", None);
    }

    pub fn refresh(&self) {
        self.cmd("POST", "/refresh", None);
    }

    pub fn page_source(&self) -> String {
        string(self.cmd("GET", "/source", None))
    }

    /// The page's cookies, as WebDriver describes them (`name`, `value`, `httpOnly`, …).
    pub fn cookies(&self) -> Vec<Value> {
        self.cmd("GET", "/cookie", None).as_array().cloned().unwrap_or_default()
    }

    /// Every element that matches the CSS selector, in document order.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self.cmd("POST", "/elements", by_css(css));
        Element::all(&self.conn, &self.path, found)
    }

    pub fn try_find(&self, css: &str) -> Option<Element> {
        self.find_all(css).into_iter().next()
    }

    /// The first element that matches, waiting up to 10 s for it: after a click the browser may
    /// still be loading the next page (the CI run of 7f3b51e looked for the login error before
    /// the answer to the form was parsed). Panics, naming the selector, the page and what it
    /// shows, if none appears.
    pub fn find(&self, css: &str) -> Element {
        let t = Instant::now();
        loop {
            if let Some(e) = self.try_find(css) {
                return e;
            }
            if t.elapsed() > Duration::from_secs(10) {
                let shown = self.execute("return document.body ? document.body.innerText : ''", vec![]);
                let shown: String = shown.as_str().unwrap_or_default().chars().take(600).collect();
                panic!(
                    "no element {css:?} on {} after 10 s; the page shows: {shown}",
                    self.url()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls until an element matches the selector.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Element {
        let mut found = None;
        self.wait_until(
            |s| {
                found = s.try_find(css);
                found.is_some()
            },
            timeout,
            css,
        );
        found.unwrap()
    }

    /// Polls `done` every 100 ms; panics naming `what` and the page after `timeout`.
    pub fn wait_until(&self, mut done: impl FnMut(&Session) -> bool, timeout: Duration, what: &str) {
        let t = Instant::now();
        while !done(self) {
            assert!(t.elapsed() < timeout, "waited {timeout:?} for {what} on {}", self.url());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs a script's body synchronously (`arguments[i]` are `args`; pass elements with
    /// [`Element::json`]) and returns what it returns.
    pub fn execute(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd("POST", "/execute/sync", Some(json!({"script": script, "args": args})))
    }

    /// The visible part of the page as a PNG.
    pub fn screenshot_png(&self) -> Vec<u8> {
        let b64 = self.cmd("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .unwrap()
    }

    pub fn save_screenshot(&self, path: impl AsRef<Path>) {
        std::fs::write(path, self.screenshot_png()).unwrap();
    }

    /// The page printed by Chromium to PDF on A4 paper (21 × 29.7 cm, the W3C print command's units), with
    /// backgrounds, as a person would print it with the browser's own print dialogue.
    pub fn print_pdf_a4(&self) -> Vec<u8> {
        let body = json!({"page": {"width": 21.0, "height": 29.7}, "background": true,
            "orientation": "portrait", "shrinkToFit": true});
        let b64 = self.cmd("POST", "/print", Some(body));
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .unwrap()
    }

    /// Makes the screen `width`×`height` CSS pixels (a phone, below 600 px wide), through
    /// Chromium's DevTools device emulation, which stays for later pages in this window.
    /// Returns the page's `[innerWidth, innerHeight]` afterwards: on a phone-sized screen a
    /// page wider than the screen is zoomed out, so its inner width comes back larger.
    pub fn set_viewport(&self, width: u32, height: u32) -> Value {
        let params = json!({"width": width, "height": height, "deviceScaleFactor": 1,
            "mobile": width < 600});
        let cdp = json!({"cmd": "Emulation.setDeviceMetricsOverride", "params": params});
        self.cmd("POST", "/goog/cdp/execute", Some(cdp));
        self.execute("return [window.innerWidth, window.innerHeight]", vec![])
    }
}

/// An element of the page.
pub struct Element {
    conn: Arc<Conn>,
    session: String,
    id: String,
}

impl Element {
    /// The elements of a find command's answer.
    fn all(conn: &Arc<Conn>, session: &str, found: Value) -> Vec<Element> {
        let found = found.as_array().cloned().unwrap_or_default();
        let element = |e: &Value| {
            let id = e[ELEMENT].as_str().unwrap_or_else(|| panic!("not an element: {e}"));
            let (conn, session, id) = (conn.clone(), session.to_owned(), id.to_owned());
            Element { conn, session, id }
        };
        found.iter().map(element).collect()
    }

    fn cmd(&self, method: &str, what: &str, body: Option<Value>) -> Value {
        let path = format!("{}/element/{}{what}", self.session, self.id);
        self.conn.call(method, &path, body)
    }

    /// The element as a script argument for [`Session::execute`].
    pub fn json(&self) -> Value {
        json!({ ELEMENT: self.id })
    }

    pub fn click(&self) {
        self.cmd("POST", "/click", None);
    }

    /// Types `text`; for an `<input type=file>`, an absolute path selects that file.
    pub fn send_keys(&self, text: &str) {
        self.cmd("POST", "/value", Some(json!({"text": text})));
    }

    pub fn clear(&self) {
        self.cmd("POST", "/clear", None);
    }

    /// The rendered text, as a person sees it.
    pub fn text(&self) -> String {
        string(self.cmd("GET", "/text", None))
    }

    /// The HTML attribute, if the element has it.
    pub fn attr(&self, name: &str) -> Option<String> {
        self.cmd("GET", &format!("/attribute/{name}"), None)
            .as_str()
            .map(str::to_owned)
    }

    /// The DOM property (e.g. `value`, `checked`).
    pub fn property(&self, name: &str) -> Value {
        self.cmd("GET", &format!("/property/{name}"), None)
    }

    pub fn is_displayed(&self) -> bool {
        self.cmd("GET", "/displayed", None) == true
    }

    /// Every matching descendant.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let found = self.cmd("POST", "/elements", by_css(css));
        Element::all(&self.conn, &self.session, found)
    }

    /// The first matching descendant; panics naming the selector and the page if none.
    pub fn find(&self, css: &str) -> Element {
        self.find_all(css).into_iter().next().unwrap_or_else(|| {
            let url = string(self.conn.call("GET", &format!("{}/url", self.session), None));
            panic!("no element {css:?} inside element {} on {url}", self.id)
        })
    }

    /// Picks the `<option>` of this `<select>` whose value is `value`.
    pub fn select_by_value(&self, value: &str) {
        let quoted = value.replace('\\', "\\\\").replace('"', "\\\"");
        self.find(&format!("option[value=\"{quoted}\"]")).click();
    }
}
