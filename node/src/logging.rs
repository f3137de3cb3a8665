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

/// Whether [`lifecycle`] lines go to stderr directly ([`lifecycle_to_stderr`]) rather
/// than to the log.
static LIFECYCLE_TO_STDERR: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Makes [`lifecycle`] print to stderr, with its time as the log's lines look, whatever
/// `RUST_LOG` filters out: `supervm node` does, so that an operator always learns where
/// the node listens and whether it stopped cleanly. A program embedding the node keeps
/// them in its own log (`tracing`, at `info`).
pub fn lifecycle_to_stderr() {
    LIFECYCLE_TO_STDERR.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// A line of the node's life: start, where it listens, restored transactions, stop.
pub fn lifecycle(msg: &str) {
    if !LIFECYCLE_TO_STDERR.load(std::sync::atomic::Ordering::Relaxed) {
        tracing::info!("{msg}");
        return;
    }
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
