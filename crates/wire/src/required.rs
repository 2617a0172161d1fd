//! A cheap proof that an encoded protobuf message has all its proto2 required fields.
//!
//! prost fills absent required fields with defaults, so [`crate::codec::decode`] must look at
//! the wire bytes to refuse what protobuf's C++ `ParseFromString` refuses. Decoding into a
//! `DynamicMessage` to do that costs as much as the real decode again (issue 8, G6: a quarter
//! of the master's CPU during a failover went to it). This module walks the bytes instead,
//! with per-message plans computed once from the descriptor pool, allocating nothing for
//! well-formed input.
//!
//! It only ever answers "certainly complete". Anything it cannot settle without modelling
//! protobuf's merge rules (a singular message field given twice, two members of one oneof,
//! groups, absurd nesting) and every incomplete message make it answer "don't know", and the
//! caller falls back to the exact reflective check, so error behaviour is unchanged.

use std::collections::HashMap;
use std::sync::LazyLock;

use prost_reflect::{DescriptorPool, Kind, MessageDescriptor};

use crate::DESCRIPTOR_POOL;

/// prost's own recursion limit; deeper input is left to the exact check.
const MAX_DEPTH: usize = 100;

/// What the scan needs to know about one field of a message.
#[derive(Debug, Clone, Copy)]
struct FieldPlan {
    /// The field's bit in [`Plan::required`], if it is required.
    required_bit: Option<u8>,
    /// The plan of its message type, if that type can miss a required field.
    child: Option<usize>,
    /// Its bit among the singular message fields with a `child` (those may merge).
    singular_bit: Option<u8>,
    /// Its oneof's index within the message, if it belongs to one.
    oneof: Option<u8>,
}

#[derive(Debug, Default)]
struct Plan {
    /// Field number → plan, for the fields that matter (required, checked messages, oneofs).
    fields: HashMap<u32, FieldPlan>,
    /// Mask of every required bit.
    required: u64,
    /// Too many required fields, singular message fields or oneofs for the 64-bit masks.
    unsupported: bool,
}

#[derive(Debug)]
struct Plans {
    by_name: HashMap<String, usize>,
    plans: Vec<Plan>,
    /// Whether a message (or anything it can contain) has required fields at all.
    checks: Vec<bool>,
}

static PLANS: LazyLock<Plans> = LazyLock::new(|| Plans::new(&DESCRIPTOR_POOL));

