//! How the farm answers a request: which site, which file, which route.
//!
//! - **Site.** The `Host` header (port and trailing dot stripped, lower case)
//!   names the site directory `DIR/<host>`. A `www.X` host with no
//!   `DIR/www.X` is served from `DIR/X`; when both exist, `DIR/www.X` comes
//!   first and `DIR/X` fills in the files and routes it lacks. An unknown
//!   host gets a 404 page saying "no such site".
//! - **File.** `/` is `index.html`, and any path ending in `/` gets
//!   `index.html` appended. The content type comes from the extension
//!   (html with `charset=utf-8`, js, css, json, png, svg, woff2, txt …).
//! - **Phone variant.** When the `User-Agent` contains `Mobile` and
//!   `<site>/m/<path>` exists, that file is served instead (server-side UA
//!   sniffing, as many Chinese sites do).
//! - **Routes.** `<site>/_site.json` may change the answer for some paths:
//!
//! ```json
//! {
//!   "about": "what this site is for (ignored)",
//!   "tls": "self-signed",
//!   "routes": {
//!     "/": {"host": "x.test", "status": 301, "headers": {"Location": "http://www.x.test/"}},
//!     "/slow.png": {"hang": true},
//!     "/data.json": {"delay_ms": 300},
//!     "/drip.html": {"file": "page.html", "drip": {"bytes": 64, "interval_ms": 200}},
//!     "*": {"status": 500, "body": "<h1>oops</h1>"}
//!   }
//! }
//! ```
//!
//!   A route's key is the decoded path without its query, or `*` for every
//!   path no other key names. Its value is one route or an array of routes;
//!   the first whose `host` (when given) equals the request's host applies,
//!   which is how apex and `www.` differ inside one site directory. Fields,
//!   all optional:
//!   - `host`: apply only to requests for this host;
//!   - `status`: the status code (default 200);
//!   - `headers`: extra response headers (replacing defaults of the same name);
//!   - `body` (inline text) or `file` (a path in the site directory): the
//!     body; without either a 2xx route serves the requested file and any
//!     other status a short page naming the status;
//!   - `content_type`: overrides the type taken from the extension;
//!   - `delay_ms`: wait before answering;
//!   - `hang`: never answer; hold the connection until the client closes it;
//!   - `drip`: `true` or `{"bytes": N, "interval_ms": M}`: send the body N
//!     bytes at a time (default 64) with M ms between pieces (default 200),
//!     for at most 60 s, then the rest at once;
//!   - `repeat`: `{"text": S, "times": N, "at": M}`: S repeated N times, in
//!     place of the first M in the body, or appended without `at` (a 20 MB
//!     page without a 20 MB file).
//!
//! `tls` is `self-signed` (the default) or `none`, as above.
//!
//! `--latency-ms` delays every answer (the benchmark's simulated network).
//! `--log FILE` appends one JSON line per request: `{"t_ms", "scheme",
//! "method", "host", "path", "status", "ua", "sec_ch_ua_mobile"}` (`t_ms`
//! from start, `scheme` `http` or `https`, `status` null for a hanging
//! route). `--exit-on-eof` makes the farm exit when its stdin closes, so
//! that a test harness that dies takes it along.
//!

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::http::{
    decode_path, default_headers, reason, set_header, split_target, DripSpec, Plan, Request,
    Response,
};
use crate::tls::TlsMode;

/// The fixture sites under one root directory.
pub(crate) struct Sites {
    /// The sites' directory.
    pub(crate) root: PathBuf,
}

/// What the farm will do with one request.
pub(crate) struct Answer {
    /// The host the request named, normalised (empty when absent).
    pub(crate) host: String,
    /// The decoded path, or the raw target when it could not be decoded.
    pub(crate) path: String,
    /// Respond or hang.
    pub(crate) plan: Plan,
}

