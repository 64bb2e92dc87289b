//! Suricata's EVE schema merged with fumidai's overlay.

use serde_json::{Map, Value};

use super::root;

pub fn suricata() -> Value {
    load("schema/suricata/schema.json")
}

pub fn overlay() -> Value {
    load("schema/overlay.json")
}

fn load(rel: &str) -> Value {
    let text = std::fs::read_to_string(root().join(rel)).expect(rel);
    serde_json::from_str(&text).expect(rel)
}

/// Merges `overlay` into `base`: `properties` are added recursively; any
/// attempt to redefine something `base` already has is an error.
pub fn merge(base: &Value, overlay: &Value) -> Result<Value, String> {
    let mut out = base.clone();
    merge_into(&mut out, overlay, "")?;
    Ok(out)
}

fn merge_into(base: &mut Value, overlay: &Value, path: &str) -> Result<(), String> {
    let Some(over) = overlay.as_object() else {
        return Err(format!("{path}: overlay node is not an object"));
    };
    for (k, v) in over {
        if k == "$comment" {
            continue;
        }
        if k != "properties" {
            return Err(format!(
                "{path}: the overlay may only add properties, not `{k}`"
            ));
        }
        let Some(props) = v.as_object() else {
            return Err(format!("{path}.properties is not an object"));
        };
        let base_obj = base
            .as_object_mut()
            .ok_or(format!("{path}: base is not an object"))?;
        let base_props = base_obj
            .entry("properties")
            .or_insert_with(|| Value::Object(Map::new()))
            .as_object_mut()
            .ok_or(format!("{path}.properties in base is not an object"))?;
        for (name, def) in props {
            let child = format!("{path}.{name}");
            match base_props.get_mut(name) {
                None => {
                    base_props.insert(name.clone(), def.clone());
                }
                Some(existing) => {
                    // Extending an existing object is fine; redefining it is not.
                    merge_into(existing, def, &child)?;
                }
            }
        }
    }
    Ok(())
}

/// A validator for Suricata's schema plus the overlay.
pub fn validator() -> jsonschema::Validator {
    let merged = merge(&suricata(), &overlay()).expect("overlay merges");
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(&merged)
        .expect("schema compiles")
}

/// The validation errors of one EVE line, as readable strings.
pub fn errors(v: &jsonschema::Validator, event: &Value) -> Vec<String> {
    v.iter_errors(event)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect()
}
