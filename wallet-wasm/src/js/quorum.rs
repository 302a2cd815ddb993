//! Quorum certificates, verified across threads where the platform has them.
//!
//! A certificate's shape and quorum are checked here, then its signatures are split into
//! batches ([`QuorumCert::vote_batches`]). The package's verifier workers (`init()`
//! installs them, see `verifier-pool.js`) take all batches but the first, and this thread
//! verifies the first meanwhile. The certificate verifies exactly when every batch does.
//! Small certificates, and platforms without workers, run it all on this thread.

use std::cell::RefCell;

use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

use vigil_protocol::encoding::{from_bytes, to_bytes};
use vigil_protocol::{Hash32, QcError, QuorumCert, VoteBatch};

use super::{error, light_error};
use crate::light::{LightError, TrustedSet};

/// Below this many signatures a certificate is verified on this thread alone: a worker's
/// round trip (about 0.1 ms) costs more than splitting a small batch saves.
pub const PARALLEL_MIN_SIGNATURES: usize = 16;

/// At most this many workers take part in one certificate.
pub const WORKERS_MAX: usize = 7;

/// The package's verifier workers: `verify(batches)` posts each batch (BCS [`VoteBatch`])
/// to a worker and resolves to `true` when every one verifies, `false` when one does not.
struct Workers {
    verify: js_sys::Function,
    count: usize,
}

thread_local! {
    static WORKERS: RefCell<Option<Workers>> = const { RefCell::new(None) };
}

/// Installs the package's verifier workers (the entry's `init()` calls it where the
/// platform has workers); `count` of 0 removes them.
#[wasm_bindgen(js_name = useVerifierWorkers, skip_typescript)]
pub fn use_verifier_workers(verify: js_sys::Function, count: usize) {
    let workers = (count > 0).then(|| Workers { verify, count: count.min(WORKERS_MAX) });
    WORKERS.with(|w| *w.borrow_mut() = workers);
}

/// Verifies one batch (BCS [`VoteBatch`]): what a verifier worker runs.
#[wasm_bindgen(js_name = verifyVoteBatch, skip_typescript)]
pub fn verify_vote_batch(bytes: &[u8]) -> bool {
    from_bytes::<VoteBatch>(bytes).is_ok_and(|batch| batch.verify().is_ok())
}

/// A decoded, trusted validator set.
#[wasm_bindgen(js_name = TrustedValidatorSet)]
pub struct JsTrustedSet(TrustedSet);

#[wasm_bindgen(js_class = TrustedValidatorSet)]
impl JsTrustedSet {
    /// Decodes BCS bytes of a validator set; with `pinnedHashHex`, accepts it only if
    /// it has that hash.
    #[wasm_bindgen(js_name = fromBytes)]
    pub fn from_bytes(bytes: &[u8], pinned_hash_hex: Option<String>) -> Result<JsTrustedSet, JsValue> {
        match pinned_hash_hex {
            Some(hex) => {
                let pinned: Hash32 = hex.parse().map_err(|_| error("BAD_HASH", "pinned hash must be 64 hex digits"))?;
                TrustedSet::from_bytes_pinned(bytes, &pinned).map(Self).map_err(light_error)
            }
            None => TrustedSet::from_bytes_unpinned(bytes).map(Self).map_err(light_error),
        }
    }

    /// Number of validators.
    #[wasm_bindgen(getter)]
    pub fn size(&self) -> usize {
        self.0.set().len()
    }

    /// Verifies BCS bytes of a quorum certificate (batch Ed25519, split across the
    /// package's verifier workers when it has 16 signatures or more); resolves to the
    /// number of signers, rejects with `BAD_CERTIFICATE` or `DECODE`.
    #[wasm_bindgen(js_name = verifyQuorumCert, unchecked_return_type = "Promise<number>")]
    pub fn verify_quorum_cert(&self, qc_bytes: &[u8]) -> Promise {
        let (set, bytes) = (self.0.clone(), qc_bytes.to_vec());
        future_to_promise(async move {
            let signers = verify_across_threads(&set, &bytes).await.map_err(light_error)?;
            Ok(JsValue::from(signers))
        })
    }
}

/// Decodes and verifies a certificate, its batches shared with the workers; the number
/// of signers.
async fn verify_across_threads(set: &TrustedSet, bytes: &[u8]) -> Result<usize, LightError> {
    let qc: QuorumCert = from_bytes(bytes)?;
    let workers = WORKERS.with(|w| w.borrow().as_ref().map(|w| (w.verify.clone(), w.count)));
    let parts = match &workers {
        Some((_, count)) if qc.signatures.len() >= PARALLEL_MIN_SIGNATURES => 1 + count,
        _ => 1,
    };
    let mut batches = qc.vote_batches(set.set(), parts)?;
    let here = batches.remove(0);
    let away = workers.filter(|_| !batches.is_empty()).and_then(|(verify, _)| post(&verify, &batches));
    here.verify()?;
    match away {
        Some(answer) => match answer.await {
            Ok(ok) if ok.as_bool() == Some(true) => {}
            Ok(_) => return Err(QcError::BadSignature.into()),
            // A worker that failed (not one that said no): this thread verifies its share.
            Err(_) => batches.iter().try_for_each(VoteBatch::verify)?,
        },
        None => batches.iter().try_for_each(VoteBatch::verify)?,
    }
    Ok(qc.signatures.len())
}

/// Hands `batches` to the workers; `None` if they could not take them (this thread
/// verifies them then).
fn post(verify: &js_sys::Function, batches: &[VoteBatch]) -> Option<JsFuture> {
    let array: Array = batches.iter().map(|b| Uint8Array::from(to_bytes(b).as_slice())).collect();
    let answer = verify.call1(&JsValue::NULL, &array).ok()?;
    answer.dyn_into::<Promise>().ok().map(JsFuture::from)
}
