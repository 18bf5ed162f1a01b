//! SOQL resolution and execution: checks a parsed query against the schema (giving
//! `INVALID_TYPE` / `INVALID_FIELD` at the offending position), then filters, sorts, limits
//! and projects records into result rows.

use std::cmp::Ordering;

use serde_json::Value;

use super::records::Record;
use super::schema::{self, Field, SObjectType};
use super::soql::{Ident, Nulls, Op, Query, Select, SoqlError};
use super::values;

/// One result row: the record's type and id (for `attributes`) and the selected fields in
/// select order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub sobject: &'static str,
    pub id: String,
    pub fields: Vec<(&'static str, Value)>,
}

/// What a query produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `COUNT()`: the number of matching records.
    Count(usize),
    Rows(Vec<Row>),
}

/// A query resolved against the schema.
#[derive(Debug)]
pub struct Plan {
    pub sobject: &'static SObjectType,
    /// `None` for `COUNT()`.
    select: Option<Vec<&'static Field>>,
    filters: Vec<Filter>,
    order: Vec<SortKey>,
    limit: Option<u64>,
    offset: Option<u64>,
}

#[derive(Debug)]
struct Filter {
    field: &'static Field,
    op: Op,
    value: Value,
}

#[derive(Debug)]
struct SortKey {
    field: &'static Field,
    descending: bool,
    nulls_first: bool,
}

/// Resolves names and literal types; errors carry Salesforce's texts and positions.
pub fn plan(query: &Query) -> Result<Plan, SoqlError> {
    let sobject = schema::find(&query.from.name).ok_or_else(|| invalid_type(&query.from))?;
    let select = match &query.select {
        Select::Count => None,
        Select::Fields(names) => Some(resolve_fields(sobject, names)?),
    };
    let filters = query
        .conditions
        .iter()
        .map(|c| {
            let field = resolve(sobject, &c.field)?;
            let value = values::literal_value(field.kind, &c.value).ok_or_else(|| {
                SoqlError::invalid_field(c.field.pos, values::literal_type_message(field))
            })?;
            Ok(Filter {
                field,
                op: c.op,
                value,
            })
        })
        .collect::<Result<_, SoqlError>>()?;
    let order = query
        .order_by
        .iter()
        .map(|o| {
            let field = resolve(sobject, &o.field)?;
            // SOQL sorts nulls first unless told otherwise, in either direction.
            let nulls_first = o.nulls != Some(Nulls::Last);
            Ok(SortKey {
                field,
                descending: o.descending,
                nulls_first,
            })
        })
        .collect::<Result<_, SoqlError>>()?;
    Ok(Plan {
        sobject,
        select,
        filters,
        order,
        limit: query.limit,
        offset: query.offset,
    })
}

fn resolve_fields(
    sobject: &'static SObjectType,
    names: &[Ident],
) -> Result<Vec<&'static Field>, SoqlError> {
    let mut fields: Vec<&'static Field> = Vec::with_capacity(names.len());
    for name in names {
        let field = resolve(sobject, name)?;
        if fields.iter().any(|f| f.name == field.name) {
            return Err(SoqlError::malformed(
                name.pos,
                format!("duplicate field selected: {}", field.name),
            ));
        }
        fields.push(field);
    }
    Ok(fields)
}

fn resolve(sobject: &'static SObjectType, name: &Ident) -> Result<&'static Field, SoqlError> {
    sobject
        .field(&name.name)
        .ok_or_else(|| invalid_field(sobject, name))
}

fn invalid_type(name: &Ident) -> SoqlError {
    SoqlError::invalid_type(
        name.pos,
        format!(
            "sObject type '{}' is not supported. If you are attempting to use a custom object, \
             be sure to append the '__c' after the entity name. Please reference your WSDL or \
             the describe call for the appropriate names.",
            name.name
        ),
    )
}

fn invalid_field(sobject: &SObjectType, name: &Ident) -> SoqlError {
    let detail = match name.name.split_once('.') {
        Some((relationship, _)) => format!(
            "Didn't understand relationship '{relationship}' in field path. If you are \
             attempting to use a custom relationship, be sure to append the '__r' after the \
             custom relationship name. Please reference your WSDL or the describe call for the \
             appropriate names."
        ),
        None => no_such_column(sobject, &name.name),
    };
    SoqlError::invalid_field(name.pos, detail)
}

/// `No such column 'X' on entity 'Account'. ...`, shared with `?fields=` on record reads.
pub fn no_such_column(sobject: &SObjectType, field: &str) -> String {
    format!(
        "No such column '{field}' on entity '{}'. If you are attempting to use a custom field, \
         be sure to append the '__c' after the custom field name. Please reference your WSDL \
         or the describe call for the appropriate names.",
        sobject.name
    )
}

/// Runs `plan` over the records of its type (in id order).
pub fn execute<'a>(plan: &Plan, records: impl Iterator<Item = &'a Record>) -> Outcome {
    let mut matched: Vec<&Record> = records
        .filter(|r| plan.filters.iter().all(|f| f.accepts(r)))
        .collect();
    matched.sort_by(|a, b| plan.compare(a, b));
    let offset = usize::try_from(plan.offset.unwrap_or(0)).unwrap_or(usize::MAX);
    let limit = plan
        .limit
        .and_then(|l| usize::try_from(l).ok())
        .unwrap_or(usize::MAX);
    let window = matched.into_iter().skip(offset).take(limit);
    match &plan.select {
        None => Outcome::Count(window.count()),
        Some(fields) => Outcome::Rows(window.map(|r| project(r, fields)).collect()),
    }
}

/// The row for `record` with `fields` in order; unset fields are `null`.
pub fn project(record: &Record, fields: &[&'static Field]) -> Row {
    let fields = fields
        .iter()
        .map(|f| (f.name, record.get(f.name).clone()))
        .collect();
    Row {
        sobject: record.sobject.name,
        id: record.id.clone(),
        fields,
    }
}

impl Filter {
    fn accepts(&self, record: &Record) -> bool {
        let stored = record.get(self.field.name);
        match (stored.is_null(), self.value.is_null()) {
            (true, true) => self.op == Op::Eq,
            (false, true) | (true, false) => self.op == Op::Ne,
            (false, false) => {
                let ordering = values::compare(self.field.kind, stored, &self.value);
                ordering.is_some_and(|o| op_holds(self.op, o))
            }
        }
    }
}

fn op_holds(op: Op, ordering: Ordering) -> bool {
    match op {
        Op::Eq => ordering.is_eq(),
        Op::Ne => ordering.is_ne(),
        Op::Lt => ordering.is_lt(),
        Op::Le => ordering.is_le(),
        Op::Gt => ordering.is_gt(),
        Op::Ge => ordering.is_ge(),
    }
}

impl Plan {
    fn compare(&self, a: &Record, b: &Record) -> Ordering {
        self.order
            .iter()
            .map(|key| key.compare(a, b))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

impl SortKey {
    fn compare(&self, a: &Record, b: &Record) -> Ordering {
        let (x, y) = (a.get(self.field.name), b.get(self.field.name));
        let null_side = if self.nulls_first {
            Ordering::Less
        } else {
            Ordering::Greater
        };
        match (x.is_null(), y.is_null()) {
            (true, true) => Ordering::Equal,
            (true, false) => null_side,
            (false, true) => null_side.reverse(),
            (false, false) => {
                let ordering = values::compare(self.field.kind, x, y).unwrap_or(Ordering::Equal);
                if self.descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
