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

/// `#[derive(Encode, Decode)]`: a struct encodes as the tuple of its fields, an enum as
/// a one-byte variant tag and its fields; decoding inverts it, refuses an unknown tag
/// and leaves nothing over; generic types take their parameters' codecs.
mod derived {
    use super::*;
    use supervm_sdk::codec::{CodecError, decode_all};

    #[derive(Encode, Decode, Debug, Clone, PartialEq)]
    pub struct Order {
        pub owner: Address,
        pub amount: u128,
        pub note: Option<String>,
    }

    #[derive(Encode, Decode, Debug, PartialEq)]
    pub struct Pair(pub u32, pub Vec<u8>);

    #[derive(Encode, Decode, Debug, PartialEq)]
    pub struct Marker;

    #[derive(Encode, Decode, Debug, PartialEq)]
    pub enum Action {
        Stop,
        Move(u64, bool),
        Place { order: Order, at: u16 },
    }

    /// Fields named like the generated code's own variables.
    #[derive(Encode, Decode, Debug, PartialEq)]
    pub struct Shadows {
        pub out: u8,
        pub input: u16,
        pub __f0: u32,
    }

    #[derive(Encode, Decode, Debug, PartialEq)]
    pub enum ShadowsToo {
        V { out: u8, input: Vec<u8> },
    }

    #[derive(Encode, Decode)]
    pub enum Never {}

    #[derive(Encode, Decode, Debug, PartialEq)]
    pub struct Wrapped<T> {
        pub inner: T,
        pub count: u8,
    }

    #[test]
    fn structs_encode_as_the_tuple_of_their_fields() {
        let o = Order {
            owner: Address([7; 32]),
            amount: 1 << 100,
            note: Some("hi".into()),
        };
        assert_eq!(o.encode(), (o.owner, o.amount, o.note.clone()).encode());
        assert_eq!(decode_all::<Order>(&o.encode()), Ok(o.clone()));
        let p = Pair(9, vec![1, 2]);
        assert_eq!(p.encode(), (9u32, vec![1u8, 2]).encode());
        assert_eq!(decode_all::<Pair>(&p.encode()), Ok(p));
        assert!(Marker.encode().is_empty());
        assert_eq!(decode_all::<Marker>(&[]), Ok(Marker));
        let s = Shadows {
            out: 1,
            input: 2,
            __f0: 3,
        };
        assert_eq!(s.encode(), (1u8, 2u16, 3u32).encode());
        assert_eq!(decode_all::<Shadows>(&s.encode()), Ok(s));
        let v = ShadowsToo::V {
            out: 4,
            input: vec![5],
        };
        assert_eq!(v.encode(), (0u8, 4u8, vec![5u8]).encode());
        assert_eq!(decode_all::<ShadowsToo>(&v.encode()), Ok(v));
        assert!(decode_all::<Never>(&[0]).is_err());
        let w = Wrapped {
            inner: o.clone(),
            count: 3,
        };
        assert_eq!(decode_all::<Wrapped<Order>>(&w.encode()), Ok(w));
        // Truncated or with bytes left over: refused.
        let bytes = o.encode();
        assert_eq!(
            decode_all::<Order>(&bytes[..bytes.len() - 1]),
            Err(CodecError::UnexpectedEnd)
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode_all::<Order>(&longer), Err(CodecError::TrailingBytes));
    }

    #[test]
    fn enums_encode_a_tag_then_the_variants_fields() {
        assert_eq!(Action::Stop.encode(), vec![0]);
        assert_eq!(Action::Move(5, true).encode(), (1u8, 5u64, true).encode());
        let order = Order {
            owner: Address([1; 32]),
            amount: 2,
            note: None,
        };
        let place = Action::Place {
            order: order.clone(),
            at: 4,
        };
        assert_eq!(place.encode(), (2u8, order, 4u16).encode());
        for a in [Action::Stop, Action::Move(u64::MAX, false), place] {
            assert_eq!(decode_all::<Action>(&a.encode()), Ok(a));
        }
        assert_eq!(decode_all::<Action>(&[3]), Err(CodecError::InvalidTag));
        assert_eq!(decode_all::<Action>(&[]), Err(CodecError::UnexpectedEnd));
    }
}
