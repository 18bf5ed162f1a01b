//! Resolution tests: Salesforce's INVALID_TYPE / INVALID_FIELD texts and positions.

use super::*;
use crate::rest::soql;

fn plan_error(text: &str) -> Option<(&'static str, String)> {
    let err = soql::parse(text).and_then(|q| plan(&q)).err();
    err.map(|e| (e.error_code(), e.message(text)))
}

#[test]
fn unknown_column_is_invalid_field_with_a_caret_under_it() {
    let message = "\nSELECT Nope FROM Account\n       ^\nERROR at Row:1:Column:8\nNo such column \
                   'Nope' on entity 'Account'. If you are attempting to use a custom field, be \
                   sure to append the '__c' after the custom field name. Please reference your \
                   WSDL or the describe call for the appropriate names.";
    assert_eq!(
        plan_error("SELECT Nope FROM Account"),
        Some(("INVALID_FIELD", message.to_owned()))
    );
}

#[test]
fn unknown_type_is_invalid_type() {
    let message = "\nSELECT Id FROM Nope\n               ^\nERROR at Row:1:Column:16\nsObject type \
                   'Nope' is not supported. If you are attempting to use a custom object, be sure \
                   to append the '__c' after the entity name. Please reference your WSDL or the \
                   describe call for the appropriate names.";
    assert_eq!(
        plan_error("SELECT Id FROM Nope"),
        Some(("INVALID_TYPE", message.to_owned()))
    );
}

#[test]
fn unknown_column_in_where_or_order_by_is_found_too() {
    let where_err = plan_error("SELECT Id FROM Account WHERE Foo = 'x'").map(|(code, _)| code);
    assert_eq!(where_err, Some("INVALID_FIELD"));
    let order_err = plan_error("SELECT Id FROM Account ORDER BY Bar").map(|(_, m)| m);
    assert!(order_err.is_some_and(|m| m.contains("Column:33\nNo such column 'Bar'")));
}

#[test]
fn relationship_paths_are_not_understood() {
    let err = plan_error("SELECT Account.Name FROM Contact").map(|(_, m)| m);
    let start = "\nSELECT Account.Name FROM Contact\n       ^\nERROR at Row:1:Column:8\nDidn't \
                 understand relationship 'Account' in field path.";
    assert!(err.is_some_and(|m| m.starts_with(start)));
}

#[test]
fn quoted_number_for_a_currency_field_is_invalid_field() {
    let err = plan_error("SELECT Id FROM Account WHERE AnnualRevenue = '5'")
        .map(|(c, m)| (c, m.rsplit('\n').next().map(str::to_owned)));
    let detail = "value of filter criterion for field 'AnnualRevenue' must be of type double and \
                  should not be enclosed in quotes";
    assert_eq!(err, Some(("INVALID_FIELD", Some(detail.to_owned()))));
}

#[test]
fn selecting_a_field_twice_is_malformed() {
    let err = plan_error("SELECT Id, id FROM Account")
        .map(|(c, m)| (c, m.ends_with("duplicate field selected: Id")));
    assert_eq!(err, Some(("MALFORMED_QUERY", true)));
}
