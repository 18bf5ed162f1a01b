//! SQL text written once for every backend: each query is written with `?` placeholders and
//! rewritten to PostgreSQL's `$1..$n` on first use, then kept, so a query costs its rewrite
//! once per process rather than once per call.
//!
//! The one other difference a query may need is the database's own clock: [`DB_NOW_MS`] in the
//! text becomes each dialect's expression for "now, in milliseconds since the epoch" (leases
//! and claims are timed by the database, not by the clocks of the processes sharing it); and
//! [`FOR_UPDATE`] after a SELECT locks its rows where the dialect needs that.

use std::sync::OnceLock;

/// Written in a query where the database's clock is meant; replaced per dialect.
pub(crate) const DB_NOW_MS: &str = "DB_NOW_MS()";

/// Written after a SELECT whose rows the same transaction rewrites: PostgreSQL locks them
/// (`FOR UPDATE`); SQLite needs nothing (the transaction already holds the write lock).
pub(crate) const FOR_UPDATE: &str = " FOR_UPDATE()";

/// Written after a SELECT (in a subquery) that picks rows to claim: PostgreSQL locks them and
/// skips rows another instance is claiming (`FOR UPDATE SKIP LOCKED`); SQLite needs nothing
/// (the claiming UPDATE holds the write lock).
pub(crate) const SKIP_LOCKED: &str = " SKIP_LOCKED()";

/// The database clock in milliseconds since the epoch, in SQLite's dialect.
const SQLITE_NOW_MS: &str = "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)";
/// The same in PostgreSQL's (`clock_timestamp()`, not the transaction's start time).
const POSTGRES_NOW_MS: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// One query's text, with its per-dialect forms computed lazily and cached. Declare it as a
/// `static` in the function that runs it.
pub(crate) struct Sql {
    source: Source,
    plain: OnceLock<String>,
    numbered: OnceLock<String>,
}

/// Where the `?`-placeholder text comes from.
enum Source {
    /// A literal.
    Fixed(&'static str),
    /// Built on first use (e.g. `format!` with the shared column lists).
    Built(fn() -> String),
}

impl Sql {
    /// A query given as a literal.
    pub(crate) const fn fixed(text: &'static str) -> Self {
        Self::with(Source::Fixed(text))
    }

    /// A query built on first use, for text that interpolates shared constants.
    pub(crate) const fn built(build: fn() -> String) -> Self {
        Self::with(Source::Built(build))
    }

    const fn with(source: Source) -> Self {
        Self {
            source,
            plain: OnceLock::new(),
            numbered: OnceLock::new(),
        }
    }

    /// The text in SQLite's dialect (`?` placeholders), or PostgreSQL's (`$1..$n`) when
    /// `numbered`; [`DB_NOW_MS`] becomes that dialect's clock.
    pub(crate) fn text(&self, numbered: bool) -> &str {
        let cache = if numbered {
            &self.numbered
        } else {
            &self.plain
        };
        cache.get_or_init(|| in_dialect(&self.source(), numbered))
    }

    /// The text as written (built anew for a built query; called once per dialect).
    fn source(&self) -> String {
        match self.source {
            Source::Fixed(text) => text.to_owned(),
            Source::Built(build) => build(),
        }
    }
}

/// `text` in PostgreSQL's dialect when `numbered`, else SQLite's: the database clock, row
/// locks and placeholders as that dialect writes them. For text built at run time (per table
/// of the sealed-column registry); a fixed query is a [`Sql`], which caches this.
pub(crate) fn in_dialect(text: &str, numbered: bool) -> String {
    if numbered {
        let text = text.replace(DB_NOW_MS, POSTGRES_NOW_MS);
        let text = text.replace(SKIP_LOCKED, " FOR UPDATE SKIP LOCKED");
        number_placeholders(&text.replace(FOR_UPDATE, " FOR UPDATE"))
    } else {
        text.replace(DB_NOW_MS, SQLITE_NOW_MS)
            .replace(FOR_UPDATE, "")
            .replace(SKIP_LOCKED, "")
    }
}

/// Rewrites each `?` placeholder of `sql` to `$1`, `$2`, ... in order, leaving a `?` inside a
/// single-quoted string literal or a double-quoted identifier alone (a doubled quote inside
/// either is an escaped quote and needs no special case: it closes and reopens).
pub(crate) fn number_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut quote: Option<char> = None;
    let mut next = 1;
    for c in sql.chars() {
        match (quote, c) {
            (None, '?') => {
                out.push('$');
                out.push_str(&next.to_string());
                next += 1;
                continue;
            }
            (None, '\'' | '"') => quote = Some(c),
            (Some(open), _) if c == open => quote = None,
            _ => {}
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order() {
        assert_eq!(
            number_placeholders("UPDATE t SET a = ?, b = ? WHERE id = ? AND (? IS NULL)"),
            "UPDATE t SET a = $1, b = $2 WHERE id = $3 AND ($4 IS NULL)"
        );
    }

    #[test]
    fn question_marks_inside_string_literals_are_kept() {
        assert_eq!(
            number_placeholders("SELECT 'why?', ? FROM t WHERE note = 'it''s ?' AND x = ?"),
            "SELECT 'why?', $1 FROM t WHERE note = 'it''s ?' AND x = $2"
        );
    }

    #[test]
    fn question_marks_inside_quoted_identifiers_are_kept() {
        assert_eq!(
            number_placeholders(r#"SELECT "odd?col" FROM t WHERE id = ?"#),
            r#"SELECT "odd?col" FROM t WHERE id = $1"#
        );
    }

    #[test]
    fn text_without_placeholders_is_unchanged() {
        assert_eq!(number_placeholders("SELECT 1"), "SELECT 1");
        assert_eq!(number_placeholders(""), "");
    }

    #[test]
    fn ten_or_more_placeholders_get_two_digit_numbers() {
        let sql = ["?"; 12].join(", ");
        assert_eq!(
            number_placeholders(&sql),
            "$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12"
        );
    }

    #[test]
    fn sql_caches_both_forms() {
        static QUERY: Sql = Sql::built(|| format!("SELECT {} FROM t WHERE id = ?", "a, b"));
        assert_eq!(QUERY.text(false), "SELECT a, b FROM t WHERE id = ?");
        assert_eq!(QUERY.text(true), "SELECT a, b FROM t WHERE id = $1");
        assert!(std::ptr::eq(QUERY.text(true), QUERY.text(true)));
        static FIXED: Sql = Sql::fixed("DELETE FROM t WHERE id = ?");
        assert_eq!(FIXED.text(false), "DELETE FROM t WHERE id = ?");
        assert_eq!(FIXED.text(true), "DELETE FROM t WHERE id = $1");
    }

    #[test]
    fn the_database_clock_is_written_in_each_dialect() {
        static LEASE: Sql = Sql::fixed("UPDATE t SET until = DB_NOW_MS() + ? WHERE id = ?");
        assert_eq!(
            LEASE.text(false),
            format!("UPDATE t SET until = {SQLITE_NOW_MS} + ? WHERE id = ?")
        );
        assert_eq!(
            LEASE.text(true),
            format!("UPDATE t SET until = {POSTGRES_NOW_MS} + $1 WHERE id = $2")
        );
    }
}
