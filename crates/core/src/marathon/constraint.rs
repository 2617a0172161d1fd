//! Placement constraints (`[field, OPERATOR, value]`): parsing with Marathon's messages and
//! deciding whether an agent may take one more instance of an app.

use std::collections::BTreeMap;

/// A constraint operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// At most one instance per value.
    Unique,
    /// All instances on one value (the given one, or the first instance's).
    Cluster,
    /// Spread evenly over values (optionally over at least N groups).
    GroupBy,
    /// Value matches a regex.
    Like,
    /// Value does not match a regex (or the attribute is missing).
    Unlike,
    /// At most N instances per value.
    MaxPer,
    /// Value equals the given one.
    Is,
}

impl Operator {
    /// Marathon's spelling.
    pub fn name(self) -> &'static str {
        match self {
            Operator::Unique => "UNIQUE",
            Operator::Cluster => "CLUSTER",
            Operator::GroupBy => "GROUP_BY",
            Operator::Like => "LIKE",
            Operator::Unlike => "UNLIKE",
            Operator::MaxPer => "MAX_PER",
            Operator::Is => "IS",
        }
    }
}

/// One parsed constraint.
#[derive(Debug, Clone)]
pub struct Constraint {
    /// `hostname`, `@hostname`, `@region`, `@zone` or an agent attribute name.
    pub field: String,
    /// The operator.
    pub operator: Operator,
    /// The operator's argument, if any.
    pub value: Option<String>,
    /// The compiled regex of LIKE/UNLIKE, anchored to match the whole value.
    regex: Option<regex::Regex>,
}

impl PartialEq for Constraint {
    fn eq(&self, other: &Self) -> bool {
        self.field == other.field && self.operator == other.operator && self.value == other.value
    }
}

/// Upper bound on a LIKE/UNLIKE pattern's compiled size, so a client cannot make us build a
/// huge automaton.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

impl Constraint {
    /// Parses `[field, OPERATOR]` or `[field, OPERATOR, value]`; the error is Marathon's message.
    pub fn parse(parts: &[String]) -> Result<Constraint, String> {
        if !(2..=3).contains(&parts.len()) {
            return Err("Each constraint must have either 2 or 3 fields".to_owned());
        }
        let field = parts[0].clone();
        if field.is_empty() {
            return Err("Missing field for constraint declaration".to_owned());
        }
        let operator = match parts[1].to_ascii_uppercase().as_str() {
            "UNIQUE" => Operator::Unique,
            "CLUSTER" => Operator::Cluster,
            "GROUP_BY" => Operator::GroupBy,
            "LIKE" => Operator::Like,
            "UNLIKE" => Operator::Unlike,
            "MAX_PER" => Operator::MaxPer,
            "IS" => Operator::Is,
            _ => {
                return Err(
                    "Constraint operator must be one of the following UNIQUE, CLUSTER, \
                            GROUP_BY, LIKE, MAX_PER, UNLIKE or IS"
                        .to_owned(),
                );
            }
        };
        let value = parts.get(2).cloned();
        let mut regex = None;
        match (operator, value.as_deref()) {
            (Operator::Unique, Some(_)) => return Err("UNIQUE does not accept a value".to_owned()),
            (Operator::GroupBy, Some(v)) if v.parse::<u32>().is_err() => {
                return Err("GROUP BY must define an integer value or else no value at all".into());
            }
            (Operator::MaxPer, v) if v.and_then(|v| v.parse::<u32>().ok()).is_none() => {
                return Err("MAX_PER requires an integer value".to_owned());
            }
            (Operator::Like | Operator::Unlike, None) => {
                return Err(format!("{} requires a value", operator.name()));
            }
            (Operator::Like | Operator::Unlike, Some(v)) => {
                match regex::RegexBuilder::new(&format!("^(?:{v})$"))
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                {
                    Ok(r) => regex = Some(r),
                    Err(_) => return Err(format!("'{v}' is not a valid regular expression")),
                }
            }
            (Operator::Is, None) => return Err("IS requires a value".to_owned()),
            (Operator::Is, Some(v))
                if !(v.parse::<f64>().is_ok()
                    || v.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_/.-".contains(&b))) =>
            {
                return Err("IS requires a text or scalar value".to_owned());
            }
            _ => {}
        }
        Ok(Constraint {
            field,
            operator,
            value,
            regex,
        })
    }

    /// The constraint as Marathon renders it: `[field, OP(, value)]`.
    pub fn to_parts(&self) -> Vec<String> {
        let mut parts = vec![self.field.clone(), self.operator.name().to_owned()];
        parts.extend(self.value.clone());
        parts
    }

    /// Whether an agent with `agent` may take one more instance, given the values of this
    /// constraint's field on the agents of the app's placed instances (`None`: attribute absent).
    pub fn accepts(&self, agent: &AgentView, placed: &[Option<String>]) -> bool {
        let offered = agent.field(&self.field);
        let Some(offered) = offered else {
            return self.operator == Operator::Unlike;
        };
        let count_of = |value: &str| placed.iter().flatten().filter(|v| *v == value).count();
        match self.operator {
            Operator::Unique => count_of(&offered) == 0,
            Operator::Cluster => match &self.value {
                Some(v) if !v.is_empty() => &offered == v,
                _ => placed
                    .iter()
                    .flatten()
                    .next()
                    .is_none_or(|first| *first == offered),
            },
            Operator::GroupBy => {
                let mut groups: BTreeMap<&str, usize> = BTreeMap::new();
                for v in placed.iter().flatten() {
                    *groups.entry(v.as_str()).or_default() += 1;
                }
                let Some(mine) = groups.get(offered.as_str()).copied() else {
                    return true;
                };
                let wanted: usize = self
                    .value
                    .as_deref()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let min = groups.values().copied().min().unwrap_or(0);
                groups.len() >= wanted && mine <= min
            }
            Operator::Like => self.regex.as_ref().is_some_and(|r| r.is_match(&offered)),
            Operator::Unlike => !self.regex.as_ref().is_some_and(|r| r.is_match(&offered)),
            Operator::MaxPer => {
                let max: usize = self
                    .value
                    .as_deref()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                count_of(&offered) < max
            }
            Operator::Is => self
                .value
                .as_deref()
                .is_some_and(|v| normalize_scalar(v) == normalize_scalar(&offered)),
        }
    }
}

/// What constraints look at on an agent: its hostname, fault domain and attributes, each
/// attribute already formatted as a string the way Marathon compares them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AgentView {
    /// The agent's hostname.
    pub hostname: String,
    /// Fault-domain region, if any.
    pub region: Option<String>,
    /// Fault-domain zone, if any.
    pub zone: Option<String>,
    /// Attributes by name.
    pub attributes: BTreeMap<String, String>,
}

