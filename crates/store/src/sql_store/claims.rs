//! Claims on due jobs (connections to retry or keep alive, webhook deliveries): an instance
//! takes a batch for a while, and the others skip it until the job is done or the claim
//! lapses. Every claim is one UPDATE of the rows a subquery picks.

use crate::Claim;
use crate::codec::millis;
use crate::sql::{Backend, SKIP_LOCKED, Sql, Statement};

/// The term of a row (unaliased) that no live claim holds.
pub(super) const UNCLAIMED: &str = "(claim_until IS NULL OR claim_until <= DB_NOW_MS())";

/// When a connection's refresh token was last used: the expression the keep-alive's indexes
/// (`connections_keepalive`, `connections_keepalive_by_connector`) are built on, which their
/// queries must repeat exactly.
pub(super) const LAST_USE: &str =
    "COALESCE(last_refreshed_at, refresh_token_issued_at, created_at)";

/// The keep-alive's work: active connections whose refresh token was last used before the
/// cutoff (the first placeholder), oldest use first (then by `then_by`), at most `?`;
/// `scope` (ending in AND) narrows it. The terms are those of the keep-alive indexes, partial
/// on connections with a refresh token (the JWT bearer and client credentials grants have
/// none, and are never kept alive).
pub(super) fn idle_pick(scope: &str, then_by: &str) -> String {
    format!(
        "SELECT id FROM connections
         WHERE {scope}status = 'active' AND refresh_token IS NOT NULL
           AND {LAST_USE} < ? AND {UNCLAIMED}
         ORDER BY {LAST_USE}{then_by}
         LIMIT ?"
    )
}

/// An UPDATE of `table` claiming the rows whose ids `pick` selects (rows another transaction
/// locks are skipped where the database can), returning `returning`. Its first two
/// placeholders are the claim's (see [`claim_statement`]).
pub(super) fn claiming(table: &str, pick: &str, returning: &str) -> String {
    format!(
        "UPDATE {table} SET claim_owner = ?, claim_until = DB_NOW_MS() + ?
         WHERE id IN ({pick}{SKIP_LOCKED})
         RETURNING {returning}"
    )
}

/// `sql` (built by [`claiming`]) with `claim` bound to its first placeholders.
pub(super) fn claim_statement<'a, DB: Backend>(
    sql: &'static Sql,
    claim: &'a Claim,
) -> Statement<'a, DB> {
    Statement::new(sql)
        .bind(claim.owner.as_str())
        .bind(millis(claim.length))
}
