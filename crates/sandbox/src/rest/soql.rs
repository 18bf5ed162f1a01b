//! SOQL: the syntax tree, the parser entry point, rendering back to text, and errors in
//! Salesforce's shape. Pure: no schema and no records (see `query.rs` for resolution).
//!
//! Grammar: `SELECT (COUNT() | field, ...) FROM Type [WHERE cond [AND cond ...]]
//! [ORDER BY field [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]` where
//! `cond` is `field op literal`, `op` one of `= != <> < <= > >=` and `literal` a quoted string,
//! number, date, datetime, `TRUE`, `FALSE` or `NULL`. Keywords ignore case.

mod lexer;
mod parser;

use std::fmt;

pub use lexer::escape_text;

/// Where a token starts: 1-based row and column, as Salesforce reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub row: u32,
    pub column: u32,
}

/// A field or type name as written, with its position. Equality ignores the position:
/// positions are diagnostics, not meaning.
#[derive(Debug, Clone)]
pub struct Ident {
    pub name: String,
    pub pos: Pos,
}

impl PartialEq for Ident {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// What the query returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Select {
    /// `COUNT()`: only `totalSize`.
    Count,
    Fields(Vec<Ident>),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A literal on the right of a comparison; numbers, dates and datetimes keep their text.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Str(String),
    Number(String),
    Date(String),
    DateTime(String),
    Bool(bool),
    Null,
}

/// `field op literal`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: Ident,
    pub op: Op,
    pub value: Literal,
}

/// Where nulls sort.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nulls {
    First,
    Last,
}

/// One `ORDER BY` key.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    pub field: Ident,
    pub descending: bool,
    pub nulls: Option<Nulls>,
}

/// A parsed SOQL query.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub select: Select,
    pub from: Ident,
    /// Joined by `AND`.
    pub conditions: Vec<Condition>,
    pub order_by: Vec<OrderBy>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
}

/// Which Salesforce error a SOQL problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoqlErrorKind {
    /// `MALFORMED_QUERY`: syntax.
    Malformed,
    /// `INVALID_FIELD`: no such field, or a literal of the wrong type.
    InvalidField,
    /// `INVALID_TYPE`: no such sObject type.
    InvalidType,
}

/// A SOQL error at a position; [`SoqlError::message`] renders Salesforce's text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct SoqlError {
    pub kind: SoqlErrorKind,
    pub pos: Pos,
    pub detail: String,
}

impl SoqlError {
    pub fn malformed(pos: Pos, detail: impl Into<String>) -> Self {
        Self {
            kind: SoqlErrorKind::Malformed,
            pos,
            detail: detail.into(),
        }
    }

    pub fn invalid_field(pos: Pos, detail: impl Into<String>) -> Self {
        Self {
            kind: SoqlErrorKind::InvalidField,
            pos,
            detail: detail.into(),
        }
    }

    pub fn invalid_type(pos: Pos, detail: impl Into<String>) -> Self {
        Self {
            kind: SoqlErrorKind::InvalidType,
            pos,
            detail: detail.into(),
        }
    }

    /// The Salesforce error code.
    pub fn error_code(&self) -> &'static str {
        match self.kind {
            SoqlErrorKind::Malformed => "MALFORMED_QUERY",
            SoqlErrorKind::InvalidField => "INVALID_FIELD",
            SoqlErrorKind::InvalidType => "INVALID_TYPE",
        }
    }

    /// Salesforce's message: the offending row of `soql`, a caret under the column, the
    /// position, then the detail.
    pub fn message(&self, soql: &str) -> String {
        let row = soql
            .split('\n')
            .nth(self.pos.row.saturating_sub(1) as usize)
            .unwrap_or("");
        let caret = " ".repeat(self.pos.column.saturating_sub(1) as usize);
        format!(
            "\n{row}\n{caret}^\nERROR at Row:{}:Column:{}\n{}",
            self.pos.row, self.pos.column, self.detail
        )
    }
}

/// Parses one SOQL statement.
pub fn parse(soql: &str) -> Result<Query, SoqlError> {
    parser::parse(lexer::tokenize(soql)?)
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Self::Eq => "=",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
        };
        f.write_str(text)
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Str(s) => write!(f, "'{}'", escape_text(s)),
            Self::Number(t) | Self::Date(t) | Self::DateTime(t) => f.write_str(t),
            Self::Bool(b) => f.write_str(if *b { "TRUE" } else { "FALSE" }),
            Self::Null => f.write_str("NULL"),
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.select {
            Select::Count => f.write_str("SELECT COUNT()")?,
            Select::Fields(fields) => write!(f, "SELECT {}", join(fields.iter().map(|i| &i.name)))?,
        }
        write!(f, " FROM {}", self.from.name)?;
        let conditions = self
            .conditions
            .iter()
            .map(|c| format!("{} {} {}", c.field.name, c.op, c.value));
        if !self.conditions.is_empty() {
            write!(f, " WHERE {}", conditions.collect::<Vec<_>>().join(" AND "))?;
        }
        if !self.order_by.is_empty() {
            write!(
                f,
                " ORDER BY {}",
                join(self.order_by.iter().map(render_order))
            )?;
        }
        if let Some(limit) = self.limit {
            write!(f, " LIMIT {limit}")?;
        }
        if let Some(offset) = self.offset {
            write!(f, " OFFSET {offset}")?;
        }
        Ok(())
    }
}

fn render_order(order: &OrderBy) -> String {
    let direction = if order.descending { " DESC" } else { " ASC" };
    let nulls = match order.nulls {
        None => "",
        Some(Nulls::First) => " NULLS FIRST",
        Some(Nulls::Last) => " NULLS LAST",
    };
    format!("{}{direction}{nulls}", order.field.name)
}

fn join<T: ToString>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests;
