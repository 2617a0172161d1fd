//! A JSON reader that collects every type error with its Marathon path instead of stopping at
//! the first, so a 422 can list them all.

use std::collections::BTreeMap;

use drover_core::marathon::app::Violation;
use serde_json::{Map, Value};

/// Collects type errors while reading fields of a JSON object.
#[derive(Debug, Default)]
pub struct Reader {
    /// Problems found so far.
    pub errors: Vec<Violation>,
}

impl Reader {
    /// Records a problem at `path`.
    pub fn error(&mut self, path: &str, message: impl Into<String>) {
        self.errors.push(Violation::new(path, message));
    }

    /// A string field; `null` counts as absent.
    pub fn string(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<String> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.error(&format!("{path}/{key}"), "error.expected.jsstring");
                None
            }
        }
    }

    /// A finite number field.
    pub fn number(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<f64> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => n.as_f64(),
            Some(_) => {
                self.error(&format!("{path}/{key}"), "error.expected.jsnumber");
                None
            }
        }
    }

    /// A non-negative integer field no larger than `max`.
    pub fn count(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
        max: u64,
    ) -> Option<u64> {
        let n = self.number(obj, key, path)?;
        if n.fract() != 0.0 {
            self.error(&format!("{path}/{key}"), "error.expected.integer");
            None
        } else if n < 0.0 {
            self.error(
                &format!("{path}/{key}"),
                format!("got {n}, expected 0 or more"),
            );
            None
        } else if n > max as f64 {
            self.error(
                &format!("{path}/{key}"),
                format!("got {n}, expected {max} or less"),
            );
            None
        } else {
            Some(n as u64)
        }
    }

    /// A boolean field.
    pub fn boolean(&mut self, obj: &Map<String, Value>, key: &str, path: &str) -> Option<bool> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                self.error(&format!("{path}/{key}"), "error.expected.jsboolean");
                None
            }
        }
    }

    /// An array field.
    pub fn array<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'a Vec<Value>> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(a),
            Some(_) => {
                self.error(&format!("{path}/{key}"), "error.expected.jsarray");
                None
            }
        }
    }

    /// An object field.
    pub fn object<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<&'a Map<String, Value>> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Object(o)) => Some(o),
            Some(_) => {
                self.error(&format!("{path}/{key}"), "error.expected.jsobject");
                None
            }
        }
    }

    /// An array of strings.
    pub fn strings(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<Vec<String>> {
        let array = self.array(obj, key, path)?;
        let mut out = Vec::new();
        for (i, item) in array.iter().enumerate() {
            match item {
                Value::String(s) => out.push(s.clone()),
                _ => self.error(&format!("{path}/{key}({i})"), "error.expected.jsstring"),
            }
        }
        Some(out)
    }

    /// An object of strings (`labels`; `env` allows secrets and is read separately).
    pub fn string_map(
        &mut self,
        obj: &Map<String, Value>,
        key: &str,
        path: &str,
    ) -> Option<BTreeMap<String, String>> {
        let map = self.object(obj, key, path)?;
        let mut out = BTreeMap::new();
        for (k, v) in map {
            match v {
                Value::String(s) => {
                    out.insert(k.clone(), s.clone());
                }
                _ => self.error(&format!("{path}/{key}/{k}"), "error.expected.jsstring"),
            }
        }
        Some(out)
    }
}
