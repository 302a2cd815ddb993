//! The npm package's TypeScript declarations hold the API's error codes as
//! `vigil_api::ErrorCode` defines them: a code added to the API without its type, or a
//! type left for a code that is gone, fails here.
#![cfg(not(target_arch = "wasm32"))]

use std::collections::BTreeSet;

use vigil_api::ErrorCode;

/// The quoted names of the `ApiErrorCode` union in `npm/index.d.ts`.
fn declared_api_codes() -> BTreeSet<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/npm/index.d.ts");
    let text = std::fs::read_to_string(path).expect("npm/index.d.ts");
    let start = text.find("export type ApiErrorCode =").expect("an ApiErrorCode union");
    let end = start + text[start..].find(';').expect("the union ends");
    text[start..end].split('\'').skip(1).step_by(2).map(str::to_string).collect()
}

#[test]
fn the_typescript_error_union_is_the_api_error_codes() {
    let mut want: BTreeSet<String> = ErrorCode::ALL.iter().map(|c| c.as_str().to_string()).collect();
    want.insert(ErrorCode::Unknown.as_str().to_string());
    assert_eq!(declared_api_codes(), want);
}

/// The quoted names of the `code` union of `VigilError` in `npm/index.d.ts`.
fn declared_wallet_codes() -> BTreeSet<String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/npm/index.d.ts")).expect("index.d.ts");
    let start = text.find("export interface VigilError").expect("a VigilError interface");
    let end = start + text[start..].find(';').expect("the union ends");
    text[start..end].split('\'').skip(1).step_by(2).map(str::to_string).collect()
}

#[test]
fn the_typescript_error_codes_name_every_checkpoint_refusal() {
    use vigil_protocol::{ChainId, CheckpointError, Hash32, Height, QcError};
    use vigil_wallet::light::LightError;
    use vigil_wallet::session::WalletError;
    let (hash, height) = (Hash32([1; 32]), Height(64));
    let chain = ChainId::new("vigil-test").unwrap();
    let refusals = [
        WalletError::NoCheckpoint,
        LightError::CheckpointTooOld { height, newest: height, age: 2, max: 1 }.into(),
        LightError::PinnedHashMismatch { pinned: hash, served: hash, height }.into(),
        LightError::CheckpointSetNotReached { pinned: hash, named: hash, reached: hash }.into(),
        LightError::BeforeStart { height, from: height }.into(),
        LightError::Checkpoint(CheckpointError::OtherSet { named: hash, given: hash }).into(),
        LightError::Checkpoint(CheckpointError::Certificate(QcError::BadSignature)).into(),
        LightError::Checkpoint(CheckpointError::WrongChain { expected: chain.clone(), found: chain }).into(),
    ];
    // The union names the API's codes through `ApiErrorCode`.
    let declared: BTreeSet<String> = declared_wallet_codes().into_iter().chain(declared_api_codes()).collect();
    for e in refusals {
        assert!(declared.contains(&e.code()), "{} is not in VigilError's codes", e.code());
    }
}

/// `SessionStart` in the package's declarations (`src/js/checkpoint.rs`) names every
/// field and tag `vigil_wallet::light::Start` writes.
#[test]
fn the_typescript_session_start_is_what_the_wallet_writes() {
    use vigil_protocol::{Hash32, Height};
    use vigil_wallet::light::{CheckpointStart, PinKind, Start};
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/js/checkpoint.rs")).unwrap();
    let start = source.find("export type SessionStart").expect("a SessionStart type");
    let declared = &source[start..start + source[start..].find("\"#;").expect("the section ends")];
    let hash = Hash32([1; 32]);
    let checkpoint = CheckpointStart {
        height: Height(64),
        digest_hash: hash,
        validator_set_hash: hash,
        pin: PinKind::Set,
        pinned_set_hash: Some(hash),
        set_changes_followed: 1,
        signers: 3,
        newest_height: Height(70),
        age_blocks: 6,
    };
    let written = [
        Start::Genesis { validator_set_hash: hash },
        Start::Checkpoint(CheckpointStart { pin: PinKind::Hash, ..checkpoint.clone() }),
        Start::Checkpoint(checkpoint),
    ];
    for start in written {
        let json = serde_json::to_value(&start).unwrap();
        for (key, value) in json.as_object().unwrap() {
            assert!(declared.contains(&format!("{key}: ")), "SessionStart has no `{key}`");
            if let Some(tag) = value.as_str().filter(|_| key == "from" || key == "pin") {
                assert!(declared.contains(&format!("'{tag}'")), "SessionStart's `{key}` has no '{tag}'");
            }
        }
    }
}

/// Every refusal of the wallet's table checks has a code the declarations name.
#[test]
fn the_typescript_error_codes_name_every_table_refusal() {
    use vigil_protocol::tables::RowError;
    use vigil_wallet::session::WalletError;
    use vigil_wallet::tables::TableError;
    let refusals = [
        TableError::UnknownTable("t".into()),
        TableError::UnknownColumn("c".into()),
        TableError::MissingColumn("c".into()),
        TableError::Value { column: "c".into(), why: "w".into() },
        TableError::Row(RowError::Null("c".into())),
        TableError::Write("w".into()),
        TableError::BadRowSignature,
        TableError::Scan("s".into()),
    ];
    let declared: BTreeSet<String> = declared_wallet_codes().into_iter().chain(declared_api_codes()).collect();
    for e in refusals {
        let code = WalletError::from(e).code();
        assert!(declared.contains(&code), "{code} is not in VigilError's codes");
    }
}
