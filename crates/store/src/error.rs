//! The store's one error type. Messages name the path or the limit involved and say what to do,
//! because they end up in a daemon's startup log read by an operator.

use std::io;
use std::path::PathBuf;

use crate::Epoch;

/// Everything a [`Store`](crate::Store) operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The directory or file could not be created or opened (permissions, not a directory, ...).
    #[error(
        "cannot open the store at {}: {source}; check that the work dir exists and is writable",
        path.display()
    )]
    Open {
        /// The directory or file that failed.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },

    /// Another process holds the store's file lock.
    #[error(
        "the store at {} is in use by another process; another Drover process probably uses this \
         work dir: stop it, or give this process a different work dir",
        path.display()
    )]
    InUse {
        /// The locked file.
        path: PathBuf,
    },

    /// The store was written by a newer Drover whose schema this build does not know.
    #[error(
        "the store at {} has schema version {found}, newer than version {supported} that this \
         Drover understands; run the newer Drover release that wrote it",
        path.display()
    )]
    NewerSchema {
        /// The store file.
        path: PathBuf,
        /// Version found in the file.
        found: u32,
        /// [`SCHEMA_VERSION`](crate::SCHEMA_VERSION) of this build.
        supported: u32,
    },

    /// The store's own metadata is missing or malformed.
    #[error(
        "the store at {} is corrupt: {detail}; restore the work dir from a backup",
        path.display()
    )]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },

    /// The batch carries a fencing token older than one the store has seen.
    #[error(
        "commit refused: the batch is fenced with epoch {batch} but the store has seen epoch \
         {store}; a newer leader exists, so this process must stop acting as leader"
    )]
    Fenced {
        /// The batch's token.
        batch: Epoch,
        /// The highest token the store has seen.
        store: Epoch,
    },

    /// A namespace name breaks the naming rule.
    #[error(
        "invalid namespace {namespace:?}: use 1 to 64 characters of [a-z0-9_.-], starting with a \
         letter or digit"
    )]
    InvalidNamespace {
        /// The offending name.
        namespace: String,
    },

    /// A key exceeds [`KEY_BYTES_MAX`](crate::KEY_BYTES_MAX).
    #[error(
        "key of {len} bytes in namespace {namespace:?} exceeds the {max}-byte limit; use a \
         shorter key (keys are IDs, not data)"
    )]
    KeyTooLarge {
        /// Namespace of the write or read.
        namespace: String,
        /// Key length.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// A value exceeds [`VALUE_BYTES_MAX`](crate::VALUE_BYTES_MAX).
    #[error(
        "value of {len} bytes in namespace {namespace:?} exceeds the {max}-byte limit; split \
         the record into several keys"
    )]
    ValueTooLarge {
        /// Namespace of the write.
        namespace: String,
        /// Value length.
        len: usize,
        /// The limit.
        max: usize,
    },

    /// A store on a coordination engine (ZooKeeper) could not complete a read or commit: the
    /// engine was unreachable or answered with an error. A commit that fails this way may or
    /// may not have applied, so the store refuses every later commit: the process must stop
    /// acting and recover from the engine.
    #[error(
        "the coordination engine failed during {action}: {detail}; this process must stop \
         acting and recover its state from the engine"
    )]
    Engine {
        /// What was being done ("commit", "load", ...).
        action: &'static str,
        /// The engine's error.
        detail: String,
    },

    /// redb failed while reading or committing; the transaction did not apply.
    #[error(
        "store {action} failed at {}: {source}; the disk may be full or failing, check it and \
         restart",
        path.display()
    )]
    Redb {
        /// The store file.
        path: PathBuf,
        /// What was being done ("commit", "read", ...).
        action: &'static str,
        /// redb's error, boxed to keep `Result<_, StoreError>` small.
        source: Box<redb::Error>,
    },
}
