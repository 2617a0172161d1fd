//! Archive extraction into the sandbox (tar, tar.gz/tgz, tar.bz2/tbz2, tar.xz/txz, zip, gz), as
//! Mesos' fetcher did by file extension — but never writing outside the sandbox: entries with
//! `..` or absolute paths, symlinks whose target leaves the sandbox, hard links to outside and
//! device nodes are refused, and the bytes written are bounded (no archive bomb fills a disk).
//! Blocking code: the caller runs it on the blocking pool.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// The archive formats Mesos' fetcher extracted, by file-name suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `.tar`
    Tar,
    /// `.tar.gz`, `.tgz`
    TarGz,
    /// `.tar.bz2`, `.tbz2`
    TarBz2,
    /// `.tar.xz`, `.txz`
    TarXz,
    /// `.zip`
    Zip,
    /// `.gz` of a single file (decompressed beside it, without the suffix)
    Gz,
}

impl Kind {
    /// The archive kind a file name says, if any.
    pub fn of(name: &str) -> Option<Kind> {
        let n = name.to_ascii_lowercase();
        let kinds: [(&[&str], Kind); 6] = [
            (&[".tar.gz", ".tgz"], Kind::TarGz),
            (&[".tar.bz2", ".tbz2"], Kind::TarBz2),
            (&[".tar.xz", ".txz"], Kind::TarXz),
            (&[".tar"], Kind::Tar),
            (&[".zip"], Kind::Zip),
            (&[".gz"], Kind::Gz),
        ];
        kinds
            .iter()
            .find(|(suffixes, _)| suffixes.iter().any(|s| n.ends_with(s)))
            .map(|(_, kind)| *kind)
    }
}

/// Why an extraction failed.
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// The archive could not be read (truncated, bad checksum, wrong format).
    #[error("archive corrupt: {0}")]
    Corrupt(String),
    /// An entry would land outside the sandbox, or is of a refused type.
    #[error("archive refused: {0}")]
    Unsafe(String),
    /// Extracting would write more than the limit.
    #[error("disk quota exceeded: extracting would write more than {limit} bytes")]
    Quota {
        /// The limit in bytes.
        limit: u64,
    },
    /// Writing the extracted files failed.
    #[error("writing {path}: {source}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
}

/// Extracts `archive` into `dest` (the sandbox), writing at most `limit` bytes of file content.
/// Returns the bytes written.
pub fn extract(kind: Kind, archive: &Path, dest: &Path, limit: u64) -> Result<u64, ExtractError> {
    let corrupt = |e: io::Error| ExtractError::Corrupt(e.to_string());
    let file = File::open(archive).map_err(corrupt)?;
    let reader = BufReader::with_capacity(1 << 16, file);
    let written = match kind {
        Kind::Tar => untar(reader, dest, limit),
        Kind::TarGz => untar(flate2::bufread::MultiGzDecoder::new(reader), dest, limit),
        Kind::TarBz2 => untar(bzip2::bufread::MultiBzDecoder::new(reader), dest, limit),
        Kind::TarXz => untar(
            liblzma::bufread::XzDecoder::new_multi_decoder(reader),
            dest,
            limit,
        ),
        Kind::Zip => unzip(archive, dest, limit),
        Kind::Gz => gunzip(reader, archive, dest, limit),
    };
    // The symlink pass runs whether or not extraction finished: an archive that fails half way
    // must not leave an escaping link behind for the agent (root) to follow later.
    let links = check_symlinks(dest);
    let written = written?;
    links?;
    Ok(written)
}

/// A relative path with no `..`, no root: where an entry may go inside the sandbox.
fn safe_relative(path: &Path) -> Result<PathBuf, ExtractError> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => {
                return Err(ExtractError::Unsafe(format!(
                    "entry '{}' would be written outside the sandbox",
                    path.display()
                )));
            }
        }
    }
    Ok(out)
}

/// A symlink at `entry` (relative to the sandbox) pointing at `target` must, read lexically,
/// stay inside the sandbox. [`check_symlinks`] then checks what it really resolves to.
fn check_link_target(entry: &Path, target: &Path) -> Result<(), ExtractError> {
    let refuse = || {
        ExtractError::Unsafe(format!(
            "symlink '{}' -> '{}' points outside the sandbox",
            entry.display(),
            target.display()
        ))
    };
    if target.is_absolute() {
        return Err(refuse());
    }
    let mut depth: i64 = entry.components().count() as i64 - 1;
    for component in target.components() {
        match component {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err(refuse()),
        }
        if depth < 0 {
            return Err(refuse());
        }
    }
    Ok(())
}

