//! Mesos resource arithmetic over `Vec<v1::Resource>`: scalars, ranges and sets, adding,
//! subtracting and containment, the `--resources` text syntax, and the flattened summaries the
//! legacy `/state` JSON shows. Master (offers, allocation) and agent (its totals, what tasks
//! use) compute with this one module so they can never disagree on what "fits" means.
//!
//! Two resources are "the same kind" when their name, type, reservation role, disk, revocable,
//! shared and provider fields agree; `allocation_info` is deliberately ignored, because a task
//! launched from a MULTI_ROLE offer carries it while the agent's totals do not. Scalars are
//! rounded to three decimal places, as Mesos' fixed-point `Value::Scalar` arithmetic does, so
//! `0.1 + 0.2 - 0.3` is exactly zero and nothing is ever slightly negative.

use std::collections::BTreeSet;

use drover_wire::v1;
use drover_wire::v1::value::{Range, Ranges, Scalar, Set, Type as ValueType};

/// The largest scalar a resource may hold: Mesos keeps a scalar as a 64-bit count of
/// thousandths, so nothing above `i64::MAX / 1000` can be represented (issue 12: `mem: 1e308`
/// rounded to infinity, then to 0, and the master accepted it). Validation refuses more.
pub const MAX_SCALAR: f64 = (i64::MAX / 1000) as f64;

/// Rounds a scalar to Mesos' precision (three decimal digits).
pub fn round_scalar(value: f64) -> f64 {
    if !value.is_finite() {
        return 0.0;
    }
    (value * 1000.0).round() / 1000.0
}

/// The default role of unreserved resources.
pub const DEFAULT_ROLE: &str = "*";

/// The role a resource is reserved for, or `*` if it is unreserved. Refined reservations
/// (`reservations`) win over the legacy `role` field.
pub fn reservation_role(resource: &v1::Resource) -> &str {
    if let Some(last) = resource.reservations.last() {
        return last.role.as_deref().unwrap_or(DEFAULT_ROLE);
    }
    #[allow(deprecated)]
    resource.role.as_deref().unwrap_or(DEFAULT_ROLE)
}

/// Whether the resource is reserved for some role (statically or dynamically).
pub fn is_reserved(resource: &v1::Resource) -> bool {
    reservation_role(resource) != DEFAULT_ROLE
}

/// Whether the resource only exists because the agent checkpointed it: a persistent volume or
/// a dynamic reservation. A master that does not know such a resource answers a launch using
/// it with `REASON_RESOURCES_UNKNOWN`.
pub fn is_checkpointed(resource: &v1::Resource) -> bool {
    let persistent = resource
        .disk
        .as_ref()
        .is_some_and(|disk| disk.persistence.is_some());
    let dynamic = resource
        .reservations
        .iter()
        .any(|r| r.r#type == Some(v1::resource::reservation_info::Type::Dynamic as i32));
    persistent || dynamic
}

/// The resource's reservation stack in the refinement format (`reservations`), whichever
/// format it came in: a pre-refinement resource (`role` with an optional `reservation`, what
/// frameworks without RESERVATION_REFINEMENT send) is one STATIC or, with `reservation`, one
/// DYNAMIC reservation for that role.
pub fn reservations(resource: &v1::Resource) -> Vec<v1::resource::ReservationInfo> {
    use v1::resource::reservation_info::Type;
    if !resource.reservations.is_empty() {
        return resource.reservations.clone();
    }
    #[allow(deprecated)]
    let role = resource.role.as_deref().unwrap_or(DEFAULT_ROLE);
    if role == DEFAULT_ROLE {
        return Vec::new();
    }
    let legacy = resource.reservation.as_ref();
    vec![v1::resource::ReservationInfo {
        r#type: Some(if legacy.is_some() {
            Type::Dynamic as i32
        } else {
            Type::Static as i32
        }),
        role: Some(role.to_owned()),
        principal: legacy.and_then(|r| r.principal.clone()),
        labels: legacy.and_then(|r| r.labels.clone()),
    }]
}

/// The resource in the refinement format: `reservations` filled in, the pre-refinement
/// `role` and `reservation` cleared. Every list [`normalize`] returns is in this format.
pub fn upgrade(resource: &v1::Resource) -> v1::Resource {
    let mut out = resource.clone();
    out.reservations = reservations(resource);
    #[allow(deprecated)]
    {
        out.role = None;
    }
    out.reservation = None;
    out
}

