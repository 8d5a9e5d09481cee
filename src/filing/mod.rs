//! The 备案 vocabulary: ICP numbers, 公安 numbers, filing-site links,
//! subject types, pre-approval topics and text normalisation. Pure; shared
//! by `input` (parsing filed values) and `rules` (recognising what pages
//! show). Nothing here knows a browser.

pub mod gongan;
pub mod icp;
pub mod links;
pub mod normalize;
pub mod subject;
pub mod topics;

pub use gongan::{GonganNumber, GonganParseError};
pub use icp::{IcpKind, IcpNumber, IcpParseError};
pub use links::{is_link, MiitLink, MpsLink, WrongAddress};
pub use normalize::normalize;
pub use subject::SubjectType;
pub use topics::Topic;

/// A number recognised inside a longer text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found<T> {
    /// The number, parsed.
    pub number: T,
    /// Byte range of the match in the original (un-normalised) text.
    pub range: std::ops::Range<usize>,
}
