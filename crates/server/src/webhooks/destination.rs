//! Where webhooks may go: an https URL without credentials whose host resolves only to public
//! addresses, so that a workspace cannot make tether call into its own network (SSRF). The
//! rule is checked when a webhook is registered and again on every delivery, by the resolver
//! of the delivery client ([`CheckedResolver`]): the addresses it returns are the ones
//! checked and the ones connected to, so no second lookup can swap them. With
//! `webhook_allow_private`, http and private addresses are allowed (tests, private networks).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::{Ipv4Net, Ipv6Net};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

/// The longest destination URL accepted.
const MAX_URL_LEN: usize = 2_048;

/// IPv4 ranges no webhook may reach: this network, private (RFC 1918), CGNAT, loopback,
/// link-local (cloud metadata at 169.254.169.254 included), and the reserved, multicast and
/// broadcast blocks.
const FORBIDDEN_V4: [Ipv4Net; 10] = [
    Ipv4Net::new_assert(Ipv4Addr::new(0, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(10, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(100, 64, 0, 0), 10),
    Ipv4Net::new_assert(Ipv4Addr::new(127, 0, 0, 0), 8),
    Ipv4Net::new_assert(Ipv4Addr::new(169, 254, 0, 0), 16),
    Ipv4Net::new_assert(Ipv4Addr::new(172, 16, 0, 0), 12),
    Ipv4Net::new_assert(Ipv4Addr::new(192, 0, 0, 0), 24),
    Ipv4Net::new_assert(Ipv4Addr::new(192, 168, 0, 0), 16),
    Ipv4Net::new_assert(Ipv4Addr::new(198, 18, 0, 0), 15),
    Ipv4Net::new_assert(Ipv4Addr::new(224, 0, 0, 0), 3),
];

/// IPv6 ranges no webhook may reach: unspecified, loopback, unique local (fc00::/7, AWS's
/// metadata at fd00:ec2::254 included), link-local, site-local and multicast.
const FORBIDDEN_V6: [Ipv6Net; 6] = [
    Ipv6Net::new_assert(Ipv6Addr::UNSPECIFIED, 128),
    Ipv6Net::new_assert(Ipv6Addr::LOCALHOST, 128),
    Ipv6Net::new_assert(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7),
    Ipv6Net::new_assert(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10),
    Ipv6Net::new_assert(Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10),
    Ipv6Net::new_assert(Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8),
];

/// IPv6 prefixes that carry an IPv4 address in their last 32 bits (IPv4-compatible and the
/// NAT64 well-known prefix): the embedded address is judged as IPv4.
const EMBEDS_V4: [Ipv6Net; 2] = [
    Ipv6Net::new_assert(Ipv6Addr::UNSPECIFIED, 96),
    Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96),
];

/// Whether `ip` is an address no webhook may reach (IPv4-mapped IPv6 judged as its IPv4).
pub fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => FORBIDDEN_V4.iter().any(|net| net.contains(&v4)),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden(IpAddr::V4(v4));
            }
            if EMBEDS_V4.iter().any(|net| net.contains(&v6)) && v6 != Ipv6Addr::UNSPECIFIED {
                let [.., a, b, c, d] = v6.octets();
                return forbidden(IpAddr::V4(Ipv4Addr::new(a, b, c, d)));
            }
            FORBIDDEN_V6.iter().any(|net| net.contains(&v6))
        }
    }
}

/// Why a destination is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationError {
    #[error("url is not an absolute URL")]
    NotAUrl,
    #[error("url is longer than {MAX_URL_LEN} characters")]
    TooLong,
    #[error("url must be https (http only with the setting webhook_allow_private)")]
    NotHttps,
    #[error("url must not carry a user name or password")]
    Credentials,
    #[error("url has no host")]
    NoHost,
    #[error("the host {host} does not resolve")]
    Unresolvable { host: String },
    #[error(
        "the host {host} resolves to {address}, a private, loopback, link-local or otherwise \
         internal address; webhooks go only to public addresses (unless the setting \
         webhook_allow_private is true)"
    )]
    Private { host: String, address: IpAddr },
}

/// The destination `raw` names, if its form is allowed (its addresses are checked by
/// [`check`]).
pub fn parse(raw: &str, allow_private: bool) -> Result<Url, DestinationError> {
    if raw.len() > MAX_URL_LEN {
        return Err(DestinationError::TooLong);
    }
    let url = Url::parse(raw).map_err(|_| DestinationError::NotAUrl)?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(DestinationError::NotHttps),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(DestinationError::Credentials);
    }
    if url.host().is_none() {
        return Err(DestinationError::NoHost);
    }
    Ok(url)
}

