//! The service's settings: defaults < `tether.toml` < `TETHER_*` environment < flags.
//!
//! [`ServeConfig`] is what a user writes; [`Settings`] is the validated runtime form the
//! handlers read from `AppState`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use tether_core::webhook::DEFAULT_RETRY_SECONDS;
use tether_oauth::{InvalidProviderHost, ProviderHosts};
use tether_store::DatabaseOptions;
use url::Url;

use crate::proxy::ProxyLimits;
use crate::proxy::host::{HostSuffix, InvalidHostSuffix};

/// Declares every setting of [`ServeConfig`] once, as a table of entries:
///
/// ```text
/// /// doc
/// #[serde(...)]                      (optional)
/// name: Type = default;              (any setting)
/// name: u64 = default, range(min, max);  (a number setting)
/// ```
///
/// and generates from it: the struct `ServeConfig` (one `pub` field per entry, with its doc
/// and attributes), its `Default`, `ServeConfig::ranges` (the number settings' values and
/// ranges, in the table's order, which `check_ranges` enforces) and `ENV_KEYS` (every
/// setting's name: the `TETHER_*` variables read).
macro_rules! serve_config {
    ($(
        $(#[$attr:meta])*
        $name:ident: $ty:ty = $default:expr $(, range($min:expr, $max:expr))?;
    )*) => {
        /// Settings as written in `tether.toml`, `TETHER_*` variables or flags.
        #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct ServeConfig {
            $($(#[$attr])* pub $name: $ty,)*
        }

        impl Default for ServeConfig {
            fn default() -> Self {
                Self { $($name: $default,)* }
            }
        }

        impl ServeConfig {
            /// Every number setting with its value and range (name, value, min, max).
            fn ranges(&self) -> Vec<(&'static str, u64, u64, u64)> {
                vec![$($((stringify!($name), self.$name, $min, $max),)?)*]
            }
        }

        /// The environment variables read (`TETHER_` + upper-case key); others are ignored
        /// so that e.g. `TETHER_URL` of the CLI client does not leak into the server's
        /// settings.
        const ENV_KEYS: &[&str] = &[$(stringify!($name),)*];
    };
}

// Each setting: its doc, name, type, default and, for a number, the range it must lie in
// (so a value that would overflow a deadline, spin the scheduler or end leases at once is
// refused at startup). A new setting is one entry here (and its docs in docs/settings.md
// and docs/tether.example.toml); `ServeConfig::settings` converts it if the runtime reads it.
serve_config! {
    listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 7878));
    database: String = "sqlite://tether-data/tether.db".to_owned();
    public_url: String = "http://127.0.0.1:7878".to_owned();
    /// Base64 of 32 bytes; `TETHER_MASTER_KEY`.
    master_key: Option<String> = None;
    /// A keyring file (one base64 key per line, first = current); `TETHER_MASTER_KEY_FILE`.
    master_key_file: Option<PathBuf> = None;
    /// How long a refresh lease is held at most (seconds); it must cover the token call, an
    /// introspection and the save: at least 2 x `provider_timeout_seconds` + 5.
    lease_seconds: u64 = 30, range(5, 3_600);
    /// Whole-request timeout of provider calls (seconds).
    provider_timeout_seconds: u64 = 10, range(1, 300);
    /// Database: connections each tether process keeps open at most (PostgreSQL, or a SQLite
    /// file).
    database_pool_size: u64 = 10, range(1, 500);
    /// Database: PostgreSQL cancels a statement that runs longer (seconds); migrations are
    /// exempt. No effect on SQLite.
    database_statement_timeout_seconds: u64 = 30, range(1, 3_600);
    /// Database: how long connecting, or waiting for a free pooled connection, may take
    /// (seconds).
    database_connect_timeout_seconds: u64 = 10, range(1, 300);
    /// Log as JSON lines instead of text (`true`/`false`, or `1`/`0` in the environment).
    #[serde(deserialize_with = "flag")]
    log_json: bool = false;
    /// Keep-alive: a connection whose refresh token went unused this long (seconds) is
    /// refreshed, so idle policies (Salesforce's 30-day idle TTL) never expire it.
    keepalive_seconds: u64 = 7 * DAY_SECONDS, range(60, 366 * DAY_SECONDS);
    /// How many background refreshes (keep-alives, retries, rechecks) one instance runs at
    /// once.
    scheduler_concurrency: u64 = 8, range(1, 256);
    /// Background provider calls (keep-alives, retries, rechecks) one instance starts per
    /// second for one Salesforce org.
    provider_calls_per_org_per_second: u64 = 5, range(1, 1_000);
    /// Events older than this many days are deleted.
    events_retention_days: u64 = 90, range(1, 3_650);
    /// Proxy: largest request body forwarded (bytes); larger answers 413.
    proxy_max_request_bytes: u64 = 256 * MIB, range(1, 64 * GIB);
    /// Proxy: largest response body passed back (bytes); larger answers 502.
    proxy_max_response_bytes: u64 = GIB, range(1, 64 * GIB);
    /// Proxy: request bodies up to this size are buffered so a 401 can be retried.
    proxy_replay_max_bytes: u64 = MIB, range(0, GIB);
    /// Proxy: connecting to the provider (seconds).
    proxy_connect_timeout_seconds: u64 = 10, range(1, 300);
    /// Proxy: from sending (upload included) to the answer's headers (seconds).
    proxy_response_timeout_seconds: u64 = 120, range(1, DAY_SECONDS);
    /// Proxy: longest pause while reading the answer's body (seconds).
    proxy_read_timeout_seconds: u64 = 60, range(1, DAY_SECONDS);
    /// Proxy: refuse requests whose `Host` header does not name `public_url`; turn off behind
    /// a reverse proxy that rewrites `Host`.
    proxy_check_host: bool = true;
    /// Proxy: a wildcard DNS name (`proxy.tether.example[:port]`) under which each connection
    /// also answers at `https://c-{hex}.{suffix}`, for clients that keep only the host of
    /// `instance_url`; `TETHER_PROXY_HOST_SUFFIX`. None (the default) turns this off.
    proxy_host_suffix: Option<String> = None;
    /// Provider hosts allowed besides Salesforce's own (https on `login.salesforce.com`,
    /// `test.salesforce.com`, `*.salesforce.com`, `*.force.com`): `host` or `host:port`
    /// entries, over http or https, e.g. a local sandbox; `TETHER_EXTRA_PROVIDER_HOSTS`.
    extra_provider_hosts: Vec<String> = Vec::new();
    /// Events kept per connection (the newest); older ones are deleted.
    events_max_per_connection: u64 = 1_000, range(MIN_EVENTS_PER_CONNECTION, 10_000_000);
    /// The longest the scheduler sleeps before looking for due jobs again (seconds): it
    /// wakes at the earliest due time it knows, at once after a local write, and at least
    /// this often to see other instances' writes.
    scheduler_max_sleep_seconds: u64 = 5, range(1, 3_600);
    /// Webhooks: the waits (seconds) before the 2nd, 3rd, ... attempt of a delivery that
    /// failed; once used up the delivery has failed. A TOML list, or a JSON list in
    /// `TETHER_WEBHOOK_RETRY_SECONDS`.
    webhook_retry_seconds: Vec<u64> = DEFAULT_RETRY_SECONDS.to_vec();
    /// Webhooks: allow http and destinations on private, loopback and link-local addresses
    /// (for tests and private networks).
    #[serde(deserialize_with = "flag")]
    webhook_allow_private: bool = false;
}

