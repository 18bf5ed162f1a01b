//! What the API's paged histories share: a connection's events and a webhook's deliveries
//! are asked for with the same query and refuse the same things.

use serde::Deserialize;

use crate::error::{NOT_FOUND, problems};

/// Paging of a history, newest first.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    /// 1 to 500; 50 when absent.
    #[param(minimum = 1, maximum = 500)]
    limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    cursor: Option<String>,
}

impl HistoryQuery {
    /// The page size asked for; the service checks it against its range.
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(50)
    }

    /// Where the page starts: after the place the cursor names, or at the newest.
    pub fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref()
    }
}

problems! {
    /// What a history answers when it fails.
    HistoryProblems {
        400 => "`invalid-request`: the limit or cursor to fix.",
        404 => NOT_FOUND,
    }
}
