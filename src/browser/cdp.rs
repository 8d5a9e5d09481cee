//! Talking to a page over CDP under deadlines: a command and its answer
//! ([`command`], [`unless`]), any future ([`timed`]), a script's value
//! ([`evaluate`]), and what it means when they fail. Every other module of
//! `browser` sends its commands through these.

use chromiumoxide::cdp::js_protocol::runtime::EvaluateParams;
use chromiumoxide::{Command, Page};
use tokio::time::Instant;

use super::{BrowserError, RenderError};

/// A command that did not answer in time, or answered with an error.
#[derive(Debug)]
pub(super) enum CommandError {
    /// No answer before the deadline.
    Timeout,
    /// An error answer, as text.
    Cdp(String),
}

impl CommandError {
    /// The crawler's error for `step` failing this way.
    pub(super) fn crawler(self, step: &str) -> RenderError {
        match self {
            CommandError::Timeout => BrowserError::protocol(step, "timed out").into(),
            CommandError::Cdp(e) => BrowserError::protocol(step, e).into(),
        }
    }
}

/// Run `fut` until `deadline`; `None` when it did not finish.
pub(super) async fn timed<F: std::future::Future>(fut: F, deadline: Instant) -> Option<F::Output> {
    tokio::time::timeout_at(deadline, fut).await.ok()
}

/// [`command`], unless `done` says the page has it already.
pub(super) async fn unless<T: Command>(
    done: bool,
    page: &Page,
    cmd: T,
    deadline: Instant,
) -> Result<Option<T::Response>, CommandError> {
    if done {
        return Ok(None);
    }
    command(page, cmd, deadline).await.map(Some)
}

/// Send `cmd` to `page` and wait for its reply until `deadline`.
pub(super) async fn command<T: Command>(
    page: &Page,
    cmd: T,
    deadline: Instant,
) -> Result<T::Response, CommandError> {
    match timed(page.execute(cmd), deadline).await {
        Some(Ok(reply)) => Ok(reply.result),
        Some(Err(e)) => Err(CommandError::Cdp(e.to_string())),
        None => Err(CommandError::Timeout),
    }
}

pub(super) enum EvalError {
    /// No answer before the deadline.
    Timeout,
    /// An error answer, as text.
    Cdp(String),
    /// The script threw; its description.
    Exception(String),
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EvalError::Timeout => f.write_str("timed out"),
            EvalError::Cdp(e) => write!(f, "protocol: {e}"),
            EvalError::Exception(e) => write!(f, "exception: {e}"),
        }
    }
}

/// `Runtime.evaluate` by value; the value, or why there is none.
pub(super) async fn evaluate(
    page: &Page,
    mut params: EvaluateParams,
    deadline: Instant,
) -> Result<serde_json::Value, EvalError> {
    params.return_by_value = Some(true);
    params.silent = Some(true);
    let reply = match command(page, params, deadline).await {
        Ok(reply) => reply,
        Err(CommandError::Timeout) => return Err(EvalError::Timeout),
        Err(CommandError::Cdp(e)) => return Err(EvalError::Cdp(e)),
    };
    if let Some(exception) = reply.exception_details {
        let text = exception
            .exception
            .and_then(|e| e.description)
            .unwrap_or(exception.text);
        return Err(EvalError::Exception(text));
    }
    Ok(reply.result.value.unwrap_or(serde_json::Value::Null))
}
