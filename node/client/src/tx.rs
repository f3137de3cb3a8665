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
//! over the 32-byte hash. Decoding rejects trailing bytes, unknown tags and
//! non-canonical signatures (S ≥ ℓ), so every transaction has exactly one encoding.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
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
        let body = TxBody::decode(&mut input).map_err(|e| Error::Malformed(format!("{e:?}")))?;
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

    /// Checks the signature: canonical, by the sender's key, strict verification
    /// (rejects small-order keys and malleable signatures).
    pub fn verify(&self) -> Result<(), Error> {
        self.verify_hash(&self.hash())
    }

    /// [`SignedTx::verify`] with the hash already computed.
    pub fn verify_hash(&self, hash: &[u8; 32]) -> Result<(), Error> {
        let key = VerifyingKey::from_bytes(&self.body.sender.0).map_err(|_| Error::BadSignature)?;
        self.verify_with_key(hash, &key)
    }

    /// [`SignedTx::verify_hash`] with the sender's key already decompressed (a node
    /// caches decompressed keys: decompression is about a third of a verification).
    /// `key` must be the sender's.
    pub fn verify_with_key(&self, hash: &[u8; 32], key: &VerifyingKey) -> Result<(), Error> {
        if !signature_is_canonical(&self.signature) {
            return Err(Error::NonCanonicalSignature);
        }
        if key.as_bytes() != &self.body.sender.0 {
            return Err(Error::BadSignature);
        }
        key.verify_strict(hash, &Signature::from_bytes(&self.signature))
            .map_err(|_| Error::BadSignature)
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
}
