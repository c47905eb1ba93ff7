//! Browser sessions: a login trades the API token for a random session id kept in an
//! HttpOnly, SameSite=Strict cookie, so the long-lived token never sits in the browser and
//! logging out really ends the session.
//!
//! Sessions live in this process's memory: a restart logs everyone out, and several API
//! processes behind one balancer need sticky sessions. Each session carries its own CSRF
//! secret, which every form repeats in a hidden field.

use crate::policy::Caller;
use axum::http::{HeaderMap, header};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The cookie's name.
pub const COOKIE: &str = "sandkasse_session";

/// A session ends this long after login, however busy.
const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);
/// A session ends after this long without a request.
const IDLE: Duration = Duration::from_secs(2 * 3600);
/// Sessions one user may hold at once; a further login ends that user's oldest, so nobody
/// can crowd out anyone else's sessions by logging in again and again.
const MAX_PER_USER: usize = 20;
/// Live sessions in all; beyond this the oldest are dropped first.
const MAX_SESSIONS: usize = 10_000;

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    /// Repeated by every form as `csrf`.
    pub csrf: String,
    created: Instant,
    seen: Instant,
}

/// All live sessions, keyed by the SHA-256 of the cookie's value (so the map holds no
/// usable secret).
#[derive(Default)]
pub struct Sessions(Mutex<HashMap<String, Session>>);

fn key(id: &str) -> String {
    store::Digest::of(id.as_bytes()).as_str().to_owned()
}

/// 256 random bits as hex.
fn secret() -> String {
    let mut bytes = [0u8; 32];
    // Without the OS RNG no session can be safe; this is not caused by input.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Sessions {
    /// Starts a session for `caller`; returns the cookie value.
    pub fn create(&self, caller: Caller) -> String {
        let id = secret();
        let now = Instant::now();
        let session = Session {
            caller,
            csrf: secret(),
            created: now,
            seen: now,
        };
        if let Ok(mut map) = self.0.lock() {
            map.retain(|_, s| live(s, now));
            let user = &session.caller.user.id;
            let mut mine: Vec<(Instant, String)> = map
                .iter()
                .filter(|(_, s)| &s.caller.user.id == user)
                .map(|(k, s)| (s.created, k.clone()))
                .collect();
            if mine.len() >= MAX_PER_USER {
                mine.sort();
                for (_, k) in &mine[..=mine.len() - MAX_PER_USER] {
                    map.remove(k);
                }
            }
            if map.len() >= MAX_SESSIONS
                && let Some(oldest) = map.iter().min_by_key(|(_, s)| s.created).map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
            map.insert(key(&id), session);
        }
        id
    }

    /// The live session of a cookie value, touched.
    pub fn get(&self, id: &str) -> Option<Session> {
        if id.len() != 64 {
            return None;
        }
        let now = Instant::now();
        let mut map = self.0.lock().ok()?;
        let k = key(id);
        match map.get_mut(&k) {
            Some(s) if live(s, now) => {
                s.seen = now;
                Some(s.clone())
            }
            Some(_) => {
                map.remove(&k);
                None
            }
            None => None,
        }
    }

    pub fn remove(&self, id: &str) {
        if let Ok(mut map) = self.0.lock() {
            map.remove(&key(id));
        }
    }
}

fn live(s: &Session, now: Instant) -> bool {
    now.duration_since(s.created) < ABSOLUTE && now.duration_since(s.seen) < IDLE
}

/// The session cookie's value in a request, if any.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// Whether the browser reached us over TLS: directly is not possible (the server speaks
/// plain HTTP), so this trusts a TLS-terminating proxy's `X-Forwarded-Proto`, or the
/// operator's `--secure-cookies`.
pub fn over_tls(headers: &HeaderMap, forced: bool) -> bool {
    forced
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// `Set-Cookie` for a new session.
pub fn set_cookie(id: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={id}; Path=/ui; HttpOnly; SameSite=Strict; Max-Age={}{}",
        ABSOLUTE.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// `Set-Cookie` that makes the browser forget the session.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/ui; HttpOnly; SameSite=Strict; Max-Age=0{}",
        if secure { "; Secure" } else { "" }
    )
}

