//! Integration tests of the VM, with contracts written in WAT so that every
//! edge of the ABI and of the resource limits can be reached directly.

mod abi_doc;
mod adversarial;
mod basics;
mod charges;
mod host_fns;
mod recycle;
mod recycle_fuzz;
mod util;
