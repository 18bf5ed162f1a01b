//! Unit tests of sealing, opening, tampering, associated data, rotation and key files.
#![allow(clippy::unwrap_used)]

use super::*;

fn keyring() -> (MasterKey, Keyring) {
    let key = MasterKey::generate();
    (key.clone(), Keyring::new(key, Vec::new()))
}

#[test]
fn sealed_value_opens_back_to_the_plaintext() {
    let (_, ring) = keyring();
    let sealed = ring
        .seal(b"5Aep861-refresh", "conn_1", "refresh_token")
        .unwrap();
    assert_eq!(
        ring.open(&sealed, "conn_1", "refresh_token").unwrap(),
        b"5Aep861-refresh"
    );
}

#[test]
fn sealed_value_has_the_documented_layout_and_hides_the_plaintext() {
    let (key, ring) = keyring();
    let sealed = ring.seal(b"plain-secret", "r", "f").unwrap();
    assert_eq!(sealed[0], 1);
    assert_eq!(&sealed[1..5], key.key_id().as_bytes());
    assert_eq!(sealed.len(), 1 + 4 + 12 + b"plain-secret".len() + 16);
    assert!(!sealed.windows(12).any(|w| w == b"plain-secret"));
}

#[test]
fn the_same_value_sealed_twice_differs_by_its_nonce() {
    let (_, ring) = keyring();
    let a = ring.seal(b"same", "r", "f").unwrap();
    let b = ring.seal(b"same", "r", "f").unwrap();
    assert_ne!(a, b);
}

#[test]
fn any_flipped_byte_fails_authentication() {
    let (_, ring) = keyring();
    let sealed = ring.seal(b"secret", "r", "f").unwrap();
    for index in 5..sealed.len() {
        let mut tampered = sealed.clone();
        tampered[index] ^= 0x01;
        assert_eq!(
            ring.open(&tampered, "r", "f"),
            Err(CryptoError::Authentication)
        );
    }
}

/// The associated data binds a value to its record and field, their boundary included: a
/// value opened as any other fails.
#[test]
fn value_moved_to_another_record_or_field_fails_to_open() {
    let (_, ring) = keyring();
    let cases = [
        (
            "another record",
            ("conn_a", "refresh_token"),
            ("conn_b", "refresh_token"),
        ),
        (
            "another field",
            ("conn_a", "refresh_token"),
            ("conn_a", "access_token"),
        ),
        ("the boundary moved", ("ab", "c"), ("a", "bc")),
    ];
    for (case, (record, field), (opened_record, opened_field)) in cases {
        let sealed = ring.seal(b"secret", record, field).unwrap();
        assert_eq!(
            ring.open(&sealed, opened_record, opened_field),
            Err(CryptoError::Authentication),
            "{case}: sealed for {record}/{field}, opened as {opened_record}/{opened_field}"
        );
    }
}

#[test]
fn truncated_or_unknown_version_values_are_malformed() {
    let (_, ring) = keyring();
    assert_eq!(
        ring.open(&[1, 2, 3], "r", "f"),
        Err(CryptoError::Malformed("too short"))
    );
    let mut sealed = ring.seal(b"secret", "r", "f").unwrap();
    sealed[0] = 9;
    assert_eq!(
        ring.open(&sealed, "r", "f"),
        Err(CryptoError::Malformed("unknown version"))
    );
}

/// The two ways a keyring takes a new primary: at once, or added first and promoted later.
#[test]
fn after_a_new_primary_the_old_key_still_opens_and_new_values_use_the_new_key() {
    type NewPrimary = fn(Keyring, &MasterKey) -> Keyring;
    let ways: [(&str, NewPrimary); 2] = [
        ("rotated", |ring, new| ring.rotated(new.clone())),
        ("added then promoted", |ring, new| {
            ring.with_key(new.clone())
                .with_primary(new.key_id())
                .unwrap()
        }),
    ];
    for (way, make_primary) in ways {
        let (old, ring) = keyring();
        let before = ring.seal(b"before", "r", "f").unwrap();
        let new = MasterKey::generate();
        let ring = make_primary(ring, &new);
        assert_eq!(ring.primary(), &new, "{way}");
        assert_eq!(ring.previous(), std::slice::from_ref(&old), "{way}");
        assert_eq!(
            ring.key_ids(),
            KeyIds(vec![new.key_id(), old.key_id()]),
            "{way}"
        );
        assert_eq!(ring.open(&before, "r", "f").unwrap(), b"before", "{way}");
        assert!(!ring.is_primary(&before), "{way}");
        let after = ring.seal(b"after", "r", "f").unwrap();
        assert!(ring.is_primary(&after), "{way}");
        assert_eq!(&after[1..5], new.key_id().as_bytes(), "{way}");
    }
}

#[test]
fn value_under_a_key_missing_from_the_keyring_names_the_key_id() {
    let (old, old_ring) = keyring();
    let sealed = old_ring.seal(b"secret", "r", "f").unwrap();
    let ring = Keyring::new(MasterKey::generate(), Vec::new());
    let err = ring.open(&sealed, "r", "f").unwrap_err();
    let id = old.key_id();
    assert_eq!(err, CryptoError::UnknownKeyId(id));
    assert_eq!(
        err.to_string(),
        format!(
            "sealed under master key {id}, which is not in the keyring (add it as a previous key)"
        )
    );
}

