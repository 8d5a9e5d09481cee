//! `--evidence`: a picture of the bottom of the rendered page, taken while
//! it is still open, after extraction.

use std::time::Duration;

use chromiumoxide::Page;
use tokio::time::Instant;

use super::cdp::command;
use super::device::DeviceProfile;

/// Longest a `--evidence` screenshot may take (on top of the target's budget:
/// it is taken after extraction, only when asked for).
const SCREENSHOT_TIMEOUT: Duration = Duration::from_secs(5);

/// A PNG of the bottom of the rendered page — the last viewport-height of
/// the document, where the filing number must be — at one image pixel per
/// CSS pixel. `None` (logged) when it cannot be taken: evidence never turns
/// a render into a failure. Runs no script in the page.
pub(super) async fn screenshot_bottom(page: &Page, profile: &DeviceProfile) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use chromiumoxide::cdp::browser_protocol::page::{
        CaptureScreenshotFormat, CaptureScreenshotParams, GetLayoutMetricsParams, Viewport,
    };
    let end = Instant::now() + SCREENSHOT_TIMEOUT;
    let metrics = match command(page, GetLayoutMetricsParams::default(), end).await {
        Ok(metrics) => metrics,
        Err(e) => {
            tracing::debug!(error = ?e, "layout metrics for the screenshot failed");
            return None;
        }
    };
    let content = &metrics.css_content_size;
    let viewport = &metrics.css_layout_viewport;
    #[expect(clippy::cast_precision_loss, reason = "CSS pixel sizes")]
    let (view_width, view_height) = (viewport.client_width as f64, viewport.client_height as f64);
    let width = view_width.max(1.0);
    let height = view_height.min(content.height).max(1.0);
    let params = CaptureScreenshotParams {
        format: Some(CaptureScreenshotFormat::Png),
        clip: Some(Viewport {
            x: 0.0,
            y: (content.height - height).max(0.0),
            width,
            height,
            scale: 1.0 / profile.device_scale_factor.max(1.0),
        }),
        capture_beyond_viewport: Some(true),
        from_surface: Some(true),
        ..CaptureScreenshotParams::default()
    };
    let shot = match command(page, params, end).await {
        Ok(shot) => shot,
        Err(e) => {
            tracing::debug!(error = ?e, "screenshot failed");
            return None;
        }
    };
    let data: &str = shot.data.as_ref();
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .inspect_err(|e| tracing::debug!(error = %e, "screenshot is not base64"))
        .ok()
}