fn untar(reader: impl Read, dest: &Path, limit: u64) -> Result<u64, ExtractError> {
    let corrupt = |e: io::Error| ExtractError::Corrupt(e.to_string());
    let mut archive = tar::Archive::new(reader);
    // Never restore set-uid bits, owners or extended attributes from an archive: the agent
    // runs as root and the files are given to the task's user afterwards.
    archive.set_preserve_permissions(false);
    archive.set_preserve_ownerships(false);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    let mut written = 0u64;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let raw = entry.path().map_err(corrupt)?.into_owned();
        let path = safe_relative(&raw)?;
        if path.as_os_str().is_empty() {
            continue;
        }
        let kind = entry.header().entry_type();
        match kind {
            tar::EntryType::Regular
            | tar::EntryType::Continuous
            | tar::EntryType::GNUSparse
            | tar::EntryType::Directory => {}
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .map_err(corrupt)?
                    .ok_or_else(|| ExtractError::Corrupt("symlink without target".into()))?;
                check_link_target(&path, &target)?;
            }
            tar::EntryType::Link => {
                // A hard link names another entry of the archive, relative to its root.
                let target = entry
                    .link_name()
                    .map_err(corrupt)?
                    .ok_or_else(|| ExtractError::Corrupt("hard link without target".into()))?;
                safe_relative(&target)?;
            }
            // PAX and GNU long-name headers are consumed by the tar crate itself.
            tar::EntryType::XHeader | tar::EntryType::XGlobalHeader => continue,
            other => {
                return Err(ExtractError::Unsafe(format!(
                    "entry '{}' is a {other:?}, which is never extracted",
                    raw.display()
                )));
            }
        }
        written = written.saturating_add(entry.header().size().unwrap_or(0));
        if written > limit {
            return Err(ExtractError::Quota { limit });
        }
        // `unpack_in` also refuses to write through a symlink that leads out of `dest`.
        let unpacked = entry.unpack_in(dest).map_err(|e| match e.kind() {
            // The archive ran out or failed to decompress in the middle of an entry.
            io::ErrorKind::UnexpectedEof
            | io::ErrorKind::InvalidData
            | io::ErrorKind::InvalidInput => ExtractError::Corrupt(chain(&e)),
            _ => ExtractError::Write {
                path: dest.join(&path),
                source: e,
            },
        })?;
        if !unpacked {
            return Err(ExtractError::Unsafe(format!(
                "entry '{}' would be written outside the sandbox",
                raw.display()
            )));
        }
    }
    Ok(written)
}

fn unzip(archive: &Path, dest: &Path, limit: u64) -> Result<u64, ExtractError> {
    let corrupt = |e: zip::result::ZipError| ExtractError::Corrupt(e.to_string());
    let file = File::open(archive).map_err(|e| ExtractError::Corrupt(e.to_string()))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(corrupt)?;
    let root = fs::canonicalize(dest).map_err(|e| ExtractError::Write {
        path: dest.to_path_buf(),
        source: e,
    })?;
    let mut written = 0u64;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(corrupt)?;
        let name = entry.name().map_err(corrupt)?.into_owned();
        let path = safe_relative(Path::new(&name))?;
        if path.as_os_str().is_empty() {
            continue;
        }
        let out = dest.join(&path);
        let write_err = |source| ExtractError::Write {
            path: out.clone(),
            source,
        };
        if entry.is_dir() {
            create_dirs_inside(&root, &out)?;
            continue;
        }
        let parent = out.parent().unwrap_or(dest);
        create_dirs_inside(&root, parent)?;
        // Replace whatever is there (possibly a symlink) rather than writing through it.
        if fs::symlink_metadata(&out).is_ok_and(|m| !m.is_dir()) {
            fs::remove_file(&out).map_err(write_err)?;
        }
        if entry.is_symlink() {
            let mut target = String::new();
            entry
                .read_to_string(&mut target)
                .map_err(|e| ExtractError::Corrupt(e.to_string()))?;
            check_link_target(&path, Path::new(&target))?;
            std::os::unix::fs::symlink(&target, &out).map_err(write_err)?;
            continue;
        }
        let mode = entry.unix_mode().map_or(0o644, |m| m & 0o777);
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&out)
            .map_err(write_err)?;
        let remaining = limit - written;
        let copied = io::copy(
            &mut (&mut entry).take(remaining.saturating_add(1)),
            &mut file,
        )
        .map_err(|e| {
            if e.kind() == io::ErrorKind::InvalidData || e.kind() == io::ErrorKind::UnexpectedEof {
                ExtractError::Corrupt(format!("entry '{name}': {e}"))
            } else {
                write_err(e)
            }
        })?;
        if copied > remaining {
            return Err(ExtractError::Quota { limit });
        }
        written += copied;
        // The umask may have narrowed the mode at creation.
        fs::set_permissions(&out, fs::Permissions::from_mode(mode)).map_err(write_err)?;
    }
    Ok(written)
}

