//! What the web wallet decides without a browser: input checks with the messages users
//! see, amounts, labels for verdicts, settings. Plain Rust, tested natively.

use serde::{Deserialize, Serialize};
use vigil_protocol::{Address, NodeId, ValidatorSet};
use vigil_wallet::detector::Verdict;
use vigil_wallet::light::CrossCheck;

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
}

/// Checks a recipient address as it is typed; the message says what is wrong.
pub fn recipient(text: &str) -> Result<Address, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("Enter the recipient's address (it starts with vigil1).".into());
    }
    if !text.starts_with("vigil1") {
        return Err("A Vigil address starts with vigil1.".into());
    }
    Address::parse(text)
        .map_err(|_| "This is not a valid Vigil address: check for a typo (the checksum does not match).".into())
}

/// A whole, positive amount.
pub fn amount(text: &str, what: &str, allow_zero: bool) -> Result<u64, String> {
    let clean: String = text.trim().chars().filter(|c| *c != '_' && *c != ',' && *c != ' ').collect();
    if clean.is_empty() {
        return Err(format!("Enter the {what}."));
    }
    let v: u64 = clean.parse().map_err(|_| format!("The {what} must be a whole number of units."))?;
    if v == 0 && !allow_zero {
        return Err(format!("The {what} must be more than 0."));
    }
    Ok(v)
}

/// Checks a new password and its repetition.
pub fn new_password(password: &str, again: &str) -> Result<(), String> {
    let min = vigil_wallet::keystore::PASSWORD_MIN_CHARS;
    if password.chars().count() < min {
        return Err(format!("Use a password of at least {min} characters."));
    }
    if password != again {
        return Err("The two passwords differ.".into());
    }
    Ok(())
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
pub fn words_confirmed(phrase: &str, positions: &[usize; 3], typed: &[String; 3]) -> bool {
    let words: Vec<&str> = phrase.split_whitespace().collect();
    positions.iter().zip(typed).all(|(p, t)| words.get(*p).is_some_and(|w| w.eq_ignore_ascii_case(t.trim())))
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
pub fn check_pin(built_in: Option<&str>, stored: Option<&str>, served: &str) -> Result<bool, String> {
    match (built_in, stored) {
        (Some(built), _) if built != served => Err(format!(
            "This gateway serves another chain ({served}) than the one this wallet was built for ({built}); \
             it cannot be used. Choose one of your chain's gateways in Settings."
        )),
        (Some(_), _) => Ok(false),
        (None, Some(pinned)) if pinned != served => Err(format!(
            "This gateway serves another chain ({served}) than the one this wallet trusts ({pinned}). \
             If you trust the new one, reset the trusted chain in Settings."
        )),
        (None, Some(_)) => Ok(false),
        (None, None) => Ok(true),
    }
}

/// A gateway the wallet was told about, as Settings lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayUse {
    pub url: String,
    /// `Ok(())`: used, in this order; `Err(why)`: left out.
    pub state: Result<(), String>,
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
    others: Vec<(String, Result<String, String>)>,
) -> Vec<GatewayUse> {
    let mut list = vec![GatewayUse { url: serving.to_string(), state: Ok(()) }];
    for (url, served) in others {
        let state = if list.iter().any(|g| g.url == url) {
            continue;
        } else {
            match served {
                Ok(served) => check_pin(built_in, Some(pinned), &served).map(|_| ()),
                Err(why) => Err(format!("not used: {why}")),
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

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_protocol::SecretKey;

    #[test]
    fn recipient_checks_prefix_and_checksum() {
        let a = Address::from_public_key(&SecretKey::from_seed([7; 32]).public_key()).to_string();
        assert_eq!(recipient(&format!("  {a} ")).map(|x| x.to_string()), Ok(a.clone()));
        assert!(recipient("").unwrap_err().contains("Enter"));
        assert!(recipient("bc1qxyz").unwrap_err().contains("starts with vigil1"));
        let mut typo = a.into_bytes();
        let last = typo.len() - 1;
        typo[last] = if typo[last] == b'q' { b'p' } else { b'q' };
        assert!(recipient(&String::from_utf8(typo).unwrap()).unwrap_err().contains("checksum"));
    }

    #[test]
    fn amounts_are_whole_and_positive() {
        assert_eq!(amount("1,000", "amount", false), Ok(1000));
        assert_eq!(amount("0", "fee", true), Ok(0));
        assert!(amount("0", "amount", false).is_err());
        assert!(amount("1.5", "amount", false).unwrap_err().contains("whole"));
        assert!(amount("-3", "amount", false).is_err());
        assert!(amount("99999999999999999999999", "amount", false).is_err());
    }

    #[test]
    fn passwords_need_length_and_match() {
        assert!(new_password("short", "short").is_err());
        assert!(new_password("long enough", "long enougH").unwrap_err().contains("differ"));
        assert_eq!(new_password("long enough", "long enough"), Ok(()));
    }

    #[test]
    fn a_built_in_pin_is_the_only_chain_a_production_build_trusts() {
        let ours = "vigil-main:aa";
        let other = "vigil-main:bb";
        assert_eq!(check_pin(Some(ours), None, ours), Ok(false), "nothing to pin: the build carries it");
        assert!(
            check_pin(Some(ours), None, other).unwrap_err().contains("built for"),
            "the first gateway met is not trusted"
        );
        assert!(check_pin(Some(ours), Some(other), other).is_err(), "nor a pin stored before, by anyone");
        // Development builds pin the first gateway's chain and hold to it.
        assert_eq!(check_pin(None, None, other), Ok(true));
        assert_eq!(check_pin(None, Some(other), other), Ok(false));
        assert!(check_pin(None, Some(ours), other).unwrap_err().contains("reset the trusted chain"));
    }

    #[test]
    fn every_gateway_used_serves_the_pinned_chain() {
        let ours = "vigil-devnet:aa";
        let others = vec![
            ("https://b.example".to_string(), Ok(ours.to_string())),
            ("https://evil.example".to_string(), Ok("vigil-devnet:bb".to_string())),
            ("https://down.example".to_string(), Err("cannot be reached".to_string())),
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
            assert!(list[2].state.as_ref().unwrap_err().contains("another chain"), "{:?}", list[2]);
            assert!(list[3].state.as_ref().unwrap_err().contains("cannot be reached"));
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
        assert!(words_confirmed(&phrase, &p, &["w1".into(), " W5".into(), "w9".into()]));
        assert!(!words_confirmed(&phrase, &p, &["w1".into(), "w6".into(), "w9".into()]));
    }
}
