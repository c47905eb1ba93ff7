//! Browser sessions: a login trades the API token for a random session id kept in an
//! HttpOnly, SameSite=Strict cookie, so the long-lived token never sits in the browser and
//! logging out really ends the session.
//!
//! Sessions are kept in the store (only the SHA-256 of the cookie's value), so a restart
//! logs nobody out and every API process on the same database knows every session. Each
//! session carries its own CSRF secret, which every form repeats in a hidden field.

use crate::middleware::Audit;
use crate::policy::Caller;
use axum::http::{HeaderMap, header};
use std::time::Duration;
use store::NewSession;
use store::{Digest, Store, StoreError, Timestamp};

/// The cookie's name.
pub const COOKIE: &str = "sandkasse_session";

/// A session ends this long after login, however busy.
const ABSOLUTE: Duration = Duration::from_secs(12 * 3600);
/// A session ends after this long without a request.
const IDLE: Duration = Duration::from_secs(2 * 3600);
/// How stale the stored last use may get before a request writes it again: a page view is a
/// read, and writing on every one would serialise page views behind SQLite's one writer.
/// The idle limit is thereby kept to within this much.
const TOUCH_AFTER: Duration = Duration::from_secs(60);
/// Sessions one user may hold at once; a further login ends that user's oldest, so nobody
/// can crowd the table by logging in again and again. Users are made by an admin, so this
/// bounds the table too.
const MAX_PER_USER: u32 = 20;

/// One logged-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub caller: Caller,
    /// Repeated by every form as `csrf`.
    pub csrf: String,
}

fn key(id: &str) -> Digest {
    Digest::of(id.as_bytes())
}

/// 256 random bits as hex.
fn secret() -> String {
    let mut bytes = [0u8; 32];
    // Without the OS RNG no session can be safe; this is not caused by input.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator failed");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts a session for `caller`, committed with the login's audit entry; returns the cookie
/// value. Expired sessions of everyone are cleared first (housekeeping, not the login's
/// change), so the table holds live sessions and little else.
pub async fn start(store: &Store, caller: &Caller, audit: Audit<'_>) -> Result<String, StoreError> {
    store
        .end_sessions_before(&Timestamp::ago(ABSOLUTE), &Timestamp::ago(IDLE))
        .await?;
    let (id, csrf) = (secret(), secret());
    let new = NewSession {
        key: &key(&id),
        user: &caller.user.id,
        csrf: &csrf,
        keep_per_user: MAX_PER_USER,
    };
    let audit = audit.by(caller);
    audit
        .commit(store.create_session_audited(new, audit.entry("session", None)))
        .await?;
    Ok(id)
}

/// The live session of a cookie value, if any; records its use.
pub async fn find(store: &Store, id: &str) -> Result<Option<Session>, StoreError> {
    if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let k = key(id);
    let Some(s) = store.session(&k).await? else {
        return Ok(None);
    };
    if !live(
        &s.created_at,
        &s.seen_at,
        &Timestamp::ago(ABSOLUTE),
        &Timestamp::ago(IDLE),
    ) {
        store.end_session(&k).await?;
        return Ok(None);
    }
    if s.seen_at < Timestamp::ago(TOUCH_AFTER) {
        store.touch_session(&k, &Timestamp::now()).await?;
    }
    Ok(Some(Session {
        caller: Caller {
            user: s.user,
            org: s.org,
        },
        csrf: s.csrf,
    }))
}

/// Ends the session of a cookie value, in every process, committed with the logout's audit
/// entry.
pub async fn end(store: &Store, id: &str, audit: Audit<'_>) -> Result<(), StoreError> {
    audit
        .commit(store.end_session_audited(&key(id), audit.entry("session", None)))
        .await
        .map(|_| ())
}

/// A session is live if it was made after `made_after` and used after `used_after`.
fn live(created: &Timestamp, seen: &Timestamp, made_after: &Timestamp, used_after: &Timestamp) -> bool {
    created > made_after && seen > used_after
}

/// The session cookie's value in a request, if any.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    cookie_named(headers, COOKIE)
}

/// The value of the cookie called exactly `name` in a request, if any.
pub fn cookie_named<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
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

    #[test]
    fn sessions_end_when_idle_or_old() {
        let t = |s: &str| Timestamp::parse(s).unwrap();
        let (made_after, used_after) = (t("2026-11-24T06:00:00Z"), t("2026-11-24T16:00:00Z"));
        let live_at = |created: &str, seen: &str| live(&t(created), &t(seen), &made_after, &used_after);
        assert!(live_at("2026-11-24T07:00:00Z", "2026-11-24T17:00:00Z"));
        assert!(!live_at("2026-11-24T07:00:00Z", "2026-11-24T15:59:59Z"), "idle");
        assert!(
            !live_at("2026-11-24T05:59:59Z", "2026-11-24T17:00:00Z"),
            "old, however busy"
        );
        assert!(
            !live_at("2026-11-24T06:00:00Z", "2026-11-24T17:00:00Z"),
            "the limit itself is out"
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
