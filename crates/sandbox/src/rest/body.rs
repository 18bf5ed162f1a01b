//! Response bodies that carry records: each record is an object whose first key is
//! `attributes` (`type` and relative `url`) followed by its fields in select order, as
//! Salesforce writes them.

use serde::Serialize;
use serde::ser::SerializeMap;

use super::cursors::Page;
use super::query::Row;

/// `{"type": "Account", "url": "/services/data/v64.0/sobjects/Account/001..."}`.
#[derive(Debug, Serialize)]
struct Attributes<'a> {
    #[serde(rename = "type")]
    sobject: &'a str,
    url: String,
}

/// One record in a body, its URLs under the version prefix `base`.
#[derive(Debug)]
pub struct RowJson<'a> {
    pub base: &'a str,
    pub row: &'a Row,
}

impl Serialize for RowJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.row.fields.len() + 1))?;
        let url = record_url(self.base, self.row.sobject, &self.row.id);
        map.serialize_entry(
            "attributes",
            &Attributes {
                sobject: self.row.sobject,
                url,
            },
        )?;
        for (name, value) in &self.row.fields {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// `/services/data/v64.0/sobjects/Account/001...`.
pub fn record_url(base: &str, sobject: &str, id: &str) -> String {
    format!("{base}/sobjects/{sobject}/{id}")
}

/// A query response page.
#[derive(Debug, Serialize)]
pub struct QueryBody<'a> {
    #[serde(rename = "totalSize")]
    total_size: usize,
    done: bool,
    #[serde(rename = "nextRecordsUrl", skip_serializing_if = "Option::is_none")]
    next_records_url: Option<String>,
    records: Vec<RowJson<'a>>,
}

impl<'a> QueryBody<'a> {
    /// The body for `page`; `nextRecordsUrl` is relative, `{base}/query/{locator}-{offset}`.
    pub fn new(base: &'a str, page: &'a Page) -> Self {
        Self {
            total_size: page.total_size,
            done: page.done,
            next_records_url: page
                .next
                .as_ref()
                .map(|next| format!("{base}/query/{next}")),
            records: page.rows.iter().map(|row| RowJson { base, row }).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attributes_come_first_then_fields_in_select_order() {
        let row = Row {
            sobject: "Account",
            id: "0015g0000000001AAA".into(),
            fields: vec![("Name", json!("Acme")), ("Id", json!("0015g0000000001AAA"))],
        };
        let text = serde_json::to_string(&RowJson {
            base: "/services/data/v64.0",
            row: &row,
        });
        let expected = r#"{"attributes":{"type":"Account","url":"/services/data/v64.0/sobjects/Account/0015g0000000001AAA"},"Name":"Acme","Id":"0015g0000000001AAA"}"#;
        assert_eq!(text.ok().as_deref(), Some(expected));
    }
}
