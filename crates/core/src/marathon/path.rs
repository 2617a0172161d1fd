//! App ids: Marathon's absolute slash paths (`/prod/web`), their validation, and the "safe
//! path" form (`prod_web`) that prefixes instance and task ids.

use std::fmt;

/// An absolute, normalized app or group id such as `/prod/web`. The root is `/`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PathId(String);

/// Ids may not end in these words, since they collide with sub-resources of `/v2/apps/{id}`.
const RESERVED_LAST_SEGMENTS: [&str; 3] = ["restart", "tasks", "versions"];

/// The id pattern Marathon reports in its validation message.
pub const SEGMENT_PATTERN: &str = "^(([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])|(\\.|\\.\\.)$";

impl PathId {
    /// The root group `/`.
    pub fn root() -> Self {
        PathId("/".to_owned())
    }

    /// Parses an id as given by a client, relative to `base` (usually the root). `.` and `..`
    /// segments are resolved. Returns every problem with the id as messages.
    pub fn parse(raw: &str, base: &PathId) -> Result<PathId, Vec<String>> {
        let mut segments: Vec<String> = if raw.starts_with('/') {
            Vec::new()
        } else {
            base.segments().map(str::to_owned).collect()
        };
        let mut problems = Vec::new();
        for segment in raw.split('/').filter(|s| !s.is_empty()) {
            match segment {
                "." => {}
                ".." => {
                    segments.pop();
                }
                s if valid_segment(s) => segments.push(s.to_owned()),
                s => problems.push(format!(
                    "'{s}' must fully match regular expression '{SEGMENT_PATTERN}'"
                )),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(PathId(format!("/{}", segments.join("/"))))
    }

    /// Parses and additionally checks what an app id must satisfy (not root, last segment not
    /// reserved).
    pub fn parse_app_id(raw: &str) -> Result<PathId, Vec<String>> {
        let id = PathId::parse(raw, &PathId::root())?;
        let mut problems = Vec::new();
        if id.is_root() {
            problems.push("Path must contain at least one path element".to_owned());
        }
        if let Some(last) = id.segments().last()
            && RESERVED_LAST_SEGMENTS.contains(&last)
        {
            problems.push(format!(
                "must not end with any of the following reserved words: {}",
                RESERVED_LAST_SEGMENTS.join(", ")
            ));
        }
        if raw.len() > 1024 {
            problems.push("id is too long (at most 1024 characters)".to_owned());
        }
        if problems.is_empty() {
            Ok(id)
        } else {
            Err(problems)
        }
    }

    /// The path as a string, e.g. `/prod/web`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is the root group.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The path's segments, outermost first.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|s| !s.is_empty())
    }

    /// The enclosing group (`/prod` for `/prod/web`; the root's parent is the root).
    pub fn parent(&self) -> PathId {
        match self.0.rfind('/') {
            Some(0) | None => PathId::root(),
            Some(i) => PathId(self.0[..i].to_owned()),
        }
    }

    /// Whether `self` is `group` or lies beneath it.
    pub fn is_within(&self, group: &PathId) -> bool {
        group.is_root()
            || self == group
            || self
                .0
                .strip_prefix(group.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// The safe form used in task ids: segments joined with `_` (`prod_web`).
    pub fn safe(&self) -> String {
        self.segments().collect::<Vec<_>>().join("_")
    }
}

impl fmt::Display for PathId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether one path segment matches Marathon's segment regex (DNS-label-like, dots allowed
/// between labels).
fn valid_segment(segment: &str) -> bool {
    segment.split('.').all(|label| {
        let bytes = label.as_bytes();
        !bytes.is_empty()
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
            && bytes[0] != b'-'
            && bytes[bytes.len() - 1] != b'-'
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_relative_and_absolute_ids() {
        let root = PathId::root();
        assert_eq!(PathId::parse("web", &root).unwrap().as_str(), "/web");
        assert_eq!(PathId::parse("/a/b/../c", &root).unwrap().as_str(), "/a/c");
        assert_eq!(
            PathId::parse("/prod/web", &root).unwrap().safe(),
            "prod_web"
        );
        assert!(PathId::parse("/Bad_Id", &root).is_err());
        assert!(PathId::parse_app_id("/a/restart").is_err());
        assert!(PathId::parse_app_id("/").is_err());
        assert!(PathId::parse("/a-/b", &root).is_err());
        assert!(PathId::parse("/a.b-c/d1", &root).is_ok());
    }

    #[test]
    fn parent_and_within() {
        let id = PathId::parse_app_id("/prod/web").unwrap();
        assert_eq!(id.parent().as_str(), "/prod");
        assert!(id.is_within(&PathId::parse("/prod", &PathId::root()).unwrap()));
        assert!(!id.is_within(&PathId::parse("/pro", &PathId::root()).unwrap()));
        assert!(id.is_within(&PathId::root()));
    }
}
