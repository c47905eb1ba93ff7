//! Which characters are invisible yet act (controls, bidi controls, line separators), and
//! how they are shown instead.

use std::fmt::Write;

/// The Unicode bidirectional controls: embeddings and overrides (U+202A–U+202E), isolates
/// (U+2066–U+2069), the marks (U+200E, U+200F) and the Arabic letter mark (U+061C).
///
/// They are invisible and reorder the text after them: `exe.jpg` with U+202E before `gpj`
/// reads as `jpg.exe`, and a name can make the verdict beside it read backwards. Text in
/// a right-to-left script does not need them to display correctly inside `<bdi>`.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

/// Characters that act without being seen: the C0 and C1 controls and DEL (newlines, tabs,
/// ESC, CSI), the bidi controls, and the Unicode line and paragraph separators (U+2028,
/// U+2029), which some viewers break lines at.
pub fn is_hidden(c: char) -> bool {
    c.is_control() || is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}')
}

/// The visible stand-in for a hidden character: `\n`, `\r`, `\t`, `\x1b` for the rest of
/// ASCII's controls and DEL, `\u{9b}` for C1 controls and `\u{202e}` for the others.
/// Anything else is returned as it is.
pub fn visible(c: char) -> String {
    let mut s = String::new();
    push_visible(&mut s, c);
    s
}

pub(crate) fn push_visible(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if (c as u32) < 0x80 && is_hidden(c) => {
            let _ = write!(out, "\\x{:02x}", c as u32);
        }
        c if is_hidden(c) => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// The string with every hidden character ([`is_hidden`]) replaced by its visible escape and
/// nothing else changed: for text whose markup is escaped elsewhere (maud on the pages) but
/// which must not break a line, carry a terminal's escape sequence or reorder its
/// surroundings. Unlike [`crate::terminal`] it leaves `\` alone, so it is not reversible;
/// it is for people to read.
pub fn visible_text(s: &str) -> String {
    if !s.chars().any(is_hidden) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        push_visible(&mut out, c);
    }
    out
}

/// The string with every bidi control replaced by its visible escape (`\u{202e}`), for text
/// whose markup is escaped elsewhere (maud, the report's HTML escaper). Other characters,
/// right-to-left letters included, are kept; put the result in `<bdi>` so such letters do not
/// reorder what surrounds it.
pub fn bidi(s: &str) -> String {
    if !s.chars().any(is_bidi_control) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if is_bidi_control(c) {
            push_visible(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// Serialized JSON with every bidi control and line or paragraph separator written as a JSON
/// `\uXXXX` escape, so JSON shown to people (a `<pre>`, a text area to edit) reads the same as
/// it means and still parses to the same value. JSON outside strings holds only ASCII, so the
/// replacement can only land inside strings, where the escape is valid.
pub fn json_text(serialized: &str) -> String {
    let mut out = String::with_capacity(serialized.len());
    for c in serialized.chars() {
        if is_bidi_control(c) || matches!(c, '\u{2028}' | '\u{2029}') {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bidi_control_is_known() {
        for c in [
            '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}',
            '\u{200e}', '\u{200f}', '\u{061c}',
        ] {
            assert!(is_bidi_control(c), "{:x}", c as u32);
            assert!(is_hidden(c));
        }
        for c in ['a', 'א', 'ع', '\u{2029}', '\u{200b}'] {
            assert!(!is_bidi_control(c), "{:x}", c as u32);
        }
    }

    #[test]
    fn hidden_characters_have_visible_escapes() {
        assert_eq!(visible('\n'), "\\n");
        assert_eq!(visible('\u{1b}'), "\\x1b");
        assert_eq!(visible('\u{7f}'), "\\x7f");
        assert_eq!(visible('\u{9b}'), "\\u{9b}");
        assert_eq!(visible('\u{202e}'), "\\u{202e}");
        assert_eq!(visible('\u{2028}'), "\\u{2028}");
        assert_eq!(visible('ø'), "ø");
    }

    #[test]
    fn visible_text_shows_every_hidden_character() {
        assert_eq!(visible_text("a\nb\u{1b}[2K\u{202e}\\"), "a\\nb\\x1b[2K\\u{202e}\\");
        assert_eq!(visible_text("Ærø <b>"), "Ærø <b>");
    }

    #[test]
    fn bidi_escapes_only_bidi_controls() {
        assert_eq!(bidi("abc\u{202e}gpj.exe"), "abc\\u{202e}gpj.exe");
        assert_eq!(bidi("שלום <b>\n"), "שלום <b>\n");
        for s in ["\u{202a}\u{2066}\u{200f}\u{061c}x", "\u{202e}\u{202e}"] {
            assert!(!bidi(s).chars().any(is_bidi_control));
        }
    }

    #[test]
    fn json_text_still_parses_to_the_same_value() {
        let v = "name\u{202e}\u{2028}x\"\\".to_owned();
        let text = json_text(&format!("{{\"n\": {}}}", escape_json(&v)));
        assert!(!text.chars().any(|c| is_bidi_control(c) || c == '\u{2028}'));
        assert!(text.contains("\\u202e") && text.contains("\\u2028"));
        // A hand-rolled check of the escape: the only non-ASCII text replaced is the two
        // controls, and the escapes decode back to them.
        let decoded = text.replace("\\u202e", "\u{202e}").replace("\\u2028", "\u{2028}");
        assert_eq!(decoded, format!("{{\"n\": {}}}", escape_json(&v)));
    }

    fn escape_json(s: &str) -> String {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}
