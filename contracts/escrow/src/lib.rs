//! An escrow of token swaps, calling `token` contracts.
//!
//! A maker `approve`s the escrow on the token they give, then `create_offer` pulls the
//! give tokens into the escrow. A taker `approve`s the escrow on the wanted token, then
//! `accept` pays the maker and releases the give tokens to the taker.
//!
//! Token failures: the pulls (`transfer_from` of the maker's give tokens in `create_offer`,
//! of the taker's want tokens in `accept`) use `try_call`, and a failed pull is returned
//! as `EscrowError::TransferFailed` (code 3) — the whole escrow call then reverts, so no
//! state changes. The escrow's own payouts (`transfer` of tokens it holds) use `call`:
//! they cannot fail unless a token misbehaves, and then the whole call fails like it.
//!
//! `try_accept_many(ids)` accepts several offers for the caller, independently: for each
//! id, if the offer does not exist or the taker's `transfer_from` of the wanted token
//! fails (a `try_call`: the failed token call's writes are rolled back), that id is skipped
//! and reported `false`; otherwise the give tokens are released, the offer is removed, an
//! `OfferAccepted` event is emitted and it is reported `true`. Accepts that succeeded stay
//! even when later ones fail. Each of its pulls may spend at most [`PULL_GAS`]: a wanted
//! token that burns more fails like a refused pull instead of using up the whole batch's
//! gas (`accept` and `create_offer` give their pull all the gas left, less the 1/64 a
//! `try_call` keeps for its caller). (A give
//! token whose `transfer` fails still fails the whole call: its offer's maker chose it.)
//!
//! Storage: the next offer id in `b"next"`, offers in `Map<u64, Offer>` under `b"O"`.
#![no_std]

extern crate alloc;

use supervm_sdk::prelude::*;

/// `(maker, give_token, give_amount, want_token, want_amount)`.
pub type Offer = (Address, Address, u128, Address, u128);

const NEXT_ID: Item<u64> = Item::new(b"next");
const OFFERS: Map<u64, Offer> = Map::new(b"O");

/// An offer was created (its give tokens are held by the escrow).
#[event]
pub struct OfferCreated {
    /// The offer id.
    #[topic]
    pub id: u64,
    /// Who made it.
    pub maker: Address,
}

/// An offer was accepted and both sides paid.
#[event]
pub struct OfferAccepted {
    /// The offer id.
    #[topic]
    pub id: u64,
    /// Who accepted it.
    pub taker: Address,
}

/// An offer was cancelled and its give tokens returned to the maker.
#[event]
pub struct OfferCancelled {
    /// The offer id.
    #[topic]
    pub id: u64,
}

/// Why an escrow call failed.
#[contract_error]
pub enum EscrowError {
    /// No open offer has this id.
    NoSuchOffer = 1,
    /// Only the offer's maker may do this.
    NotMaker = 2,
    /// A token `transfer_from` failed (missing approval or balance).
    TransferFailed = 3,
}

/// The escrow contract.
pub struct Escrow;

#[contract]
impl Escrow {
    /// Starts offer ids at 0.
    #[init]
    pub fn init() {
        NEXT_ID.set(&0);
    }

    /// Pulls `give_amount` of `give_token` from the caller (who must have approved the
    /// escrow) and opens an offer of them for `want_amount` of `want_token`. Returns its id.
    pub fn create_offer(
        give_token: Address,
        give_amount: u128,
        want_token: Address,
        want_amount: u128,
    ) -> Result<u64, EscrowError> {
        let maker = env::caller();
        pull(&give_token, maker, env::self_address(), give_amount, 0)?;
        let id = NEXT_ID.get_or(0);
        NEXT_ID.set(&(id + 1));
        OFFERS.set(
            &id,
            &(maker, give_token, give_amount, want_token, want_amount),
        );
        OfferCreated { id, maker }.emit();
        Ok(id)
    }

    /// Accepts offer `id` for the caller: pays the maker `want_amount` of `want_token` from
    /// the caller (who must have approved the escrow), releases the give tokens to the
    /// caller and closes the offer.
    pub fn accept(id: u64) -> Result<(), EscrowError> {
        let offer = OFFERS.get(&id).ok_or(EscrowError::NoSuchOffer)?;
        settle(id, offer, env::caller(), 0)
    }

    /// Cancels offer `id` (maker only) and returns its give tokens to the maker.
    pub fn cancel(id: u64) -> Result<(), EscrowError> {
        let (maker, give_token, give_amount, _, _) =
            OFFERS.get(&id).ok_or(EscrowError::NoSuchOffer)?;
        if env::caller() != maker {
            return Err(EscrowError::NotMaker);
        }
        OFFERS.remove(&id);
        env::call(&give_token, "transfer", &(maker, give_amount));
        OfferCancelled { id }.emit();
        Ok(())
    }

    /// Offer `id`: `(maker, give_token, give_amount, want_token, want_amount)`, if open.
    pub fn offer(id: u64) -> Option<(Address, Address, u128, Address, u128)> {
        OFFERS.get(&id)
    }

    /// Accepts each offer of `ids` for the caller independently (see the crate docs);
    /// returns which were accepted.
    pub fn try_accept_many(ids: Vec<u64>) -> Vec<bool> {
        let taker = env::caller();
        ids.into_iter()
            .map(|id| match OFFERS.get(&id) {
                Some(offer) => settle(id, offer, taker, PULL_GAS).is_ok(),
                None => false,
            })
            .collect()
    }
}

/// The most gas one pull of `try_accept_many` may spend (a token's `transfer_from` takes
/// about 15,000); `create_offer` and `accept` give their pull all the gas left (less the
/// 1/64 a `try_call` keeps for its caller).
pub const PULL_GAS: u64 = 200_000;

/// `token.transfer_from(from, to, amount)` through `try_call`, with at most `gas` (0:
/// all that is left).
fn pull(
    token: &Address,
    from: Address,
    to: Address,
    amount: u128,
    gas: u64,
) -> Result<(), EscrowError> {
    env::try_call_with_gas(token, "transfer_from", &(from, to, amount), gas)
        .map(|_| ())
        .map_err(|_| EscrowError::TransferFailed)
}

/// Pays the maker from the taker, releases the give tokens to the taker, closes the offer.
/// Changes nothing when the taker's payment fails.
fn settle(id: u64, offer: Offer, taker: Address, pull_gas: u64) -> Result<(), EscrowError> {
    let (maker, give_token, give_amount, want_token, want_amount) = offer;
    pull(&want_token, taker, maker, want_amount, pull_gas)?;
    env::call(&give_token, "transfer", &(taker, give_amount));
    OFFERS.remove(&id);
    OfferAccepted { id, taker }.emit();
    Ok(())
}
