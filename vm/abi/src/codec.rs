//! The compact binary encoding of call arguments, results, storage values and
//! event data.
//!
//! Rules (all integers little-endian, no padding, no self-description):
//!
//! | type | encoding |
//! |---|---|
//! | `u8`..`u128`, `i8`..`i128` | fixed width, little-endian |
//! | `bool` | one byte, 0 or 1 (anything else is an error) |
//! | `Address`, `[u8; N]` | the N bytes |
//! | `Vec<T>`, `String` | `u32` element count, then the elements (UTF-8 bytes for `String`) |
//! | `Option<T>` | byte 0 (None) or byte 1 then `T` |
//! | `()` | nothing |
//! | tuples `(A, B, ..)`, up to [`MAX_TUPLE`] fields | the fields in order |
//!
//! A call's arguments are encoded as the tuple of its parameters. Decoding
//! must consume the whole input ([`decode_all`]).

use alloc::string::String;
use alloc::vec::Vec;

use crate::Address;

/// Why a value could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecError {
    /// The input ended early.
    UnexpectedEnd,
    /// A tag byte named no variant (a `bool` or `Option` tag not 0 or 1, an enum's
    /// unknown variant).
    InvalidTag,
    /// A `String` was not UTF-8.
    InvalidUtf8,
    /// Bytes were left over after the value.
    TrailingBytes,
}

impl core::fmt::Display for CodecError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CodecError::UnexpectedEnd => "the bytes end before the value does",
            CodecError::InvalidTag => "a tag byte names no variant",
            CodecError::InvalidUtf8 => "a string is not UTF-8",
            CodecError::TrailingBytes => "bytes are left over after the value",
        })
    }
}

/// A value that can be encoded.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be encoded by the SuperVM codec",
    note = "the codec encodes fixed-width integers (not `usize`), `bool`, `String`, `Address`, \
            `Vec<T>`, `Option<T>`, tuples, byte arrays and types with `#[derive(Encode)]`"
)]
pub trait Encode {
    /// Appends the encoding of `self` to `out`.
    fn encode_to(&self, out: &mut Vec<u8>);

    /// Appends the encodings of `items` (no length prefix). Byte types override this
    /// with one copy instead of one push per element.
    #[doc(hidden)]
    fn encode_slice_to(items: &[Self], out: &mut Vec<u8>)
    where
        Self: Sized,
    {
        for x in items {
            x.encode_to(out);
        }
    }

    /// The encoding of `self` as a new vector.
    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_to(&mut out);
        out
    }
}

/// A value that can be decoded.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be decoded by the SuperVM codec",
    note = "entry point parameters are owned values the codec decodes: fixed-width integers \
            (not `usize`), `bool`, `String` (not `&str`), `Address`, `Vec<T>`, `Option<T>`, \
            tuples, byte arrays and types with `#[derive(Decode)]`"
)]
pub trait Decode: Sized {
    /// Decodes a value from the front of `input`, advancing it.
    fn decode(input: &mut &[u8]) -> Result<Self, CodecError>;

    /// Decodes `n` values from the front of `input`. Byte types override this with one
    /// copy instead of one push per element.
    #[doc(hidden)]
    fn decode_many(input: &mut &[u8], n: usize) -> Result<Vec<Self>, CodecError> {
        let mut v = Vec::with_capacity(reserve::<Self>(n, input.len()));
        for _ in 0..n {
            v.push(Self::decode(input)?);
        }
        Ok(v)
    }
}

/// How many of `n` decoded elements of `T` to reserve room for, given `input_len` bytes
/// of input: a hostile length must not allocate more than the input justifies. An
/// element is encoded in at least one byte but may take many more in memory (a
/// 128-byte tuple from a few bytes of junk), so the room is capped at the input's size
/// in bytes, not in elements: a count of 2^32 - 1 before 65 KB of junk reserves 65 KB,
/// not 8 MB (the contract's whole memory, and a trap instead of a clean decode error).
fn reserve<T>(n: usize, input_len: usize) -> usize {
    n.min(input_len / core::mem::size_of::<T>().max(1))
}

/// Decodes a value that must span the whole input.
pub fn decode_all<T: Decode>(mut input: &[u8]) -> Result<T, CodecError> {
    let v = T::decode(&mut input)?;
    if input.is_empty() {
        Ok(v)
    } else {
        Err(CodecError::TrailingBytes)
    }
}

/// Takes `n` bytes from the front of `input`.
#[inline]
pub fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], CodecError> {
    if input.len() < n {
        return Err(CodecError::UnexpectedEnd);
    }
    let (head, tail) = input.split_at(n);
    *input = tail;
    Ok(head)
}

