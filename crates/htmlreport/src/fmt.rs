//! Escaping and language-dependent number formatting.

use crate::Lang;
use std::fmt;

/// Displays a string HTML/XML-escaped (text and attribute values alike).
///
/// Besides markup, it shows what would act unseen: control characters (not allowed in XML
/// 1.0 anyway) and the Unicode bidi controls become visible escapes (`\x1b`, `\u{202e}`), so
/// a vendor's name cannot reverse the text after it (a verdict, a number) or hide a line
/// break. Every string of the report passes through here, in HTML and SVG alike.
pub(crate) struct E<'a>(pub &'a str);

impl fmt::Display for E<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut last = 0;
        for (i, c) in self.0.char_indices() {
            let rep = match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                '\n' | '\r' | '\t' => continue,
                c if escape::is_hidden(c) => {
                    f.write_str(&self.0[last..i])?;
                    f.write_str(&escape::visible(c))?;
                    last = i + c.len_utf8();
                    continue;
                }
                // Not characters in XML 1.0: dropped.
                '\u{fffe}' | '\u{ffff}' => "",
                _ => continue,
            };
            f.write_str(&self.0[last..i])?;
            f.write_str(rep)?;
            last = i + c.len_utf8();
        }
        f.write_str(&self.0[last..])
    }
}

/// How many characters of a vendor's or user's name a cell or heading shows; the whole name
/// is in the element's `title`.
pub(crate) const NAME_CHARS: usize = 120;

/// How many characters of longer vendor text (a worker's error, a description) are shown.
pub(crate) const TEXT_CHARS: usize = 600;

/// The most of a string a `title` carries: names are far shorter; worker error text is
/// capped where it is recorded, and this keeps even an uncapped one from swamping the file.
const TITLE_CHARS: usize = 4000;

/// A vendor's or user's string as HTML text: escaped by [`E`], isolated in `<bdi>` so
/// right-to-left letters in it cannot reorder the text around it, and cut to `max`
/// characters with the whole string (up to a bound) in the `title`.
pub(crate) fn user(s: &str, max: usize) -> String {
    let shown = escape::truncate_chars(s, max);
    if shown.was_cut() {
        format!(
            "<bdi title=\"{}\">{}</bdi>",
            E(&escape::truncate_chars(s, TITLE_CHARS).to_string()),
            E(&shown.text)
        )
    } else {
        format!("<bdi>{}</bdi>", E(s))
    }
}

/// A name (model, case, group, criterion, file) as HTML text: [`user`] at [`NAME_CHARS`].
pub(crate) fn name(s: &str) -> String {
    user(s, NAME_CHARS)
}

/// First strong isolate and pop directional isolate: the plain-text form of `<bdi>`, used as
/// markers in sentences built as text and written with [`Isolated`].
const FSI: char = '\u{2068}';
const PDI: char = '\u{2069}';

/// A vendor's or user's string inside a sentence that is built as text: cut to
/// [`NAME_CHARS`], its own bidi controls made visible, and marked so that [`Isolated`]
/// writes it inside `<bdi>`. Only text written with [`Isolated`] may contain the result.
pub(crate) fn iso(s: &str) -> String {
    let cut = escape::truncate_chars(s, NAME_CHARS);
    format!("{FSI}{}{PDI}", escape::bidi(&cut.text))
}

/// Displays text built with [`iso`] as HTML text: escaped like [`E`], except that the
/// isolate markers become `<bdi>` and `</bdi>`, always balanced (a stray closing marker is
/// shown as an escape, an unclosed one is closed at the end), so the document stays
/// well-formed whatever the text holds.
pub(crate) struct Isolated<'a>(pub &'a str);

impl fmt::Display for Isolated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut depth = 0usize;
        for part in self.0.split_inclusive([FSI, PDI]) {
            let (body, marker) = match part.chars().last() {
                Some(c @ (FSI | PDI)) => (&part[..part.len() - c.len_utf8()], Some(c)),
                _ => (part, None),
            };
            write!(f, "{}", E(body))?;
            match marker {
                Some(FSI) => {
                    depth += 1;
                    f.write_str("<bdi>")?;
                }
                Some(_) if depth > 0 => {
                    depth -= 1;
                    f.write_str("</bdi>")?;
                }
                Some(c) => write!(f, "{}", E(&c.to_string()))?,
                None => {}
            }
        }
        for _ in 0..depth {
            f.write_str("</bdi>")?;
        }
        Ok(())
    }
}

/// Text built with [`iso`], for where no element may stand (a `<title>`, an attribute, SVG):
/// the markers removed and the rest escaped by [`E`] (which shows bidi controls).
pub(crate) fn plain(s: &str) -> String {
    E(&s.replace([FSI, PDI], "")).to_string()
}

/// The string, escaped.
pub(crate) fn esc(s: &str) -> String {
    E(s).to_string()
}

/// Shortens a label for a chart (the full text goes into the chart's description).
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

pub(crate) const DASH: &str = "—";

