//! A serde serialiser for the event bodies of EVE lines: the same bytes
//! serde_json writes, for the shapes EVE objects have (structs, options,
//! numbers, strings, lists, string-keyed maps), with struct field names
//! written as they are (they are Rust identifiers or `rename`s of this
//! project's own, which never need escaping) and strings scanned before
//! they are escaped. serde_json escapes every key and routes every field
//! through its map machinery; on a capture of many short flows that was
//! most of what writing a line cost.
//!
//! Anything else (byte strings, enums with data, non-string map keys,
//! 128-bit numbers) is refused with an error, and the caller writes that
//! record with serde_json instead: what this writes is never a guess.

use serde::ser::{self, Impossible, Serialize};

use crate::json;

/// Why a value was not written here; the caller falls back to serde_json.
#[derive(Debug)]
pub struct Unsupported(&'static str);

impl std::fmt::Display for Unsupported {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not written by the fast serialiser: {}", self.0)
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        Unsupported("a Serialize impl failed")
    }
}

type Result<T = ()> = std::result::Result<T, Unsupported>;

/// Writes `v` as serde_json would, or refuses (leaving `out` to be
/// truncated by the caller).
pub fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> Result {
    v.serialize(Ser { out })
}

struct Ser<'a> {
    out: &'a mut Vec<u8>,
}

impl<'a> Ser<'a> {
    /// Starts a list or an object, closed by `close`.
    fn open(self, open: u8, close: u8) -> Compound<'a> {
        self.out.push(open);
        Compound {
            out: self.out,
            first: true,
            close,
        }
    }
}

fn refuse<T>(what: &'static str) -> Result<T> {
    Err(Unsupported(what))
}

/// Integers, through itoa, as serde_json writes them.
macro_rules! numbers {
    ($($f:ident($t:ty)),*) => {
        $(fn $f(self, v: $t) -> Result {
            json::number(self.out, v);
            Ok(())
        })*
    };
}

impl<'a> ser::Serializer for Ser<'a> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Result {
        json::boolean(self.out, v);
        Ok(())
    }
    numbers!(
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64)
    );
    fn serialize_f32(self, v: f32) -> Result {
        serde_json::to_writer(&mut *self.out, &v).map_err(|_| Unsupported("f32"))
    }
    fn serialize_f64(self, v: f64) -> Result {
        serde_json::to_writer(&mut *self.out, &v).map_err(|_| Unsupported("f64"))
    }
    fn serialize_char(self, v: char) -> Result {
        let mut b = [0u8; 4];
        self.serialize_str(v.encode_utf8(&mut b))
    }
    fn serialize_str(self, v: &str) -> Result {
        json::string(self.out, v).map_err(|_| Unsupported("str"))
    }
    fn serialize_bytes(self, _: &[u8]) -> Result {
        refuse("bytes")
    }
    fn serialize_none(self) -> Result {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        refuse("newtype variant")
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'a>> {
        Ok(self.open(b'[', b']'))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'a>> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        refuse("tuple variant")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'a>> {
        Ok(self.open(b'{', b'}'))
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'a>> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        refuse("struct variant")
    }
}

/// An object or list being written.
struct Compound<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    close: u8,
}

impl Compound<'_> {
    fn comma(&mut self) {
        if self.first {
            self.first = false;
        } else {
            self.out.push(b',');
        }
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result {
        self.comma();
        v.serialize(Ser { out: self.out })
    }
    fn end(self) -> Result {
        self.out.push(self.close);
        Ok(())
    }
}

/// Tuples are written as lists, as serde_json writes them.
macro_rules! as_seq {
    ($($trait:ident::$method:ident),*) => {
        $(impl ser::$trait for Compound<'_> {
            type Ok = ();
            type Error = Unsupported;
            fn $method<T: Serialize + ?Sized>(&mut self, v: &T) -> Result {
                ser::SerializeSeq::serialize_element(self, v)
            }
            fn end(self) -> Result {
                ser::SerializeSeq::end(self)
            }
        })*
    };
}

as_seq!(
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field
);

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result {
        self.comma();
        k.serialize(KeySer { out: self.out })?;
        self.out.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result {
        v.serialize(Ser { out: self.out })
    }
    fn end(self) -> Result {
        self.out.push(self.close);
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Unsupported;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result {
        self.comma();
        json::first_key(self.out, key);
        v.serialize(Ser { out: self.out })
    }
    fn end(self) -> Result {
        self.out.push(self.close);
        Ok(())
    }
}

/// Map keys: strings only (serde_json quotes numbers as keys; those maps
/// go to serde_json).
struct KeySer<'a> {
    out: &'a mut Vec<u8>,
}

