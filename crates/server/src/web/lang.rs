//! Which language a page is in: the language switch's cookie when the browser has one, else
//! the browser's `Accept-Language`, else English. The switch (`GET /ui/lang/{da|en}`) sets
//! the cookie and sends the browser back to the page it was on.

use super::auth::safe_next;
use super::session;
use super::text::{Lang, Words};
use super::{PageError, PageResult, see_other};
use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::{HeaderMap, Method, Uri, header, request::Parts};
use serde::Deserialize;

/// The cookie's name.
pub const COOKIE: &str = "sandkasse_lang";

/// How long the choice is remembered: a year.
const MAX_AGE_SECS: u64 = 365 * 24 * 3600;

/// At most this many languages of an `Accept-Language` are read (browsers send a handful).
const MAX_RANGES: usize = 32;

/// The language a request's pages are in.
pub fn chosen(headers: &HeaderMap) -> Lang {
    session::cookie_named(headers, COOKIE)
        .and_then(code)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(from_accept_language)
        })
        .unwrap_or(Lang::En)
}

/// Exactly `da` or `en`: the cookie's and the switch's values.
fn code(s: &str) -> Option<Lang> {
    match s {
        "da" => Some(Lang::Da),
        "en" => Some(Lang::En),
        _ => None,
    }
}

/// The supported language the browser weighs highest (`da`, `da-DK`, `en-GB`, … by their
/// primary tag; the first of equal weights); `None` if it names neither, or only with
/// weight 0 (which means "not this one").
pub fn from_accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(u16, Lang)> = None;
    for range in header.split(',').take(MAX_RANGES) {
        let mut parts = range.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let primary = tag.split('-').next().unwrap_or_default().to_ascii_lowercase();
        let Some(lang) = code(&primary) else { continue };
        let mut weight = 1000;
        for p in parts {
            if let Some(q) = p.trim().strip_prefix("q=").or_else(|| p.trim().strip_prefix("Q=")) {
                weight = quality(q.trim()).unwrap_or(0);
            }
        }
        if weight > 0 && best.is_none_or(|(w, _)| weight > w) {
            best = Some((weight, lang));
        }
    }
    best.map(|(_, l)| l)
}

/// A quality value (`0`, `0.8`, `1.000`) in thousandths; `None` if it is not one.
fn quality(q: &str) -> Option<u16> {
    let (whole, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{frac:0<3}").parse::<u16>().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The page to come back to after switching: this page for a `GET`; after a post (whose
/// address may have no page), the page the form was on, from `Referer` (our pages send it
/// to ourselves only); else the cases.
fn here(method: &Method, uri: &Uri, headers: &HeaderMap) -> String {
    let candidate = if *method == Method::GET || *method == Method::HEAD {
        uri.path_and_query().map(|p| p.as_str().to_owned())
    } else {
        headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .map(|r| match r.split_once("://") {
                Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]).to_owned(),
                None => r.to_owned(),
            })
    };
    safe_next(candidate.as_deref()).to_owned()
}

impl Words {
    /// The words of a request's page.
    pub fn of(method: &Method, uri: &Uri, headers: &HeaderMap) -> Self {
        Self {
            lang: chosen(headers),
            here: here(method, uri, headers),
        }
    }

    /// The switch's address for `lang`, returning here.
    pub fn switch_to(&self, lang: Lang) -> String {
        format!("/ui/lang/{}?next={}", lang.code(), super::encode(&self.here))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Words {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Words::of(&parts.method, &parts.uri, &parts.headers))
    }
}

