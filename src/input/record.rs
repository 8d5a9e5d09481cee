//! `Record`: one filed website, parsed and validated once at the edge.

use crate::filing::topics::parse_approvals;
use crate::filing::{GonganNumber, IcpNumber, SubjectType, Topic};

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
    /// The filing subject's kind (主办单位性质), when given.
    pub subject_type: Option<SubjectType>,
    /// The pre-approvals (前置审批) the service holds, each once.
    pub approvals: Vec<Topic>,
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

/// A row's fields as text, before validation. Every reader fills one of
/// these; [`RawRecord::validate`] is the single place fields are checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRecord {
    /// `domain` / `域名`.
    pub domain: Option<String>,
    /// `service_name` / `服务名称` / `网站名称`.
    pub service_name: Option<String>,
    /// `icp_number` / `备案号` / `网站备案号` / `服务备案号`.
    pub icp_number: Option<String>,
    /// `gongan_number` / `公安备案号`.
    pub gongan_number: Option<String>,
    /// `ips` / `备案IP` / `IP`.
    pub ips: Option<String>,
    /// `hosts`.
    pub hosts: Option<String>,
    /// `subject_type` / `主办单位性质` / `主体性质`.
    pub subject_type: Option<String>,
    /// `approvals` / `前置审批`.
    pub approvals: Option<String>,
    /// `id`, as JSON (CSV ids are strings).
    pub id: Option<serde_json::Value>,
}

/// Which field a column header names, English or Chinese (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The filed domain.
    Domain,
    /// The filed service name.
    ServiceName,
    /// The filed ICP service number.
    IcpNumber,
    /// The filed 公安 number.
    GonganNumber,
    /// The filed addresses.
    Ips,
    /// Extra hosts.
    Hosts,
    /// The filing subject's kind.
    SubjectType,
    /// The pre-approvals held.
    Approvals,
    /// Pass-through id.
    Id,
}

impl Field {
    /// The field a header names, ignoring case and surrounding white space.
    #[must_use]
    pub fn from_header(header: &str) -> Option<Field> {
        let h = header.trim().trim_start_matches('\u{feff}').to_lowercase();
        Some(match h.as_str() {
            "domain" | "域名" => Field::Domain,
            "service_name" | "服务名称" | "网站名称" => Field::ServiceName,
            "icp_number" | "备案号" | "网站备案号" | "服务备案号" => Field::IcpNumber,
            "gongan_number" | "公安备案号" => Field::GonganNumber,
            "ips" | "备案ip" | "ip" => Field::Ips,
            "hosts" => Field::Hosts,
            "subject_type" | "主办单位性质" | "主体性质" => Field::SubjectType,
            "approvals" | "前置审批" => Field::Approvals,
            "id" => Field::Id,
            _ => return None,
        })
    }
}