impl Sites {
    /// Decide the answer to `request`.
    pub(crate) fn answer(&self, request: &Request) -> Answer {
        let (host, raw_path) = split_target(request);
        let Some(path) = decode_path(&raw_path) else {
            return Answer {
                host,
                path: raw_path,
                plan: Plan::Respond(Response::page(400, "malformed request path")),
            };
        };
        let plan = if !matches!(request.method.as_str(), "GET" | "HEAD") {
            let mut response = Response::page(405, "only GET and HEAD are served here");
            response.headers.push(("Allow".into(), "GET, HEAD".into()));
            Plan::Respond(response)
        } else if let Some(layers) = self.site_layers(&host) {
            let mobile = request
                .header("user-agent")
                .is_some_and(|ua| ua.contains("Mobile"));
            site_answer(&layers, &host, &path, mobile).unwrap_or_else(|err| {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "fixture-farm: {host}{path}: {err}"
                );
                Plan::Respond(Response::page(500, &err))
            })
        } else {
            Plan::Respond(Response::page(404, "no such site"))
        };
        Answer { host, path, plan }
    }

    /// The site directories serving `host`, most specific first; `None`
    /// for an unknown host.
    fn site_layers(&self, host: &str) -> Option<Vec<PathBuf>> {
        let valid = !host.is_empty()
            && !host.starts_with('.')
            && !host.contains("..")
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if !valid {
            return None;
        }
        let mut layers = Vec::new();
        let own = self.root.join(host);
        if own.is_dir() {
            layers.push(own);
        }
        if let Some(apex) = host.strip_prefix("www.") {
            let apex = self.root.join(apex);
            if apex.is_dir() {
                layers.push(apex);
            }
        }
        (!layers.is_empty()).then_some(layers)
    }

    /// How `host`'s site answers a TLS handshake (`_site.json` `tls`, most
    /// specific layer first); an unknown host or an unreadable
    /// `_site.json` gets the default.
    pub(crate) fn tls_mode(&self, host: &str) -> TlsMode {
        self.site_layers(host)
            .and_then(|layers| load_configs(&layers).ok())
            .and_then(|configs| configs.iter().find_map(|c| c.tls))
            .unwrap_or_default()
    }
}

/// `_site.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SiteConfig {
    /// Free text for the reader; ignored.
    #[serde(default)]
    #[expect(dead_code, reason = "documentation field in fixture files")]
    about: Option<String>,
    /// Path (or `*`) → route(s).
    #[serde(default)]
    routes: BTreeMap<String, RouteEntry>,
    /// How the site answers https (default: a self-signed certificate).
    #[serde(default)]
    tls: Option<TlsMode>,
}

/// One route or several alternatives for one path.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RouteEntry {
    /// A single route.
    One(Route),
    /// Alternatives; the first whose `host` matches applies.
    Many(Vec<Route>),
}

/// How one path is answered; see the module docs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Route {
    /// Only for requests naming this host.
    host: Option<String>,
    /// Status code.
    status: Option<u16>,
    /// Extra headers.
    #[serde(default)]
    headers: BTreeMap<String, String>,
    /// Inline body.
    body: Option<String>,
    /// Body from this file of the site.
    file: Option<String>,
    /// Content type override.
    content_type: Option<String>,
    /// Wait before answering.
    #[serde(default)]
    delay_ms: u64,
    /// Never answer.
    #[serde(default)]
    hang: bool,
    /// Send the body slowly.
    drip: Option<Drip>,
    /// Padding appended to the body.
    repeat: Option<Repeat>,
}

/// `repeat: {"text": S, "times": N, "at": M}`: S N times in place of the
/// first M in the body, or appended to it.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Repeat {
    /// The text repeated.
    text: String,
    /// How many times.
    times: usize,
    /// Where: the padding replaces the first occurrence of this marker
    /// (a footer after 20 MB of content); appended when absent.
    #[serde(default)]
    at: Option<String>,
}

/// The largest body `repeat` may build.
const REPEAT_MAX: usize = 64 * 1024 * 1024;

