//! The offer operations that change what an agent has rather than run something on it:
//! RESERVE and UNRESERVE (dynamic reservations, with refinement) and CREATE and DESTROY
//! (persistent volumes). Each is validated against who asks (a framework through ACCEPT, an
//! operator through the Operator API) and applied to a list of resources (an offer's, or an
//! agent's total), as Mesos' master did. The master, the agent and the operator calls share
//! this one definition, so they can never disagree on what an operation turns resources into.

use drover_wire::v1;
use drover_wire::v1::offer::operation::Type as OpType;
use drover_wire::v1::resource::reservation_info::Type as ReservationType;

use crate::resources;

/// One operation, with the resources (or volumes) it names.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// RESERVE: each resource carries the reservation to push onto its stack.
    Reserve(Vec<v1::Resource>),
    /// UNRESERVE: each resource as reserved; its last (dynamic) reservation is popped.
    Unreserve(Vec<v1::Resource>),
    /// CREATE: persistent volumes made from reserved disk.
    Create(Vec<v1::Resource>),
    /// DESTROY: persistent volumes turned back into the disk they were made from.
    Destroy(Vec<v1::Resource>),
    /// GROW_VOLUME: `[volume, addition]`: the volume takes in `addition`, disk of its own
    /// reservation.
    Grow(Vec<v1::Resource>),
    /// SHRINK_VOLUME: `[volume]` gives back this many MB as disk of its reservation.
    Shrink(Vec<v1::Resource>, f64),
}

/// Who asks for an operation: the principal it authenticated as, and (for a framework) the
/// role its offer was allocated to, the only role it may reserve for.
#[derive(Debug, Clone, Copy, Default)]
pub struct Actor<'a> {
    pub principal: Option<&'a str>,
    pub role: Option<&'a str>,
}

impl Operation {
    /// The operation an ACCEPT names, `Ok(None)` for LAUNCH and LAUNCH_GROUP (not ours), and
    /// an error naming the operations Drover does not perform.
    pub fn from_offer_operation(op: &v1::offer::Operation) -> Result<Option<Operation>, String> {
        let kind = op.r#type.and_then(|t| OpType::try_from(t).ok());
        let missing = |field: &str| format!("Expecting '{field}' to be present");
        Ok(Some(match kind {
            Some(OpType::Launch) | Some(OpType::LaunchGroup) => return Ok(None),
            Some(OpType::Reserve) => {
                let reserve = op.reserve.as_ref().ok_or_else(|| missing("reserve"))?;
                if !reserve.source.is_empty() {
                    return Err("RESERVE with 'source' (reservation updates) is not \
                                supported: unreserve first"
                        .into());
                }
                Operation::Reserve(reserve.resources.clone())
            }
            Some(OpType::Unreserve) => Operation::Unreserve(
                op.unreserve
                    .as_ref()
                    .ok_or_else(|| missing("unreserve"))?
                    .resources
                    .clone(),
            ),
            Some(OpType::Create) => Operation::Create(
                op.create
                    .as_ref()
                    .ok_or_else(|| missing("create"))?
                    .volumes
                    .clone(),
            ),
            Some(OpType::Destroy) => Operation::Destroy(
                op.destroy
                    .as_ref()
                    .ok_or_else(|| missing("destroy"))?
                    .volumes
                    .clone(),
            ),
            Some(OpType::GrowVolume) => {
                let grow = op
                    .grow_volume
                    .as_ref()
                    .ok_or_else(|| missing("grow_volume"))?;
                Operation::Grow(vec![grow.volume.clone(), grow.addition.clone()])
            }
            Some(OpType::ShrinkVolume) => {
                let shrink = op
                    .shrink_volume
                    .as_ref()
                    .ok_or_else(|| missing("shrink_volume"))?;
                Operation::Shrink(vec![shrink.volume.clone()], shrink.subtract.value)
            }
            Some(other @ (OpType::CreateDisk | OpType::DestroyDisk)) => {
                return Err(format!(
                    "{} is not supported: Drover has no resource providers",
                    other.as_str_name()
                ));
            }
            Some(OpType::Unknown) | None => return Err("Unknown offer operation".into()),
        }))
    }

