// The whole API plus the vault; objects from `vigil-wallet` and `vigil-wallet/vault`
// belong to different module instances and do not mix.
export { Wallet, VigilClient, CrossPacket, TrustedValidatorSet, transactionHash, verifyRowSignature, vaultPrepare } from './dist/vault/vigil_wallet.js';
export type { VigilError } from './index.js';
export type { CheckpointOptions, FromCheckpointOptions, SessionStart } from './dist/vault/vigil_wallet.js';

/** Loads the WebAssembly module (once). Call and await before using anything else. */
export function init(source?: URL | string | Response | BufferSource): Promise<unknown>;
