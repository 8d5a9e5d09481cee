//! Input: bytes → `Record`s (CSV, NDJSON, plain domain lists), as a stream.

pub mod record;

pub use record::{InputError, Record};
