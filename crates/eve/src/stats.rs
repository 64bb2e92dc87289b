//! Counters as Suricata's `stats` object: dotted names such as
//! `decoder.ipv4` become nested objects.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A set of named counters. Names are dotted paths; merging adds values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters(pub BTreeMap<String, u64>);

impl Counters {
    /// Adds `v` to the counter `name`.
    pub fn add(&mut self, name: &str, v: u64) {
        match self.0.get_mut(name) {
            Some(c) => *c = c.saturating_add(v),
            None => {
                self.0.insert(name.to_owned(), v);
            }
        }
    }

    /// Sets `name` to the larger of its value and `v` (for maxima).
    pub fn max(&mut self, name: &str, v: u64) {
        match self.0.get_mut(name) {
            Some(c) => *c = (*c).max(v),
            None => {
                self.0.insert(name.to_owned(), v);
            }
        }
    }

    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// Adds every counter of `other`. Names ending in `max_*` or `_max`
    /// are maxima, not sums.
    pub fn merge(&mut self, other: &Counters) {
        for (k, &v) in &other.0 {
            if is_maximum(k) {
                self.max(k, v);
            } else {
                self.add(k, v);
            }
        }
    }

    /// The nested JSON object.
    pub fn to_json(&self) -> Value {
        self.to_json_with(&Counters::default())
    }

    /// The nested JSON object of these counters merged with `other`'s,
    /// without building the merged set first (stats are written often, and
    /// each copy of a few hundred names is as many allocations).
    pub fn to_json_with(&self, other: &Counters) -> Value {
        let mut root = Map::new();
        for (k, &v) in &self.0 {
            let v = match other.0.get(k) {
                Some(&o) if is_maximum(k) => v.max(o),
                Some(&o) => v.saturating_add(o),
                None => v,
            };
            insert(&mut root, k, v);
        }
        for (k, &v) in &other.0 {
            if !self.0.contains_key(k) {
                insert(&mut root, k, v);
            }
        }
        Value::Object(root)
    }
}

fn is_maximum(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    last.starts_with("max_") || last.ends_with("_max")
}

fn insert(obj: &mut Map<String, Value>, path: &str, v: u64) {
    match path.split_once('.') {
        None => {
            obj.insert(path.to_owned(), Value::from(v));
        }
        Some((head, rest)) => {
            let child = obj
                .entry(head.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                // A counter and a group share a name: keep the group.
                *child = Value::Object(Map::new());
            }
            if let Value::Object(m) = child {
                insert(m, rest, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nests_and_merges() {
        let mut a = Counters::default();
        a.add("decoder.pkts", 3);
        a.add("decoder.event.ipv4.trunc_pkt", 1);
        a.add("decoder.max_pkt_size", 60);
        let mut b = Counters::default();
        b.add("decoder.pkts", 4);
        b.add("decoder.max_pkt_size", 1500);
        a.merge(&b);
        assert_eq!(
            a.to_json().to_string(),
            r#"{"decoder":{"event":{"ipv4":{"trunc_pkt":1}},"max_pkt_size":1500,"pkts":7}}"#
        );
    }

    #[test]
    fn json_with_another_set_equals_json_of_the_merge() {
        let mut a = Counters::default();
        a.add("decoder.pkts", 3);
        a.add("decoder.max_pkt_size", 60);
        a.add("flow.tcp", 2);
        let mut b = Counters::default();
        b.add("decoder.pkts", 4);
        b.add("decoder.max_pkt_size", 1500);
        b.add("output.eve.written", 9);
        let with = a.to_json_with(&b);
        a.merge(&b);
        assert_eq!(with, a.to_json());
        assert_eq!(with["decoder"]["pkts"], 7);
        assert_eq!(with["decoder"]["max_pkt_size"], 1500);
        assert_eq!(with["output"]["eve"]["written"], 9);
    }
}