/// Bytes in a mebibyte and a gibibyte (for the proxy's limits).
const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// Flags given on the command line (only the ones set override).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ConfigOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,
}

/// A setting that does not load or validate.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid settings: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("the settings file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("public_url {0:?} is not an absolute http(s) URL")]
    PublicUrl(String),
    #[error("{name} is {value}, outside its range: it must be between {min} and {max}")]
    OutOfRange {
        name: &'static str,
        value: u64,
        min: u64,
        max: u64,
    },
    #[error(
        "lease_seconds ({lease}) must cover two provider calls and the save: at least 2 x provider_timeout_seconds ({timeout}) + 5"
    )]
    Timeouts { timeout: u64, lease: u64 },
    #[error(transparent)]
    ProxyHostSuffix(#[from] InvalidHostSuffix),
    #[error(transparent)]
    ProviderHost(#[from] InvalidProviderHost),
    #[error(
        "webhook_retry_seconds must list 1 to {max} waits, each between 1 and {max_wait} seconds (got {got:?})",
        max = MAX_RETRIES,
        max_wait = MAX_RETRY_WAIT
    )]
    WebhookRetries { got: Vec<u64> },
}

/// The most waits `webhook_retry_seconds` may list.
const MAX_RETRIES: usize = 30;
/// The longest wait of `webhook_retry_seconds` (seconds): a week.
const MAX_RETRY_WAIT: u64 = 7 * 86_400;

