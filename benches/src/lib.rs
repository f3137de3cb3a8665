//! Benchmark workloads as library functions: the criterion benches in
//! `benches/benches/` and the runnable examples in `examples/` call the same
//! code, so a number in `docs/benchmarks.md` can be reproduced either way.
//!
//! Every throughput figure counts only transactions that ran the real wasm
//! contract and committed (outcome `Success`, writes applied).

pub mod bare;
pub mod contention;
pub mod storage;
pub mod transfer;
pub mod wasm_shapes;

/// The value of command-line flag `name` (`--name VALUE`) parsed as a number, or
/// `default`. Panics with a clear message on a malformed value.
pub fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, got {v:?}"))
        })
        .unwrap_or(default)
}

/// The median of `v` (the upper one of an even count). Panics on NaN or an empty `v`.
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    v[v.len() / 2]
}

/// CPU time this process has used so far (user and system, every thread: the
/// executor's workers, a committer, RocksDB's background threads), in seconds. The
/// difference around a timed region, divided by its wall time, is how many cores it
/// kept busy on average.
pub fn process_cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given and reads nothing else.
    let (rc, u) = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        (libc::getrusage(libc::RUSAGE_SELF, &mut u), u)
    };
    assert_eq!(rc, 0, "getrusage: {}", std::io::Error::last_os_error());
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(u.ru_utime) + secs(u.ru_stime)
}
