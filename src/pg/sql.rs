//! SQL text helpers: identifier and string-literal quoting by PostgreSQL's rules.
//!
//! pgflight always quotes identifiers it puts into SQL, so a name is used exactly as the catalog
//! spells it (case, spaces, quotes, unicode) and can never be read as SQL syntax.

/// Quotes `name` as a PostgreSQL identifier: wrapped in double quotes, every embedded double quote
/// doubled. Always quotes, even when the name would be valid unquoted, so case is preserved.
///
/// A NUL character cannot occur in a PostgreSQL identifier; it is dropped rather than allowed to
/// truncate the statement.
pub fn quote_ident(name: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('"');
    for c in name.chars() {
        match c {
            '"' => quoted.push_str("\"\""),
            '\0' => {}
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// `"schema"."name"`: a schema-qualified relation name, both parts quoted by [`quote_ident`].
pub fn qualified_name(schema: &str, name: &str) -> String {
    format!("{}.{}", quote_ident(schema), quote_ident(name))
}

/// A standard SQL string literal (quotes doubled; `standard_conforming_strings` is on in every
/// pgflight session).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_are_always_quoted() {
        assert_eq!(quote_ident("users"), "\"users\"");
        assert_eq!(quote_ident("Users"), "\"Users\"");
        assert_eq!(quote_ident(""), "\"\"");
    }

    #[test]
    fn embedded_quotes_are_doubled() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("\""), "\"\"\"\"");
        assert_eq!(
            quote_ident("x\"; DROP TABLE t; --"),
            "\"x\"\"; DROP TABLE t; --\""
        );
    }

    #[test]
    fn spaces_dots_and_unicode_are_kept() {
        assert_eq!(quote_ident("order date"), "\"order date\"");
        assert_eq!(quote_ident("a.b"), "\"a.b\"");
        assert_eq!(quote_ident("prix_€"), "\"prix_€\"");
        assert_eq!(quote_ident("日本語"), "\"日本語\"");
        assert_eq!(quote_ident("it's"), "\"it's\"");
    }

    #[test]
    fn literals_double_their_quotes() {
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal(""), "''");
    }

    #[test]
    fn nul_is_dropped() {
        assert_eq!(quote_ident("a\0b"), "\"ab\"");
    }

    #[test]
    fn qualified_names_quote_both_parts() {
        assert_eq!(qualified_name("public", "users"), "\"public\".\"users\"");
        assert_eq!(
            qualified_name("My Schema", "t\"x"),
            "\"My Schema\".\"t\"\"x\""
        );
    }
}
