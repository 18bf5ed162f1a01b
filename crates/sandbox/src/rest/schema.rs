//! The sObject types the sandbox knows (Account, Contact, Opportunity), their fields and key
//! prefixes. Names are matched case-insensitively, as Salesforce does, and answered in their
//! canonical spelling.

/// How a field's values are stored, compared and validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Id,
    Text,
    Double,
    Int,
    Boolean,
    Date,
    DateTime,
    /// An id of a record of the named type.
    Reference(&'static str),
}

impl Kind {
    /// The type name Salesforce uses in filter and deserialisation errors.
    pub fn soap_name(self) -> &'static str {
        match self {
            Self::Id | Self::Reference(_) => "id",
            Self::Text => "string",
            Self::Double => "double",
            Self::Int => "int",
            Self::Boolean => "boolean",
            Self::Date => "date",
            Self::DateTime => "datetime",
        }
    }
}

/// One field of an sObject type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: Kind,
    /// The describe `type` (`string`, `phone`, `currency`, ...).
    pub describe_type: &'static str,
    /// Whether create and update may set it (false for Id and system dates).
    pub writable: bool,
    /// Whether create must set it.
    pub required: bool,
}

/// One sObject type.
#[derive(Debug, PartialEq, Eq)]
pub struct SObjectType {
    pub name: &'static str,
    pub label: &'static str,
    pub label_plural: &'static str,
    pub key_prefix: &'static str,
    pub fields: &'static [Field],
}

impl SObjectType {
    /// The field called `name`, ignoring case.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }
}

const fn field(name: &'static str, kind: Kind, describe_type: &'static str) -> Field {
    Field {
        name,
        label: name,
        kind,
        describe_type,
        writable: true,
        required: false,
    }
}

const fn required(name: &'static str, kind: Kind, describe_type: &'static str) -> Field {
    Field {
        required: true,
        ..field(name, kind, describe_type)
    }
}

const fn system(name: &'static str, label: &'static str, kind: Kind, dt: &'static str) -> Field {
    Field {
        name,
        label,
        kind,
        describe_type: dt,
        writable: false,
        required: false,
    }
}

const ID: Field = system("Id", "Record ID", Kind::Id, "id");
const CREATED: Field = system("CreatedDate", "Created Date", Kind::DateTime, "datetime");
const MODIFIED: Field = system(
    "LastModifiedDate",
    "Last Modified Date",
    Kind::DateTime,
    "datetime",
);

/// Every type the sandbox serves, in describeGlobal order.
pub static TYPES: [SObjectType; 3] = [
    SObjectType {
        name: "Account",
        label: "Account",
        label_plural: "Accounts",
        key_prefix: "001",
        fields: &[
            ID,
            required("Name", Kind::Text, "string"),
            field("Industry", Kind::Text, "picklist"),
            field("Phone", Kind::Text, "phone"),
            field("Website", Kind::Text, "url"),
            field("BillingCity", Kind::Text, "string"),
            field("AnnualRevenue", Kind::Double, "currency"),
            field("NumberOfEmployees", Kind::Int, "int"),
            CREATED,
            MODIFIED,
        ],
    },
    SObjectType {
        name: "Contact",
        label: "Contact",
        label_plural: "Contacts",
        key_prefix: "003",
        fields: &[
            ID,
            field("FirstName", Kind::Text, "string"),
            required("LastName", Kind::Text, "string"),
            field("Email", Kind::Text, "email"),
            field("Phone", Kind::Text, "phone"),
            field("Title", Kind::Text, "string"),
            field("AccountId", Kind::Reference("Account"), "reference"),
            field("HasOptedOutOfEmail", Kind::Boolean, "boolean"),
            CREATED,
            MODIFIED,
        ],
    },
    SObjectType {
        name: "Opportunity",
        label: "Opportunity",
        label_plural: "Opportunities",
        key_prefix: "006",
        fields: &[
            ID,
            required("Name", Kind::Text, "string"),
            required("StageName", Kind::Text, "picklist"),
            field("Amount", Kind::Double, "currency"),
            required("CloseDate", Kind::Date, "date"),
            field("Probability", Kind::Double, "percent"),
            field("AccountId", Kind::Reference("Account"), "reference"),
            CREATED,
            MODIFIED,
        ],
    },
];

/// The type called `name`, ignoring case.
pub fn find(name: &str) -> Option<&'static SObjectType> {
    TYPES.iter().find(|t| t.name.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_and_fields_are_found_ignoring_case_and_answered_canonically() {
        let account = find("aCCount").map(|t| t.name);
        assert_eq!(account, Some("Account"));
        let field = find("contact")
            .and_then(|t| t.field("accountid"))
            .map(|f| f.name);
        assert_eq!(field, Some("AccountId"));
        assert_eq!(find("Nope"), None);
    }

    #[test]
    fn every_type_has_id_first_and_system_dates_read_only() {
        for t in &TYPES {
            assert_eq!(t.fields.first().map(|f| f.name), Some("Id"), "{}", t.name);
            for name in ["Id", "CreatedDate", "LastModifiedDate"] {
                assert_eq!(
                    t.field(name).map(|f| f.writable),
                    Some(false),
                    "{}.{name}",
                    t.name
                );
            }
        }
    }
}