/// The resource in the pre-refinement format as well, for a framework without the
/// RESERVATION_REFINEMENT capability: `role` and, for a dynamic reservation, `reservation`
/// (its principal and labels) describe the last reservation; `reservations` is kept, which
/// such a framework ignores.
pub fn downgrade(resource: &v1::Resource) -> v1::Resource {
    let mut out = upgrade(resource);
    if let Some(last) = out.reservations.last().cloned() {
        #[allow(deprecated)]
        {
            out.role = last.role.clone();
        }
        if last.r#type == Some(v1::resource::reservation_info::Type::Dynamic as i32) {
            out.reservation = Some(v1::resource::ReservationInfo {
                principal: last.principal,
                labels: last.labels,
                ..Default::default()
            });
        }
    }
    out
}

/// Whether the resource is a persistent volume (`disk.persistence`).
pub fn is_persistent_volume(resource: &v1::Resource) -> bool {
    resource
        .disk
        .as_ref()
        .is_some_and(|disk| disk.persistence.is_some())
}

/// Whether two resources have equal reservation stacks, without allocating in the common
/// cases (both in the refinement format, or both unreserved): the allocator compares kinds
/// many times per pass.
fn same_reservations(a: &v1::Resource, b: &v1::Resource) -> bool {
    #[allow(deprecated)]
    fn legacy(r: &v1::Resource) -> bool {
        r.reservation.is_some() || r.role.as_deref().is_some_and(|role| role != DEFAULT_ROLE)
    }
    match (
        legacy(a) && a.reservations.is_empty(),
        legacy(b) && b.reservations.is_empty(),
    ) {
        (false, false) => a.reservations == b.reservations,
        _ => reservations(a) == reservations(b),
    }
}

/// The identity of a resource without its value: two resources with equal keys add up.
/// Reservations compare whole (type, role, principal and labels of every level), as Mesos
/// does: a dynamic reservation never merges with a static one of the same role.
fn same_kind(a: &v1::Resource, b: &v1::Resource) -> bool {
    a.name == b.name
        && a.r#type == b.r#type
        && same_reservations(a, b)
        && a.disk == b.disk
        && a.revocable.is_some() == b.revocable.is_some()
        && a.shared.is_some() == b.shared.is_some()
        && a.provider_id == b.provider_id
}

