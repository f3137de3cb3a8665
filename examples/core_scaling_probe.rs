//! How this machine's cores scale without SuperVM: the same work on one thread and on
//! two, for pure arithmetic and for random reads over an 8 MB array (larger than a
//! core's L2, within L3). The ceiling the parallel executor's speed-ups meet here.
//!
//! ```text
//! cargo run --release --example core_scaling_probe
//! ```

use std::time::Instant;

fn arithmetic(n: u64) -> u64 {
    let mut x = 1u64;
    for i in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(i ^ (x >> 13));
    }
    x
}

fn random_reads(n: usize) -> u64 {
    let v: Vec<u64> = (0..1u64 << 20).collect();
    let (mut s, mut j) = (0u64, 0usize);
    for _ in 0..n {
        j = (j.wrapping_mul(1103515245) + 12345) & ((1 << 20) - 1);
        s = s.wrapping_add(v[j]);
    }
    s
}

/// A named piece of work.
type Work = (&'static str, fn() -> u64);

#[allow(clippy::disallowed_methods)] // a benchmark times things
fn main() {
    let kinds: [Work; 2] = [
        ("arithmetic", || arithmetic(400_000_000)),
        ("random reads over 8 MB", || random_reads(60_000_000)),
    ];
    for (name, work) in kinds {
        let t = Instant::now();
        std::hint::black_box(work());
        let one = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let threads: Vec<_> = (0..2).map(|_| std::thread::spawn(work)).collect();
        for h in threads {
            std::hint::black_box(h.join().expect("worker"));
        }
        let two = t.elapsed().as_secs_f64();
        println!(
            "{name}: 1 thread {one:.2} s, 2 threads (twice the work) {two:.2} s: scaling {:.2}x",
            2.0 * one / two
        );
    }
}
