//! Resident apps on local persistent volumes (Marathon 1.10): an app's persistent volumes, an
//! instance's reservation on one agent, the labels that tie reserved resources to the instance,
//! and the offer operations that make (RESERVE, CREATE) and remove (DESTROY, UNRESERVE) a
//! reservation. The scheduler decides when (`scheduler::offers`); this module only builds.

use drover_wire::v1;

use super::app::{AppSpec, Violation};
use super::constraint::AgentView;
use super::path::PathId;

/// The label naming the framework that made a reservation (Marathon's `TaskLabels`).
pub const LABEL_FRAMEWORK_ID: &str = "marathon_framework_id";
/// The label naming the reservation's instance. Marathon kept the historical name: since 1.9
/// its value is the instance id (the reservation's `SimplifiedId`).
pub const LABEL_TASK_ID: &str = "marathon_task_id";

/// How long a new reservation may go without coming back in an offer before the scheduler
/// gives up on it and reserves again (Marathon's `--task_reservation_timeout`, 20 s).
pub const RESERVATION_TIMEOUT_MS: u64 = 20_000;

/// One `container.volumes[]` entry of an app, or one pod volume, with `persistent` (type
/// `root`, the only one Drover builds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistentVolume {
    /// Where it appears, relative to the sandbox: an app's `containerPath` (one segment), or
    /// `volumes/<name>` in a pod's executor sandbox.
    pub container_path: String,
    /// `persistent.size` in MiB.
    pub size_mb: u64,
}

impl PersistentVolume {
    /// What names the volume in its persistence id: the app's `containerPath`, a pod volume's
    /// name. It is one segment either way, since the agent makes the id a directory name.
    pub fn id_part(&self) -> &str {
        self.container_path
            .rsplit('/')
            .next()
            .unwrap_or(&self.container_path)
    }
}

/// Where an instance's reservation stands (Marathon's `Reservation.State`, without the timeout
/// it carries: Drover keeps the time the reservation was made instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReservationState {
    /// Reserved and created; no task launched on it yet.
    New,
    /// A task was launched on it.
    Launched,
    /// Its task ended; the instance waits to be launched on it again.
    Suspended,
}

impl ReservationState {
    /// Marathon's name in the stored and rendered instance (`new`, `launched`, `suspended`).
    pub fn name(self) -> &'static str {
        match self {
            ReservationState::New => "new",
            ReservationState::Launched => "launched",
            ReservationState::Suspended => "suspended",
        }
    }

    /// The state of a stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "new" => Some(ReservationState::New),
            "launched" => Some(ReservationState::Launched),
            "suspended" => Some(ReservationState::Suspended),
            _ => None,
        }
    }
}

/// One persistent volume an instance owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalVolume {
    /// The volume's `containerPath`.
    pub container_path: String,
    /// Mesos' persistence id: `<app safe path>#<containerPath>#<uuid>` (Marathon's
    /// `LocalVolumeId`).
    pub persistence_id: String,
}

/// A resident instance's reservation: the agent that holds its resources and volumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// Agent the resources are reserved on.
    pub agent_id: String,
    /// What constraints see of that agent (and the API shows as the host).
    pub agent: AgentView,
    /// The volumes created for the instance, in the app's order.
    pub volumes: Vec<LocalVolume>,
    /// Where it stands.
    pub state: ReservationState,
    /// When it was made (for [`RESERVATION_TIMEOUT_MS`]).
    pub reserved_at_ms: u64,
}

/// Marathon's persistence id of one volume of an app.
pub fn persistence_id(app_id: &PathId, container_path: &str, uuid: &str) -> String {
    format!("{}#{container_path}#{uuid}", app_id.safe())
}

/// The app id and container path a persistence id names (`None` for a foreign id).
pub fn parse_persistence_id(id: &str) -> Option<(&str, &str)> {
    let mut parts = id.split('#');
    let (app, path, uuid) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && !app.is_empty() && !path.is_empty() && !uuid.is_empty())
        .then_some((app, path))
}