fn value_type(resource: &v1::Resource) -> Option<ValueType> {
    ValueType::try_from(resource.r#type).ok()
}

/// Whether the resource is a SCALAR (cpus, mem, disk, gpus, …).
pub fn is_scalar(resource: &v1::Resource) -> bool {
    value_type(resource) == Some(ValueType::Scalar)
}

/// Sorted, merged, non-overlapping ranges.
fn normalize_ranges(ranges: &[Range]) -> Vec<Range> {
    let mut sorted: Vec<(u64, u64)> = ranges
        .iter()
        .filter(|r| r.begin <= r.end)
        .map(|r| (r.begin, r.end))
        .collect();
    sorted.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(sorted.len());
    for (begin, end) in sorted {
        match merged.last_mut() {
            Some(last) if begin <= last.1.saturating_add(1) => last.1 = last.1.max(end),
            _ => merged.push((begin, end)),
        }
    }
    merged
        .into_iter()
        .map(|(begin, end)| Range { begin, end })
        .collect()
}

fn subtract_ranges(left: &[Range], right: &[Range]) -> Vec<Range> {
    let mut out: Vec<Range> = normalize_ranges(left);
    for cut in normalize_ranges(right) {
        let mut next = Vec::with_capacity(out.len() + 1);
        for r in out {
            if cut.end < r.begin || cut.begin > r.end {
                next.push(r);
                continue;
            }
            if cut.begin > r.begin {
                next.push(Range {
                    begin: r.begin,
                    end: cut.begin - 1,
                });
            }
            if cut.end < r.end {
                next.push(Range {
                    begin: cut.end + 1,
                    end: r.end,
                });
            }
        }
        out = next;
    }
    out
}

fn ranges_contain(outer: &[Range], inner: &[Range]) -> bool {
    let outer = normalize_ranges(outer);
    normalize_ranges(inner)
        .iter()
        .all(|i| outer.iter().any(|o| o.begin <= i.begin && i.end <= o.end))
}

fn ranges_of(resource: &v1::Resource) -> &[Range] {
    resource
        .ranges
        .as_ref()
        .map(|r| r.range.as_slice())
        .unwrap_or(&[])
}

fn items_of(resource: &v1::Resource) -> BTreeSet<String> {
    resource
        .set
        .as_ref()
        .map(|s| s.item.iter().cloned().collect())
        .unwrap_or_default()
}

fn scalar_of(resource: &v1::Resource) -> f64 {
    resource
        .scalar
        .map(|s| round_scalar(s.value))
        .unwrap_or(0.0)
}

/// Whether a resource holds nothing (zero scalar, no ranges, no items).
pub fn is_empty(resource: &v1::Resource) -> bool {
    match value_type(resource) {
        Some(ValueType::Scalar) => scalar_of(resource) <= 0.0,
        Some(ValueType::Ranges) => normalize_ranges(ranges_of(resource)).is_empty(),
        Some(ValueType::Set) => items_of(resource).is_empty(),
        _ => true,
    }
}

/// Why a resource is not a valid quantity.
pub fn validate(resource: &v1::Resource) -> Result<(), String> {
    if resource.name.is_empty() {
        return Err("resource name must not be empty".into());
    }
    match value_type(resource) {
        Some(ValueType::Scalar) => match resource.scalar {
            Some(Scalar { value }) if value.is_finite() && value > MAX_SCALAR => Err(format!(
                "resource '{}' has a scalar value {value} beyond the largest one Mesos \
                 represents ({MAX_SCALAR})",
                resource.name
            )),
            Some(Scalar { value }) if value.is_finite() && value >= 0.0 => Ok(()),
            Some(Scalar { value }) => Err(format!(
                "resource '{}' has an invalid scalar value {value}",
                resource.name
            )),
            None => Err(format!(
                "resource '{}' is SCALAR but has no scalar",
                resource.name
            )),
        },
        Some(ValueType::Ranges) => match &resource.ranges {
            Some(ranges) if ranges.range.iter().all(|r| r.begin <= r.end) => Ok(()),
            Some(_) => Err(format!(
                "resource '{}' has a range whose begin exceeds its end",
                resource.name
            )),
            None => Err(format!(
                "resource '{}' is RANGES but has no ranges",
                resource.name
            )),
        },
        Some(ValueType::Set) => match &resource.set {
            Some(_) => Ok(()),
            None => Err(format!(
                "resource '{}' is SET but has no set",
                resource.name
            )),
        },
        _ => Err(format!(
            "resource '{}' has an unsupported type (only SCALAR, RANGES and SET)",
            resource.name
        )),
    }
}

/// Combines two resources of the same kind.
fn merge_into(into: &mut v1::Resource, other: &v1::Resource) {
    match value_type(into) {
        Some(ValueType::Scalar) => {
            into.scalar = Some(Scalar {
                value: round_scalar(scalar_of(into) + scalar_of(other)),
            });
        }
        Some(ValueType::Ranges) => {
            let mut all = ranges_of(into).to_vec();
            all.extend_from_slice(ranges_of(other));
            into.ranges = Some(Ranges {
                range: normalize_ranges(&all),
            });
        }
        Some(ValueType::Set) => {
            let mut items = items_of(into);
            items.extend(items_of(other));
            into.set = Some(Set {
                item: items.into_iter().collect(),
            });
        }
        _ => {}
    }
}

/// Normalizes a list: resources of the same kind merged (in first-seen order), empty ones
/// and invalid ones dropped, ranges merged, set items sorted.
pub fn normalize(resources: &[v1::Resource]) -> Vec<v1::Resource> {
    let mut out: Vec<v1::Resource> = Vec::new();
    for r in resources {
        normalize_step(&mut out, r, false);
    }
    out.retain(|r| !is_empty(r));
    out
}

/// One step of [`normalize`]: merges `r` into `out` or appends a normalized copy of it (with
/// `unallocated`, without its `allocation_info`). The caller drops empty resources after the
/// last step, as `normalize` does, so a stream of steps gives exactly what `normalize` gives
/// for the concatenated list without building that list.
fn normalize_step(out: &mut Vec<v1::Resource>, r: &v1::Resource, unallocated: bool) {
    if validate(r).is_err() {
        return;
    }
    // A persistent volume is one indivisible thing: never merged with another (Mesos'
    // `addable` is false for them), so two copies of one stay two.
    let existing = if is_persistent_volume(r) {
        None
    } else {
        out.iter_mut().find(|o| same_kind(o, r))
    };
    match existing {
        Some(existing) => merge_into(existing, r),
        None => {
            let mut fresh = upgrade(r);
            if unallocated {
                fresh.allocation_info = None;
            }
            // Re-merging into an empty copy normalizes ranges, sets and rounding.
            match value_type(&fresh) {
                Some(ValueType::Scalar) => {
                    fresh.scalar = Some(Scalar {
                        value: scalar_of(r),
                    })
                }
                Some(ValueType::Ranges) => {
                    fresh.ranges = Some(Ranges {
                        range: normalize_ranges(ranges_of(r)),
                    })
                }
                Some(ValueType::Set) => {
                    fresh.set = Some(Set {
                        item: items_of(r).into_iter().collect(),
                    })
                }
                _ => {}
            }
            out.push(fresh);
        }
    }
}

/// The sum of every list `lists` yields, normalized: exactly `normalize` of their
/// concatenation, without cloning every resource into one list first (the allocator sums
/// every agent's total once per pass).
pub fn sum_of<'a>(lists: impl IntoIterator<Item = &'a [v1::Resource]>) -> Vec<v1::Resource> {
    let mut out: Vec<v1::Resource> = Vec::new();
    for list in lists {
        for r in list {
            normalize_step(&mut out, r, false);
        }
    }
    out.retain(|r| !is_empty(r));
    out
}

