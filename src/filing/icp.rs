//! ICP numbers (ICP备 filing numbers and licence forms): parsing and
//! recognition in page text.

use super::Found;

/// A parsed ICP filing or licence number, in canonical form.
///
/// `Display` gives the canonical spelling (`京ICP备12345678号-1`,
/// `京ICP证030173号-1`, `粤B2-20090059-5`); serde uses that string.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IcpNumber {
    // filing helper: fields are private; see methods.
}

/// Why a filed ICP number could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an ICP number: {input:?} ({reason})")]
pub struct IcpParseError {
    /// The text that was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl IcpNumber {
    /// Parse a whole string as one ICP number (the form a record files),
    /// with every tolerance of SPEC §1 (spaces, full-width, dash styles,
    /// lower case, prefixes like `备案号：`).
    pub fn parse(text: &str) -> Result<IcpNumber, IcpParseError> {
        todo!("{text}")
    }

    /// Every ICP number shown in `text`, in order, with its byte range.
    pub fn find_all(text: &str) -> Vec<Found<IcpNumber>> {
        todo!("{text}")
    }

    /// The subject (主体) number: this number without its `-n` service suffix.
    pub fn subject(&self) -> IcpNumber {
        todo!()
    }

    /// Whether this is a service number (has a `-n` suffix).
    pub fn is_service(&self) -> bool {
        todo!()
    }

    /// Whether this is a licence-form number (`…ICP证…`, `…B2-…`).
    pub fn is_licence(&self) -> bool {
        todo!()
    }

    /// The region prefix as written canonically: one province character
    /// (`京`, `川` …) or `合字`.
    pub fn region(&self) -> &str {
        todo!()
    }
}

impl std::fmt::Display for IcpNumber {
    fn fmt(&self, _f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        todo!()
    }
}
