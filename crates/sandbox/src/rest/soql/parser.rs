//! Recursive-descent SOQL parser over the tokens of `lexer.rs`; one function per clause.

use super::lexer::{Tok, Token};
use super::{Condition, Ident, Literal, Nulls, OrderBy, Query, Select, SoqlError};

/// Parses a whole statement; trailing tokens are an error.
pub fn parse(tokens: Vec<Token>) -> Result<Query, SoqlError> {
    let mut p = Parser { tokens, at: 0 };
    let query = p.query()?;
    match p.peek().tok {
        Tok::Eof => Ok(query),
        _ => Err(p.unexpected()),
    }
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

/// Keywords that end a field list or a clause, so they are never taken as names.
const RESERVED: [&str; 12] = [
    "SELECT", "FROM", "WHERE", "AND", "ORDER", "BY", "LIMIT", "OFFSET", "ASC", "DESC", "NULLS",
    "COUNT",
];

impl Parser {
    fn peek(&self) -> &Token {
        let last = self.tokens.len().saturating_sub(1);
        &self.tokens[self.at.min(last)]
    }

    fn advance(&mut self) -> Token {
        let token = self.peek().clone();
        if token.tok != Tok::Eof {
            self.at += 1;
        }
        token
    }

    fn unexpected(&self) -> SoqlError {
        let token = self.peek();
        let detail = match token.tok {
            Tok::Eof => "unexpected token: <EOF>".to_owned(),
            _ => format!("unexpected token: '{}'", token.text),
        };
        SoqlError::malformed(token.pos, detail)
    }

    fn at_keyword(&self, keyword: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident(word) if word.eq_ignore_ascii_case(keyword))
    }

    fn eat_keyword(&mut self, keyword: &str) -> bool {
        let found = self.at_keyword(keyword);
        if found {
            self.advance();
        }
        found
    }

    fn expect_keyword(&mut self, keyword: &str) -> Result<(), SoqlError> {
        if self.eat_keyword(keyword) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect(&mut self, tok: &Tok) -> Result<(), SoqlError> {
        if &self.peek().tok == tok {
            self.advance();
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn ident(&mut self) -> Result<Ident, SoqlError> {
        match &self.peek().tok {
            Tok::Ident(name) if !is_reserved(name) => {
                let ident = Ident {
                    name: name.clone(),
                    pos: self.peek().pos,
                };
                self.advance();
                Ok(ident)
            }
            _ => Err(self.unexpected()),
        }
    }

    fn query(&mut self) -> Result<Query, SoqlError> {
        self.expect_keyword("SELECT")?;
        let select = self.select()?;
        self.expect_keyword("FROM")?;
        let from = self.ident()?;
        let conditions = self.clause("WHERE", Self::conditions)?;
        let order_by = self.clause("ORDER", Self::order_by)?;
        let limit = self.clause("LIMIT", Self::count)?;
        let offset = self.clause("OFFSET", Self::count)?;
        Ok(Query {
            select,
            from,
            conditions: conditions.unwrap_or_default(),
            order_by: order_by.unwrap_or_default(),
            limit,
            offset,
        })
    }

    /// What `parse` reads after `keyword` when the keyword comes next; `None` without it.
    fn clause<T>(
        &mut self,
        keyword: &str,
        parse: impl FnOnce(&mut Self) -> Result<T, SoqlError>,
    ) -> Result<Option<T>, SoqlError> {
        if self.eat_keyword(keyword) {
            parse(self).map(Some)
        } else {
            Ok(None)
        }
    }

    fn select(&mut self) -> Result<Select, SoqlError> {
        if self.eat_keyword("COUNT") {
            self.expect(&Tok::LParen)?;
            self.expect(&Tok::RParen)?;
            return Ok(Select::Count);
        }
        let mut fields = vec![self.ident()?];
        while self.peek().tok == Tok::Comma {
            self.advance();
            fields.push(self.ident()?);
        }
        Ok(Select::Fields(fields))
    }

    fn conditions(&mut self) -> Result<Vec<Condition>, SoqlError> {
        let mut conditions = vec![self.condition()?];
        while self.eat_keyword("AND") {
            conditions.push(self.condition()?);
        }
        Ok(conditions)
    }

    fn condition(&mut self) -> Result<Condition, SoqlError> {
        let field = self.ident()?;
        let Tok::Op(op) = self.peek().tok else {
            return Err(self.unexpected());
        };
        self.advance();
        let value = self.literal()?;
        Ok(Condition { field, op, value })
    }

    fn literal(&mut self) -> Result<Literal, SoqlError> {
        let literal = match &self.peek().tok {
            Tok::Str(s) => Literal::Str(s.clone()),
            Tok::Number(n) => Literal::Number(n.clone()),
            Tok::Date(d) => Literal::Date(d.clone()),
            Tok::DateTime(d) => Literal::DateTime(d.clone()),
            Tok::Ident(word) => keyword_literal(word).ok_or_else(|| self.unexpected())?,
            _ => return Err(self.unexpected()),
        };
        self.advance();
        Ok(literal)
    }

    fn order_by(&mut self) -> Result<Vec<OrderBy>, SoqlError> {
        self.expect_keyword("BY")?;
        let mut keys = vec![self.order_key()?];
        while self.peek().tok == Tok::Comma {
            self.advance();
            keys.push(self.order_key()?);
        }
        Ok(keys)
    }

    fn order_key(&mut self) -> Result<OrderBy, SoqlError> {
        let field = self.ident()?;
        let descending = if self.eat_keyword("DESC") {
            true
        } else {
            self.eat_keyword("ASC");
            false
        };
        let nulls = self.clause("NULLS", Self::nulls)?;
        Ok(OrderBy {
            field,
            descending,
            nulls,
        })
    }

    fn nulls(&mut self) -> Result<Nulls, SoqlError> {
        if self.eat_keyword("FIRST") {
            Ok(Nulls::First)
        } else if self.eat_keyword("LAST") {
            Ok(Nulls::Last)
        } else {
            Err(self.unexpected())
        }
    }

    fn count(&mut self) -> Result<u64, SoqlError> {
        let parsed = match &self.peek().tok {
            Tok::Number(n) => n.parse::<u64>().ok(),
            _ => None,
        };
        let value = parsed.ok_or_else(|| self.unexpected())?;
        self.advance();
        Ok(value)
    }
}

fn is_reserved(word: &str) -> bool {
    RESERVED.iter().any(|k| k.eq_ignore_ascii_case(word))
}

fn keyword_literal(word: &str) -> Option<Literal> {
    match word.to_ascii_uppercase().as_str() {
        "TRUE" => Some(Literal::Bool(true)),
        "FALSE" => Some(Literal::Bool(false)),
        "NULL" => Some(Literal::Null),
        _ => None,
    }
}