macro_rules! int_codec {
    ($($t:ty),*) => {$(
        impl Encode for $t {
            #[inline]
            fn encode_to(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
        }
        impl Decode for $t {
            #[inline]
            fn decode(input: &mut &[u8]) -> Result<Self, CodecError> {
                let b = take(input, core::mem::size_of::<$t>())?;
                let mut a = [0u8; core::mem::size_of::<$t>()];
                a.copy_from_slice(b);
                Ok(<$t>::from_le_bytes(a))
            }
        }
    )*};
}
int_codec!(u16, u32, u64, u128, i8, i16, i32, i64, i128);

impl Encode for u8 {
    #[inline]
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(*self);
    }

    fn encode_slice_to(items: &[Self], out: &mut Vec<u8>) {
        out.extend_from_slice(items);
    }
}
impl Decode for u8 {
    #[inline]
    fn decode(input: &mut &[u8]) -> Result<Self, CodecError> {
        Ok(take(input, 1)?[0])
    }

    fn decode_many(input: &mut &[u8], n: usize) -> Result<Vec<Self>, CodecError> {
        Ok(take(input, n)?.to_vec())
    }
}

impl Encode for bool {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(*self as u8);
    }
}
impl Decode for bool {
    fn decode(input: &mut &[u8]) -> Result<Self, CodecError> {
        match take(input, 1)?[0] {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(CodecError::InvalidTag),
        }
    }
}

impl<const N: usize> Encode for [u8; N] {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self);
    }
}
impl<const N: usize> Decode for [u8; N] {
    fn decode(input: &mut &[u8]) -> Result<Self, CodecError> {
        let mut a = [0u8; N];
        a.copy_from_slice(take(input, N)?);
        Ok(a)
    }
}

impl Encode for Address {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.0);
    }
}
impl Decode for Address {
    fn decode(input: &mut &[u8]) -> Result<Self, CodecError> {
        Ok(Address(<[u8; 32]>::decode(input)?))
    }
}

fn encode_len(len: usize, out: &mut Vec<u8>) {
    // Lengths beyond u32 cannot occur in a 32-bit wasm memory.
    out.extend_from_slice(&(len as u32).to_le_bytes());
}

impl<T: Encode> Encode for Vec<T> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.as_slice().encode_to(out)
    }
}
impl<T: Encode> Encode for [T] {
    fn encode_to(&self, out: &mut Vec<u8>) {
        encode_len(self.len(), out);
        T::encode_slice_to(self, out);
    }
}
impl<T: Decode> Decode for Vec<T> {
    fn decode(input: &mut &[u8]) -> Result<Self, CodecError> {
        let n = u32::decode(input)? as usize;
        T::decode_many(input, n)
    }
}

impl Encode for str {
    fn encode_to(&self, out: &mut Vec<u8>) {
        encode_len(self.len(), out);
        out.extend_from_slice(self.as_bytes());
    }
}
impl Encode for String {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.as_str().encode_to(out)
    }
}
impl Decode for String {
    fn decode(input: &mut &[u8]) -> Result<Self, CodecError> {
        let n = u32::decode(input)? as usize;
        let b = take(input, n)?;
        core::str::from_utf8(b)
            .map(String::from)
            .map_err(|_| CodecError::InvalidUtf8)
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            None => out.push(0),
            Some(v) => {
                out.push(1);
                v.encode_to(out);
            }
        }
    }
}
impl<T: Decode> Decode for Option<T> {
    fn decode(input: &mut &[u8]) -> Result<Self, CodecError> {
        match take(input, 1)?[0] {
            0 => Ok(None),
            1 => Ok(Some(T::decode(input)?)),
            _ => Err(CodecError::InvalidTag),
        }
    }
}

impl<T: Encode + ?Sized> Encode for &T {
    fn encode_to(&self, out: &mut Vec<u8>) {
        (**self).encode_to(out)
    }
}

