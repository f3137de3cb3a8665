//! What a SuperVM wallet embeds: build, sign and encode transactions, keep keys, and
//! talk to a node over JSON-RPC.
//!
//! ```
//! use supervm_client::{keys::address_of, tx::{TxBody, TxPayload}, SignedTx};
//! use supervm_abi::Address;
//! let key = ed25519_dalek::SigningKey::from_bytes(&[1; 32]);
//! let tx = TxBody {
//!     chain_id: 1337, sender: address_of(&key), nonce: 0, gas_limit: 50_000,
//!     gas_price: 1, expiry_height: 1_000,
//!     payload: TxPayload::Transfer { to: Address([2; 32]), amount: 10 },
//! }
//! .sign(&key);
//! let bytes = tx.encode();
//! let back = SignedTx::decode(&bytes).unwrap();
//! back.verify().unwrap();
//! assert_eq!(back.hash(), tx.hash());
//! ```

mod client;
mod error;
pub mod keys;
pub mod tx;
pub mod views;

pub use client::{Client, EventFilter};
pub use error::{Error, Result};
pub use tx::{DeployCode, SignedTx, TxBody, TxPayload};
