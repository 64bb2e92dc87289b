//! Counters as Suricata's `stats` object: dotted names such as
//! `decoder.ipv4` become nested objects.
//!
//! A stats event merges a few hundred counters from every thread. A replay
//! packs hours of packet time, and so hundreds of events, into a second, so
//! building one costs what matters: names are mostly `'static` (no
//! allocation), sets are merged by walking both in order, and the nested
//! object is written straight from the sorted names, with no JSON tree.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::iter::Peekable;

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

/// A counter's dotted name: a literal, or built at run time.
pub type Name = Cow<'static, str>;

/// A set of named counters. Names are dotted paths; merging adds values.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters(pub BTreeMap<Name, u64>);

impl Counters {
    /// Adds `v` to the counter `name`.
    pub fn add(&mut self, name: impl Into<Name>, v: u64) {
        let name = name.into();
        match self.0.get_mut(name.as_ref()) {
            Some(c) => *c = c.saturating_add(v),
            None => {
                self.0.insert(name, v);
            }
        }
    }

    /// Sets `name` to the larger of its value and `v` (for maxima).
    pub fn max(&mut self, name: impl Into<Name>, v: u64) {
        let name = name.into();
        match self.0.get_mut(name.as_ref()) {
            Some(c) => *c = (*c).max(v),
            None => {
                self.0.insert(name, v);
            }
        }
    }

    pub fn get(&self, name: &str) -> u64 {
        self.0.get(name).copied().unwrap_or(0)
    }

    /// Adds every counter of `other`. Names ending in `max_*` or `_max`
    /// are maxima, not sums.
    pub fn merge(&mut self, other: &Counters) {
        if other.0.is_empty() {
            return;
        }
        let mine = std::mem::take(&mut self.0);
        let theirs = other.0.iter().map(|(k, &v)| (k.clone(), v));
        self.0 = Join::new(mine.into_iter(), theirs).collect();
    }

    /// [`Counters::merge`], taking `other`'s names rather than copying them.
    pub fn absorb(&mut self, other: Counters) {
        if self.0.is_empty() {
            self.0 = other.0;
        } else if !other.0.is_empty() {
            let mine = std::mem::take(&mut self.0);
            self.0 = Join::new(mine.into_iter(), other.0.into_iter()).collect();
        }
    }

    /// The nested JSON object.
    pub fn to_json(&self) -> Value {
        self.nested(&Counters::default()).to_json()
    }

    /// These counters merged with `other`'s, ready to be written as the
    /// nested object, without building the merged set first.
    pub fn nested<'a>(&'a self, other: &'a Counters) -> Nested<'a> {
        let a = self.0.iter().map(|(k, &v)| (k.as_ref(), v));
        let b = other.0.iter().map(|(k, &v)| (k.as_ref(), v));
        Nested(Join::new(a, b).collect())
    }
}

fn is_maximum(name: &str) -> bool {
    let last = name.rsplit('.').next().unwrap_or(name);
    last.starts_with("max_") || last.ends_with("_max")
}

/// Two name-ordered counter streams as one, equal names combined (summed,
/// or the larger for maxima).
struct Join<K, A: Iterator<Item = (K, u64)>, B: Iterator<Item = (K, u64)>> {
    a: Peekable<A>,
    b: Peekable<B>,
}

impl<K, A, B> Join<K, A, B>
where
    K: AsRef<str>,
    A: Iterator<Item = (K, u64)>,
    B: Iterator<Item = (K, u64)>,
{
    fn new(a: A, b: B) -> Self {
        Join {
            a: a.peekable(),
            b: b.peekable(),
        }
    }
}

