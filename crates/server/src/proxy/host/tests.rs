//! Unit tests of host labels and host routing.

use super::*;

fn suffix() -> HostSuffix {
    HostSuffix::parse("proxy.tether.example").unwrap()
}

fn id() -> ConnectionId {
    ConnectionId::parse("conn_AbC09xYz").unwrap()
}

/// Each of `hosts` routes as `expected` under [`suffix`]; a failure names the host.
fn assert_routes(hosts: &[&str], expected: HostRoute) {
    for host in hosts {
        assert_eq!(suffix().route(host), expected, "{host}");
    }
}

#[test]
fn the_label_is_c_dash_and_the_hex_of_the_id_after_conn() {
    assert_eq!(label(&id()).as_deref(), Some("c-416243303978597a"));
}

#[test]
fn a_generated_id_fits_in_one_dns_label() {
    let label = label(&ConnectionId::generate()).unwrap();
    assert_eq!(label.len(), 42);
}

#[test]
fn an_id_too_long_for_a_dns_label_has_no_host_name() {
    let long = ConnectionId::parse(&format!("conn_{}", "a".repeat(31))).unwrap();
    assert_eq!(label(&long), None);
    assert_eq!(suffix().instance_url(&long), None);
}

#[test]
fn the_instance_url_is_https_on_the_label_under_the_suffix_with_its_port() {
    assert_eq!(
        suffix().instance_url(&id()).as_deref(),
        Some("https://c-416243303978597a.proxy.tether.example")
    );
    let with_port = HostSuffix::parse("proxy.localhost:8443").unwrap();
    assert_eq!(
        with_port.instance_url(&id()).as_deref(),
        Some("https://c-416243303978597a.proxy.localhost:8443")
    );
}

#[test]
fn a_valid_label_under_the_suffix_routes_to_its_connection() {
    assert_eq!(
        suffix().route("c-416243303978597a.proxy.tether.example"),
        HostRoute::Connection(id())
    );
}

#[test]
fn an_upper_case_host_routes_to_the_same_case_sensitive_id() {
    assert_eq!(
        suffix().route("C-416243303978597A.PROXY.Tether.Example"),
        HostRoute::Connection(id())
    );
}

#[test]
fn the_port_of_the_host_is_not_compared() {
    assert_routes(
        &[
            "c-416243303978597a.proxy.tether.example:443",
            "c-416243303978597a.proxy.tether.example:8443",
            "c-416243303978597a.proxy.tether.example.",
        ],
        HostRoute::Connection(id()),
    );
}

#[test]
fn hosts_outside_the_suffix_go_through_the_router_unchanged() {
    assert_routes(
        &[
            "proxy.tether.example",
            "tether.example",
            "c-416243303978597a.other.example",
            "c-416243303978597a.xproxy.tether.example",
            "127.0.0.1:7878",
        ],
        HostRoute::Tether,
    );
}

#[test]
fn labels_that_name_no_connection_are_unknown() {
    assert_routes(
        &[
            "www.proxy.tether.example",
            "c-.proxy.tether.example",
            "c-41624.proxy.tether.example",
            "c-zz.proxy.tether.example",
            "c-5f5f.proxy.tether.example",
            "a.c-416243303978597a.proxy.tether.example",
            "conn_AbC09xYz.proxy.tether.example",
        ],
        HostRoute::Unknown,
    );
}

#[test]
fn a_suffix_must_be_a_plain_host_name() {
    for raw in [
        "",
        "https://proxy.example",
        "proxy.example/x",
        "user@proxy.example",
        "127.0.0.1",
        "proxy.example:notaport",
    ] {
        assert_eq!(
            HostSuffix::parse(raw),
            Err(InvalidHostSuffix(raw.to_owned())),
            "{raw}"
        );
    }
    assert_eq!(
        HostSuffix::parse("Proxy.Example:8443"),
        Ok(HostSuffix {
            name: "proxy.example".into(),
            port: Some(8443),
        })
    );
}

#[test]
fn only_connection_hosts_pass_the_proxy_host_check() {
    let s = suffix();
    assert!(is_connection_host(
        Some(&s),
        "c-416243303978597a.proxy.tether.example:443"
    ));
    assert!(!is_connection_host(Some(&s), "www.proxy.tether.example"));
    assert!(!is_connection_host(
        None,
        "c-416243303978597a.proxy.tether.example"
    ));
}
