//! Writing the commonest EVE fields straight into a line's bytes. serde's
//! generic path escapes every key and formats numbers, addresses and
//! times through `fmt`; for the header every line starts with and for the
//! flow record every flow ends with, that was a fifth of a worker's
//! instructions on a capture of many short flows. What is written here is
//! byte for byte what serde_json writes for the same fields (the tests of
//! each writer check it against serde); strings from outside still go
//! through serde_json's escaping.

/// `,"name":`, for a key of this crate's own: no character in it needs
/// escaping.
#[inline]
pub fn key(out: &mut Vec<u8>, name: &'static str) {
    out.extend_from_slice(b",\"");
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// `"name":`, the first key of an object (after its `{`).
#[inline]
pub fn first_key(out: &mut Vec<u8>, name: &'static str) {
    out.push(b'"');
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b"\":");
}

/// Text known to need no escaping (this crate's own names, numbers,
/// addresses, Community IDs), quoted. Bytes, so that text built as bytes
/// needs no UTF-8 check to be written.
#[inline]
pub fn quoted(out: &mut Vec<u8>, s: impl AsRef<[u8]>) {
    let s = s.as_ref();
    debug_assert!(s.iter().all(|&b| needs_no_escape(b)));
    out.push(b'"');
    out.extend_from_slice(s);
    out.push(b'"');
}

/// Whether serde_json writes this byte of a string as it is.
#[inline]
fn needs_no_escape(b: u8) -> bool {
    b >= 0x20 && b != b'"' && b != b'\\'
}

/// Any string, escaped as serde_json escapes it. Most need nothing
/// escaped, which a plain scan tells faster than serde_json's escaper
/// copies them.
#[inline]
pub fn string(out: &mut Vec<u8>, s: &str) -> serde_json::Result<()> {
    if s.bytes().all(needs_no_escape) {
        quoted(out, s);
        Ok(())
    } else {
        serde_json::to_writer(out, s)
    }
}

#[inline]
pub fn number<N: itoa::Integer>(out: &mut Vec<u8>, n: N) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[inline]
pub fn boolean(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

/// A timestamp, quoted.
#[inline]
pub fn time(out: &mut Vec<u8>, t: crate::EveTime) {
    out.push(b'"');
    out.extend_from_slice(&t.format());
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    proptest::proptest! {
        #[test]
        fn string_is_escaped_as_serde_json_escapes_it(s in "[a-z\"\\\\/\\x00-\\x1f\\x7f é漢]{0,12}") {
            let mut fast = Vec::new();
            super::string(&mut fast, &s).unwrap();
            proptest::prop_assert_eq!(String::from_utf8(fast).unwrap(), serde_json::to_string(&s).unwrap());
        }
    }
}