/// Whether a form post comes from our own pages. A browser that sends `Sec-Fetch-Site`
/// (every current one) is believed: no page can set it. Otherwise `Origin`, when sent, must
/// name this host as the client asked for it (`X-Forwarded-Host` from a proxy that rewrites
/// `Host`, or `Host`). The CSRF field is checked as well.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = text("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    match text("origin") {
        None => true,
        Some(origin) => {
            let authority = origin.split_once("://").map_or(origin, |(_, rest)| rest);
            [text("x-forwarded-host"), text("host")]
                .into_iter()
                .flatten()
                .any(|h| h.eq_ignore_ascii_case(authority))
        }
    }
}

/// Compares two secrets in time independent of where they differ.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_cookie_is_found_among_others_and_only_by_its_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; xsandkasse_session=evil; sandkasse_session=abc; b=2"),
        );
        assert_eq!(cookie(&h), Some("abc"));
        h.insert(header::COOKIE, HeaderValue::from_static("other=1"));
        assert_eq!(cookie(&h), None);
    }

    #[test]
    fn cross_site_posts_are_told_apart_from_our_own() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(
            same_origin(&h),
            "no Origin and no Sec-Fetch-Site: an old browser or a tool"
        );
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&h));
        // Behind a proxy that rewrites Host: the forwarded host, or the browser's own word.
        h.insert(header::ORIGIN, HeaderValue::from_static("https://sandkasse.example"));
        h.insert("x-forwarded-host", HeaderValue::from_static("sandkasse.example"));
        assert!(same_origin(&h));
        h.remove("x-forwarded-host");
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        assert!(same_origin(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(!same_origin(&h));
        h.insert("sec-fetch-site", HeaderValue::from_static("same-site"));
        assert!(!same_origin(&h), "a sibling subdomain is another site here");
    }

    fn caller(user: &str) -> Caller {
        use store::meta::{Org, OrgKind, Role, User};
        let org = Org {
            id: store::OrgId::generate(),
            name: "Org".into(),
            kind: OrgKind::Vendor,
        };
        Caller {
            user: User {
                id: store::UserId::parse(user).unwrap(),
                org_id: org.id.clone(),
                name: "U".into(),
                role: Role::Vendor,
                created_at: store::Timestamp::now(),
            },
            org,
        }
    }

    #[test]
    fn a_user_holds_at_most_a_few_sessions_and_others_keep_theirs() {
        let sessions = Sessions::default();
        let (a, b) = ("a".repeat(32), "b".repeat(32));
        let theirs = sessions.create(caller(&b));
        let first = sessions.create(caller(&a));
        let mut last = String::new();
        for _ in 0..MAX_PER_USER + 5 {
            last = sessions.create(caller(&a));
        }
        assert!(sessions.get(&first).is_none(), "the oldest of a's sessions is gone");
        assert!(sessions.get(&last).is_some());
        assert!(sessions.get(&theirs).is_some(), "b's session is untouched");
        let held = sessions
            .0
            .lock()
            .unwrap()
            .values()
            .filter(|s| s.caller.user.id.as_str() == a)
            .count();
        assert_eq!(held, MAX_PER_USER);
        sessions.remove(&last);
        assert!(sessions.get(&last).is_none());
        assert!(sessions.get("short").is_none());
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        let now = Instant::now();
        let at = |ago: Duration| now.checked_sub(ago).unwrap();
        let s = |created, seen| Session {
            caller: caller(&"c".repeat(32)),
            csrf: String::new(),
            created,
            seen,
        };
        let hour = Duration::from_secs(3600);
        assert!(live(&s(at(hour), now), now));
        assert!(!live(&s(at(hour * 3), at(IDLE + Duration::from_secs(1))), now), "idle");
        assert!(
            !live(&s(at(ABSOLUTE + Duration::from_secs(1)), now), now),
            "old, however busy"
        );
    }

    #[test]
    fn secrets_compare_by_content_and_length() {
        assert!(secrets_equal("abcd", "abcd"));
        assert!(!secrets_equal("abcd", "abce"));
        assert!(!secrets_equal("abcd", "abc"));
    }

    #[test]
    fn cookies_are_httponly_strict_and_secure_only_over_tls() {
        let c = set_cookie("x", false);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"));
        assert!(set_cookie("x", true).ends_with("; Secure"));
        let mut h = HeaderMap::new();
        assert!(!over_tls(&h, false));
        assert!(over_tls(&h, true));
        h.insert("x-forwarded-proto", HeaderValue::from_static("https"));
        assert!(over_tls(&h, false));
    }
}
