//! `vidu_log_set_callback`: the library's log records, handed to a C function.
//!
//! Rust programs read these records through the `log` facade with any logger; a C program has
//! no logger, so this module is one: it forwards each record (level, target, message — the
//! same text a Rust logger gets) to the callback the program set.

use std::ffi::{c_char, c_void, CString};
use std::sync::{OnceLock, RwLock};

use super::boundary::call;
use super::{vidu_error, vidu_result};

/// A log level: `VIDU_LOG_*`. A record is passed on when its level is at most the level set.
pub type vidu_log_level = u32;
/// Nothing is logged.
pub const VIDU_LOG_OFF: vidu_log_level = 0;
/// Something failed.
pub const VIDU_LOG_ERROR: vidu_log_level = 1;
/// Something the user may need to act on (a job uncertain, a poll error streak, a URL refreshed).
pub const VIDU_LOG_WARN: vidu_log_level = 2;
/// A decision worth knowing: submitted, terminal state, written, journal replayed.
pub const VIDU_LOG_INFO: vidu_log_level = 3;
/// Every retry, backoff, submit classification, task-list search and download resume.
pub const VIDU_LOG_DEBUG: vidu_log_level = 4;
/// Also the HTTP library's own records (request heads, with the key replaced by a placeholder).
pub const VIDU_LOG_TRACE: vidu_log_level = 5;

/// Receives one log record: its level (`VIDU_LOG_*`), its target (`"vidu"`, `"vidu::download"`,
/// or the HTTP library's `"ureq…"`) and its message, one line without a newline. Both strings
/// are NUL-terminated and valid only during the call. It runs on the thread that emitted the
/// record (the thread that called the library, or a batch's download worker), possibly on
/// several threads at once, so it must be thread-safe; it must not call back into the library's
/// logging functions.
pub type vidu_log_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: vidu_log_level,
        target: *const c_char,
        message: *const c_char,
    ),
>;

struct Sink {
    callback: unsafe extern "C" fn(*mut c_void, vidu_log_level, *const c_char, *const c_char),
    userdata: *mut c_void,
}

// SAFETY: the header makes the callback thread-safe and its userdata shareable between threads
// for as long as it is set; the library only passes the pointer back.
unsafe impl Send for Sink {}
// SAFETY: as above.
unsafe impl Sync for Sink {}

static SINK: RwLock<Option<Sink>> = RwLock::new(None);
/// Whether `log::set_logger` took our logger: asked once, the answer never changes.
static OURS: OnceLock<bool> = OnceLock::new();
static LOGGER: CLogger = CLogger;

struct CLogger;

impl log::Log for CLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let Ok(sink) = SINK.read() else { return };
        let Some(sink) = sink.as_ref() else { return };
        // An interior NUL cannot cross into C: it is shown as U+FFFD instead.
        let text = |s: String| CString::new(s.replace('\0', "\u{fffd}")).unwrap_or_default();
        let target = text(record.target().to_owned());
        let message = text(record.args().to_string());
        // SAFETY: the callback's contract is in the header (`vidu_log_fn`).
        unsafe {
            (sink.callback)(
                sink.userdata,
                level_number(record.level()),
                target.as_ptr(),
                message.as_ptr(),
            )
        };
    }

    fn flush(&self) {}
}

fn level_number(level: log::Level) -> vidu_log_level {
    match level {
        log::Level::Error => VIDU_LOG_ERROR,
        log::Level::Warn => VIDU_LOG_WARN,
        log::Level::Info => VIDU_LOG_INFO,
        log::Level::Debug => VIDU_LOG_DEBUG,
        log::Level::Trace => VIDU_LOG_TRACE,
    }
}

fn level_filter(level: vidu_log_level) -> Option<log::LevelFilter> {
    Some(match level {
        VIDU_LOG_OFF => log::LevelFilter::Off,
        VIDU_LOG_ERROR => log::LevelFilter::Error,
        VIDU_LOG_WARN => log::LevelFilter::Warn,
        VIDU_LOG_INFO => log::LevelFilter::Info,
        VIDU_LOG_DEBUG => log::LevelFilter::Debug,
        VIDU_LOG_TRACE => log::LevelFilter::Trace,
        _ => return None,
    })
}

/// Sends the library's log records up to `max_level` (`VIDU_LOG_*`) to `callback`, for the whole
/// process; off until this is called. Calling it again replaces the callback and the level;
/// `callback` NULL (or `VIDU_LOG_OFF`) turns logging off. `userdata` is passed back on every
/// call and must stay valid until the callback is replaced or turned off.
///
/// No record contains the API key. Nothing is logged per status poll at `VIDU_LOG_INFO` or
/// above, so a large batch does not flood the log.
///
/// Fails with `VIDU_ERROR_INVALID_INPUT` for a level that is not a `VIDU_LOG_*` value, and when
/// another logger of the Rust `log` crate already owns the process (a Rust program that links
/// this library and installed its own logger: use that one).
#[no_mangle]
pub unsafe extern "C" fn vidu_log_set_callback(
    callback: vidu_log_fn,
    userdata: *mut c_void,
    max_level: vidu_log_level,
    err: *mut *mut vidu_error,
) -> vidu_result {
    call(err, || {
        let filter = level_filter(max_level).ok_or_else(|| {
            vidu_error::invalid_argument(
                "max_level",
                format!(
                    "{max_level} is not a VIDU_LOG_* level (VIDU_LOG_OFF 0 to VIDU_LOG_TRACE 5)"
                ),
            )
        })?;
        if !*OURS.get_or_init(|| log::set_logger(&LOGGER).is_ok()) {
            return Err(vidu_error::invalid_argument(
                "callback",
                "another logger of the Rust log crate owns this process; its records go there",
            ));
        }
        let sink = callback.map(|callback| Sink { callback, userdata });
        let filter = if sink.is_some() {
            filter
        } else {
            log::LevelFilter::Off
        };
        *SINK
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = sink;
        log::set_max_level(filter);
        Ok(())
    })
}