/// `*sum = add(sum, delta)` for a normalized `sum`, in place: only resources of a kind `sum`
/// lacks are cloned. `normalize` leaves a normalized list as it is, so merging `delta` into
/// `sum` step by step is what `add` computes (issue 20, G2: the ledger and the allocator add
/// to running sums thousands of times per pass, and `add` cloned and re-merged the whole sum
/// each time). With `unallocated`, resources appended lose their `allocation_info`, as
/// `add(sum, &unallocate(delta))` would give; merging ignores it anyway.
pub fn add_into<'a>(
    sum: &mut Vec<v1::Resource>,
    delta: impl IntoIterator<Item = &'a v1::Resource>,
    unallocated: bool,
) {
    for r in delta {
        normalize_step(sum, r, unallocated);
    }
    sum.retain(|r| !is_empty(r));
}

/// `left + right`, normalized.
pub fn add(left: &[v1::Resource], right: &[v1::Resource]) -> Vec<v1::Resource> {
    let mut all = left.to_vec();
    all.extend_from_slice(right);
    normalize(&all)
}

/// `left - right`, normalized, saturating at zero: what `right` has beyond `left` is ignored,
/// so the result is never negative.
pub fn subtract(left: &[v1::Resource], right: &[v1::Resource]) -> Vec<v1::Resource> {
    let mut out = normalize(left);
    for cut in normalize(right) {
        take_away(&mut out, &cut);
    }
    out.retain(|r| !is_empty(r));
    out
}

/// `*sum = subtract(sum, delta)` for a normalized `sum`, in place (issue 20, G2: every offer
/// made or taken back is subtracted from running sums, and `subtract` cloned and re-merged
/// both sides each time). `subtract` normalizes `delta` first; when no two of its resources
/// are of one kind that only drops invalid and empty ones, so they are cut as they are.
pub fn subtract_from(sum: &mut Vec<v1::Resource>, delta: &[v1::Resource]) {
    let mergeable = delta.iter().enumerate().any(|(i, a)| {
        !is_persistent_volume(a)
            && delta[i + 1..]
                .iter()
                .any(|b| !is_persistent_volume(b) && same_kind(a, b))
    });
    if mergeable {
        for cut in normalize(delta) {
            take_away(sum, &cut);
        }
    } else {
        for cut in delta {
            if validate(cut).is_ok() && !is_empty(cut) {
                take_away(sum, cut);
            }
        }
    }
    sum.retain(|r| !is_empty(r));
}

/// Takes one normalized resource away from a normalized list (saturating; empty resources
/// are left for the caller to drop).
fn take_away(out: &mut Vec<v1::Resource>, cut: &v1::Resource) {
    if is_persistent_volume(cut) {
        // Only a whole volume can be taken away.
        if let Some(at) = out
            .iter()
            .position(|o| same_kind(o, cut) && scalar_of(o) == scalar_of(cut))
        {
            out.remove(at);
        }
        return;
    }
    let Some(r) = out.iter_mut().find(|o| same_kind(o, cut)) else {
        return;
    };
    match value_type(r) {
        Some(ValueType::Scalar) => {
            let value = round_scalar(scalar_of(r) - scalar_of(cut)).max(0.0);
            r.scalar = Some(Scalar { value });
        }
        Some(ValueType::Ranges) => {
            r.ranges = Some(Ranges {
                range: subtract_ranges(ranges_of(r), ranges_of(cut)),
            });
        }
        Some(ValueType::Set) => {
            let remove = items_of(cut);
            let items: Vec<String> = items_of(r)
                .into_iter()
                .filter(|i| !remove.contains(i))
                .collect();
            r.set = Some(Set { item: items });
        }
        _ => {}
    }
}

