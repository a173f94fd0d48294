//! How a run ends: one `vidu: error: …` line on stderr and an exit code that says what kind of
//! failure it was.

use std::process::ExitCode;

use vidu::ErrorKind;

use crate::interrupt;

/// An exit code, once its message is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exit(pub u8);

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.0)
    }
}

/// Ctrl-C: the task goes on (the shells' code for a process stopped by SIGINT).
pub const INTERRUPTED: u8 = 130;

/// Prints `msg` as the run's error and returns `code`.
pub fn fail(code: u8, msg: &str) -> Exit {
    crate::progress::note(&format!("vidu: error: {msg}"));
    Exit(code)
}

/// The exit code for `e`.
pub fn code(e: &vidu::Error) -> u8 {
    match e.kind() {
        _ if interrupt::interrupted() => INTERRUPTED,
        // Invalid input found after the submit: the task exists, so this is no usage error.
        ErrorKind::InvalidInput if e.task_id().is_none() => 2,
        ErrorKind::TaskFailed => 3,
        ErrorKind::Timeout => 4,
        _ => 1,
    }
}

/// Prints `e` and returns its exit code.
pub fn error(e: &vidu::Error) -> Exit {
    with_resume_hint(e, |_| None)
}

/// Prints `e`, followed, when its task can be picked up again, by `resume(task_id)`: the
/// command that does it.
pub fn with_resume_hint(e: &vidu::Error, resume: impl Fn(&str) -> Option<String>) -> Exit {
    let mut message = e.to_string();
    if let vidu::Error::InvalidInput {
        field: "api_key", ..
    } = e
    {
        message.push_str("; pass --api-key or set VIDU_API_KEY");
    }
    // Nothing paid for is lost: say how to pick the task up again.
    if let (
        Some(id),
        ErrorKind::Timeout
        | ErrorKind::InvalidInput
        | ErrorKind::Cancelled
        | ErrorKind::Transport
        | ErrorKind::Download
        | ErrorKind::Io
        | ErrorKind::Protocol,
    ) = (e.task_id(), e.kind())
    {
        if let Some(command) = resume(id) {
            message.push_str(&format!("; to resume: {command}"));
        }
    }
    fail(code(e), &message)
}

/// `arg` quoted for a POSIX shell when it needs it, so a printed command can be pasted.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b));
    if plain {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_leaves_plain_words_and_quotes_the_rest() {
        assert_eq!(shell_quote("out/cat.mp4"), "out/cat.mp4");
        assert_eq!(shell_quote("my cat.mp4"), "'my cat.mp4'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }
}
