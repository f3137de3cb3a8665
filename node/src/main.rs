//! `supervm`: start a node, manage keys, build / deploy / invoke / simulate contracts,
//! and query transactions, blocks, events and accounts. Human output by default,
//! `--json` for scripts.

mod cli;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
