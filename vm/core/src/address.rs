//! Address derivation. A contract's address is known before it is deployed.

use supervm_abi::Address;

/// The address of the contract `deployer` creates with `salt`:
/// `blake3("supervm/contract/v1" ‖ deployer ‖ salt)`.
pub fn contract_address(deployer: &Address, salt: &[u8; 32]) -> Address {
    let mut h = blake3::Hasher::new();
    h.update(b"supervm/contract/v1");
    h.update(&deployer.0);
    h.update(salt);
    Address(*h.finalize().as_bytes())
}

/// The hash under which code is stored: `blake3(code)`.
pub fn code_hash(code: &[u8]) -> [u8; 32] {
    *blake3::hash(code).as_bytes()
}
