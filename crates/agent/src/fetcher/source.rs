//! Where a `CommandInfo.URI` points (http(s) or a local file) and where in the sandbox it goes:
//! the URI and `output_file` checks shared by the agent and Marathon's validation.

use std::path::{Component, Path, PathBuf};

/// A parsed `CommandInfo.URI.value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `http://` or `https://`.
    Http(reqwest::Url),
    /// `file:///abs/path` or a bare absolute path.
    Local(PathBuf),
}

impl Source {
    /// Parses a URI, refusing the schemes Drover's fetcher does not support (Mesos handed those
    /// to Hadoop's client, which Drover does not have).
    pub fn parse(value: &str) -> Result<Source, String> {
        check_uri(value)?;
        if value.starts_with('/') {
            return Ok(Source::Local(PathBuf::from(value)));
        }
        let lower = value.to_ascii_lowercase();
        if let Some(rest) = lower.strip_prefix("file://") {
            // `file://localhost/x` and `file:///x` name a local file; any other host does not.
            let start = "file://".len();
            let path = if rest.starts_with('/') {
                &value[start..]
            } else if rest.starts_with("localhost/") {
                &value[start + "localhost".len()..]
            } else {
                return Err(format!(
                    "file URI '{value}' names a remote host; only local files can be fetched"
                ));
            };
            return Ok(Source::Local(PathBuf::from(path)));
        }
        let url = reqwest::Url::parse(value).map_err(|e| format!("invalid URI '{value}': {e}"))?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("invalid URI '{value}': no host"));
        }
        Ok(Source::Http(url))
    }

    /// The file name the URI gives in the sandbox when there is no `output_file`: the last
    /// segment of its path, as Mesos' fetcher took it.
    pub fn basename(&self) -> Option<String> {
        let name = match self {
            Source::Http(url) => url.path_segments()?.next_back()?.to_owned(),
            Source::Local(path) => path.file_name()?.to_str()?.to_owned(),
        };
        (!name.is_empty() && name != "." && name != "..").then_some(name)
    }
}

/// The schemes the fetcher accepts: `http`, `https`, `file` and absolute paths. This is the
/// check Marathon runs at validation time, so that an app with a URI the agent would refuse
/// never gets accepted.
pub fn check_uri(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("URI must not be empty".to_owned());
    }
    if value.starts_with('/') {
        return Ok(());
    }
    match value.split_once("://") {
        Some((scheme, _))
            if ["http", "https", "file"]
                .iter()
                .any(|s| s.eq_ignore_ascii_case(scheme)) =>
        {
            Ok(())
        }
        Some((scheme, _)) => Err(format!(
            "unsupported URI scheme '{scheme}' in '{value}': the fetcher supports http, https, \
             file and absolute paths (hdfs, s3 and other Hadoop schemes are not supported)"
        )),
        None => Err(format!(
            "URI '{value}' is neither an absolute path nor has a scheme (http, https, file)"
        )),
    }
}

/// Checks an `output_file` and returns it as a path relative to the sandbox: it must stay
/// inside the sandbox (no absolute path, no `..`).
pub fn output_path(output_file: &str) -> Result<PathBuf, String> {
    let path = Path::new(output_file);
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "output_file '{output_file}' must be a relative path inside the sandbox"
                ));
            }
        }
    }
    if out.as_os_str().is_empty() {
        return Err(format!("output_file '{output_file}' names no file"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert!(matches!(
            Source::parse("http://h:1/a/b.tgz"),
            Ok(Source::Http(_))
        ));
        assert!(matches!(Source::parse("HTTPS://h/x"), Ok(Source::Http(_))));
        assert_eq!(
            Source::parse("file:///tmp/x").unwrap(),
            Source::Local("/tmp/x".into())
        );
        assert_eq!(
            Source::parse("file://localhost/tmp/x").unwrap(),
            Source::Local("/tmp/x".into())
        );
        assert_eq!(
            Source::parse("/tmp/x").unwrap(),
            Source::Local("/tmp/x".into())
        );
        assert!(Source::parse("file://other/tmp/x").is_err());
        let err = Source::parse("hdfs://nn/x").unwrap_err();
        assert!(err.contains("unsupported URI scheme 'hdfs'"), "{err}");
        assert!(Source::parse("relative/x").is_err());
        assert!(Source::parse("").is_err());
    }

    #[test]
    fn basenames() {
        let name = |u: &str| Source::parse(u).unwrap().basename();
        assert_eq!(name("http://h/a/b.tgz?x=1").as_deref(), Some("b.tgz"));
        assert_eq!(name("/tmp/y.zip").as_deref(), Some("y.zip"));
        assert_eq!(name("http://h/"), None);
    }

    #[test]
    fn output_paths_stay_inside() {
        assert_eq!(output_path("a/b").unwrap(), PathBuf::from("a/b"));
        assert_eq!(output_path("./a").unwrap(), PathBuf::from("a"));
        assert!(output_path("../a").is_err());
        assert!(output_path("a/../../b").is_err());
        assert!(output_path("/etc/x").is_err());
        assert!(output_path(".").is_err());
    }
}
