//! Why a record operation failed, and the Salesforce REST error each failure is answered with.

use axum::http::StatusCode;

use super::error::RestError;
use super::soql::SoqlError;
use super::values::BadValue;

/// A failed read, write or query on the in-memory records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("sObject type '{0}' is not supported")]
    UnknownType(String),
    #[error("no such record")]
    NotFound,
    /// A written field that the type does not have.
    #[error("No such column '{field}' on sobject of type {sobject}")]
    UnknownField {
        sobject: &'static str,
        field: String,
    },
    /// A `?fields=` name that the type does not have (Salesforce's query wording).
    #[error("{0}")]
    UnknownReadField(String),
    #[error(
        "Unable to create/update fields: {}. Please check the security settings of this field \
         and verify that it is read/write for your profile or permission set.",
        .0.join(", ")
    )]
    ReadOnly(Vec<&'static str>),
    #[error("Required fields are missing: [{}]", .0.join(", "))]
    RequiredMissing(Vec<&'static str>),
    #[error(transparent)]
    BadValue(#[from] BadValue),
    /// The request body is not a JSON object.
    #[error("{0}")]
    BadJson(String),
    #[error("{target} ID: id value of incorrect type: {id}")]
    WrongReferenceType { target: &'static str, id: String },
    #[error("insufficient access rights on cross-reference id: {0}")]
    MissingReference(String),
    /// A SOQL error with its rendered Salesforce message.
    #[error("{message}")]
    Soql { error: SoqlError, message: String },
    #[error("invalid query locator")]
    InvalidLocator,
}

impl RecordError {
    /// A SOQL error rendered against the query text it came from.
    pub fn soql(error: SoqlError, soql: &str) -> Self {
        let message = error.message(soql);
        Self::Soql { error, message }
    }

    /// Salesforce's error code for this failure (`MALFORMED_QUERY`, `INVALID_FIELD`, ...).
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::UnknownType(_) | Self::NotFound => "NOT_FOUND",
            Self::UnknownField { .. } | Self::UnknownReadField(_) => "INVALID_FIELD",
            Self::ReadOnly(_) => "INVALID_FIELD_FOR_INSERT_UPDATE",
            Self::RequiredMissing(_) => "REQUIRED_FIELD_MISSING",
            Self::BadValue(_) | Self::BadJson(_) => "JSON_PARSER_ERROR",
            Self::WrongReferenceType { .. } => "FIELD_INTEGRITY_EXCEPTION",
            Self::MissingReference(_) => "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
            Self::Soql { error, .. } => error.error_code(),
            Self::InvalidLocator => "INVALID_QUERY_LOCATOR",
        }
    }
}

impl From<RecordError> for RestError {
    fn from(err: RecordError) -> Self {
        match err {
            RecordError::UnknownType(_) | RecordError::NotFound => RestError::not_found(),
            other => RestError::with_status(
                StatusCode::BAD_REQUEST,
                other.error_code(),
                other.to_string(),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_type_and_missing_record_are_the_standard_404() {
        assert_eq!(
            RestError::from(RecordError::UnknownType("Nope".into())),
            RestError::not_found()
        );
        assert_eq!(
            RestError::from(RecordError::NotFound),
            RestError::not_found()
        );
    }

    #[test]
    fn read_only_fields_get_salesforce_text() {
        let err = RestError::from(RecordError::ReadOnly(vec!["CreatedDate"]));
        let expected = RestError::bad_request(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            "Unable to create/update fields: CreatedDate. Please check the security settings of \
             this field and verify that it is read/write for your profile or permission set.",
        );
        assert_eq!(err, expected);
    }
}
