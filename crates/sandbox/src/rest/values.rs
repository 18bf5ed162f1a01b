//! Field values: checking JSON written by clients (and seeds) against a field's kind,
//! turning SOQL literals into comparable values, and comparing values the way SOQL does
//! (text ignoring case, numbers numerically, datetimes in UTC).

use std::cmp::Ordering;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::Value;

use super::ids;
use super::schema::{Field, Kind};
use super::soql::Literal;

/// Salesforce's datetime format in bodies: `2025-06-30T12:00:00.000+0000`.
pub fn format_datetime(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
        .replace('Z', "+0000")
}

/// Parses an ISO 8601 datetime with any offset (or Salesforce's `+0000` form).
fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z"))
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

/// Why a written value does not fit its field; the text is Salesforce's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Cannot deserialize instance of {soap} from {token} value {raw} or request may be missing a required field"
)]
pub struct BadValue {
    soap: &'static str,
    token: &'static str,
    raw: String,
}

/// The stored form of `value` written to `field`: ids in 18 characters, datetimes in
/// Salesforce's format; `null` clears the field.
pub fn coerce(field: &Field, value: &Value) -> Result<Value, BadValue> {
    let stored = match (field.kind, value) {
        (_, Value::Null) => Some(Value::Null),
        (Kind::Text, Value::String(_)) | (Kind::Boolean, Value::Bool(_)) => Some(value.clone()),
        (Kind::Double, Value::Number(_)) => Some(value.clone()),
        (Kind::Int, Value::Number(n)) if n.is_i64() => Some(value.clone()),
        (Kind::Id | Kind::Reference(_), Value::String(s)) => ids::normalize(s).map(Value::String),
        (Kind::Date, Value::String(s)) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(|_| value.clone()),
        (Kind::DateTime, Value::String(s)) => {
            parse_datetime(s).map(|at| Value::String(format_datetime(at)))
        }
        _ => None,
    };
    stored.ok_or_else(|| bad_value(field.kind, value))
}

fn bad_value(kind: Kind, value: &Value) -> BadValue {
    let token = match value {
        Value::String(_) => "VALUE_STRING",
        Value::Number(n) if n.is_f64() => "VALUE_NUMBER_FLOAT",
        Value::Number(_) => "VALUE_NUMBER_INT",
        Value::Bool(true) => "VALUE_TRUE",
        Value::Bool(false) => "VALUE_FALSE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
        Value::Null => "VALUE_NULL",
    };
    let raw = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    BadValue {
        soap: kind.soap_name(),
        token,
        raw,
    }
}

/// The comparable value of a SOQL literal for a field of `kind`, or `None` when the literal
/// has the wrong type for the field.
pub fn literal_value(kind: Kind, literal: &Literal) -> Option<Value> {
    match (kind, literal) {
        (_, Literal::Null) => Some(Value::Null),
        (Kind::Text, Literal::Str(s)) => Some(Value::String(s.clone())),
        (Kind::Id | Kind::Reference(_), Literal::Str(s)) => Some(Value::String(
            ids::normalize(s).unwrap_or_else(|| s.clone()),
        )),
        (Kind::Double | Kind::Int, Literal::Number(n)) => n
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        (Kind::Boolean, Literal::Bool(b)) => Some(Value::Bool(*b)),
        (Kind::Date, Literal::Date(d)) => Some(Value::String(d.clone())),
        (Kind::DateTime, Literal::DateTime(d)) => {
            parse_datetime(d).map(|at| Value::String(format_datetime(at)))
        }
        _ => None,
    }
}

/// Salesforce's complaint when a filter literal has the wrong type for its field.
pub fn literal_type_message(field: &Field) -> String {
    let quoting = match field.kind {
        Kind::Text | Kind::Id | Kind::Reference(_) => "should be enclosed in quotes",
        _ => "should not be enclosed in quotes",
    };
    format!(
        "value of filter criterion for field '{}' must be of type {} and {quoting}",
        field.name,
        field.kind.soap_name()
    )
}

/// Orders two non-null values of one field; text ignores case. `None` if incomparable.
pub fn compare(kind: Kind, a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::String(x), Value::String(y)) if kind == Kind::Text => {
            Some(x.to_lowercase().cmp(&y.to_lowercase()))
        }
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::schema;
    use serde_json::json;

    fn field(sobject: &str, name: &str) -> &'static Field {
        match schema::find(sobject).and_then(|t| t.field(name)) {
            Some(field) => field,
            None => panic!("no field {sobject}.{name}"),
        }
    }

    #[test]
    fn coerce_normalizes_ids_and_datetimes() {
        let account_id = field("Contact", "AccountId");
        let short = &ids::generate("001", 5)[..15];
        assert_eq!(
            coerce(account_id, &json!(short)),
            Ok(json!(ids::generate("001", 5)))
        );
        let created = field("Account", "CreatedDate");
        let at = coerce(created, &json!("2025-06-30T14:00:00+02:00"));
        assert_eq!(at, Ok(json!("2025-06-30T12:00:00.000+0000")));
    }

    #[test]
    fn coerce_rejects_a_string_for_a_number_with_salesforce_text() {
        let err = coerce(field("Account", "AnnualRevenue"), &json!("lots")).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some(
                "Cannot deserialize instance of double from VALUE_STRING value lots or request \
                 may be missing a required field"
            )
        );
    }

    #[test]
    fn text_compares_ignoring_case_and_numbers_numerically() {
        assert_eq!(
            compare(Kind::Text, &json!("acme"), &json!("ACME")),
            Some(Ordering::Equal)
        );
        assert_eq!(
            compare(Kind::Double, &json!(9), &json!(10.5)),
            Some(Ordering::Less)
        );
    }

    #[test]
    fn literal_of_the_wrong_type_has_no_value() {
        assert_eq!(literal_value(Kind::Double, &Literal::Str("1".into())), None);
        assert_eq!(
            literal_value(Kind::Text, &Literal::Number("1".into())),
            None
        );
        assert_eq!(literal_value(Kind::Int, &Literal::Null), Some(Value::Null));
    }
}