impl<K, A, B> Iterator for Join<K, A, B>
where
    K: AsRef<str>,
    A: Iterator<Item = (K, u64)>,
    B: Iterator<Item = (K, u64)>,
{
    type Item = (K, u64);

    fn next(&mut self) -> Option<(K, u64)> {
        let order = match (self.a.peek(), self.b.peek()) {
            (None, None) => return None,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((x, _)), Some((y, _))) => x.as_ref().cmp(y.as_ref()),
        };
        match order {
            std::cmp::Ordering::Less => self.a.next(),
            std::cmp::Ordering::Greater => self.b.next(),
            std::cmp::Ordering::Equal => {
                let (k, x) = self.a.next()?;
                let (_, y) = self.b.next()?;
                let v = if is_maximum(k.as_ref()) {
                    x.max(y)
                } else {
                    x.saturating_add(y)
                };
                Some((k, v))
            }
        }
    }
}

/// Counters in name order, written as nested objects (`a.b.c` as
/// `{"a":{"b":{"c":…}}}`). The names under one prefix are next to each
/// other in name order, so each object is a run of the list.
#[derive(Debug)]
pub struct Nested<'a>(Vec<(&'a str, u64)>);

impl<'a> Nested<'a> {
    /// Sets `name` (replacing a counter of that name).
    pub fn set(&mut self, name: &'a str, v: u64) {
        match self.0.binary_search_by(|(k, _)| (*k).cmp(name)) {
            Ok(i) => self.0[i].1 = v,
            Err(i) => self.0.insert(i, (name, v)),
        }
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| Value::Object(Default::default()))
    }
}

impl Serialize for Nested<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        Level {
            entries: &self.0,
            skip: 0,
        }
        .serialize(s)
    }
}

/// The entries whose names share the first `skip` bytes (a prefix ending
/// in a dot), as one object.
struct Level<'e, 'a> {
    entries: &'e [(&'a str, u64)],
    skip: usize,
}

impl Serialize for Level<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.entries;
        let rest = |i: usize| &e[i].0[self.skip..];
        let mut map = s.serialize_map(None)?;
        let mut i = 0;
        while i < e.len() {
            let name = rest(i);
            if let Some((head, _)) = name.split_once('.') {
                let mut j = i + 1;
                while j < e.len() && is_under(rest(j), head) {
                    j += 1;
                }
                let group = Level {
                    entries: &e[i..j],
                    skip: self.skip + head.len() + 1,
                };
                map.serialize_entry(head, &group)?;
                i = j;
                continue;
            }
            // A counter and a group share a name: keep the group. The
            // names beginning with this one follow it, the group's too.
            let shadowed = (i + 1..e.len())
                .map(rest)
                .take_while(|n| n.starts_with(name))
                .any(|n| is_under(n, name));
            if !shadowed {
                map.serialize_entry(name, &e[i].1)?;
            }
            i += 1;
        }
        map.end()
    }
}