    /// Its name as the protocol spells it.
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Reserve(_) => "RESERVE",
            Operation::Unreserve(_) => "UNRESERVE",
            Operation::Create(_) => "CREATE",
            Operation::Destroy(_) => "DESTROY",
            Operation::Grow(_) => "GROW_VOLUME",
            Operation::Shrink(..) => "SHRINK_VOLUME",
        }
    }

    /// The resources it names.
    pub fn resources(&self) -> &[v1::Resource] {
        match self {
            Operation::Reserve(r)
            | Operation::Unreserve(r)
            | Operation::Create(r)
            | Operation::Destroy(r)
            | Operation::Grow(r)
            | Operation::Shrink(r, _) => r,
        }
    }

    /// Checks the operation on its own (not yet against what there is), for `actor`.
    pub fn validate(&self, actor: &Actor) -> Result<(), String> {
        let name = self.name();
        if self.resources().is_empty() {
            return Err(format!("Invalid {name} operation: it names no resources"));
        }
        for r in self.resources() {
            resources::validate(r).map_err(|e| format!("Invalid {name} operation: {e}"))?;
            if r.revocable.is_some() {
                return Err(format!(
                    "Invalid {name} operation: revocable resource {} cannot be {}",
                    show(r),
                    match self {
                        Operation::Create(_) | Operation::Destroy(_) => "a persistent volume",
                        _ => "reserved",
                    }
                ));
            }
            if r.shared.is_some() {
                return Err(format!(
                    "Invalid {name} operation: shared resources ({}) are not supported",
                    show(r)
                ));
            }
            if r.disk.as_ref().is_some_and(|d| d.source.is_some()) {
                return Err(format!(
                    "Invalid {name} operation: disks with a 'source' ({}) are not supported: \
                     Drover's agents have only their root disk",
                    show(r)
                ));
            }
            match self {
                Operation::Reserve(_) => validate_reserve(r, actor)?,
                Operation::Unreserve(_) => validate_unreserve(r)?,
                Operation::Create(_) => validate_create(r, actor)?,
                Operation::Destroy(_) => {
                    if !resources::is_persistent_volume(r) {
                        return Err(format!(
                            "Invalid DESTROY operation: {} is not a persistent volume",
                            show(r)
                        ));
                    }
                }
                // Checked as a whole below.
                Operation::Grow(_) | Operation::Shrink(..) => {}
            }
        }
        match self {
            Operation::Grow(parts) => validate_grow(parts)?,
            Operation::Shrink(parts, subtract) => validate_shrink(&parts[0], *subtract)?,
            _ => {}
        }
        if let Operation::Create(volumes) = self {
            let mut ids: Vec<(String, &str)> = Vec::new();
            for v in volumes {
                let key = (
                    resources::reservation_role(v).to_owned(),
                    persistence_id(v).unwrap_or_default(),
                );
                if ids.contains(&key) {
                    return Err(format!(
                        "Invalid CREATE operation: persistence id '{}' appears more than once",
                        key.1
                    ));
                }
                ids.push(key);
            }
        }
        Ok(())
    }

    /// Applies the operation to `pool` (an offer's resources or an agent's total); an error
    /// when the pool does not hold what the operation consumes.
    pub fn apply(&self, pool: &[v1::Resource]) -> Result<Vec<v1::Resource>, String> {
        let name = self.name();
        let mut pool = resources::normalize(pool);
        // A resize consumes the volume (and, growing, the addition) and produces the volume
        // at its new size (and, shrinking, the disk it gave back).
        let resize = match self {
            Operation::Grow(parts) => {
                let (volume, addition) = (resources::upgrade(&parts[0]), &parts[1]);
                let grown = with_size(&volume, disk_mb(&volume) + disk_mb(addition));
                Some((vec![volume, resources::upgrade(addition)], vec![grown]))
            }
            Operation::Shrink(parts, subtract) => {
                let volume = resources::upgrade(&parts[0]);
                let shrunk = with_size(&volume, disk_mb(&volume) - subtract);
                let freed = with_size(&strip_volume(&volume), *subtract);
                Some((vec![volume], vec![shrunk, freed]))
            }
            _ => None,
        };
        if let Some((consumed, produced)) = resize {
            if !resources::contains(&pool, &consumed) {
                return Err(format!(
                    "Invalid {name} operation: {} does not contain {}",
                    resources::display(&pool),
                    resources::display(&consumed)
                ));
            }
            pool = resources::subtract(&pool, &consumed);
            return Ok(resources::add(&pool, &produced));
        }
        for r in self.resources() {
            let r = resources::upgrade(r);
            let (consumed, produced) = match self {
                Operation::Reserve(_) => (pop_reservation(&r), r.clone()),
                Operation::Unreserve(_) => (r.clone(), pop_reservation(&r)),
                Operation::Create(_) => {
                    let id = persistence_id(&r).unwrap_or_default();
                    let role = resources::reservation_role(&r);
                    if pool.iter().any(|have| {
                        persistence_id(have) == Some(id)
                            && resources::reservation_role(have) == role
                    }) {
                        return Err(format!(
                            "Invalid CREATE operation: a persistent volume with id '{id}' \
                             already exists for role '{role}'"
                        ));
                    }
                    (strip_volume(&r), r.clone())
                }
                Operation::Destroy(_) => (r.clone(), strip_volume(&r)),
                Operation::Grow(_) | Operation::Shrink(..) => unreachable!("applied above"),
            };
            if !resources::contains(&pool, std::slice::from_ref(&consumed)) {
                return Err(format!(
                    "Invalid {name} operation: {} does not contain {}",
                    resources::display(&pool),
                    show(&consumed)
                ));
            }
            pool = resources::subtract(&pool, std::slice::from_ref(&consumed));
            pool = resources::add(&pool, std::slice::from_ref(&produced));
        }
        Ok(pool)
    }

    /// The same operation with its resources' `allocation_info` removed, to apply to an
    /// agent's total (which carries none).
    pub fn unallocated(&self) -> Operation {
        let strip = |list: &[v1::Resource]| resources::unallocate(list);
        match self {
            Operation::Reserve(r) => Operation::Reserve(strip(r)),
            Operation::Unreserve(r) => Operation::Unreserve(strip(r)),
            Operation::Create(r) => Operation::Create(strip(r)),
            Operation::Destroy(r) => Operation::Destroy(strip(r)),
            Operation::Grow(r) => Operation::Grow(strip(r)),
            Operation::Shrink(r, subtract) => Operation::Shrink(strip(r), *subtract),
        }
    }
}

