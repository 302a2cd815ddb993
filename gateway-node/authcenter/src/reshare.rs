//! A center's part in a change of the center set, decided from what the chain holds (the
//! protocol is described in `vigil_protocol::authcenter::change`).
//!
//! - As a member of the proposed set: its ready key for the attempt (from the attempt's
//!   seed, kept on disk before the key leaves), then — once every dealer dealt — each
//!   share opened and checked against its dealer's commitments: the sum is kept on disk
//!   as its next share and a confirmation sent, or a complaint naming the dealer whose
//!   share is bad.
//! - As a dealer (t centers of the set in force): once every member is ready, its share
//!   weighted by its Lagrange coefficient, split by FROST's dealer among the proposed set
//!   (the split's randomness from the attempt's seed, so a center that crashed deals the
//!   same again), each share sealed to its member.
//! - As any center of either set: a timeout once the attempt's heights ran out.

use frost_ed25519::keys::{split, IdentifierList, SigningShare};
use frost_ed25519::{Identifier, SigningKey};
use rand_chacha::rand_core::{CryptoRng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use vigil_core::capability::authcenter::identifier;
use vigil_core::capability::authcenter::reshare::{lagrange, reshared_key, share_matches};
use vigil_protocol::authcenter::change::{CenterChange, ChangeOutcome, CHANGE_ATTEMPT_HEIGHTS};
use vigil_protocol::authcenter::share::{seal, Rng06, ShareKey, ShareLabel};
use vigil_protocol::authcenter::{
    AuthCenterSet, CenterChangeMessage, GroupKey, ReshareComplaint, ReshareConfirm, ReshareDeal, ReshareReady,
    ReshareTimeout,
};
use vigil_protocol::{Hash32, StateKey};

use crate::center::{frost, Center, CenterError, ChainView};
use crate::secrets::Seed;

/// What an attempt's seed makes: the ready key, the seed of the sealing, the split's
/// randomness.
struct AttemptKeys {
    share_key: ShareKey,
    seal_seed: [u8; 32],
    split: ChaCha20Rng,
}

fn attempt_keys(seed: &Seed) -> AttemptKeys {
    let mut rng = ChaCha20Rng::from_seed(seed.0);
    let mut share_seed = zeroize::Zeroizing::new([0u8; 32]);
    rng.fill_bytes(share_seed.as_mut());
    let mut seal_seed = [0u8; 32];
    rng.fill_bytes(&mut seal_seed);
    AttemptKeys { share_key: ShareKey::from_seed(&share_seed), seal_seed, split: rng }
}

/// The open change this step takes part in: its id, and the messages on chain so far.
struct View<'a, C: ChainView> {
    chain: &'a C,
    change: CenterChange,
    id: Hash32,
}

impl<C: ChainView> View<'_, C> {
    fn ready(&self, member: u16) -> Option<ReshareReady> {
        let r: ReshareReady = self.chain.get(&StateKey::ReshareReady(member))?;
        (r.change == self.id && r.attempt == self.change.attempt).then_some(r)
    }

    fn deal(&self, dealer: u16) -> Option<ReshareDeal> {
        let d: ReshareDeal = self.chain.get(&StateKey::ReshareDeal(dealer))?;
        (d.change == self.id && d.attempt == self.change.attempt).then_some(d)
    }

    fn members(&self) -> std::ops::Range<u16> {
        0..u16::try_from(self.change.proposed.centers.len()).unwrap_or(0)
    }

    fn readies(&self) -> Option<Vec<ReshareReady>> {
        self.members().map(|m| self.ready(m)).collect()
    }

    fn deals(&self) -> Option<Vec<ReshareDeal>> {
        self.change.dealers.iter().map(|&d| self.deal(d)).collect()
    }

    /// Whether the attempt waits for someone (so a timeout would end it).
    fn waiting(&self) -> bool {
        self.readies().is_none()
            || self.deals().is_none()
            || self.members().any(|m| self.change.confirmed.binary_search(&m).is_err())
    }
}

/// The change messages `center` sends now.
pub(crate) fn step<R: RngCore + CryptoRng>(
    center: &mut Center,
    chain: &impl ChainView,
    set: &AuthCenterSet,
    key: &GroupKey,
    rng: &mut R,
) -> Result<Vec<CenterChangeMessage>, CenterError> {
    let change: Option<CenterChange> = chain.get(&StateKey::CenterChange);
    let Some(change) = change.filter(|c| c.outcome == ChangeOutcome::Open && c.from == set.hash()) else {
        if chain.complete() && !center.store.secrets().reshares.is_empty() {
            center.store.update(|s| s.reshares.clear())?;
        }
        return Ok(Vec::new());
    };
    let identity = *center.identity();
    let old = set.index_of(&identity);
    let dealer = old.filter(|i| change.dealers.binary_search(i).is_ok());
    let member = change.proposed.index_of(&identity);
    let view = View { chain, id: change.id(), change };
    let (id, at) = (view.id, view.change.attempt);
    let mut out = Vec::new();
    if dealer.is_some() || member.is_some() {
        let seed = attempt_seed(center, &id, at, rng)?;
        let mut keys = attempt_keys(&seed);
        if member.is_some_and(|m| view.ready(m).is_none()) {
            out.push(CenterChangeMessage::Ready(ReshareReady {
                change: id,
                attempt: at,
                share_key: keys.share_key.public_key(),
            }));
        }
        if let (Some(d), Some(readies)) = (dealer, view.readies()) {
            if view.deal(d).is_none() {
                out.push(CenterChangeMessage::Deal(deal(center, key, &view, d, &readies, &mut keys)?));
            }
        }
        if let (Some(m), Some(deals)) = (member, view.deals()) {
            if view.change.confirmed.binary_search(&m).is_err() {
                out.push(receive(center, key, &view, m, &deals, &keys)?);
            }
        }
    }
    let due = view.change.attempt_started.0.saturating_add(CHANGE_ATTEMPT_HEIGHTS);
    let party = old.is_some() || member.is_some();
    if out.is_empty() && party && chain.height().0.saturating_add(1) >= due && view.waiting() {
        out.push(CenterChangeMessage::Timeout(ReshareTimeout { change: id, attempt: at }));
    }
    Ok(out)
}