/// The labels of every resource reserved for `instance_id` by `framework_id`.
pub fn labels(framework_id: &str, instance_id: &str) -> v1::Labels {
    let label = |key: &str, value: &str| v1::Label {
        key: key.to_owned(),
        value: Some(value.to_owned()),
    };
    v1::Labels {
        labels: vec![
            label(LABEL_FRAMEWORK_ID, framework_id),
            label(LABEL_TASK_ID, instance_id),
        ],
    }
}

/// The dynamic reservation (post-refinement format) of an instance's resources.
pub fn reservation_info(
    role: &str,
    principal: Option<&str>,
    framework_id: &str,
    instance_id: &str,
) -> v1::resource::ReservationInfo {
    v1::resource::ReservationInfo {
        r#type: Some(v1::resource::reservation_info::Type::Dynamic as i32),
        role: Some(role.to_owned()),
        principal: principal.map(str::to_owned),
        labels: Some(labels(framework_id, instance_id)),
    }
}

fn label<'a>(labels: &'a v1::Labels, key: &str) -> Option<&'a str> {
    labels
        .labels
        .iter()
        .find(|l| l.key == key)
        .and_then(|l| l.value.as_deref())
}

/// Whether a resource is dynamically reserved with labels: someone's claim (ours for an
/// instance, or another framework's), never taken for an ordinary launch.
#[allow(deprecated)]
pub fn is_labelled(resource: &v1::Resource) -> bool {
    resource
        .reservations
        .iter()
        .chain(resource.reservation.iter())
        .any(|r| r.labels.as_ref().is_some_and(|l| !l.labels.is_empty()))
}

/// The instance a resource is reserved for, when this framework reserved it (Marathon's
/// `TaskLabels.instanceIdForResource`): the innermost reservation's labels decide.
#[allow(deprecated)]
pub fn owner<'a>(resource: &'a v1::Resource, framework_id: &str) -> Option<&'a str> {
    let reservation = resource
        .reservations
        .last()
        .or(resource.reservation.as_ref())?;
    let labels = reservation.labels.as_ref()?;
    if label(labels, LABEL_FRAMEWORK_ID) != Some(framework_id) {
        return None;
    }
    label(labels, LABEL_TASK_ID)
}

fn operation(kind: v1::offer::operation::Type) -> v1::offer::Operation {
    v1::offer::Operation {
        r#type: Some(kind as i32),
        ..Default::default()
    }
}

/// What reserving for one instance needs: the instance, the volumes to create, and who asks.
#[derive(Debug, Clone, Copy)]
pub struct ReserveRequest<'a> {
    /// The instance the reservation is for.
    pub instance_id: &'a str,
    /// The volumes to create, with their persistence ids.
    pub volumes: &'a [(PersistentVolume, LocalVolume)],
    /// The app's role (the reservation's).
    pub role: &'a str,
    /// The framework's principal, if it has one.
    pub principal: Option<&'a str>,
    /// The framework's id (a label).
    pub framework_id: &'a str,
}

/// RESERVE for the unreserved resources `taken` from an offer (cpus, mem, the sandbox disk and
/// the volumes' disk, ports), then CREATE of one disk resource per volume out of that reserved
/// disk. The resources keep their `allocation_info`, as Mesos requires of a multi-role
/// framework's operations.
pub fn reserve_operations(
    taken: &[v1::Resource],
    request: &ReserveRequest<'_>,
) -> Vec<v1::offer::Operation> {
    let info = reservation_info(
        request.role,
        request.principal,
        request.framework_id,
        request.instance_id,
    );
    let reserved: Vec<v1::Resource> = taken
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.reservations = vec![info.clone()];
            r
        })
        .collect();
    // The volumes come out of the reserved disk; any piece of it carries the allocation.
    let allocation = reserved
        .iter()
        .find(|r| r.name == "disk")
        .and_then(|r| r.allocation_info.clone());
    let volumes: Vec<v1::Resource> = request
        .volumes
        .iter()
        .map(|(volume, local)| v1::Resource {
            name: "disk".into(),
            r#type: v1::value::Type::Scalar as i32,
            scalar: Some(v1::value::Scalar {
                value: volume.size_mb as f64,
            }),
            allocation_info: allocation.clone(),
            reservations: vec![info.clone()],
            disk: Some(Box::new(v1::resource::DiskInfo {
                persistence: Some(v1::resource::disk_info::Persistence {
                    id: local.persistence_id.clone(),
                    principal: request.principal.map(str::to_owned),
                }),
                volume: Some(v1::Volume {
                    container_path: local.container_path.clone(),
                    mode: v1::volume::Mode::Rw as i32,
                    ..Default::default()
                }),
                source: None,
            })),
            ..Default::default()
        })
        .collect();
    let mut reserve = operation(v1::offer::operation::Type::Reserve);
    reserve.reserve = Some(v1::offer::operation::Reserve {
        resources: reserved,
        ..Default::default()
    });
    let mut out = vec![reserve];
    if !volumes.is_empty() {
        let mut create = operation(v1::offer::operation::Type::Create);
        create.create = Some(v1::offer::operation::Create { volumes });
        out.push(create);
    }
    out
}