/// Whether `outer` holds at least everything in `inner`.
pub fn contains(outer: &[v1::Resource], inner: &[v1::Resource]) -> bool {
    let outer = normalize(outer);
    normalize(inner).iter().all(|need| {
        outer.iter().any(|have| {
            same_kind(have, need)
                && match value_type(need) {
                    Some(ValueType::Scalar) if is_persistent_volume(need) => {
                        scalar_of(have) == scalar_of(need)
                    }
                    Some(ValueType::Scalar) => scalar_of(have) >= scalar_of(need),
                    Some(ValueType::Ranges) => ranges_contain(ranges_of(have), ranges_of(need)),
                    Some(ValueType::Set) => items_of(need).is_subset(&items_of(have)),
                    _ => false,
                }
        })
    })
}

/// The total of the scalar resource `name` (every role), e.g. `scalar(&r, "cpus")`.
pub fn scalar(resources: &[v1::Resource], name: &str) -> f64 {
    round_scalar(
        resources
            .iter()
            .filter(|r| r.name == name && value_type(r) == Some(ValueType::Scalar))
            .map(scalar_of)
            .sum(),
    )
}

/// Every range of the resource `name` (normally `ports`), merged.
pub fn ranges(resources: &[v1::Resource], name: &str) -> Vec<Range> {
    let all: Vec<Range> = resources
        .iter()
        .filter(|r| r.name == name)
        .flat_map(|r| ranges_of(r).iter().copied())
        .collect();
    normalize_ranges(&all)
}

/// Mesos' text form of ranges: `[31000-31005, 32000-32001]`.
pub fn format_ranges(ranges: &[Range]) -> String {
    let parts: Vec<String> = normalize_ranges(ranges)
        .iter()
        .map(|r| format!("{}-{}", r.begin, r.end))
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Mesos' text form of a set: `{a, b}`.
fn format_set(items: &BTreeSet<String>) -> String {
    let parts: Vec<&str> = items.iter().map(String::as_str).collect();
    format!("{{{}}}", parts.join(", "))
}

/// Returns the resources with `allocation_info.role` set to `role` (what an offer carries).
pub fn allocate(resources: &[v1::Resource], role: &str) -> Vec<v1::Resource> {
    resources
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.allocation_info = Some(v1::resource::AllocationInfo {
                role: Some(role.to_owned()),
            });
            r
        })
        .collect()
}

/// Returns the resources without `allocation_info` (for frameworks that are not MULTI_ROLE).
pub fn unallocate(resources: &[v1::Resource]) -> Vec<v1::Resource> {
    resources
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.allocation_info = None;
            r
        })
        .collect()
}

/// One value of a flattened summary.
#[derive(Debug, Clone, PartialEq)]
pub enum SummaryValue {
    /// A scalar total.
    Number(f64),
    /// Ranges or a set, in Mesos' text form.
    Text(String),
}

/// The flattened form legacy endpoints show, e.g. `{"cpus":0.5,"gpus":0.0,"mem":256.0,
/// "disk":0.0,"ports":"[31000-31005]"}`: `cpus`, `gpus`, `mem` and `disk` always present,
/// ranges and sets as text, revocable resources suffixed `_revocable`.
pub fn summary(resources: &[v1::Resource]) -> Vec<(String, SummaryValue)> {
    let mut out: Vec<(String, SummaryValue)> = ["cpus", "gpus", "mem", "disk"]
        .iter()
        .map(|name| ((*name).to_owned(), SummaryValue::Number(0.0)))
        .collect();
    let resources = normalize(resources);
    // Merge across roles first: the summary is per name.
    let mut names: Vec<(String, bool)> = Vec::new();
    for r in &resources {
        let key = (r.name.clone(), r.revocable.is_some());
        if !names.contains(&key) {
            names.push(key);
        }
    }
    for (name, revocable) in names {
        let of_name: Vec<&v1::Resource> = resources
            .iter()
            .filter(|r| r.name == name && r.revocable.is_some() == revocable)
            .collect();
        let key = if revocable {
            format!("{name}_revocable")
        } else {
            name.clone()
        };
        let value = match of_name.first().and_then(|r| value_type(r)) {
            Some(ValueType::Scalar) => {
                SummaryValue::Number(round_scalar(of_name.iter().map(|r| scalar_of(r)).sum()))
            }
            Some(ValueType::Ranges) => {
                let all: Vec<Range> = of_name
                    .iter()
                    .flat_map(|r| ranges_of(r).iter().copied())
                    .collect();
                SummaryValue::Text(format_ranges(&all))
            }
            Some(ValueType::Set) => {
                let items: BTreeSet<String> = of_name.iter().flat_map(|r| items_of(r)).collect();
                SummaryValue::Text(format_set(&items))
            }
            _ => continue,
        };
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => out.push((key, value)),
        }
    }
    out
}