impl ServeConfig {
    /// Loads defaults, then `file` (if it exists), then `TETHER_*`, then `flags`.
    pub fn load(
        file: Option<&std::path::Path>,
        flags: &ConfigOverrides,
    ) -> Result<Self, ConfigError> {
        if let Some(file) = file.filter(|f| !f.exists()) {
            return Err(ConfigError::MissingFile(file.to_owned()));
        }
        Figment::from(Serialized::defaults(ServeConfig::default()))
            .merge(settings_file(file))
            .merge(Env::prefixed("TETHER_").only(ENV_KEYS))
            .merge(Serialized::defaults(flags))
            .extract()
            .map_err(|e| ConfigError::Load(Box::new(e)))
    }

    /// The `log_json` setting alone (`file`, then `TETHER_LOG_JSON`), read before anything
    /// else so that logging starts in the right format; a value [`ServeConfig::load`] would
    /// refuse counts as `false` here, and `load` reports it.
    pub fn log_json_of(file: Option<&std::path::Path>) -> bool {
        #[derive(Deserialize)]
        struct LogOnly {
            #[serde(default, deserialize_with = "flag")]
            log_json: bool,
        }
        Figment::new()
            .merge(settings_file(file))
            .merge(Env::prefixed("TETHER_").only(&["log_json"]))
            .extract::<LogOnly>()
            .is_ok_and(|only| only.log_json)
    }

    /// Refuses a number setting outside its range, naming it and the range.
    fn check_ranges(&self) -> Result<(), ConfigError> {
        for (name, value, min, max) in self.ranges() {
            if !(min..=max).contains(&value) {
                return Err(ConfigError::OutOfRange {
                    name,
                    value,
                    min,
                    max,
                });
            }
        }
        Ok(())
    }

    /// The runtime settings, validated.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let public_url = Url::parse(&self.public_url)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| ConfigError::PublicUrl(self.public_url.clone()))?;
        self.check_ranges()?;
        // A refresh holds the lease across the token call, an introspection and the save.
        if self.provider_timeout_seconds * 2 + 5 > self.lease_seconds {
            return Err(ConfigError::Timeouts {
                timeout: self.provider_timeout_seconds,
                lease: self.lease_seconds,
            });
        }
        Ok(Settings {
            public_url,
            lease: Duration::from_secs(self.lease_seconds),
            provider_timeout: Duration::from_secs(self.provider_timeout_seconds),
            keepalive: Duration::from_secs(self.keepalive_seconds),
            scheduler_concurrency: usize::try_from(self.scheduler_concurrency).unwrap_or(8),
            provider_calls_per_org_per_second: u32::try_from(
                self.provider_calls_per_org_per_second,
            )
            .unwrap_or(5),
            events_retention: Duration::from_secs(self.events_retention_days * DAY_SECONDS),
            proxy: self.proxy_limits(),
            proxy_host_suffix: self
                .proxy_host_suffix
                .as_deref()
                .map(HostSuffix::parse)
                .transpose()?,
            provider_hosts: ProviderHosts::new(&self.extra_provider_hosts)?,
            events_max_per_connection: i64::try_from(self.events_max_per_connection)
                .unwrap_or(i64::MAX),
            scheduler_max_sleep: Duration::from_secs(self.scheduler_max_sleep_seconds),
            webhooks: self.webhook_settings()?,
        })
    }

    /// The webhooks' retry schedule and destination rule, validated.
    fn webhook_settings(&self) -> Result<WebhookSettings, ConfigError> {
        let retries = &self.webhook_retry_seconds;
        let fits = (1..=MAX_RETRIES).contains(&retries.len())
            && retries.iter().all(|s| (1..=MAX_RETRY_WAIT).contains(s));
        if !fits {
            return Err(ConfigError::WebhookRetries {
                got: retries.clone(),
            });
        }
        Ok(WebhookSettings {
            retry_schedule: retries.iter().map(|s| Duration::from_secs(*s)).collect(),
            allow_private: self.webhook_allow_private,
        })
    }

    /// The database pool's settings (`database_*`), as the store takes them. `serve` checks
    /// their ranges first; the other commands use them as written (a pool of at least one).
    pub fn database_options(&self) -> DatabaseOptions {
        DatabaseOptions {
            pool_size: u32::try_from(self.database_pool_size)
                .unwrap_or(u32::MAX)
                .max(1),
            statement_timeout: Duration::from_secs(self.database_statement_timeout_seconds),
            connect_timeout: Duration::from_secs(self.database_connect_timeout_seconds),
        }
    }

    /// The proxy's limits and timeouts.
    fn proxy_limits(&self) -> ProxyLimits {
        ProxyLimits {
            max_request_bytes: self.proxy_max_request_bytes,
            max_response_bytes: self.proxy_max_response_bytes,
            replay_max_bytes: self.proxy_replay_max_bytes,
            connect_timeout: Duration::from_secs(self.proxy_connect_timeout_seconds),
            response_timeout: Duration::from_secs(self.proxy_response_timeout_seconds),
            read_timeout: Duration::from_secs(self.proxy_read_timeout_seconds),
            check_host: self.proxy_check_host,
            ..ProxyLimits::default()
        }
    }
}

