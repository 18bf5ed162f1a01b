//! Which hosts tether talks to as a provider: the one check behind every connector's
//! `login_url`, every `instance_url` a token response names and every proxied request.
//!
//! Without it a tenant could point a connector at its own server and answer with
//! `instance_url = http://169.254.169.254` (cloud metadata read through the proxy), or move a
//! connector's `login_url` and collect every refresh token and client secret tether sends.
//! Allowed by default: `https` (default port) on `login.salesforce.com`, `test.salesforce.com`
//! and any subdomain of `salesforce.com` or `force.com` (My Domains, sandboxes, instances).
//! The `extra_provider_hosts` setting adds `host` (default port) or `host:port` entries, over
//! http or https, for a local sandbox or a test double. Nothing else passes: no userinfo, no
//! IP literal unless listed.

use url::{Host, Url};

/// Domains whose subdomains are Salesforce's own (login, My Domain, instances).
const SALESFORCE_SUFFIXES: [&str; 2] = [".salesforce.com", ".force.com"];

/// An `extra_provider_hosts` entry that is not a `host` or `host:port`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("extra_provider_hosts entry {0:?} is not a host or host:port (such as 127.0.0.1:8080)")]
pub struct InvalidProviderHost(pub String);

/// One extra allowed host; `port` None means the scheme's default port only.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ExtraHost {
    host: String,
    port: Option<u16>,
}

/// The provider host allowlist: Salesforce's hosts plus the configured extras.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderHosts {
    extra: Vec<ExtraHost>,
}

impl ProviderHosts {
    /// Salesforce's hosts plus `extra` (`host` or `host:port` entries, case-insensitive).
    pub fn new<I, S>(extra: I) -> Result<Self, InvalidProviderHost>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let extra = extra
            .into_iter()
            .map(|entry| parse_entry(entry.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self { extra })
    }

    /// Whether tether may send provider calls (and secrets) to `url`'s origin.
    pub fn allows(&self, url: &Url) -> bool {
        let scheme_ok = matches!(url.scheme(), "http" | "https");
        let no_userinfo = url.username().is_empty() && url.password().is_none();
        if !scheme_ok || !no_userinfo {
            return false;
        }
        is_salesforce(url) || self.is_extra(url)
    }

    fn is_extra(&self, url: &Url) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        self.extra.iter().any(|e| {
            e.host == host
                && match e.port {
                    Some(port) => url.port_or_known_default() == Some(port),
                    None => url.port().is_none(),
                }
        })
    }
}

fn is_salesforce(url: &Url) -> bool {
    let Some(Host::Domain(host)) = url.host() else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    url.scheme() == "https"
        && url.port().is_none()
        && SALESFORCE_SUFFIXES.iter().any(|suffix| {
            host.strip_suffix(suffix)
                .is_some_and(is_subdomain_label_run)
        })
}

/// `login` or `acme.my` (what comes before `.salesforce.com`): non-empty DNS labels.
fn is_subdomain_label_run(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn parse_entry(raw: &str) -> Result<ExtraHost, InvalidProviderHost> {
    let invalid = || InvalidProviderHost(raw.to_owned());
    let entry = raw.trim().to_ascii_lowercase();
    if entry.is_empty() || entry.contains(['/', '@', '?', '#', '\\']) || entry.contains(' ') {
        return Err(invalid());
    }
    // The http parse normalises the host like every URL tether checks; a scheme without a
    // default port keeps whatever port was written, so `host:80` and `host` stay distinct.
    let normal = Url::parse(&format!("http://{entry}/")).map_err(|_| invalid())?;
    let written = Url::parse(&format!("x-tether://{entry}/")).map_err(|_| invalid())?;
    let host = normal.host_str().ok_or_else(invalid)?.to_owned();
    Ok(ExtraHost {
        host,
        port: written.port(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed(hosts: &ProviderHosts, url: &str) -> bool {
        Url::parse(url).is_ok_and(|u| hosts.allows(&u))
    }

    /// Those of `urls` that `hosts` allows, in order: a failure lists every wrong verdict.
    fn allowed_of<'a>(hosts: &ProviderHosts, urls: &[&'a str]) -> Vec<&'a str> {
        urls.iter()
            .copied()
            .filter(|url| allowed(hosts, url))
            .collect()
    }

    #[test]
    fn salesforce_login_my_domain_sandbox_and_instance_hosts_are_allowed_over_https() {
        let urls = [
            "https://login.salesforce.com",
            "https://test.salesforce.com",
            "https://acme.my.salesforce.com",
            "https://acme--dev.sandbox.my.salesforce.com",
            "https://na1.salesforce.com/services/data",
            "https://acme.lightning.force.com",
            "https://LOGIN.Salesforce.COM",
            "https://login.salesforce.com:443",
        ];
        assert_eq!(allowed_of(&ProviderHosts::default(), &urls), urls);
    }

    #[test]
    fn look_alike_hosts_http_ports_userinfo_and_ip_literals_are_refused_by_default() {
        let urls = [
            "https://evilsalesforce.com",
            "https://salesforce.com.evil.com",
            "https://salesforce.com",
            "https://force.com",
            "https://evil.com/login.salesforce.com",
            "http://login.salesforce.com",
            "https://login.salesforce.com:8443",
            "https://user:pw@login.salesforce.com",
            "https://user@login.salesforce.com",
            "https://169.254.169.254",
            "http://169.254.169.254/latest/meta-data",
            "https://[::1]",
            "https://127.0.0.1",
            "ftp://login.salesforce.com",
            "https://a..salesforce.com",
        ];
        assert_eq!(
            allowed_of(&ProviderHosts::default(), &urls),
            Vec::<&str>::new()
        );
    }

    #[test]
    fn extra_hosts_allow_http_and_https_on_exactly_their_port() {
        let hosts = ProviderHosts::new(["127.0.0.1:8080", "Sandbox.Internal", "[::1]:9000"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(allowed(
            &hosts,
            "http://127.0.0.1:8080/services/oauth2/token"
        ));
        assert!(allowed(&hosts, "https://127.0.0.1:8080"));
        assert!(!allowed(&hosts, "http://127.0.0.1:8081"));
        assert!(!allowed(&hosts, "http://127.0.0.1"));
        assert!(allowed(&hosts, "http://sandbox.internal"));
        assert!(allowed(&hosts, "https://SANDBOX.internal"));
        assert!(!allowed(&hosts, "http://sandbox.internal:8080"));
        assert!(allowed(&hosts, "http://[::1]:9000"));
        assert!(!allowed(&hosts, "http://u:p@127.0.0.1:8080"));
        assert!(!allowed(&hosts, "http://169.254.169.254"));
        assert!(allowed(&hosts, "https://login.salesforce.com"));
    }

    #[test]
    fn an_explicit_default_port_entry_matches_only_that_port() {
        let hosts = ProviderHosts::new(["idp.example:80"]).unwrap_or_else(|e| panic!("{e}"));
        assert!(allowed(&hosts, "http://idp.example"));
        assert!(!allowed(&hosts, "https://idp.example"));
    }

    #[test]
    fn entries_that_are_not_host_or_host_port_are_refused() {
        for bad in [
            "",
            "http://x.example",
            "x.example/path",
            "u@x.example",
            "x.example:notaport",
            "x.example:70000",
            "a b",
        ] {
            assert_eq!(
                ProviderHosts::new([bad]).err(),
                Some(InvalidProviderHost(bad.to_owned())),
                "{bad}"
            );
        }
    }
}
