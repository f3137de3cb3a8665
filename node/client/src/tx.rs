//! Signed transactions: the canonical binary encoding, the hash, signing and checks.
//!
//! ```text
//! body      = chain_id u64 ‖ sender (32) ‖ nonce u64 ‖ gas_limit u64 ‖ gas_price u64
//!             ‖ expiry_height u64 ‖ payload
//! payload   = 0 ‖ code (u32 len ‖ bytes)                                   upload
//!           | 1 ‖ code source ‖ salt (32) ‖ init_args (u32 len ‖ bytes)     deploy
//!           | 2 ‖ contract (32) ‖ function (u32 len ‖ utf-8) ‖ args (u32 len ‖ bytes)  call
//!           | 3 ‖ to (32) ‖ amount u128                                     native transfer
//! code src  = 0 ‖ wasm (u32 len ‖ bytes) | 1 ‖ code hash (32)
//! signed    = body ‖ signature (64)
//! hash      = blake3("supervm-tx-v1" ‖ body)      (what the sender signs)
//! ```
//!
//! Integers are little-endian. The sender is the ed25519 public key; the signature is
//! over the 32-byte hash. Decoding rejects trailing bytes and unknown tags.
//!
//! The signature rule is a consensus rule (every node must accept exactly the same
//! signatures). It is ZIP 215's, under which batch verification accepts exactly what
//! single verification accepts, with the sender key checked more strictly:
//! - S must be below ℓ ([`Error::NonCanonicalSignature`]), so no one but the signer
//!   can make a second valid signature of a transaction;
//! - the sender key must be a canonical encoding of a point that is not of small
//!   order ([`Error::BadSenderKey`]);
//! - then the cofactored equation `[8][S]B = [8]R + [8][k]A`, with
//!   `k = SHA-512(R ‖ A ‖ hash)` and R accepted in any encoding that decodes to a point.

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use ed25519_zebra::{VerificationKey, VerificationKeyBytes};
use supervm_abi::Address;
use supervm_abi::codec::{CodecError, Decode, Encode, take};

use crate::Error;

/// Domain separator of transaction hashes.
pub const TX_DOMAIN: &[u8] = b"supervm-tx-v1";

/// Where a deploy's code comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeployCode {
    /// The wasm module itself.
    Wasm(Vec<u8>),
    /// Code uploaded before, by its blake3 hash.
    Hash([u8; 32]),
}

/// What a transaction does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TxPayload {
    /// Stores wasm code under its hash.
    Upload {
        /// The module.
        code: Vec<u8>,
    },
    /// Creates a contract at `contract_address(sender, salt)`.
    Deploy {
        /// The code.
        code: DeployCode,
        /// Address salt.
        salt: [u8; 32],
        /// Encoded constructor arguments.
        init_args: Vec<u8>,
    },
    /// Calls a contract's entry point.
    Call {
        /// The contract.
        contract: Address,
        /// Entry point.
        function: String,
        /// Encoded arguments.
        args: Vec<u8>,
    },
    /// Moves native balance.
    Transfer {
        /// Recipient.
        to: Address,
        /// Amount.
        amount: u128,
    },
}

/// The signed part of a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxBody {
    /// Chain it is valid on.
    pub chain_id: u64,
    /// The sender's ed25519 public key (its account address).
    pub sender: Address,
    /// The sender's next nonce (its count of included transactions).
    pub nonce: u64,
    /// Most gas it may use.
    pub gas_limit: u64,
    /// Native units paid per unit of gas.
    pub gas_price: u64,
    /// Last block height it may be included at.
    pub expiry_height: u64,
    /// What it does.
    pub payload: TxPayload,
}

/// A transaction with its signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTx {
    /// What was signed.
    pub body: TxBody,
    /// ed25519 signature of [`TxBody::hash`].
    pub signature: [u8; 64],
}

impl Encode for TxPayload {
    fn encode_to(&self, out: &mut Vec<u8>) {
        match self {
            TxPayload::Upload { code } => {
                out.push(0);
                code.encode_to(out);
            }
            TxPayload::Deploy {
                code,
                salt,
                init_args,
            } => {
                out.push(1);
                match code {
                    DeployCode::Wasm(w) => {
                        out.push(0);
                        w.encode_to(out);
                    }
                    DeployCode::Hash(h) => {
                        out.push(1);
                        h.encode_to(out);
                    }
                }
                salt.encode_to(out);
                init_args.encode_to(out);
            }
            TxPayload::Call {
                contract,
                function,
                args,
            } => {
                out.push(2);
                contract.encode_to(out);
                function.encode_to(out);
                args.encode_to(out);
            }
            TxPayload::Transfer { to, amount } => {
                out.push(3);
                to.encode_to(out);
                amount.encode_to(out);
            }
        }
    }
}