/// Seconds in a day.
const DAY_SECONDS: u64 = 86_400;

/// The fewest events a connection may be capped to: the connectors page and
/// `GET /v1/connections/{id}/events` show at least this much history. (Diagnosis and warnings
/// read no events: what they learn is kept on the connection and in the connector's policy
/// evidence, so no cap changes a diagnosis.)
const MIN_EVENTS_PER_CONNECTION: u64 = 100;

/// What the running service reads.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where browsers and providers reach tether; the callback is `{public_url}/oauth/callback`.
    pub public_url: Url,
    pub lease: Duration,
    pub provider_timeout: Duration,
    /// Refresh tokens unused this long are used by the keep-alive.
    pub keepalive: Duration,
    /// Background refreshes run at once by this instance.
    pub scheduler_concurrency: usize,
    /// Background provider calls started per second for one org by this instance.
    pub provider_calls_per_org_per_second: u32,
    /// Events older than this are deleted.
    pub events_retention: Duration,
    /// The API proxy's size limits and timeouts.
    pub proxy: ProxyLimits,
    /// Where connections have host names of their own (host-routed proxying), if anywhere.
    pub proxy_host_suffix: Option<HostSuffix>,
    /// The hosts provider calls and proxied requests may go to.
    pub provider_hosts: ProviderHosts,
    /// Events kept per connection (the newest).
    pub events_max_per_connection: i64,
    /// The longest the scheduler sleeps between two looks for due jobs.
    pub scheduler_max_sleep: Duration,
    /// Webhook deliveries: retry schedule and destination rule.
    pub webhooks: WebhookSettings,
}

/// How webhooks are delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The wait after each failed attempt; attempts stop when it is used up.
    pub retry_schedule: Vec<Duration>,
    /// http and private addresses allowed as destinations.
    pub allow_private: bool,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            retry_schedule: DEFAULT_RETRY_SECONDS
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            allow_private: false,
        }
    }
}

impl Settings {
    /// The OAuth callback URL to register at the provider.
    pub fn callback_url(&self) -> String {
        self.url("/oauth/callback")
    }

    /// An absolute URL of tether for `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.public_url.as_str().trim_end_matches('/'), path)
    }
}

/// The settings file: `file`, else `tether.toml` in the current directory when there is one
/// (an empty source when there is not).
fn settings_file(file: Option<&std::path::Path>) -> Figment {
    let path = file.map_or_else(|| PathBuf::from("tether.toml"), PathBuf::from);
    if path.exists() {
        Figment::from(Toml::file_exact(path))
    } else {
        Figment::new()
    }
}

