//! `zk://[user:pass@]host:port[,host:port]/path`, the ZooKeeper URL every Mesos and Marathon
//! flag takes (`--zk`, `--master=zk://…`), parsed strictly so a typo is a clear error at start.

use std::fmt;

use crate::CoordError;

/// A parsed ZooKeeper URL.
#[derive(Clone, PartialEq, Eq)]
pub struct ZkUrl {
    /// `user:pass` for ZooKeeper's `digest` scheme, if given.
    pub credentials: Option<(String, String)>,
    /// The ensemble, `host:port` each.
    pub servers: Vec<String>,
    /// The absolute znode path (`/mesos`), without a trailing slash.
    pub path: String,
}

impl fmt::Debug for ZkUrl {
    // Never print the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for ZkUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let auth = match &self.credentials {
            Some((user, _)) => format!("{user}:***@"),
            None => String::new(),
        };
        write!(f, "zk://{auth}{}{}", self.servers.join(","), self.path)
    }
}

impl ZkUrl {
    /// Parses `zk://[user:pass@]host:port[,host:port]/path`.
    pub fn parse(text: &str) -> Result<ZkUrl, CoordError> {
        let bad = |why: &str| {
            CoordError::Invalid(format!(
                "invalid ZooKeeper URL '{text}': {why} (expected zk://[user:pass@]host:port[,host:port]/path)"
            ))
        };
        let rest = text
            .strip_prefix("zk://")
            .ok_or_else(|| bad("it must start with zk://"))?;
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => return Err(bad("the znode path is missing")),
        };
        let (credentials, hosts) = match authority.rsplit_once('@') {
            Some((creds, hosts)) => {
                let (user, pass) = creds
                    .split_once(':')
                    .ok_or_else(|| bad("credentials must be user:pass"))?;
                if user.is_empty() {
                    return Err(bad("the user is empty"));
                }
                (Some((user.to_owned(), pass.to_owned())), hosts)
            }
            None => (None, authority),
        };
        let mut servers = Vec::new();
        for server in hosts.split(',') {
            let (host, port) = server
                .rsplit_once(':')
                .ok_or_else(|| bad(&format!("server '{server}' has no port")))?;
            if host.is_empty()
                || !host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._[]:".contains(&b))
            {
                return Err(bad(&format!("server '{server}' has no valid host")));
            }
            match port.parse::<u16>() {
                Ok(p) if p > 0 => {}
                _ => return Err(bad(&format!("server '{server}' has no valid port"))),
            }
            servers.push(server.to_owned());
        }
        let path = path.trim_end_matches('/');
        if path.is_empty() {
            return Err(bad("the znode path must not be the root"));
        }
        for part in path[1..].split('/') {
            if part.is_empty() || part == "." || part == ".." || part.contains('\0') {
                return Err(bad(&format!("'{path}' is not a valid znode path")));
            }
        }
        Ok(ZkUrl {
            credentials,
            servers,
            path: path.to_owned(),
        })
    }

    /// The connect string the client library takes (`h1:p1,h2:p2`).
    pub fn connect_string(&self) -> String {
        self.servers.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_mesos_forms() {
        let url = ZkUrl::parse("zk://127.0.0.1:2181/mesos").expect("parses");
        assert_eq!(url.servers, vec!["127.0.0.1:2181"]);
        assert_eq!(url.path, "/mesos");
        assert_eq!(url.credentials, None);
        let url = ZkUrl::parse("zk://u:p@zk1:2181,zk2:2182/a/b/").expect("parses");
        assert_eq!(url.servers, vec!["zk1:2181", "zk2:2182"]);
        assert_eq!(url.path, "/a/b");
        assert_eq!(url.credentials, Some(("u".to_owned(), "p".to_owned())));
        assert_eq!(url.to_string(), "zk://u:***@zk1:2181,zk2:2182/a/b");
    }

    #[test]
    fn refuses_what_does_not_parse() {
        for bad in [
            "http://zk:2181/mesos",
            "zk://zk:2181",
            "zk://zk:2181/",
            "zk://zk/mesos",
            "zk://zk:0/mesos",
            "zk://zk:99999/mesos",
            "zk://:2181/mesos",
            "zk://zk:2181//x",
            "zk://user@zk:2181/mesos",
            "zk://zk:2181,/mesos",
        ] {
            let error = ZkUrl::parse(bad).expect_err(bad);
            assert!(
                error.to_string().contains("invalid ZooKeeper URL"),
                "{error}"
            );
        }
    }
}