impl Lang {
    /// Picks the Danish or the English text.
    pub fn t<'a>(self, da: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Da => da,
            Lang::En => en,
        }
    }

    fn localize(self, s: String) -> String {
        match self {
            Lang::Da => s.replace('.', ","),
            Lang::En => s,
        }
    }

    /// `x` with `d` decimals: 0,812 or 0.812.
    pub fn dec(self, x: f64, d: usize) -> String {
        if !x.is_finite() {
            return DASH.into();
        }
        let s = format!("{x:.d$}");
        // No "-0,000".
        let s = if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
            s[1..].to_owned()
        } else {
            s
        };
        self.localize(s)
    }

    /// A proportion as a percentage: 81,2 % or 81.2%.
    pub fn pct(self, x: f64, d: usize) -> String {
        if !x.is_finite() {
            return DASH.into();
        }
        match self {
            Lang::Da => format!("{}\u{a0}%", self.dec(x * 100.0, d)),
            Lang::En => format!("{}%", self.dec(x * 100.0, d)),
        }
    }

    /// A count with thousands separators (20.000 or 20,000); non-integers with one decimal.
    pub fn count(self, x: f64) -> String {
        if !x.is_finite() {
            return DASH.into();
        }
        if x.fract() != 0.0 || x.abs() >= 1e15 {
            return self.dec(x, 1);
        }
        let digits = format!("{}", x.abs() as u64);
        let sep = self.t(".", ",");
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push_str(sep);
            }
            out.push(c);
        }
        if x < 0.0 { format!("-{out}") } else { out }
    }

    /// An interval of decimals: [0,083; 0,687] or [0.083, 0.687].
    pub(crate) fn ci(self, (lo, hi): (f64, f64), d: usize) -> String {
        format!("[{}{} {}]", self.dec(lo, d), self.t(";", ","), self.dec(hi, d))
    }

    /// An interval of proportions as percentages: 17,5–18,9 % or 17.5–18.9%.
    pub(crate) fn pct_ci(self, (lo, hi): (f64, f64), d: usize) -> String {
        format!("{}–{}", self.dec(lo * 100.0, d), self.pct(hi, d))
    }

    /// Scientific notation for p-values: 2,55e-6.
    pub(crate) fn sci(self, x: f64) -> String {
        if !x.is_finite() {
            return DASH.into();
        }
        if x >= 0.001 {
            return self.dec(x, 3);
        }
        self.localize(format!("{x:.2e}"))
    }

    /// A p-value: like [`Self::sci`], but one too small for a double (underflowed to 0) is a
    /// bound, `< 1e-300`, never 0, since no p-value is 0.
    pub(crate) fn p_value(self, p: f64) -> String {
        if p.is_finite() && p < fairness::P_FLOOR {
            return self.localize("< 1e-300".to_owned());
        }
        self.sci(p)
    }

    /// The shortest exact representation (for settings such as bias knobs): 0,1.
    pub fn plain(self, x: f64) -> String {
        if !x.is_finite() {
            return DASH.into();
        }
        self.localize(format!("{x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;"
        );
        assert_eq!(esc("a\u{1}b\u{1b}[2K"), "a\\x01b\\x1b[2K");
        assert_eq!(esc("a\u{202e}b\u{2066}"), "a\\u{202e}b\\u{2066}");
        assert_eq!(esc("line\nnext"), "line\nnext");
        assert_eq!(esc("æøå"), "æøå");
    }

    #[test]
    fn names_are_isolated_and_capped_with_the_whole_in_the_title() {
        assert_eq!(name("a<b\u{202e}"), "<bdi>a&lt;b\\u{202e}</bdi>");
        let long = "x".repeat(NAME_CHARS + 5);
        let html = name(&long);
        assert_eq!(
            html,
            format!("<bdi title=\"{long}\">{}…</bdi>", "x".repeat(NAME_CHARS - 1))
        );
        let huge = "y".repeat(5000);
        assert!(name(&huge).contains("(1001 more characters)"));
    }

    #[test]
    fn isolates_in_sentences_become_balanced_bdi() {
        let s = format!("model {} on {}", iso("evil\u{2069}\u{202e}"), iso("<g>"));
        assert_eq!(
            Isolated(&s).to_string(),
            "model <bdi>evil\\u{2069}\\u{202e}</bdi> on <bdi>&lt;g&gt;</bdi>"
        );
        assert_eq!(Isolated("a\u{2069}b\u{2068}c").to_string(), "a\\u{2069}b<bdi>c</bdi>");
        assert_eq!(plain(&s), "model evil\\u{2069}\\u{202e} on &lt;g&gt;");
    }

    #[test]
    fn numbers_per_language() {
        assert_eq!(Lang::Da.dec(0.8123, 2), "0,81");
        assert_eq!(Lang::En.dec(0.8123, 2), "0.81");
        assert_eq!(Lang::Da.pct(0.8123, 1), "81,2\u{a0}%");
        assert_eq!(Lang::En.pct(0.8123, 1), "81.2%");
        assert_eq!(Lang::Da.count(20000.0), "20.000");
        assert_eq!(Lang::En.count(1234567.0), "1,234,567");
        assert_eq!(Lang::En.count(999.0), "999");
        assert_eq!(Lang::Da.ci((0.1, 0.25), 3), "[0,100; 0,250]");
        assert_eq!(Lang::En.ci((0.1, 0.25), 3), "[0.100, 0.250]");
        assert_eq!(Lang::Da.dec(-0.0001, 3), "0,000");
        assert_eq!(Lang::Da.sci(2.55e-6), "2,55e-6");
        assert_eq!(Lang::Da.p_value(0.0), "< 1e-300");
        assert_eq!(Lang::En.p_value(1e-320), "< 1e-300");
        assert_eq!(Lang::Da.p_value(2.55e-6), "2,55e-6");
        assert_eq!(Lang::En.dec(f64::NAN, 2), DASH);
    }
}
