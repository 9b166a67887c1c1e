//! What the playbook types' JSON Schemas share (`tend schema` makes the documents, in
//! `schema.rs`): a type read through a raw form (`schema_as!`), a value tend parses itself
//! (`schema_written!`), a bare string or a mapping (`schema_string_or!`), and the pieces their
//! hand-written schemas use. A leaf below the jobs, which derive their schemas with it.

use schemars::{Schema, SchemaGenerator, json_schema};
use serde_json::{Value, json};

/// The definition every channel's `on:` lists; its reasons are filled in per playbook kind.
pub const ALERT_REASON: &str = "AlertReason";

/// A type the loader reads through another and then checks (`Cpu` is read as `RawCpu`): its
/// schema is the other's, the keys a playbook may hold there.
macro_rules! schema_as {
    ($ty:ty, $raw:ty) => {
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                <$raw as schemars::JsonSchema>::schema_name()
            }
            fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
                <$raw as schemars::JsonSchema>::json_schema(g)
            }
        }
    };
}
pub(crate) use schema_as;

/// A value tend parses itself (a duration, a size, a threshold): its schema written out, a
/// definition of its own (`inline`: written where it is used).
macro_rules! schema_written {
    ($ty:ty, $name:literal, $($json:tt)+) => {
        $crate::playbook::schema::schema_written!(@ $ty, $name, false, $($json)+);
    };
    (inline $ty:ty, $name:literal, $($json:tt)+) => {
        $crate::playbook::schema::schema_written!(@ $ty, $name, true, $($json)+);
    };
    (@ $ty:ty, $name:literal, $inline:literal, $($json:tt)+) => {
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn inline_schema() -> bool {
                $inline
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!($($json)+)
            }
        }
    };
}
pub(crate) use schema_written;

/// A value written as a bare string or as the mapping `$raw` reads (`"systemctl stop app"` or
/// `{ run: ..., timeout: 1m }`).
macro_rules! schema_string_or {
    ($ty:ty, $name:literal, $raw:ty, $string:expr, $description:literal, $($examples:tt)+) => {
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
                let mapping = g.subschema_for::<$raw>();
                schemars::json_schema!({
                    "description": $description,
                    "anyOf": [$string, mapping],
                    "examples": $($examples)+,
                })
            }
        }
    };
}
pub(crate) use schema_string_or;

/// Marks a string only a string may stand for (a bare command, read by a visitor that takes
/// text alone), which `tend schema` leaves a string; it is gone from the printed schema.
pub const TEXT_ONLY: &str = "x-tend-text-only";

/// A string that is text only (see [`TEXT_ONLY`]); `minimum` characters long.
pub fn text_only(description: &str, examples: Value, minimum: usize) -> Value {
    json!({
        "type": "string",
        "minLength": minimum,
        "description": description,
        "examples": examples,
        TEXT_ONLY: true,
    })
}

/// `vars:` as the schema shows it.
pub fn example_vars() -> Value {
    json!({ "app": "shop", "port": 8080 })
}

/// Exactly one of `keys` is given (and not null), as the loader asks of a secret's source or
/// a probe's kind.
pub fn exactly_one_of(schema: &mut Schema, keys: &[&str]) {
    let branches: Vec<Value> = keys
        .iter()
        .map(|k| json!({ "required": [k], "properties": { *k: { "not": { "type": "null" } } } }))
        .collect();
    schema.insert("oneOf".into(), Value::Array(branches));
}

/// `labels:` as the schema shows them.
pub fn example_labels() -> Value {
    json!({ "team": "shop", "service": "web" })
}

/// A channel's `on:`: the reasons it is sent for, as a list of `AlertReason` (which a kind's
/// own schema narrows to that kind's reasons).
pub fn alert_reasons(g: &mut SchemaGenerator) -> Schema {
    // Which reasons there are is each job's: the schema's maker fills them in.
    g.definitions_mut().insert(
        ALERT_REASON.into(),
        json!({ "description": "An event an alert is sent for.", "enum": [] }),
    );
    json_schema!({
        "type": ["array", "null"],
        "items": { "$ref": format!("#/$defs/{ALERT_REASON}") },
    })
}

/// `batches:` as the schema shows them.
pub fn example_batches() -> Value {
    json!([1, "25%", "100%"])
}
