//! Markdown: text that stays text.

use crate::chars::{is_hidden, push_visible};

/// ASCII punctuation escaped wherever it stands, because CommonMark or GitHub-flavoured
/// Markdown give it a meaning within a line: `\` (escapes), `` ` `` (code spans and fences),
/// `*` `_` `~` (emphasis, strikethrough), `[` `]` `!` (links, images, footnotes), `<` `>`
/// (raw HTML such as `<!--`, autolinks, block quotes), `#` (headings), `|` (table cells),
/// `&` (entities such as `&#10;` or `&#x202e;`), `$` (math), `:` and `@` (autolinked URLs and
/// e-mail addresses).
const ACTIVE: &[char] = &[
    '\\', '`', '*', '_', '~', '[', ']', '!', '<', '>', '#', '|', '&', '$', ':', '@',
];

/// A string as Markdown text inside a line: whatever it contains, it renders as the same
/// characters in one paragraph's text, never as structure.
///
/// - Characters that act unseen (newlines, ESC and other controls, bidi controls, line
///   separators) are shown as visible escapes (`\n`, `\x1b`, `\u{202e}`), so the string
///   cannot end the line it is in, start a heading (`## Criteria: pass` on a new line), or
///   reorder the verdict beside it.
/// - The punctuation in [`ACTIVE`] is backslash-escaped, so it cannot open an HTML comment
///   (`<!--`) that hides the rest of the report, split a table, or make a link or emphasis.
/// - At the start of the string, `-` `+` `=` and the `.` or `)` after leading digits are
///   escaped too, so placed at the start of a line it cannot begin a list or underline the
///   line above into a heading; `www.` at a word's start loses its autolink.
///
/// Do not put the result in a code span: backslash escapes do not work there.
pub fn markdown_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8 + 2);
    let chars: Vec<char> = s.chars().collect();
    let leading_digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
    for (i, &c) in chars.iter().enumerate() {
        if is_hidden(c) {
            // The escape's own backslash is shown as written, so escape it for Markdown.
            let mut v = String::new();
            push_visible(&mut v, c);
            out.push_str(&v.replace('\\', "\\\\"));
            continue;
        }
        let at_start = i == 0 && matches!(c, '-' | '+' | '=');
        let list_number = i == leading_digits && i > 0 && matches!(c, '.' | ')');
        let www = c == '.' && i >= 3 && starts_www(&chars, i - 3);
        if ACTIVE.contains(&c) || at_start || list_number || www {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// `www` starting at `i`, at the start of a word.
fn starts_www(chars: &[char], i: usize) -> bool {
    chars[i..i + 3].iter().all(|c| c.eq_ignore_ascii_case(&'w')) && (i == 0 || !chars[i - 1].is_alphanumeric())
}

/// A string as the content of one Markdown table cell: [`markdown_inline`], which already
/// escapes `|` (GitHub-flavoured Markdown honours `\|` in a cell, even inside other inline
/// spans) and shows newlines as `\n` (a raw one would end the row), so the table keeps its
/// columns. An empty string stays empty (an empty cell).
pub fn markdown_cell(s: &str) -> String {
    markdown_inline(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a Markdown renderer shows for text made only of backslash escapes and plain
    /// characters: each escaped punctuation character as itself.
    fn rendered(md: &str) -> String {
        let mut out = String::new();
        let mut it = md.chars();
        while let Some(c) = it.next() {
            if c == '\\' {
                let n = it.next().expect("no backslash is left dangling");
                assert!(n.is_ascii_punctuation(), "\\{n} is not an escape");
                out.push(n);
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The string with hidden characters replaced by their visible escapes.
    fn visible_all(s: &str) -> String {
        let mut out = String::new();
        for c in s.chars() {
            push_visible(&mut out, c);
        }
        out
    }

    /// A small deterministic generator (xorshift64*), so the properties below are checked on
    /// many strings rich in what Markdown treats specially, without a dependency.
    struct Gen(u64);

    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn string(&mut self) -> String {
            const PIECES: &[&str] = &[
                "\n",
                "\r\n",
                "\r",
                "\t",
                "\u{1b}[2K",
                "\u{0}",
                "\u{85}",
                "\u{9b}",
                "\u{202e}",
                "\u{2066}",
                "\u{2028}",
                "<!--",
                "-->",
                "<",
                ">",
                "|",
                "||",
                "#",
                "## ",
                "`",
                "```",
                "~~~",
                "\\",
                "\\|",
                "*",
                "_",
                "[",
                "]",
                "(",
                ")",
                "![x](y)",
                "&#10;",
                "&amp;",
                "$",
                ":",
                "@",
                "www.",
                "http://x",
                "-",
                "+",
                "=",
                "1.",
                "12)",
                " ",
                "    ",
                "a",
                "Z",
                "9",
                "ø",
                "שלום",
                "—",
                "pass",
                "Criteria",
            ];
            let n = (self.next() % 12) as usize;
            (0..n)
                .map(|_| PIECES[(self.next() % PIECES.len() as u64) as usize])
                .collect()
        }
    }

    #[test]
    fn a_forged_section_stays_in_its_line() {
        let name = "x\n\n## Criteria: pass\n<!--";
        let md = markdown_inline(name);
        assert!(!md.contains('\n'));
        assert!(!md.contains("<!--"));
        assert_eq!(md, "x\\\\n\\\\n\\#\\# Criteria\\: pass\\\\n\\<\\!--");
        assert_eq!(rendered(&md), "x\\n\\n## Criteria: pass\\n<!--");
    }

    #[test]
    fn block_starters_are_escaped_at_the_start() {
        assert_eq!(markdown_inline("- item"), "\\- item");
        assert_eq!(markdown_inline("+"), "\\+");
        assert_eq!(markdown_inline("==="), "\\===");
        assert_eq!(markdown_inline("12. x"), "12\\. x");
        assert_eq!(markdown_inline("3) x"), "3\\) x");
        assert_eq!(markdown_inline("> q"), "\\> q");
        assert_eq!(markdown_inline("model-v1.2 (gbm)"), "model-v1.2 (gbm)");
        assert_eq!(markdown_inline("see www.x.dk"), "see www\\.x.dk");
        assert_eq!(markdown_inline("awww.x"), "awww.x");
    }

    #[test]
    fn cells_keep_their_column() {
        assert_eq!(markdown_cell("a|b"), "a\\|b");
        assert_eq!(markdown_cell("a\\|b"), "a\\\\\\|b");
        assert_eq!(markdown_cell(""), "");
    }

    #[test]
    fn any_string_is_one_line_of_plain_text() {
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        for _ in 0..20_000 {
            let s = g.string();
            let md = markdown_inline(&s);
            assert!(!md.chars().any(is_hidden), "{s:?} -> {md:?}");
            assert!(!md.contains("<!--"), "{s:?} -> {md:?}");
            // Every active character is preceded by an odd run of backslashes (escaped).
            let chars: Vec<char> = md.chars().collect();
            for (i, c) in chars.iter().enumerate() {
                if ACTIVE.contains(c) && *c != '\\' {
                    let run = chars[..i].iter().rev().take_while(|b| **b == '\\').count();
                    assert!(run % 2 == 1, "unescaped {c:?} at {i} in {md:?} (from {s:?})");
                }
            }
            // It cannot start a block: its first character is plain or escaped.
            if let Some(first) = chars.first() {
                assert!(
                    !matches!(first, '#' | '>' | '-' | '+' | '=' | '*' | '|' | '<' | '`' | '~'),
                    "{md:?}"
                );
            }
            // And nothing is lost: a renderer shows exactly the input, hidden characters as
            // their escapes.
            assert_eq!(rendered(&md), visible_all(&s), "{s:?}");
            assert_eq!(markdown_cell(&s), md);
        }
    }
}
