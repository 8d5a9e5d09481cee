//! `BrowserPool`: N Chromium processes, each rendering several pages at once.

use std::time::Duration;

use super::{BrowserError, ChromeConfig, RenderError};
use crate::page::PageSnapshot;
use crate::targets::Target;

/// A pool of Chromium processes.
pub struct BrowserPool {}

impl BrowserPool {
    /// Start `browsers` Chromium processes.
    pub async fn launch(config: ChromeConfig, browsers: usize) -> Result<BrowserPool, BrowserError> {
        todo!("browser helper {config:?} {browsers}")
    }

    /// Render `url` as `target.device` within `budget` and extract its facts.
    pub async fn render(&self, target: &Target, url: &str, budget: Duration) -> Result<PageSnapshot, RenderError> {
        todo!("browser helper {target:?} {url} {budget:?}")
    }

    /// Close every browser and remove their profiles.
    pub async fn close(self) {}
}
