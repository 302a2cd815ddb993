export { Wallet, VigilClient, CrossPacket, TrustedValidatorSet, transactionHash, verifyRowSignature } from './dist/vigil_wallet.js';
export type {
  CheckpointOptions, FromCheckpointOptions, SessionStart,
  CertificateState, CertificateReport, CertificateRequestOptions, CertificateRequestView,
  ColumnType, Column, WritePolicy, TableSchema, RowObject, TableView, RowView, RowReport, ScanReport, ScanOptions,
  HistoryReport,
  SendAcrossOptions, TransferStepName, TransferStep, ConnectionView, Verification,
  AuditStatusName, AuditReport, AuditCheckReport, RecordInput,
} from './dist/vigil_wallet.js';

/** Loads the WebAssembly module (once). Call and await before using anything else. */
export function init(source?: URL | string | Response | BufferSource | WebAssembly.Module): Promise<unknown>;

/**
 * How many verifier workers run beside the calling thread: they are started at the first
 * quorum certificate of 16 signatures or more, one per core beyond the first (at most 7);
 * 0 before that, and where the platform has no workers or cores to spare.
 */
export function verifierWorkers(): number;

/**
 * The codes a node or a gateway answers with (`vigil_api::ErrorCode`; a test holds this
 * list to it). A code from a newer node reads as 'UNKNOWN'.
 */
export type ApiErrorCode =
  | 'NOT_FOUND' | 'METHOD_NOT_ALLOWED' | 'MALFORMED' | 'BAD_BODY' | 'BODY_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE' | 'RATE_LIMITED' | 'TOO_MANY_IN_FLIGHT' | 'BUSY' | 'INTERNAL'
  | 'WRONG_CHAIN' | 'BAD_SIGNATURE' | 'STALE_NONCE' | 'FUTURE_NONCE' | 'INSUFFICIENT_BALANCE'
  | 'FEE_TOO_LOW' | 'INVALID_EVIDENCE' | 'OFFENDER_NOT_IN_SET' | 'INVALID_CHECKPOINT' | 'STALE_CHECKPOINT' | 'INVALID_DKG_PACKAGE' | 'INVALID_CENTER_CHANGE'
  | 'INVALID_SIGNATURE_SHARE' | 'INVALID_SIGNING' | 'INVALID_CERT_REQUEST' | 'NO_PROOF_OF_POSSESSION'
  | 'NOT_A_CENTER' | 'DUPLICATE_VERDICT' | 'INVALID_VERDICT' | 'INVALID_CERT_ACTION'
  | 'UNKNOWN_TABLE' | 'INVALID_TABLE' | 'INVALID_ROW' | 'DUPLICATE_KEY' | 'MISSING_ROW'
  | 'NOT_THE_WRITER' | 'BAD_ROW_SIGNATURE' | 'WRITE_REFUSED'
  | 'NO_CONNECTION' | 'CONNECTION_EXISTS' | 'INVALID_CONNECTION' | 'BAD_HEADER' | 'CLIENT_FROZEN'
  | 'CLIENT_EXPIRED' | 'INVALID_PACKET' | 'BAD_PACKET_PROOF' | 'UNKNOWN_PROOF_HEIGHT'
  | 'PACKET_ALREADY_RECEIVED' | 'PACKET_NOT_PENDING' | 'PACKET_TIMED_OUT'
  | 'UNKNOWN_TARGET' | 'INVALID_TARGET' | 'INVALID_TRADE' | 'INVALID_AUDIT' | 'CLAIMS_MISMATCH'
  | 'UNKNOWN_AUDIT' | 'NOT_A_COUNTERPARTY' | 'DUPLICATE_NOTICE' | 'WRONG_PERIOD' | 'AUDIT_CLOSED'
  | 'NOT_THE_HOLDER' | 'BAD_RECORD'
  | 'DUPLICATE' | 'ALREADY_COMMITTED'
  | 'MEMPOOL_FULL' | 'TX_TOO_LARGE' | 'BAD_ADDRESS' | 'BAD_STATE_KEY' | 'CANNOT_OPEN'
  | 'BAD_OPENING' | 'UNKNOWN_SESSION' | 'REPLAYED' | 'BAD_INNER_REQUEST' | 'CANNOT_SEAL_ANSWER'
  | 'ANSWER_TOO_LARGE' | 'WRONG_NODE' | 'STALE_REQUEST' | 'REPLAYED_REQUEST' | 'UNKNOWN_USER'
  | 'WRONG_USER' | 'BAD_FRAGMENT' | 'QUOTA_EXCEEDED' | 'WRONG_STORE' | 'STORE_UNAVAILABLE'
  | 'UNKNOWN_NODE' | 'NODE_UNAVAILABLE' | 'NODE_TIMEOUT' | 'NODE_ERROR' | 'NODE_KEY_INVALID'
  | 'NODE_NOT_CONFIRMED' | 'NODE_REFUSED' | 'CANNOT_SEAL' | 'CANNOT_OPEN_ANSWER' | 'NO_FAUCET'
  | 'FAUCET_COOLDOWN' | 'FAUCET_EMPTY' | 'FAUCET_REFUSED'
  | 'UNKNOWN';

/** Every error thrown or rejected by the package carries a stable `code`. */
export interface VigilError extends Error {
  code:
    | 'WORD_COUNT' | 'UNKNOWN_WORD' | 'BAD_CHECKSUM' | 'ACCOUNT_INDEX' | 'BAD_PHRASE'
    | 'WRONG_PASSWORD' | 'WEAK_PASSWORD' | 'BAD_KEYSTORE' | 'KEYSTORE_VERSION'
    | 'BAD_CERTIFICATE' | 'UNTRUSTED_SET' | 'BAD_SET_CHANGE' | 'BAD_PROOF' | 'BAD_RECEIPT'
    | 'DECODE' | 'BAD_AMOUNT' | 'BAD_OPTIONS' | 'BAD_GENESIS' | 'BAD_HASH' | 'BAD_HEX' | 'BAD_CHAIN_ID'
    | 'GATEWAYS_DOWN' | 'GATEWAY_ERROR' | 'BAD_ANSWER' | 'SEAL' | 'NO_RECEIPT'
    | 'NO_VALIDATOR' | 'EVIDENCE' | 'VAULT' | 'BAD_USER_ID' | 'STALE_STATE'
    | 'NO_CHECKPOINT' | 'BAD_CHECKPOINT' | 'PINNED_HASH_MISMATCH' | 'CHECKPOINT_SET_MISMATCH'
    | 'CHECKPOINT_TOO_OLD' | 'BEFORE_CHECKPOINT'
    | 'NOT_A_CERTIFICATE' | 'NO_CENTERS' | 'NOT_BY_CONSORTIUM' | 'NO_CERT_RECORD' | 'CERT_RECORD_MISMATCH'
    | 'BAD_PACKET' | 'BAD_TARGET'
    | ApiErrorCode | string;
}