/// The attempt's seed: the kept one, or a new one kept before anything derived leaves.
fn attempt_seed<R: RngCore + CryptoRng>(
    center: &mut Center,
    id: &Hash32,
    attempt: u32,
    rng: &mut R,
) -> Result<Seed, CenterError> {
    let name = format!("{}/{attempt}", hex::encode(id.0));
    if let Some(seed) = center.store.secrets().reshares.get(&name) {
        return Ok(seed.clone());
    }
    let mut seed = Seed([0u8; 32]);
    rng.fill_bytes(&mut seed.0);
    center.store.update(|s| {
        s.reshares.insert(name, seed.clone());
    })?;
    Ok(seed)
}

/// Dealer `d`'s sharing of its weighted share among the proposed set.
fn deal<C: ChainView>(
    center: &mut Center,
    key: &GroupKey,
    view: &View<'_, C>,
    d: u16,
    readies: &[ReshareReady],
    keys: &mut AttemptKeys,
) -> Result<ReshareDeal, CenterError> {
    let proposed = &view.change.proposed;
    let share = center.key_package(key)?.signing_share().to_scalar();
    let weighted = share * lagrange(&view.change.dealers, d).map_err(frost)?;
    let secret = SigningKey::from_scalar(weighted).map_err(frost)?;
    let ids: Vec<Identifier> = view.members().map(identifier).collect::<Result<_, _>>().map_err(frost)?;
    let n = u16::try_from(ids.len()).map_err(frost)?;
    let (shares, _) =
        split(&secret, n, proposed.threshold, IdentifierList::Custom(&ids), &mut keys.split).map_err(frost)?;
    let first = shares.values().next().ok_or_else(|| frost("the split made no share"))?;
    let point =
        |b: Vec<u8>| -> Result<[u8; 32], CenterError> { b.try_into().map_err(|_| frost("a point is 32 bytes")) };
    let commitment: Vec<[u8; 32]> =
        first.commitment().serialize().map_err(frost)?.into_iter().map(point).collect::<Result<_, _>>()?;
    let mut seal_rng = Rng06(ChaCha20Rng::from_seed(keys.seal_seed));
    let mut sealed = Vec::with_capacity(ids.len());
    for ((m, id), ready) in view.members().zip(&ids).zip(readies) {
        let share = shares.get(id).ok_or_else(|| frost("the split made no share for a member"))?;
        let bytes: zeroize::Zeroizing<[u8; 32]> = zeroize::Zeroizing::new(
            share.signing_share().serialize().try_into().map_err(|_| frost("a share is 32 bytes"))?,
        );
        let label = ShareLabel { set: view.id, attempt: view.change.attempt, sender: d, recipient: m };
        sealed.push(seal(&ready.share_key, &label, &bytes, &mut seal_rng).map_err(frost)?);
    }
    Ok(ReshareDeal { change: view.id, attempt: view.change.attempt, commitment, shares: sealed })
}

/// Member `m`'s check of what the dealers sent it: a confirmation (its new share kept
/// first) or a complaint naming the first dealer whose share is bad.
fn receive<C: ChainView>(
    center: &mut Center,
    key: &GroupKey,
    view: &View<'_, C>,
    m: u16,
    deals: &[ReshareDeal],
    keys: &AttemptKeys,
) -> Result<CenterChangeMessage, CenterError> {
    let (id, at) = (view.id, view.change.attempt);
    let threshold = view.change.proposed.threshold;
    let mut sum = None;
    for (&d, deal) in view.change.dealers.iter().zip(deals) {
        let label = ShareLabel { set: id, attempt: at, sender: d, recipient: m };
        let opened = deal.shares.get(usize::from(m)).and_then(|sealed| keys.share_key.open(sealed, &label).ok());
        let share = opened
            .filter(|share| share_matches(m, &share[..], &deal.commitment, threshold))
            .and_then(|share| SigningShare::deserialize(&share[..]).ok());
        let Some(share) = share else {
            tracing::warn!(member = m, dealer = d, "a dealer's share does not match its commitments: complaining");
            let share_secret = *keys.share_key.secret();
            return Ok(CenterChangeMessage::Complaint(ReshareComplaint {
                change: id,
                attempt: at,
                dealer: d,
                share_secret,
            }));
        };
        sum = Some(sum.map_or(share.to_scalar(), |s| s + share.to_scalar()));
    }
    let share = SigningShare::new(sum.ok_or_else(|| frost("no dealer"))?);
    let reshared = reshared_key(&view.change.proposed, deals, key).map_err(frost)?;
    let verifying: Vec<u8> = frost_ed25519::keys::VerifyingShare::from(share).serialize().map_err(frost)?;
    if reshared.verifying_share(m).map(|v| v.to_vec()) != Some(verifying) {
        return Err(frost("the shares received do not sum to the verifying share the commitments make"));
    }
    let bytes: [u8; 32] = share.serialize().try_into().map_err(|_| frost("a share is 32 bytes"))?;
    if !center.store.secrets().next_shares.iter().any(|s| s.0 == bytes) {
        center.store.update(|s| s.next_shares.push(Seed(bytes)))?;
    }
    Ok(CenterChangeMessage::Confirm(ReshareConfirm { change: id, attempt: at, group_key: key.key }))
}
