//! The macros expand and compile on the host (where exports and custom sections are
//! compiled out and host functions panic).
#![allow(missing_docs)]

use supervm_sdk::prelude::*;

#[contract_error]
#[derive(Debug)]
pub enum MyError {
    Bad = 1,
    Worse = 0xFFFF_0000,
}

#[event]
pub struct Moved {
    #[topic]
    pub from: Address,
    pub amount: u128,
    pub memo: String,
}

#[event]
pub struct Ping;

pub struct MyContract;

const VALUE: Item<u64> = Item::new(b"v");
const MAP: Map<(Address, u32), Vec<u8>> = Map::new(b"m");

#[contract]
impl MyContract {
    #[init]
    pub fn init(start: u64) {
        VALUE.set(&start);
    }

    pub fn double(x: u64) -> u64 {
        helper(x)
    }

    pub fn checked(x: u64) -> Result<u64, MyError> {
        x.checked_mul(2).ok_or(MyError::Bad)
    }

    pub fn nothing() -> Result<(), MyError> {
        Ok(())
    }

    /// As many parameters as an entry point can take.
    #[allow(clippy::too_many_arguments)]
    pub fn twelve(
        a: u8,
        b: u16,
        c: u32,
        d: u64,
        e: u128,
        f: bool,
        g: Address,
        h: String,
        i: Vec<u8>,
        j: Option<u64>,
        k: (u8, u8),
        l: [u8; 4],
    ) -> u64 {
        let _ = (g, h, i, j, k, l, f);
        a as u64 + b as u64 + c as u64 + d + e as u64
    }

    pub fn tuple(a: (u64, bool), b: [u8; 32], mut c: Vec<u8>) -> Option<u128> {
        c.push(a.1 as u8);
        Some(b[0] as u128 + a.0 as u128 + c.len() as u128)
    }
}

fn helper(x: u64) -> u64 {
    x * 2
}

#[test]
fn error_codes() {
    assert_eq!(MyError::Bad.code(), 1);
    assert_eq!(MyError::Worse.code(), 0xFFFF_0000);
    assert!(MyError::Bad.data().is_empty());
    assert_eq!(MyError::Bad, MyError::Bad);
}

#[test]
fn methods_are_plain_functions() {
    assert_eq!(MyContract::double(21), 42);
    assert_eq!(MyContract::checked(u64::MAX), Err(MyError::Bad));
    assert_eq!(MyContract::tuple((1, true), [2; 32], vec![]), Some(4));
    assert_eq!(MyContract::nothing(), Ok(()));
    assert_eq!(MAP.key(&(Address::ZERO, 1)).len(), 1 + 32 + 4);
    assert_eq!(MAP.prefix(), b"m");
    assert_eq!(VALUE.key(), b"v");
}

#[test]
#[should_panic(expected = "SuperVM host functions exist only inside the VM")]
fn host_functions_panic_on_the_host() {
    Moved {
        from: Address::ZERO,
        amount: 1,
        memo: String::new(),
    }
    .emit();
}

#[test]
#[should_panic(expected = "SuperVM host functions exist only inside the VM")]
fn storage_panics_on_the_host() {
    let _ = Ping;
    MyContract::init(1);
}