/// Checks that `url`'s host resolves, and only to allowed addresses.
pub async fn check(url: &Url, allow_private: bool) -> Result<(), DestinationError> {
    let host = url.host_str().ok_or(DestinationError::NoHost)?;
    let port = url.port_or_known_default().unwrap_or(443);
    let addrs = match literal(url) {
        Some(ip) => vec![SocketAddr::new(ip, port)],
        None => resolve(host, port).await?,
    };
    allowed(host, &addrs, allow_private)
}

/// The address of a URL whose host is an IP literal.
pub fn literal(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        url::Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        url::Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        url::Host::Domain(_) => None,
    }
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, DestinationError> {
    let unresolvable = || DestinationError::Unresolvable {
        host: host.to_owned(),
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| unresolvable())?
        .collect();
    if addrs.is_empty() {
        return Err(unresolvable());
    }
    Ok(addrs)
}

/// Refuses `addrs` if any is forbidden (a host with one internal address is refused whole:
/// which address a connection uses is not the caller's choice).
pub fn allowed(
    host: &str,
    addrs: &[SocketAddr],
    allow_private: bool,
) -> Result<(), DestinationError> {
    if allow_private {
        return Ok(());
    }
    match addrs.iter().find(|a| forbidden(a.ip())) {
        Some(bad) => Err(DestinationError::Private {
            host: host.to_owned(),
            address: bad.ip(),
        }),
        None => Ok(()),
    }
}

/// The delivery client's resolver: looks a host up once, refuses it if any address is
/// internal, and hands the checked addresses to the connection.
#[derive(Debug, Clone, Copy)]
pub struct CheckedResolver {
    pub allow_private: bool,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs = resolve(&host, 0).await?;
            allowed(&host, &addrs, allow_private)?;
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
    }

    #[test]
    fn internal_addresses_of_both_families_are_forbidden_mapped_ones_included() {
        for raw in [
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "127.8.8.8",
            "0.0.0.0",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.169.254",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "224.0.0.1",
            "255.255.255.255",
        ] {
            assert!(forbidden(ip(raw)), "{raw} must be forbidden");
        }
    }

    #[test]
    fn public_addresses_are_allowed() {
        for raw in [
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "192.169.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(!forbidden(ip(raw)), "{raw} must be allowed");
        }
    }

    #[test]
    fn a_destination_must_be_https_without_credentials_unless_private_is_allowed() {
        let refused = |raw: &str| parse(raw, false).err().map(|e| e.to_string());
        assert_eq!(
            refused("http://hooks.example.com/"),
            Some("url must be https (http only with the setting webhook_allow_private)".to_owned())
        );
        assert_eq!(
            refused("https://user:pw@hooks.example.com/"),
            Some("url must not carry a user name or password".to_owned())
        );
        assert_eq!(
            refused("hooks.example.com"),
            Some("url is not an absolute URL".to_owned())
        );
        assert_eq!(
            refused("ftp://hooks.example.com/"),
            refused("http://x.example/")
        );
        assert!(parse("https://hooks.example.com/tether?x=1", false).is_ok());
        assert!(parse("http://127.0.0.1:9/", true).is_ok());
    }

    #[tokio::test]
    async fn a_literal_or_a_name_resolving_to_an_internal_address_is_refused() {
        for raw in [
            "https://127.0.0.1/",
            "https://[::ffff:10.0.0.1]/",
            "https://169.254.169.254/latest/meta-data",
            "https://localhost:8443/",
        ] {
            let url = parse(raw, false).map_err(|e| e.to_string());
            let checked = match url {
                Ok(url) => check(&url, false).await.map_err(|e| e.to_string()),
                Err(e) => Err(e),
            };
            let why = checked.err().unwrap_or_default();
            assert!(
                why.contains("private, loopback, link-local or otherwise internal address"),
                "{raw}: {why}"
            );
        }
        let local = parse("http://127.0.0.1:9/", true).map_err(|e| e.to_string());
        assert_eq!(
            match local {
                Ok(url) => check(&url, true).await.map_err(|e| e.to_string()),
                Err(e) => Err(e),
            },
            Ok(())
        );
    }
}
