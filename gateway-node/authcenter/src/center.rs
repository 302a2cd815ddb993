//! One center's part, decided from what the chain holds: [`Center::step`] reads the
//! chain (through [`ChainView`]) and returns the messages to send now. It keeps no state
//! of its own but its secrets ([`SecretStore`]), so a center that crashed picks up where
//! the chain says it is, and two steps on the same chain send the same messages.
//!
//! - Key generation: round 1 (from the attempt's seed, kept before the package leaves),
//!   round 2 (shares sealed to each other participant's share key), then part 3 on the
//!   shares sent to it: a confirmation naming the group key (its signing share kept
//!   first), or a complaint naming the center whose share does not match.
//! - Signing: nonce commitments kept ahead on chain (the nonces on disk before their
//!   commitments leave; a batch not yet on chain is sent again as it is), a share for
//!   every open session that chose this center — only for a message the chain's rules
//!   make (the root certificate is rebuilt and compared byte for byte) — and a restart of
//!   a session past its timeout.

use std::collections::BTreeMap;

use frost_ed25519::keys::dkg;
use frost_ed25519::keys::{KeyPackage, SigningShare, VerifyingShare};
use frost_ed25519::round1::{SigningCommitments, SigningNonces};
/// A secret nonce scalar (frost-ed25519 names no alias for it).
type Nonce = frost_core::round1::Nonce<frost_ed25519::Ed25519Sha512>;
use frost_ed25519::{Identifier, VerifyingKey};
use rand_chacha::rand_core::{CryptoRng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::de::DeserializeOwned;
use vigil_core::capability::authcenter::issuance::certificate_tbs;
use vigil_core::capability::authcenter::session::{root_tbs, signing_package};
use vigil_core::capability::authcenter::{from_chain, identifier, to_chain};
use vigil_protocol::authcenter::change::{CenterChange, ChangeOutcome};
use vigil_protocol::authcenter::claims::{open_claims, ClaimsError};
use vigil_protocol::authcenter::share::{seal, Rng06, ShareKey, ShareLabel};
use vigil_protocol::authcenter::signing::{NONCES_AHEAD_MAX, NONCE_BATCH_MAX, SIGNING_TIMEOUT_HEIGHTS};
use vigil_protocol::authcenter::{
    AuthCenterSet, CertAuthority, CertRequestRecord, CertRequests, CertVerdict, DkgComplaint, DkgConfirm, DkgMessage,
    DkgRound1, DkgRound2, DkgState, GroupKey, NonceCommitments, NonceQueue, SessionOutcome, SignatureShare,
    SigningMessage, SigningPurpose, SigningSession, SigningState, Verdict,
};
use vigil_protocol::{ChainId, Height, Payload, PublicKey, StateKey};

use crate::check::{Application, IdentityCheck};
use crate::secrets::{NoncePair, SecretStore, SecretsError, Seed};

/// A new batch of commitments is made when fewer than this many are unused on chain.
pub const NONCES_LOW_WATER: usize = 32;

/// What a center reads of the chain (a verified view of a node's state in the process;
/// the ledger itself in tests).
pub trait ChainView {
    fn get<T: DeserializeOwned>(&self, key: &StateKey) -> Option<T>;
    fn chain_id(&self) -> ChainId;
    /// The newest committed height.
    fn height(&self) -> Height;
    /// Whether every `get` so far was answered from the chain. A view that reads lazily
    /// answers `None` for an entry it has not read (and reads it for the next step); a
    /// step on such a view must not drop anything it keeps on the strength of an absence.
    fn complete(&self) -> bool {
        true
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CenterError {
    #[error("this chain names no authentication centers")]
    NoCenters,
    #[error("this key is not one of the chain's authentication centers")]
    NotACenter,
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error("the key generation failed: {0}")]
    Frost(String),
    #[error("the group key is ready but this center's signing share is not in its secret file (lost?): its share must be repaired by the other centers")]
    NoSigningShare,
}

pub(crate) fn frost(e: impl std::fmt::Display) -> CenterError {
    CenterError::Frost(e.to_string())
}

/// What an attempt's seed makes: the share key, part 1, and the seed of the sealing.
struct Attempt {
    share_key: ShareKey,
    round1: dkg::round1::SecretPackage,
    package: dkg::round1::Package,
    seal_seed: [u8; 32],
}

fn attempt(seed: &Seed, me: Identifier, participants: u16, threshold: u16) -> Result<Attempt, CenterError> {
    let mut rng = ChaCha20Rng::from_seed(seed.0);
    let mut share_seed = zeroize::Zeroizing::new([0u8; 32]);
    rng.fill_bytes(share_seed.as_mut());
    let mut seal_seed = [0u8; 32];
    rng.fill_bytes(&mut seal_seed);
    let (round1, package) = dkg::part1(me, participants, threshold, &mut rng).map_err(frost)?;
    Ok(Attempt { share_key: ShareKey::from_seed(&share_seed), round1, package, seal_seed })
}

/// One authentication center.
pub struct Center {
    identity: PublicKey,
    /// Its position in the set in force (set by each step; a center named only by an
    /// open change has none yet).
    index: u16,
    pub(crate) store: SecretStore,
    issuer: Option<Issuer>,
    /// Requests read by a recent step, with the height (in memory: a restarted center
    /// reads them all again).
    judged: BTreeMap<u64, Height>,
    /// Open sessions a step read, under the shares in force since the height given: when
    /// to read each again, and this center's commitment in it.
    sessions_seen: (Height, BTreeMap<u64, SessionSeen>),
}

/// What a step saw of an open session.
struct SessionSeen {
    recheck: Height,
    seq: Option<u64>,
}

/// What a center decides certificate requests with: its long-term X25519 key (the claims
/// are sealed to it) and its identification check.
pub struct Issuer {
    pub claims_key: ShareKey,
    pub check: Box<dyn IdentityCheck>,
}

/// Most pending requests one step reads (oldest first, skipping those read lately).
pub const REQUESTS_SCANNED: usize = 64;
/// Heights before a request this center read is read again (its verdict may have been
/// lost on its way).
pub const RECHECK_HEIGHTS: u64 = 4;

impl Center {
    /// The center whose identity key is `identity`, on the chain `chain` shows: one of
    /// the set in force, or of the set an open change proposes.
    pub fn new(identity: &PublicKey, chain: &impl ChainView, store: SecretStore) -> Result<Center, CenterError> {
        let (set, index) = Self::named(identity, chain)?;
        tracing::debug!(centers = set.centers.len(), index, "center found in its set");
        let (judged, sessions_seen) = (BTreeMap::new(), (Height(0), BTreeMap::new()));
        Ok(Center { identity: *identity, index, store, issuer: None, judged, sessions_seen })
    }

    /// The set that names `identity` — the set in force, else the set an open change
    /// proposes — and its position there.
    pub fn named(identity: &PublicKey, chain: &impl ChainView) -> Result<(AuthCenterSet, u16), CenterError> {
        let set: AuthCenterSet = chain.get(&StateKey::AuthCenters).ok_or(CenterError::NoCenters)?;
        if let Some(index) = set.index_of(identity) {
            return Ok((set, index));
        }
        let change: Option<CenterChange> = chain.get(&StateKey::CenterChange);
        match change.filter(|c| c.outcome == ChangeOutcome::Open) {
            Some(change) => {
                let index = change.proposed.index_of(identity).ok_or(CenterError::NotACenter)?;
                Ok((change.proposed, index))
            }
            None => Err(CenterError::NotACenter),
        }
    }

    pub fn identity(&self) -> &PublicKey {
        &self.identity
    }

    /// The center decides certificate requests (without, it takes part in key generation
    /// and signing only).
    pub fn with_issuer(mut self, issuer: Issuer) -> Center {
        self.issuer = Some(issuer);
        self
    }

    pub fn index(&self) -> u16 {
        self.index
    }

    /// The messages to send now.
    pub fn step<R: RngCore + CryptoRng>(
        &mut self,
        chain: &impl ChainView,
        rng: &mut R,
    ) -> Result<Vec<Payload>, CenterError> {
        let set: AuthCenterSet = chain.get(&StateKey::AuthCenters).ok_or(CenterError::NoCenters)?;
        let Some(key) = chain.get::<GroupKey>(&StateKey::GroupKey) else {
            let Some(index) = set.index_of(&self.identity) else { return Ok(Vec::new()) };
            self.index = index;
            return Ok(self.keygen(chain, &set, rng)?.map(|m| Payload::Dkg(Box::new(m))).into_iter().collect());
        };
        let index = set.index_of(&self.identity);
        if let Some(index) = index {
            self.index = index;
        }
        let reshare = crate::reshare::step(self, chain, &set, &key, rng)?;
        let mut out: Vec<Payload> = reshare.into_iter().map(|m| Payload::CenterChange(Box::new(m))).collect();
        if index.is_some() {
            out.extend(self.signing(chain, &set, &key, rng)?);
        }
        Ok(out)
    }

    fn keygen<R: RngCore + CryptoRng>(
        &mut self,
        chain: &impl ChainView,
        set: &AuthCenterSet,
        rng: &mut R,
    ) -> Result<Option<DkgMessage>, CenterError> {
        let dkg_state: DkgState = chain.get(&StateKey::Dkg).unwrap_or_default();
        let participants = dkg_state.participants(set.centers.len());
        let me = self.index;
        if participants.binary_search(&me).is_err() || participants.len() < usize::from(set.threshold) {
            return Ok(None);
        }
        let n = participants.len() as u16;
        let at = dkg_state.attempt;
        let seed = match self.store.secrets().attempts.get(&at) {
            Some(seed) => seed.clone(),
            None => {
                let mut seed = Seed([0u8; 32]);
                rng.fill_bytes(&mut seed.0);
                self.store.update(|s| {
                    s.attempts.insert(at, seed.clone());
                })?;
                seed
            }
        };
        let mine = attempt(&seed, identifier(me).map_err(frost)?, n, set.threshold)?;
        let round1 = |i: u16| chain.get::<DkgRound1>(&StateKey::DkgRound1(i)).filter(|p| p.attempt == at);
        let round2 = |i: u16| chain.get::<DkgRound2>(&StateKey::DkgRound2(i)).filter(|p| p.attempt == at);
        if round1(me).is_none() {
            let package = to_chain(&mine.package, set.hash(), at, mine.share_key.public_key()).map_err(frost)?;
            return Ok(Some(DkgMessage::Round1(package)));
        }
        let mut others = BTreeMap::new();
        for &i in participants.iter().filter(|&&i| i != me) {
            let Some(package) = round1(i) else { return Ok(None) };
            others.insert(identifier(i).map_err(frost)?, (i, package));
        }
        let frost_others: BTreeMap<Identifier, dkg::round1::Package> = others
            .iter()
            .map(|(id, (_, p))| from_chain(p, set.threshold).map(|p| (*id, p)))
            .collect::<Result<_, _>>()
            .map_err(frost)?;
        let (round2_secret, sent) = dkg::part2(mine.round1, &frost_others).map_err(frost)?;
        if round2(me).is_none() {
            let mut seal_rng = Rng06(ChaCha20Rng::from_seed(mine.seal_seed));
            let mut shares = Vec::with_capacity(others.len());
            for (id, (j, package)) in &others {
                let share: [u8; 32] = sent
                    .get(id)
                    .ok_or_else(|| frost("part 2 made no share for a participant"))?
                    .signing_share()
                    .serialize()
                    .try_into()
                    .map_err(|_| frost("a share is 32 bytes"))?;
                let label = ShareLabel { set: set.hash(), attempt: at, sender: me, recipient: *j };
                shares.push(seal(&package.share_key, &label, &share, &mut seal_rng).map_err(frost)?);
            }
            return Ok(Some(DkgMessage::Round2(DkgRound2 { set: set.hash(), attempt: at, shares })));
        }
        if dkg_state.confirmed.binary_search(&me).is_ok() {
            return Ok(None);
        }
        let mut received = BTreeMap::new();
        for (id, (sender, _)) in &others {
            let Some(package) = round2(*sender) else { return Ok(None) };
            let complaint = || {
                let share_secret = *mine.share_key.secret();
                Some(DkgMessage::Complaint(DkgComplaint {
                    set: set.hash(),
                    attempt: at,
                    accused: *sender,
                    share_secret,
                }))
            };
            let Some(sealed) = package.share_for(&participants, *sender, me) else { return Ok(complaint()) };
            let label = ShareLabel { set: set.hash(), attempt: at, sender: *sender, recipient: me };
            let Ok(share) = mine.share_key.open(sealed, &label) else { return Ok(complaint()) };
            let Ok(share) = SigningShare::deserialize(&share[..]) else { return Ok(complaint()) };
            received.insert(*id, dkg::round2::Package::new(share));
        }
        match dkg::part3(&round2_secret, &frost_others, &received) {
            Ok((key_package, public)) => {
                let share: [u8; 32] =
                    key_package.signing_share().serialize().try_into().map_err(|_| frost("a share is 32 bytes"))?;
                self.store.update(|s| s.signing_share = Some(Seed(share)))?;
                let key: [u8; 32] = public
                    .verifying_key()
                    .serialize()
                    .map_err(frost)?
                    .try_into()
                    .map_err(|_| frost("a key is 32 bytes"))?;
                let group_key = PublicKey::from_bytes(&key).map_err(frost)?;
                Ok(Some(DkgMessage::Confirm(DkgConfirm { set: set.hash(), attempt: at, group_key })))
            }
            Err(frost_ed25519::Error::InvalidSecretShare { culprit: Some(culprit) }) => {
                let accused = others
                    .get(&culprit)
                    .map(|(i, _)| *i)
                    .ok_or_else(|| frost("part 3 named a center that is not a participant"))?;
                let share_secret = *mine.share_key.secret();
                Ok(Some(DkgMessage::Complaint(DkgComplaint { set: set.hash(), attempt: at, accused, share_secret })))
            }
            Err(e) => Err(frost(e)),
        }
    }

    /// The center's share of the key in force: the one it holds, or the one a change of
    /// the set gave it once that change is in force (then the old one is wiped).
    pub(crate) fn key_package(&mut self, key: &GroupKey) -> Result<KeyPackage, CenterError> {
        let verifying = key.verifying_share(self.index).ok_or(CenterError::NoSigningShare)?;
        let matches = |seed: &Seed| {
            SigningShare::deserialize(&seed.0)
                .ok()
                .and_then(|s| VerifyingShare::from(s).serialize().ok())
                .is_some_and(|v| v[..] == verifying[..])
        };
        let share = match self.store.secrets().signing_share.clone().filter(|s| matches(s)) {
            Some(share) => share,
            None => {
                let next = self.store.secrets().next_shares.iter().find(|s| matches(s)).cloned();
                let next = next.ok_or(CenterError::NoSigningShare)?;
                self.store.update(|s| {
                    s.signing_share = Some(next.clone());
                    s.next_shares.clear();
                })?;
                tracing::info!(center = self.index, "the share a change of the center set gave is in force");
                next
            }
        };
        Ok(KeyPackage::new(
            identifier(self.index).map_err(frost)?,
            SigningShare::deserialize(&share.0).map_err(frost)?,
            VerifyingShare::deserialize(&verifying).map_err(frost)?,
            VerifyingKey::deserialize(&key.key.to_bytes()).map_err(frost)?,
            key.threshold,
        ))
    }

    /// The exact bytes the chain's rules make for a session's purpose.
    fn expected_message(chain: &impl ChainView, purpose: &SigningPurpose, key: &GroupKey) -> Option<Vec<u8>> {
        match purpose {
            SigningPurpose::Root => {
                let authority: CertAuthority = chain.get(&StateKey::CertAuthority)?;
                root_tbs(&chain.chain_id(), &authority, key).der().ok()
            }
            SigningPurpose::Certificate(id) => {
                let record: CertRequestRecord = chain.get(&StateKey::CertRequest(*id))?;
                certificate_tbs(&chain.chain_id(), &record)?.der().ok()
            }
        }
    }

    /// A verdict on each undecided request this center has not judged: its claims opened
    /// with its long-term key and checked (a verdict is kept before it leaves and given
    /// once).
    fn verdicts(&mut self, chain: &impl ChainView) -> Result<Vec<Payload>, CenterError> {
        let Some(issuer) = &self.issuer else { return Ok(Vec::new()) };
        let requests: CertRequests = chain.get(&StateKey::CertRequests).unwrap_or_default();
        let chain_id = chain.chain_id();
        let me = usize::from(self.index);
        let mut decided = Vec::new();
        let height = chain.height();
        // Requests this center decided lately are not read again for a few heights, so a
        // step reaches further down a long queue (its verdict is on its way meanwhile).
        self.judged.retain(|id, _| requests.pending.contains(id));
        let due = |id: &u64, judged: &BTreeMap<u64, Height>| {
            judged.get(id).is_none_or(|at| height.0.saturating_sub(at.0) >= RECHECK_HEIGHTS)
        };
        let ids: Vec<u64> =
            requests.pending.iter().copied().filter(|id| due(id, &self.judged)).take(REQUESTS_SCANNED).collect();
        for id in ids {
            let Some(record) = chain.get::<CertRequestRecord>(&StateKey::CertRequest(id)) else { continue };
            self.judged.insert(id, height);
            if record.verdicts.get(me).is_none_or(Option::is_some) {
                continue;
            }
            let verdict = match self.store.secrets().verdicts.get(&id) {
                Some(kept) => kept.clone(),
                None => {
                    let opened = record.request.sealed_claims.get(me).ok_or(ClaimsError::Open).and_then(|sealed| {
                        open_claims(&issuer.claims_key, self.index, &record.request.claims_digest, sealed)
                    });
                    match opened {
                        Ok(claims) => issuer.check.check(&Application {
                            chain: &chain_id,
                            id,
                            request: &record.request,
                            requester: &record.requester,
                            claims: &claims,
                        }),
                        Err(e) => Verdict::Reject(format!("the claims sealed to this center: {e}")),
                    }
                }
            };
            decided.push((id, verdict));
        }
        // Kept first; those of requests no longer waiting are forgotten (when the view
        // read every request: an unread one is not a decided one).
        let keep = |id: &u64| requests.pending.contains(id);
        let changed = decided.iter().any(|(id, v)| self.store.secrets().verdicts.get(id) != Some(v))
            || (chain.complete() && self.store.secrets().verdicts.keys().any(|id| !keep(id)));
        if changed {
            let complete = chain.complete();
            self.store.update(|s| {
                s.verdicts.extend(decided.iter().cloned());
                if complete {
                    s.verdicts.retain(|id, _| keep(id));
                }
            })?;
        }
        Ok(decided
            .into_iter()
            .map(|(request, verdict)| Payload::CertVerdict(CertVerdict { request, verdict }))
            .collect())
    }

    fn signing<R: RngCore + CryptoRng>(
        &mut self,
        chain: &impl ChainView,
        set: &AuthCenterSet,
        key: &GroupKey,
        rng: &mut R,
    ) -> Result<Vec<Payload>, CenterError> {
        if key.verifying_share(self.index).is_none() {
            return Ok(Vec::new());
        }
        let key_package = self.key_package(key)?;
        let mut out = Vec::new();
        let state: SigningState = chain.get(&StateKey::Signing).unwrap_or_default();
        let mut in_use = Vec::new();
        let height = chain.height();
        // What steps saw of each open session: read again only when something may be due.
        if self.sessions_seen.0 != key.since {
            self.sessions_seen = (key.since, BTreeMap::new());
        }
        self.sessions_seen.1.retain(|id, _| state.open.contains(id));
        for &id in &state.open {
            if let Some(seen) = self.sessions_seen.1.get(&id).filter(|seen| height < seen.recheck) {
                in_use.extend(seen.seq);
                continue;
            }
            let Some(session) = chain.get::<SigningSession>(&StateKey::SigningSession(id)) else { continue };
            if session.outcome != SessionOutcome::Open {
                continue;
            }
            let slot = session.signers.iter().position(|&c| c == self.index);
            let seq = slot.and_then(|k| session.commitments.get(k)).map(|c| c.seq);
            // Its share sent (or not a signer): read again after a few heights, or when
            // the session may be restarted.
            let timeout = Height(session.opened.0.saturating_add(SIGNING_TIMEOUT_HEIGHTS));
            let soon = Height(height.0.saturating_add(RECHECK_HEIGHTS));
            // A session opened under shares no longer in force restarts at once.
            let stale = session.opened < key.since;
            let share = if stale { None } else { self.share_for(chain, &session, key, &key_package, &mut in_use) };
            let sharing = share.is_some();
            if let Some(message) = share {
                out.push(Payload::Signing(Box::new(message)));
            }
            // A session this center's own share is on its way to is not given up on.
            let due = session.opened.0.saturating_add(SIGNING_TIMEOUT_HEIGHTS);
            if stale || (!sharing && chain.height().0 >= due && session.shares.iter().any(Option::is_none)) {
                out.push(Payload::Signing(Box::new(SigningMessage::Restart(id))));
            } else if chain.complete() {
                // (A view that lacked an entry — the session's record, say — is read
                // again with it: nothing it decided is remembered.)
                let recheck = if sharing { soon } else { timeout.max(soon) };
                self.sessions_seen.1.insert(id, SessionSeen { recheck, seq });
            }
        }
        let queue: NonceQueue = chain.get(&StateKey::Nonces(self.index)).unwrap_or_default();
        // Nonces the chain no longer holds a commitment for, and no open session uses.
        let keep = |seq: &u64| *seq >= queue.next || queue.unused.iter().any(|c| c.seq == *seq) || in_use.contains(seq);
        // An open session not read would look like no session: its nonce must stay.
        if chain.complete() && self.store.secrets().nonces.keys().any(|s| !keep(s)) {
            self.store.update(|s| s.nonces.retain(|seq, _| keep(seq)))?;
        }
        out.extend(self.verdicts(chain)?);
        if let Some(batch) = self.commitments(set, &queue, &key_package, rng)? {
            out.push(Payload::Signing(Box::new(SigningMessage::Commitments(batch))));
        }
        Ok(out)
    }

    /// This center's share for `session`, if it is a signer that has not sent one and the
    /// message is what the chain's rules make.
    fn share_for(
        &self,
        chain: &impl ChainView,
        session: &SigningSession,
        key: &GroupKey,
        key_package: &KeyPackage,
        in_use: &mut Vec<u64>,
    ) -> Option<SigningMessage> {
        let slot = session.signers.iter().position(|&c| c == self.index)?;
        let seq = session.commitments.get(slot)?.seq;
        in_use.push(seq);
        if session.shares.get(slot)?.is_some() {
            return None;
        }
        if Self::expected_message(chain, &session.purpose, key)? != session.message {
            tracing::warn!(
                session = session.id,
                "the session's message is not what the chain's rules make: not signed"
            );
            return None; // never sign bytes the chain's rules did not make
        }
        let Some(pair) = self.store.secrets().nonces.get(&seq) else {
            tracing::warn!(session = session.id, seq, "no nonce kept for this center's commitment: cannot sign");
            return None;
        };
        let nonces =
            SigningNonces::from_nonces(Nonce::deserialize(&pair.hiding).ok()?, Nonce::deserialize(&pair.binding).ok()?);
        let share = frost_ed25519::round2::sign(&signing_package(session).ok()?, &nonces, key_package).ok()?;
        let share: [u8; 32] = share.serialize().try_into().ok()?;
        Some(SigningMessage::Share(SignatureShare { session: session.id, share }))
    }

    /// The batch of commitments to send: the one kept but not yet on chain, or a new one
    /// (its nonces written to disk first) when few are left unused.
    fn commitments<R: RngCore + CryptoRng>(
        &mut self,
        set: &AuthCenterSet,
        queue: &NonceQueue,
        key_package: &KeyPackage,
        rng: &mut R,
    ) -> Result<Option<NonceCommitments>, CenterError> {
        let pending: Vec<(u64, NoncePair)> =
            self.store.secrets().nonces.range(queue.next..).map(|(s, p)| (*s, p.clone())).collect();
        if pending.is_empty() {
            if queue.unused.len() >= NONCES_LOW_WATER {
                return Ok(None);
            }
            let count = NONCE_BATCH_MAX.min(NONCES_AHEAD_MAX - queue.unused.len());
            let mut made = Vec::with_capacity(count);
            for k in 0..count as u64 {
                let nonces = SigningNonces::new(key_package.signing_share(), rng);
                let pair = NoncePair {
                    hiding: nonces.hiding().serialize().try_into().map_err(|_| frost("a nonce is 32 bytes"))?,
                    binding: nonces.binding().serialize().try_into().map_err(|_| frost("a nonce is 32 bytes"))?,
                };
                made.push((queue.next + k, pair));
            }
            self.store.update(|s| s.nonces.extend(made.iter().cloned()))?;
            return self.commitments(set, queue, key_package, rng);
        }
        let mut commitments = Vec::with_capacity(pending.len());
        for (_, pair) in &pending {
            let nonces = SigningNonces::from_nonces(
                Nonce::deserialize(&pair.hiding).map_err(frost)?,
                Nonce::deserialize(&pair.binding).map_err(frost)?,
            );
            let public = SigningCommitments::from(&nonces);
            let point = |p: &frost_ed25519::round1::NonceCommitment| -> Result<[u8; 32], CenterError> {
                p.serialize().map_err(frost)?.try_into().map_err(|_| frost("a point is 32 bytes"))
            };
            commitments.push((point(public.hiding())?, point(public.binding())?));
        }
        Ok(Some(NonceCommitments { set: set.hash(), first_seq: queue.next, commitments }))
    }
}