impl Repeat {
    /// Append the padding to `body`, refusing bodies over `REPEAT_MAX`.
    fn apply(&self, body: &mut Vec<u8>) -> Result<(), String> {
        let size = self
            .text
            .len()
            .checked_mul(self.times)
            .and_then(|n| n.checked_add(body.len()))
            .filter(|&n| n <= REPEAT_MAX)
            .ok_or_else(|| format!("repeat makes a body over {REPEAT_MAX} bytes"))?;
        let (head, tail) = match &self.at {
            Some(marker) if marker.is_empty() => return Err("repeat: empty marker".into()),
            Some(marker) => {
                let at = body
                    .windows(marker.len())
                    .position(|w| w == marker.as_bytes())
                    .ok_or_else(|| format!("repeat: marker {marker:?} not in the body"))?;
                let tail = body.split_off(at);
                (at, tail[marker.len()..].to_vec())
            }
            None => (body.len(), Vec::new()),
        };
        body.reserve(size - head);
        for _ in 0..self.times {
            body.extend_from_slice(self.text.as_bytes());
        }
        body.extend_from_slice(&tail);
        Ok(())
    }
}

/// `drip: true` or `drip: {"bytes": N, "interval_ms": M}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Drip {
    /// `true` for the defaults, `false` for none.
    Flag(bool),
    /// Explicit sizes.
    Spec {
        /// Bytes per piece.
        #[serde(default = "default_drip_bytes")]
        bytes: usize,
        /// Pause between pieces.
        #[serde(default = "default_drip_interval")]
        interval_ms: u64,
    },
}

/// Default drip piece size.
fn default_drip_bytes() -> usize {
    64
}

/// Default drip pause.
fn default_drip_interval() -> u64 {
    200
}

impl Drip {
    /// The effective drip, if any.
    fn spec(&self) -> Option<DripSpec> {
        match *self {
            Drip::Flag(false) => None,
            Drip::Flag(true) => Some(DripSpec {
                bytes: default_drip_bytes(),
                interval: Duration::from_millis(default_drip_interval()),
            }),
            Drip::Spec { bytes, interval_ms } => Some(DripSpec {
                bytes: bytes.max(1),
                interval: Duration::from_millis(interval_ms),
            }),
        }
    }
}

/// Load `_site.json` of each layer (most specific first).
fn load_configs(layers: &[PathBuf]) -> Result<Vec<SiteConfig>, String> {
    layers
        .iter()
        .map(|dir| {
            let path = dir.join("_site.json");
            match std::fs::read(&path) {
                Ok(bytes) => serde_json::from_slice(&bytes)
                    .map_err(|e| format!("bad {}: {e}", path.display())),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(SiteConfig::default()),
                Err(e) => Err(format!("cannot read {}: {e}", path.display())),
            }
        })
        .collect()
}

/// The route for `path` on `host`: exact keys of every layer first, then `*`.
fn find_route<'c>(configs: &'c [SiteConfig], host: &str, path: &str) -> Option<&'c Route> {
    let applies = |route: &&Route| {
        route
            .host
            .as_deref()
            .is_none_or(|h| h.eq_ignore_ascii_case(host))
    };
    [path, "*"].into_iter().find_map(|key| {
        configs
            .iter()
            .find_map(|config| match config.routes.get(key)? {
                RouteEntry::One(route) => Some(route).filter(applies),
                RouteEntry::Many(routes) => routes.iter().find(applies),
            })
    })
}

