//! Typed identifiers of the agent core and the deterministic uuid source it draws from.

use std::fmt;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub String);

        impl $name {
            /// The id as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self(value.to_owned())
            }
        }
    };
}

id_type!(
    /// A framework's id (`FrameworkID.value`).
    FrameworkId
);
id_type!(
    /// An executor's id, unique within its framework.
    ExecutorId
);
id_type!(
    /// A task's id, unique within its framework.
    TaskId
);
id_type!(
    /// A container's id: one per executor run; names its sandbox and cgroups.
    ContainerId
);

/// One HTTP connection of an executor (a SUBSCRIBE stream), numbered by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

/// One request the driver waits on a reply for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Makes version-4-shaped uuids from a seed the driver drew at random, and a counter. The core
/// never draws randomness itself; a fresh seed per agent process keeps ids unique across
/// restarts, and a fixed seed makes tests replayable.
#[derive(Debug, Clone)]
pub struct UuidSource {
    seed: [u8; 16],
    counter: u64,
}

impl UuidSource {
    /// A source seeded with 16 random bytes.
    pub fn new(seed: [u8; 16]) -> Self {
        Self { seed, counter: 0 }
    }

    /// The next uuid (16 bytes, RFC 4122 version 4 layout).
    pub fn next_bytes(&mut self) -> [u8; 16] {
        self.counter += 1;
        let mut bytes = self.seed;
        // A multiplicative mix spreads consecutive counters over all bits of the low half.
        let mixed = self.counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for (i, b) in mixed.to_be_bytes().iter().enumerate() {
            bytes[8 + i] ^= b;
        }
        for (i, b) in self.counter.to_be_bytes().iter().enumerate() {
            bytes[i] ^= b;
        }
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        bytes
    }

    /// The next uuid in its hyphenated text form.
    pub fn next_string(&mut self) -> String {
        uuid_text(&self.next_bytes())
    }
}

/// The hyphenated lowercase text form of 16 uuid bytes.
pub fn uuid_text(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push_str(&format!("{b:02x}"));
    }
    out
}
