//! The SuperVM contract SDK.
//!
//! A contract is a `no_std` `cdylib` crate built for `wasm32v1-none`. Its state lives in
//! storage ([`storage::Item`], [`storage::Map`]), its entry points are the `pub fn`s of one
//! `#[contract] impl`, and it talks to the chain through [`env`](mod@env):
//!
//! ```ignore
//! #![no_std]
//! extern crate alloc;
//! use supervm_sdk::prelude::*;
//!
//! const COUNT: Item<u64> = Item::new(b"count");
//!
//! pub struct Counter;
//!
//! #[contract]
//! impl Counter {
//!     pub fn increment() -> u64 {
//!         let v = COUNT.get_or(0) + 1;
//!         COUNT.set(&v);
//!         v
//!     }
//! }
//! ```
//!
//! On `wasm32` the crate also provides the contract's panic handler (a trap, no formatting)
//! and its global allocator (a bump allocator: every call runs in a fresh instance, so memory
//! is never freed). On other targets it compiles, but every host function panics: test
//! contracts with `supervm-testkit`.
//!
//! Reserved revert codes: [`BAD_INPUT`], [`BAD_RESULT`], [`BAD_STORAGE`].
#![no_std]

extern crate alloc;
// Lets the macros name `::supervm_sdk` from inside this crate too.
#[allow(unused_extern_crates)]
extern crate self as supervm_sdk;

pub mod env;
pub mod storage;
pub mod sys;

#[cfg(target_arch = "wasm32")]
mod rt;

pub use supervm_abi::{Address, Decode, Encode, codec};
pub use supervm_sdk_macros::{Decode, Encode, contract, contract_error, event, init};

/// Revert codes the SDK reserves: an entry point's arguments that do not decode
/// (`BAD_INPUT`), [`env::call_typed`]'s callee return data that does not decode
/// (`BAD_RESULT`), a stored value that does not decode as its type (`BAD_STORAGE`).
pub use supervm_abi::{BAD_INPUT, BAD_RESULT, BAD_STORAGE};
/// How a [`try_call`](env::try_call) failed ([`env::CallFailure::status`]).
pub use supervm_abi::{STATUS_OUT_OF_GAS, STATUS_REVERT, STATUS_TRAP};

/// An error an entry point can return as `Err(e)`: the call is reverted with
/// [`code`](ContractError::code) and [`data`](ContractError::data).
///
/// Usually derived with [`#[contract_error]`](macro@contract_error). Codes `0xFFFF_FFFD` and
/// above are reserved by the SDK.
pub trait ContractError {
    /// The revert code.
    fn code(&self) -> u32;
    /// The revert data (empty by default).
    fn data(&self) -> alloc::vec::Vec<u8> {
        alloc::vec::Vec::new()
    }
}

/// An event a contract can emit. Usually derived with [`#[event]`](macro@event).
pub trait Event {
    /// Emits the event (topic 0 is the event's name, then its `#[topic]` fields).
    fn emit(&self);
}

/// Everything a contract usually needs: `use supervm_sdk::prelude::*;`.
pub mod prelude {
    pub use crate::env;
    pub use crate::storage::{self, Item, Map};
    pub use crate::{
        Address, BAD_INPUT, BAD_RESULT, BAD_STORAGE, ContractError, Decode, Encode, Event, codec,
        contract, contract_error, event, init,
    };
    pub use alloc::string::String;
    pub use alloc::vec::Vec;
}

/// Support code for the macros' expansions. Not a stable API.
#[doc(hidden)]
pub mod __private {
    use crate::{BAD_INPUT, ContractError, Decode, Encode, env, sys};

    pub use alloc::vec::Vec;
    pub use supervm_abi::ABI_VERSION;

    /// Decodes the call input as `T` (the tuple of the entry point's parameters), or reverts
    /// with [`BAD_INPUT`].
    #[inline]
    pub fn decode_input<T: Decode>() -> T {
        match supervm_abi::codec::decode_all(&env::input()) {
            Ok(v) => v,
            Err(_) => env::revert(BAD_INPUT, &[]),
        }
    }

    /// Nothing at run time: `#[contract]` names each parameter's type here, so that a
    /// type the codec cannot decode is reported at the parameter.
    #[inline(always)]
    pub fn parameter<T: Decode>() {}

    /// Nothing at run time: `#[contract]` names the type of each entry point's result
    /// here, so that a type the codec cannot encode is reported at the signature.
    #[inline(always)]
    pub fn result<T: Encode + ?Sized>() {}

    /// Reverts with [`BAD_INPUT`] unless the call input is empty (for entry points without
    /// parameters; cheaper than reading the input).
    #[inline]
    pub fn expect_no_input() {
        // SAFETY: no pointers.
        if unsafe { sys::input_len() } != 0 {
            env::revert(BAD_INPUT, &[]);
        }
    }

    /// Sets the return data to the encoding of `v`.
    #[inline]
    pub fn set_return<T: Encode + ?Sized>(v: &T) {
        env::set_return(&v.encode());
    }

    /// Reverts with the error's code and data.
    #[inline]
    pub fn revert_with<E: ContractError + ?Sized>(e: &E) -> ! {
        env::revert(e.code(), &e.data())
    }
}
