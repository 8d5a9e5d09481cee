//! `DeviceProfile`: what a page is told about the visitor's device — viewport,
//! pixel ratio, touch, user agent and client hints — for
//! [`Device::Desktop`] and [`Device::Mobile`] (SPEC §2 "The phone").

use chromiumoxide::cdp::browser_protocol::emulation::{
    ScreenOrientation, ScreenOrientationType, SetDeviceMetricsOverrideParams,
    SetTouchEmulationEnabledParams, SetUserAgentOverrideParams, UserAgentBrandVersion,
    UserAgentMetadata,
};

use crate::targets::Device;

/// `Accept-Language` and `navigator.languages`: a visitor in mainland China.
/// Chromium adds the `q` weights itself (`zh-CN,zh;q=0.9,en;q=0.8`).
const ACCEPT_LANGUAGE: &str = "zh-CN,zh,en";

/// What one Chromium reports about itself (`Browser.getVersion`), read once
/// per browser process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserVersion {
    /// The browser's own user agent, e.g. `… HeadlessChrome/156.0.0.0 …`.
    pub user_agent: String,
    /// The full version, e.g. `156.0.8078.108`.
    pub full_version: String,
    /// The major version, e.g. `156`.
    pub major: String,
}

impl BrowserVersion {
    /// Parse `Browser.getVersion`'s `product` (`HeadlessChrome/156.0.8078.108`)
    /// and `userAgent`.
    #[must_use]
    pub fn parse(product: &str, user_agent: &str) -> Self {
        let full_version = product
            .rsplit_once('/')
            .map_or(product, |(_, v)| v)
            .trim()
            .to_owned();
        let major = full_version
            .split('.')
            .next()
            .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
            .unwrap_or("140")
            .to_owned();
        BrowserVersion {
            user_agent: user_agent.to_owned(),
            full_version,
            major,
        }
    }
}

/// How a page is emulated: set on the page before navigation, so both
/// server-side user-agent sniffing and CSS media queries see it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceProfile {
    /// Which device this is.
    pub device: Device,
    /// Viewport width in CSS pixels.
    pub width: u32,
    /// Viewport height in CSS pixels.
    pub height: u32,
    /// Device pixel ratio.
    pub device_scale_factor: f64,
    /// Mobile emulation (meta viewport, overlay scrollbars, text autosizing).
    pub mobile: bool,
    /// Touch support (`navigator.maxTouchPoints`, `(pointer: coarse)`).
    pub touch: bool,
    /// The `User-Agent` header and `navigator.userAgent`.
    pub user_agent: String,
    /// `navigator.platform`.
    pub platform: String,
    /// Client hints platform (`Sec-CH-UA-Platform`).
    pub hints_platform: String,
    /// Client hints platform version.
    pub hints_platform_version: String,
    /// Major and full browser version for the client hints brands.
    pub version: BrowserVersion,
}

