//! The registry of every sealed column: its table, the column, and the key columns whose
//! values (joined by `/`) are the AAD record its writers seal it for. Re-encryption, the
//! count of values per master key (which a key must reach zero of before it is retired) and
//! the discovery of the keys an older database is sealed under all walk this one list, so a
//! new sealed column is covered by adding it here.
//!
//! Not listed: `master_keys.canary`, sealed on purpose under one particular key each (see
//! `sql_store::master_keys`), never re-sealed.

use crate::StoreResult;
use crate::codec::Columns;
use crate::sql::FOR_UPDATE;

/// A column holding sealed values.
#[derive(Debug)]
pub(crate) struct SealedColumn {
    pub table: &'static str,
    pub keys: &'static [&'static str],
    pub field: &'static str,
}

/// Every sealed column of the schema.
pub(crate) const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn {
        table: "connectors",
        keys: &["workspace_id", "name"],
        field: "client_secret",
    },
    SealedColumn {
        table: "connectors",
        keys: &["workspace_id", "name"],
        field: "jwt_private_key",
    },
    SealedColumn {
        table: "connectors",
        keys: &["workspace_id", "name"],
        field: "jwt_pending_private_key",
    },
    SealedColumn {
        table: "connect_sessions",
        keys: &["id"],
        field: "pkce_verifier",
    },
    SealedColumn {
        table: "connections",
        keys: &["id"],
        field: "access_token",
    },
    SealedColumn {
        table: "connections",
        keys: &["id"],
        field: "refresh_token",
    },
    SealedColumn {
        table: "signing_keys",
        keys: &["name"],
        field: "secret",
    },
    SealedColumn {
        table: "webhooks",
        keys: &["id"],
        field: "secret",
    },
    SealedColumn {
        table: "webhooks",
        keys: &["id"],
        field: "previous_secret",
    },
];

/// The key id in a sealed value's header (bytes 2 to 5: after the version byte), in SQL that
/// SQLite (BLOB) and PostgreSQL (BYTEA) both run.
fn key_id_sql(field: &str) -> String {
    format!("substr({field}, 2, 4)")
}

impl SealedColumn {
    /// `table.field`, as progress and errors name it.
    pub(crate) fn name(&self) -> String {
        format!("{}.{}", self.table, self.field)
    }

    /// The values of the key columns of `row`, in order.
    pub(crate) fn key_values(&self, row: &impl Columns) -> StoreResult<Vec<String>> {
        Ok(self
            .keys
            .iter()
            .map(|k| row.text(k))
            .collect::<Result<Vec<_>, _>>()?)
    }

    /// The number of values per key id: rows of (`key_id` bytes, `n`).
    pub(crate) fn count_by_key(&self) -> String {
        let (table, field) = (self.table, self.field);
        let key_id = key_id_sql(field);
        format!(
            "SELECT {key_id} AS key_id, COUNT(*) AS n FROM {table}
             WHERE {field} IS NOT NULL GROUP BY {key_id}"
        )
    }

    /// Up to `?` values not sealed under the key id `?`, in key order, after the row whose key
    /// is bound next when `after_cursor`; locked for the transaction that re-seals them.
    pub(crate) fn select_batch(&self, after_cursor: bool) -> String {
        let (table, field) = (self.table, self.field);
        let keys = self.keys.join(", ");
        let key_id = key_id_sql(field);
        let after = if after_cursor {
            let marks = vec!["?"; self.keys.len()].join(", ");
            format!(" AND ({keys}) > ({marks})")
        } else {
            String::new()
        };
        format!(
            "SELECT {keys}, {field} FROM {table}
             WHERE {field} IS NOT NULL AND {key_id} <> ?{after}
             ORDER BY {keys} LIMIT ?{FOR_UPDATE}"
        )
    }

    /// Replaces a value (bound first) if the row (its key bound next) still holds the value
    /// read (bound last): a writer that replaced it meanwhile wins.
    pub(crate) fn update_value(&self) -> String {
        let (table, field) = (self.table, self.field);
        let matches = self
            .keys
            .iter()
            .map(|k| format!("{k} = ?"))
            .collect::<Vec<_>>()
            .join(" AND ");
        format!("UPDATE {table} SET {field} = ? WHERE {matches} AND {field} = ?")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_of_a_composite_key_resumes_after_the_last_row_in_key_order() {
        let connectors = &SEALED_COLUMNS[0];
        let batch = connectors.select_batch(true);
        for part in [
            "SELECT workspace_id, name, client_secret FROM connectors",
            "substr(client_secret, 2, 4) <> ?",
            "AND (workspace_id, name) > (?, ?)",
            "ORDER BY workspace_id, name LIMIT ?",
        ] {
            assert!(batch.contains(part), "{part} in {batch}");
        }
        assert!(!connectors.select_batch(false).contains(") > ("));
        assert_eq!(
            connectors.update_value(),
            "UPDATE connectors SET client_secret = ? WHERE workspace_id = ? AND name = ? \
             AND client_secret = ?"
        );
    }

    #[test]
    fn every_column_is_named_once() {
        let mut names: Vec<String> = SEALED_COLUMNS.iter().map(SealedColumn::name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SEALED_COLUMNS.len());
    }
}