/// An error and its causes, outermost first (tar's "failed to unpack" hides the cause).
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// `x.gz` is decompressed to `x` beside it, as `gunzip` did for Mesos.
fn gunzip(
    reader: impl io::BufRead,
    archive: &Path,
    dest: &Path,
    limit: u64,
) -> Result<u64, ExtractError> {
    let name = archive
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let stem = &name[..name.len().saturating_sub(3)];
    if stem.is_empty() {
        return Err(ExtractError::Unsafe(format!(
            "'{name}' has no name to decompress to"
        )));
    }
    let out = archive.parent().unwrap_or(dest).join(stem);
    let write_err = |source| ExtractError::Write {
        path: out.clone(),
        source,
    };
    if fs::symlink_metadata(&out).is_ok_and(|m| !m.is_dir()) {
        fs::remove_file(&out).map_err(write_err)?;
    }
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&out)
        .map_err(write_err)?;
    let mut decoder = flate2::bufread::MultiGzDecoder::new(reader).take(limit.saturating_add(1));
    let copied = io::copy(&mut decoder, &mut file).map_err(|e| match e.kind() {
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
            ExtractError::Corrupt(e.to_string())
        }
        _ => write_err(e),
    })?;
    if copied > limit {
        return Err(ExtractError::Quota { limit });
    }
    Ok(copied)
}

/// `create_dir_all`, refusing to create anything whose real location is outside `root` (a
/// symlinked directory created by an earlier entry cannot redirect later ones).
fn create_dirs_inside(root: &Path, dir: &Path) -> Result<(), ExtractError> {
    fs::create_dir_all(dir).map_err(|e| ExtractError::Write {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let real = fs::canonicalize(dir).map_err(|e| ExtractError::Write {
        path: dir.to_path_buf(),
        source: e,
    })?;
    if !real.starts_with(root) {
        return Err(ExtractError::Unsafe(format!(
            "'{}' resolves outside the sandbox",
            dir.display()
        )));
    }
    Ok(())
}

/// After extraction, every symlink in the sandbox must resolve inside it (the lexical check of
/// each entry cannot see a chain of links such as `s -> .` then `s/t -> ..`). An escaping link
/// is removed and the fetch fails, so nothing later — the agent opening `stdout`, the chown of
/// the sandbox — ever follows it.
pub fn check_symlinks(dir: &Path) -> Result<(), ExtractError> {
    let root = fs::canonicalize(dir).map_err(|e| ExtractError::Write {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else {
                continue;
            };
            let path = entry.path();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_symlink() {
                let escapes = match fs::canonicalize(&path) {
                    Ok(real) => !real.starts_with(&root),
                    // Dangling: its lexical target was checked when it was created.
                    Err(_) => false,
                };
                if escapes {
                    let _ = fs::remove_file(&path);
                    return Err(ExtractError::Unsafe(format!(
                        "symlink '{}' resolves outside the sandbox",
                        path.strip_prefix(dir).unwrap_or(&path).display()
                    )));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_suffix() {
        assert_eq!(Kind::of("a.tar.gz"), Some(Kind::TarGz));
        assert_eq!(Kind::of("a.TGZ"), Some(Kind::TarGz));
        assert_eq!(Kind::of("a.tbz2"), Some(Kind::TarBz2));
        assert_eq!(Kind::of("a.tar.xz"), Some(Kind::TarXz));
        assert_eq!(Kind::of("a.tar"), Some(Kind::Tar));
        assert_eq!(Kind::of("a.zip"), Some(Kind::Zip));
        assert_eq!(Kind::of("a.gz"), Some(Kind::Gz));
        assert_eq!(Kind::of("a.jar"), None);
    }

    #[test]
    fn link_targets() {
        assert!(check_link_target(Path::new("a/l"), Path::new("../b")).is_ok());
        assert!(check_link_target(Path::new("a/l"), Path::new("../../b")).is_err());
        assert!(check_link_target(Path::new("l"), Path::new("/etc/passwd")).is_err());
        assert!(check_link_target(Path::new("l"), Path::new("x/../../y")).is_err());
    }
}
