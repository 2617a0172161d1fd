//! The agent's Operator API READ_FILE: the same paths, refusals and offset/length rules as
//! `/files/read` (paths inside the work dir only; a directory is a 400, a missing file a
//! 404), answered as `{size, data}` with the raw bytes, as Mesos' v1 agent API did.

use std::path::Path;

use axum::http::StatusCode;
use drover_http::server::HttpError;

/// Reads `length` bytes (to the end if `None`, bounded by `drover_http::file_range::MAX_READ`) at `offset` of the
/// file at `path` (resolved inside `work_dir`); returns the file's size and the bytes. An
/// offset at or past the end gives no bytes, as Mesos did.
pub fn read_file(
    work_dir: &Path,
    path: &str,
    offset: u64,
    length: Option<u64>,
) -> Result<(u64, Vec<u8>), HttpError> {
    let real = crate::http::resolve(work_dir, path)?;
    if real.is_dir() {
        return Err(HttpError::new(
            StatusCode::BAD_REQUEST,
            format!("Cannot read '{path}': it is a directory"),
        ));
    }
    drover_http::file_range::read_range(&real, path, offset, length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ranges_and_refuses_directories_missing_files_and_escapes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let sandbox = dir
            .path()
            .join("slaves/S0/frameworks/F/executors/e/runs/latest");
        std::fs::create_dir_all(&sandbox).expect("sandbox");
        std::fs::write(sandbox.join("stdout"), b"hello world").expect("write");
        let path = sandbox.join("stdout").display().to_string();

        assert_eq!(
            read_file(dir.path(), &path, 0, None).expect("whole file"),
            (11, b"hello world".to_vec())
        );
        assert_eq!(
            read_file(dir.path(), &path, 6, Some(3)).expect("range"),
            (11, b"wor".to_vec())
        );
        assert_eq!(
            read_file(dir.path(), &path, 6, Some(100)).expect("clipped"),
            (11, b"world".to_vec())
        );
        assert_eq!(
            read_file(dir.path(), &path, 50, None).expect("past the end"),
            (11, Vec::new())
        );
        // Relative to the work dir, as `/files/read` resolves it.
        let relative = "slaves/S0/frameworks/F/executors/e/runs/latest/stdout";
        assert_eq!(
            read_file(dir.path(), relative, 0, Some(5))
                .expect("relative")
                .1,
            b"hello"
        );

        let status = |r: Result<(u64, Vec<u8>), HttpError>| r.expect_err("refused").status;
        let sandbox_text = sandbox.display().to_string();
        assert_eq!(
            status(read_file(dir.path(), &sandbox_text, 0, None)),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            status(read_file(dir.path(), "nope", 0, None)),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(read_file(dir.path(), "/etc/passwd", 0, None)),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status(read_file(dir.path(), "slaves/../../x", 0, None)),
            StatusCode::NOT_FOUND
        );
    }
}
