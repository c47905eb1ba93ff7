//! The frame every page shares: head, navigation for what the role may use, the stylesheet.

use super::session::Session;
use super::text::{Lang, T, Words};
use maud::{DOCTYPE, Markup, html};

/// The stylesheet, served as `/ui/assets/style.css` so the pages' policy can forbid inline
/// style and script alike. Small screens get one column and tables that scroll sideways
/// inside their own box instead of widening the page.
pub const STYLE: &str = r#"
article.finding { border-left: 3px solid #8a8a8a; padding: 0.2em 0.8em; margin: 0.6em 0; }
article.finding[data-severity="medium"] { border-color: #b26b00; }
article.finding[data-severity="high"] { border-color: #b00020; }
.finding-body { white-space: pre-wrap; }
:root { --fg:#1b1f24; --muted:#59636e; --line:#d0d7de; --bg:#f6f8fa; --accent:#0b5cad;
  --pass:#1a7f37; --fail:#cf222e; --warn:#9a6700; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
* { box-sizing: border-box; }
body { margin:0; color:var(--fg); background:#fff; line-height:1.45; font-size:16px; }
header.top { background:#12355b; color:#fff; }
header.top .bar { max-width:1200px; margin:0 auto; padding:.6rem 1rem; display:flex; flex-wrap:wrap; gap:.4rem 1.2rem; align-items:center; }
header.top a { color:#fff; text-decoration:none; }
header.top .brand { font-weight:700; font-size:1.15rem; margin-right:auto; }
header.top nav { display:flex; flex-wrap:wrap; gap:.3rem 1rem; }
header.top nav.lang { font-size:.9rem; gap:.2rem .7rem; }
header.top nav.lang [aria-current] { font-weight:700; }
header.top nav a[aria-current] { text-decoration:underline; text-underline-offset:.3em; }
header.top .who { font-size:.9rem; opacity:.9; display:flex; gap:.6rem; align-items:center; flex-wrap:wrap; }
header.top form { margin:0; }
header.top button { background:transparent; color:#fff; border:1px solid #fff8; padding:.2rem .6rem; font-size:.85rem; }
main { max-width:1200px; margin:0 auto; padding:1rem; }
h1 { font-size:1.6rem; margin:.4rem 0 1rem; overflow-wrap:anywhere; }
h2 { font-size:1.2rem; margin:1.6rem 0 .6rem; border-bottom:1px solid var(--line); padding-bottom:.2rem; }
a { color:var(--accent); }
.muted { color:var(--muted); }
.mono, code { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size:.88em; overflow-wrap:anywhere; }
.table-wrap .mono { overflow-wrap:normal; }
td.time { white-space:nowrap; }
.table-wrap { overflow-x:auto; max-width:100%; border:1px solid var(--line); border-radius:6px; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:.45rem .6rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:var(--bg); font-weight:600; white-space:nowrap; }
tr:last-child td { border-bottom:0; }
td.num { text-align:right; font-variant-numeric:tabular-nums; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:.3rem 1rem; margin:0; }
dl.facts dt { font-weight:600; color:var(--muted); }
dl.facts dd { margin:0; overflow-wrap:anywhere; }
form.stack { display:grid; gap:.8rem; max-width:560px; }
form.stack label { display:grid; gap:.25rem; font-weight:600; }
form.inline { display:flex; flex-wrap:wrap; gap:.6rem; align-items:end; }
form.inline label { display:grid; gap:.2rem; font-size:.9rem; font-weight:600; }
input, select, textarea, button { font:inherit; padding:.45rem .6rem; border:1px solid var(--line); border-radius:6px; max-width:100%; }
textarea { width:100%; min-height:10rem; font-family: ui-monospace, Menlo, monospace; font-size:.85rem; }
button, .button { background:var(--accent); color:#fff; border-color:var(--accent); cursor:pointer; text-decoration:none; display:inline-block; border-radius:6px; padding:.45rem .9rem; }
button.danger { background:var(--fail); border-color:var(--fail); }
.badge { display:inline-block; padding:.05rem .5rem; border-radius:1rem; font-size:.85rem; font-weight:600; border:1px solid currentColor; white-space:nowrap; }
.state-succeeded, .ok { color:var(--pass); }
.state-failed, .state-cancelled, .bad { color:var(--fail); }
.state-queued, .state-running { color:var(--warn); }
.notice { padding:.7rem 1rem; border-radius:6px; border:1px solid var(--line); background:var(--bg); margin:1rem 0; }
.notice.ok { border-color:var(--pass); background:#dafbe1; color:var(--fg); }
.notice.bad { border-color:var(--fail); background:#ffebe9; color:var(--fg); }
progress { width:100%; max-width:480px; height:1.2rem; }
.actions { display:flex; flex-wrap:wrap; gap:.6rem; margin:1rem 0; align-items:center; }
.actions form { margin:0; }
.pager { display:flex; gap:1rem; margin:.8rem 0; }
ul.findings li { margin:.2rem 0; }
@media (max-width: 640px) {
  body { font-size:15px; }
  main { padding:.7rem; }
  h1 { font-size:1.3rem; }
  dl.facts { grid-template-columns:1fr; gap:.1rem; }
  dl.facts dd { margin-bottom:.5rem; }
  form.inline { display:grid; }
  th, td { padding:.35rem .45rem; }
}
"#;

/// Where the navigation can point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Cases,
    Runs,
    Audit,
    None,
}

/// A whole page in the language of `w`, with the language switch. `refresh` makes the
/// browser reload it after that many seconds (live progress without script).
pub fn page(w: &Words, title: &str, session: Option<&Session>, nav: Nav, refresh: Option<u32>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(w.lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(s) = refresh {
                    meta http-equiv="refresh" content=(s);
                }
                title { (plain(title, NAME_CHARS)) " · Sandkasse" }
                link rel="stylesheet" href="/ui/assets/style.css";
            }
            body {
                header.top {
                    div.bar {
                        a.brand href="/ui/cases" { "Sandkasse" }
                        @if let Some(s) = session {
                            nav aria-label=(w.t(T::MainNav)) {
                                (nav_link("/ui/cases", w.t(T::Cases), nav == Nav::Cases))
                                (nav_link("/ui/runs", w.t(T::Runs), nav == Nav::Runs))
                                @if s.caller.may(crate::policy::Action::ReadAudit) {
                                    (nav_link("/ui/audit", w.t(T::AuditLog), nav == Nav::Audit))
                                }
                            }
                        }
                        (switch(w))
                        @if let Some(s) = session {
                            div.who {
                                span #who {
                                    (name(&s.caller.user.name)) " · " (name(&s.caller.org.name)) " · "
                                    span #role { (w.role(s.caller.role())) }
                                }
                                form method="post" action="/ui/logout" {
                                    (csrf_field(s))
                                    button #logout type="submit" { (w.t(T::LogOut)) }
                                }
                            }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// "Dansk" and "English", each in its own language (whoever cannot read the page can still
/// find their own): the current one as text, the other a link to the switch.
fn switch(w: &Words) -> Markup {
    html! {
        nav.lang #lang aria-label=(w.t(T::LanguageNav)) {
            @for (lang, label, id) in [(Lang::Da, "Dansk", "lang-da"), (Lang::En, "English", "lang-en")] {
                @if lang == w.lang {
                    span id=(id) lang=(lang.code()) aria-current="true" { (label) }
                } @else {
                    a id=(id) lang=(lang.code()) hreflang=(lang.code()) href=(w.switch_to(lang)) { (label) }
                }
            }
        }
    }
}

fn nav_link(href: &str, label: &str, current: bool) -> Markup {
    html! {
        @if current { a href=(href) aria-current="page" { (label) } } @else { a href=(href) { (label) } }
    }
}

/// The hidden field every form carries.
pub fn csrf_field(s: &Session) -> Markup {
    html! { input type="hidden" name="csrf" value=(s.csrf); }
}

/// A table in a box that scrolls sideways on narrow screens.
pub fn table(head: &[&str], rows: Markup) -> Markup {
    html! {
        div.table-wrap {
            table {
                thead { tr { @for h in head { th scope="col" { (h) } } } }
                tbody { (rows) }
            }
        }
    }
}

/// A run state as a coloured word.
pub fn state_badge(w: &Words, state: store::RunState) -> Markup {
    html! { span class={ "badge state-" (state.as_str()) } { (w.state(state)) } }
}

/// A stored RFC 3339 UTC time as people read it: `2026-11-24 14:54:03 UTC`.
pub fn when(rfc3339: &str) -> String {
    match rfc3339.get(..19) {
        Some(t) if rfc3339.ends_with('Z') => format!("{} UTC", t.replacen('T', " ", 1)),
        _ => rfc3339.to_owned(),
    }
}

/// How many characters of a name (case, model, version, organisation, person) a page shows;
/// names are at most 200 characters where they are accepted, and the whole is in `title`.
pub const NAME_CHARS: usize = 80;

/// How many characters of longer text (a run's cause, an inspection finding, an error
/// message, an audit entry's object) a page shows.
pub const TEXT_CHARS: usize = 600;

/// The most of a string a `title` carries (names are far shorter; this bounds the page even
/// for text that was not capped where it was stored).
const TITLE_CHARS: usize = 4000;

/// A vendor's or user's string as page text, at most [`NAME_CHARS`] shown: see [`user`].
pub fn name(s: &str) -> Markup {
    user(s, NAME_CHARS)
}

/// A vendor's or user's string as page text: maud escapes its markup; here, characters that
/// act unseen (newlines, ESC and other controls, the bidi controls such as U+202E that would
/// reverse the text after them) are shown as visible escapes (`\n`, `\u{202e}`), the string
/// is isolated in `<bdi>` so right-to-left letters in it cannot reorder the page around it,
/// and it is cut to `max` characters with the whole (to a bound) in the `title`.
pub fn user(s: &str, max: usize) -> Markup {
    let shown = escape::truncate_chars(s, max);
    if shown.was_cut() {
        let whole = escape::visible_text(&escape::truncate_chars(s, TITLE_CHARS).to_string());
        html! { bdi title=(whole) { (escape::visible_text(&shown.text)) } }
    } else {
        html! { bdi { (escape::visible_text(s)) } }
    }
}

/// A vendor's or user's string where no element may stand (`<title>`, `<option>`, an
/// attribute): hidden characters shown as escapes, cut to `max` characters with `…`.
pub fn plain(s: &str, max: usize) -> String {
    escape::visible_text(&escape::truncate_chars(s, max).text)
}

/// Names joined with commas, each isolated and capped by [`name`].
pub fn names<'a>(list: impl IntoIterator<Item = &'a str>) -> Markup {
    html! {
        @for (i, n) in list.into_iter().enumerate() {
            @if i > 0 { ", " }
            (name(n))
        }
    }
}

/// Serialized JSON as page text (a `<pre>`, a text area): bidi controls and line separators
/// written as JSON `\u` escapes, so it reads as it means and still parses to the same value.
pub fn json_text(v: &impl std::fmt::Display) -> String {
    escape::json_text(&v.to_string())
}

/// The first characters of an id, with the whole id as a tooltip.
pub fn short_id(id: &str) -> Markup {
    let shown = escape::visible_text(&id.chars().take(8).collect::<String>());
    html! { span.mono title=(plain(id, TITLE_CHARS)) { (shown) } }
}

#[cfg(test)]
mod tests {
    use super::{NAME_CHARS, name, plain, user, when};

    #[test]
    fn times_are_shown_to_the_second_in_utc() {
        assert_eq!(when("2026-11-24T14:54:03.099629Z"), "2026-11-24 14:54:03 UTC");
        assert_eq!(when("2026-11-24T14:54:03Z"), "2026-11-24 14:54:03 UTC");
        // Anything else is shown as stored rather than guessed at.
        assert_eq!(when("yesterday"), "yesterday");
        assert_eq!(when("2026-11-24T14:54:03+02:00"), "2026-11-24T14:54:03+02:00");
    }

    #[test]
    fn names_are_isolated_escaped_and_capped() {
        assert_eq!(
            name("gpj\u{202e}.exe <b>\n").into_string(),
            "<bdi>gpj\\u{202e}.exe &lt;b&gt;\\n</bdi>"
        );
        let long = "ø".repeat(NAME_CHARS + 10);
        let html = name(&long).into_string();
        assert!(html.starts_with("<bdi title=\""), "{html}");
        assert!(html.contains(&format!("title=\"{long}\"")), "{html}");
        assert!(
            html.ends_with(&format!(">{}…</bdi>", "ø".repeat(NAME_CHARS - 1))),
            "{html}"
        );
        assert_eq!(plain("a\u{2066}b", 10), "a\\u{2066}b");
        assert_eq!(user("abc", 2).into_string(), "<bdi title=\"abc\">a…</bdi>");
    }
}
