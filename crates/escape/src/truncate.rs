//! Length caps for display.

use std::borrow::Cow;
use std::fmt;

/// A string cut for display, and how much was cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncated<'a> {
    /// At most `max` characters: the start of the string and `…` when it was cut.
    pub text: Cow<'a, str>,
    /// Characters left out (0 when the string fit).
    pub cut: usize,
}

impl Truncated<'_> {
    /// Whether anything was left out, so a caller can say so where the `…` alone is not enough
    /// (a log line, an error message).
    pub fn was_cut(&self) -> bool {
        self.cut > 0
    }
}

/// Shows the text and, when cut, how much: `abc… (1234 more characters)`.
impl fmt::Display for Truncated<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        if self.cut > 0 {
            write!(
                f,
                " ({} more character{})",
                self.cut,
                if self.cut == 1 { "" } else { "s" }
            )?;
        }
        Ok(())
    }
}

/// The first characters of `s`, at most `max` of them counting the `…` that marks a cut.
///
/// Cuts on a character boundary (never inside a UTF-8 sequence, so never a panic or an
/// invalid string) and counts characters, not bytes, so the cap means the same for `ø` as
/// for `o`. A vendor's 8 MB name or error text must not become an 8 MB table cell; the
/// full value, where it is kept, goes somewhere it does not swamp the page (a `title`).
/// With `max` 0 nothing is shown, only the count.
pub fn truncate_chars(s: &str, max: usize) -> Truncated<'_> {
    let Some((end, _)) = s.char_indices().nth(max) else {
        return Truncated {
            text: Cow::Borrowed(s),
            cut: 0,
        };
    };
    // Longer than `max`: keep `max - 1` characters and the ellipsis.
    let keep = max.saturating_sub(1);
    let cut_at = s.char_indices().nth(keep).map_or(end, |(i, _)| i);
    let text = if max == 0 {
        String::new()
    } else {
        format!("{}…", &s[..cut_at])
    };
    Truncated {
        text: Cow::Owned(text),
        cut: s[cut_at..].chars().count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_kept() {
        let t = truncate_chars("ærø", 3);
        assert_eq!(t.text, "ærø");
        assert_eq!(t.cut, 0);
        assert!(!t.was_cut());
        assert_eq!(t.to_string(), "ærø");
    }

    #[test]
    fn long_strings_are_cut_on_a_char_boundary_and_say_how_much() {
        let t = truncate_chars("ææææææ", 4);
        assert_eq!(t.text, "æææ…");
        assert_eq!(t.cut, 3);
        assert_eq!(t.to_string(), "æææ… (3 more characters)");
        let one = truncate_chars("abcd", 3);
        assert_eq!((one.text.as_ref(), one.cut), ("ab…", 2));
        assert_eq!(truncate_chars("ab", 1).text, "…");
        assert_eq!(
            truncate_chars("ab", 0),
            Truncated {
                text: Cow::Owned(String::new()),
                cut: 2
            }
        );
    }

    #[test]
    fn never_longer_than_the_cap_whatever_the_input() {
        let s = "a\u{1f600}ø\u{202e}x".repeat(50);
        for max in 0..300 {
            let t = truncate_chars(&s, max);
            assert!(t.text.chars().count() <= max);
            let kept = t.text.trim_end_matches('…').chars().count();
            assert_eq!(kept + t.cut, s.chars().count(), "max {max}");
            assert!(s.starts_with(t.text.trim_end_matches('…')));
        }
    }
}