fn bytes(input: &mut &[u8]) -> Result<Vec<u8>, CodecError> {
    let n = u32::decode(input)? as usize;
    Ok(take(input, n)?.to_vec())
}

impl Decode for TxPayload {
    fn decode(input: &mut &[u8]) -> Result<Self, CodecError> {
        Ok(match u8::decode(input)? {
            0 => TxPayload::Upload {
                code: bytes(input)?,
            },
            1 => {
                let code = match u8::decode(input)? {
                    0 => DeployCode::Wasm(bytes(input)?),
                    1 => DeployCode::Hash(<[u8; 32]>::decode(input)?),
                    _ => return Err(CodecError::InvalidTag),
                };
                TxPayload::Deploy {
                    code,
                    salt: <[u8; 32]>::decode(input)?,
                    init_args: bytes(input)?,
                }
            }
            2 => TxPayload::Call {
                contract: Address::decode(input)?,
                function: String::decode(input)?,
                args: bytes(input)?,
            },
            3 => TxPayload::Transfer {
                to: Address::decode(input)?,
                amount: u128::decode(input)?,
            },
            _ => return Err(CodecError::InvalidTag),
        })
    }
}

impl Encode for TxBody {
    fn encode_to(&self, out: &mut Vec<u8>) {
        self.chain_id.encode_to(out);
        self.sender.encode_to(out);
        self.nonce.encode_to(out);
        self.gas_limit.encode_to(out);
        self.gas_price.encode_to(out);
        self.expiry_height.encode_to(out);
        self.payload.encode_to(out);
    }
}

impl Decode for TxBody {
    fn decode(input: &mut &[u8]) -> Result<Self, CodecError> {
        Ok(TxBody {
            chain_id: u64::decode(input)?,
            sender: Address::decode(input)?,
            nonce: u64::decode(input)?,
            gas_limit: u64::decode(input)?,
            gas_price: u64::decode(input)?,
            expiry_height: u64::decode(input)?,
            payload: TxPayload::decode(input)?,
        })
    }
}

impl TxBody {
    /// The transaction hash: `blake3("supervm-tx-v1" ‖ body)`.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = blake3::Hasher::new();
        h.update(TX_DOMAIN);
        h.update(&self.encode());
        *h.finalize().as_bytes()
    }

    /// Signs the body. The key's public half must be the sender.
    pub fn sign(self, key: &SigningKey) -> SignedTx {
        let signature = key.sign(&self.hash()).to_bytes();
        SignedTx {
            body: self,
            signature,
        }
    }
}

/// The group order ℓ of ed25519, little-endian.
const ELL: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
];

/// Whether the scalar half `S` of a signature is below ℓ (canonical).
pub fn signature_is_canonical(sig: &[u8; 64]) -> bool {
    for i in (0..32).rev() {
        let (s, l) = (sig[32 + i], ELL[i]);
        if s != l {
            return s < l;
        }
    }
    false
}

impl SignedTx {
    /// `body ‖ signature`.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = self.body.encode();
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decodes [`SignedTx::encode`]'s output (no signature check).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut input = bytes;
        let body = TxBody::decode(&mut input).map_err(|e| Error::Malformed(e.to_string()))?;
        let sig = take(&mut input, 64).map_err(|_| Error::Malformed("missing signature".into()))?;
        if !input.is_empty() {
            return Err(Error::Malformed(format!(
                "{} trailing bytes after the signature",
                input.len()
            )));
        }
        let mut signature = [0; 64];
        signature.copy_from_slice(sig);
        Ok(SignedTx { body, signature })
    }

    /// The transaction hash.
    pub fn hash(&self) -> [u8; 32] {
        self.body.hash()
    }

    /// Checks the signature (the rule is in the module docs).
    pub fn verify(&self) -> Result<(), Error> {
        self.verify_hash(&self.hash())
    }

    /// [`SignedTx::verify`] with the hash already computed.
    pub fn verify_hash(&self, hash: &[u8; 32]) -> Result<(), Error> {
        let key = sender_key(&self.body.sender)?;
        self.verify_with_key(hash, &key)
    }

    /// [`SignedTx::verify_hash`] with the sender's key already checked by
    /// [`sender_key`] (a node caches checked keys: decompression is about a third of
    /// a verification). `key` must be the sender's.
    pub fn verify_with_key(&self, hash: &[u8; 32], key: &SenderKey) -> Result<(), Error> {
        self.check_scalar_and_key(key)?;
        key.0
            .verify(&ed25519_zebra::Signature::from_bytes(&self.signature), hash)
            .map_err(|_| Error::BadSignature)
    }

    fn check_scalar_and_key(&self, key: &SenderKey) -> Result<(), Error> {
        if !signature_is_canonical(&self.signature) {
            return Err(Error::NonCanonicalSignature);
        }
        if key.0.as_ref() != self.body.sender.0 {
            return Err(Error::BadSignature);
        }
        Ok(())
    }
}