impl AgentView {
    /// The value of a constraint field on this agent.
    pub fn field(&self, field: &str) -> Option<String> {
        match field {
            "hostname" | "@hostname" => Some(self.hostname.clone()),
            "@region" => self.region.clone(),
            "@zone" => self.zone.clone(),
            name => self.attributes.get(name).cloned(),
        }
    }
}

/// Scalars compare by value with at most three decimals (`0.8` ≡ `0.80`); text as is.
fn normalize_scalar(value: &str) -> String {
    match value.parse::<f64>() {
        Ok(number) if number.is_finite() => format_scalar(number),
        _ => value.to_owned(),
    }
}

/// Formats a scalar attribute as Marathon does: up to three decimals, trailing zeros dropped.
pub fn format_scalar(number: f64) -> String {
    let text = format!("{number:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(parts: &[&str]) -> Result<Constraint, String> {
        Constraint::parse(&parts.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    fn agent(host: &str, rack: Option<&str>) -> AgentView {
        let mut view = AgentView {
            hostname: host.into(),
            ..AgentView::default()
        };
        if let Some(rack) = rack {
            view.attributes.insert("rack".into(), rack.into());
        }
        view
    }

    fn vals(values: &[&str]) -> Vec<Option<String>> {
        values.iter().map(|v| Some(v.to_string())).collect()
    }

    #[test]
    fn parse_errors_have_marathon_messages() {
        assert!(
            parse(&["hostname", "UNIQUE", "x"])
                .unwrap_err()
                .contains("UNIQUE")
        );
        assert!(
            parse(&["hostname", "FOO"])
                .unwrap_err()
                .contains("operator must be one of")
        );
        assert!(parse(&["a", "MAX_PER"]).unwrap_err().contains("MAX_PER"));
        assert!(
            parse(&["a", "GROUP_BY", "x"])
                .unwrap_err()
                .contains("GROUP BY")
        );
        assert!(
            parse(&["a", "LIKE", "("])
                .unwrap_err()
                .contains("regular expression")
        );
        assert!(parse(&["a", "unique"]).is_ok());
    }

    #[test]
    fn operators_decide_as_marathon() {
        let unique = parse(&["hostname", "UNIQUE"]).unwrap();
        assert!(unique.accepts(&agent("a", None), &vals(&["b"])));
        assert!(!unique.accepts(&agent("a", None), &vals(&["a"])));
        let cluster = parse(&["rack", "CLUSTER"]).unwrap();
        assert!(cluster.accepts(&agent("a", Some("r1")), &[]));
        assert!(!cluster.accepts(&agent("a", Some("r2")), &vals(&["r1"])));
        let like = parse(&["rack", "LIKE", "r[1-3]"]).unwrap();
        assert!(like.accepts(&agent("a", Some("r2")), &[]));
        assert!(!like.accepts(&agent("a", Some("r22")), &[]));
        let unlike = parse(&["rack", "UNLIKE", "r[1-3]"]).unwrap();
        assert!(unlike.accepts(&agent("a", None), &[]));
        assert!(!unlike.accepts(&agent("a", Some("r1")), &[]));
        let max = parse(&["rack", "MAX_PER", "2"]).unwrap();
        assert!(max.accepts(&agent("a", Some("r1")), &vals(&["r1"])));
        assert!(!max.accepts(&agent("a", Some("r1")), &vals(&["r1", "r1"])));
        let is = parse(&["level", "IS", "0.8"]).unwrap();
        let mut view = agent("a", None);
        view.attributes.insert("level".into(), "0.80".into());
        assert!(is.accepts(&view, &[]));
        let group = parse(&["rack", "GROUP_BY"]).unwrap();
        assert!(group.accepts(&agent("a", Some("r2")), &vals(&["r1"])));
        assert!(!group.accepts(&agent("a", Some("r1")), &vals(&["r1", "r1", "r2"])));
        assert!(group.accepts(&agent("a", Some("r2")), &vals(&["r1", "r1", "r2"])));
    }
}
