//! Salesforce record ids: 15 case-sensitive characters (3-character key prefix, 2-character
//! pod, a reserved `0`, 9 base-62 digits) plus the 3-character case-safe checksum that makes
//! the 18-character form.

/// Base-62 digits in ASCII order, so fixed-width ids sort like their counters.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// The checksum alphabet: one character per 5-bit uppercase mask.
const CHECKSUM: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
/// Pod and reserved characters after the key prefix.
const POD: &str = "5g0";

/// The 18-character id for `serial` under `key_prefix` (e.g. `001`).
pub fn generate(key_prefix: &str, serial: u64) -> String {
    let mut digits = [b'0'; 9];
    let mut rest = serial;
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(rest % 62) as usize];
        rest /= 62;
    }
    let short = format!("{key_prefix}{POD}{}", String::from_utf8_lossy(&digits));
    with_checksum(&short)
}

/// Appends the checksum to a 15-character id.
fn with_checksum(short: &str) -> String {
    let mut long = short.to_owned();
    for chunk in short.as_bytes().chunks(5) {
        let mask = chunk
            .iter()
            .enumerate()
            .filter(|(_, b)| b.is_ascii_uppercase())
            .fold(0usize, |acc, (i, _)| acc | (1 << i));
        long.push(char::from(CHECKSUM[mask]));
    }
    long
}

/// The 18-character form of a 15- or 18-character id; `None` if it is not id-shaped or the
/// 18-character checksum does not match (compared case-insensitively, as Salesforce does).
pub fn normalize(id: &str) -> Option<String> {
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    match id.len() {
        15 => Some(with_checksum(id)),
        18 => {
            let long = with_checksum(&id[..15]);
            long.eq_ignore_ascii_case(id).then_some(long)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_18_characters_with_the_key_prefix() {
        let id = generate("001", 1);
        assert_eq!(id, "0015g0000000001AAA");
        assert_eq!(id.len(), 18);
    }

    #[test]
    fn checksum_matches_a_known_salesforce_id() {
        assert_eq!(
            normalize("0015000000XyZ12"),
            Some("0015000000XyZ12AAF".to_owned())
        );
    }

    #[test]
    fn normalize_accepts_15_and_18_characters_and_rejects_bad_checksums() {
        let id = generate("003", 77);
        assert_eq!(normalize(&id[..15]), Some(id.clone()));
        assert_eq!(normalize(&id), Some(id.clone()));
        assert_eq!(normalize(&format!("{}ZZZ", &id[..15])), None);
        assert_eq!(normalize("001"), None);
        assert_eq!(normalize("001/5g000000000"), None);
    }

    #[test]
    fn ids_sort_in_serial_order() {
        assert!(generate("001", 61) < generate("001", 62));
        assert!(generate("001", 9) < generate("001", 10));
    }
}
