//! `fixture-farm`: a small HTTP/1.1 server (plain and over TLS, on one port)
//! that plays many test websites at once, chosen by the `Host` header. The
//! integration tests, the README's demo and the benchmark point
//! `beian-audit scan --resolve '*=127.0.0.1:PORT'` at it.
//!
//! ```text
//! fixture-farm --root DIR [--port N] [--latency-ms N] [--log FILE] [--exit-on-eof]
//! ```
//!
//! On start it prints exactly one line, `listening on 127.0.0.1:PORT`, to
//! stdout (port 0, the default, picks a free port), then serves until killed.
//!
//! # How a connection is answered
//!
//! A connection whose first byte opens a TLS handshake (`0x16`) is https,
//! any other is plain HTTP; so `--resolve '*=127.0.0.1:PORT'` sends both
//! schemes to the one port. https presents a certificate the farm made for
//! the host the client names (SNI): right name and dates, but self-signed,
//! so a browser that checks certificates refuses it
//! (`net::ERR_CERT_AUTHORITY_INVALID`). A site whose `_site.json` has
//! `"tls": "none"` has no https: its handshakes are cut off (the connection
//! closes). Inside TLS, requests are answered as any other. See the `tls`
//! module.
//!
//! # Where things are
//!
//! - `http`: the HTTP/1.1 of one connection (requests read, parsed,
//!   answered), for any [`http::Responder`];
//! - `site`: how a request is answered: the site directories, `_site.json`
//!   routes, files, the phone variant (its module doc is the reference);
//! - `tls`: the self-signed https.
//!
//! The HTTP/1.1 subset is hand-written but strict: headers are read up to
//! the blank line (64 KiB at most), request bodies are read by
//! `Content-Length` and discarded, `Connection: close`/`keep-alive` and the
//! HTTP/1.0 default are honoured, `HEAD` gets the headers of `GET`, and
//! malformed requests get 400 and a closed connection.

mod http;
mod site;
mod tls;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use beian_audit::output::writer::escape_line_separators;
use clap::Parser;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use http::{serve_connection, Plan, Request, Responder, IDLE_TIMEOUT};
use site::{Answer, Sites};

/// A Host-header HTTP/1.1 server that plays the fixture websites.
#[derive(Debug, Parser)]
#[command(name = "fixture-farm", version, about)]
struct Args {
    /// The directory holding one sub-directory per site, named by host.
    #[arg(long, value_name = "DIR")]
    root: PathBuf,
    /// The port to listen on, on 127.0.0.1; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Extra delay before every answer, in milliseconds.
    #[arg(long, value_name = "N", default_value_t = 0)]
    latency_ms: u64,
    /// Append one JSON line per request to this file.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
    /// Exit when stdin reaches end of file.
    #[arg(long)]
    exit_on_eof: bool,
}

/// What every connection task shares.
struct Farm {
    /// The fixture sites.
    sites: Sites,
    /// Added before every answer.
    latency: Duration,
    /// When the farm started (`t_ms` in the log).
    start: Instant,
    /// The request log, when `--log` was given.
    log: Option<Mutex<std::fs::File>>,
    /// The self-signed certificates of https connections.
    issuer: tls::Issuer,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let _ = writeln!(std::io::stderr().lock(), "fixture-farm: error: {err}");
            ExitCode::from(2)
        }
    }
}

/// Bind, announce the port, and serve until killed (or stdin closes).
async fn run(args: Args) -> Result<(), String> {
    if !args.root.is_dir() {
        return Err(format!("--root {} is not a directory", args.root.display()));
    }
    let log = match &args.log {
        Some(path) => Some(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("cannot open --log {}: {e}", path.display()))?,
        )),
        None => None,
    };
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on 127.0.0.1:{port}")
            .and_then(|()| out.flush())
            .map_err(|e| format!("cannot write to stdout: {e}"))?;
    }
    let farm = Arc::new(Farm {
        sites: Sites { root: args.root },
        latency: Duration::from_millis(args.latency_ms),
        start: Instant::now(),
        log,
        issuer: tls::Issuer::new()?,
    });
    let serve = async {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let farm = Arc::clone(&farm);
                    tokio::spawn(async move {
                        // A connection's I/O errors end that connection only.
                        let _ = serve_socket(&farm, stream).await;
                    });
                }
                Err(err) => {
                    let _ = writeln!(std::io::stderr().lock(), "fixture-farm: accept: {err}");
                    // Out of descriptors or similar: give the system a moment.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    };
    if args.exit_on_eof {
        tokio::select! {
            () = serve => Ok(()),
            () = stdin_closed() => Ok(()),
        }
    } else {
        serve.await;
        Ok(())
    }
}

/// Resolves when stdin reaches end of file (or fails).
async fn stdin_closed() {
    let mut stdin = tokio::io::stdin();
    let mut buf = [0u8; 256];
    while let Ok(n) = stdin.read(&mut buf).await {
        if n == 0 {
            break;
        }
    }
}

/// Serve one accepted connection: https when its first byte opens a TLS
/// handshake (see the `tls` module), plain HTTP otherwise.
async fn serve_socket(farm: &Farm, stream: TcpStream) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut first = [0u8; 1];
    match tokio::time::timeout(IDLE_TIMEOUT, stream.peek(&mut first)).await {
        Err(_) | Ok(Ok(0)) => Ok(()),
        Ok(Err(err)) => Err(err),
        Ok(Ok(_)) if first[0] == tls::HANDSHAKE => {
            let handshake = tls::accept(&farm.issuer, stream, |host| farm.sites.tls_mode(host));
            match tokio::time::timeout(IDLE_TIMEOUT, handshake).await {
                Ok(Ok(Some(stream))) => serve_connection(farm, stream, "https").await,
                Err(_) | Ok(Ok(None)) => Ok(()),
                Ok(Err(err)) => Err(err),
            }
        }
        Ok(Ok(_)) => serve_connection(farm, stream, "http").await,
    }
}

impl Responder for Farm {
    /// The site's answer, logged, and delayed by `--latency-ms`.
    fn respond(&self, request: &Request, scheme: &str) -> Plan {
        let answer = self.sites.answer(request);
        self.log_request(request, &answer, scheme);
        match answer.plan {
            Plan::Respond(mut response) => {
                response.delay += self.latency;
                Plan::Respond(response)
            }
            Plan::Hang => Plan::Hang,
        }
    }
}

impl Farm {
    /// Append the request to `--log`, if any.
    fn log_request(&self, request: &Request, answer: &Answer, scheme: &str) {
        let Some(log) = &self.log else { return };
        let status = match &answer.plan {
            Plan::Respond(response) => Some(response.status),
            Plan::Hang => None,
        };
        let line = serde_json::json!({
            "t_ms": u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX),
            "scheme": scheme,
            "method": request.method,
            "host": answer.host,
            "path": answer.path,
            "status": status,
            "ua": request.header("user-agent"),
            "sec_ch_ua_mobile": request.header("sec-ch-ua-mobile"),
        });
        // A header may carry U+2028 and the like; escaped, the entry stays
        // one line for any reader, as the scan's own output does.
        let mut line = escape_line_separators(line.to_string().as_bytes()).into_owned();
        line.push(b'\n');
        // One write_all per line on an O_APPEND file keeps lines whole.
        if let Ok(mut file) = log.lock() {
            let _ = file.write_all(&line);
        }
    }
}
