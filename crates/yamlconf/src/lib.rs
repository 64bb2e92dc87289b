//! YAML read the way an operator needs its errors: every problem names the
//! file, the line and column, and the dotted key, whether serde found it
//! (a wrong type, an unknown key) or a range check after parsing did.

#![forbid(unsafe_code)]

use std::path::Path;

use serde::de::DeserializeOwned;

/// A problem in a YAML file, naming where it is.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}{location}: {key}{message}")]
pub struct YamlError {
    pub file: String,
    /// `:line:column` or `:line`, when known.
    pub location: String,
    /// `key.path: `, when known.
    pub key: String,
    pub message: String,
}

impl YamlError {
    /// A value that parsed but is not acceptable: located by its key.
    pub fn at_key(text: &str, file: &str, key: &str, message: String) -> Self {
        YamlError {
            file: file.to_owned(),
            location: line_of(text, key)
                .map(|(l, c)| format!(":{l}:{c}"))
                .unwrap_or_default(),
            key: format!("{key}: "),
            message,
        }
    }
}

/// Parses `text`; empty text (or only comments and blanks) is `T::default()`.
pub fn parse<T: DeserializeOwned + Default>(text: &str, file: &str) -> Result<T, YamlError> {
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    let de = serde_norway::Deserializer::from_str(text);
    serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let location = inner
            .location()
            .map(|l| format!(":{}:{}", l.line(), l.column()))
            .unwrap_or_default();
        let key = if path.is_empty() || path == "." {
            String::new()
        } else {
            format!("{path}: ")
        };
        // serde_norway wraps its message in its own (coarser) path and
        // location; both are already in front, so keep only the description.
        let mut message = inner.to_string();
        if let Some(i) = message.find(" at line ") {
            message.truncate(i);
        }
        if let Some((prefix, rest)) = message.split_once(": ")
            && !prefix.contains(' ')
            && path.starts_with(prefix)
        {
            message = rest.to_owned();
        }
        YamlError {
            file: file.to_owned(),
            location,
            key,
            message,
        }
    })
}

/// Reads the file and hands its text to `parse`, which names it in errors.
pub fn load<T>(
    path: &Path,
    parse: impl FnOnce(&str, &str) -> Result<T, YamlError>,
) -> Result<T, YamlError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| YamlError {
        file: file.clone(),
        location: String::new(),
        key: String::new(),
        message: e.to_string(),
    })?;
    parse(&text, &file)
}

/// Line and column of a dotted key (`a.b[2].c`) in YAML text, found by
/// following the indentation; for error messages only. A key not written
/// (a default) gives the deepest parent that is.
pub fn line_of(text: &str, key: &str) -> Option<(usize, usize)> {
    let parts: Vec<&str> = key
        .split('.')
        .map(|p| p.split('[').next().unwrap_or(p))
        .collect();
    let mut indent: Option<usize> = None;
    let mut found = None;
    let mut lines = text.lines().enumerate();
    'parts: for part in parts {
        for (n, line) in lines.by_ref() {
            let body = line.trim_start().trim_start_matches("- ");
            let col = line.len() - body.len();
            if indent.is_some_and(|i| col <= i)
                && !line.trim().is_empty()
                && !line.trim_start().starts_with('#')
            {
                // Left the parent's block: the key is not written.
                return found;
            }
            if body.starts_with(&format!("{part}:")) {
                indent = Some(col);
                found = Some((n + 1, col + 1));
                continue 'parts;
            }
        }
        return found;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Conf {
        flow: Flow,
    }
    #[derive(Debug, Default, serde::Deserialize)]
    #[serde(deny_unknown_fields, default)]
    struct Flow {
        max_flows: u32,
    }

    #[test]
    fn a_wrong_type_names_file_line_and_key() {
        let e = parse::<Conf>("# c\nflow:\n  max_flows: lots\n", "s.yaml").unwrap_err();
        assert_eq!(e.file, "s.yaml");
        assert_eq!(e.location, ":3:14");
        assert_eq!(e.key, "flow.max_flows: ");
        assert!(e.message.starts_with("invalid type"), "{}", e.message);
    }

    #[test]
    fn an_unknown_key_is_named() {
        let e = parse::<Conf>("flow:\n  max_flow: 3\n", "s.yaml").unwrap_err();
        assert!(e.to_string().starts_with("s.yaml:2:"), "{e}");
        assert!(e.message.contains("max_flow"), "{e}");
    }

    #[test]
    fn empty_text_is_the_default() {
        assert_eq!(parse::<Conf>(" \n", "s.yaml").unwrap().flow.max_flows, 0);
    }

    #[test]
    fn keys_are_found_by_indentation() {
        let text = "a:\n  x: 1\nb:\n  x: 2\n  c:\n    - x: 3\n";
        assert_eq!(line_of(text, "b.x"), Some((4, 3)));
        assert_eq!(line_of(text, "b.c[0].x"), Some((6, 7)));
        // Not written: the deepest parent that is.
        assert_eq!(line_of(text, "a.y"), Some((1, 1)));
        assert_eq!(line_of(text, "z"), None);
    }

    #[test]
    fn a_range_error_points_at_its_key() {
        let e = YamlError::at_key(
            "flow:\n  max_flows: 0\n",
            "s.yaml",
            "flow.max_flows",
            "0 is out of range".into(),
        );
        assert_eq!(
            e.to_string(),
            "s.yaml:2:3: flow.max_flows: 0 is out of range"
        );
    }
}
