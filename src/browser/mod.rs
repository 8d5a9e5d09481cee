//! Owns Chromium: launching processes, the page pool, device emulation,
//! rendering and in-page extraction. Knows no rule: it reports facts
//! ([`crate::page::PageSnapshot`]) and whose fault a failure was.

pub mod error;
pub mod launch;
pub mod pool;

pub use error::{BrowserError, RenderError};
pub use launch::ChromeConfig;
pub use pool::BrowserPool;
