//! `Record`: one filed website, parsed and validated once at the edge.

use crate::filing::{GonganNumber, IcpNumber};

/// One filed website, as the input describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// 1-based line number of the row in the input (CSV: physical line of
    /// the row's start, the header being line 1).
    pub line: u64,
    /// The domain as the input wrote it (Unicode kept for display).
    pub domain: String,
    /// The domain in ASCII (punycode), lower case, without a trailing dot.
    pub ascii_domain: String,
    /// The row's `id`, passed through untouched.
    pub id: Option<serde_json::Value>,
    /// The filed service name (服务名称).
    pub service_name: Option<String>,
    /// The filed service number (网站备案号).
    pub icp_number: Option<IcpNumber>,
    /// The filed public-security number (公安备案号).
    pub gongan_number: Option<GonganNumber>,
    /// The filed server addresses and ranges.
    pub ips: Vec<ipnet::IpNet>,
    /// Extra hosts to check besides apex and `www.`, in ASCII form.
    pub hosts: Vec<String>,
}

/// A row that could not be read. Becomes an `input-invalid` finding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct InputError {
    /// 1-based line number of the row.
    pub line: u64,
    /// The domain, when it could be read.
    pub domain: Option<String>,
    /// The `id`, when it could be read.
    pub id: Option<serde_json::Value>,
    /// What is wrong, and what to change.
    pub reason: String,
}
