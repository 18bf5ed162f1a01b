//! Query paging: results larger than one batch are kept under a query locator (`01g...`)
//! and served page by page at `query/{locator}-{offset}`. Like Salesforce, a locator expires
//! after 15 minutes without use; the sandbox also caps how many stay open.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use super::ids;
use super::query::Row;
use super::record_error::RecordError;

/// Salesforce closes a cursor after 15 minutes of inactivity.
const IDLE_EXPIRY_MINUTES: i64 = 15;
/// Open locators kept at most; the one closest to expiry goes first.
const MAX_OPEN: usize = 10_000;

/// One page of query results.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub total_size: usize,
    pub done: bool,
    /// `{locator}-{offset}` of the next page, when not done.
    pub next: Option<String>,
    pub rows: Vec<Row>,
}

#[derive(Debug)]
struct Cursor {
    rows: Vec<Row>,
    batch: usize,
    expires_at: DateTime<Utc>,
}

/// The open query locators.
#[derive(Debug, Default)]
pub struct Cursors {
    open: HashMap<String, Cursor>,
    serial: u64,
}

impl Cursors {
    /// The first page of `rows`; opens a locator when more than `batch` remain.
    pub fn first_page(&mut self, rows: Vec<Row>, batch: usize, now: DateTime<Utc>) -> Page {
        let batch = batch.max(1);
        if rows.len() <= batch {
            return Page {
                total_size: rows.len(),
                done: true,
                next: None,
                rows,
            };
        }
        self.purge(now);
        self.serial += 1;
        let locator = ids::generate("01g", self.serial);
        let page = Page {
            total_size: rows.len(),
            done: false,
            next: Some(format!("{locator}-{batch}")),
            rows: rows[..batch].to_vec(),
        };
        let expires_at = now + Duration::minutes(IDLE_EXPIRY_MINUTES);
        self.open.insert(
            locator,
            Cursor {
                rows,
                batch,
                expires_at,
            },
        );
        page
    }

    /// The page at `token` (`{locator}-{offset}`); the last page closes the locator.
    pub fn next_page(&mut self, token: &str, now: DateTime<Utc>) -> Result<Page, RecordError> {
        let (locator, offset) = token.rsplit_once('-').ok_or(RecordError::InvalidLocator)?;
        let offset: usize = offset.parse().map_err(|_| RecordError::InvalidLocator)?;
        let cursor = self
            .open
            .get_mut(locator)
            .filter(|c| c.expires_at > now && offset > 0 && offset < c.rows.len())
            .ok_or(RecordError::InvalidLocator)?;
        let end = (offset + cursor.batch).min(cursor.rows.len());
        let done = end == cursor.rows.len();
        cursor.expires_at = now + Duration::minutes(IDLE_EXPIRY_MINUTES);
        let page = Page {
            total_size: cursor.rows.len(),
            done,
            next: (!done).then(|| format!("{locator}-{end}")),
            rows: cursor.rows[offset..end].to_vec(),
        };
        if done {
            self.open.remove(locator);
        }
        Ok(page)
    }

    fn purge(&mut self, now: DateTime<Utc>) {
        self.open.retain(|_, c| c.expires_at > now);
        while self.open.len() >= MAX_OPEN {
            let oldest = self
                .open
                .iter()
                .min_by_key(|(_, c)| c.expires_at)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(key) => self.open.remove(&key),
                None => break,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: usize) -> Vec<Row> {
        (0..n)
            .map(|i| Row {
                sobject: "Account",
                id: ids::generate("001", i as u64),
                fields: vec![],
            })
            .collect()
    }

    fn at(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default() + Duration::minutes(minutes)
    }

    #[test]
    fn small_results_are_done_in_one_page() {
        let page = Cursors::default().first_page(rows(2), 2, at(0));
        assert_eq!(
            (page.total_size, page.done, page.next, page.rows.len()),
            (2, true, None, 2)
        );
    }

    #[test]
    fn pages_walk_to_the_end_and_close_the_locator() {
        let mut cursors = Cursors::default();
        let first = cursors.first_page(rows(5), 2, at(0));
        let locator = ids::generate("01g", 1);
        assert_eq!(first.next, Some(format!("{locator}-2")));
        let second = cursors.next_page(&format!("{locator}-2"), at(1));
        assert_eq!(
            second.as_ref().map(|p| p.next.clone()),
            Ok(Some(format!("{locator}-4")))
        );
        let last = cursors.next_page(&format!("{locator}-4"), at(2));
        assert_eq!(
            last.map(|p| (p.done, p.next, p.rows.len(), p.total_size)),
            Ok((true, None, 1, 5))
        );
        let again = cursors.next_page(&format!("{locator}-4"), at(2));
        assert_eq!(again, Err(RecordError::InvalidLocator));
    }

    #[test]
    fn a_locator_idle_for_15_minutes_is_invalid() {
        let mut cursors = Cursors::default();
        let token = cursors
            .first_page(rows(3), 1, at(0))
            .next
            .unwrap_or_default();
        assert_eq!(
            cursors.next_page(&token, at(15)),
            Err(RecordError::InvalidLocator)
        );
    }

    #[test]
    fn garbage_tokens_are_invalid_locators() {
        let mut cursors = Cursors::default();
        for token in ["", "abc", "01g-x", "01g5g0000000001AAA-0"] {
            assert_eq!(
                cursors.next_page(token, at(0)),
                Err(RecordError::InvalidLocator),
                "{token}"
            );
        }
    }
}
