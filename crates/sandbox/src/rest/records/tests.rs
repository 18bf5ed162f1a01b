//! Store tests: seeding, CRUD and query execution over a fixed clock.

use std::sync::Arc;

use chrono::DateTime;
use serde_json::{Value, json};
use tether_core::clock::{FixedClock, SharedClock};

use super::*;

fn clock() -> SharedClock {
    Arc::new(FixedClock::at(
        DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default(),
    ))
}

fn body(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap_or_default()
}

/// The value of `field` in every row of `page`, in order (null where a row lacks it).
fn column(page: &Page, field: &str) -> Vec<Value> {
    page.rows
        .iter()
        .map(|r| {
            r.fields
                .iter()
                .find(|(n, _)| *n == field)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect()
}

/// The `Name` of every row `soql` selects, all in one page, as a JSON list.
fn names(records: &Records, soql: &str) -> Result<Value, RecordError> {
    records
        .query(soql, 2000)
        .map(|page| Value::Array(column(&page, "Name")))
}

#[test]
fn default_seed_loads_accounts_contacts_and_opportunities() {
    let seeded = Records::from_seed(clock(), seed::default_seed());
    let records = match seeded {
        Ok(records) => records,
        Err(err) => panic!("default seed rejected: {err}"),
    };
    let counts: Vec<usize> = ["Account", "Contact", "Opportunity"]
        .iter()
        .map(|t| {
            records
                .query(&format!("SELECT COUNT() FROM {t}"), 2000)
                .map(|p| p.total_size)
                .unwrap_or(0)
        })
        .collect();
    assert_eq!(counts, vec![4, 8, 5]);
}

#[test]
fn seed_with_an_unknown_type_or_field_is_refused() {
    let unknown_type = RecordSeed::from([("Nope".to_owned(), vec![])]);
    let err = Records::from_seed(clock(), unknown_type).err();
    assert_eq!(err, Some(SeedError::UnknownType("Nope".into())));
    let bad_field = RecordSeed::from([(
        "account".to_owned(),
        vec![body(json!({"Name": "A", "Nope": 1}))],
    )]);
    let err = Records::from_seed(clock(), bad_field)
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("seed: Account record #0: No such column 'Nope' on sobject of type Account")
    );
}

#[test]
fn seed_ids_must_carry_the_type_prefix_and_be_unique() {
    let id = ids::generate("003", 1);
    let wrong = RecordSeed::from([(
        "Account".to_owned(),
        vec![body(json!({"Id": id, "Name": "A"}))],
    )]);
    let err = Records::from_seed(clock(), wrong).err();
    assert_eq!(
        err,
        Some(SeedError::BadId {
            sobject: "Account",
            index: 0,
            id,
            prefix: "001"
        })
    );
    let id = ids::generate("001", 9);
    let twice = vec![
        body(json!({"Id": id, "Name": "A"})),
        body(json!({"Id": id, "Name": "B"})),
    ];
    let err = Records::from_seed(clock(), RecordSeed::from([("Account".to_owned(), twice)])).err();
    assert_eq!(err, Some(SeedError::DuplicateId(id)));
}

#[test]
fn created_record_reads_back_with_system_dates_from_the_clock() {
    let records = Records::seeded(clock());
    let id = records.create(
        "account",
        &body(json!({"Name": "New Co", "NumberOfEmployees": 3})),
    );
    let id = id.unwrap_or_default();
    let row = records.get(
        "Account",
        &id[..15],
        Some("Name,CreatedDate,numberofemployees"),
    );
    let fields = row.map(|r| r.fields);
    assert_eq!(
        fields,
        Ok(vec![
            ("Name", json!("New Co")),
            ("CreatedDate", json!("2025-06-15T15:06:40.000+0000")),
            ("NumberOfEmployees", json!(3)),
        ])
    );
}

#[test]
fn generated_ids_skip_ids_already_used_by_the_seed() {
    let records = Records::seeded(clock());
    let id = records
        .create("Account", &body(json!({"Name": "Fifth"})))
        .unwrap_or_default();
    assert_eq!(id, ids::generate("001", 5));
}

#[test]
fn update_changes_fields_and_delete_removes_the_record() {
    let records = Records::seeded(clock());
    let id = ids::generate("001", 1);
    assert_eq!(
        records.update("Account", &id, &body(json!({"Phone": "555"}))),
        Ok(())
    );
    let phone = records.get("Account", &id, Some("Phone")).map(|r| r.fields);
    assert_eq!(phone, Ok(vec![("Phone", json!("555"))]));
    assert_eq!(records.delete("Account", &id), Ok(()));
    assert_eq!(
        records.get("Account", &id, None),
        Err(RecordError::NotFound)
    );
    assert_eq!(records.delete("Account", &id), Err(RecordError::NotFound));
}

#[test]
fn reference_to_a_missing_account_is_refused() {
    let records = Records::seeded(clock());
    let missing = ids::generate("001", 999);
    let err = records.create(
        "Contact",
        &body(json!({"LastName": "X", "AccountId": missing})),
    );
    assert_eq!(err, Err(RecordError::MissingReference(missing)));
}

#[test]
fn query_filters_case_insensitively_sorts_limits_and_compares_numbers_and_dates() {
    let records = Records::seeded(clock());
    let cases = [
        (
            "SELECT Name FROM Account WHERE industry = 'TECHNOLOGY' ORDER BY Name DESC LIMIT 5",
            json!(["Initech", "Globex Inc."]),
        ),
        (
            "SELECT Name FROM Opportunity WHERE Amount >= 300000 AND CloseDate > 2025-06-01",
            json!(["Umbrella - Clinic Rollout"]),
        ),
    ];
    for (soql, expected) in cases {
        assert_eq!(names(&records, soql), Ok(expected), "{soql}");
    }
}

#[test]
fn query_compares_with_null() {
    let records = Records::seeded(clock());
    let none = records.query("SELECT COUNT() FROM Account WHERE Website = null", 2000);
    assert_eq!(none.map(|p| p.total_size), Ok(0));
}

#[test]
fn query_pages_by_batch_size() {
    let records = Records::seeded(clock());
    let first = records.query("SELECT Id FROM Contact", 3);
    let next = first
        .as_ref()
        .ok()
        .and_then(|p| p.next.clone())
        .unwrap_or_default();
    assert_eq!(
        first.map(|p| (p.total_size, p.done, p.rows.len())),
        Ok((8, false, 3))
    );
    let second = records.query_more(&next);
    assert_eq!(second.map(|p| (p.done, p.rows.len())), Ok((false, 3)));
}
