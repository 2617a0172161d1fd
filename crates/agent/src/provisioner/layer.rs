//! Unpacking one image layer (a tar, gzip-compressed or not) into its own directory of the
//! store, in overlayfs' format: Docker's whiteout files (`.wh.<name>`: `<name>` of a lower
//! layer is deleted) become overlayfs whiteouts (a 0/0 character device), and opaque
//! directories (`.wh..wh..opq`: nothing of the lower layers shows through) get the
//! `trusted.overlay.opaque` attribute. The copy backend reads the same marks.
//!
//! Owners, modes (set-uid included) and times are kept: an image's files are the image's,
//! and the agent runs as root. Nothing is ever written outside the layer's directory.

use std::ffi::CString;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";
/// The attribute overlayfs reads to make a directory opaque.
pub const OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Unpacks the layer archive at `archive` into `dest` (an empty directory). Returns the bytes
/// of file content written.
pub fn unpack(archive: &Path, dest: &Path) -> Result<u64, String> {
    let file = std::fs::File::open(archive).map_err(|e| format!("{}: {e}", archive.display()))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let gzip = reader
        .fill_buf()
        .map(|head| head.starts_with(&[0x1f, 0x8b]))
        .map_err(|e| format!("{}: {e}", archive.display()))?;
    if gzip {
        untar(flate2::read::GzDecoder::new(reader), dest)
    } else {
        untar(reader, dest)
    }
}

fn untar(reader: impl Read, dest: &Path) -> Result<u64, String> {
    let corrupt = |e: io::Error| format!("the layer is not a valid tar archive: {e}");
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_ownerships(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    let mut written = 0u64;
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let raw = entry.path().map_err(corrupt)?.into_owned();
        let Some(path) = normal(&raw) else {
            return Err(format!(
                "layer entry '{}' would be written outside the layer",
                raw.display()
            ));
        };
        if path.as_os_str().is_empty() {
            continue;
        }
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let parent = dest.join(path.parent().unwrap_or(Path::new("")));
        if name == OPAQUE {
            std::fs::create_dir_all(&parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            set_opaque(&parent)?;
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT) {
            std::fs::create_dir_all(&parent).map_err(|e| format!("{}: {e}", parent.display()))?;
            whiteout(&parent.join(hidden))?;
            continue;
        }
        match entry.header().entry_type() {
            // Devices are never taken from an image: a container's `/dev` is made at launch.
            tar::EntryType::Char | tar::EntryType::Block => continue,
            tar::EntryType::XHeader | tar::EntryType::XGlobalHeader => continue,
            _ => {}
        }
        written = written.saturating_add(entry.header().size().unwrap_or(0));
        // `unpack_in` refuses `..` and writing through a symlink that leads out of `dest`.
        let unpacked = entry.unpack_in(dest).map_err(|e| {
            let why = crate::fetcher::extract::chain(&e);
            format!("layer entry '{}': {why}", raw.display())
        })?;
        if !unpacked {
            return Err(format!(
                "layer entry '{}' would be written outside the layer",
                raw.display()
            ));
        }
    }
    Ok(written)
}

/// `path` without `.` components and a leading `/`; `None` with `..` in it.
fn normal(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// An overlayfs whiteout at `path`: a character device 0/0.
fn whiteout(path: &Path) -> Result<(), String> {
    use nix::sys::stat::{Mode, SFlag, makedev, mknod};
    let _ = std::fs::remove_file(path);
    mknod(path, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0))
        .map_err(|e| format!("whiteout {}: {e}", path.display()))
}

/// Whether `meta` is an overlayfs whiteout.
pub fn is_whiteout(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    meta.file_type().is_char_device() && meta.rdev() == 0
}

pub(super) fn set_opaque(dir: &Path) -> Result<(), String> {
    let path = CString::new(dir.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
    let name = CString::new(OPAQUE_XATTR).map_err(|e| e.to_string())?;
    // SAFETY: setxattr(2) with valid C strings and a 1-byte value that outlives the call.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::setxattr(path.as_ptr(), name.as_ptr(), b"y".as_ptr().cast(), 1, 0) };
    if rc < 0 {
        return Err(format!(
            "marking {} opaque: {}",
            dir.display(),
            io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// Whether `dir` carries the opaque mark.
pub fn is_opaque(dir: &Path) -> bool {
    let (Ok(path), Ok(name)) = (
        CString::new(dir.as_os_str().as_bytes()),
        CString::new(OPAQUE_XATTR),
    ) else {
        return false;
    };
    let mut value = [0u8; 4];
    // SAFETY: getxattr(2) with valid C strings into a buffer of the length given.
    #[allow(unsafe_code)]
    let n = unsafe {
        libc::getxattr(
            path.as_ptr(),
            name.as_ptr(),
            value.as_mut_ptr().cast(),
            value.len(),
        )
    };
    n == 1 && value[0] == b'y'
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_uid(0);
            header.set_gid(0);
            header.set_mtime(1_700_000_000);
            if path.ends_with('/') {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                header.set_size(0);
            } else {
                header.set_mode(0o644);
                header.set_size(data.len() as u64);
            }
            builder.append_data(&mut header, path, *data).unwrap();
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_become_overlay_marks_and_traversal_is_refused() {
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIPPED: whiteouts need root (mknod, trusted.* attributes)");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("layer.tar");
        std::fs::write(
            &archive,
            layer(&[
                ("etc/", b""),
                ("etc/motd", b"hi"),
                ("etc/.wh.gone", b""),
                ("var/.wh..wh..opq", b""),
            ]),
        )
        .unwrap();
        let dest = dir.path().join("out");
        std::fs::create_dir(&dest).unwrap();
        assert_eq!(unpack(&archive, &dest).unwrap(), 2);
        assert_eq!(std::fs::read(dest.join("etc/motd")).unwrap(), b"hi");
        let gone = std::fs::symlink_metadata(dest.join("etc/gone")).unwrap();
        assert!(is_whiteout(&gone));
        assert!(!dest.join("etc/.wh.gone").exists());
        assert!(is_opaque(&dest.join("var")));
        assert!(!is_opaque(&dest.join("etc")));

        // A raw header can carry `..`; the tar builder refuses to write one, so make it by hand.
        let mut header = tar::Header::new_gnu();
        header.set_uid(0);
        header.set_gid(0);
        header.set_mtime(1_700_000_000);
        header.as_old_mut().name[..7].copy_from_slice(b"../evil");
        header.set_mode(0o644);
        header.set_size(1);
        header.set_cksum();
        let mut bad = header.as_bytes().to_vec();
        bad.push(b'x');
        bad.resize(512 * 4, 0);
        std::fs::write(&archive, bad).unwrap();
        let fresh = dir.path().join("fresh");
        std::fs::create_dir(&fresh).unwrap();
        let why = unpack(&archive, &fresh).unwrap_err();
        assert!(why.contains("outside the layer"), "{why}");
        assert!(!dir.path().join("evil").exists());
    }
}
