//! The browser's localStorage: the encrypted keystore, settings and the pinned chain.
//! Nothing stored here is a secret in the clear (the keystore is Argon2id +
//! XChaCha20-Poly1305 sealed; keys exist unencrypted only in wasm memory).

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok()?
}

pub fn get(key: &str) -> Option<String> {
    local()?.get_item(key).ok()?
}

pub fn set(key: &str, value: &str) {
    if let Some(s) = local() {
        let _ = s.set_item(key, value);
    }
}

pub fn remove(key: &str) {
    if let Some(s) = local() {
        let _ = s.remove_item(key);
    }
}

pub const KEYSTORE_KEY: &str = "vigil.keystore";
pub const SETTINGS_KEY: &str = "vigil.settings";