/// A switch: `true`/`false`, or `1`/`0` (as environment variables often say).
fn flag<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Switch {
        Bool(bool),
        Number(i64),
        Text(String),
    }
    match Switch::deserialize(deserializer)? {
        Switch::Bool(on) => Ok(on),
        Switch::Number(1) => Ok(true),
        Switch::Number(0) => Ok(false),
        Switch::Text(text) if text == "true" || text == "1" => Ok(true),
        Switch::Text(text) if text == "false" || text == "0" => Ok(false),
        _ => Err(serde::de::Error::custom("expected true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `test` in a figment jail whose `tether.toml` holds `file`.
    #[allow(clippy::result_large_err)] // figment's Jail API fixes the error type
    fn with_settings_file(file: &str, test: impl FnOnce(&mut figment::Jail) -> Result<(), String>) {
        figment::Jail::expect_with(|jail| {
            jail.create_file("tether.toml", file)?;
            Ok(test(jail)?)
        });
    }

    /// The settings the jail's file and environment give, without flags.
    fn loaded() -> Result<ServeConfig, String> {
        ServeConfig::load(None, &ConfigOverrides::default()).map_err(|e| e.to_string())
    }

    /// Why `config` is refused, as the person reads it; `None` when it is taken.
    fn refused(config: ServeConfig) -> Option<String> {
        config.settings().err().map(|e| e.to_string())
    }

    /// A change to the default settings.
    type Change = fn(&mut ServeConfig);

    /// Why the defaults are refused once `change` is made to them.
    fn refused_with(change: Change) -> Option<String> {
        let mut config = ServeConfig::default();
        change(&mut config);
        refused(config)
    }

    #[test]
    fn flags_override_the_environment_which_overrides_the_file() {
        let file = "database = \"sqlite://file.db\"\nlease_seconds = 40\n";
        with_settings_file(file, |jail| {
            jail.set_env("TETHER_DATABASE", "sqlite://env.db");
            jail.set_env("TETHER_PUBLIC_URL", "https://env.example");
            let flags = ConfigOverrides {
                public_url: Some("https://flag.example".into()),
                ..ConfigOverrides::default()
            };
            let config = ServeConfig::load(None, &flags).map_err(|e| e.to_string())?;
            assert_eq!(config.database, "sqlite://env.db");
            assert_eq!(config.public_url, "https://flag.example");
            assert_eq!(config.lease_seconds, 40);
            assert_eq!(config.listen, SocketAddr::from(([127, 0, 0, 1], 7878)));
            Ok(())
        });
    }

    #[test]
    fn the_example_settings_file_loads_and_holds_the_defaults() {
        let example = include_str!("../../../docs/tether.example.toml");
        with_settings_file(example, |_| {
            assert_eq!(loaded()?, ServeConfig::default());
            Ok(())
        });
    }

    #[test]
    fn a_misspelt_key_a_missing_file_and_a_bad_switch_are_refused_by_name() {
        with_settings_file("lease_secs = 40\n", |jail| {
            let refused = loaded().err();
            assert!(
                refused.as_deref().is_some_and(|e| e.contains("lease_secs")),
                "{refused:?}"
            );
            let missing = ServeConfig::load(
                Some(std::path::Path::new("elsewhere.toml")),
                &ConfigOverrides::default(),
            )
            .err()
            .map(|e| e.to_string());
            assert_eq!(
                missing.as_deref(),
                Some("the settings file elsewhere.toml does not exist")
            );
            jail.create_file("tether.toml", "")
                .map_err(|e| e.to_string())?;
            jail.set_env("TETHER_LOG_JSON", "maybe");
            assert!(loaded().is_err());
            assert!(!ServeConfig::log_json_of(None));
            Ok(())
        });
    }

    #[test]
    fn log_json_is_a_switch_in_the_file_or_the_environment() {
        with_settings_file("log_json = true\n", |jail| {
            assert!(ServeConfig::log_json_of(None));
            assert!(loaded()?.log_json);
            jail.set_env("TETHER_LOG_JSON", "0");
            assert!(!ServeConfig::log_json_of(None));
            jail.set_env("TETHER_LOG_JSON", "1");
            assert!(loaded()?.log_json && ServeConfig::log_json_of(None));
            Ok(())
        });
    }

    #[test]
    fn extra_provider_hosts_load_from_the_file_and_the_environment() {
        with_settings_file("extra_provider_hosts = [\"127.0.0.1:8080\"]\n", |jail| {
            assert_eq!(loaded()?.extra_provider_hosts, vec!["127.0.0.1:8080"]);
            jail.set_env(
                "TETHER_EXTRA_PROVIDER_HOSTS",
                "[\"127.0.0.1:9090\", \"sandbox.internal\"]",
            );
            let config = loaded()?;
            assert_eq!(
                config.extra_provider_hosts,
                vec!["127.0.0.1:9090", "sandbox.internal"]
            );
            let hosts = config.settings().map_err(|e| e.to_string())?.provider_hosts;
            let sandbox = Url::parse("http://127.0.0.1:9090").map_err(|e| e.to_string())?;
            assert!(hosts.allows(&sandbox));
            Ok(())
        });
    }

    #[test]
    fn an_extra_provider_host_that_is_not_a_host_is_refused() {
        assert_eq!(
            refused_with(|c| c.extra_provider_hosts = vec!["http://evil.example/".into()])
                .as_deref(),
            Some(
                "extra_provider_hosts entry \"http://evil.example/\" is not a host or host:port (such as 127.0.0.1:8080)"
            )
        );
    }

    #[test]
    fn a_number_setting_outside_its_range_is_refused_naming_it_and_the_range() {
        let cases: [(Change, &str); 5] = [
            (
                |c| c.lease_seconds = 99_999_999_999_999,
                "lease_seconds is 99999999999999, outside its range: it must be between 5 and 3600",
            ),
            (
                |c| c.keepalive_seconds = 0,
                "keepalive_seconds is 0, outside its range: it must be between 60 and 31622400",
            ),
            (
                |c| c.database_pool_size = 0,
                "database_pool_size is 0, outside its range: it must be between 1 and 500",
            ),
            (
                |c| c.database_statement_timeout_seconds = 7_200,
                "database_statement_timeout_seconds is 7200, outside its range: it must be between 1 and 3600",
            ),
            (
                |c| c.database_connect_timeout_seconds = 0,
                "database_connect_timeout_seconds is 0, outside its range: it must be between 1 and 300",
            ),
        ];
        for (change, refusal) in cases {
            assert_eq!(refused_with(change).as_deref(), Some(refusal), "{refusal}");
        }
    }

    #[test]
    fn database_settings_load_from_the_file_and_the_environment_and_reach_the_store() {
        let file = "database_pool_size = 25\ndatabase_statement_timeout_seconds = 60\n";
        with_settings_file(file, |jail| {
            jail.set_env("TETHER_DATABASE_CONNECT_TIMEOUT_SECONDS", "3");
            let config = loaded()?;
            assert_eq!(
                config.database_options(),
                DatabaseOptions {
                    pool_size: 25,
                    statement_timeout: Duration::from_secs(60),
                    connect_timeout: Duration::from_secs(3),
                }
            );
            config.settings().map_err(|e| e.to_string())?;
            Ok(())
        });
        assert_eq!(
            ServeConfig::default().database_options(),
            DatabaseOptions::default()
        );
    }

    #[test]
    fn a_provider_timeout_longer_than_the_lease_is_refused() {
        assert_eq!(
            refused_with(|c| c.provider_timeout_seconds = 30).as_deref(),
            Some(
                "lease_seconds (30) must cover two provider calls and the save: at least 2 x provider_timeout_seconds (30) + 5"
            )
        );
    }

    #[test]
    fn the_webhook_retry_schedule_loads_from_a_toml_list_or_a_json_list_in_the_environment() {
        let file = "webhook_retry_seconds = [1, 2, 3]\nwebhook_allow_private = true\n";
        with_settings_file(file, |jail| {
            let config = loaded()?;
            assert_eq!(config.webhook_retry_seconds, vec![1, 2, 3]);
            assert!(config.webhook_allow_private);
            jail.set_env("TETHER_WEBHOOK_RETRY_SECONDS", "[10, 600]");
            jail.set_env("TETHER_WEBHOOK_ALLOW_PRIVATE", "0");
            let settings = loaded()?.settings().map_err(|e| e.to_string())?;
            assert_eq!(
                settings.webhooks,
                WebhookSettings {
                    retry_schedule: vec![Duration::from_secs(10), Duration::from_secs(600)],
                    allow_private: false,
                }
            );
            Ok(())
        });
    }

    #[test]
    fn an_empty_or_absurd_webhook_retry_schedule_is_refused_by_name() {
        for bad in [vec![], vec![5, 0], vec![99_999_999_999]] {
            let config = ServeConfig {
                webhook_retry_seconds: bad.clone(),
                ..ServeConfig::default()
            };
            assert_eq!(
                refused(config),
                Some(format!(
                    "webhook_retry_seconds must list 1 to 30 waits, each between 1 and 604800 seconds (got {bad:?})"
                ))
            );
        }
        assert_eq!(
            ServeConfig::default().settings().map(|s| s.webhooks).ok(),
            Some(WebhookSettings::default())
        );
    }
}
