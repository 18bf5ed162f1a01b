//! The in-memory records of the sandbox org and every operation on them: create, read,
//! update, delete, SOQL queries with paging. One mutex guards the whole store; operations are
//! short and never await while holding it.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Map, Value};
use tether_core::clock::SharedClock;

use super::cursors::{Cursors, Page};
use super::ids;
use super::query::{self, Outcome, Row};
use super::record_error::RecordError;
use super::schema::{self, Field, Kind, SObjectType};
use super::seed::{self, RecordSeed, SeedError};
use super::soql;
use super::validate::{self, Mode};
use super::values::format_datetime;

static NULL: Value = Value::Null;

/// One stored record; `values` holds every set field, `Id` included.
#[derive(Debug, Clone)]
pub struct Record {
    pub sobject: &'static SObjectType,
    pub id: String,
    values: BTreeMap<&'static str, Value>,
}

impl Record {
    /// The value of a field by canonical name; `null` when unset.
    pub fn get(&self, field: &str) -> &Value {
        self.values.get(field).unwrap_or(&NULL)
    }
}

/// The org's records, shared by every handler.
#[derive(Debug, Clone)]
pub struct Records {
    inner: Arc<Mutex<Store>>,
}

#[derive(Debug)]
pub(super) struct Store {
    clock: SharedClock,
    tables: BTreeMap<&'static str, BTreeMap<String, Record>>,
    /// Last id serial used, per type.
    serials: BTreeMap<&'static str, u64>,
    cursors: Cursors,
}

impl Records {
    /// The default org data: a few Accounts, Contacts linked to them, and Opportunities.
    pub fn seeded(clock: SharedClock) -> Records {
        Self::from_seed(clock.clone(), seed::default_seed()).unwrap_or_else(|err| {
            // The default seed is checked by a unit test; this only guards against a bad edit.
            tracing::error!(%err, "default sandbox seed rejected; starting with no records");
            Self::empty(clock)
        })
    }

    /// Records from `seed`; unknown types, unknown fields or bad values are errors.
    pub fn from_seed(clock: SharedClock, seed: RecordSeed) -> Result<Records, SeedError> {
        let mut store = Store::new(clock);
        seed::load(&mut store, seed)?;
        Ok(Records {
            inner: Arc::new(Mutex::new(store)),
        })
    }

    fn empty(clock: SharedClock) -> Records {
        Records {
            inner: Arc::new(Mutex::new(Store::new(clock))),
        }
    }

    /// Creates a record from a JSON body; returns its 18-character id.
    pub fn create(&self, sobject: &str, body: &Map<String, Value>) -> Result<String, RecordError> {
        let sobject = find_type(sobject)?;
        let fields = validate::fields(sobject, body, Mode::Create)?;
        let mut store = self.inner.lock();
        store.check_references(sobject, &fields)?;
        Ok(store.insert(sobject, fields, None))
    }

    /// Reads one record: every field, or the comma-separated `fields` in that order.
    pub fn get(&self, sobject: &str, id: &str, fields: Option<&str>) -> Result<Row, RecordError> {
        let sobject = find_type(sobject)?;
        let selected = match fields {
            None => sobject.fields.iter().collect(),
            Some(list) => read_fields(sobject, list)?,
        };
        let store = self.inner.lock();
        let record = store.record(sobject, id)?;
        Ok(query::project(record, &selected))
    }

