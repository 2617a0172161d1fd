//! Authorization as Mesos' local authorizer decided it, the one check the master and the
//! agent both consult: an ACL list is searched in order, the first ACL whose subject and object
//! are about the request decides, and when none is, `permissive` does. Parsing `--acls` is the
//! daemons' (`drover_http::acls`); the rules live here so the cores can apply them.

/// An ACL entity: some values, anything, or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entity {
    /// These values.
    Some(Vec<String>),
    /// Anything (`{"type": "ANY"}`).
    Any,
    /// Nothing (`{"type": "NONE"}`).
    None,
}

impl Entity {
    /// A request's subject: its principal, or ANY when it has none (as Mesos).
    pub fn principal(principal: Option<&str>) -> Entity {
        match principal {
            Some(p) => Entity::Some(vec![p.to_owned()]),
            None => Entity::Any,
        }
    }

    /// Whether this ACL entity is about `request` (Mesos' `matches`: a request about anything
    /// is matched by an ACL of ANY, which lets it through, and by one of NONE, which denies
    /// it; so `{"flags": {"type": "NONE"}}` denies a principal the flags).
    pub fn matches(&self, request: &Entity) -> bool {
        match request {
            Entity::None => *self == Entity::None,
            Entity::Any => matches!(self, Entity::Any | Entity::None),
            Entity::Some(values) => match self {
                Entity::Any | Entity::None => true,
                Entity::Some(acl) => values.iter().all(|v| acl.contains(v)),
            },
        }
    }

    /// Whether this ACL entity lets `request` through (Mesos' `allows`).
    pub fn allows(&self, request: &Entity) -> bool {
        match request {
            Entity::None => *self == Entity::None,
            Entity::Any => *self == Entity::Any,
            Entity::Some(values) => match self {
                Entity::Any => true,
                Entity::None => false,
                Entity::Some(acl) => values.iter().all(|v| acl.contains(v)),
            },
        }
    }
}

/// One ACL: who (subject) may do it to what (object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    /// Usually principals.
    pub subject: Entity,
    /// What the action is about (roles, users, principals…).
    pub object: Entity,
}

/// Mesos' rule: the first ACL about the request decides; none → `permissive`.
pub fn approved(acls: &[Acl], permissive: bool, subject: &Entity, object: &Entity) -> bool {
    for acl in acls {
        if acl.subject.matches(subject) && acl.object.matches(object) {
            return acl.subject.allows(subject) && acl.object.allows(object);
        }
    }
    permissive
}

/// One kind of ACLs whose object is a user: `run_tasks` (which principal may run tasks as
/// which user) and `access_sandboxes` (which principal may read the sandboxes of which user's
/// executors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The ACLs, in order (subject: principals, object: users).
    pub acls: Vec<Acl>,
    /// What happens when no ACL is about a request.
    pub permissive: bool,
}

/// `run_tasks`.
pub type RunTasks = Rules;
/// `access_sandboxes`.
pub type AccessSandboxes = Rules;

/// The ACLs of the operations that change an agent's resources, by Mesos' kinds: objects are
/// roles for `reserve_resources` and `create_volumes`, the reservation's principal for
/// `unreserve_resources`, the volume's creator for `destroy_volumes`, the volume's role for
/// `resize_volumes` (GROW_VOLUME and SHRINK_VOLUME).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationAcls {
    pub reserve: Rules,
    pub unreserve: Rules,
    pub create: Rules,
    pub destroy: Rules,
    pub resize: Rules,
}

impl Rules {
    /// Whether `principal` may act on what belongs to `user`.
    pub fn allows(&self, principal: Option<&str>, user: &str) -> bool {
        self.allows_object(principal, Some(user))
    }

    /// As [`allows`](Self::allows); an object whose user is unknown is ANY, which only an
    /// ACL whose users are ANY lets through.
    pub fn allows_object(&self, principal: Option<&str>, user: Option<&str>) -> bool {
        let object = match user {
            Some(user) => Entity::Some(vec![user.to_owned()]),
            None => Entity::Any,
        };
        approved(
            &self.acls,
            self.permissive,
            &Entity::principal(principal),
            &object,
        )
    }
}

/// The view ACLs of a read (principal → user): which frameworks, executors and tasks a
/// principal may see, by the user each runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewRules {
    /// `view_frameworks`: by the framework's user.
    pub frameworks: Rules,
    /// `view_executors`: by the executor's command's user, else the framework's.
    pub executors: Rules,
    /// `view_tasks`: by the task's user.
    pub tasks: Rules,
}

/// The user a task runs as, as Mesos decides it: the task's command's, else its executor's
/// command's, else the framework's.
pub fn task_user<'a>(
    task: &'a drover_wire::v1::TaskInfo,
    executor: Option<&'a drover_wire::v1::ExecutorInfo>,
    framework: &'a drover_wire::v1::FrameworkInfo,
) -> &'a str {
    task.command
        .as_ref()
        .and_then(|c| c.user.as_deref())
        .or_else(|| {
            executor
                .or(task.executor.as_ref())
                .and_then(|e| e.command.as_ref())
                .and_then(|c| c.user.as_deref())
        })
        .unwrap_or(&framework.user)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(v: &[&str]) -> Entity {
        Entity::Some(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn the_first_acl_about_the_request_decides() {
        let rules = RunTasks {
            acls: vec![
                Acl {
                    subject: values(&["ops"]),
                    object: Entity::None,
                },
                Acl {
                    subject: Entity::Any,
                    object: values(&["nobody"]),
                },
            ],
            permissive: true,
        };
        // `ops` may run as nobody? Its ACL (object NONE) is about any user: no.
        assert!(!rules.allows(Some("ops"), "nobody"));
        assert!(!rules.allows(Some("ops"), "root"));
        // Others may run as nobody, and as root by permissiveness.
        assert!(rules.allows(Some("dev"), "nobody"));
        assert!(rules.allows(Some("dev"), "root"));
        let strict = RunTasks {
            permissive: false,
            ..rules
        };
        assert!(!strict.allows(Some("dev"), "root"));
        assert!(strict.allows(None, "nobody"), "no principal is ANY");
    }

    /// Mesos' table: a request about anything (ANY) is matched by an ACL of ANY or NONE, and
    /// only ANY lets it through; the first such ACL decides.
    #[test]
    fn a_request_about_anything_is_decided_by_an_acl_of_any_or_none() {
        let deny_bob = Acl {
            subject: values(&["bob"]),
            object: Entity::None,
        };
        let allow_all = Acl {
            subject: Entity::Any,
            object: Entity::Any,
        };
        let acls = [deny_bob, allow_all];
        assert!(!approved(&acls, true, &values(&["bob"]), &Entity::Any));
        assert!(approved(&acls, false, &values(&["alice"]), &Entity::Any));
        // An ACL of some values is not about a request about anything.
        let some = [Acl {
            subject: Entity::Any,
            object: values(&["x"]),
        }];
        assert!(approved(&some, true, &values(&["bob"]), &Entity::Any));
        assert!(!approved(&some, false, &values(&["bob"]), &Entity::Any));
        // No principal (ANY) is matched by an ACL of principals NONE, and denied by it.
        let nobody = [Acl {
            subject: Entity::None,
            object: Entity::Any,
        }];
        assert!(!approved(
            &nobody,
            true,
            &Entity::principal(None),
            &Entity::Any
        ));
        assert!(
            !approved(&nobody, true, &Entity::principal(Some("bob")), &Entity::Any),
            "principals NONE is about every principal, and lets none through"
        );
    }
}
