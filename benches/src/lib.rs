//! What the benchmark programs share: the process's own CPU time and memory.

/// User + system CPU time of this process so far, in milliseconds.
pub fn cpu_ms() -> f64 {
    let (user, sys) = cpu_secs();
    (user + sys) * 1000.0
}

/// User and system CPU time of this process so far, in seconds (`getrusage`).
pub fn cpu_secs() -> (f64, f64) {
    // SAFETY: getrusage writes into the struct we pass; zeroed is a valid rusage.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF and a valid pointer.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_utime), secs(usage.ru_stime))
}

/// A `kB` line of `/proc/self/status` (`VmRSS`, `VmHWM`), 0 when absent.
pub fn proc_status_kb(key: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