/// Why a `--resources` text could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseError {}

/// A scalar resource (unreserved).
pub fn scalar_resource(name: &str, value: f64) -> v1::Resource {
    v1::Resource {
        name: name.to_owned(),
        r#type: ValueType::Scalar as i32,
        scalar: Some(Scalar {
            value: round_scalar(value),
        }),
        ..Default::default()
    }
}

/// A ranges resource (unreserved), from inclusive `(begin, end)` pairs.
pub fn ranges_resource(name: &str, ranges: &[(u64, u64)]) -> v1::Resource {
    v1::Resource {
        name: name.to_owned(),
        r#type: ValueType::Ranges as i32,
        ranges: Some(Ranges {
            range: ranges
                .iter()
                .map(|&(begin, end)| Range { begin, end })
                .collect(),
        }),
        ..Default::default()
    }
}

/// A set resource (unreserved).
pub fn set_resource(name: &str, items: &[&str]) -> v1::Resource {
    v1::Resource {
        name: name.to_owned(),
        r#type: ValueType::Set as i32,
        set: Some(Set {
            item: items.iter().map(|s| (*s).to_owned()).collect(),
        }),
        ..Default::default()
    }
}

/// Parses Mesos' `--resources` text form: `name(role):value` entries separated by `;`, where a
/// value is a number (scalar), `[a-b, c-d]` (ranges) or `{x, y}` (set), e.g.
/// `cpus:2;mem:1024;disk:4096;ports:[31000-32000]`. A role other than `*` is a static
/// reservation. The JSON array form (`[{"name":"cpus",...}]`) is protobuf JSON and is parsed by
/// the daemons with `drover_wire::json`; this function refuses it with a message saying so.
pub fn parse(text: &str) -> Result<Vec<v1::Resource>, ParseError> {
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        return Err(ParseError(
            "the JSON form of resources must be parsed with drover_wire::json".into(),
        ));
    }
    let mut out = Vec::new();
    for entry in trimmed.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let (key, value) = entry
            .split_once(':')
            .ok_or_else(|| ParseError(format!("bad resource '{entry}': expected 'name:value'")))?;
        let key = key.trim();
        let value = value.trim();
        let (name, role) = match key.split_once('(') {
            Some((name, rest)) => {
                let role = rest.strip_suffix(')').ok_or_else(|| {
                    ParseError(format!(
                        "bad resource '{entry}': missing ')' after the role"
                    ))
                })?;
                (name.trim(), role.trim())
            }
            None => (key, DEFAULT_ROLE),
        };
        if name.is_empty() {
            return Err(ParseError(format!("bad resource '{entry}': empty name")));
        }
        let mut resource =
            if let Some(inner) = value.strip_prefix('[') {
                let inner = inner.strip_suffix(']').ok_or_else(|| {
                    ParseError(format!("bad resource '{entry}': missing ']' in ranges"))
                })?;
                let mut pairs = Vec::new();
                for part in inner.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let (b, e) = part.split_once('-').unwrap_or((part, part));
                    let begin: u64 = b.trim().parse().map_err(|_| {
                        ParseError(format!("bad range '{part}' in resource '{name}'"))
                    })?;
                    let end: u64 = e.trim().parse().map_err(|_| {
                        ParseError(format!("bad range '{part}' in resource '{name}'"))
                    })?;
                    if begin > end {
                        return Err(ParseError(format!(
                            "bad range '{part}' in resource '{name}': begin exceeds end"
                        )));
                    }
                    pairs.push((begin, end));
                }
                ranges_resource(name, &pairs)
            } else if let Some(inner) = value.strip_prefix('{') {
                let inner = inner.strip_suffix('}').ok_or_else(|| {
                    ParseError(format!("bad resource '{entry}': missing '}}' in set"))
                })?;
                let items: Vec<&str> = inner
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .collect();
                set_resource(name, &items)
            } else {
                let number: f64 = value.parse().map_err(|_| {
                    ParseError(format!("bad value '{value}' for resource '{name}'"))
                })?;
                if !number.is_finite() || number < 0.0 {
                    return Err(ParseError(format!(
                        "bad value '{value}' for resource '{name}': must be a non-negative number"
                    )));
                }
                scalar_resource(name, number)
            };
        if role != DEFAULT_ROLE {
            resource.reservations.push(v1::resource::ReservationInfo {
                r#type: Some(v1::resource::reservation_info::Type::Static as i32),
                role: Some(role.to_owned()),
                ..Default::default()
            });
        }
        out.push(resource);
    }
    Ok(out)
}

