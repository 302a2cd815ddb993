//! What the web wallet decides without a browser: input checks (their errors are
//! [`InputError`]s), amounts, labels for verdicts, evidence and progress, the lines the
//! vault shows, settings, which chain and gateways to trust. Plain Rust, tested natively.

use serde::{Deserialize, Serialize};
use vigil_protocol::authcenter::issuance::Claim;
use vigil_protocol::authcenter::{CertState, IdentityClaims, Subject};
use vigil_protocol::{Address, ConsensusMode, Hash32, NodeId, UserId, ValidatorSet};
use vigil_wallet::detector::Verdict;
use vigil_wallet::light::{CheckpointPin, CrossCheck, PinKind, Start};
use vigil_wallet::session::vault::{Phase, UploadReport};
use vigil_wallet::session::EvidenceReport;

use crate::error::{InputError, Quantity, UiError};

/// Minutes without a key press or click before the wallet locks itself.
pub const IDLE_LOCK_MINUTES: u32 = 5;
/// Blocks the explorer shows.
pub const EXPLORER_BLOCKS: u64 = 10;

/// What the user chose in Settings (kept in the browser's storage, no secrets).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// Gateway base URL; empty means this page's own origin.
    #[serde(default)]
    pub gateway: String,
    /// Node ids (hex) to cross-check; empty means every validator.
    #[serde(default)]
    pub cross_check: Vec<String>,
    /// Where the light client starts from.
    #[serde(default)]
    pub start: LightStart,
    /// The other chain's gateway, for transfers across; empty means the first other-chain
    /// gateway the serving gateway lists (if any).
    #[serde(default)]
    pub other_chain: String,
}

/// Where the light client starts from (Settings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LightStart {
    /// The pinned genesis set, following every validator-set change since.
    #[default]
    Genesis,
    /// The newest stable checkpoint, verified against the pinned genesis set (reached
    /// by the certified set changes up to it).
    CheckpointGenesisSet,
    /// The newest stable checkpoint, if its digest has this hash (hex, checked when
    /// typed).
    CheckpointHash(String),
}

impl LightStart {
    /// The value of its radio button in Settings.
    pub fn choice(&self) -> &'static str {
        match self {
            LightStart::Genesis => "genesis",
            LightStart::CheckpointGenesisSet => "checkpoint-set",
            LightStart::CheckpointHash(_) => "checkpoint-hash",
        }
    }

    /// What a checkpoint is verified against (`None`: start from genesis). A hash that
    /// no longer reads (this browser's storage) starts from genesis.
    pub fn pin(&self, genesis: &ValidatorSet) -> Option<CheckpointPin> {
        match self {
            LightStart::Genesis => None,
            LightStart::CheckpointGenesisSet => Some(CheckpointPin::Set(genesis.clone())),
            LightStart::CheckpointHash(hex) => hex.parse::<Hash32>().ok().map(CheckpointPin::Hash),
        }
    }
}

/// Where to start from, as chosen in Settings: the radio button's value and the hash
/// typed (needed only for a pinned hash).
pub fn light_start(choice: Option<&str>, hash: &str) -> Result<LightStart, InputError> {
    match choice {
        Some("checkpoint-set") => Ok(LightStart::CheckpointGenesisSet),
        Some("checkpoint-hash") => {
            let hex = hash.trim().to_ascii_lowercase();
            hex.parse::<Hash32>().map_err(|_| InputError::CheckpointHash)?;
            Ok(LightStart::CheckpointHash(hex))
        }
        _ => Ok(LightStart::Genesis),
    }
}

/// How the light client started, in words.
pub fn start_line(start: &Start) -> String {
    match start {
        Start::Genesis { .. } => {
            "Light client started from genesis: it follows every validator-set change from the pinned genesis set."
                .to_string()
        }
        Start::Checkpoint(c) => {
            let against = match (c.pin, c.set_changes_followed) {
                (PinKind::Hash, _) => "the pinned hash".to_string(),
                (PinKind::Set, 0) => "the pinned genesis set".to_string(),
                (PinKind::Set, 1) => "the pinned genesis set (1 set change followed)".to_string(),
                (PinKind::Set, n) => format!("the pinned genesis set ({n} set changes followed)"),
            };
            let blocks = if c.age_blocks == 1 { "block" } else { "blocks" };
            format!(
                "Light client started from checkpoint #{} (hash {}), verified against {against}: {} validators signed it; it was {} {blocks} behind height {}.",
                c.height,
                short(&c.digest_hash.to_string()),
                c.signers,
                c.age_blocks,
                c.newest_height
            )
        }
    }
}