/// The answer for a known site.
fn site_answer(layers: &[PathBuf], host: &str, path: &str, mobile: bool) -> Result<Plan, String> {
    let configs = load_configs(layers)?;
    let Some(route) = find_route(&configs, host, path) else {
        return Ok(Plan::Respond(static_file(layers, path, mobile)?));
    };
    if route.hang {
        return Ok(Plan::Hang);
    }
    let status = route.status.unwrap_or(200);
    if !(100..=999).contains(&status) {
        return Err(format!("route status {status} is not a status code"));
    }
    let mut response = if let Some(body) = &route.body {
        let mut response = Response::page(status, "");
        response.body = body.clone().into_bytes();
        response
    } else if let Some(file) = &route.file {
        let path = format!("/{}", file.trim_start_matches('/'));
        let found = layers
            .iter()
            .map(|dir| dir.join(&path[1..]))
            .find(|p| p.is_file());
        let Some(found) = found else {
            return Err(format!("route file {file} not found"));
        };
        file_response(&found)?
    } else if (200..300).contains(&status) {
        static_file(layers, path, mobile)?
    } else {
        Response::page(status, reason(status))
    };
    response.status = status;
    if let Some(content_type) = &route.content_type {
        set_header(&mut response.headers, "Content-Type", content_type);
    }
    for (name, value) in &route.headers {
        set_header(&mut response.headers, name, value);
    }
    response.delay = Duration::from_millis(route.delay_ms);
    response.drip = route.drip.as_ref().and_then(Drip::spec);
    if let Some(repeat) = &route.repeat {
        repeat.apply(&mut response.body)?;
    }
    Ok(Plan::Respond(response))
}

/// The file for `path` through the layers (phone variant first), or 404.
fn static_file(layers: &[PathBuf], path: &str, mobile: bool) -> Result<Response, String> {
    let mut relative = path.trim_start_matches('/').to_owned();
    if relative.is_empty() || relative.ends_with('/') {
        relative.push_str("index.html");
    }
    if relative == "_site.json" {
        return Ok(Response::page(404, "not found"));
    }
    for dir in layers {
        let mut candidates = Vec::with_capacity(2);
        if mobile {
            candidates.push(dir.join("m").join(&relative));
        }
        candidates.push(dir.join(&relative));
        for candidate in candidates {
            if candidate.is_file() {
                return file_response(&candidate);
            }
            if candidate.is_dir() && candidate.join("index.html").is_file() {
                return file_response(&candidate.join("index.html"));
            }
        }
    }
    Ok(Response::page(404, "not found"))
}

/// A 200 response with the file's bytes and type.
fn file_response(path: &Path) -> Result<Response, String> {
    let body = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(Response {
        status: 200,
        headers: default_headers(content_type(path)),
        body,
        delay: Duration::ZERO,
        drip: None,
    })
}

/// The content type for a file name's extension.
fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeat_appends_padding_and_refuses_huge_bodies() {
        let route: Route =
            serde_json::from_str(r#"{"body": "<p>x</p>", "repeat": {"text": "ab", "times": 3}}"#)
                .expect("parses");
        let mut body = b"<p>x</p>".to_vec();
        route
            .repeat
            .as_ref()
            .expect("repeat")
            .apply(&mut body)
            .expect("fits");
        assert_eq!(body, b"<p>x</p>ababab");
        let at = |marker: &str| Repeat {
            text: "ab".into(),
            times: 2,
            at: Some(marker.into()),
        };
        let mut body = b"<p>x</p><!--here--><b>end</b>".to_vec();
        at("<!--here-->").apply(&mut body).expect("fits");
        assert_eq!(body, b"<p>x</p>abab<b>end</b>", "in place of the marker");
        assert!(at("<!--absent-->")
            .apply(&mut b"<p>x</p>".to_vec())
            .is_err());
        assert!(at("").apply(&mut b"<p>x</p>".to_vec()).is_err());
        let huge = Repeat {
            text: "0123456789".into(),
            times: REPEAT_MAX,
            at: None,
        };
        assert!(huge.apply(&mut Vec::new()).is_err());
        assert!(serde_json::from_str::<Route>(r#"{"repeat": {"text": "a"}}"#).is_err());
    }

    #[test]
    fn site_answer_builds_a_repeated_body() {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("_site.json"),
            r#"{"routes": {"/": {"body": "<b>head</b>", "repeat": {"text": "<!--pad-->", "times": 1000}}}}"#,
        )
        .expect("write _site.json");
        let Plan::Respond(response) =
            site_answer(&[dir.path().to_owned()], "x.test", "/", false).expect("answers")
        else {
            panic!("the route hangs");
        };
        assert_eq!(response.body.len(), "<b>head</b>".len() + 10 * 1000);
        assert!(response.body.starts_with(b"<b>head</b><!--pad-->"));
    }
}
