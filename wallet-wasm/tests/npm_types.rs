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
