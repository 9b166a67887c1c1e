//! `tend schema`: a JSON Schema (draft 2020-12) per playbook kind, for editors (VS Code and
//! Neovim through yaml-language-server). It is generated from the types the loader
//! deserializes, their doc comments the descriptions, so what an editor flags and what
//! `tend validate` refuses come from one definition. The loader checks more than a schema can
//! say (templates, paths, warn before crit); the schema never refuses what the loader takes.

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema, json_schema};
use serde_json::{Value, json};

use crate::playbook::Kind;
use crate::playbook::schema::{ALERT_REASON, TEXT_ONLY};

const KINDS: [Kind; 4] = [Kind::Deploy, Kind::Cleanup, Kind::Failover, Kind::Check];

fn generator() -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator()
}

/// The schema of one kind's playbook, or of any playbook (picked by its `kind:`).
pub fn document(kind: Option<Kind>) -> Value {
    let mut g = generator();
    let mut root = match kind {
        Some(kind) => {
            let mut s = root_for(&mut g, kind);
            s.insert("title".into(), json!(format!("tend {kind} playbook")));
            s
        }
        None => {
            let mut branches = vec![];
            for kind in KINDS {
                let reference = subschema(&mut g, kind);
                branches.push(json!({
                    "if": { "properties": { "kind": { "const": kind.to_string() } }, "required": ["kind"] },
                    "then": reference,
                }));
            }
            json_schema!({
                "title": "tend playbook",
                "description": "A tend playbook; `kind:` says which (deploy, cleanup, failover, check).",
                "type": "object",
                "required": ["kind"],
                "properties": { "kind": kind_schema(None) },
                "allOf": branches,
            })
        }
    };
    let mut defs = g.take_definitions(true);
    // Every `kind` key is given its constant below; the shared type is referenced nowhere.
    defs.remove("Kind");
    if !defs.is_empty() {
        root.insert("$defs".into(), Value::Object(defs));
    }
    root.insert(
        "$schema".into(),
        json!("https://json-schema.org/draft/2020-12/schema"),
    );
    let mut value = root.to_value();
    if let Some(reasons) = value.pointer_mut(&format!("/$defs/{ALERT_REASON}/enum")) {
        *reasons = json!(self::reasons(kind));
    }
    if let Some(map) = value.as_object_mut() {
        for v in map.values_mut() {
            as_yaml_reads(v);
        }
    }
    if let Some(kind) = kind {
        set_kind(&mut value, kind);
    } else {
        for kind in KINDS {
            if let Some(def) = value
                .pointer_mut(&format!("/$defs/{}", def_name(kind)))
                .filter(|d| d.is_object())
            {
                set_kind(def, kind);
            }
        }
    }
    value
}

fn root_for(g: &mut SchemaGenerator, kind: Kind) -> Schema {
    use crate::{check, cleanup, deploy, failover};
    match kind {
        Kind::Deploy => deploy::DeployPlaybook::json_schema(g),
        Kind::Cleanup => cleanup::CleanupPlaybook::json_schema(g),
        Kind::Failover => failover::FailoverPlaybook::json_schema(g),
        Kind::Check => check::CheckPlaybook::json_schema(g),
    }
}

fn subschema(g: &mut SchemaGenerator, kind: Kind) -> Schema {
    use crate::{check, cleanup, deploy, failover};
    match kind {
        Kind::Deploy => g.subschema_for::<deploy::DeployPlaybook>(),
        Kind::Cleanup => g.subschema_for::<cleanup::CleanupPlaybook>(),
        Kind::Failover => g.subschema_for::<failover::FailoverPlaybook>(),
        Kind::Check => g.subschema_for::<check::CheckPlaybook>(),
    }
}