macro_rules! tuple_codec {
    ($($n:ident),*) => {
        impl<$($n: Encode),*> Encode for ($($n,)*) {
            #[allow(non_snake_case, unused_variables)]
            fn encode_to(&self, out: &mut Vec<u8>) {
                let ($($n,)*) = self;
                $($n.encode_to(out);)*
            }
        }
        impl<$($n: Decode),*> Decode for ($($n,)*) {
            #[allow(unused_variables)]
            fn decode(input: &mut &[u8]) -> Result<Self, CodecError> {
                Ok(($($n::decode(input)?,)*))
            }
        }
    };
}
tuple_codec!();
tuple_codec!(A);
tuple_codec!(A, B);
tuple_codec!(A, B, C);
tuple_codec!(A, B, C, D);
tuple_codec!(A, B, C, D, E);
tuple_codec!(A, B, C, D, E, F);
tuple_codec!(A, B, C, D, E, F, G);
tuple_codec!(A, B, C, D, E, F, G, H);
tuple_codec!(A, B, C, D, E, F, G, H, I);
tuple_codec!(A, B, C, D, E, F, G, H, I, J);
tuple_codec!(A, B, C, D, E, F, G, H, I, J, K);
tuple_codec!(A, B, C, D, E, F, G, H, I, J, K, L);

/// Most fields of a tuple the codec encodes, hence most parameters of an entry point.
pub const MAX_TUPLE: usize = 12;

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// A hostile element count reserves at most the input's size in bytes, whatever
    /// the element's size in memory; an honest one reserves every element.
    #[test]
    fn decoding_reserves_no_more_than_the_input_justifies() {
        type Big = ([u8; 32], [u8; 32], u128, [u8; 32], u128);
        let r = reserve::<Big>(u32::MAX as usize, 65_000);
        assert!(r * core::mem::size_of::<Big>() <= 65_000, "{r}");
        assert_eq!(reserve::<u8>(10, 10), 10);
        assert_eq!(reserve::<()>(5, 0), 0);
        assert_eq!(reserve::<u64>(100, 800), 100);
        // Decoding such input fails cleanly.
        let mut input = vec![0xff, 0xff, 0xff, 0xff];
        input.extend(core::iter::repeat_n(7u8, 1000));
        assert!(decode_all::<Vec<(u128, u128)>>(&input).is_err());
    }

    #[test]
    fn tuples_of_up_to_twelve_fields_round_trip() {
        let t = (
            1u8,
            2u16,
            3u32,
            4u64,
            5u128,
            true,
            vec![6u8],
            Some(7u64),
            (8u8, 9u8),
            [10u8; 2],
            11i64,
            alloc::string::String::from("twelve"),
        );
        let bytes = t.encode();
        assert_eq!(decode_all::<_>(&bytes), Ok(t));
    }

    #[test]
    fn roundtrip() {
        let v = (
            7u64,
            true,
            Address([3; 32]),
            String::from("hé"),
            Some(-5i128),
            vec![1u16, 2],
        );
        let bytes = v.encode();
        let back: (u64, bool, Address, String, Option<i128>, Vec<u16>) =
            decode_all(&bytes).unwrap();
        assert_eq!(back, v);
    }

    #[test]
    fn rejects_bad_input() {
        assert_eq!(decode_all::<bool>(&[2]), Err(CodecError::InvalidTag));
        assert_eq!(decode_all::<u32>(&[1, 2]), Err(CodecError::UnexpectedEnd));
        assert_eq!(decode_all::<u8>(&[1, 2]), Err(CodecError::TrailingBytes));
        assert_eq!(
            decode_all::<String>(&[1, 0, 0, 0, 0xff]),
            Err(CodecError::InvalidUtf8)
        );
        // A huge declared length must fail cleanly, not allocate.
        assert_eq!(
            decode_all::<Vec<u64>>(&[0xff, 0xff, 0xff, 0xff]),
            Err(CodecError::UnexpectedEnd)
        );
    }

    #[test]
    fn layout_is_documented_layout() {
        assert_eq!(0x0102u16.encode(), vec![2, 1]);
        assert_eq!(String::from("ab").encode(), vec![2, 0, 0, 0, b'a', b'b']);
        assert_eq!(Some(1u8).encode(), vec![1, 1]);
        assert_eq!(None::<u8>.encode(), vec![0]);
        assert_eq!((1u8, 2u8).encode(), vec![1, 2]);
    }

    #[test]
    fn byte_vectors_take_the_bulk_path_with_the_same_bytes() {
        let v: Vec<Vec<u8>> = vec![vec![], vec![9], vec![1, 2, 3]];
        let bytes = v.encode();
        assert_eq!(
            bytes,
            vec![3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 9, 3, 0, 0, 0, 1, 2, 3]
        );
        assert_eq!(decode_all::<Vec<Vec<u8>>>(&bytes), Ok(v));
        assert_eq!(
            decode_all::<Vec<u8>>(&[3, 0, 0, 0, 1, 2]),
            Err(CodecError::UnexpectedEnd)
        );
        assert_eq!(
            decode_all::<Vec<u8>>(&[1, 0, 0, 0, 1, 2]),
            Err(CodecError::TrailingBytes)
        );
    }
}
