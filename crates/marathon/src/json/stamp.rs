//! Marathon timestamps written straight into JSON text, exactly as
//! [`drover_core::marathon::timestamp`] spells them. A listing writes three per app and most
//! fall on a handful of days, so the date part is formatted by `timestamp` once per day (kept
//! per thread) and only the time of day is written by hand.

use std::cell::RefCell;

use drover_core::marathon::timestamp;
use serde::ser::{Serialize, Serializer};

const DAY_MS: u64 = 86_400_000;
/// What `timestamp` appends to the date: `THH:MM:SS.mmmZ`.
const TIME_LEN: usize = 14;
/// The longest date `timestamp` writes (year 584,554,049 at `u64::MAX` ms) is 15 bytes.
const MAX_LEN: usize = 32;

thread_local! {
    /// The last day written and its `YYYY-MM-DD` text.
    static DAY: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

/// Milliseconds since the epoch, serialized as Marathon's timestamp string.
#[derive(Debug, Clone, Copy)]
pub struct Stamp(pub u64);

impl Stamp {
    /// Writes the text into `buf`, returning its length (`None`: it does not fit).
    fn write(self, buf: &mut [u8; MAX_LEN]) -> Option<usize> {
        let day = self.0 / DAY_MS;
        let date_len = DAY.with(|cache| {
            let mut cache = cache.borrow_mut();
            if cache.0 != day {
                let mut date = timestamp(day * DAY_MS);
                date.truncate(date.len() - TIME_LEN);
                *cache = (day, date);
            }
            let date = cache.1.as_bytes();
            let slot = buf.get_mut(..date.len())?;
            slot.copy_from_slice(date);
            Some(date.len())
        })?;
        let in_day = self.0 % DAY_MS;
        let (secs, millis) = (in_day / 1000, in_day % 1000);
        let two = |v: u64| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
        let [h1, h2] = two(secs / 3600);
        let [m1, m2] = two(secs / 60 % 60);
        let [s1, s2] = two(secs % 60);
        let time = [
            b'T',
            h1,
            h2,
            b':',
            m1,
            m2,
            b':',
            s1,
            s2,
            b'.',
            b'0' + (millis / 100) as u8,
            b'0' + (millis / 10 % 10) as u8,
            b'0' + (millis % 10) as u8,
            b'Z',
        ];
        buf.get_mut(date_len..date_len + TIME_LEN)?
            .copy_from_slice(&time);
        Some(date_len + TIME_LEN)
    }
}

impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; MAX_LEN];
        let written = self.write(&mut buf);
        // Only ASCII was written, so the text is UTF-8; anything unexpected takes the slow way.
        match written.and_then(|len| std::str::from_utf8(&buf[..len]).ok()) {
            Some(text) => s.serialize_str(text),
            None => s.serialize_str(&timestamp(self.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(ms: u64) -> String {
        let mut buf = [0u8; MAX_LEN];
        let len = Stamp(ms).write(&mut buf).unwrap();
        String::from_utf8(buf[..len].to_vec()).unwrap()
    }

    #[test]
    fn spells_every_instant_as_timestamp_does() {
        let mut ms = 1u64;
        let mut samples = vec![
            0,
            999,
            1000,
            DAY_MS - 1,
            DAY_MS,
            u64::MAX,
            u64::MAX - DAY_MS,
        ];
        // Every order of magnitude, each day boundary around it, and a spread inside one day.
        while ms < u64::MAX / 7 {
            samples.extend([
                ms,
                ms * 3 + 1,
                ms / DAY_MS * DAY_MS,
                (ms / DAY_MS * DAY_MS).saturating_sub(1),
            ]);
            ms = ms * 7 + 3;
        }
        samples.extend((0..2000).map(|k| 1_600_000_000_000 + k * 43_211));
        for ms in samples {
            assert_eq!(text(ms), timestamp(ms), "{ms}");
            assert_eq!(
                serde_json::to_string(&Stamp(ms)).unwrap(),
                format!("\"{}\"", timestamp(ms))
            );
        }
    }
}