fn disk_mb(r: &v1::Resource) -> f64 {
    resources::scalar(std::slice::from_ref(r), "disk")
}

/// `r` with its scalar set to `mb`.
fn with_size(r: &v1::Resource, mb: f64) -> v1::Resource {
    let mut r = r.clone();
    r.scalar = Some(v1::value::Scalar { value: mb });
    r
}

/// GROW_VOLUME as Mesos validated it: a positive addition of plain disk with the volume's
/// own reservation, onto a persistent volume that is not shared.
fn validate_grow(parts: &[v1::Resource]) -> Result<(), String> {
    let fail = |why: String| Err(format!("Invalid GROW_VOLUME operation: {why}"));
    let [volume, addition] = parts else {
        return fail("it needs a volume and an addition".into());
    };
    if !resources::is_persistent_volume(volume) {
        return fail(format!("{} is not a persistent volume", show(volume)));
    }
    if addition.name != "disk" || !resources::is_scalar(addition) || disk_mb(addition) <= 0.0 {
        return fail("the addition must be disk, more than zero".into());
    }
    if resources::is_persistent_volume(addition) || addition.disk.is_some() {
        return fail(format!(
            "the addition {} must be plain disk",
            show(addition)
        ));
    }
    let mut stripped = resources::upgrade(&strip_volume(volume));
    stripped.scalar = None;
    let mut plain = resources::upgrade(addition);
    plain.scalar = None;
    if stripped != plain {
        return fail(format!(
            "the addition {} does not have the reservation of the volume {}",
            show(addition),
            show(volume)
        ));
    }
    Ok(())
}