/// A human-readable list, as Mesos prints resources in messages:
/// `cpus(*):0.5; mem(*):128; ports(*):[31000-31000]`.
pub fn display(resources: &[v1::Resource]) -> String {
    let parts: Vec<String> = normalize(resources)
        .iter()
        .map(|r| {
            let value = match value_type(r) {
                Some(ValueType::Scalar) => format!("{}", scalar_of(r)),
                Some(ValueType::Ranges) => format_ranges(ranges_of(r)),
                Some(ValueType::Set) => format_set(&items_of(r)),
                _ => String::new(),
            };
            format!("{}({}):{value}", r.name, reservation_role(r))
        })
        .collect();
    if parts.is_empty() {
        "{}".to_owned()
    } else {
        parts.join("; ")
    }
}

/// The names of the scalar kinds DRF shares are computed over.
pub const DRF_SCALARS: [&str; 4] = ["cpus", "mem", "disk", "gpus"];

/// The dominant share of `allocated` within `total`: the largest fraction over the scalar
/// kinds the cluster has at all.
pub fn dominant_share(allocated: &[v1::Resource], total: &[v1::Resource]) -> f64 {
    dominant_share_of(allocated, &drf_totals(total))
}

/// The cluster's total of each of [`DRF_SCALARS`], for [`dominant_share_of`]: an allocation
/// pass computes a share for every framework it serves against one total, so it looks the
/// totals up once instead of once per share.
pub fn drf_totals(total: &[v1::Resource]) -> [f64; 4] {
    DRF_SCALARS.map(|name| scalar(total, name))
}

