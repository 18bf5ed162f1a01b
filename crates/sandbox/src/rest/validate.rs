//! Checks a JSON body written to a record (create, update or seed) against the type's
//! fields: unknown, read-only and required fields, and value types. Reference existence is
//! checked by the store, which sees the other records.

use serde_json::{Map, Value};

use super::record_error::RecordError;
use super::schema::{Kind, SObjectType};
use super::values;

/// Which write is being checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `POST .../sobjects/{Type}`: read-only fields refused, required fields needed.
    Create,
    /// `PATCH .../sobjects/{Type}/{Id}`: read-only refused, required may not be cleared.
    Update,
    /// Seeding: system fields (Id, dates) may be given; required fields needed.
    Seed,
}

/// The stored values of `body`, in the body's order; `attributes` is ignored as Salesforce
/// does.
pub fn fields(
    sobject: &'static SObjectType,
    body: &Map<String, Value>,
    mode: Mode,
) -> Result<Vec<(&'static str, Value)>, RecordError> {
    let mut out = Vec::with_capacity(body.len());
    let mut read_only = Vec::new();
    for (name, value) in body
        .iter()
        .filter(|(name, _)| name.as_str() != "attributes")
    {
        let field = sobject
            .field(name)
            .ok_or_else(|| RecordError::UnknownField {
                sobject: sobject.name,
                field: name.clone(),
            })?;
        if !field.writable && mode != Mode::Seed {
            read_only.push(field.name);
            continue;
        }
        let stored = values::coerce(field, value)?;
        check_reference_type(field.kind, &stored)?;
        out.push((field.name, stored));
    }
    if !read_only.is_empty() {
        return Err(RecordError::ReadOnly(read_only));
    }
    check_required(sobject, &out, mode)?;
    Ok(out)
}

fn check_reference_type(kind: Kind, stored: &Value) -> Result<(), RecordError> {
    let (Kind::Reference(target), Value::String(id)) = (kind, stored) else {
        return Ok(());
    };
    let prefix = super::schema::find(target)
        .map(|t| t.key_prefix)
        .unwrap_or_default();
    if id.starts_with(prefix) {
        Ok(())
    } else {
        Err(RecordError::WrongReferenceType {
            target,
            id: id.clone(),
        })
    }
}

fn check_required(
    sobject: &SObjectType,
    written: &[(&'static str, Value)],
    mode: Mode,
) -> Result<(), RecordError> {
    let value_of = |name: &str| written.iter().find(|(n, _)| *n == name).map(|(_, v)| v);
    let missing: Vec<&'static str> = sobject
        .fields
        .iter()
        .filter(|f| f.required)
        .filter(|f| match (mode, value_of(f.name)) {
            (Mode::Update, None) => false,
            (_, value) => value.is_none_or(Value::is_null),
        })
        .map(|f| f.name)
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(RecordError::RequiredMissing(missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rest::schema;
    use serde_json::json;

    fn account() -> &'static SObjectType {
        &schema::TYPES[0]
    }

    fn body(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn create_canonicalizes_names_and_ignores_attributes() {
        let written = fields(
            account(),
            &body(json!({"attributes": {}, "name": "Acme"})),
            Mode::Create,
        );
        assert_eq!(written, Ok(vec![("Name", json!("Acme"))]));
    }

    #[test]
    fn create_without_a_required_field_names_it() {
        let err = fields(account(), &body(json!({"Phone": "1"})), Mode::Create);
        assert_eq!(err, Err(RecordError::RequiredMissing(vec!["Name"])));
    }

    #[test]
    fn update_may_omit_but_not_clear_required_fields() {
        assert_eq!(
            fields(account(), &body(json!({"Phone": "1"})), Mode::Update).map(|f| f.len()),
            Ok(1)
        );
        let err = fields(account(), &body(json!({"Name": null})), Mode::Update);
        assert_eq!(err, Err(RecordError::RequiredMissing(vec!["Name"])));
    }

    #[test]
    fn system_fields_are_read_only_except_when_seeding() {
        let b = body(json!({"Name": "A", "CreatedDate": "2020-01-01T00:00:00Z"}));
        assert_eq!(
            fields(account(), &b, Mode::Create),
            Err(RecordError::ReadOnly(vec!["CreatedDate"]))
        );
        assert!(fields(account(), &b, Mode::Seed).is_ok());
    }

    #[test]
    fn reference_to_the_wrong_type_is_a_field_integrity_error() {
        let contact = schema::find("Contact").unwrap_or(account());
        let id = crate::rest::ids::generate("006", 1);
        let err = fields(
            contact,
            &body(json!({"LastName": "X", "AccountId": id})),
            Mode::Create,
        );
        assert_eq!(
            err,
            Err(RecordError::WrongReferenceType {
                target: "Account",
                id
            })
        );
    }

    #[test]
    fn unknown_field_is_named_with_the_type() {
        let err = fields(account(), &body(json!({"Nope": 1})), Mode::Create);
        let expected = RecordError::UnknownField {
            sobject: "Account",
            field: "Nope".into(),
        };
        assert_eq!(err, Err(expected));
    }
}