macro_rules! refuse_keys {
    ($($f:ident($t:ty)),*) => {
        $(fn $f(self, _: $t) -> Result { refuse("non-string map key") })*
    };
}

impl ser::Serializer for KeySer<'_> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Impossible<(), Unsupported>;
    type SerializeTuple = Impossible<(), Unsupported>;
    type SerializeTupleStruct = Impossible<(), Unsupported>;
    type SerializeTupleVariant = Impossible<(), Unsupported>;
    type SerializeMap = Impossible<(), Unsupported>;
    type SerializeStruct = Impossible<(), Unsupported>;
    type SerializeStructVariant = Impossible<(), Unsupported>;

    fn serialize_str(self, v: &str) -> Result {
        json::string(self.out, v).map_err(|_| Unsupported("str"))
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> Result {
        v.serialize(self)
    }
    refuse_keys!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_bytes(&[u8])
    );
    fn serialize_none(self) -> Result {
        refuse("non-string map key")
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result {
        refuse("non-string map key")
    }
    fn serialize_unit(self) -> Result {
        refuse("non-string map key")
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result {
        refuse("non-string map key")
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result {
        refuse("non-string map key")
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq> {
        refuse("non-string map key")
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple> {
        refuse("non-string map key")
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct> {
        refuse("non-string map key")
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant> {
        refuse("non-string map key")
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap> {
        refuse("non-string map key")
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct> {
        refuse("non-string map key")
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant> {
        refuse("non-string map key")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use serde::Serialize;

    fn same<T: Serialize>(v: &T) -> std::result::Result<(), TestCaseError> {
        let mut fast = Vec::new();
        if super::write(&mut fast, v).is_ok() {
            prop_assert_eq!(
                String::from_utf8(fast).unwrap(),
                serde_json::to_string(v).unwrap()
            );
        }
        Ok(())
    }

    #[derive(Serialize)]
    struct Inner {
        #[serde(rename = "type")]
        kind: &'static str,
        n: Option<i8>,
        #[serde(skip_serializing_if = "Option::is_none")]
        gone: Option<u64>,
        list: Vec<String>,
        ratio: f64,
        unit: (),
        c: char,
        tuple: (u8, bool),
    }

    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Kind {
        OneThing,
    }

    #[derive(Serialize)]
    struct Outer {
        inner: Inner,
        #[serde(flatten)]
        extra: BTreeMap<String, u32>,
        kind: Kind,
        empty: BTreeMap<String, u8>,
        words: Vec<u16>,
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-z\"\\\\/\\x00-\\x1f\\x7f é漢]{0,8}"
    }

    proptest! {
        /// Whatever it writes is what serde_json writes.
        #[test]
        fn writes_what_serde_json_writes(
            n in proptest::option::of(any::<i8>()), gone in proptest::option::of(any::<u64>()),
            list in proptest::collection::vec(text(), 0..3), ratio in any::<f64>(),
            c in any::<char>(), extra in proptest::collection::btree_map(text(), any::<u32>(), 0..3),
            words in proptest::collection::vec(any::<u16>(), 0..3), b in any::<bool>(),
        ) {
            let v = Outer {
                inner: Inner { kind: "k", n, gone, list, ratio, unit: (), c, tuple: (7, b) },
                extra,
                kind: Kind::OneThing,
                empty: BTreeMap::new(),
                words,
            };
            same(&v)?;
            // A JSON value of any shape: maps with string keys, numbers of
            // every kind.
            same(&serde_json::to_value(&v).unwrap())?;
        }
    }

    #[test]
    fn refuses_what_it_does_not_write() {
        let mut out = Vec::new();
        let numbered: BTreeMap<u8, u8> = [(1, 2)].into_iter().collect();
        assert!(super::write(&mut out, &numbered).is_err());
        #[derive(Serialize)]
        enum E {
            Data(u8),
        }
        assert!(super::write(&mut out, &E::Data(1)).is_err());
        assert!(super::write(&mut out, &serde_bytes_like()).is_err());
    }

    struct Bytes;
    impl Serialize for Bytes {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(b"ab")
        }
    }
    fn serde_bytes_like() -> Bytes {
        Bytes
    }
}
