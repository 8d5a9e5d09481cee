//! Targets: the (host, device) pairs one record expands to.
//!
//! Owns only naming; knows nothing of browsers or rules.

use serde::{Deserialize, Serialize};

use crate::input::Record;

/// The kind of visitor a target is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Device {
    /// A desktop browser, 1366×768, no touch.
    Desktop,
    /// A current Chrome on an Android phone, 390×844 at DPR 3, touch.
    Mobile,
}

impl Device {
    /// Both devices, desktop first.
    pub const ALL: [Device; 2] = [Device::Desktop, Device::Mobile];

    /// The SPEC name: `desktop` or `mobile`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Device::Desktop => "desktop",
            Device::Mobile => "mobile",
        }
    }
}

impl std::fmt::Display for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which schemes a target's homepage is opened with (`--scheme`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemePolicy {
    /// https first, then http when https cannot connect.
    Auto,
    /// https only.
    Https,
    /// http only.
    Http,
}

impl SchemePolicy {
    /// The schemes to try, in order.
    #[must_use]
    pub fn schemes(self) -> &'static [&'static str] {
        match self {
            SchemePolicy::Auto => &["https", "http"],
            SchemePolicy::Https => &["https"],
            SchemePolicy::Http => &["http"],
        }
    }
}

/// One host of a record, seen as one device.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Target {
    /// The host in ASCII (punycode) form, e.g. `www.xn--fsqu00a.xn--fiqs8s`.
    pub host: String,
    /// Desktop or phone.
    pub device: Device,
}

impl Target {
    /// The homepage URL of this target for `scheme` (`http` or `https`).
    #[must_use]
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}/", self.host)
    }
}

/// The hosts a record asks to check: apex, `www.` and its extra `hosts`,
/// each once, in that order.
#[must_use]
pub fn hosts(record: &Record) -> Vec<String> {
    let apex = record
        .ascii_domain
        .strip_prefix("www.")
        .unwrap_or(&record.ascii_domain)
        .to_owned();
    let mut hosts = vec![apex.clone(), format!("www.{apex}")];
    for host in &record.hosts {
        if !hosts.contains(host) {
            hosts.push(host.clone());
        }
    }
    hosts
}

/// Every target of a record: each host as desktop, then as mobile.
#[must_use]
pub fn expand(record: &Record) -> Vec<Target> {
    hosts(record)
        .into_iter()
        .flat_map(|host| {
            Device::ALL.into_iter().map(move |device| Target {
                host: host.clone(),
                device,
            })
        })
        .collect()
}