/// DESTROY of the volumes among `resources` (all reserved for one instance), then UNRESERVE
/// of everything: the volumes' disk as plain reserved disk (what DESTROY leaves of it).
pub fn release_operations(resources: &[v1::Resource]) -> Vec<v1::offer::Operation> {
    let volumes: Vec<v1::Resource> = resources
        .iter()
        .filter(|r| r.disk.as_ref().is_some_and(|d| d.persistence.is_some()))
        .cloned()
        .collect();
    let plain: Vec<v1::Resource> = resources
        .iter()
        .map(|r| {
            let mut r = r.clone();
            if let Some(disk) = r.disk.as_mut() {
                disk.persistence = None;
                disk.volume = None;
                if disk.source.is_none() {
                    r.disk = None;
                }
            }
            r
        })
        .collect();
    let mut out = Vec::new();
    if !volumes.is_empty() {
        let mut destroy = operation(v1::offer::operation::Type::Destroy);
        destroy.destroy = Some(v1::offer::operation::Destroy { volumes });
        out.push(destroy);
    }
    let mut unreserve = operation(v1::offer::operation::Type::Unreserve);
    unreserve.unreserve = Some(v1::offer::operation::Unreserve { resources: plain });
    out.push(unreserve);
    out
}

/// Whether the reserved resources offered for an instance hold every one of its volumes.
pub fn has_volumes(resources: &[v1::Resource], volumes: &[LocalVolume]) -> bool {
    volumes.iter().all(|v| {
        resources.iter().any(|r| {
            r.disk
                .as_ref()
                .and_then(|d| d.persistence.as_ref())
                .is_some_and(|p| p.id == v.persistence_id)
        })
    })
}

/// The host ports held by reserved port resources, lowest first, at most `count`.
pub fn reserved_ports(resources: &[v1::Resource], count: usize) -> Vec<u32> {
    let mut ports = Vec::new();
    for r in resources.iter().filter(|r| r.name == "ports") {
        for range in r.ranges.iter().flat_map(|r| r.range.iter()) {
            let end = range.end.min(range.begin.saturating_add(65_536));
            for port in range.begin..=end {
                if ports.len() < count {
                    ports.extend(u32::try_from(port).ok());
                }
            }
        }
    }
    ports.sort_unstable();
    ports
}

