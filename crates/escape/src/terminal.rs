//! Terminals: text that cannot move the cursor.

use crate::chars::{is_hidden, push_visible};

/// A string for a terminal: every C0 and C1 control (ESC, CSI, carriage return, newline,
/// backspace, BEL), DEL, the bidi controls and the line separators shown as visible escapes
/// (`\x1b`, `\r`, `\u{9b}`, `\u{202e}`), and `\` doubled so an escape seen is an escape made.
///
/// A model's producer or tensor name is printed by `sandkasse inspect` beside the line
/// that says whether the model is accepted; raw, `ESC [2K` `\r` would erase that line and
/// write a fake one, and `\n` would add lines of the model's choosing.
pub fn terminal(s: &str) -> String {
    if !s.chars().any(|c| is_hidden(c) || c == '\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if c == '\\' {
            out.push_str("\\\\");
        } else {
            push_visible(&mut out, c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_are_shown_not_run() {
        let s = terminal("m\u{1b}[2K\raccepted\n\u{9b}31m\u{7}\u{8}\u{202e}");
        assert_eq!(s, "m\\x1b[2K\\raccepted\\n\\u{9b}31m\\x07\\x08\\u{202e}");
        assert!(!s.chars().any(char::is_control));
    }

    #[test]
    fn plain_text_is_unchanged_and_backslashes_are_doubled() {
        assert_eq!(terminal("gbm 1.0 — Ærø"), "gbm 1.0 — Ærø");
        assert_eq!(terminal("a\\x1b"), "a\\\\x1b");
    }

    #[test]
    fn no_control_survives_any_code_point() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let t = terminal(&all);
        assert!(!t.chars().any(is_hidden));
    }
}