#[test]
fn key_round_trips_through_base64_and_debug_hides_it() {
    let key = MasterKey::generate();
    let text = key.to_base64();
    assert_eq!(MasterKey::from_base64(&format!(" {text}\n")).unwrap(), key);
    let printed = format!("{key:?}");
    assert_eq!(printed, format!("MasterKey({} [redacted])", key.key_id()));
    assert!(!printed.contains(&text));
}

#[test]
fn keys_of_the_wrong_size_or_encoding_are_refused() {
    assert_eq!(
        MasterKey::from_base64("c2hvcnQ="),
        Err(CryptoError::InvalidKey("wrong length"))
    );
    assert_eq!(
        MasterKey::from_base64("not base64!"),
        Err(CryptoError::InvalidKey("not base64"))
    );
    assert_eq!(
        CryptoError::InvalidKey("wrong length").to_string(),
        "a master key must be 32 bytes encoded as standard base64 (wrong length)"
    );
}

#[test]
fn key_ids_differ_between_keys_and_are_stable() {
    let a = MasterKey::generate();
    let b = MasterKey::generate();
    assert_ne!(a.key_id(), b.key_id());
    assert_eq!(a.key_id(), a.clone().key_id());
}

#[test]
fn keyring_file_round_trips_with_comments_and_order() {
    let ring = keyring().1.rotated(MasterKey::generate());
    let text = ring.to_file_contents();
    assert!(text.starts_with('#'));
    let parsed = Keyring::parse_file(&format!("# header\n\n{text}")).unwrap();
    assert_eq!(parsed.primary(), ring.primary());
    assert_eq!(parsed.previous(), ring.previous());
}

#[test]
fn keyring_file_errors_name_the_line_and_never_the_key() {
    let bad = "# keys\nc2hvcnQ=\n";
    let err = Keyring::parse_file(bad).unwrap_err();
    assert_eq!(
        err,
        CryptoError::KeyFileLine {
            line: 2,
            reason: "wrong length"
        }
    );
    assert_eq!(err.to_string(), "keyring file line 2: wrong length");
    assert_eq!(
        Keyring::parse_file("# nothing\n").unwrap_err(),
        CryptoError::EmptyKeyring
    );
}

#[test]
fn key_ids_print_as_8_hex_digits_and_parse_back() {
    let id = KeyId::from_bytes([0xac, 0x20, 0x67, 0xba]);
    assert_eq!(id.to_string(), "ac2067ba");
    assert_eq!(KeyId::parse("ac2067ba"), Ok(id));
    assert_eq!(KeyId::parse(" AC2067BA\n"), Ok(id));
    for bad in ["ac2067b", "ac2067bax", "zz2067ba", "ac2067\u{e9}"] {
        assert_eq!(KeyId::parse(bad), Err(CryptoError::InvalidKeyId), "{bad}");
    }
    assert_eq!(KeyIds(vec![id, id]).to_string(), "ac2067ba, ac2067ba");
    assert_eq!(KeyIds::default().to_string(), "no key");
}

#[test]
fn an_added_key_is_held_but_only_a_held_key_is_promoted() {
    let (old, ring) = keyring();
    let new = MasterKey::generate();
    let added = ring.with_key(new.clone());
    assert_eq!(added.primary(), &old, "adding does not change the primary");
    assert!(added.holds(new.key_id()));
    let promoted = added.with_primary(new.key_id()).unwrap();
    assert!(
        promoted
            .with_primary(MasterKey::generate().key_id())
            .is_none()
    );
}

#[test]
fn only_a_previous_key_can_be_dropped() {
    let (old, ring) = keyring();
    let new = MasterKey::generate();
    let ring = ring.rotated(new.clone());
    assert!(ring.without(new.key_id()).is_none(), "the primary stays");
    let dropped = ring.without(old.key_id()).unwrap();
    assert_eq!(dropped.key_ids(), KeyIds(vec![new.key_id()]));
}

#[test]
fn merging_keeps_the_primary_and_adds_only_missing_keys() {
    let (a, ring) = keyring();
    let b = MasterKey::generate();
    let other = Keyring::new(b.clone(), vec![a.clone()]);
    let merged = ring.merged(&other);
    assert_eq!(merged.key_ids(), KeyIds(vec![a.key_id(), b.key_id()]));
}

#[test]
fn a_value_sealed_with_a_previous_key_names_that_key() {
    let (old, ring) = keyring();
    let ring = ring.rotated(MasterKey::generate());
    let canary = ring.seal_with(old.key_id(), b"canary", "r", "f").unwrap();
    assert_eq!(key_id_of(&canary), Ok(old.key_id()));
    assert_eq!(ring.open(&canary, "r", "f").unwrap(), b"canary");
    let missing = MasterKey::generate().key_id();
    assert_eq!(
        ring.seal_with(missing, b"x", "r", "f"),
        Err(CryptoError::UnknownKeyId(missing))
    );
}
