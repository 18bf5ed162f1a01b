//! SOQL tokenizer: identifiers (keywords are identifiers the parser recognises), quoted
//! strings with backslash escapes, numbers, date and datetime literals, punctuation and
//! comparison operators, each with its row and column for error messages.

use chrono::{DateTime, NaiveDate};

use super::{Op, Pos, SoqlError};

/// What a token is.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Ident(String),
    Str(String),
    Number(String),
    Date(String),
    DateTime(String),
    Comma,
    LParen,
    RParen,
    Op(Op),
    Eof,
}

/// A token, where it starts, and its source text (for `unexpected token` messages).
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    pub tok: Tok,
    pub pos: Pos,
    pub text: String,
}

/// Splits `soql` into tokens ending with [`Tok::Eof`].
pub fn tokenize(soql: &str) -> Result<Vec<Token>, SoqlError> {
    let mut lexer = Lexer {
        chars: soql.chars().collect(),
        at: 0,
        pos: Pos { row: 1, column: 1 },
    };
    let mut tokens = Vec::new();
    loop {
        lexer.skip_whitespace();
        let token = lexer.next_token()?;
        let done = token.tok == Tok::Eof;
        tokens.push(token);
        if done {
            return Ok(tokens);
        }
    }
}

struct Lexer {
    chars: Vec<char>,
    at: usize,
    pos: Pos,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.at += 1;
        if c == '\n' {
            self.pos = Pos {
                row: self.pos.row + 1,
                column: 1,
            };
        } else {
            self.pos.column += 1;
        }
        Some(c)
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut text = String::new();
        while let Some(c) = self.peek().filter(|c| keep(*c)) {
            text.push(c);
            self.bump();
        }
        text
    }

    fn next_token(&mut self) -> Result<Token, SoqlError> {
        let pos = self.pos;
        let Some(c) = self.peek() else {
            return Ok(Token {
                tok: Tok::Eof,
                pos,
                text: "<EOF>".to_owned(),
            });
        };
        let (tok, text) = match c {
            '\'' => self.string(pos)?,
            c if c.is_ascii_alphabetic() || c == '_' => {
                let text = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
                (Tok::Ident(text.clone()), text)
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' => self.number_or_date(pos)?,
            _ => self.punctuation(pos)?,
        };
        Ok(Token { tok, pos, text })
    }

    fn punctuation(&mut self, pos: Pos) -> Result<(Tok, String), SoqlError> {
        let first = self.bump().unwrap_or_default();
        let two = self.peek().map(|second| format!("{first}{second}"));
        if let Some(op) = two.as_deref().and_then(two_char_op) {
            self.bump();
            return Ok((Tok::Op(op), two.unwrap_or_default()));
        }
        let tok = match first {
            ',' => Tok::Comma,
            '(' => Tok::LParen,
            ')' => Tok::RParen,
            '=' => Tok::Op(Op::Eq),
            '<' => Tok::Op(Op::Lt),
            '>' => Tok::Op(Op::Gt),
            other => {
                return Err(SoqlError::malformed(
                    pos,
                    format!("unexpected char: '{other}'"),
                ));
            }
        };
        Ok((tok, first.to_string()))
    }

    fn string(&mut self, pos: Pos) -> Result<(Tok, String), SoqlError> {
        self.bump();
        let mut value = String::new();
        loop {
            match self.bump() {
                None => return Err(SoqlError::malformed(pos, "unterminated string literal")),
                Some('\'') => break,
                Some('\\') => value.push(self.escape(pos)?),
                Some(c) => value.push(c),
            }
        }
        let text = format!("'{}'", escape_text(&value));
        Ok((Tok::Str(value), text))
    }

    fn escape(&mut self, pos: Pos) -> Result<char, SoqlError> {
        match self.bump() {
            Some('n') => Ok('\n'),
            Some('r') => Ok('\r'),
            Some('t') => Ok('\t'),
            Some(c @ ('\'' | '"' | '\\' | '_' | '%')) => Ok(c),
            _ => Err(SoqlError::malformed(
                pos,
                "Invalid string literal: bad escape sequence",
            )),
        }
    }

    fn number_or_date(&mut self, pos: Pos) -> Result<(Tok, String), SoqlError> {
        let sign = if matches!(self.peek(), Some('-' | '+')) {
            self.bump()
        } else {
            None
        };
        let body =
            self.take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '+'));
        let text = format!("{}{body}", sign.map(String::from).unwrap_or_default());
        classify_literal(&text)
            .map(|tok| (tok, text.clone()))
            .ok_or_else(|| SoqlError::malformed(pos, format!("unexpected token: '{text}'")))
    }
}

fn two_char_op(text: &str) -> Option<Op> {
    match text {
        "!=" | "<>" => Some(Op::Ne),
        "<=" => Some(Op::Le),
        ">=" => Some(Op::Ge),
        _ => None,
    }
}

/// A number (`42`, `-1.5`), a date (`2025-06-30`) or a datetime (`2025-06-30T12:00:00Z`).
fn classify_literal(text: &str) -> Option<Tok> {
    if is_number(text) {
        return Some(Tok::Number(text.to_owned()));
    }
    if NaiveDate::parse_from_str(text, "%Y-%m-%d").is_ok() {
        return Some(Tok::Date(text.to_owned()));
    }
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|_| Tok::DateTime(text.to_owned()))
}

fn is_number(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    all_digits(whole) && parts.next().is_none_or(all_digits)
}

/// Re-escapes a string value for SOQL source.
pub fn escape_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\'' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(soql: &str) -> Vec<Tok> {
        tokenize(soql)
            .map(|t| t.into_iter().map(|t| t.tok).collect())
            .unwrap_or_default()
    }

    #[test]
    fn tokenizes_keywords_strings_numbers_dates_and_operators() {
        assert_eq!(
            toks("Name = 'O\\'Brien', 2.5 >= -3 2025-06-30 2025-06-30T12:00:00Z != ("),
            vec![
                Tok::Ident("Name".into()),
                Tok::Op(Op::Eq),
                Tok::Str("O'Brien".into()),
                Tok::Comma,
                Tok::Number("2.5".into()),
                Tok::Op(Op::Ge),
                Tok::Number("-3".into()),
                Tok::Date("2025-06-30".into()),
                Tok::DateTime("2025-06-30T12:00:00Z".into()),
                Tok::Op(Op::Ne),
                Tok::LParen,
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn positions_count_rows_and_columns_from_one() {
        let tokens = tokenize("SELECT Id\n  FROM Account").unwrap_or_default();
        let from = tokens.get(2).map(|t| t.pos);
        assert_eq!(from, Some(Pos { row: 2, column: 3 }));
    }

    #[test]
    fn unterminated_string_is_malformed_at_its_quote() {
        let err = tokenize("SELECT Id FROM Account WHERE Name = 'Acme").err();
        assert_eq!(
            err.map(|e| (e.pos, e.detail)),
            Some((
                Pos { row: 1, column: 37 },
                "unterminated string literal".to_owned()
            ))
        );
    }
}
