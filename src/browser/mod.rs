//! Owns Chromium; knows no rule.
//!
//! It turns a [`crate::targets::Target`] into a [`crate::page::PageSnapshot`]
//! of plain facts — texts, hrefs, visibility, position — or says whose
//! fault it is that there is none ([`RenderError`]). Every page's
//! connections go through the network guard ([`crate::guard`]). It never
//! recognises an ICP number and never judges a page: `filing` and `rules`
//! do that. By job:
//!
//! - the processes: `launch` (which Chromium, its flags, our own spawn),
//!   `process` (the libc calls), `instance` (one running browser: its
//!   connection, death and shutdown);
//! - the pages: `pool` (browsers in slots, leases, relaunch), `recycle`
//!   (when a worn browser is replaced), `tab` (one page kept for a record's
//!   renders, each a first visit);
//! - one render: `render` (emulate, navigate, the verdict), `tracker` (what
//!   the page's `DevTools` events said), `settle` (waiting for the page, and
//!   revealing its footer), `extract` (extract.js in every frame a visitor
//!   sees), `guard_view` (what the network guard saw of it), `screenshot`
//!   (`--evidence`), `device` (desktop and phone emulation);
//! - `cdp`: commands under deadlines, which all of them send through;
//! - `error`: our fault and the site's, as a render reports them.

mod cdp;
pub mod device;
pub mod error;
mod extract;
mod guard_view;
mod instance;
pub mod launch;
pub mod pool;
pub mod process;
pub mod recycle;
mod render;
mod screenshot;
mod settle;
pub mod tab;
mod tracker;

pub use device::{BrowserVersion, DeviceProfile};
pub use error::{BrowserError, RenderError};
pub use launch::{ChromeConfig, ResolveRule};
pub use pool::BrowserPool;
pub use recycle::RecyclePolicy;
pub use tab::{RenderOptions, Rendered, Tab};