    /// Applies a JSON body to an existing record.
    pub fn update(
        &self,
        sobject: &str,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<(), RecordError> {
        let sobject = find_type(sobject)?;
        let fields = validate::fields(sobject, body, Mode::Update)?;
        let mut store = self.inner.lock();
        store.check_references(sobject, &fields)?;
        let now = Value::String(format_datetime(store.clock.now()));
        let record = store.record_mut(sobject, id)?;
        record.values.extend(fields);
        record.values.insert("LastModifiedDate", now);
        Ok(())
    }

    /// Deletes a record.
    pub fn delete(&self, sobject: &str, id: &str) -> Result<(), RecordError> {
        let sobject = find_type(sobject)?;
        let id = ids::normalize(id).ok_or(RecordError::NotFound)?;
        let mut store = self.inner.lock();
        let table = store
            .tables
            .get_mut(sobject.name)
            .ok_or(RecordError::NotFound)?;
        table.remove(&id).map(|_| ()).ok_or(RecordError::NotFound)
    }

    /// Runs a SOQL query; results beyond `batch_size` are left under a locator.
    pub fn query(&self, soql: &str, batch_size: usize) -> Result<Page, RecordError> {
        let plan = soql::parse(soql)
            .and_then(|q| query::plan(&q))
            .map_err(|err| RecordError::soql(err, soql))?;
        let mut store = self.inner.lock();
        let outcome = match store.tables.get(plan.sobject.name) {
            Some(table) => query::execute(&plan, table.values()),
            None => query::execute(&plan, std::iter::empty()),
        };
        let now = store.clock.now();
        Ok(match outcome {
            Outcome::Count(n) => Page {
                total_size: n,
                done: true,
                next: None,
                rows: vec![],
            },
            Outcome::Rows(rows) => store.cursors.first_page(rows, batch_size, now),
        })
    }

    /// Every row of a SOQL query, unpaged, with the queried type (the Bulk API's batches);
    /// `None` rows for `COUNT()`.
    pub fn query_rows(&self, soql: &str) -> Result<(&'static str, Option<Vec<Row>>), RecordError> {
        let plan = soql::parse(soql)
            .and_then(|q| query::plan(&q))
            .map_err(|err| RecordError::soql(err, soql))?;
        let store = self.inner.lock();
        let outcome = match store.tables.get(plan.sobject.name) {
            Some(table) => query::execute(&plan, table.values()),
            None => query::execute(&plan, std::iter::empty()),
        };
        let rows = match outcome {
            Outcome::Count(_) => None,
            Outcome::Rows(rows) => Some(rows),
        };
        Ok((plan.sobject.name, rows))
    }

    /// The next page of an earlier query: `token` is `{locator}-{offset}`.
    pub fn query_more(&self, token: &str) -> Result<Page, RecordError> {
        let mut store = self.inner.lock();
        let now = store.clock.now();
        store.cursors.next_page(token, now)
    }

    /// Ids of the most recently created records of a type, newest first (at most 5).
    pub fn recent(&self, sobject: &str) -> Result<Vec<String>, RecordError> {
        let sobject = find_type(sobject)?;
        let store = self.inner.lock();
        let table = store.tables.get(sobject.name);
        Ok(table
            .map(|t| t.keys().rev().take(5).cloned().collect())
            .unwrap_or_default())
    }
}

fn find_type(name: &str) -> Result<&'static SObjectType, RecordError> {
    schema::find(name).ok_or_else(|| RecordError::UnknownType(name.to_owned()))
}

fn read_fields(sobject: &SObjectType, list: &str) -> Result<Vec<&'static Field>, RecordError> {
    list.split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            sobject
                .field(name)
                .ok_or_else(|| RecordError::UnknownReadField(query::no_such_column(sobject, name)))
        })
        .collect()
}

impl Store {
    fn new(clock: SharedClock) -> Self {
        Self {
            clock,
            tables: BTreeMap::new(),
            serials: BTreeMap::new(),
            cursors: Cursors::default(),
        }
    }

    fn record(&self, sobject: &SObjectType, id: &str) -> Result<&Record, RecordError> {
        let id = ids::normalize(id).ok_or(RecordError::NotFound)?;
        self.tables
            .get(sobject.name)
            .and_then(|t| t.get(&id))
            .ok_or(RecordError::NotFound)
    }

    fn record_mut(&mut self, sobject: &SObjectType, id: &str) -> Result<&mut Record, RecordError> {
        let id = ids::normalize(id).ok_or(RecordError::NotFound)?;
        let table = self.tables.get_mut(sobject.name);
        table
            .and_then(|t| t.get_mut(&id))
            .ok_or(RecordError::NotFound)
    }

    pub(super) fn contains(&self, sobject: &SObjectType, id: &str) -> bool {
        self.tables
            .get(sobject.name)
            .is_some_and(|t| t.contains_key(id))
    }

    /// Every reference field in `fields` must name an existing record of its target type.
    fn check_references(
        &self,
        sobject: &SObjectType,
        fields: &[(&'static str, Value)],
    ) -> Result<(), RecordError> {
        for (name, value) in fields {
            let kind = sobject.field(name).map(|f| f.kind);
            let (Some(Kind::Reference(target)), Value::String(id)) = (kind, value) else {
                continue;
            };
            if !schema::find(target).is_some_and(|t| self.contains(t, id)) {
                return Err(RecordError::MissingReference(id.clone()));
            }
        }
        Ok(())
    }

    /// Stores a validated record; `id` is generated when absent. Dates default to now.
    pub(super) fn insert(
        &mut self,
        sobject: &'static SObjectType,
        fields: Vec<(&'static str, Value)>,
        id: Option<String>,
    ) -> String {
        let id = id.unwrap_or_else(|| self.next_id(sobject));
        let now = Value::String(format_datetime(self.clock.now()));
        let mut values: BTreeMap<&'static str, Value> = fields.into_iter().collect();
        values.insert("Id", Value::String(id.clone()));
        for system in ["CreatedDate", "LastModifiedDate"] {
            values.entry(system).or_insert_with(|| now.clone());
        }
        let record = Record {
            sobject,
            id: id.clone(),
            values,
        };
        self.tables
            .entry(sobject.name)
            .or_default()
            .insert(id.clone(), record);
        id
    }

    fn next_id(&mut self, sobject: &'static SObjectType) -> String {
        loop {
            let serial = self.serials.entry(sobject.name).or_default();
            *serial += 1;
            let id = ids::generate(sobject.key_prefix, *serial);
            if !self.contains(sobject, &id) {
                return id;
            }
        }
    }
}

#[cfg(test)]
mod tests;
