//! `supervm`: start a node, manage keys, build / deploy / invoke / simulate contracts,
//! and query transactions, blocks, events and accounts. Human output by default,
//! `--json` for scripts.

mod cli;

/// The node allocates per transaction on several threads (workers, RPC, commit);
/// mimalloc is the allocator every benchmark of this repository ran with, with the
/// settings of `supervm_node::allocator`.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    supervm_node::allocator::configure();
    let args = cli::parse().unwrap_or_else(|e| e.exit());
    let node = args.is_node();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", cli::error_text(&e));
            // (a client command's status says why it failed; a node that could not
            // start or stopped on an error exits 1)
            let status = if node { 1 } else { cli::exit_status(&e) as u8 };
            std::process::ExitCode::from(status)
        }
    }
}
