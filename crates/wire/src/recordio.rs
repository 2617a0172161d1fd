//! RecordIO framing as Mesos streams events: `<decimal byte length>\n<bytes>`, repeated, with
//! no delimiter after a record (apache/mesos `docs/recordio.md`, stout `recordio.hpp`).
//!
//! The encoder is a pure function. The [`Decoder`] is incremental: feed it whatever chunks the
//! transport delivers (HTTP chunk boundaries mean nothing to the framing) and it yields complete
//! records. It is strict where stout is vague, because a misframed stream can never resync:
//! every error is final.

use bytes::{BufMut, Bytes, BytesMut};

/// The longest length header accepted: `u64::MAX` has 20 decimal digits. Anything longer is
/// garbage, and refusing it early keeps the header buffer bounded.
const MAX_HEADER_DIGITS: usize = 20;

/// Frames one record: its length in bytes, a newline, then the payload.
pub fn encode(payload: &[u8]) -> Bytes {
    let mut dst = BytesMut::with_capacity(payload.len() + MAX_HEADER_DIGITS + 1);
    encode_into(payload, &mut dst);
    dst.freeze()
}

/// Appends one framed record to `dst`, for writers that batch several records into one write.
pub fn encode_into(payload: &[u8], dst: &mut BytesMut) {
    dst.reserve(payload.len() + MAX_HEADER_DIGITS + 1);
    put_header(payload.len(), dst);
    dst.put_slice(payload);
}

/// Appends the header of a record of `len` bytes (its decimal length and the newline), for
/// writers that encode the payload straight after it.
pub fn put_header(len: usize, dst: &mut BytesMut) {
    let mut digits = [0u8; MAX_HEADER_DIGITS];
    let mut start = digits.len();
    let mut rest = len;
    loop {
        start -= 1;
        digits[start] = b'0' + (rest % 10) as u8;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    dst.put_slice(&digits[start..]);
    dst.put_u8(b'\n');
}

/// Why a RecordIO stream could not be decoded. Each one ends the stream: once the framing is
/// lost there is no way to find the next record boundary.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RecordIoError {
    /// The length header held something other than ASCII digits (including leading garbage such
    /// as a space, a sign, or bytes left over from a misframed previous record).
    #[error(
        "invalid RecordIO length header: unexpected byte 0x{byte:02x} after {digits:?} \
         (expected ASCII digits then '\\n')"
    )]
    NonDigit {
        /// The offending byte.
        byte: u8,
        /// The digits read before it.
        digits: String,
    },
    /// A newline arrived where the length header should have been.
    #[error("invalid RecordIO length header: empty length before '\\n'")]
    EmptyLength,
    /// The length header has more digits than any 64-bit length can have.
    #[error("invalid RecordIO length header: more than {MAX_HEADER_DIGITS} digits")]
    HeaderTooLong,
    /// The announced record is larger than this decoder accepts; reported before any of its
    /// body is buffered.
    #[error("RecordIO record of {length} bytes exceeds the maximum of {max} bytes")]
    TooLarge {
        /// The announced length (saturated at `u64::MAX` if the digits overflow).
        length: u64,
        /// The decoder's configured maximum.
        max: usize,
    },
    /// The stream ended in the middle of a length header.
    #[error("RecordIO stream ended inside a length header ({digits:?} without '\\n')")]
    TruncatedHeader {
        /// The digits read before the end of the stream.
        digits: String,
    },
    /// The stream ended before the announced number of bytes arrived.
    #[error("RecordIO stream ended inside a record: {received} of {expected} bytes received")]
    TruncatedRecord {
        /// The announced length.
        expected: usize,
        /// The bytes received before the end of the stream.
        received: usize,
    },
}

#[derive(Debug)]
enum State {
    /// Reading the decimal length; the digits read so far live in `Decoder::header`.
    Header,
    /// Reading a body of this many bytes into `Decoder::body`.
    Record(usize),
    /// A previous error ended the stream; repeated for every later call.
    Failed(RecordIoError),
}