impl Settings {
    /// The nodes to cross-check, `None` for every validator (the ids that do not
    /// parse are dropped: they come from this browser's storage).
    pub fn cross_check_ids(&self) -> Option<Vec<NodeId>> {
        let ids: Vec<NodeId> = self.cross_check.iter().filter_map(|h| h.parse().ok()).collect();
        (!ids.is_empty()).then_some(ids)
    }
}

/// Checks a recipient address as it is typed; the error says what is wrong.
pub fn recipient(text: &str) -> Result<Address, InputError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(InputError::RecipientMissing);
    }
    if !text.starts_with("vigil1") {
        return Err(InputError::RecipientPrefix);
    }
    Address::parse(text).map_err(|_| InputError::RecipientChecksum)
}

/// A whole, positive quantity of units (`allow_zero` for a fee).
pub fn amount(text: &str, what: Quantity, allow_zero: bool) -> Result<u64, InputError> {
    let clean: String = text.trim().chars().filter(|c| *c != '_' && *c != ',' && *c != ' ').collect();
    if clean.is_empty() {
        return Err(InputError::QuantityMissing(what));
    }
    let v: u64 = clean.parse().map_err(|_| InputError::QuantityNotWhole(what))?;
    if v == 0 && !allow_zero {
        return Err(InputError::QuantityZero(what));
    }
    Ok(v)
}

/// The fee typed, 1 if the field is empty.
pub fn fee(text: &str) -> Result<u64, InputError> {
    amount(if text.trim().is_empty() { "1" } else { text }, Quantity::Fee, true)
}

/// Checks a new password and its repetition.
pub fn new_password(password: &str, again: &str) -> Result<(), InputError> {
    if password.chars().count() < vigil_wallet::keystore::PASSWORD_MIN_CHARS {
        return Err(InputError::PasswordShort);
    }
    if password != again {
        return Err(InputError::PasswordsDiffer);
    }
    Ok(())
}

/// A gateway URL as typed in Settings: empty (this page's origin), `https://`, or
/// `http://localhost`.
pub fn gateway_url(text: &str) -> Result<String, InputError> {
    let url = text.trim();
    if !url.is_empty() && !url.starts_with("https://") && !url.starts_with("http://localhost") {
        return Err(InputError::GatewayUrl);
    }
    Ok(url.to_string())
}

/// The nodes chosen to cross-check (hex ids) out of `all` validators, as [`Settings`]
/// keeps them: every one is kept as none (the whole set, whatever it becomes).
pub fn cross_check_choice(chosen: Vec<String>, all: usize) -> Result<Vec<String>, InputError> {
    match chosen.len() {
        0 => Err(InputError::NoCrossCheck),
        n if n == all => Ok(Vec::new()),
        _ => Ok(chosen),
    }
}

/// The vault user id as typed.
pub fn user_id(text: &str) -> Result<UserId, InputError> {
    UserId::new(text.trim()).map_err(|e| InputError::UserId(e.to_string()))
}

/// Most days a certificate may be asked for (the chain's bound, in whole days).
pub const CERT_DAYS_MAX: u64 = vigil_protocol::authcenter::issuance::VALIDITY_MAX_S / 86_400;

/// A certificate's subject as typed: a common name and an optional organisation.
pub fn subject(common_name: &str, organization: &str) -> Result<Subject, InputError> {
    let organization = organization.trim();
    let subject = Subject {
        common_name: common_name.trim().to_string(),
        organization: (!organization.is_empty()).then(|| organization.to_string()),
    };
    subject.check().map_err(|e| InputError::Subject(e.to_string()))?;
    Ok(subject)
}

/// The validity asked for when none is typed, in days.
pub const CERT_DAYS_DEFAULT: u64 = 365;

/// A validity typed in days (empty: [`CERT_DAYS_DEFAULT`]), as seconds.
pub fn validity_days(text: &str) -> Result<u64, InputError> {
    if text.trim().is_empty() {
        return Ok(CERT_DAYS_DEFAULT * 86_400);
    }
    match text.trim().parse::<u64>() {
        Ok(days @ 1..) if days <= CERT_DAYS_MAX => Ok(days * 86_400),
        _ => Err(InputError::ValidityDays(CERT_DAYS_MAX)),
    }
}