/// True when `name` is `head.…`.
fn is_under(name: &str, head: &str) -> bool {
    name.len() > head.len() && name.as_bytes()[head.len()] == b'.' && name.starts_with(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Map;

    fn of(pairs: &[(&'static str, u64)]) -> Counters {
        let mut c = Counters::default();
        for &(k, v) in pairs {
            c.add(k, v);
        }
        c
    }

    #[test]
    fn nests_and_merges() {
        let mut a = of(&[
            ("decoder.pkts", 3),
            ("decoder.event.ipv4.trunc_pkt", 1),
            ("decoder.max_pkt_size", 60),
        ]);
        let b = of(&[("decoder.pkts", 4), ("decoder.max_pkt_size", 1500)]);
        a.merge(&b);
        assert_eq!(
            a.to_json().to_string(),
            r#"{"decoder":{"event":{"ipv4":{"trunc_pkt":1}},"max_pkt_size":1500,"pkts":7}}"#
        );
    }

    #[test]
    fn nested_with_another_set_equals_json_of_the_merge() {
        let mut a = of(&[
            ("decoder.pkts", 3),
            ("decoder.max_pkt_size", 60),
            ("flow.tcp", 2),
        ]);
        let mut b = of(&[("decoder.pkts", 4), ("decoder.max_pkt_size", 1500)]);
        b.add(String::from("output.eve.written"), 9);
        let with = a.nested(&b).to_json();
        a.merge(&b);
        assert_eq!(with, a.to_json());
        assert_eq!(with["decoder"]["pkts"], 7);
        assert_eq!(with["decoder"]["max_pkt_size"], 1500);
        assert_eq!(with["output"]["eve"]["written"], 9);
    }

    #[test]
    fn a_group_wins_over_a_counter_of_its_name() {
        let a = of(&[("x", 1), ("x-y", 2), ("x.z", 3), ("x.z.w", 4)]);
        let none = Counters::default();
        assert_eq!(
            serde_json::to_string(&a.nested(&none)).unwrap(),
            r#"{"x-y":2,"x":{"z":{"w":4}}}"#
        );
    }

    #[test]
    fn set_replaces_or_inserts_in_order() {
        let a = of(&[("b.c", 1), ("uptime", 1)]);
        let none = Counters::default();
        let mut n = a.nested(&none);
        n.set("uptime", 7);
        n.set("a", 2);
        assert_eq!(
            n.to_json(),
            serde_json::json!({"a": 2, "b": {"c": 1}, "uptime": 7})
        );
    }

    /// What the object was before it was written from the sorted names:
    /// built one dotted path at a time into a JSON tree.
    fn tree(c: &BTreeMap<String, u64>) -> Value {
        fn insert(obj: &mut Map<String, Value>, path: &str, v: u64) {
            match path.split_once('.') {
                None => {
                    if !obj.get(path).is_some_and(Value::is_object) {
                        obj.insert(path.to_owned(), Value::from(v));
                    }
                }
                Some((head, rest)) => {
                    let child = obj
                        .entry(head.to_owned())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if !child.is_object() {
                        *child = Value::Object(Map::new());
                    }
                    if let Value::Object(m) = child {
                        insert(m, rest, v);
                    }
                }
            }
        }
        let mut root = Map::new();
        for (k, &v) in c {
            insert(&mut root, k, v);
        }
        Value::Object(root)
    }

    fn sum(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
        let mut m = a.clone();
        for (k, &v) in b {
            match m.get_mut(k) {
                Some(e) if is_maximum(k) => *e = (*e).max(v),
                Some(e) => *e = e.saturating_add(v),
                None => {
                    m.insert(k.clone(), v);
                }
            }
        }
        m
    }

    fn set(m: &BTreeMap<String, u64>) -> Counters {
        let mut c = Counters::default();
        for (k, &v) in m {
            c.add(k.clone(), v);
        }
        c
    }

    /// Names from a small alphabet, so that prefixes, shared groups, a
    /// counter beside a group of its name and characters sorting before
    /// the dot (`-`) all occur.
    fn names() -> impl Strategy<Value = BTreeMap<String, u64>> {
        prop::collection::btree_map("[ab.-]{0,3}(max_)?[ab]{0,2}", 0..u64::MAX / 2, 0..24)
    }

    proptest! {
        #[test]
        fn merging_and_nesting_agree_with_a_tree(a in names(), b in names()) {
            let want = sum(&a, &b);
            let (ca, cb) = (set(&a), set(&b));
            let mut merged = ca.clone();
            merged.merge(&cb);
            prop_assert_eq!(&merged, &set(&want));
            let mut absorbed = ca.clone();
            absorbed.absorb(cb.clone());
            prop_assert_eq!(&absorbed, &set(&want));
            prop_assert_eq!(ca.nested(&cb).to_json(), tree(&want));
            prop_assert_eq!(merged.to_json(), tree(&want));
            // The text itself: a value parsed from it drops a repeated key
            // silently, but the text would be as long as the tree's only
            // without one (names may differ in order, not in length).
            let text = serde_json::to_string(&ca.nested(&cb)).unwrap();
            prop_assert_eq!(text.len(), tree(&want).to_string().len(), "{}", text);
        }
    }
}
