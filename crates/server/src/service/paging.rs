//! Paging: the limits of a page and the opaque cursors the API and the page hand out.
//!
//! A cursor names the last row of a page: a connection listing's (created_at, id), or a
//! history's event `seq` and the connection it belongs to. It is base64url (no padding) of
//! that text followed by 16 bytes of HMAC-SHA-256 under a key derived from the master key, so
//! a cursor is opaque to callers, cannot be altered or made up (anything but a cursor tether
//! gave out is refused as invalid input), and is valid on every instance that shares the
//! master key. Cursors carry no secret; rotating the master key ends the cursors given out.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tether_core::ids::{ConnectionId, WebhookId};
use tether_store::{ConnectionCursor, SeqCursor};

use super::ServiceError;
use crate::connect::{MacKey, StateSigner};

/// The tag bytes kept of the HMAC.
const TAG_BYTES: usize = 16;
/// What the cursor of each listing starts with (so one listing's cursor never passes in another).
const CONNECTIONS: &str = "c1";
const EVENTS: &str = "e1";
const DELIVERIES: &str = "d1";

/// Signs and reads cursors.
#[derive(Debug)]
pub struct Cursors {
    key: MacKey,
}

impl Cursors {
    /// Cursors under the key `signer` derives for them.
    pub fn new(signer: &StateSigner) -> Self {
        Self {
            key: signer.subkey("paging-cursor"),
        }
    }

    fn tag(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.key.mac();
        mac.update(payload);
        mac
    }

    fn seal(&self, payload: String) -> String {
        let tag = self.tag(payload.as_bytes()).finalize().into_bytes();
        let mut bytes = payload.into_bytes();
        bytes.extend_from_slice(&tag[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// The fields of a cursor of `kind`, if it is one tether signed.
    fn open(&self, raw: &str, kind: &str) -> Result<Vec<String>, ServiceError> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let split = bytes.len().checked_sub(TAG_BYTES).ok_or_else(invalid)?;
        let (payload, tag) = bytes.split_at(split);
        self.tag(payload)
            .verify_truncated_left(tag)
            .map_err(|_| invalid())?;
        let text = std::str::from_utf8(payload).map_err(|_| invalid())?;
        let mut fields = text.split('.');
        if fields.next() != Some(kind) {
            return Err(invalid());
        }
        Ok(fields.map(str::to_owned).collect())
    }

    /// The cursor of a connection listing that continues after `after`.
    pub fn connections(&self, after: &ConnectionCursor) -> String {
        let ms = after.created_at.timestamp_millis();
        self.seal(format!("{CONNECTIONS}.{ms}.{}", after.id))
    }

    /// The place a connection listing's cursor names.
    pub fn read_connections(&self, raw: &str) -> Result<ConnectionCursor, ServiceError> {
        match self.open(raw, CONNECTIONS)?.as_slice() {
            [ms, id] => Ok(ConnectionCursor {
                created_at: ms
                    .parse()
                    .ok()
                    .and_then(DateTime::from_timestamp_millis)
                    .ok_or_else(invalid)?,
                id: ConnectionId::parse(id).map_err(|_| invalid())?,
            }),
            _ => Err(invalid()),
        }
    }

    /// The cursor of `of`'s history (a connection's events, a webhook's deliveries) that
    /// continues after `after`; it is bound to `of`.
    pub fn history<H: History>(&self, of: &H, after: &SeqCursor) -> String {
        self.seal(format!("{}.{}.{}", H::TAG, after.seq, of.key()))
    }

    /// The place a history cursor names, if it is one of `of`'s history.
    pub fn read_history<H: History>(&self, raw: &str, of: &H) -> Result<SeqCursor, ServiceError> {
        match self.open(raw, H::TAG)?.as_slice() {
            [seq, id] if id == of.key() => Ok(SeqCursor {
                seq: seq.parse().map_err(|_| invalid())?,
            }),
            _ => Err(invalid()),
        }
    }
}

/// A record whose history is listed a page at a time, newest first.
pub trait History {
    /// What its cursors start with.
    const TAG: &'static str;
    fn key(&self) -> &str;
}

impl History for ConnectionId {
    const TAG: &'static str = EVENTS;
    fn key(&self) -> &str {
        self.as_str()
    }
}

impl History for WebhookId {
    const TAG: &'static str = DELIVERIES;
    fn key(&self) -> &str {
        self.as_str()
    }
}

fn invalid() -> ServiceError {
    ServiceError::Invalid(
        "cursor is not one tether handed out (malformed or altered): pass the next_cursor of \
         the previous page unchanged, or leave cursor out to start from the first page"
            .into(),
    )
}

/// Checks a page size against its range, naming both in the refusal.
pub fn checked_limit(limit: i64, max: i64) -> Result<i64, ServiceError> {
    if (1..=max).contains(&limit) {
        Ok(limit)
    } else {
        Err(ServiceError::Invalid(format!(
            "limit must be between 1 and {max}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursors() -> Cursors {
        Cursors::new(&StateSigner::derive(b"master"))
    }

    fn place() -> ConnectionCursor {
        ConnectionCursor {
            created_at: DateTime::from_timestamp_millis(1_700_000_000_123)
                .unwrap_or_else(|| unreachable!()),
            id: ConnectionId::generate(),
        }
    }

    #[test]
    fn a_connection_cursor_reads_back_as_the_place_it_names() {
        let place = place();
        let cursor = cursors().connections(&place);
        assert_eq!(cursors().read_connections(&cursor).ok(), Some(place));
    }

    #[test]
    fn an_altered_truncated_foreign_or_garbage_cursor_is_invalid() {
        let place = place();
        let cursor = cursors().connections(&place);
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap_or_default();
        bytes[3] ^= 1;
        let altered = URL_SAFE_NO_PAD.encode(&bytes);
        let other_key = Cursors::new(&StateSigner::derive(b"another master")).connections(&place);
        let events = cursors().history(&place.id, &SeqCursor { seq: 7 });
        for bad in [
            altered.as_str(),
            &cursor[..cursor.len() - 2],
            &other_key,
            &events,
            "",
            "not base64!",
            "AAAA",
        ] {
            let err = cursors().read_connections(bad).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.starts_with("cursor is not one tether")),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn a_history_cursor_is_bound_to_its_record_and_its_kind() {
        let (one, two) = (ConnectionId::generate(), ConnectionId::generate());
        let place = SeqCursor { seq: 42 };
        let cursor = cursors().history(&one, &place);
        assert_eq!(cursors().read_history(&cursor, &one).ok(), Some(place));
        assert!(cursors().read_history(&cursor, &two).is_err());
        let hook = WebhookId::generate();
        let deliveries = cursors().history(&hook, &place);
        assert_eq!(cursors().read_history(&deliveries, &hook).ok(), Some(place));
        assert!(cursors().read_history(&deliveries, &one).is_err());
    }
}