/// The identification claims typed (an e-mail address; none if empty).
pub fn claims(email: &str) -> IdentityClaims {
    let email = email.trim();
    let claims = (!email.is_empty()).then(|| Claim { name: "email".into(), value: email.to_string() });
    IdentityClaims { claims: claims.into_iter().collect() }
}

/// A certificate's state as shown, with the class that colours it.
pub fn cert_state(state: CertState) -> (&'static str, &'static str) {
    match state {
        CertState::Valid => ("Valid", "ok"),
        CertState::Frozen => ("Frozen", "warn"),
        CertState::Revoked => ("Revoked", "bad"),
        CertState::Expired => ("Expired", "bad"),
    }
}

/// A center's verdict as shown.
pub fn center_verdict(v: Option<&str>, reason: Option<&str>) -> String {
    match (v, reason) {
        (Some("approve"), _) => "✓ approved".to_string(),
        (Some(_), Some(why)) => format!("✗ rejected: {why}"),
        (Some(_), None) => "✗ rejected".to_string(),
        (None, _) => "… waiting".to_string(),
    }
}

/// `1234567` → `1,234,567`.
pub fn units(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Three distinct word positions (0-based, ascending) the user must confirm.
pub fn confirm_positions(random: [u8; 3]) -> [usize; 3] {
    let mut picked: Vec<usize> = Vec::with_capacity(3);
    for r in random {
        let mut p = r as usize % 24;
        while picked.contains(&p) {
            p = (p + 1) % 24;
        }
        picked.push(p);
    }
    picked.sort_unstable();
    [picked[0], picked[1], picked[2]]
}

/// Whether the typed words are the phrase's words at `positions`.
pub fn words_confirmed(phrase: &str, positions: &[usize; 3], typed: &[String; 3]) -> Result<(), InputError> {
    let words: Vec<&str> = phrase.split_whitespace().collect();
    let same = |(p, t): (&usize, &String)| words.get(*p).is_some_and(|w| w.eq_ignore_ascii_case(t.trim()));
    if positions.iter().zip(typed).all(same) {
        Ok(())
    } else {
        Err(InputError::WordsDiffer)
    }
}

/// A validator's display name from the trusted set, else a short id.
pub fn node_name(set: &ValidatorSet, id: &NodeId) -> String {
    set.get(id).map(|v| v.name.clone()).unwrap_or_else(|| short(&id.to_string()))
}

/// The first 10 characters of a long hex id, with an ellipsis.
pub fn short(hex: &str) -> String {
    if hex.len() <= 12 {
        hex.to_string()
    } else {
        format!("{}…", &hex[..10])
    }
}

/// A verdict as the receipts table shows it: passed, label, why.
pub fn verdict(v: &Verdict) -> (bool, &'static str, String) {
    match v {
        Verdict::Agrees => (true, "agrees", "signed receipt verified; same result as the certified block".into()),
        Verdict::Disagrees => (false, "lied", "signed a result that contradicts the others".into()),
        Verdict::BadSignature(why) => (false, "bad signature", why.clone()),
        Verdict::Silent(why) => (false, "no receipt", why.clone()),
        Verdict::TimedOut => (false, "timed out", "did not answer in time".into()),
    }
}

/// Milliseconds since the epoch as `HH:MM:SS` UTC.
pub fn clock(time_ms: u64) -> String {
    let s = time_ms / 1000;
    format!("{:02}:{:02}:{:02} UTC", (s / 3600) % 24, (s / 60) % 60, s % 60)
}

/// The chain a gateway serves (`chain id:genesis set hash`) against the one this wallet
/// trusts: the pin built into a production build (`cargo xtask build-web --genesis`),
/// else the one this browser pinned on first use. `Ok(true)`: nothing pinned yet, pin it.
pub fn check_pin(built_in: Option<&str>, stored: Option<&str>, served: &str) -> Result<bool, UiError> {
    let other =
        |trusted: &str, built_in| UiError::OtherChain { served: served.into(), trusted: trusted.into(), built_in };
    match (built_in, stored) {
        (Some(built), _) if built != served => Err(other(built, true)),
        (Some(_), _) => Ok(false),
        (None, Some(pinned)) if pinned != served => Err(other(pinned, false)),
        (None, Some(_)) => Ok(false),
        (None, None) => Ok(true),
    }
}

/// A gateway the wallet was told about, as Settings lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayUse {
    pub url: String,
    /// `Ok(())`: used, in this order; `Err(why)`: left out.
    pub state: Result<(), UiError>,
}

