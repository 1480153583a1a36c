//! Statement placeholders: `?` rewritten to PostgreSQL's `$n`, and whether a statement has any
//! (its values are bound through the extended protocol, [`crate::pg::data_rows`]).
//!
//! Both work on a small lexer that knows where SQL text is *not* code: string literals
//! (`'…'`, `E'…'` with backslash escapes, `$tag$…$tag$`), quoted identifiers (`"…"`), and
//! comments (`-- …`, nested `/* … */`). A `?` or `$n` inside any of those is left alone.
//!
//! When a statement already uses `$n` placeholders, `?` is PostgreSQL's own operator (jsonb
//! `?`, `?|`, `?&`) and is not rewritten.

/// A placeholder found in SQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholder {
    /// `?` at this byte offset.
    Question(usize),
    /// `$n` spanning these bytes, with its number.
    Dollar { start: usize, end: usize, n: usize },
}

/// Every placeholder outside literals, quoted identifiers and comments, in order.
fn placeholders(sql: &str) -> Vec<Placeholder> {
    let bytes = sql.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b'\'' => {
                let escapes = i > 0
                    && matches!(bytes[i - 1], b'e' | b'E')
                    && (i < 2 || !is_ident_byte(bytes[i - 2]));
                i = skip_quoted(bytes, i, b'\'', escapes);
            }
            b'"' => i = skip_quoted(bytes, i, b'"', false),
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                let mut depth = 0;
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"/*") {
                        depth += 1;
                        i += 2;
                    } else if bytes[i..].starts_with(b"*/") {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'?' => {
                found.push(Placeholder::Question(i));
                i += 1;
            }
            b'$' if i == 0 || !is_ident_byte(bytes[i - 1]) => {
                let digits = bytes[i + 1..]
                    .iter()
                    .take_while(|c| c.is_ascii_digit())
                    .count();
                if digits > 0 {
                    let end = i + 1 + digits;
                    let n = sql[i + 1..end].parse().unwrap_or(usize::MAX);
                    found.push(Placeholder::Dollar { start: i, end, n });
                    i = end;
                } else if let Some(tag_end) = dollar_tag(bytes, i) {
                    let tag = &bytes[i..=tag_end];
                    let body = tag_end + 1;
                    i = find(bytes, body, tag).map_or(bytes.len(), |at| at + tag.len());
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    found
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

/// The index just past a quoted run starting at `start` (doubled quotes stay inside; with
/// `escapes`, a backslash escapes the next byte).
fn skip_quoted(bytes: &[u8], start: usize, quote: u8, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if escapes && bytes[i] == b'\\' {
            i += 2;
        } else if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// The index of the closing `$` of a dollar-quote tag (`$$` or `$tag$`) starting at `start`.
fn dollar_tag(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'$' => return Some(i),
            b if b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80 => i += 1,
            _ => return None,
        }
    }
    None
}

fn find(haystack: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Whether `sql` has `$n` placeholders (outside literals, quoted identifiers and comments).
pub fn has_parameters(sql: &str) -> bool {
    placeholders(sql)
        .iter()
        .any(|p| matches!(p, Placeholder::Dollar { .. }))
}

/// Rewrites `?` placeholders to `$1, $2, …` (unless the statement already uses `$n`).
pub fn rewrite_placeholders(sql: &str) -> String {
    let found = placeholders(sql);
    if found
        .iter()
        .any(|p| matches!(p, Placeholder::Dollar { .. }))
    {
        return sql.to_string();
    }
    let mut out = String::with_capacity(sql.len() + found.len() * 2);
    let mut last = 0;
    for (n, placeholder) in found.iter().enumerate() {
        if let Placeholder::Question(at) = placeholder {
            out.push_str(&sql[last..*at]);
            out.push_str(&format!("${}", n + 1));
            last = at + 1;
        }
    }
    out.push_str(&sql[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_marks_become_numbered_outside_literals_identifiers_and_comments() {
        let sql = "SELECT '?', \"a?\", ? -- ?\n, /* ? /* ? */ ? */ $$?$$, $q$ ? $q$, E'\\'?', ?";
        assert_eq!(
            rewrite_placeholders(sql),
            "SELECT '?', \"a?\", $1 -- ?\n, /* ? /* ? */ ? */ $$?$$, $q$ ? $q$, E'\\'?', $2"
        );
        assert_eq!(
            rewrite_placeholders("SELECT 'it''s ?' = ?"),
            "SELECT 'it''s ?' = $1"
        );
    }

    #[test]
    fn statements_with_dollar_placeholders_keep_question_mark_operators() {
        let sql = "SELECT doc ? 'k' FROM t WHERE id = $1";
        assert_eq!(rewrite_placeholders(sql), sql);
    }

    #[test]
    fn parameters_are_found_outside_literals_only() {
        assert!(has_parameters("SELECT * FROM t WHERE id = $1"));
        assert!(!has_parameters("SELECT '$1', \"$2\" -- $3"));
    }
}