/// `Set-Cookie` remembering a language: for the pages only, out of scripts' reach, sent on
/// a link from another site (it is no credential; `Lax` lets such a link land in the
/// chosen language), `Secure` exactly when the session cookie is.
pub fn set_cookie(lang: Lang, secure: bool) -> String {
    format!(
        "{COOKIE}={}; Path=/ui; HttpOnly; SameSite=Lax; Max-Age={MAX_AGE_SECS}{}",
        lang.code(),
        if secure { "; Secure" } else { "" }
    )
}

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// `GET /ui/lang/{da|en}?next=/ui/…`: remembers the language and goes back to `next` (a
/// local page, else the cases).
pub async fn switch(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(lang): Path<String>,
    q: Result<Query<Next>, QueryRejection>,
) -> PageResult {
    let Some(lang) = code(&lang) else {
        return Err(PageError(ApiError::not_found(
            "language",
            &lang.chars().take(20).collect::<String>(),
        )));
    };
    // A malformed query only loses the place to return to.
    let next = q.map_or(None, |Query(q)| q.next);
    let mut r = see_other(safe_next(next.as_deref()));
    let secure = session::over_tls(&headers, state.config.secure_cookies);
    r.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(lang, secure)
            .parse()
            .map_err(|_| ApiError::internal("the language cookie"))?,
    );
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn accept_language_is_read_by_weight_and_primary_tag() {
        let l = from_accept_language;
        assert_eq!(l("da-DK,da;q=0.9,en;q=0.8"), Some(Lang::Da));
        assert_eq!(l("en-GB,en;q=0.9,da;q=0.8"), Some(Lang::En));
        assert_eq!(l("de-DE, da;q=0.5, en;q=0.7"), Some(Lang::En));
        assert_eq!(l("en;q=0.5, DA-dk;q=0.6"), Some(Lang::Da));
        assert_eq!(l("da;q=0, en;q=0.1"), Some(Lang::En), "q=0 means not this one");
        assert_eq!(l("da;q=0"), None);
        assert_eq!(l("nb, sv, de"), None, "neither: the caller's default");
        assert_eq!(l("*"), None);
        assert_eq!(l(""), None);
        assert_eq!(
            l("da;q=2, en;q=0.3"),
            Some(Lang::En),
            "a weight that is none counts as 0"
        );
        assert_eq!(l("en, da"), Some(Lang::En), "the first of equal weights");
        assert_eq!(l("danish, en;q=0.1"), Some(Lang::En), "not a tag for Danish");
    }

    #[test]
    fn the_cookie_wins_over_the_header_and_english_is_the_default() {
        let mut h = HeaderMap::new();
        assert_eq!(chosen(&h), Lang::En);
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("da"));
        assert_eq!(chosen(&h), Lang::Da);
        h.insert(header::COOKIE, HeaderValue::from_static("sandkasse_lang=en"));
        assert_eq!(chosen(&h), Lang::En);
        h.insert(header::COOKIE, HeaderValue::from_static("sandkasse_lang=xx"));
        assert_eq!(chosen(&h), Lang::Da, "a cookie that names no language is ignored");
    }

    #[test]
    fn the_switch_returns_to_this_page_or_the_form_it_came_from() {
        let get = |u: &str| here(&Method::GET, &u.parse().unwrap(), &HeaderMap::new());
        assert_eq!(get("/ui/runs?state=failed"), "/ui/runs?state=failed");
        assert_eq!(get("/ui/login?next=/ui/audit"), "/ui/login?next=/ui/audit");
        let mut h = HeaderMap::new();
        let post = |h: &HeaderMap| here(&Method::POST, &"/ui/runs".parse().unwrap(), h);
        assert_eq!(post(&h), "/ui/cases");
        h.insert(
            header::REFERER,
            HeaderValue::from_static("http://127.0.0.1:8080/ui/cases/abc"),
        );
        assert_eq!(post(&h), "/ui/cases/abc");
        h.insert(header::REFERER, HeaderValue::from_static("https://evil.example//x"));
        assert_eq!(post(&h), "/ui/cases");
        let w = Words {
            lang: Lang::En,
            here: "/ui/runs?state=failed".into(),
        };
        assert_eq!(w.switch_to(Lang::Da), "/ui/lang/da?next=/ui/runs%3Fstate%3Dfailed");
        let c = set_cookie(Lang::Da, true);
        assert!(c.starts_with("sandkasse_lang=da; Path=/ui; HttpOnly; SameSite=Lax; Max-Age="));
        assert!(c.ends_with("; Secure") && !set_cookie(Lang::En, false).contains("Secure"));
    }
}