/// SHRINK_VOLUME as Mesos validated it: a positive amount, less than the volume's size.
fn validate_shrink(volume: &v1::Resource, subtract: f64) -> Result<(), String> {
    let fail = |why: String| Err(format!("Invalid SHRINK_VOLUME operation: {why}"));
    if !resources::is_persistent_volume(volume) {
        return fail(format!("{} is not a persistent volume", show(volume)));
    }
    // NaN is not greater than zero either.
    if subtract.is_nan() || subtract <= 0.0 {
        return fail("'subtract' must be greater than zero".into());
    }
    if disk_mb(volume) <= subtract {
        return fail(format!(
            "'subtract' ({subtract}) must be smaller than the size of the volume {}",
            show(volume)
        ));
    }
    Ok(())
}

fn show(r: &v1::Resource) -> String {
    resources::display(std::slice::from_ref(r))
}

fn last_dynamic(r: &v1::Resource) -> Option<v1::resource::ReservationInfo> {
    resources::reservations(r)
        .last()
        .filter(|last| last.r#type == Some(ReservationType::Dynamic as i32))
        .cloned()
}

fn validate_reserve(r: &v1::Resource, actor: &Actor) -> Result<(), String> {
    let stack = resources::reservations(r);
    let Some(last) = last_dynamic(r) else {
        return Err(format!(
            "Invalid RESERVE operation: {} has no dynamic reservation to make (its last \
             'reservations' entry must be of type DYNAMIC)",
            show(r)
        ));
    };
    let role = last.role.as_deref().unwrap_or(resources::DEFAULT_ROLE);
    if role == resources::DEFAULT_ROLE {
        return Err("Invalid RESERVE operation: resources cannot be reserved for role '*'".into());
    }
    crate::master::validation::validate_role(role)
        .map_err(|e| format!("Invalid RESERVE operation: {e}"))?;
    if let Some(previous) = stack.len().checked_sub(2).map(|i| &stack[i]) {
        let parent = previous.role.as_deref().unwrap_or(resources::DEFAULT_ROLE);
        if !role.starts_with(&format!("{parent}/")) {
            return Err(format!(
                "Invalid RESERVE operation: a refined reservation's role '{role}' must be a \
                 child of the role it refines ('{parent}')"
            ));
        }
    }
    if resources::is_persistent_volume(r) {
        return Err(format!(
            "Invalid RESERVE operation: {} is a persistent volume",
            show(r)
        ));
    }
    if let Some(allowed) = actor.role
        && role != allowed
    {
        return Err(format!(
            "Invalid RESERVE operation: the reservation's role '{role}' is not the role \
             '{allowed}' the resources are allocated to"
        ));
    }
    if let Some(principal) = actor.principal
        && last.principal.as_deref() != Some(principal)
    {
        return Err(format!(
            "Invalid RESERVE operation: the reservation's principal '{}' is not the caller's \
             principal '{principal}'",
            last.principal.as_deref().unwrap_or("")
        ));
    }
    Ok(())
}

fn validate_unreserve(r: &v1::Resource) -> Result<(), String> {
    if last_dynamic(r).is_none() {
        return Err(format!(
            "Invalid UNRESERVE operation: {} is not dynamically reserved",
            show(r)
        ));
    }
    if resources::is_persistent_volume(r) {
        return Err(format!(
            "Invalid UNRESERVE operation: {} is a persistent volume: destroy it first",
            show(r)
        ));
    }
    Ok(())
}

fn validate_create(r: &v1::Resource, actor: &Actor) -> Result<(), String> {
    let fail = |why: &str| Err(format!("Invalid CREATE operation: {why}"));
    if r.name != "disk" || !resources::is_scalar(r) {
        return fail(&format!("{} is not a disk", show(r)));
    }
    let Some(disk) = &r.disk else {
        return fail("a volume needs 'disk.persistence' and 'disk.volume'");
    };
    let Some(persistence) = &disk.persistence else {
        return fail("a volume needs 'disk.persistence'");
    };
    if let Err(e) = safe_segment(&persistence.id) {
        return fail(&format!("persistence id '{}' {e}", persistence.id));
    }
    let Some(volume) = &disk.volume else {
        return fail("a volume needs 'disk.volume' (its container_path and mode)");
    };
    if volume.mode != v1::volume::Mode::Rw as i32 {
        return fail("a persistent volume's mode must be RW");
    }
    if volume.host_path.as_deref().is_some_and(|p| !p.is_empty()) {
        return fail("a persistent volume has no 'host_path'");
    }
    if volume.image.is_some() || volume.source.is_some() {
        return fail("a persistent volume has no 'image' or 'source'");
    }
    validate_container_path(&volume.container_path).map_err(|e| {
        format!(
            "Invalid CREATE operation: container_path '{}' {e}",
            volume.container_path
        )
    })?;
    if resources::reservations(r).is_empty() {
        return fail(&format!(
            "{} is unreserved: persistent volumes are made from reserved disk",
            show(r)
        ));
    }
    if resources::scalar(std::slice::from_ref(r), "disk") <= 0.0 {
        return fail("a persistent volume's size must be positive");
    }
    if let Some(principal) = actor.principal
        && persistence.principal.as_deref() != Some(principal)
    {
        return fail(&format!(
            "the volume's principal '{}' is not the caller's principal '{principal}'",
            persistence.principal.as_deref().unwrap_or("")
        ));
    }
    Ok(())
}

/// A persistence id (a directory name on the agent): not empty, no `/`, not `.` or `..`.
fn safe_segment(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("must not be empty");
    }
    if id == "." || id == ".." || id.contains('/') || id.contains('\0') {
        return Err("must be a file name (no '/', not '.' or '..')");
    }
    Ok(())
}