/// Marathon 1.10's rules for a resident app (one with persistent volumes), each at the path it
/// names: no `*` role, only unreserved resources to reserve from, no over-capacity during a
/// restart, unreachable instances waited for, volumes only where the agent mounts them.
pub fn validate(app: &AppSpec) -> Vec<Violation> {
    let mut problems = Vec::new();
    if !app.is_resident() {
        return problems;
    }
    let mut push = |path: &str, message: &str| problems.push(Violation::new(path, message));
    if app.role == "*" {
        push(
            "/role",
            "Resident apps cannot have the role *: reservations are made for the app's role, \
             which must be the scheduler's --mesos_role",
        );
    }
    if let Some(roles) = &app.accepted_resource_roles
        && roles.as_slice() != ["*"]
    {
        push(
            "/acceptedResourceRoles",
            "A resident app must have `acceptedResourceRoles = [\"*\"]`.",
        );
    }
    if app.upgrade_strategy.maximum_over_capacity != 0.0 {
        push(
            "/upgradeStrategy/maximumOverCapacity",
            "got a value above 0.0, expected 0.0 for resident apps",
        );
    }
    if app.unreachable_strategy != super::unreachable::UnreachableStrategy::Disabled {
        push(
            "/unreachableStrategy",
            "unreachableStrategy must be disabled for resident tasks",
        );
    }
    // A volume appears under the sandbox: bound by the Mesos containerizer (with an image,
    // in the image's root filesystem, under the sandbox's mount point) or by the Docker daemon
    // under the container's sandbox mount. Either needs a container to say which.
    if app.container.is_none() {
        push(
            "/container/volumes",
            "persistent volumes need a container of type MESOS or DOCKER",
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, v) in app.persistent_volumes.iter().enumerate() {
        let at = format!("/container/volumes/{i}");
        if v.size_mb == 0 {
            push(
                &format!("{at}/persistent/size"),
                "got 0, expected 1 or more",
            );
        }
        if v.container_path.is_empty()
            || v.container_path == "."
            || v.container_path == ".."
            || v.container_path.contains('/')
        {
            push(
                &format!("{at}/containerPath"),
                "value must not contain \"/\" (one path segment, relative to the sandbox)",
            );
        }
        if v.container_path.contains('#') {
            push(
                &format!("{at}/containerPath"),
                "must not contain '#' (it separates the parts of a persistence id)",
            );
        }
        if !seen.insert(v.container_path.as_str()) {
            push(&format!("{at}/containerPath"), "is used by another volume");
        }
    }
    problems
}

/// Marathon's rules for changing a resident app (`residentUpdateIsValid`): its volumes and
/// the resources reserved for it stay as they are.
pub fn update_problems(from: &AppSpec, to: &AppSpec) -> Vec<Violation> {
    let mut problems = Vec::new();
    if !from.is_resident() && !to.is_resident() {
        return problems;
    }
    const CHANGED: &str = "Services with persistent volumes configured may not change resource \
                           requirements. If you need to make this change, please create a new \
                           service.";
    // A pod's resources are its executor's and containers' together (the carrier's sums),
    // compared as Marathon's `residentUpdateIsValid` for pods compared them, at the pod.
    let pod = from.pod.is_some() || to.pod.is_some();
    if from.persistent_volumes != to.persistent_volumes {
        problems.push(if pod {
            Violation::new("/volumes", "persistent volumes cannot be updated")
        } else {
            Violation::new(
                "/container/volumes",
                "Persistent volumes can not be changed!",
            )
        });
    }
    for (path, a, b) in [
        ("/cpus", from.cpus, to.cpus),
        ("/mem", from.mem, to.mem),
        ("/disk", from.disk, to.disk),
        ("/gpus", f64::from(from.gpus), f64::from(to.gpus)),
    ] {
        if a != b {
            problems.push(Violation::new(if pod { "/" } else { path }, CHANGED));
        }
    }
    if from.require_ports != to.require_ports {
        problems.push(Violation::new("/requirePorts", CHANGED));
    }
    if from.host_port_requests() != to.host_port_requests() {
        problems.push(Violation::new(
            if pod {
                "/containers"
            } else {
                "/portDefinitions"
            },
            "Services with persistent volumes configured may not change host ports. If you \
             need to make this change, please create a new service.",
        ));
    }
    problems.dedup();
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persistence_ids_round_trip() {
        let app = PathId::parse_app_id("/db/pg").unwrap();
        let id = persistence_id(&app, "data", "u-1");
        assert_eq!(id, "db_pg#data#u-1");
        assert_eq!(parse_persistence_id(&id), Some(("db_pg", "data")));
        assert_eq!(parse_persistence_id("a#b"), None);
    }

    #[test]
    fn the_owner_is_read_from_this_frameworks_labels_only() {
        let mut r = v1::Resource {
            name: "cpus".into(),
            ..Default::default()
        };
        assert_eq!(owner(&r, "fw"), None);
        assert!(!is_labelled(&r));
        r.reservations = vec![reservation_info("web", None, "fw", "web.instance-1")];
        assert_eq!(owner(&r, "fw"), Some("web.instance-1"));
        assert_eq!(owner(&r, "other"), None);
        assert!(is_labelled(&r));
    }
}