/// Incremental RecordIO decoder with a bounded buffer.
///
/// It holds at most one length header (20 bytes) and one partial record (at most
/// `max_record_bytes`), however the input is chunked.
#[derive(Debug)]
pub struct Decoder {
    max_record_bytes: usize,
    state: State,
    header: Vec<u8>,
    body: BytesMut,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(Self::DEFAULT_MAX_RECORD_BYTES)
    }
}

impl Decoder {
    /// 64 MiB: protobuf's historical total-bytes limit, far above any real Mesos event while
    /// still bounding what a broken or hostile peer can make us buffer.
    pub const DEFAULT_MAX_RECORD_BYTES: usize = 64 * 1024 * 1024;

    /// A decoder that refuses records longer than `max_record_bytes`.
    pub fn new(max_record_bytes: usize) -> Self {
        Self {
            max_record_bytes,
            state: State::Header,
            header: Vec::with_capacity(MAX_HEADER_DIGITS),
            body: BytesMut::new(),
        }
    }

    /// The largest record this decoder accepts.
    pub fn max_record_bytes(&self) -> usize {
        self.max_record_bytes
    }

    /// Consumes one chunk of the stream and returns the records it completed, in order.
    ///
    /// Zero-length records are yielded as empty `Bytes`, as stout's decoder does; Mesos never
    /// writes them. If a chunk completes records and then hits an error, the records are
    /// returned and the error is reported by the next call; after an error every later call,
    /// including [`Decoder::finish`], returns that same error.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<Vec<Bytes>, RecordIoError> {
        let mut records = Vec::new();
        while !chunk.is_empty() {
            match self.state {
                State::Failed(ref err) => return Err(err.clone()),
                State::Header => {
                    let byte = chunk[0];
                    chunk = &chunk[1..];
                    if let Err(err) = self.header_byte(byte, &mut records) {
                        self.state = State::Failed(err);
                        break;
                    }
                }
                State::Record(length) => {
                    let wanted = length - self.body.len();
                    let (take, rest) = chunk.split_at(wanted.min(chunk.len()));
                    chunk = rest;
                    self.body.extend_from_slice(take);
                    if self.body.len() == length {
                        records.push(self.body.split().freeze());
                        self.state = State::Header;
                    }
                }
            }
        }
        match self.state {
            // Records completed before the error are good data; hand them over and let the
            // error surface on the next call (or `finish`).
            State::Failed(ref err) if records.is_empty() => Err(err.clone()),
            _ => Ok(records),
        }
    }

    /// Declares the end of the stream: succeeds only if it ended exactly between records.
    pub fn finish(&self) -> Result<(), RecordIoError> {
        match self.state {
            State::Failed(ref err) => Err(err.clone()),
            State::Header if self.header.is_empty() => Ok(()),
            State::Header => Err(RecordIoError::TruncatedHeader {
                digits: String::from_utf8_lossy(&self.header).into_owned(),
            }),
            State::Record(expected) => Err(RecordIoError::TruncatedRecord {
                expected,
                received: self.body.len(),
            }),
        }
    }

    fn header_byte(&mut self, byte: u8, records: &mut Vec<Bytes>) -> Result<(), RecordIoError> {
        match byte {
            b'0'..=b'9' if self.header.len() == MAX_HEADER_DIGITS => {
                Err(RecordIoError::HeaderTooLong)
            }
            b'0'..=b'9' => {
                self.header.push(byte);
                Ok(())
            }
            b'\n' if self.header.is_empty() => Err(RecordIoError::EmptyLength),
            b'\n' => {
                let length = self.header.iter().try_fold(0u64, |acc, &digit| {
                    acc.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
                });
                self.header.clear();
                let length = length.unwrap_or(u64::MAX);
                // Check the announced size before reserving or buffering any of the body.
                let length = match usize::try_from(length) {
                    Ok(length) if length <= self.max_record_bytes => length,
                    _ => {
                        return Err(RecordIoError::TooLarge {
                            length,
                            max: self.max_record_bytes,
                        });
                    }
                };
                if length == 0 {
                    records.push(Bytes::new());
                } else {
                    self.body.reserve(length);
                    self.state = State::Record(length);
                }
                Ok(())
            }
            _ => Err(RecordIoError::NonDigit {
                byte,
                digits: String::from_utf8_lossy(&self.header).into_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_is_the_decimal_length_and_a_newline() {
        for len in [0, 1, 9, 10, 99, 100, 1_032, 65_535, 1 << 20, usize::MAX] {
            let mut dst = BytesMut::new();
            put_header(len, &mut dst);
            assert_eq!(&dst[..], format!("{len}\n").as_bytes());
        }
    }

    #[test]
    fn encode_matches_mesos_docs_example() {
        // The exact bytes from Mesos' scheduler HTTP API docs.
        assert_eq!(
            &encode(br#"{"type":"HEARTBEAT"}"#)[..],
            b"20\n{\"type\":\"HEARTBEAT\"}"
        );
    }

    #[test]
    fn length_counts_bytes_not_characters() {
        // "é" is two bytes in UTF-8, so the header must say 2.
        assert_eq!(&encode("é".as_bytes())[..], "2\né".as_bytes());
    }

    #[test]
    fn decodes_byte_by_byte() {
        let mut stream = BytesMut::new();
        encode_into(b"hello", &mut stream);
        encode_into(b"world!", &mut stream);
        let mut decoder = Decoder::default();
        let mut out = Vec::new();
        for byte in stream.iter() {
            out.extend(decoder.feed(std::slice::from_ref(byte)).unwrap());
        }
        assert_eq!(
            out,
            vec![Bytes::from_static(b"hello"), Bytes::from_static(b"world!")]
        );
        decoder.finish().unwrap();
    }

    #[test]
    fn zero_length_record_is_empty_like_stout() {
        let mut decoder = Decoder::default();
        assert_eq!(
            decoder.feed(b"0\n3\nabc").unwrap(),
            vec![Bytes::new(), Bytes::from_static(b"abc")]
        );
    }

    #[test]
    fn leading_zeros_are_accepted_like_stout_numify() {
        let mut decoder = Decoder::default();
        assert_eq!(
            decoder.feed(b"003\nabc").unwrap(),
            vec![Bytes::from_static(b"abc")]
        );
    }

    #[test]
    fn oversized_length_fails_before_the_body_arrives() {
        let mut decoder = Decoder::new(10);
        let err = decoder.feed(b"11\n").unwrap_err();
        assert_eq!(
            err,
            RecordIoError::TooLarge {
                length: 11,
                max: 10
            }
        );
        assert!(decoder.body.capacity() < 11, "no body buffer was reserved");
    }

    #[test]
    fn overflowing_length_is_too_large() {
        let mut decoder = Decoder::new(10);
        let err = decoder.feed(b"99999999999999999999\n").unwrap_err();
        assert_eq!(
            err,
            RecordIoError::TooLarge {
                length: u64::MAX,
                max: 10
            }
        );
    }

    #[test]
    fn header_longer_than_twenty_digits_fails_early() {
        let mut decoder = Decoder::default();
        assert_eq!(
            decoder.feed(&[b'1'; 21]).unwrap_err(),
            RecordIoError::HeaderTooLong
        );
    }

    #[test]
    fn errors_are_sticky() {
        let mut decoder = Decoder::default();
        let err = decoder.feed(b"x").unwrap_err();
        assert_eq!(decoder.feed(b"3\nabc").unwrap_err(), err);
        assert_eq!(decoder.finish().unwrap_err(), err);
    }

    #[test]
    fn records_before_an_error_are_delivered_then_the_error() {
        let mut decoder = Decoder::default();
        assert_eq!(
            decoder.feed(b"1\na\n").unwrap(),
            vec![Bytes::from_static(b"a")]
        );
        assert_eq!(decoder.feed(b"").unwrap_err(), RecordIoError::EmptyLength);
        assert_eq!(decoder.finish().unwrap_err(), RecordIoError::EmptyLength);
    }
}
