//! RecordIO framing under arbitrary chunking and hostile input: round trips, the exact error
//! for each malformed stream, bounded buffering, and no panics.

use bytes::{Bytes, BytesMut};
use drover_wire::recordio::{Decoder, RecordIoError, encode, encode_into};
use proptest::prelude::*;

/// Feeds `stream` to `decoder` cut at `cuts` (positions, any order, may repeat or overflow).
fn feed_in_pieces(
    decoder: &mut Decoder,
    stream: &[u8],
    cuts: &[usize],
) -> Result<Vec<Bytes>, RecordIoError> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
    cuts.push(0);
    cuts.push(stream.len());
    cuts.sort_unstable();
    let mut records = Vec::new();
    for pair in cuts.windows(2) {
        records.extend(decoder.feed(&stream[pair[0]..pair[1]])?);
    }
    Ok(records)
}

proptest! {
    #[test]
    fn any_payloads_in_any_chunks_round_trip(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        // Zero-length records never come from Mesos but stout's decoder passes them through.
        let mut stream = BytesMut::new();
        for payload in &payloads {
            encode_into(payload, &mut stream);
        }
        let mut decoder = Decoder::new(300);
        let records = feed_in_pieces(&mut decoder, &stream, &cuts).unwrap();
        prop_assert_eq!(records, payloads.iter().map(|p| Bytes::copy_from_slice(p)).collect::<Vec<_>>());
        prop_assert_eq!(decoder.finish(), Ok(()));
    }

    #[test]
    fn random_bytes_never_panic(
        stream in prop::collection::vec(any::<u8>(), 0..2000),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
        max in 0usize..1000,
    ) {
        let mut decoder = Decoder::new(max);
        if let Ok(records) = feed_in_pieces(&mut decoder, &stream, &cuts) {
            prop_assert!(records.iter().all(|r| r.len() <= max));
        }
        let _ = decoder.finish();
    }

    #[test]
    fn mostly_valid_streams_with_one_corrupt_byte_never_panic(
        payloads in prop::collection::vec(prop::collection::vec(any::<u8>(), 1..50), 1..10),
        position in any::<usize>(),
        byte in any::<u8>(),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let mut stream = BytesMut::new();
        for payload in &payloads {
            encode_into(payload, &mut stream);
        }
        let position = position % stream.len();
        stream[position] = byte;
        let mut decoder = Decoder::new(64);
        let _ = feed_in_pieces(&mut decoder, &stream, &cuts);
        let _ = decoder.finish();
    }

    #[test]
    fn any_truncation_of_a_record_is_reported_by_finish(
        payload in prop::collection::vec(any::<u8>(), 1..200),
        keep in any::<usize>(),
    ) {
        let framed = encode(&payload);
        let keep = 1 + keep % (framed.len() - 1);
        let mut decoder = Decoder::default();
        prop_assert_eq!(decoder.feed(&framed[..keep]).unwrap(), Vec::<Bytes>::new());
        let header = payload.len().to_string().len();
        let expected = if keep <= header {
            RecordIoError::TruncatedHeader { digits: payload.len().to_string()[..keep].to_owned() }
        } else {
            RecordIoError::TruncatedRecord { expected: payload.len(), received: keep - header - 1 }
        };
        prop_assert_eq!(decoder.finish(), Err(expected));
    }
}

#[test]
fn oversized_record_is_refused_at_its_header() {
    let mut decoder = Decoder::new(1024);
    // The body never arrives; the header alone is enough to refuse.
    assert_eq!(
        decoder.feed(b"1025\n").unwrap_err(),
        RecordIoError::TooLarge {
            length: 1025,
            max: 1024
        }
    );
    let mut decoder = Decoder::new(1024);
    assert_eq!(decoder.feed(b"1024\n").unwrap(), Vec::<Bytes>::new());
}

#[test]
fn malformed_headers_give_specific_errors() {
    let cases: &[(&[u8], RecordIoError)] = &[
        (b"\n", RecordIoError::EmptyLength),
        (
            b" 5\nhello",
            RecordIoError::NonDigit {
                byte: b' ',
                digits: String::new(),
            },
        ),
        (
            b"-5\nhello",
            RecordIoError::NonDigit {
                byte: b'-',
                digits: String::new(),
            },
        ),
        (
            b"5\r\nhello",
            RecordIoError::NonDigit {
                byte: b'\r',
                digits: "5".into(),
            },
        ),
        (
            b"{\"type\":\"HEARTBEAT\"}",
            RecordIoError::NonDigit {
                byte: b'{',
                digits: String::new(),
            },
        ),
        (b"123456789012345678901\n", RecordIoError::HeaderTooLong),
    ];
    for (stream, expected) in cases {
        let mut decoder = Decoder::default();
        assert_eq!(
            decoder.feed(stream).unwrap_err(),
            *expected,
            "{:?}",
            String::from_utf8_lossy(stream)
        );
    }
}

#[test]
fn a_record_followed_by_trailing_garbage_is_delivered_before_the_error() {
    // Framing drift, e.g. a sender that appends '\n' after each record.
    let mut decoder = Decoder::default();
    let records = decoder.feed(b"20\n{\"type\":\"HEARTBEAT\"}\n20\n").unwrap();
    assert_eq!(
        records,
        vec![Bytes::from_static(b"{\"type\":\"HEARTBEAT\"}")]
    );
    assert_eq!(decoder.feed(b"x").unwrap_err(), RecordIoError::EmptyLength);
}

#[test]
fn finish_on_a_clean_boundary_is_ok() {
    let mut decoder = Decoder::default();
    assert_eq!(decoder.finish(), Ok(()));
    decoder.feed(&encode(b"abc")).unwrap();
    assert_eq!(decoder.finish(), Ok(()));
}

#[test]
fn error_messages_are_actionable() {
    assert_eq!(
        RecordIoError::TooLarge {
            length: 5_000_000,
            max: 1_048_576
        }
        .to_string(),
        "RecordIO record of 5000000 bytes exceeds the maximum of 1048576 bytes"
    );
    assert_eq!(
        RecordIoError::TruncatedRecord {
            expected: 20,
            received: 3
        }
        .to_string(),
        "RecordIO stream ended inside a record: 3 of 20 bytes received"
    );
}