/// The gateways a session uses: the one that served the wallet first (its chain already
/// passed [`check_pin`], `pinned` is that chain), then each other gateway it lists
/// whose genesis is the same chain, in its order. `others` are each one's URL and the
/// chain it serves (`chain id:genesis set hash`), or why it could not be asked. A
/// gateway on another chain is refused by the same [`check_pin`] rule; one that could
/// not be asked is left out too (its chain is unknown), and so is a repeat.
pub fn gateways_to_use(
    built_in: Option<&str>,
    serving: &str,
    pinned: &str,
    others: Vec<(String, Result<String, UiError>)>,
) -> Vec<GatewayUse> {
    let mut list = vec![GatewayUse { url: serving.to_string(), state: Ok(()) }];
    for (url, served) in others {
        let state = if list.iter().any(|g| g.url == url) {
            continue;
        } else {
            match served {
                Ok(served) => check_pin(built_in, Some(pinned), &served).map(|_| ()),
                Err(why) => Err(UiError::LeftOut(Box::new(why))),
            }
        };
        list.push(GatewayUse { url, state });
    }
    list
}

/// How old a result is, from its certified header's time: "just now", "42 s old",
/// "5 min old", "3 h old", "2 days old". A header up to a little in the future (the
/// browser's clock behind the node's) is "just now".
pub fn age(now_ms: u64, then_ms: u64) -> String {
    let s = now_ms.saturating_sub(then_ms) / 1000;
    match s {
        0..=4 => "just now".into(),
        5..=119 => format!("{s} s old"),
        120..=7_199 => format!("{} min old", s / 60),
        7_200..=172_799 => format!("{} h old", s / 3600),
        _ => format!("{} days old", s / 86_400),
    }
}

/// Whether a second node confirmed that the state shown is current.
pub fn cross_check(set: &ValidatorSet, check: Option<&CrossCheck>) -> String {
    match check {
        Some(c) => {
            format!("Cross-checked: {} proved height {} with its certificate.", node_name(set, &c.node), c.height)
        }
        None => "Not cross-checked: no second node proved its height.".into(),
    }
}

/// The banner's line for a liar the wallet caught: what it did, whether the proof
/// committed, and what the chain did about it.
pub fn evidence_line(name: &str, ev: &EvidenceReport) -> String {
    let mut s = format!("{name} signed a receipt that contradicts the certified block. ");
    if !ev.committed {
        s.push_str(&format!("The evidence did not commit: {}.", ev.detail));
        return s;
    }
    s.push_str(&format!("The wallet proved it to the chain: {}. ", ev.detail));
    if ev.jailed {
        s.push_str(&format!("{name} is jailed. "));
    }
    match ev.mode_after {
        Some(ConsensusMode::Bft) => s.push_str("The chain has switched to BFT mode."),
        Some(ConsensusMode::Fast) => s.push_str("The chain is still in Fast mode."),
        None => {}
    }
    s
}

/// What the vault's progress bar is doing.
pub fn phase_label(p: Phase) -> &'static str {
    match p {
        Phase::Encrypt => "Encrypting in your browser",
        Phase::Encode => "Splitting into shards",
        Phase::Upload => "Uploading shards to the nodes",
        Phase::Commit => "Committing the manifest on chain",
        Phase::Download => "Fetching and checking shards",
        Phase::Decrypt => "Decrypting",
    }
}

/// A stored object's name: its label, else its short id.
pub fn object_name(label: &str, object_id: &str) -> String {
    if label.is_empty() {
        short(object_id)
    } else {
        label.to_string()
    }
}

/// The file name a downloaded object is saved as: its label, else its short id `.bin`.
pub fn download_name(label: &str, object_id: &str) -> String {
    if label.is_empty() {
        format!("{}.bin", short(object_id))
    } else {
        label.to_string()
    }
}

/// The vault's line after an upload.
pub fn upload_note(r: &UploadReport) -> String {
    format!(
        "Stored {} bytes as {} shards per stripe on {} nodes (any {} rebuild it); manifest committed.",
        units(r.plaintext_len),
        r.n,
        r.stores.len(),
        r.k
    )
}

