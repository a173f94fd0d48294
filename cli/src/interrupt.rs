//! Ctrl-C: the first one fires a [`CancelToken`], so the wait stops at once and the command can
//! print the task id and how to resume; a second one exits at once.

use std::sync::atomic::{AtomicU32, Ordering};

use vidu::CancelToken;

static SIGNALS: AtomicU32 = AtomicU32::new(0);

/// Fires `token` on the first Ctrl-C (SIGINT, or the console's Ctrl-C on Windows).
pub fn cancel_on_ctrl_c(token: &CancelToken) {
    let token = token.clone();
    // ctrlc runs the handler on a thread of its own, so it may do anything.
    let installed = ctrlc::set_handler(move || {
        if SIGNALS.fetch_add(1, Ordering::SeqCst) > 0 {
            std::process::exit(i32::from(crate::report::INTERRUPTED));
        }
        token.cancel();
    });
    if let Err(e) = installed {
        log::warn!(target: "vidu_cli", "Ctrl-C will stop the process at once: {e}");
    }
}

/// True once Ctrl-C was pressed.
pub fn interrupted() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}
