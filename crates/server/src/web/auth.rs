//! Logging in with an API token and logging out.

use super::layout::{self, Nav};
use super::session::{self, Session};
use super::text::{T, Words};
use super::{CsrfOnly, PageError, PageResult, bad_form, check_form, see_other};
use crate::error::ApiError;
use crate::middleware::{AuditContext, AuditObject};
use crate::state::AppState;
use axum::Form;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::{Markup, html};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only our own pages are places to return to (no open redirect).
pub(super) fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with("/ui/") && n.len() <= 500 && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\') => {
            n
        }
        _ => "/ui/cases",
    }
}

fn login_form(w: &Words, next: &str, error: Option<&str>) -> Markup {
    layout::page(
        w,
        w.t(T::LogIn),
        None,
        Nav::None,
        None,
        html! {
            h1 { (w.t(T::LogIn)) }
            p.muted { (w.t(T::LoginIntro)) }
            @if let Some(e) = error {
                div.notice.bad #login-error role="alert" { (e) }
            }
            form.stack method="post" action="/ui/login" {
                input type="hidden" name="next" value=(next);
                label { (w.t(T::Token))
                    input #token type="password" name="token" autocomplete="current-password" required maxlength="200";
                }
                div { button #login type="submit" { (w.t(T::LogIn)) } }
            }
        },
    )
}

pub async fn login_page(w: Words, session: Option<Session>, q: Result<Query<Next>, QueryRejection>) -> Response {
    // A malformed query only loses the place to return to.
    let q = q.map_or(Next { next: None }, |Query(q)| q);
    let next = safe_next(q.next.as_deref());
    if session.is_some() {
        return see_other(next);
    }
    login_form(&w, next, None).into_response()
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    w: Words,
    audit: AuditContext,
    form: Result<Form<LoginForm>, FormRejection>,
) -> PageResult {
    if !session::same_origin(&headers) {
        return Err(PageError(ApiError::forbidden(
            "a login must come from this site's own form",
        )));
    }
    let Form(form) = form.map_err(bad_form)?;
    let next = safe_next(form.next.as_deref()).to_owned();
    let token = form.token.trim();
    let caller = if token.is_empty() || token.len() > 200 {
        None
    } else {
        crate::middleware::lookup(&state, token).await?
    };
    let Some(caller) = caller else {
        let mut r = (
            StatusCode::UNAUTHORIZED,
            login_form(&w, &next, Some(w.t(T::TokenInvalid))),
        )
            .into_response();
        r.extensions_mut().insert(AuditObject("session".into()));
        return Ok(r);
    };
    let secure = session::over_tls(&headers, state.config.secure_cookies);
    let id = session::start(&state.store, &caller, audit.on_success(StatusCode::SEE_OTHER)).await?;
    let mut r = see_other(&next);
    r.headers_mut().insert(
        header::SET_COOKIE,
        session::set_cookie(&id, secure)
            .parse()
            .map_err(|_| ApiError::internal("the session cookie"))?,
    );
    Ok(r)
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    audit: AuditContext,
    session: Session,
    form: Result<Form<CsrfOnly>, FormRejection>,
) -> PageResult {
    let Form(form) = form.map_err(bad_form)?;
    check_form(&headers, &session, &form.csrf)?;
    if let Some(id) = session::cookie(&headers) {
        session::end(&state.store, id, audit.on_success(StatusCode::SEE_OTHER)).await?;
    }
    let secure = session::over_tls(&headers, state.config.secure_cookies);
    let mut r = see_other("/ui/login");
    r.headers_mut().insert(
        header::SET_COOKIE,
        session::clear_cookie(secure)
            .parse()
            .map_err(|_| ApiError::internal("the session cookie"))?,
    );
    r.extensions_mut().insert(AuditObject("session".into()));
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_our_own_pages_are_returned_to() {
        assert_eq!(safe_next(Some("/ui/runs/abc")), "/ui/runs/abc");
        for bad in [
            "https://evil.example/",
            "//evil.example/ui/",
            "/api/v1/me",
            "/ui\\x",
            "/ui/\\evil.example",
            "/ui/\nSet-Cookie: x=1",
            "/ui/ x",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/ui/cases", "{bad}");
        }
        assert_eq!(safe_next(None), "/ui/cases");
    }
}
