//! Output: `RecordReport` → one JSON line, written by the one
//! [`NdjsonWriter`].
//!
//! # Wire format
//!
//! SPEC.md §4 is the source of truth. Each line is a [`RecordReport`]:
//! `domain` (as the input wrote it), `id` (passed through), `line` (the
//! record's input line, the key `--resume` uses), `verdict`
//! (`pass`/`fail`/`error`), `findings` (each with `code`, `rule`,
//! `severity`, `target`, `message`, `message_zh`, `evidence`), `targets`
//! (one [`TargetReport`] per host × device) and `elapsed_ms`. Beyond SPEC,
//! a target that `--scheme auto` opened over http after https failed
//! carries `https_error`, why https failed; other targets omit it. A
//! finding's `evidence.fix` (SPEC §6) is the HTML that fixes it, on the
//! number and link findings of a record whose number is known.
//! U+2028, U+2029 and U+0085 in strings are written as `\u` escapes, so a
//! line is one record also for readers that split on Unicode line breaks.

pub mod evidence;
pub mod resume;
pub mod summary;
pub mod wire;
pub mod writer;

pub use wire::{LinkReport, RecordReport, TargetReport};
pub use writer::NdjsonWriter;