fn def_name(kind: Kind) -> String {
    use crate::{check, cleanup, deploy, failover};
    match kind {
        Kind::Deploy => deploy::DeployPlaybook::schema_name(),
        Kind::Cleanup => cleanup::CleanupPlaybook::schema_name(),
        Kind::Failover => failover::FailoverPlaybook::schema_name(),
        Kind::Check => check::CheckPlaybook::schema_name(),
    }
    .into_owned()
}

/// Every kind shares the `kind` key's type; in one kind's schema it holds that kind alone.
fn set_kind(schema: &mut Value, kind: Kind) {
    if let Some(p) = schema.pointer_mut("/properties/kind") {
        *p = kind_schema(Some(kind));
    }
}

fn kind_schema(kind: Option<Kind>) -> Value {
    let description = "What the playbook is for; each subcommand takes its own kind.";
    match kind {
        Some(k) => {
            json!({ "description": description, "const": k.to_string(), "examples": [k.to_string()] })
        }
        None => json!({
            "description": description,
            "enum": KINDS.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
            "examples": ["deploy"],
        }),
    }
}

/// The pretty-printed schema, as `tend schema` prints it and `schema/` holds it.
pub fn text(kind: Option<Kind>) -> String {
    let mut s = serde_json::to_string_pretty(&document(kind)).unwrap_or_default();
    s.push('\n');
    s
}

/// Every reason an alert is sent for, in one playbook kind or (None) any.
fn reasons(kind: Option<Kind>) -> Vec<&'static str> {
    let mut all = vec![];
    for k in KINDS {
        if kind.is_none_or(|want| want == k) {
            let these: &[&str] = match k {
                Kind::Deploy => crate::deploy::ALERT_REASONS,
                Kind::Cleanup => crate::cleanup::ALERT_REASONS,
                Kind::Failover => crate::failover::ALERT_REASONS,
                Kind::Check => crate::check::ALERT_REASONS,
            };
            all.extend(
                these
                    .iter()
                    .filter(|r| !all.contains(*r))
                    .collect::<Vec<_>>(),
            );
        }
    }
    all
}

/// What YAML lets a value be where the loader reads it: its empty value (`stop:` with nothing
/// after it) reads as an empty list, an empty mapping or a mapping of defaults, so wherever a
/// list or a mapping goes, so may null; and a plain scalar reads as text where text goes
/// (`release: 1.10`, `mount: false`, even `null`), so a free string may be any scalar.
/// Formats with a pattern (durations, sizes) are read by tend itself and stay strings.
fn as_yaml_reads(v: &mut Value) {
    match v {
        Value::Object(map) => {
            let free = map.remove(TEXT_ONLY).is_none()
                && !["pattern", "const", "enum"]
                    .iter()
                    .any(|k| map.contains_key(*k));
            // Rust's integer types, as schemars names them: the loader refuses what overflows.
            let most = match map.get("format").and_then(Value::as_str) {
                Some("uint8") => Some(json!(u8::MAX)),
                Some("uint16") => Some(json!(u16::MAX)),
                Some("uint32") => Some(json!(u32::MAX)),
                Some("uint64" | "uint") => Some(json!(u64::MAX)),
                _ => None,
            };
            if let Some(most) = most {
                map.entry("maximum").or_insert(most);
            }
            let nonempty = map
                .get("minItems")
                .and_then(Value::as_u64)
                .is_some_and(|n| n > 0);
            if let Some(ty) = map.get_mut("type") {
                match ty.as_str() {
                    // A list that must hold something is refused empty, null or not.
                    Some("array") if nonempty => {}
                    Some(t @ ("object" | "array")) => *ty = json!([t, "null"]),
                    Some("string") if free => *ty = json!(["string", "number", "boolean", "null"]),
                    _ if free && *ty == json!(["string", "null"]) => {
                        *ty = json!(["string", "number", "boolean", "null"]);
                    }
                    _ => {}
                }
            }
            for (k, v) in map.iter_mut() {
                if k != "examples" && k != "default" {
                    as_yaml_reads(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(as_yaml_reads),
        _ => {}
    }
}