/// Where a persistent volume appears in a container without an image: a relative path in
/// its sandbox that cannot leave it.
pub fn validate_container_path(path: &str) -> Result<(), &'static str> {
    if path.is_empty() {
        return Err("must not be empty");
    }
    if path.starts_with('/') {
        return Err("must be relative to the sandbox");
    }
    if path.split('/').any(|part| part == ".." || part == ".") || path.contains('\0') {
        return Err("must not contain '.' or '..' components");
    }
    Ok(())
}

/// The persistence id of a volume.
pub fn persistence_id(r: &v1::Resource) -> Option<&str> {
    r.disk
        .as_ref()
        .and_then(|d| d.persistence.as_ref())
        .map(|p| p.id.as_str())
}

/// The resource with its last reservation popped (unreserved when it had one).
pub fn pop_reservation(r: &v1::Resource) -> v1::Resource {
    let mut out = resources::upgrade(r);
    out.reservations.pop();
    out
}

/// The disk a volume was made from: `persistence` and `volume` removed.
pub fn strip_volume(r: &v1::Resource) -> v1::Resource {
    let mut out = resources::upgrade(r);
    if let Some(disk) = &mut out.disk {
        disk.persistence = None;
        disk.volume = None;
        if disk.source.is_none() {
            out.disk = None;
        }
    }
    out
}