/// A transaction to verify: the transaction, its hash, its sender's checked key.
pub type ToVerify<'a> = (&'a SignedTx, &'a [u8; 32], &'a SenderKey);

/// A sender key that passed [`sender_key`]'s checks, decompressed.
#[derive(Clone, Copy, Debug)]
pub struct SenderKey(VerificationKey);

/// The sender's key, checked: a canonical encoding of a curve point that is not of
/// small order. (Under the cofactored equation anyone can sign for a small-order
/// key; `verify_strict` refused those keys too.)
pub fn sender_key(sender: &Address) -> Result<SenderKey, Error> {
    let dalek = VerifyingKey::from_bytes(&sender.0)
        .map_err(|_| Error::BadSenderKey("not a curve point"))?;
    if dalek.to_edwards().compress().to_bytes() != sender.0 {
        return Err(Error::BadSenderKey("non-canonical point encoding"));
    }
    if dalek.is_weak() {
        return Err(Error::BadSenderKey("point of small order"));
    }
    VerificationKey::try_from(sender.0)
        .map(SenderKey)
        .map_err(|_| Error::BadSenderKey("not a curve point"))
}

/// Below this many signatures a failed batch is checked one by one.
const BISECT_BELOW: usize = 8;

/// Verifies many transactions' signatures at once: one random linear combination of
/// their equations (ZIP 215 batch verification: 3-4x the one-by-one rate in
/// `node_load`'s runs, where 200 senders share batches of 250) and, only if that fails, the two
/// halves again, down to single checks, so a bad signature costs its batch a few more
/// batch checks, not a single check of every member. The result for each is exactly
/// [`SignedTx::verify_with_key`]'s: under ZIP 215 a batch accepts precisely the
/// signatures that verify singly (but for a 2^-128 chance, over the random weights,
/// that a batch with a bad member passes). Each key must be its transaction's sender.
pub fn verify_batch(items: &[ToVerify<'_>]) -> Vec<Result<(), Error>> {
    let mut out: Vec<Result<(), Error>> = items
        .iter()
        .map(|(tx, _, key)| tx.check_scalar_and_key(key))
        .collect();
    let todo: Vec<usize> = (0..items.len()).filter(|&i| out[i].is_ok()).collect();
    bisect(items, &todo, &mut out);
    out
}

fn bisect(items: &[ToVerify<'_>], todo: &[usize], out: &mut [Result<(), Error>]) {
    if todo.len() < BISECT_BELOW {
        for &i in todo {
            let (tx, hash, key) = items[i];
            out[i] = tx.verify_with_key(hash, key);
        }
        return;
    }
    let mut batch = ed25519_zebra::batch::Verifier::new();
    for &i in todo {
        let (tx, hash, key) = items[i];
        batch.queue((
            VerificationKeyBytes::from(key.0),
            ed25519_zebra::Signature::from_bytes(&tx.signature),
            &hash[..],
        ));
    }
    if batch.verify(rand::thread_rng()).is_err() {
        let (a, b) = todo.split_at(todo.len() / 2);
        bisect(items, a, out);
        bisect(items, b, out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn body() -> TxBody {
        TxBody {
            chain_id: 9,
            sender: Address(key().verifying_key().to_bytes()),
            nonce: 3,
            gas_limit: 100_000,
            gas_price: 1,
            expiry_height: 1000,
            payload: TxPayload::Call {
                contract: Address([1; 32]),
                function: "transfer".into(),
                args: vec![1, 2, 3],
            },
        }
    }

    #[test]
    fn round_trip_sign_verify() {
        let tx = body().sign(&key());
        let bytes = tx.encode();
        let back = SignedTx::decode(&bytes).unwrap();
        assert_eq!(back, tx);
        back.verify().unwrap();
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(matches!(SignedTx::decode(&extra), Err(Error::Malformed(_))));
    }

    #[test]
    fn tampering_and_malleability_are_rejected() {
        let tx = body().sign(&key());
        let mut t = tx.clone();
        t.body.nonce += 1;
        assert!(matches!(t.verify(), Err(Error::BadSignature)));
        // S + ℓ verifies mathematically but is a second encoding: rejected as non-canonical.
        let mut m = tx.clone();
        let mut carry = 0u16;
        for (sb, lb) in m.signature[32..].iter_mut().zip(ELL) {
            let s = *sb as u16 + lb as u16 + carry;
            *sb = s as u8;
            carry = s >> 8;
        }
        assert!(matches!(m.verify(), Err(Error::NonCanonicalSignature)));
        assert!(signature_is_canonical(&tx.signature));
    }

    #[test]
    fn unusable_sender_keys_are_rejected_by_name() {
        // The identity point (order 1): under the cofactored equation anyone could
        // sign for it.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let small = sender_key(&Address(identity)).unwrap_err();
        assert!(
            matches!(small, Error::BadSenderKey("point of small order")),
            "{small}"
        );
        // y = 1 + p: the same point, encoded non-canonically.
        let mut non_canonical = [0xff; 32];
        non_canonical[0] = 0xee;
        non_canonical[31] = 0x7f;
        let nc = sender_key(&Address(non_canonical)).unwrap_err();
        assert!(
            matches!(nc, Error::BadSenderKey("non-canonical point encoding")),
            "{nc}"
        );
        let off_curve = (2u8..=255)
            .map(|y| {
                let mut b = [0u8; 32];
                b[0] = y;
                b
            })
            .find(|b| VerifyingKey::from_bytes(b).is_err())
            .expect("some small y is not on the curve");
        // x = 0 with the sign bit set: the identity again, a second encoding.
        let mut signed_zero = identity;
        signed_zero[31] = 0x80;
        let sz = sender_key(&Address(signed_zero)).unwrap_err();
        assert!(
            matches!(sz, Error::BadSenderKey("non-canonical point encoding")),
            "{sz}"
        );
        let off = sender_key(&Address(off_curve)).unwrap_err();
        assert!(
            matches!(off, Error::BadSenderKey("not a curve point")),
            "{off}"
        );
        // A transaction from such a sender fails verification with that error.
        let mut t = body().sign(&key());
        t.body.sender = Address(identity);
        assert!(matches!(t.verify(), Err(Error::BadSenderKey(_))));
    }

    #[test]
    fn batch_verification_gives_each_transaction_its_single_result() {
        let keys: Vec<SigningKey> = (1..=3u8)
            .map(|i| SigningKey::from_bytes(&[i; 32]))
            .collect();
        let mut txs = Vec::new();
        for i in 0..40u64 {
            let k = &keys[(i % 3) as usize];
            let mut b = body();
            b.sender = Address(k.verifying_key().to_bytes());
            b.nonce = i;
            let mut tx = b.sign(k);
            match i {
                7 => tx.body.nonce += 100,      // tampered after signing
                19 => tx.signature[40] ^= 1,    // S changed (still below ℓ)
                23 => tx.signature[63] |= 0xf0, // S ≥ ℓ
                31 => tx.signature[0] ^= 1,     // R changed
                _ => {}
            }
            txs.push(tx);
        }
        let hashes: Vec<[u8; 32]> = txs.iter().map(|t| t.hash()).collect();
        let vks: Vec<SenderKey> = txs
            .iter()
            .map(|t| sender_key(&t.body.sender).unwrap())
            .collect();
        let items: Vec<_> = txs
            .iter()
            .zip(&hashes)
            .zip(&vks)
            .map(|((t, h), k)| (t, h, k))
            .collect();
        let batch = verify_batch(&items);
        for (i, ((t, h, k), b)) in items.iter().zip(&batch).enumerate() {
            let single = t.verify_with_key(h, k);
            assert_eq!(format!("{single:?}"), format!("{b:?}"), "transaction {i}");
            assert_eq!(
                b.is_ok(),
                ![7, 19, 23, 31].contains(&i),
                "transaction {i}: {b:?}"
            );
        }
        assert!(matches!(batch[23], Err(Error::NonCanonicalSignature)));
        let good: Vec<_> = items
            .iter()
            .enumerate()
            .filter(|(i, _)| batch[*i].is_ok())
            .map(|(_, x)| *x)
            .collect();
        assert!(verify_batch(&good).iter().all(Result::is_ok));
        // A key that is not the sender's fails as a bad signature.
        let wrong = [(items[0].0, items[0].1, items[1].2)];
        assert!(matches!(verify_batch(&wrong)[0], Err(Error::BadSignature)));
    }
}