impl DeviceProfile {
    /// The profile of `device` on a browser reporting `version`.
    ///
    /// Desktop: 1366×768 at DPR 1, no touch, the browser's own user agent
    /// with `HeadlessChrome` replaced by `Chrome` (version reduced to
    /// `<major>.0.0.0` as real Chrome sends it). Mobile: a current Chrome
    /// on Android, 390×844 at DPR 3, touch, with a matching user agent.
    #[must_use]
    pub fn for_device(device: Device, version: &BrowserVersion) -> Self {
        match device {
            Device::Desktop => DeviceProfile {
                device,
                width: 1366,
                height: 768,
                device_scale_factor: 1.0,
                mobile: false,
                touch: false,
                // Real Chrome reports a reduced version (`Chrome/156.0.0.0`);
                // the headless shell reports its full one.
                user_agent: version
                    .user_agent
                    .replace("HeadlessChrome/", "Chrome/")
                    .replace(
                        &format!("Chrome/{}", version.full_version),
                        &format!("Chrome/{}.0.0.0", version.major),
                    ),
                platform: "Linux x86_64".to_owned(),
                hints_platform: "Linux".to_owned(),
                hints_platform_version: String::new(),
                version: version.clone(),
            },
            Device::Mobile => DeviceProfile {
                device,
                width: 390,
                height: 844,
                device_scale_factor: 3.0,
                mobile: true,
                touch: true,
                user_agent: format!(
                    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) \
                     Chrome/{}.0.0.0 Mobile Safari/537.36",
                    version.major
                ),
                platform: "Linux armv81".to_owned(),
                hints_platform: "Android".to_owned(),
                hints_platform_version: "10.0.0".to_owned(),
                version: version.clone(),
            },
        }
    }

    /// `Emulation.setDeviceMetricsOverride` for this profile.
    pub(crate) fn metrics(&self) -> SetDeviceMetricsOverrideParams {
        let (kind, angle) = if self.width > self.height {
            (ScreenOrientationType::LandscapePrimary, 90)
        } else {
            (ScreenOrientationType::PortraitPrimary, 0)
        };
        let mut params = SetDeviceMetricsOverrideParams::new(
            i64::from(self.width),
            i64::from(self.height),
            self.device_scale_factor,
            self.mobile,
        );
        params.screen_width = Some(i64::from(self.width));
        params.screen_height = Some(i64::from(self.height));
        params.screen_orientation = Some(ScreenOrientation::new(kind, angle));
        params
    }

    /// `Emulation.setTouchEmulationEnabled`, explicitly off for desktop.
    pub(crate) fn touch(&self) -> SetTouchEmulationEnabledParams {
        let mut params = SetTouchEmulationEnabledParams::new(self.touch);
        if self.touch {
            params.max_touch_points = Some(5);
        }
        params
    }

    /// `Emulation.setUserAgentOverride` with matching client hints, so the
    /// request carries `Sec-CH-UA-Mobile` and `navigator.userAgentData` agrees.
    pub(crate) fn user_agent_override(&self) -> SetUserAgentOverrideParams {
        let major = &self.version.major;
        let full = &self.version.full_version;
        let brand = |name: &str, v: &str| UserAgentBrandVersion::new(name, v);
        let metadata = UserAgentMetadata {
            brands: Some(vec![
                brand("Chromium", major),
                brand("Google Chrome", major),
                brand("Not.A/Brand", "99"),
            ]),
            full_version_list: Some(vec![
                brand("Chromium", full),
                brand("Google Chrome", full),
                brand("Not.A/Brand", "99.0.0.0"),
            ]),
            platform: self.hints_platform.clone(),
            platform_version: self.hints_platform_version.clone(),
            architecture: if self.mobile {
                String::new()
            } else {
                "x86".to_owned()
            },
            model: if self.mobile {
                "K".to_owned()
            } else {
                String::new()
            },
            mobile: self.mobile,
            bitness: Some(if self.mobile {
                String::new()
            } else {
                "64".to_owned()
            }),
            wow64: Some(false),
            form_factors: Some(vec![
                if self.mobile { "Mobile" } else { "Desktop" }.to_owned()
            ]),
        };
        let mut params = SetUserAgentOverrideParams::new(self.user_agent.clone());
        params.accept_language = Some(ACCEPT_LANGUAGE.to_owned());
        params.platform = Some(self.platform.clone());
        params.user_agent_metadata = Some(metadata);
        params
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version() -> BrowserVersion {
        BrowserVersion::parse(
            "HeadlessChrome/156.0.8078.108",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36",
        )
    }

    #[test]
    fn parses_versions() {
        let v = version();
        assert_eq!(v.full_version, "156.0.8078.108");
        assert_eq!(v.major, "156");
    }

    #[test]
    fn desktop_uses_the_browsers_agent_without_headless() {
        let p = DeviceProfile::for_device(Device::Desktop, &version());
        assert_eq!(
            p.user_agent,
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36"
        );
        assert_eq!(
            (p.width, p.height, p.mobile, p.touch),
            (1366, 768, false, false)
        );
        assert_eq!(p.touch().max_touch_points, None);
        assert!(!p.touch().enabled);
    }

    #[test]
    fn desktop_agent_version_is_reduced_like_real_chrome() {
        let v = BrowserVersion::parse(
            "HeadlessChrome/156.0.8078.108",
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.8078.108 Safari/537.36",
        );
        let p = DeviceProfile::for_device(Device::Desktop, &v);
        assert!(
            p.user_agent.contains(" Chrome/156.0.0.0 Safari"),
            "{}",
            p.user_agent
        );
    }

    #[test]
    fn mobile_is_android_chrome_of_the_same_major() {
        let p = DeviceProfile::for_device(Device::Mobile, &version());
        assert_eq!(
            p.user_agent,
            "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Mobile Safari/537.36"
        );
        assert_eq!(
            (p.width, p.height, p.mobile, p.touch),
            (390, 844, true, true)
        );
        assert!((p.device_scale_factor - 3.0).abs() < f64::EPSILON);
        let ua = p.user_agent_override();
        let meta = ua.user_agent_metadata.unwrap();
        assert!(meta.mobile);
        assert_eq!(meta.platform, "Android");
        assert_eq!(meta.brands.unwrap()[0].version, "156");
    }
}
