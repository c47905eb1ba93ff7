//! Escaping and language-dependent number formatting.

use crate::Lang;
use std::fmt;

/// Displays a string HTML/XML-escaped (text and attribute values alike).
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
                // Control characters are not allowed in XML 1.0: drop them.
                c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => "",
                '\u{7f}'..='\u{9f}' | '\u{fffe}' | '\u{ffff}' => "",
                _ => continue,
            };
            f.write_str(&self.0[last..i])?;
            f.write_str(rep)?;
            last = i + c.len_utf8();
        }
        f.write_str(&self.0[last..])
    }
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
    pub(crate) fn t<'a>(self, da: &'a str, en: &'a str) -> &'a str {
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
    pub(crate) fn dec(self, x: f64, d: usize) -> String {
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
    pub(crate) fn pct(self, x: f64, d: usize) -> String {
        if !x.is_finite() {
            return DASH.into();
        }
        match self {
            Lang::Da => format!("{}\u{a0}%", self.dec(x * 100.0, d)),
            Lang::En => format!("{}%", self.dec(x * 100.0, d)),
        }
    }

    /// A count with thousands separators (20.000 or 20,000); non-integers with one decimal.
    pub(crate) fn count(self, x: f64) -> String {
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

    /// The shortest exact representation (for settings such as bias knobs): 0,1.
    pub(crate) fn plain(self, x: f64) -> String {
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
        assert_eq!(esc("a\u{1}b"), "ab");
        assert_eq!(esc("æøå"), "æøå");
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
        assert_eq!(Lang::En.dec(f64::NAN, 2), DASH);
    }
}