/// The vault's line after a download: rebuilt from which nodes, and tampered shards.
pub fn download_note(name: &str, len_bytes: u64, used: &[String], tampered_shards: usize) -> String {
    let tampered =
        if tampered_shards > 0 { format!("; {tampered_shards} tampered shards refused") } else { String::new() };
    format!("{name}: {} bytes rebuilt from {} and verified{tampered}.", units(len_bytes), used.join(" and "))
}

#[cfg(test)]
mod cert_tests {
    use super::*;

    #[test]
    fn a_certificate_request_is_checked_as_typed() {
        assert_eq!(subject(" alice ", "").unwrap(), Subject { common_name: "alice".into(), organization: None });
        assert_eq!(subject("alice", "Acme").unwrap().organization.as_deref(), Some("Acme"));
        assert!(matches!(subject("", "Acme"), Err(InputError::Subject(_))));
        assert!(matches!(subject(&"x".repeat(65), ""), Err(InputError::Subject(_))));
        assert_eq!(validity_days("30"), Ok(30 * 86_400));
        assert_eq!(validity_days(" "), Ok(CERT_DAYS_DEFAULT * 86_400), "empty: the default");
        for bad in ["0", "-1", "1.5", &(CERT_DAYS_MAX + 1).to_string()] {
            assert_eq!(validity_days(bad), Err(InputError::ValidityDays(CERT_DAYS_MAX)), "{bad}");
        }
        assert!(claims("  ").claims.is_empty());
        assert_eq!(claims("a@b.example").get("email"), Some("a@b.example"));
        assert_eq!(center_verdict(Some("reject"), Some("not on the list")), "✗ rejected: not on the list");
        assert_eq!(center_verdict(None, None), "… waiting");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_protocol::{Height, SecretKey};
    use vigil_wallet::light::CheckpointStart;

    #[test]
    fn the_light_client_starts_where_settings_say_and_says_so() {
        assert_eq!(light_start(None, ""), Ok(LightStart::Genesis));
        assert_eq!(light_start(Some("checkpoint-set"), "ignored"), Ok(LightStart::CheckpointGenesisSet));
        let hex = "AB".repeat(32);
        let pinned = light_start(Some("checkpoint-hash"), &format!(" {hex} ")).unwrap();
        assert_eq!(pinned, LightStart::CheckpointHash("ab".repeat(32)));
        assert_eq!(pinned.choice(), "checkpoint-hash");
        assert_eq!(light_start(Some("checkpoint-hash"), "abc"), Err(InputError::CheckpointHash));
        assert!(InputError::CheckpointHash.to_string().contains("64 hex digits"));
        let key = SecretKey::from_seed([1; 32]).public_key();
        let one = vigil_protocol::ValidatorInfo::new(
            "v",
            key,
            vigil_protocol::EncryptionKey([0; 32]),
            vigil_protocol::P2pKey([0xff; 32]),
        );
        let set = ValidatorSet::new(vec![one]).unwrap();
        assert_eq!(pinned.pin(&set), Some(CheckpointPin::Hash(Hash32([0xab; 32]))));
        assert_eq!(LightStart::Genesis.pin(&set), None);
        // Settings saved before this choice existed still read.
        let old: Settings = serde_json::from_str(r#"{"gateway":"","cross_check":[]}"#).unwrap();
        assert_eq!(old.start, LightStart::Genesis);

        let genesis = start_line(&Start::Genesis { validator_set_hash: Hash32([1; 32]) });
        assert!(genesis.starts_with("Light client started from genesis"), "{genesis}");
        let c = CheckpointStart {
            height: Height(128),
            digest_hash: Hash32([0xab; 32]),
            validator_set_hash: Hash32([1; 32]),
            pin: PinKind::Hash,
            pinned_set_hash: None,
            set_changes_followed: 0,
            signers: 3,
            newest_height: Height(140),
            age_blocks: 12,
        };
        assert_eq!(
            start_line(&Start::Checkpoint(c.clone())),
            "Light client started from checkpoint #128 (hash ababababab…), verified against the pinned hash: \
             3 validators signed it; it was 12 blocks behind height 140."
        );
        let by_set = CheckpointStart { pin: PinKind::Set, set_changes_followed: 1, age_blocks: 1, ..c };
        let line = start_line(&Start::Checkpoint(by_set));
        assert!(line.contains("verified against the pinned genesis set (1 set change followed)"), "{line}");
        assert!(line.ends_with("it was 1 block behind height 140."), "{line}");
    }

    #[test]
    fn recipient_checks_prefix_and_checksum() {
        let a = Address::from_public_key(&SecretKey::from_seed([7; 32]).public_key()).to_string();
        assert_eq!(recipient(&format!("  {a} ")).map(|x| x.to_string()), Ok(a.clone()));
        assert_eq!(recipient(""), Err(InputError::RecipientMissing));
        assert!(recipient("bc1qxyz").unwrap_err().to_string().contains("starts with vigil1"));
        let mut typo = a.into_bytes();
        let last = typo.len() - 1;
        typo[last] = if typo[last] == b'q' { b'p' } else { b'q' };
        assert!(recipient(&String::from_utf8(typo).unwrap()).unwrap_err().to_string().contains("checksum"));
    }

    #[test]
    fn amounts_are_whole_and_positive() {
        let a = Quantity::Amount;
        assert_eq!(amount("1,000", a, false), Ok(1000));
        assert_eq!(amount("0", Quantity::Fee, true), Ok(0));
        assert_eq!(amount("0", a, false), Err(InputError::QuantityZero(a)));
        assert_eq!(amount("1.5", a, false), Err(InputError::QuantityNotWhole(a)));
        assert!(amount("-3", a, false).is_err());
        assert!(amount("99999999999999999999999", a, false).is_err());
        assert_eq!(amount(" ", a, false), Err(InputError::QuantityMissing(a)));
    }

    #[test]
    fn passwords_need_length_and_match() {
        assert_eq!(new_password("short", "short"), Err(InputError::PasswordShort));
        assert_eq!(new_password("long enough", "long enougH"), Err(InputError::PasswordsDiffer));
        assert_eq!(new_password("long enough", "long enough"), Ok(()));
    }

    #[test]
    fn a_built_in_pin_is_the_only_chain_a_production_build_trusts() {
        let ours = "vigil-main:aa";
        let other = "vigil-main:bb";
        assert_eq!(check_pin(Some(ours), None, ours), Ok(false), "nothing to pin: the build carries it");
        assert!(
            check_pin(Some(ours), None, other).unwrap_err().to_string().contains("built for"),
            "the first gateway met is not trusted"
        );
        assert!(check_pin(Some(ours), Some(other), other).is_err(), "nor a pin stored before, by anyone");
        // Development builds pin the first gateway's chain and hold to it.
        assert_eq!(check_pin(None, None, other), Ok(true));
        assert_eq!(check_pin(None, Some(other), other), Ok(false));
        assert!(check_pin(None, Some(ours), other).unwrap_err().to_string().contains("reset the trusted chain"));
    }

    #[test]
    fn every_gateway_used_serves_the_pinned_chain() {
        let ours = "vigil-devnet:aa";
        let others = vec![
            ("https://b.example".to_string(), Ok(ours.to_string())),
            ("https://evil.example".to_string(), Ok("vigil-devnet:bb".to_string())),
            ("https://down.example".to_string(), Err(UiError::NoGateway)),
            ("https://a.example".to_string(), Ok(ours.to_string())),
        ];
        for built_in in [None, Some(ours)] {
            let list = gateways_to_use(built_in, "https://a.example", ours, others.clone());
            let urls: Vec<&str> = list.iter().map(|g| g.url.as_str()).collect();
            assert_eq!(
                urls,
                ["https://a.example", "https://b.example", "https://evil.example", "https://down.example"]
            );
            assert_eq!(list[0].state, Ok(()), "the serving gateway first");
            assert_eq!(list[1].state, Ok(()));
            assert!(list[2].state.as_ref().unwrap_err().to_string().contains("another chain"), "{:?}", list[2]);
            assert_eq!(list[3].state, Err(UiError::LeftOut(Box::new(UiError::NoGateway))));
            assert!(list[3].state.as_ref().unwrap_err().to_string().starts_with("not used: no gateway"));
        }
    }

    #[test]
    fn ages_read_as_people_say_them() {
        let now = 1_800_000_000_000;
        assert_eq!(age(now, now), "just now");
        assert_eq!(age(now, now + 3_000), "just now", "a node's clock slightly ahead");
        assert_eq!(age(now, now - 42_000), "42 s old");
        assert_eq!(age(now, now - 5 * 60_000), "5 min old");
        assert_eq!(age(now, now - 3 * 3_600_000), "3 h old");
        assert_eq!(age(now, now - 2 * 86_400_000), "2 days old");
    }

    #[test]
    fn units_group_thousands() {
        assert_eq!(units(0), "0");
        assert_eq!(units(999), "999");
        assert_eq!(units(1_000), "1,000");
        assert_eq!(units(1_234_567), "1,234,567");
    }

    #[test]
    fn confirmation_asks_three_distinct_words() {
        for r in [[0, 0, 0], [23, 47, 71], [5, 200, 5]] {
            let p = confirm_positions(r);
            assert!(p[0] < p[1] && p[1] < p[2] && p[2] < 24, "{p:?}");
        }
        let phrase = (0..24).map(|i| format!("w{i}")).collect::<Vec<_>>().join(" ");
        let p = [1, 5, 9];
        assert_eq!(words_confirmed(&phrase, &p, &["w1".into(), " W5".into(), "w9".into()]), Ok(()));
        assert_eq!(
            words_confirmed(&phrase, &p, &["w1".into(), "w6".into(), "w9".into()]),
            Err(InputError::WordsDiffer)
        );
    }

    #[test]
    fn cross_checking_every_node_is_kept_as_none() {
        let id = NodeId::from_public_key(&SecretKey::from_seed([5; 32]).public_key());
        let mut s = Settings::default();
        assert_eq!(s.cross_check_ids(), None);
        s.cross_check = vec![id.to_string(), "not hex".into()];
        assert_eq!(s.cross_check_ids(), Some(vec![id]));
    }

    #[test]
    fn settings_inputs_are_checked() {
        assert_eq!(gateway_url("  "), Ok(String::new()), "empty: this page's gateway");
        assert_eq!(gateway_url(" https://g.example "), Ok("https://g.example".into()));
        assert_eq!(gateway_url("http://localhost:8080"), Ok("http://localhost:8080".into()));
        assert_eq!(gateway_url("http://g.example"), Err(InputError::GatewayUrl));
        assert_eq!(cross_check_choice(vec![], 4), Err(InputError::NoCrossCheck));
        assert_eq!(cross_check_choice(vec!["a".into(), "b".into()], 2), Ok(vec![]), "all of them: none kept");
        assert_eq!(cross_check_choice(vec!["a".into()], 2), Ok(vec!["a".into()]));
    }

    #[test]
    fn fees_default_to_one_and_user_ids_follow_the_chain_rule() {
        assert_eq!(fee(""), Ok(1));
        assert_eq!(fee("0"), Ok(0));
        assert_eq!(fee("x"), Err(InputError::QuantityNotWhole(Quantity::Fee)));
        assert_eq!(user_id(" e2e@vigil ").map(|u| u.as_str().to_string()), Ok("e2e@vigil".into()));
        assert!(matches!(user_id("Upper Case"), Err(InputError::UserId(_))));
    }

    #[test]
    fn the_banner_says_what_the_chain_did_about_a_liar() {
        let ev = |committed, jailed, mode_after| EvidenceReport {
            offender: NodeId::from_public_key(&SecretKey::from_seed([3; 32]).public_key()),
            evidence_tx: Default::default(),
            committed,
            jailed,
            mode_after,
            detail: "evidence committed at height 9".into(),
        };
        let line = evidence_line("node-3", &ev(true, true, Some(ConsensusMode::Bft)));
        assert!(line.starts_with("node-3 signed a receipt that contradicts the certified block. "), "{line}");
        assert!(line.contains("proved it to the chain: evidence committed at height 9."), "{line}");
        assert!(line.contains("node-3 is jailed.") && line.ends_with("switched to BFT mode."), "{line}");
        let not = evidence_line("node-3", &ev(false, false, None));
        assert!(not.ends_with("The evidence did not commit: evidence committed at height 9."), "{not}");
    }

    #[test]
    fn vault_lines_name_objects_and_nodes() {
        assert_eq!(object_name("", "0123456789abcdef"), "0123456789…");
        assert_eq!(download_name("", "0123456789abcdef"), "0123456789….bin");
        assert_eq!(download_name("ledger.bin", "01"), "ledger.bin");
        let used = ["node-1".to_string(), "node-2".to_string()];
        assert_eq!(
            download_note("ledger.bin", 400_000, &used, 0),
            "ledger.bin: 400,000 bytes rebuilt from node-1 and node-2 and verified."
        );
        assert!(download_note("x", 1, &used, 2).ends_with("; 2 tampered shards refused."));
    }
}