impl RawRecord {
    /// Store `value` in `field`; empty values stay absent.
    pub fn set(&mut self, field: Field, value: &str) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        let v = Some(value.to_owned());
        match field {
            Field::Domain => self.domain = v,
            Field::ServiceName => self.service_name = v,
            Field::IcpNumber => self.icp_number = v,
            Field::GonganNumber => self.gongan_number = v,
            Field::Ips => self.ips = v,
            Field::Hosts => self.hosts = v,
            Field::SubjectType => self.subject_type = v,
            Field::Approvals => self.approvals = v,
            Field::Id => self.id = Some(serde_json::Value::String(value.to_owned())),
        }
    }

    /// Check every field and build the `Record` of input line `line`.
    ///
    /// # Errors
    ///
    /// [`InputError`] naming the first field that is missing or malformed.
    pub fn validate(self, line: u64) -> Result<Record, InputError> {
        let fail = |reason: String| InputError {
            line,
            domain: self.domain.clone(),
            id: self.id.clone(),
            reason,
        };
        let Some(domain) = self.domain.clone() else {
            return Err(fail(
                "the domain is missing; every row needs one".to_owned(),
            ));
        };
        let ascii_domain =
            to_ascii_host(&domain).map_err(|why| fail(format!("domain {domain:?}: {why}")))?;
        let icp_number = self
            .icp_number
            .as_deref()
            .map(IcpNumber::parse)
            .transpose()
            .map_err(|e| fail(format!("{e}; write it like 京ICP备12345678号-1")))?;
        let gongan_number = self
            .gongan_number
            .as_deref()
            .map(GonganNumber::parse)
            .transpose()
            .map_err(|e| fail(format!("{e}; write it like 京公网安备11010502030143号")))?;
        let ips = split_list(self.ips.as_deref())
            .map(|ip| parse_ip(ip).map_err(|why| fail(format!("ips: {ip:?} {why}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let hosts = split_list(self.hosts.as_deref())
            .map(|h| to_ascii_host(h).map_err(|why| fail(format!("hosts: {h:?}: {why}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let subject_type = self
            .subject_type
            .as_deref()
            .map(SubjectType::parse)
            .transpose()
            .map_err(fail)?;
        let approvals =
            parse_approvals(self.approvals.as_deref().unwrap_or_default()).map_err(fail)?;
        Ok(Record {
            line,
            domain,
            ascii_domain,
            id: self.id,
            service_name: self.service_name,
            icp_number,
            gongan_number,
            ips,
            hosts,
            subject_type,
            approvals,
        })
    }
}

/// Items of a list field, separated by white space, `;` or `,`.
fn split_list(value: Option<&str>) -> impl Iterator<Item = &str> {
    value
        .unwrap_or_default()
        .split(|c: char| c.is_whitespace() || c == ';' || c == ',' || c == '；')
        .filter(|s| !s.is_empty())
}

/// An address or CIDR range; a bare address is a one-address range.
fn parse_ip(text: &str) -> Result<ipnet::IpNet, &'static str> {
    if let Ok(net) = text.parse::<ipnet::IpNet>() {
        return Ok(net.trunc());
    }
    text.parse::<std::net::IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| "is neither an IP address nor a CIDR range")
}

/// A host name in ASCII (punycode) form: lower case, no trailing dot.
///
/// Rejects URLs, ports, paths and anything that is not a DNS name.
///
/// # Errors
///
/// Why the text is not a host name, for an error message.
pub fn to_ascii_host(text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.contains("://") || text.contains('/') {
        return Err("write the domain alone (example.cn), not a URL".to_owned());
    }
    if text.contains(':') {
        return Err("write the domain without a port".to_owned());
    }
    let ascii = idna::domain_to_ascii(text.trim_end_matches('.'))
        .map_err(|_| "is not a valid domain name (IDNA)".to_owned())?;
    if ascii.is_empty() || ascii.len() > 253 {
        return Err("is not a valid domain name (length)".to_owned());
    }
    for label in ascii.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(format!("has an invalid label {label:?}"));
        }
    }
    Ok(ascii)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    #[rstest]
    #[case::plain("example.cn", Ok("example.cn"))]
    #[case::upper_and_dot("Example.CN.", Ok("example.cn"))]
    #[case::idn("例子.中国", Ok("xn--fsqu00a.xn--fiqs8s"))]
    #[case::punycode_kept("xn--fsqu00a.xn--fiqs8s", Ok("xn--fsqu00a.xn--fiqs8s"))]
    #[case::fullwidth_dot("例子。中国", Ok("xn--fsqu00a.xn--fiqs8s"))]
    #[case::url("https://example.cn/", Err(()))]
    #[case::port("example.cn:8080", Err(()))]
    #[case::space_inside("exa mple.cn", Err(()))]
    #[case::empty_label("example..cn", Err(()))]
    #[case::leading_hyphen("-example.cn", Err(()))]
    fn ascii_hosts(#[case] input: &str, #[case] want: Result<&str, ()>) {
        assert_eq!(
            to_ascii_host(input).map_err(|_| ()),
            want.map(str::to_owned)
        );
    }

    #[rstest]
    #[case::v4("203.0.113.7", "203.0.113.7/32")]
    #[case::v4_cidr("203.0.113.7/24", "203.0.113.0/24")]
    #[case::v6("2001:db8::1", "2001:db8::1/128")]
    #[case::v6_cidr("2001:db8::/32", "2001:db8::/32")]
    fn ips_parse(#[case] input: &str, #[case] want: &str) {
        assert_eq!(parse_ip(input).unwrap().to_string(), want);
    }

    #[rstest]
    #[case::spaces("1.1.1.1 2.2.2.2", 2)]
    #[case::semicolons("1.1.1.1;2.2.2.2; 3.3.3.3", 3)]
    #[case::fullwidth_semicolon("1.1.1.1；2.2.2.2", 2)]
    #[case::empty("", 0)]
    fn lists_split(#[case] input: &str, #[case] n: usize) {
        assert_eq!(split_list(Some(input)).count(), n);
    }

    #[rstest]
    #[case::english("domain", Some(Field::Domain))]
    #[case::chinese_domain("域名", Some(Field::Domain))]
    #[case::website_name("网站名称", Some(Field::ServiceName))]
    #[case::service_number("服务备案号", Some(Field::IcpNumber))]
    #[case::filed_ip("备案IP", Some(Field::Ips))]
    #[case::bom_header("\u{feff}domain", Some(Field::Domain))]
    #[case::subject_type("subject_type", Some(Field::SubjectType))]
    #[case::subject_type_zh("主办单位性质", Some(Field::SubjectType))]
    #[case::subject_kind_zh("主体性质", Some(Field::SubjectType))]
    #[case::approvals("approvals", Some(Field::Approvals))]
    #[case::approvals_zh("前置审批", Some(Field::Approvals))]
    #[case::unknown("remark", None)]
    fn headers(#[case] header: &str, #[case] want: Option<Field>) {
        assert_eq!(Field::from_header(header), want);
    }

    #[test]
    fn missing_domain_is_an_error_with_its_line() {
        let err = RawRecord::default().validate(7).unwrap_err();
        assert_eq!(err.line, 7);
        assert!(err.reason.contains("domain"), "{}", err.reason);
    }

    #[rstest]
    #[case::subject_type(Field::SubjectType, "公司", "个人 (individual)")]
    #[case::approvals(Field::Approvals, "新闻 彩票", "网络游戏 (games)")]
    fn unknown_values_name_the_accepted_ones(
        #[case] field: Field,
        #[case] value: &str,
        #[case] accepted: &str,
    ) {
        let mut raw = RawRecord {
            domain: Some("a.cn".into()),
            ..RawRecord::default()
        };
        raw.set(field, value);
        let err = raw.validate(4).unwrap_err();
        assert_eq!(err.line, 4);
        assert!(err.reason.contains(accepted), "{}", err.reason);
    }

    #[test]
    fn subject_type_and_approvals_are_read() {
        let mut raw = RawRecord {
            domain: Some("a.cn".into()),
            ..RawRecord::default()
        };
        raw.set(Field::SubjectType, "individual");
        raw.set(Field::Approvals, "网络游戏；文化");
        let record = raw.validate(2).unwrap();
        assert_eq!(record.subject_type, Some(SubjectType::Individual));
        assert_eq!(record.approvals, [Topic::OnlineGames, Topic::Culture]);
    }

    #[test]
    fn bad_ip_names_the_value() {
        let raw = RawRecord {
            domain: Some("a.cn".into()),
            ips: Some("1.2.3.4 nope".into()),
            ..RawRecord::default()
        };
        let err = raw.validate(3).unwrap_err();
        assert!(err.reason.contains("nope"), "{}", err.reason);
        assert_eq!(err.domain.as_deref(), Some("a.cn"));
    }
}