impl Plans {
    fn new(pool: &DescriptorPool) -> Plans {
        let messages: Vec<MessageDescriptor> = pool.all_messages().collect();
        let by_name: HashMap<String, usize> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| (m.full_name().to_owned(), i))
            .collect();
        let child_of = |kind: Kind| match kind {
            Kind::Message(m) => by_name.get(m.full_name()).copied(),
            _ => None,
        };
        // Which messages can miss a required field, transitively: a fixpoint over the graph.
        let mut checks: Vec<bool> = messages
            .iter()
            .map(|m| m.fields().any(|f| f.is_required()))
            .collect();
        loop {
            let mut changed = false;
            for (i, m) in messages.iter().enumerate() {
                if checks[i] {
                    continue;
                }
                if m.fields()
                    .any(|f| child_of(f.kind()).is_some_and(|c| checks[c]))
                {
                    checks[i] = true;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let plans = messages
            .iter()
            .map(|m| {
                let mut plan = Plan::default();
                let (mut required, mut singular) = (0u32, 0u32);
                let oneofs: Vec<String> = m.oneofs().map(|o| o.name().to_owned()).collect();
                for f in m.fields() {
                    let child = child_of(f.kind()).filter(|&c| checks[c]);
                    let oneof = f
                        .containing_oneof()
                        .and_then(|o| oneofs.iter().position(|n| n == o.name()));
                    if !f.is_required() && child.is_none() && oneof.is_none() {
                        continue;
                    }
                    let bit = |counter: &mut u32| {
                        let b = u8::try_from(*counter).ok().filter(|b| *b < 64);
                        *counter += 1;
                        b
                    };
                    let required_bit = if f.is_required() {
                        bit(&mut required)
                    } else {
                        None
                    };
                    let singular_bit = if child.is_some() && !f.is_list() && !f.is_map() {
                        bit(&mut singular)
                    } else {
                        None
                    };
                    let oneof = oneof.and_then(|o| u8::try_from(o).ok().filter(|o| *o < 64));
                    if (f.is_required() && required_bit.is_none())
                        || (child.is_some()
                            && !f.is_list()
                            && !f.is_map()
                            && singular_bit.is_none())
                        || (f.containing_oneof().is_some() && oneof.is_none())
                    {
                        plan.unsupported = true;
                    }
                    if let Some(b) = required_bit {
                        plan.required |= 1 << b;
                    }
                    plan.fields.insert(
                        f.number(),
                        FieldPlan {
                            required_bit,
                            child,
                            singular_bit,
                            oneof,
                        },
                    );
                }
                plan
            })
            .collect();
        Plans {
            by_name,
            plans,
            checks,
        }
    }
}

/// `true` when `body`, an encoded `descriptor`, certainly has every required field (nested
/// ones included); `false` when it may not, or the scan cannot tell. Assumes the body already
/// decoded cleanly with prost.
pub(crate) fn certainly_complete(descriptor: &MessageDescriptor, body: &[u8]) -> bool {
    let plans = &*PLANS;
    match plans.by_name.get(descriptor.full_name()) {
        Some(&index) => !plans.checks[index] || scan(plans, index, body, 0),
        None => false,
    }
}

fn scan(plans: &Plans, index: usize, mut buf: &[u8], depth: usize) -> bool {
    let plan = &plans.plans[index];
    if depth > MAX_DEPTH || plan.unsupported {
        return false;
    }
    let (mut required, mut singular, mut oneofs) = (0u64, 0u64, 0u64);
    // The member seen for each oneof in `oneofs` (at most 64, allocated only if used).
    let mut members: Vec<(u8, u32)> = Vec::new();
    while !buf.is_empty() {
        let Some(key) = varint(&mut buf) else {
            return false;
        };
        let number = u32::try_from(key >> 3).unwrap_or(0);
        let payload = match key & 7 {
            0 => {
                if varint(&mut buf).is_none() {
                    return false;
                }
                None
            }
            1 => {
                let Some(rest) = buf.get(8..) else {
                    return false;
                };
                buf = rest;
                None
            }
            2 => {
                let Some(len) = varint(&mut buf).and_then(|l| usize::try_from(l).ok()) else {
                    return false;
                };
                if len > buf.len() {
                    return false;
                }
                let (payload, rest) = buf.split_at(len);
                buf = rest;
                Some(payload)
            }
            5 => {
                let Some(rest) = buf.get(4..) else {
                    return false;
                };
                buf = rest;
                None
            }
            // Groups (3, 4) and invalid wire types: leave them to the exact check.
            _ => return false,
        };
        let Some(field) = plan.fields.get(&number) else {
            continue;
        };
        if let Some(b) = field.required_bit {
            required |= 1 << b;
        }
        if let Some(o) = field.oneof {
            if oneofs & (1 << o) != 0 {
                // A second member replaces the first: only the same member again is simple.
                if !members.iter().any(|&(m, n)| m == o && n == number) {
                    return false;
                }
            } else {
                oneofs |= 1 << o;
                members.push((o, number));
            }
        }
        if let Some(child) = field.child {
            let Some(payload) = payload else {
                return false;
            };
            if let Some(b) = field.singular_bit {
                if singular & (1 << b) != 0 {
                    return false; // Two occurrences merge; leave that to the exact check.
                }
                singular |= 1 << b;
            }
            if !scan(plans, child, payload, depth + 1) {
                return false;
            }
        }
    }
    required == plan.required
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().enumerate().take(10) {
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            *buf = &buf[i + 1..];
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use prost::Message;
    use prost_reflect::{DynamicMessage, ReflectMessage};

    use super::*;
    use crate::internal::{AgentCall, agent_call};
    use crate::v1;

    /// The exact check: a dynamic decode and protobuf's `IsInitialized` rules.
    fn exact(descriptor: &MessageDescriptor, body: &[u8]) -> bool {
        let dynamic = DynamicMessage::decode(descriptor.clone(), body).unwrap();
        let mut missing = Vec::new();
        crate::json::find_missing_required(&dynamic, "", &mut missing);
        missing.is_empty()
    }

    fn reregister(tasks: usize) -> AgentCall {
        let resource = v1::Resource {
            name: "cpus".into(),
            r#type: v1::value::Type::Scalar as i32,
            scalar: Some(v1::value::Scalar { value: 0.1 }),
            ..Default::default()
        };
        AgentCall {
            r#type: Some(agent_call::Type::Reregister as i32),
            agent_id: Some(v1::AgentId { value: "a".into() }),
            reregister: Some(agent_call::Reregister {
                agent_info: v1::AgentInfo {
                    hostname: "h".into(),
                    resources: vec![resource.clone()],
                    ..Default::default()
                },
                tasks: (0..tasks)
                    .map(|i| v1::Task {
                        name: format!("t{i}"),
                        task_id: v1::TaskId {
                            value: format!("t{i}"),
                        },
                        framework_id: v1::FrameworkId { value: "f".into() },
                        agent_id: v1::AgentId { value: "a".into() },
                        state: v1::TaskState::TaskRunning as i32,
                        resources: vec![resource.clone()],
                        ..Default::default()
                    })
                    .collect(),
                frameworks: vec![v1::FrameworkInfo {
                    user: "u".into(),
                    name: "n".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_complete_reregister_is_proved_complete() {
        let call = reregister(10);
        let body = call.encode_to_vec();
        let descriptor = call.descriptor();
        assert!(exact(&descriptor, &body));
        assert!(certainly_complete(&descriptor, &body));
    }

    #[test]
    fn a_missing_nested_required_field_is_never_proved_complete() {
        let call = reregister(3);
        let descriptor = call.descriptor();
        // Drop a required field at each depth: the task's name, a resource's type, the
        // framework's user, the agent's hostname (prost writes "" too, so clear by re-encoding
        // the dynamic message without the field).
        for path in [
            &["reregister", "tasks", "name"][..],
            &["reregister", "tasks", "resources", "type"],
            &["reregister", "frameworks", "user"],
            &["reregister", "agent_info", "hostname"],
        ] {
            let mut dynamic =
                DynamicMessage::decode(descriptor.clone(), &*call.encode_to_vec()).unwrap();
            clear(&mut dynamic, path);
            let body = dynamic.encode_to_vec();
            assert!(!exact(&descriptor, &body), "{path:?}");
            assert!(!certainly_complete(&descriptor, &body), "{path:?}");
        }
    }

    fn clear(message: &mut DynamicMessage, path: &[&str]) {
        let field = message.descriptor().get_field_by_name(path[0]).unwrap();
        if path.len() == 1 {
            message.clear_field(&field);
            return;
        }
        match message.get_field_mut(&field) {
            prost_reflect::Value::Message(child) => clear(child, &path[1..]),
            prost_reflect::Value::List(items) => {
                if let Some(prost_reflect::Value::Message(child)) = items.last_mut() {
                    clear(child, &path[1..]);
                }
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn merged_and_replaced_messages_are_left_to_the_exact_check() {
        let call = reregister(1);
        let descriptor = call.descriptor();
        let body = call.encode_to_vec();
        // `reregister` given again, empty: protobuf merges the two and the result is
        // complete, but the scan does not model merging.
        let number = descriptor.get_field_by_name("reregister").unwrap().number();
        let mut twice = body.clone();
        twice.push(u8::try_from(number << 3 | 2).unwrap());
        twice.push(0);
        assert!(exact(&descriptor, &twice));
        assert!(!certainly_complete(&descriptor, &twice));
        assert!(
            crate::codec::decode::<AgentCall>(&twice, crate::codec::Encoding::Protobuf).is_ok()
        );
    }

    #[test]
    fn messages_without_required_fields_need_no_scan() {
        let descriptor = v1::Filters::default().descriptor();
        assert!(certainly_complete(&descriptor, b""));
        let descriptor = AgentCall::default().descriptor();
        assert!(certainly_complete(&descriptor, b""));
        let descriptor = v1::FrameworkId::default().descriptor();
        assert!(!certainly_complete(&descriptor, b""));
    }
}
