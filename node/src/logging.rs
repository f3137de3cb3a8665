//! Log output: `tracing` events to stderr, filtered by `RUST_LOG`
//! (`tracing_subscriber::EnvFilter` syntax, e.g. `RUST_LOG=supervm_node=debug`).
//!
//! At `info` (the node's default) the node logs start, stop, halts and anything
//! slow enough to matter: a block that took over [`SLOW`] to build or a commit
//! batch that took over [`SLOW`] to become durable. At `debug` it logs every block
//! and every commit batch with its timings.

use std::time::Duration;

/// Blocks and commits slower than this are logged at `warn`.
pub const SLOW: Duration = Duration::from_millis(500);

/// Prints a line of the node's life (start, where it listens, restored transactions,
/// stop) to stderr with its time, as the log's lines look, whatever `RUST_LOG` filters
/// out: an operator always learns where the node listens and whether it stopped cleanly.
pub fn lifecycle(msg: &str) {
    use tracing_subscriber::fmt::time::FormatTime;
    let mut time = String::new();
    let _ = tracing_subscriber::fmt::time::SystemTime
        .format_time(&mut tracing_subscriber::fmt::format::Writer::new(&mut time));
    eprintln!("{time}  INFO {msg}");
}

/// Installs the stderr subscriber, `RUST_LOG` or else `default` as the filter.
/// Does nothing when a subscriber is already installed (tests, embedding programs).
pub fn init(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // (no colour escapes in a log file or a journal)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}
