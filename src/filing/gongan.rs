//! 公安备案号 (public-security filing numbers): `京公网安备 11010502030143号`.

use super::Found;

/// A public-security filing number. Two are equal when their 14 digits are
/// (the province character often differs from the ICP one).
#[derive(Debug, Clone)]
pub struct GonganNumber {
    // filing helper: fields private.
}

/// Why a filed 公安 number could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a 公安备案号: {input:?} ({reason})")]
pub struct GonganParseError {
    /// The text that was given.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl PartialEq for GonganNumber {
    fn eq(&self, other: &Self) -> bool {
        self.digits() == other.digits()
    }
}

impl Eq for GonganNumber {}

impl GonganNumber {
    /// Parse a whole string as one 公安 number, with ICP-like tolerance.
    pub fn parse(text: &str) -> Result<GonganNumber, GonganParseError> {
        todo!("{text}")
    }

    /// Every 公安 number shown in `text`, in order, with its byte range.
    pub fn find_all(text: &str) -> Vec<Found<GonganNumber>> {
        todo!("{text}")
    }

    /// The 14 digits that identify it.
    pub fn digits(&self) -> &str {
        todo!()
    }
}
