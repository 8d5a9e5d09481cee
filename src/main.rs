//! The `beian-audit` binary: parse flags, set up logging to stderr, run.

use std::process::ExitCode;

use clap::Parser;

use beian_audit::cli::{Cli, Command};
use beian_audit::config::ScanConfig;
use beian_audit::ExitStatus;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version are not errors.
            let code = if e.use_stderr() { ExitStatus::Fatal as u8 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging();
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
                    Command::Report(args) => Ok(beian_audit::report::run(&args)?),
                }
            })
        });
    match result {
        Ok(status) => ExitCode::from(status as u8),
        Err(e) => {
            report_fatal(&e);
            ExitCode::from(ExitStatus::Fatal as u8)
        }
    }
}

/// One line on stderr that says what went wrong and what to do.
fn report_fatal(e: &anyhow::Error) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "beian-audit: error: {e:#}");
}

/// Logs go to stderr, never stdout (stdout is data). `RUST_LOG` filters;
/// chromiumoxide is silenced by default: it logs every CDP event it cannot
/// parse (newer Chromium sends many) and the socket reset at shutdown.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("beian_audit=info,chromiumoxide=off,warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}