/// What a checkpointed resource was made from: every dynamic reservation popped, any volume
/// removed. An agent's static total is what its total is made from ([`checkpoint`]).
pub fn strip_checkpointed(r: &v1::Resource) -> v1::Resource {
    let mut out = strip_volume(r);
    out.reservations
        .retain(|res| res.r#type != Some(ReservationType::Dynamic as i32));
    out
}

/// The checkpointed part of a total: dynamically reserved resources and volumes.
pub fn checkpointed(total: &[v1::Resource]) -> Vec<v1::Resource> {
    total
        .iter()
        .filter(|r| resources::is_checkpointed(r))
        .cloned()
        .collect()
}

/// An agent's total from its static resources and its checkpointed ones: each checkpointed
/// resource replaces what it was made from. An error names one that does not fit.
pub fn checkpoint(
    static_total: &[v1::Resource],
    checkpointed: &[v1::Resource],
) -> Result<Vec<v1::Resource>, String> {
    let mut total = resources::normalize(static_total);
    for r in checkpointed {
        let source = strip_checkpointed(r);
        if !resources::contains(&total, std::slice::from_ref(&source)) {
            return Err(format!(
                "checkpointed resource {} does not fit in {}",
                show(r),
                resources::display(&total)
            ));
        }
        total = resources::subtract(&total, std::slice::from_ref(&source));
        total = resources::add(&total, std::slice::from_ref(r));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dynamic(mut r: v1::Resource, role: &str, principal: Option<&str>) -> v1::Resource {
        r.reservations.push(v1::resource::ReservationInfo {
            r#type: Some(ReservationType::Dynamic as i32),
            role: Some(role.into()),
            principal: principal.map(Into::into),
            labels: None,
        });
        r
    }

    fn volume(r: v1::Resource, id: &str, path: &str) -> v1::Resource {
        let mut r = r;
        r.disk = Some(Box::new(v1::resource::DiskInfo {
            persistence: Some(v1::resource::disk_info::Persistence {
                id: id.into(),
                principal: None,
            }),
            volume: Some(v1::Volume {
                container_path: path.into(),
                mode: v1::volume::Mode::Rw as i32,
                ..Default::default()
            }),
            source: None,
        }));
        r
    }

    fn equal(a: &[v1::Resource], b: &[v1::Resource]) -> bool {
        resources::contains(a, b) && resources::contains(b, a)
    }

    fn total() -> Vec<v1::Resource> {
        resources::parse("cpus:4;mem:1024;disk:1000").unwrap()
    }

    #[test]
    fn reserve_create_destroy_unreserve_round_trip() {
        let disk = dynamic(resources::scalar_resource("disk", 100.0), "db", None);
        let cpus = dynamic(resources::scalar_resource("cpus", 1.0), "db", None);
        let actor = Actor {
            principal: None,
            role: Some("db"),
        };
        let reserve = Operation::Reserve(vec![disk.clone(), cpus.clone()]);
        reserve.validate(&actor).unwrap();
        let reserved = reserve.apply(&total()).unwrap();
        assert_eq!(resources::scalar(&reserved, "disk"), 1000.0);
        assert!(resources::contains(&reserved, std::slice::from_ref(&disk)));
        let vol = volume(disk.clone(), "data", "data");
        let create = Operation::Create(vec![vol.clone()]);
        create.validate(&actor).unwrap();
        let created = create.apply(&reserved).unwrap();
        assert!(resources::contains(&created, std::slice::from_ref(&vol)));
        assert!(!resources::contains(&created, std::slice::from_ref(&disk)));
        assert_eq!(checkpointed(&created).len(), 2, "{created:?}");
        // The same id twice for the role is refused.
        assert!(create.apply(&created).is_err());
        // A volume is taken whole or not at all.
        let mut half = vol.clone();
        half.scalar = Some(v1::value::Scalar { value: 50.0 });
        assert!(!resources::contains(&created, &[half]));
        // Unreserving a volume's disk needs it destroyed first.
        assert!(
            Operation::Unreserve(vec![vol.clone()])
                .validate(&actor)
                .is_err()
        );
        let destroyed = Operation::Destroy(vec![vol]).apply(&created).unwrap();
        assert!(equal(&destroyed, &reserved), "{destroyed:?}");
        let back = Operation::Unreserve(vec![disk, cpus])
            .apply(&destroyed)
            .unwrap();
        assert!(equal(&back, &total()), "{back:?}");
        // The static total with the checkpointed resources is the total.
        let rebuilt = checkpoint(&total(), &checkpointed(&created)).unwrap();
        assert!(equal(&rebuilt, &created), "{rebuilt:?}");
    }

    #[test]
    fn reserve_checks_role_principal_and_what_is_there() {
        let r = dynamic(resources::scalar_resource("cpus", 1.0), "db", Some("alice"));
        let as_db = |principal| Actor {
            principal,
            role: Some("db"),
        };
        let op = Operation::Reserve(vec![r.clone()]);
        assert!(op.validate(&as_db(Some("alice"))).is_ok());
        let e = op.validate(&as_db(Some("bob"))).unwrap_err();
        assert!(e.contains("principal 'alice'"), "{e}");
        let e = op
            .validate(&Actor {
                principal: None,
                role: Some("web"),
            })
            .unwrap_err();
        assert!(e.contains("role 'db'"), "{e}");
        let star = dynamic(resources::scalar_resource("cpus", 1.0), "*", None);
        assert!(
            Operation::Reserve(vec![star])
                .validate(&as_db(None))
                .is_err()
        );
        let unreserved = resources::scalar_resource("cpus", 1.0);
        assert!(
            Operation::Reserve(vec![unreserved])
                .validate(&as_db(None))
                .is_err()
        );
        let too_much = dynamic(resources::scalar_resource("cpus", 5.0), "db", None);
        let e = Operation::Reserve(vec![too_much])
            .apply(&total())
            .unwrap_err();
        assert!(e.contains("does not contain"), "{e}");
        // A refinement must name a child role.
        let refined = dynamic(r.clone(), "other", None);
        assert!(
            Operation::Reserve(vec![refined])
                .validate(&Actor::default())
                .is_err()
        );
        let child = dynamic(r, "db/child", None);
        Operation::Reserve(vec![child])
            .validate(&Actor::default())
            .unwrap();
    }

    #[test]
    fn create_refuses_unsafe_volumes() {
        let disk = dynamic(resources::scalar_resource("disk", 10.0), "db", None);
        for (id, path) in [
            ("a/b", "data"),
            ("..", "data"),
            ("ok", "/abs"),
            ("ok", "x/../y"),
        ] {
            let op = Operation::Create(vec![volume(disk.clone(), id, path)]);
            assert!(op.validate(&Actor::default()).is_err(), "{id} {path}");
        }
        let unreserved = volume(resources::scalar_resource("disk", 10.0), "v", "data");
        let e = Operation::Create(vec![unreserved])
            .validate(&Actor::default())
            .unwrap_err();
        assert!(e.contains("unreserved"), "{e}");
    }

    #[test]
    fn legacy_reservations_are_the_same_kind_as_refined_ones() {
        let refined = dynamic(resources::scalar_resource("cpus", 1.0), "db", Some("p"));
        let mut legacy = resources::scalar_resource("cpus", 1.0);
        #[allow(deprecated)]
        {
            legacy.role = Some("db".into());
        }
        legacy.reservation = Some(v1::resource::ReservationInfo {
            principal: Some("p".into()),
            ..Default::default()
        });
        assert!(resources::contains(
            std::slice::from_ref(&refined),
            std::slice::from_ref(&legacy)
        ));
        let down = resources::downgrade(&refined);
        #[allow(deprecated)]
        let role = down.role.clone();
        assert_eq!(role.as_deref(), Some("db"));
        assert_eq!(resources::upgrade(&down), refined);
        // A static reservation of the same role is another kind.
        let static_db = resources::parse("cpus(db):1").unwrap();
        assert!(!resources::contains(&static_db, &[refined]));
    }
}
