//! The browser's localStorage: the encrypted keystore, settings, the pinned chain and
//! the vault's user id. Nothing stored here is a secret in the clear (the keystore is
//! Argon2id + XChaCha20-Poly1305 sealed; keys exist unencrypted only in wasm memory).

use crate::browser::reason;
use crate::error::UiError;
use crate::model::Settings;

pub const KEYSTORE_KEY: &str = "vigil.keystore";
pub const SETTINGS_KEY: &str = "vigil.settings";
/// The user id last used for the vault (not secret).
pub const USER_ID_KEY: &str = "vigil.vault-user";

fn local() -> Result<web_sys::Storage, UiError> {
    let window = web_sys::window().ok_or_else(|| UiError::Storage("no window".to_string()))?;
    let storage = window.local_storage().map_err(|e| UiError::Storage(reason(&e)))?;
    storage.ok_or_else(|| UiError::Storage("this browser has no local storage".to_string()))
}

/// The value stored under `key`, if any (none if storage cannot be read).
pub fn get(key: &str) -> Option<String> {
    local().ok()?.get_item(key).ok()?
}

pub fn set(key: &str, value: &str) -> Result<(), UiError> {
    local()?.set_item(key, value).map_err(|e| UiError::Storage(reason(&e)))
}

pub fn remove(key: &str) -> Result<(), UiError> {
    local()?.remove_item(key).map_err(|e| UiError::Storage(reason(&e)))
}

/// Whether a keystore is stored (the wallet opens on Unlock, else on Welcome).
pub fn has_keystore() -> bool {
    get(KEYSTORE_KEY).is_some()
}

/// The settings saved, else the defaults (settings that no longer read are dropped).
pub fn settings() -> Settings {
    get(SETTINGS_KEY).and_then(|s| serde_json::from_slice(s.as_bytes()).ok()).unwrap_or_default()
}

pub fn save_settings(settings: &Settings) -> Result<(), UiError> {
    let json = serde_json::to_string(settings).map_err(|e| UiError::Storage(e.to_string()))?;
    set(SETTINGS_KEY, &json)
}
