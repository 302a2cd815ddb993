export { Wallet, VigilClient, TrustedValidatorSet, transactionHash } from './dist/vigil_wallet.js';

/** Loads the WebAssembly module (once). Call and await before using anything else. */
export function init(source?: URL | string | Response | BufferSource): Promise<unknown>;

/** Every error thrown or rejected by the package carries a stable `code`. */
export interface VigilError extends Error {
  code:
    | 'WORD_COUNT' | 'UNKNOWN_WORD' | 'BAD_CHECKSUM' | 'ACCOUNT_INDEX' | 'BAD_PHRASE'
    | 'WRONG_PASSWORD' | 'WEAK_PASSWORD' | 'BAD_KEYSTORE' | 'KEYSTORE_VERSION'
    | 'BAD_CERTIFICATE' | 'UNTRUSTED_SET' | 'WRONG_CHAIN' | 'BAD_SET_CHANGE' | 'BAD_PROOF' | 'BAD_RECEIPT'
    | 'DECODE' | 'BAD_ADDRESS' | 'BAD_AMOUNT' | 'BAD_OPTIONS' | 'BAD_GENESIS' | 'BAD_HASH' | 'BAD_HEX' | 'BAD_CHAIN_ID'
    | 'GATEWAYS_DOWN' | 'RATE_LIMITED' | 'TOO_MANY_IN_FLIGHT' | 'UNKNOWN_NODE' | 'NODE_UNAVAILABLE' | 'NODE_TIMEOUT' | 'BAD_ANSWER'
    | 'NO_VALIDATOR' | 'EVIDENCE' | 'BUSY' | 'VAULT' | 'BAD_USER_ID' | 'UNKNOWN_USER' | 'WRONG_USER'
    | 'QUOTA_EXCEEDED' | 'STORE_UNAVAILABLE' | 'STALE_STATE' | string;
}
