//! The `beian-audit` binary: parse flags, set up logging to stderr, run.

use std::process::ExitCode;

use clap::Parser;

use beian_audit::cli::{Cli, Command, LogFormat};
use beian_audit::config::{DiffConfig, ReportConfig, ScanConfig};
use beian_audit::output::summary::LogWriter;
use beian_audit::ExitStatus;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() {
                ExitStatus::Fatal as u8
            } else {
                0
            };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let log_format = match &cli.command {
        Command::Scan(args) => args.log_format,
        Command::Report(_) | Command::Diff(_) => LogFormat::Text,
    };
    init_logging(log_format);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| {
            rt.block_on(async {
                match cli.command {
                    Command::Scan(args) => {
                        let config = ScanConfig::from_args(args)?;
                        Ok(beian_audit::scan::run(config).await?)
                    }
                    Command::Report(args) => {
                        Ok(beian_audit::report::run(&ReportConfig::from_args(args))?)
                    }
                    Command::Diff(args) => {
                        Ok(beian_audit::diff::run(&DiffConfig::from_args(args))?)
                    }
                }
            })
        });
    match result {
        Ok(status) => ExitCode::from(status as u8),
        Err(e) => {
            report_fatal(&e, log_format);
            ExitCode::from(ExitStatus::Fatal as u8)
        }
    }
}

/// One line on stderr that says what went wrong and what to do (a JSON
/// log event under `--log-format json`, so every stderr line stays JSON).
fn report_fatal(e: &anyhow::Error, format: LogFormat) {
    use std::io::Write;
    match format {
        LogFormat::Text => {
            let _ = writeln!(std::io::stderr().lock(), "beian-audit: error: {e:#}");
        }
        LogFormat::Json => tracing::error!(error = format!("{e:#}"), "beian-audit: fatal error"),
    }
}

/// Logs go to stderr, never stdout (stdout is data). `RUST_LOG` filters;
/// chromiumoxide is silenced by default: it logs every CDP event it cannot
/// parse (newer Chromium sends many) and the socket reset at shutdown.
/// `--log-format json` writes one JSON object a line (tracing-subscriber's
/// json formatter); the writer keeps log lines off the progress bar.
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new("beian_audit=info,chromiumoxide=off,warn")
    });
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(LogWriter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
