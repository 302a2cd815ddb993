//! Several link requests in one exchange ([`crate::link`]): what a gateway sends when
//! requests to one node queue up faster than one HTTP exchange each would carry them.
//!
//! `POST /v1/link/requests` takes a [`Batch`]: the sealed requests exactly as `POST
//! /v1/link/request` takes them, each under its own counter. The node serves them
//! concurrently and streams back one [`Answered`] per request as it finishes, each
//! holding what `/v1/link/request` would have answered for it (its status and body), so
//! a request that waits (a transaction waiting for its commit) does not hold back the
//! others. Every frame on the wire is a 4-byte big-endian length and the BCS of the
//! value; [`AnswerReader`] takes the stream in whatever pieces it arrives.
//!
//! A batch adds nothing to what a request may do: each one is opened, checked against
//! its session's replay window and served as if it came alone; the batch's framing is
//! outside the AEAD, so a changed frame can only make requests fail to open or answers
//! go to no waiter (the gateway's open of each answer checks its counter).

use serde::{Deserialize, Serialize};

use crate::encoding;

/// The batch's media type, and that of its streamed answers.
pub const BATCH_MEDIA_TYPE: &str = "application/vigil-link-batch";
pub const BATCH_ANSWERS_MEDIA_TYPE: &str = "application/vigil-link-answers";
/// Requests in one batch at most.
pub const BATCH_REQUESTS_MAX: usize = 64;
/// A batch's bytes at most (a node reads no more for one).
pub const BATCH_MAX_BYTES: usize = 1024 * 1024;
/// A sealed request this long or longer goes alone: batching pays for small requests,
/// and large ones would fill a batch's bound.
pub const BATCHED_REQUEST_MAX_BYTES: usize = 8 * 1024;
/// An answer's frame at most: the largest sealed answer and its index, status and length.
pub const ANSWER_FRAME_MAX_BYTES: usize = crate::sealed::SEALED_REQUEST_MAX_BYTES + 64;
/// Bytes of one frame's length prefix.
const LENGTH_BYTES: usize = 4;
const _: () = assert!(BATCH_REQUESTS_MAX * (BATCHED_REQUEST_MAX_BYTES + 8) <= BATCH_MAX_BYTES);

/// The requests of one batch, in the order the answers' indexes refer to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub requests: Vec<Vec<u8>>,
}

/// One request's answer: what `POST /v1/link/request` would have answered for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answered {
    /// The request's place in its batch.
    pub index: u16,
    /// The HTTP status.
    pub status: u16,
    /// The sealed answer (status 200), or the API's error document.
    pub body: Vec<u8>,
}

/// Why batch framing cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    #[error("a batch holds 1 to {BATCH_REQUESTS_MAX} requests, this one {0}")]
    Count(usize),
    #[error("a frame of {0} bytes is over its bound of {1}")]
    TooLarge(usize, usize),
    #[error("the frame ends before its announced length")]
    Truncated,
    #[error("bytes after the batch's frame")]
    Trailing,
    #[error(transparent)]
    Decode(#[from] encoding::DecodeError),
}

/// `value`'s frame: its length, then its BCS.
fn frame<T: Serialize>(value: &T) -> Vec<u8> {
    let bytes = encoding::to_bytes(value);
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(LENGTH_BYTES + bytes.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&bytes);
    out
}

/// The length a frame starting `bytes` announces, if its prefix is there; refused over
/// `max`.
fn announced(bytes: &[u8], max: usize) -> Result<Option<usize>, BatchError> {
    let Some(prefix) = bytes.get(..LENGTH_BYTES) else { return Ok(None) };
    let mut len = [0u8; LENGTH_BYTES];
    len.copy_from_slice(prefix);
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(BatchError::TooLarge(len, max));
    }
    Ok(Some(len))
}

impl Batch {
    /// The batch's bytes (one frame).
    pub fn encode(&self) -> Vec<u8> {
        debug_assert!((1..=BATCH_REQUESTS_MAX).contains(&self.requests.len()));
        frame(self)
    }

