//! Looking up the user a task runs as (Mesos' `CommandInfo.user` / `--switch_user`).

use std::ffi::CString;
use std::path::PathBuf;

use super::LaunchError;

/// A user as the task will run: ids for the child's `setgroups`/`setgid`/`setuid`, and the home
/// directory so the caller can put `HOME` into the task's environment if it wants to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The user name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups, primary group included (`getgrouplist`).
    pub groups: Vec<u32>,
    /// Home directory from the passwd entry.
    pub home: PathBuf,
}

/// Looks `name` up through NSS. Blocking: call it off the async runtime.
pub fn lookup_user(name: &str) -> Result<UserInfo, LaunchError> {
    let lookup_err = |source| LaunchError::UserLookup {
        user: name.to_owned(),
        source,
    };
    let user = nix::unistd::User::from_name(name)
        .map_err(lookup_err)?
        .ok_or_else(|| LaunchError::UserNotFound {
            user: name.to_owned(),
        })?;
    let cname = CString::new(name)
        .map_err(|_| LaunchError::InvalidSpec(format!("NUL byte in user name {name:?}")))?;
    let groups = nix::unistd::getgrouplist(&cname, user.gid).map_err(lookup_err)?;
    Ok(UserInfo {
        name: name.to_owned(),
        uid: user.uid.as_raw(),
        gid: user.gid.as_raw(),
        groups: groups.into_iter().map(|g| g.as_raw()).collect(),
        home: user.dir,
    })
}
