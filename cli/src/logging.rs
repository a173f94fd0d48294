//! Log records on stderr: none by default, the library's `info` records with `-v`, `debug`
//! with `-vv`, `trace` with `-vvv`. `RUST_LOG`, when set, decides instead (env_logger's syntax,
//! e.g. `RUST_LOG=vidu=debug,ureq=info`).

use std::io::Write;

use log::LevelFilter;

/// env_logger's output, routed through [`crate::progress::write_log`] so records print above
/// the progress bar instead of through it.
struct AboveTheBar;

impl Write for AboveTheBar {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        crate::progress::write_log(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn init(verbose: u8) {
    let mut builder = env_logger::Builder::new();
    let level = match verbose {
        0 => LevelFilter::Off,
        1 => LevelFilter::Info,
        2 => LevelFilter::Debug,
        _ => LevelFilter::Trace,
    };
    // This crate's records and the library's; ureq's only through RUST_LOG.
    builder
        .filter_module("vidu", level)
        .filter_module("vidu_cli", level);
    if let Ok(spec) = std::env::var("RUST_LOG") {
        builder.parse_filters(&spec);
    }
    builder
        .format(|buf, record| {
            writeln!(
                buf,
                "vidu: {} {}: {}",
                record.level(),
                record.target(),
                record.args()
            )
        })
        .target(env_logger::Target::Pipe(Box::new(AboveTheBar)))
        .init();
}
