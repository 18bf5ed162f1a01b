//! The REST API versions the sandbox serves and their release labels.
//!
//! Salesforce lists every supported version at `GET /services/data/`; versions below 31.0 were
//! retired in Summer '25, so the sandbox serves 31.0 ("Summer '14") to 64.0 ("Summer '25").

use serde::Serialize;

/// The oldest version served (Summer '14).
const OLDEST: u32 = 31;
/// The newest version served (Summer '25).
const NEWEST: u32 = 64;

/// One entry of the versions list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VersionInfo {
    pub label: String,
    pub url: String,
    pub version: String,
}

/// A served API version, parsed from a `vNN.N` path segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApiVersion(u32);

impl ApiVersion {
    /// Parses `v64.0`; `None` for anything that is not a served version.
    pub fn parse(segment: &str) -> Option<Self> {
        let major = segment.strip_prefix('v')?.strip_suffix(".0")?;
        if major.starts_with('0') || !major.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let major: u32 = major.parse().ok()?;
        (OLDEST..=NEWEST).contains(&major).then_some(Self(major))
    }

    /// `64.0`.
    pub fn number(self) -> String {
        format!("{}.0", self.0)
    }

    /// `/services/data/v64.0`, the prefix of every URL in this version's bodies.
    pub fn base(self) -> String {
        format!("/services/data/v{}.0", self.0)
    }

    /// The release name, e.g. `Summer '25`: three releases a year since Winter '11 (20.0).
    pub fn label(self) -> String {
        let since_winter_11 = self.0 - 20;
        let season = ["Winter", "Spring", "Summer"][(since_winter_11 % 3) as usize];
        format!("{season} '{:02}", 11 + since_winter_11 / 3)
    }
}

/// Every served version, oldest first, as `GET /services/data/` lists them.
pub fn all() -> Vec<VersionInfo> {
    (OLDEST..=NEWEST)
        .map(ApiVersion)
        .map(|v| VersionInfo {
            label: v.label(),
            url: v.base(),
            version: v.number(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_follow_the_salesforce_release_calendar() {
        assert_eq!(ApiVersion(64).label(), "Summer '25");
        assert_eq!(ApiVersion(63).label(), "Spring '25");
        assert_eq!(ApiVersion(62).label(), "Winter '25");
        assert_eq!(ApiVersion(31).label(), "Summer '14");
    }

    #[test]
    fn parse_accepts_only_served_versions_in_v_nn_dot_0_form() {
        assert_eq!(ApiVersion::parse("v64.0"), Some(ApiVersion(64)));
        assert_eq!(ApiVersion::parse("v31.0"), Some(ApiVersion(31)));
        for bad in [
            "64.0", "v65.0", "v30.0", "v64", "v64.1", "v064.0", "v+64.0", "vx.0", "",
        ] {
            assert_eq!(ApiVersion::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn all_lists_oldest_to_newest_with_relative_urls() {
        let list = all();
        assert_eq!(list.len(), 34);
        assert_eq!(
            list.last(),
            Some(&VersionInfo {
                label: "Summer '25".into(),
                url: "/services/data/v64.0".into(),
                version: "64.0".into()
            })
        );
    }
}
