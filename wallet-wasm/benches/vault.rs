//! Native half of `cargo xtask bench vault`: 64 MiB through the vault's encryption
//! (XChaCha20-Poly1305 STREAM) and erasure code (Reed–Solomon, k of n), as the wallet
//! does before upload. Prints one JSON line for xtask.

use std::time::Instant;

use vigil_protocol::VaultConfig;
use vigil_wallet::keys::WalletSeed;
use vigil_wallet::vault;
use zeroize::Zeroizing;

fn main() {
    let mb: usize = std::env::var("VIGIL_BENCH_VAULT_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(64);
    let cfg = VaultConfig { object_bytes_max: u64::MAX, ..VaultConfig::default() };
    let mut data = vec![0u8; mb << 20];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let seed = WalletSeed::from_entropy(Zeroizing::new([1; 32]));
    let mut best = f64::MAX;
    for _ in 0..3 {
        let id = vault::new_object_id(&mut rand_core::OsRng);
        let started = Instant::now();
        let key = vault::object_key(&seed, &id);
        let ct = vault::encrypt(&key, &id, cfg.chunk_bytes, &data, &mut rand_core::OsRng, |_, _| {}).expect("encrypts");
        let stripes = vault::split(&cfg, &ct).expect("codes");
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(stripes[0].len(), usize::from(cfg.fragments));
        best = best.min(secs);
    }
    println!(
        "{{\"native_mb_s\": {:.1}, \"mb\": {mb}, \"k\": {}, \"n\": {}}}",
        mb as f64 / best,
        cfg.threshold,
        cfg.fragments
    );
}
