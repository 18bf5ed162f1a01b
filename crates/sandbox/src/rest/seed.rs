//! Seeding the store: the default org data and loading a caller's [`RecordSeed`]
//! (`tether sandbox --seed FILE`, tests). Seeds go through the same field checks as writes,
//! except that `Id`, `CreatedDate` and `LastModifiedDate` may be given.
//!
//! References are checked for their target type, not for existence, so the order of types
//! in a seed does not matter.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::ids;
use super::record_error::RecordError;
use super::records::Store;
use super::schema::{self, SObjectType};
use super::validate::{self, Mode};

/// sObject type name -> records (field name -> value); a missing `Id` gets one generated.
pub type RecordSeed = BTreeMap<String, Vec<Map<String, Value>>>;

/// Why a seed was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeedError {
    #[error("seed: sObject type '{0}' is not supported (known: Account, Contact, Opportunity)")]
    UnknownType(String),
    #[error("seed: {sobject} record #{index}: {source}")]
    Record {
        sobject: &'static str,
        index: usize,
        #[source]
        source: RecordError,
    },
    #[error("seed: {sobject} record #{index}: Id '{id}' is not a {sobject} id (prefix {prefix})")]
    BadId {
        sobject: &'static str,
        index: usize,
        id: String,
        prefix: &'static str,
    },
    #[error("seed: duplicate Id {0}")]
    DuplicateId(String),
}

/// Loads every record of `seed` into `store`.
pub(super) fn load(store: &mut Store, seed: RecordSeed) -> Result<(), SeedError> {
    for (name, rows) in seed {
        let sobject = schema::find(&name).ok_or(SeedError::UnknownType(name))?;
        for (index, row) in rows.iter().enumerate() {
            load_one(store, sobject, index, row)?;
        }
    }
    Ok(())
}

fn load_one(
    store: &mut Store,
    sobject: &'static SObjectType,
    index: usize,
    row: &Map<String, Value>,
) -> Result<(), SeedError> {
    let as_seed_error = |source| SeedError::Record {
        sobject: sobject.name,
        index,
        source,
    };
    let mut fields = validate::fields(sobject, row, Mode::Seed).map_err(as_seed_error)?;
    let id = fields
        .iter()
        .position(|(name, _)| *name == "Id")
        .map(|at| fields.remove(at).1);
    let id = match id {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) if id.starts_with(sobject.key_prefix) => Some(id),
        Some(other) => {
            let id = other
                .as_str()
                .map_or_else(|| other.to_string(), str::to_owned);
            let prefix = sobject.key_prefix;
            return Err(SeedError::BadId {
                sobject: sobject.name,
                index,
                id,
                prefix,
            });
        }
    };
    if let Some(id) = id.as_ref().filter(|id| store.contains(sobject, id)) {
        return Err(SeedError::DuplicateId(id.clone()));
    }
    store.insert(sobject, fields, id);
    Ok(())
}

/// The default org: four Accounts, two Contacts each, and five Opportunities.
pub fn default_seed() -> RecordSeed {
    let accounts = [
        (
            "Acme Corporation",
            "Manufacturing",
            "San Francisco",
            12_500_000.0,
            850,
        ),
        ("Globex Inc.", "Technology", "New York", 48_000_000.0, 2300),
        ("Initech", "Technology", "Austin", 3_200_000.0, 120),
        (
            "Umbrella Health",
            "Healthcare",
            "London",
            91_000_000.0,
            5400,
        ),
    ];
    let account_id = |n: usize| ids::generate("001", n as u64 + 1);
    let account_rows = accounts.iter().enumerate().map(|(n, (name, industry, city, revenue, staff))| {
        let domain = name.split_whitespace().next().unwrap_or(name).to_lowercase();
        json!({
            "Id": account_id(n), "Name": name, "Industry": industry, "BillingCity": city,
            "Phone": format!("+1 415 555 01{n:02}"), "Website": format!("https://{domain}.example"),
            "AnnualRevenue": revenue, "NumberOfEmployees": staff,
        })
    });
    let contacts = [
        ("Wile", "Coyote", "Procurement Lead", 0),
        ("Road", "Runner", "Head of Logistics", 0),
        ("Hank", "Scorpio", "CEO", 1),
        ("Frank", "Grimes", "Safety Inspector", 1),
        ("Peter", "Gibbons", "Software Engineer", 2),
        ("Joanna", "Smith", "Operations Manager", 2),
        ("Alice", "Abernathy", "Chief Medical Officer", 3),
        ("Carlos", "Oliveira", "IT Director", 3),
    ];
    let contact_rows = contacts.iter().map(|(first, last, title, account)| {
        json!({
            "FirstName": first, "LastName": last, "Title": title,
            "Email": format!("{}.{}@example.com", first.to_lowercase(), last.to_lowercase()),
            "AccountId": account_id(*account), "HasOptedOutOfEmail": false,
        })
    });
    let opportunities = [
        (
            "Acme - Rocket Skates",
            "Prospecting",
            45_000.0,
            "2025-09-30",
            0,
        ),
        (
            "Acme - Giant Magnet",
            "Negotiation/Review",
            120_000.0,
            "2025-07-15",
            0,
        ),
        (
            "Globex - Platform Renewal",
            "Closed Won",
            310_000.0,
            "2025-03-31",
            1,
        ),
        (
            "Initech - TPS Automation",
            "Qualification",
            18_500.0,
            "2025-11-01",
            2,
        ),
        (
            "Umbrella - Clinic Rollout",
            "Proposal/Price Quote",
            540_000.0,
            "2025-12-15",
            3,
        ),
    ];
    let opportunity_rows = opportunities
        .iter()
        .map(|(name, stage, amount, close, account)| {
            json!({
                "Name": name, "StageName": stage, "Amount": amount, "CloseDate": close,
                "AccountId": account_id(*account),
            })
        });
    let objects = |rows: &mut dyn Iterator<Item = Value>| {
        rows.filter_map(|v| v.as_object().cloned())
            .collect::<Vec<_>>()
    };
    BTreeMap::from([
        ("Account".to_owned(), objects(&mut account_rows.into_iter())),
        ("Contact".to_owned(), objects(&mut contact_rows.into_iter())),
        (
            "Opportunity".to_owned(),
            objects(&mut opportunity_rows.into_iter()),
        ),
    ])
}