/// [`dominant_share`] against totals from [`drf_totals`] (the same figure).
pub fn dominant_share_of(allocated: &[v1::Resource], totals: &[f64; 4]) -> f64 {
    DRF_SCALARS
        .iter()
        .zip(totals)
        .filter(|&(_, &total)| total > 0.0)
        .map(|(name, &total)| scalar(allocated, name) / total)
        .fold(0.0, f64::max)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Any resource the in-place arithmetic may meet: scalars (unrounded, zero, a legacy
    /// reservation, an allocation), ranges, sets, persistent volumes, invalid ones.
    pub(crate) fn any_resource() -> impl proptest::strategy::Strategy<Value = v1::Resource> {
        use proptest::prelude::*;
        (
            0u8..7,
            0u64..5000,
            0u8..4,
            proptest::collection::vec((30u64..40, 0u64..3), 0..3),
        )
            .prop_map(|(kind, n, flavour, ranges)| {
                let value = n as f64 / 700.0;
                let mut r = match kind {
                    0 => scalar_resource("cpus", value),
                    1 => scalar_resource("mem", value),
                    2 => ranges_resource(
                        "ports",
                        &ranges.iter().map(|&(b, l)| (b, b + l)).collect::<Vec<_>>(),
                    ),
                    3 => set_resource("zones", &["a", "b", "c"][..(n % 4) as usize]),
                    4 => {
                        let mut r = scalar_resource("disk", (n % 3) as f64);
                        r.disk = Some(Box::new(v1::resource::DiskInfo {
                            persistence: Some(v1::resource::disk_info::Persistence {
                                id: format!("v{}", n % 2),
                                principal: None,
                            }),
                            volume: None,
                            source: None,
                        }));
                        r
                    }
                    5 => v1::Resource {
                        name: "cpus".into(),
                        r#type: ValueType::Scalar as i32,
                        scalar: Some(Scalar { value }),
                        ..Default::default()
                    },
                    // Invalid: a negative scalar.
                    _ => v1::Resource {
                        scalar: Some(Scalar {
                            value: -1.0 - value,
                        }),
                        ..scalar_resource("cpus", 1.0)
                    },
                };
                match flavour {
                    1 => {
                        #[allow(deprecated)]
                        {
                            r.role = Some("web".into());
                        }
                    }
                    2 => {
                        r.allocation_info = Some(v1::resource::AllocationInfo {
                            role: Some("web".into()),
                        })
                    }
                    _ => {}
                }
                r
            })
    }

    proptest::proptest! {
        /// The in-place forms give exactly (order and all) what `add`, `subtract` and
        /// `normalize` of the whole list give, for a normalized running sum.
        #[test]
        fn in_place_arithmetic_matches_the_vector_forms(
            base in proptest::collection::vec(any_resource(), 0..6),
            delta in proptest::collection::vec(any_resource(), 0..6),
            more in proptest::collection::vec(any_resource(), 0..6),
        ) {
            let sum = normalize(&base);
            let mut added = sum.clone();
            add_into(&mut added, &delta, false);
            proptest::prop_assert_eq!(&added, &add(&sum, &delta));
            let mut unallocated = sum.clone();
            add_into(&mut unallocated, &delta, true);
            proptest::prop_assert_eq!(&unallocated, &add(&sum, &unallocate(&delta)));
            let mut taken = added.clone();
            subtract_from(&mut taken, &more);
            proptest::prop_assert_eq!(&taken, &subtract(&added, &more));
            let mut taken = added.clone();
            subtract_from(&mut taken, &delta);
            proptest::prop_assert_eq!(&taken, &subtract(&added, &delta));
            let lists = [&base[..], &delta[..], &more[..]];
            proptest::prop_assert_eq!(sum_of(lists), normalize(&lists.concat()));
            let totals = drf_totals(&added);
            proptest::prop_assert_eq!(
                dominant_share_of(&sum, &totals).to_bits(),
                dominant_share(&sum, &added).to_bits()
            );
        }
    }

    #[test]
    fn parses_the_flag_syntax() {
        let r = parse("cpus:2;mem:1024;disk:4096;ports:[31000-32000]").unwrap();
        assert_eq!(scalar(&r, "cpus"), 2.0);
        assert_eq!(scalar(&r, "mem"), 1024.0);
        assert_eq!(format_ranges(&ranges(&r, "ports")), "[31000-32000]");
        let r = parse("cpus(web):1; gpus:{a, b}").unwrap();
        assert_eq!(reservation_role(&r[0]), "web");
        assert!(parse("cpus:-1").is_err());
        assert!(parse("cpus").is_err());
        assert!(parse("ports:[5-1]").is_err());
    }

    #[test]
    fn subtracting_ports_splits_ranges() {
        let total = parse("ports:[31000-31010]").unwrap();
        let used = parse("ports:[31005-31005]").unwrap();
        let left = subtract(&total, &used);
        assert_eq!(
            format_ranges(&ranges(&left, "ports")),
            "[31000-31004, 31006-31010]"
        );
        assert!(contains(&total, &used));
        assert!(!contains(&left, &used));
    }

    #[test]
    fn summary_is_flat() {
        let r = parse("cpus:0.5;mem:256;ports:[31000-31005]").unwrap();
        let s = summary(&r);
        assert_eq!(s[0], ("cpus".into(), SummaryValue::Number(0.5)));
        assert_eq!(s[1], ("gpus".into(), SummaryValue::Number(0.0)));
        assert!(s.contains(&("ports".into(), SummaryValue::Text("[31000-31005]".into()))));
    }

    #[test]
    fn scalars_beyond_mesos_fixed_point_are_refused_not_rounded_to_zero() {
        let mem = |value: f64| v1::Resource {
            name: "mem".into(),
            r#type: ValueType::Scalar as i32,
            scalar: Some(Scalar { value }),
            ..Default::default()
        };
        let err = validate(&mem(1e308)).expect_err("1e308 is refused");
        assert!(err.contains("'mem'") && err.contains("beyond"), "{err}");
        assert!(validate(&mem(MAX_SCALAR * 2.0)).is_err());
        assert!(validate(&mem(MAX_SCALAR)).is_ok());
        assert!(round_scalar(MAX_SCALAR).is_finite());
        assert!(validate(&mem(4096.0)).is_ok());
    }

    #[test]
    fn fixed_point_has_no_drift() {
        let a = parse("cpus:0.1").unwrap();
        let b = parse("cpus:0.2").unwrap();
        let c = parse("cpus:0.3").unwrap();
        assert!(subtract(&add(&a, &b), &c).is_empty());
    }
}
