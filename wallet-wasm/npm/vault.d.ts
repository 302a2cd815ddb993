// The whole API plus the vault; objects from `vigil-wallet` and `vigil-wallet/vault`
// belong to different module instances and do not mix.
export { Wallet, VigilClient, CrossPacket, TrustedValidatorSet, transactionHash, verifyRowSignature, vaultPrepare } from './dist/vault/vigil_wallet.js';
export type { VigilError } from './index.js';
export type { CheckpointOptions, FromCheckpointOptions, SessionStart } from './dist/vault/vigil_wallet.js';

/** Loads the WebAssembly module (once). Call and await before using anything else. */
export function init(source?: URL | string | Response | BufferSource | WebAssembly.Module): Promise<unknown>;

/**
 * How many verifier workers run beside the calling thread: they are started at the first
 * quorum certificate of 16 signatures or more, one per core beyond the first (at most 7);
 * 0 before that, and where the platform has no workers or cores to spare.
 */
export function verifierWorkers(): number;
