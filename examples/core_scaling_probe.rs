//! How this machine's cores scale without a scheduler: the same work on one thread and
//! on two, for pure arithmetic, for random reads over an 8 MB array (larger than a
//! core's L2, within L3), and for the sequential executor running the
//! `high_contention_bench` low-contention block (10,000 transfers over 10,000
//! accounts), each thread its own block over its own copy of the state, first with one
//! VM shared by both threads (as the parallel executor's workers share one), then with
//! a VM each. The ceiling the parallel executor's speed-ups meet here.
//!
//! ```text
//! cargo run --release --example core_scaling_probe
//! ```

/// The allocator of every benchmark binary.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::Instant;

use supervm_benches::contention::{Pattern, setup};

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

/// Committed transfers per second of the sequential executor: one block on one thread
/// while the other waits, then one block on each of two threads at once (started
/// together; each over its own state copy, made before the start; `vms` gives each
/// thread's VM). Both threads live through all rounds, so their instances stay warm.
/// The median of `rounds` of each.
#[allow(clippy::disallowed_methods)] // a benchmark times things
fn executor_scaling(
    w: &supervm_benches::transfer::TransferWorkload,
    vms: [&supervm_vm::Vm; 2],
    rounds: usize,
) -> (f64, f64) {
    let n = w.txs.len() as f64;
    let run = |vm: &supervm_vm::Vm, mut state: supervm_vm::InMemoryState| {
        let t = Instant::now();
        let receipts = vm
            .execute_block(&mut state, &w.block, &w.txs)
            .expect("sequential");
        let span = (t, Instant::now());
        assert!(
            receipts.iter().all(|r| r.outcome.is_success()),
            "every transfer commits"
        );
        span
    };
    let barrier = std::sync::Barrier::new(2);
    let thread = |id: usize| {
        let (mut one, mut spans) = (vec![], vec![]);
        run(vms[id], w.state.clone()); // warm
        for _ in 0..rounds {
            if id == 0 {
                let (t0, t1) = run(vms[0], w.state.clone());
                one.push(n / (t1 - t0).as_secs_f64());
            }
            let state = w.state.clone();
            barrier.wait();
            spans.push(run(vms[id], state));
            barrier.wait();
        }
        (one, spans)
    };
    let ((one, a), (_, b)) = std::thread::scope(|s| {
        // (on a thread of less than this stack the VM runs each call on a fresh stack
        // segment, mapped and unmapped per call)
        let h = std::thread::Builder::new()
            .stack_size(supervm_vm::EXECUTION_STACK)
            .spawn_scoped(s, || thread(1))
            .expect("second thread");
        let a = thread(0);
        (a, h.join().expect("second thread"))
    });
    let two = a
        .iter()
        .zip(&b)
        .map(|(x, y)| 2.0 * n / (x.1.max(y.1) - x.0.min(y.0)).as_secs_f64())
        .collect();
    (supervm_benches::median(one), supervm_benches::median(two))
}

#[allow(clippy::disallowed_methods)] // a benchmark times things
fn main() {
    supervm_node::allocator::configure();
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
    let w = setup(10_000, 10_000, Pattern::Uniform, 7);
    let other = setup(10_000, 10_000, Pattern::Uniform, 7).vm;
    for (name, vms) in [
        ("one VM shared", [&w.vm, &w.vm]),
        ("a VM each", [&w.vm, &other]),
    ] {
        let (one, two) = executor_scaling(&w, vms, 15);
        println!(
            "sequential executor, low-contention block, {name}: 1 thread {one:.0} tx/s, 2 threads (a block each) {two:.0} tx/s: scaling {:.2}x",
            two / one
        );
    }
}
