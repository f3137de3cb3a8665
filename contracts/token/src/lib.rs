//! A fungible token.
//!
//! Balances live in `Map<Address, u128>` under prefix `b"B"`, allowances in
//! `Map<(Address, Address), u128>` (owner, spender) under prefix `b"A"`. `transfer` is the
//! benchmark transaction: two checked balance updates through `storage_add` (the contract
//! never reads a balance to move tokens, so transfers touching the same account do not
//! conflict in the parallel scheduler) and one `Transfer` event. All arithmetic is checked
//! (`Overflow`).
#![no_std]

extern crate alloc;

use supervm_sdk::prelude::*;

const NAME: Item<String> = Item::new(b"name");
const SYMBOL: Item<String> = Item::new(b"symbol");
const DECIMALS: Item<u8> = Item::new(b"decimals");
const ADMIN: Item<Address> = Item::new(b"admin");
const TOTAL: Item<u128> = Item::new(b"total");
const BALANCES: Map<Address, u128> = Map::new(b"B");
const ALLOWANCES: Map<(Address, Address), u128> = Map::new(b"A");

/// Tokens moved (`from` is `Address::ZERO` for a mint).
#[event]
pub struct Transfer {
    /// The sender.
    #[topic]
    pub from: Address,
    /// The receiver.
    #[topic]
    pub to: Address,
    /// How many.
    pub amount: u128,
}

/// An allowance set.
#[event]
pub struct Approval {
    /// Whose tokens.
    #[topic]
    pub owner: Address,
    /// Who may spend them.
    #[topic]
    pub spender: Address,
    /// The new allowance.
    pub amount: u128,
}

/// Why a token call failed.
#[contract_error]
pub enum TokenError {
    /// The sender has fewer tokens than the amount.
    InsufficientBalance = 1,
    /// The spender's allowance is smaller than the amount.
    InsufficientAllowance = 2,
    /// Only the admin may do this.
    Unauthorized = 3,
    /// A balance, the supply or an allowance would overflow.
    Overflow = 4,
}

/// The token contract.
pub struct Token;

#[contract]
impl Token {
    /// Sets the metadata and mints `initial_supply` to `admin`.
    #[init]
    pub fn init(name: String, symbol: String, decimals: u8, admin: Address, initial_supply: u128) {
        NAME.set(&name);
        SYMBOL.set(&symbol);
        DECIMALS.set(&decimals);
        ADMIN.set(&admin);
        TOTAL.set(&initial_supply);
        BALANCES.set(&admin, &initial_supply);
        Transfer {
            from: Address::ZERO,
            to: admin,
            amount: initial_supply,
        }
        .emit();
    }

    /// Mints `amount` to `to`; only the admin may.
    pub fn mint(to: Address, amount: u128) -> Result<(), TokenError> {
        if ADMIN.get() != Some(env::caller()) {
            return Err(TokenError::Unauthorized);
        }
        // (a balance never exceeds the supply, so the second check cannot fail first)
        if !TOTAL.add(amount) || !BALANCES.add(&to, amount) {
            return Err(TokenError::Overflow);
        }
        Transfer {
            from: Address::ZERO,
            to,
            amount,
        }
        .emit();
        Ok(())
    }

    /// Moves `amount` of the caller's tokens to `to`.
    pub fn transfer(to: Address, amount: u128) -> Result<(), TokenError> {
        move_tokens(env::caller(), to, amount)
    }

    /// The balance of `owner`.
    pub fn balance(owner: Address) -> u128 {
        BALANCES.get_or(&owner, 0)
    }

    /// Lets `spender` move up to `amount` of the caller's tokens (replaces the allowance).
    /// Changing a nonzero allowance this way races the spender, who may spend the old
    /// one first and then the new one: prefer `increase_allowance` and
    /// `decrease_allowance`. To revoke whatever is left, `approve(spender, 0)`.
    pub fn approve(spender: Address, amount: u128) -> Result<(), TokenError> {
        set_allowance(env::caller(), spender, amount);
        Ok(())
    }

    /// Adds `added` to `spender`'s allowance over the caller's tokens.
    pub fn increase_allowance(spender: Address, added: u128) -> Result<(), TokenError> {
        let owner = env::caller();
        let now = ALLOWANCES.get_or(&(owner, spender), 0);
        let amount = now.checked_add(added).ok_or(TokenError::Overflow)?;
        set_allowance(owner, spender, amount);
        Ok(())
    }

    /// Takes `subtracted` off `spender`'s allowance over the caller's tokens; fails with
    /// `InsufficientAllowance` if that is more than is left (the spender spent it; to
    /// revoke whatever is left, `approve(spender, 0)`).
    pub fn decrease_allowance(spender: Address, subtracted: u128) -> Result<(), TokenError> {
        let owner = env::caller();
        let now = ALLOWANCES.get_or(&(owner, spender), 0);
        let amount = now
            .checked_sub(subtracted)
            .ok_or(TokenError::InsufficientAllowance)?;
        set_allowance(owner, spender, amount);
        Ok(())
    }

    /// How much `spender` may still move of `owner`'s tokens.
    pub fn allowance(owner: Address, spender: Address) -> u128 {
        ALLOWANCES.get_or(&(owner, spender), 0)
    }

    /// Moves `amount` of `from`'s tokens to `to`, spending the caller's allowance. Moving
    /// nothing does nothing (no write, no event): anyone could otherwise log transfers
    /// "from" any account, the address-poisoning trick.
    pub fn transfer_from(from: Address, to: Address, amount: u128) -> Result<(), TokenError> {
        if amount == 0 {
            return Ok(());
        }
        let key = (from, env::caller());
        let allowed = ALLOWANCES.get_or(&key, 0);
        let left = allowed
            .checked_sub(amount)
            .ok_or(TokenError::InsufficientAllowance)?;
        ALLOWANCES.set(&key, &left);
        move_tokens(from, to, amount)
    }

    /// The number of tokens in existence.
    pub fn total_supply() -> u128 {
        TOTAL.get_or(0)
    }

    /// The token's name.
    pub fn name() -> String {
        NAME.get().unwrap_or_default()
    }

    /// The token's symbol.
    pub fn symbol() -> String {
        SYMBOL.get().unwrap_or_default()
    }

    /// The token's decimals.
    pub fn decimals() -> u8 {
        DECIMALS.get_or(0)
    }
}

/// Sets an allowance and says so.
fn set_allowance(owner: Address, spender: Address, amount: u128) {
    ALLOWANCES.set(&(owner, spender), &amount);
    Approval {
        owner,
        spender,
        amount,
    }
    .emit();
}

/// Two balance updates and one event. The balances are changed with `storage_add`
/// ([`Map::sub`] and [`Map::add`]), which never shows them to the contract: transfers that
/// share an account (an exchange's, a popular recipient's) run in parallel as long as each
/// one's outcome stays the same. When `from == to` the subtraction and the addition
/// cancel out (the balance must still cover `amount`).
fn move_tokens(from: Address, to: Address, amount: u128) -> Result<(), TokenError> {
    if !BALANCES.sub(&from, amount) {
        return Err(TokenError::InsufficientBalance);
    }
    if !BALANCES.add(&to, amount) {
        return Err(TokenError::Overflow);
    }
    Transfer { from, to, amount }.emit();
    Ok(())
}
