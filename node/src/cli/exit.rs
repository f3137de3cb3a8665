//! Exit statuses: a script tells why a client command failed without reading its
//! message. 0 is success; clap's own usage errors exit 2, as [`Exit::Input`] does.

/// The exit statuses, for `supervm --help`.
pub const EXIT_HELP: &str = "Exit status of the client commands: 0 success; 1 the transaction \
committed, or the simulated call ran, with an outcome other than success; 2 refused (by the \
CLI before anything was sent, or by the node as invalid parameters): arguments, keys, files, \
usage; 3 not on chain (yet): pending, dropped, unknown, or may still commit, or no such \
block or height yet; 4 the node was unreachable or answered with another error (a \
submission it refused for another reason, a height it no longer keeps). `supervm node` \
exits 2 on a malformed command line, else 1 when it cannot start or stops on an error.";

/// Why a client command failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// 1: the transaction committed, or the simulated call ran, with an outcome other
    /// than success (revert, out of gas, trap, invalid).
    Failed = 1,
    /// 2: refused before anything was sent: the command line, its arguments, a key or
    /// a file (also what the CLI checks with the node first: a taken contract address,
    /// code that is not stored, a recipient that could never spend), or parameters the
    /// node answered are invalid (-32602).
    Input = 2,
    /// 3: not on chain (yet): the transaction is pending, was dropped, is unknown, or
    /// may have been admitted before the connection failed; the block, or the height
    /// (-32030 above the latest), does not exist yet.
    NotCommitted = 3,
    /// 4: the node could not be reached, or answered with an error (a refused
    /// submission included).
    Node = 4,
}

/// An error that says which [`Exit`] status it means (its message says it for people).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Coded {
    exit: Exit,
    message: String,
}

/// An error exiting with `exit`.
pub fn coded(exit: Exit, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Coded {
        exit,
        message: message.into(),
    })
}

/// The exit status of a client command that failed with `e`: the first [`Coded`] cause
/// decides; else a client error from the node ([`Exit::Node`]: JSON-RPC errors and
/// transport failures); else [`Exit::Input`] (everything the CLI checks itself).
pub fn exit_status(e: &anyhow::Error) -> Exit {
    for cause in e.chain() {
        if let Some(c) = cause.downcast_ref::<Coded>() {
            return c.exit;
        }
        if let Some(c) = cause.downcast_ref::<supervm_client::Error>() {
            return match c {
                // (the node found the arguments invalid: a malformed hash or cursor, a
                // page size out of range)
                supervm_client::Error::Rpc { code: -32602, .. } => Exit::Input,
                // (a height not reached yet, as for a block that does not exist; one below
                // what the node keeps is gone for good: the node's refusal)
                supervm_client::Error::Rpc {
                    code: -32030,
                    data: Some(d),
                    ..
                } if d["asked"].as_u64() > d["latest"].as_u64() => Exit::NotCommitted,
                supervm_client::Error::Rpc { .. } | supervm_client::Error::Transport(_) => {
                    Exit::Node
                }
                _ => Exit::Input,
            };
        }
    }
    Exit::Input
}
