//! Owns Chromium; knows no rule.
//!
//! This module owns the browser processes (`launch`), the pool that hands
//! out pages (`pool`) and when it replaces a worn browser (`recycle`), device emulation (`device`), rendering one target
//! (`render`), what the page's `DevTools` events said (`tracker`), what
//! the network guard saw of it (`guard_view`) and the in-page fact extraction
//! (`extract.js`). Every page's connections go
//! through the network guard ([`crate::guard`]). It turns a
//! [`crate::targets::Target`] into a [`crate::page::PageSnapshot`] of plain
//! facts — texts, hrefs, visibility, position — or says whose fault it is
//! that there is none ([`RenderError`]). It never recognises an ICP number
//! and never judges a page: `filing` and `rules` do that.

pub mod device;
pub mod error;
mod guard_view;
pub mod launch;
pub mod pool;
pub mod process;
pub mod recycle;
mod render;
mod tracker;

pub use device::{BrowserVersion, DeviceProfile};
pub use error::{BrowserError, RenderError};
pub use launch::{ChromeConfig, ResolveRule};
pub use pool::{BrowserPool, RenderOptions, Rendered, Tab};
pub use recycle::RecyclePolicy;
pub(crate) use render::same_url;