    /// Reads a batch: exactly one frame, 1 to [`BATCH_REQUESTS_MAX`] requests.
    pub fn decode(bytes: &[u8]) -> Result<Self, BatchError> {
        let len = announced(bytes, BATCH_MAX_BYTES - LENGTH_BYTES)?.ok_or(BatchError::Truncated)?;
        let body = bytes.get(LENGTH_BYTES..).unwrap_or_default();
        if body.len() < len {
            return Err(BatchError::Truncated);
        }
        if body.len() > len {
            return Err(BatchError::Trailing);
        }
        let batch: Batch = encoding::from_bytes_limited(body, BATCH_MAX_BYTES)?;
        if !(1..=BATCH_REQUESTS_MAX).contains(&batch.requests.len()) {
            return Err(BatchError::Count(batch.requests.len()));
        }
        Ok(batch)
    }
}

impl Answered {
    /// The answer's frame, as the node streams it.
    pub fn encode(&self) -> Vec<u8> {
        frame(self)
    }
}

/// Reads streamed answers from the pieces they arrive in.
#[derive(Debug, Default)]
pub struct AnswerReader {
    buffer: Vec<u8>,
}

impl AnswerReader {
    /// Takes the next piece of the stream; returns the answers it completes, in order.
    pub fn push(&mut self, piece: &[u8]) -> Result<Vec<Answered>, BatchError> {
        self.buffer.extend_from_slice(piece);
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(len) = announced(&self.buffer[at..], ANSWER_FRAME_MAX_BYTES)? {
            let start = at + LENGTH_BYTES;
            let Some(body) = self.buffer.get(start..start + len) else { break };
            out.push(encoding::from_bytes_limited(body, ANSWER_FRAME_MAX_BYTES)?);
            at = start + len;
        }
        self.buffer.drain(..at);
        Ok(out)
    }

    /// Whether the stream stopped inside a frame.
    pub fn is_mid_frame(&self) -> bool {
        !self.buffer.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(index: u16, body: &[u8]) -> Answered {
        Answered { index, status: 200, body: body.to_vec() }
    }

    #[test]
    fn a_batch_round_trips_and_its_count_is_bounded() {
        let batch = Batch { requests: vec![vec![1, 2, 3], vec![], vec![9; 5000]] };
        assert_eq!(Batch::decode(&batch.encode()), Ok(batch.clone()));
        let empty = frame(&Batch { requests: vec![] });
        assert_eq!(Batch::decode(&empty), Err(BatchError::Count(0)));
        let many = frame(&Batch { requests: vec![vec![0]; BATCH_REQUESTS_MAX + 1] });
        assert_eq!(Batch::decode(&many), Err(BatchError::Count(BATCH_REQUESTS_MAX + 1)));
    }

    #[test]
    fn a_cut_grown_or_oversized_batch_is_refused() {
        let bytes = Batch { requests: vec![vec![7; 40]] }.encode();
        for len in 0..bytes.len() {
            assert!(Batch::decode(&bytes[..len]).is_err(), "cut to {len}");
        }
        let mut grown = bytes.clone();
        grown.push(0);
        assert_eq!(Batch::decode(&grown), Err(BatchError::Trailing));
        let over = BATCH_MAX_BYTES - LENGTH_BYTES + 1;
        let mut huge = u32::try_from(over).unwrap().to_be_bytes().to_vec();
        huge.extend_from_slice(&[0; 8]);
        assert_eq!(Batch::decode(&huge), Err(BatchError::TooLarge(over, over - 1)));
    }

    #[test]
    fn answers_are_read_from_any_split_of_the_stream() {
        let answers = vec![answered(2, b"first"), answered(0, &[5; 300]), answered(1, b"")];
        let stream: Vec<u8> = answers.iter().flat_map(Answered::encode).collect();
        for piece in [1, 2, 3, 7, 64, stream.len()] {
            let mut reader = AnswerReader::default();
            let mut got = Vec::new();
            for chunk in stream.chunks(piece) {
                got.extend(reader.push(chunk).unwrap());
            }
            assert_eq!(got, answers, "pieces of {piece}");
            assert!(!reader.is_mid_frame());
        }
        let mut reader = AnswerReader::default();
        assert_eq!(reader.push(&stream[..stream.len() - 1]).unwrap().len(), 2);
        assert!(reader.is_mid_frame(), "the last answer is incomplete");
    }

    #[test]
    fn an_answer_announcing_more_than_the_bound_is_refused_before_it_is_read() {
        let mut reader = AnswerReader::default();
        let prefix = u32::try_from(ANSWER_FRAME_MAX_BYTES + 1).unwrap().to_be_bytes();
        assert_eq!(reader.push(&prefix), Err(BatchError::TooLarge(ANSWER_FRAME_MAX_BYTES + 1, ANSWER_FRAME_MAX_BYTES)));
    }
}
