//! Ctrl-C for the example CLIs, with no dependency: the first SIGINT fires a [`CancelToken`], so
//! the wait stops at once and the CLI can print the task id and how to resume; a second SIGINT
//! exits at once.
//!
//! A signal handler may only call async-signal-safe functions, so it writes one byte to a pipe
//! (the self-pipe trick) and a watcher thread fires the token.

use std::ffi::c_int;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use vidu::CancelToken;

const SIGINT: c_int = 2;
/// The exit code of a process stopped by SIGINT, as shells report it.
pub const EXIT_INTERRUPTED: u8 = 130;

static PIPE_WRITE_END: AtomicI32 = AtomicI32::new(-1);
static SIGNALS: AtomicU32 = AtomicU32::new(0);

extern "C" {
    fn pipe(fds: *mut c_int) -> c_int;
    fn write(fd: c_int, buf: *const u8, count: usize) -> isize;
    fn read(fd: c_int, buf: *mut u8, count: usize) -> isize;
    // glibc's and the BSDs' signal() keep the handler installed and restart interrupted calls.
    fn signal(signum: c_int, handler: extern "C" fn(c_int)) -> usize;
    fn _exit(status: c_int) -> !;
}

extern "C" fn on_sigint(_: c_int) {
    if SIGNALS.fetch_add(1, Ordering::SeqCst) > 0 {
        // SAFETY: _exit is async-signal-safe; the user pressed Ctrl-C twice.
        unsafe { _exit(c_int::from(EXIT_INTERRUPTED)) }
    }
    let fd = PIPE_WRITE_END.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: write is async-signal-safe and the buffer is a static byte.
        unsafe { write(fd, b"!".as_ptr(), 1) };
    }
}

/// Fires `token` on the first Ctrl-C. Returns false when the hook could not be installed.
pub fn cancel_on_ctrl_c(token: &CancelToken) -> bool {
    let mut fds: [c_int; 2] = [-1, -1];
    // SAFETY: `fds` has room for the two descriptors pipe() writes.
    if unsafe { pipe(fds.as_mut_ptr()) } != 0 {
        return false;
    }
    PIPE_WRITE_END.store(fds[1], Ordering::SeqCst);
    let token = token.clone();
    std::thread::spawn(move || {
        let mut byte = 0u8;
        loop {
            // SAFETY: reads one byte into a local.
            match unsafe { read(fds[0], &mut byte, 1) } {
                1 => return token.cancel(),
                n if n < 0
                    && std::io::Error::last_os_error().kind()
                        == std::io::ErrorKind::Interrupted => {}
                _ => return,
            }
        }
    });
    // SAFETY: on_sigint only touches atomics and calls async-signal-safe functions.
    unsafe { signal(SIGINT, on_sigint) };
    true
}

/// True once Ctrl-C was pressed.
pub fn interrupted() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}
