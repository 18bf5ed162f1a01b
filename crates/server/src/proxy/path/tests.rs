//! Unit and property tests of path and Host checking.

use proptest::prelude::*;
use url::Url;

use super::*;

const INSTANCE: &str = "https://na1.my.salesforce.com";

fn refused(raw: &str) -> PathError {
    match ProxyPath::parse(raw) {
        Ok(p) => panic!("{raw} was accepted as {p:?}"),
        Err(e) => e,
    }
}

#[test]
fn a_salesforce_rest_path_targets_the_instance_with_its_query() {
    let path = ProxyPath::parse("services/data/v64.0/query").unwrap();
    let url = path
        .target(INSTANCE, Some("q=SELECT+Id+FROM+Account"))
        .unwrap();
    assert_eq!(
        url.as_str(),
        "https://na1.my.salesforce.com/services/data/v64.0/query?q=SELECT+Id+FROM+Account"
    );
}

#[test]
fn a_trailing_slash_is_kept() {
    let path = ProxyPath::parse("services/data/v64.0/query/").unwrap();
    let url = path.target(INSTANCE, Some("q=x")).unwrap();
    assert_eq!(url.path(), "/services/data/v64.0/query/");
}

#[test]
fn percent_encoded_characters_other_than_separators_pass_unchanged() {
    let path = ProxyPath::parse("services/data/v64.0/sobjects/Account/Ext__c/a%20b").unwrap();
    let url = path.target(INSTANCE, None).unwrap();
    assert_eq!(
        url.path(),
        "/services/data/v64.0/sobjects/Account/Ext__c/a%20b"
    );
}

#[test]
fn dot_segments_are_refused_raw_encoded_and_double_encoded() {
    for raw in [
        "..",
        "services/../x",
        "services/./x",
        "%2e%2e/x",
        "%2E%2E/x",
        ".%2e/x",
        "%252e%252e/x",
    ] {
        assert_eq!(refused(raw), PathError::DotSegment, "{raw}");
    }
}

#[test]
fn encoded_slashes_and_backslashes_are_refused() {
    for raw in ["a%2fb", "a%2Fb", "a%252fb", "a%5cb", "a\\b"] {
        assert_eq!(refused(raw), PathError::EncodedSeparator, "{raw}");
    }
}

#[test]
fn absolute_urls_are_refused() {
    for raw in [
        "http://evil.example/x",
        "https:evil.example",
        "http%3a%2f%2fevil.example",
        "/evil.example/x",
    ] {
        assert_eq!(refused(raw), PathError::AbsoluteUrl, "{raw}");
    }
}

#[test]
fn at_signs_are_refused() {
    for raw in ["user@evil.example", "a/b%40c"] {
        assert_eq!(refused(raw), PathError::UserInfo, "{raw}");
    }
}

#[test]
fn empty_paths_and_empty_segments_are_refused() {
    assert_eq!(refused(""), PathError::Empty);
    assert_eq!(refused("services//data"), PathError::EmptySegment);
    assert_eq!(refused("services//"), PathError::EmptySegment);
}

#[test]
fn control_characters_and_fragments_are_refused() {
    for raw in ["a\rb", "a%0db", "a b", "a#b"] {
        assert_eq!(refused(raw), PathError::BadCharacter, "{raw}");
    }
}

#[test]
fn an_unusable_instance_url_is_reported() {
    let path = ProxyPath::parse("services").unwrap();
    assert_eq!(
        path.target("ftp://x", None).unwrap_err(),
        PathError::InstanceUrl("ftp://x".into())
    );
}

#[test]
fn the_host_must_name_tether_or_one_of_its_loopback_aliases() {
    let public = Url::parse("http://127.0.0.1:7878").unwrap();
    for ok in ["127.0.0.1:7878", "localhost:7878", "[::1]:7878"] {
        assert_eq!(host_is_tether(Some(ok), &public), Ok(()), "{ok}");
    }
    for bad in ["evil.example", "127.0.0.1", "na1.my.salesforce.com:7878"] {
        assert_eq!(
            host_is_tether(Some(bad), &public),
            Err(PathError::ForeignHost(bad.into())),
            "{bad}"
        );
    }
    let https = Url::parse("https://tether.example").unwrap();
    assert_eq!(host_is_tether(Some("TETHER.example"), &https), Ok(()));
    assert_eq!(host_is_tether(Some("tether.example:443"), &https), Ok(()));
    assert!(host_is_tether(Some("localhost:443"), &https).is_err());
}

proptest! {
    #[test]
    fn every_accepted_path_stays_on_the_instance_and_keeps_its_text(raw in "[a-zA-Z0-9._~%:@!$&'()*+,;=/\\\\-]{1,40}") {
        if let Ok(path) = ProxyPath::parse(&raw) {
            let url = path.target(INSTANCE, Some("a=b")).unwrap();
            prop_assert_eq!(url.host_str(), Some("na1.my.salesforce.com"));
            prop_assert_eq!(url.scheme(), "https");
            prop_assert_eq!(url.path(), format!("/{raw}"));
            prop_assert!(url.username().is_empty());
        }
    }

    #[test]
    fn a_path_with_a_dot_dot_segment_is_never_accepted(
        before in "[a-z]{1,8}", after in "[a-z]{1,8}",
        dots in prop::sample::select(vec!["..", "%2e%2e", "%2E.", ".%2e", "%252e%252e"]),
    ) {
        let raw = format!("{before}/{dots}/{after}");
        prop_assert!(ProxyPath::parse(&raw).is_err());
    }
}
