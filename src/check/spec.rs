//! The `kind: check` playbook.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::threshold::{Direction, Levels, Raw, RawVisitor, Unit};
use crate::playbook::diagnostic::{Invalid, at_key, with_hint};
use crate::playbook::units::Duration;
use crate::probe::ProbeSpec;

crate::playbook!(
    Check,
    fleet,
    /// `tend check`: threshold checks (CPU, memory, disk, load, processes, probes, Prometheus)
    /// with alerts, as a Nagios plugin or from a timer.
    pub struct CheckPlaybook {
        /// The checks, each its own list entry (`- disk: {...}`).
        #[schemars(length(min = 1))]
        pub checks: Vec<CheckItem>,
        /// When alerts are sent again.
        #[serde(default)]
        pub alert: AlertSpec,
        /// A link every alert carries (a check's own wins).
        #[schemars(example = &"https://wiki.example.com/runbooks/host-health")]
        pub runbook: Option<String>,
        /// What to do first, listed in every alert (a check's own win).
        #[serde(default)]
        #[schemars(example = ["df -h", "du -xsh /var/log/* | sort -h | tail"])]
        pub first_steps: Vec<String>,
        /// The run's deadline (`--timeout` overrides it); a probe that could outlast it is
        /// refused at load.
        pub timeout: Option<Duration>,
        /// What `tend drill` may do with it.
        pub drill: Option<crate::drill::DrillSpec>,
    }
);

#[derive(Deserialize, schemars::JsonSchema, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct AlertSpec {
    /// Send again every `repeat` while a check stays bad; absent: only on changes.
    pub repeat: Option<Duration>,
}

/// One entry of `checks:`: the check itself (`disk: {...}`) and, beside it, optional `name`,
/// `runbook` and `first_steps` that alerts for this check carry.
#[derive(Debug, Clone)]
pub struct CheckItem {
    pub spec: CheckSpec,
    pub name: Option<String>,
    pub runbook: Option<String>,
    pub first_steps: Vec<String>,
    pub remedy: Option<super::remedy::RemedySpec>,
}

#[derive(Debug, Clone)]
pub enum CheckSpec {
    Cpu(Cpu),
    Memory(Usage),
    Swap(Usage),
    Disk(Disk),
    Inodes(Disk),
    Load(Load),
    Process(Process),
    FileAge(FileAge),
    Probe(ProbeSpec),
    Prometheus(PromCheck),
}

pub const CHECK_KINDS: &[&str] = &[
    "cpu",
    "memory",
    "swap",
    "disk",
    "inodes",
    "load",
    "process",
    "file_age",
    "probe",
    "prometheus",
];
const ITEM_KEYS: &[&str] = &[
    "cpu",
    "memory",
    "swap",
    "disk",
    "inodes",
    "load",
    "process",
    "file_age",
    "probe",
    "prometheus",
    "name",
    "runbook",
    "first_steps",
    "remedy",
];

impl CheckSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            CheckSpec::Cpu(_) => "cpu",
            CheckSpec::Memory(_) => "memory",
            CheckSpec::Swap(_) => "swap",
            CheckSpec::Disk(_) => "disk",
            CheckSpec::Inodes(_) => "inodes",
            CheckSpec::Load(_) => "load",
            CheckSpec::Process(_) => "process",
            CheckSpec::FileAge(_) => "file_age",
            CheckSpec::Probe(_) => "probe",
            CheckSpec::Prometheus(_) => "prometheus",
        }
    }
}

impl schemars::JsonSchema for CheckItem {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Check".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut properties = serde_json::Map::new();
        let checks = [
            ("cpu", g.subschema_for::<Cpu>()),
            ("memory", g.subschema_for::<RawUsage>()),
            ("swap", g.subschema_for::<RawUsage>()),
            ("disk", g.subschema_for::<RawDisk>()),
            ("inodes", g.subschema_for::<Inodes>()),
            ("load", g.subschema_for::<Load>()),
            ("process", g.subschema_for::<Process>()),
            ("file_age", g.subschema_for::<FileAge>()),
            ("probe", g.subschema_for::<ProbeSpec>()),
            ("prometheus", g.subschema_for::<PromCheck>()),
        ];
        for (kind, schema) in checks {
            properties.insert(kind.into(), schema.to_value());
        }
        properties.insert(
            "name".into(),
            serde_json::json!({ "type": "string", "description": "How the check is shown and alerted (default: its kind and target)", "examples": ["disk /var"] }),
        );
        properties.insert(
            "runbook".into(),
            serde_json::json!({ "type": "string", "description": "A link this check's alerts carry", "examples": ["https://wiki.example.com/runbooks/disk-full"] }),
        );
        properties.insert(
            "first_steps".into(),
            serde_json::json!({ "type": "array", "items": { "type": "string" }, "description": "What to do first, listed in this check's alerts", "examples": [["du -xsh /var/log/* | sort -h | tail"]] }),
        );
        properties.insert(
            "remedy".into(),
            g.subschema_for::<super::remedy::RemedySpec>().to_value(),
        );
        let one_of: Vec<serde_json::Value> = CHECK_KINDS
            .iter()
            .map(|k| serde_json::json!({ "required": [k] }))
            .collect();
        schemars::json_schema!({
            "description": "One check (`disk: { mount: /, warn: 80, crit: 90 }`), with the name, runbook and first steps its alerts carry, and a remedy tend runs when it goes bad.",
            "type": "object",
            "properties": properties,
            "additionalProperties": false,
            "oneOf": one_of,
        })
    }
}

impl<'de> Deserialize<'de> for CheckItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = CheckItem;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a check, like `disk: { mount: /, warn: 80, crit: 90 }`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CheckItem, A::Error> {
                let (mut spec, mut name, mut runbook, mut first_steps, mut remedy) =
                    (None, None, None, vec![], None);
                while let Some(key) = map.next_key::<String>()? {
                    let s = match key.as_str() {
                        "cpu" => CheckSpec::Cpu(map.next_value()?),
                        "memory" => CheckSpec::Memory(map.next_value::<UsageMemory>()?.0),
                        "swap" => CheckSpec::Swap(map.next_value::<UsageSwap>()?.0),
                        "disk" => CheckSpec::Disk(map.next_value::<DiskUsed>()?.0),
                        "inodes" => CheckSpec::Inodes(map.next_value::<InodesUsed>()?.0),
                        "load" => CheckSpec::Load(map.next_value()?),
                        "process" => CheckSpec::Process(map.next_value()?),
                        "file_age" => CheckSpec::FileAge(map.next_value()?),
                        "probe" => CheckSpec::Probe(map.next_value()?),
                        "prometheus" => CheckSpec::Prometheus(map.next_value()?),
                        "name" => {
                            name = Some(map.next_value()?);
                            continue;
                        }
                        "runbook" => {
                            runbook = Some(map.next_value()?);
                            continue;
                        }
                        "first_steps" => {
                            first_steps = map.next_value()?;
                            continue;
                        }
                        "remedy" => {
                            remedy = Some(map.next_value()?);
                            continue;
                        }
                        other => return Err(de::Error::unknown_field(other, ITEM_KEYS)),
                    };
                    if let Some(prev) = &spec {
                        let prev: &CheckSpec = prev;
                        return Err(de::Error::custom(with_hint(
                            format!("one entry holds both `{}` and `{}`", prev.kind(), s.kind()),
                            "give each check its own list entry (`- disk: ...` then `- memory: ...`)",
                        )));
                    }
                    spec = Some(s);
                }
                let spec = spec.ok_or_else(|| {
                    de::Error::custom(with_hint(
                        "this entry names no check",
                        format!("checks are: {}", CHECK_KINDS.join(", ")),
                    ))
                })?;
                Ok(CheckItem {
                    spec,
                    name,
                    runbook,
                    first_steps,
                    remedy,
                })
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(Debug, Clone)]
pub struct Cpu {
    pub levels: Levels,
    pub sample: Duration,
}

/// CPU busy, in percent over `sample`.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Cpu")]
struct RawCpu {
    /// WARNING above this percent (with neither `warn` nor `crit` given: 80).
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::percent")]
    warn: Option<Raw>,
    /// CRITICAL above this percent (with neither given: 90).
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::percent")]
    crit: Option<Raw>,
    /// How long the CPU is watched, 100ms to 60s (default 1s).
    sample: Option<Duration>,
}

crate::playbook::schema::schema_as!(Cpu, RawCpu);

impl<'de> Deserialize<'de> for Cpu {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawCpu::deserialize(d)?;
        let levels = percent_levels(r.warn, r.crit, (80.0, 90.0)).map_err(de::Error::custom)?;
        let sample = r.sample.unwrap_or(Duration::secs(1));
        if sample.0 < std::time::Duration::from_millis(100)
            || sample.0 > std::time::Duration::from_secs(60)
        {
            return Err(de::Error::custom(at_key(
                "sample",
                "cpu `sample` must be between 100ms and 60s",
            )));
        }
        Ok(Cpu { levels, sample })
    }
}

fn percent_levels(
    warn: Option<Raw>,
    crit: Option<Raw>,
    default: (f64, f64),
) -> Result<Levels, Invalid> {
    let (warn, crit) = match (warn, crit) {
        (None, None) => (Some(Raw::Number(default.0)), Some(Raw::Number(default.1))),
        other => other,
    };
    Levels::parse(
        warn.as_ref(),
        crit.as_ref(),
        Direction::Above,
        Unit::Percent,
        ("warn", "crit"),
    )
}

/// memory and swap: percent used (memory judged on available memory).
#[derive(Debug, Clone)]
pub struct Usage {
    pub levels: Levels,
}

/// Percent used (memory: judged on available memory).
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Usage")]
struct RawUsage {
    /// WARNING above this percent (with neither `warn` nor `crit` given: 80, swap 50).
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::percent")]
    warn: Option<Raw>,
    /// CRITICAL above this percent (with neither given: 90, swap 80).
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::percent")]
    crit: Option<Raw>,
}

macro_rules! usage_with_defaults {
    ($name:ident, $warn:expr, $crit:expr) => {
        struct $name(Usage);
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let r = RawUsage::deserialize(d)?;
                let levels =
                    percent_levels(r.warn, r.crit, ($warn, $crit)).map_err(de::Error::custom)?;
                Ok($name(Usage { levels }))
            }
        }
    };
}
usage_with_defaults!(UsageMemory, 80.0, 90.0);
usage_with_defaults!(UsageSwap, 50.0, 80.0);

crate::playbook::schema::schema_written!(OneOrMany, "Mounts", {
    "anyOf": [
        { "type": "string", "pattern": "^/" },
        { "type": "array", "items": { "type": "string", "pattern": "^/" } },
    ],
});

#[derive(Debug, Clone)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for OneOrMany {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = OneOrMany;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mount point like /var or a list of them")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<OneOrMany, E> {
                Ok(OneOrMany::One(s.to_string()))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<OneOrMany, A::Error> {
                Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(OneOrMany::Many)
            }
        }
        d.deserialize_any(V)
    }
}

/// disk and inodes: one mount, a list, or (absent) every real mounted filesystem.
#[derive(Debug, Clone)]
pub struct Disk {
    pub mounts: Option<Vec<String>>,
    pub levels: Option<Levels>,
    /// `free: { warn: 10GiB, crit: 2GiB }`: alert on bytes available instead of percent used.
    pub free: Option<Levels>,
    pub timeout: Duration,
}

/// Percent used (or, with `free`, bytes available) of one mount, a list, or every real one.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Disk")]
struct RawDisk {
    /// A mount point or a list of them (default: every real mounted filesystem).
    #[schemars(example = &"/var")]
    mount: Option<OneOrMany>,
    /// WARNING above this percent used (with neither `warn` nor `crit` given: 80).
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::percent")]
    warn: Option<Raw>,
    /// CRITICAL above this percent used (with neither given: 90).
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::percent")]
    crit: Option<Raw>,
    /// Alert on bytes available instead (disk only): `{ warn: 10GiB, crit: 2GiB }`.
    free: Option<RawFree>,
    /// How long a mount may take to answer, e.g. a hung NFS (default 5s).
    timeout: Option<Duration>,
}

/// Bytes available: alert below these.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Free")]
struct RawFree {
    /// WARNING below this many bytes available.
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::bytes")]
    warn: Option<Raw>,
    /// CRITICAL below this many bytes available.
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::bytes")]
    crit: Option<Raw>,
}

fn disk(r: RawDisk, inodes: bool) -> Result<Disk, Invalid> {
    let mounts = r.mount.map(|m| match m {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    });
    if let Some(m) = &mounts
        && let Some(bad) = m.iter().find(|m| !m.starts_with('/'))
    {
        return Err(at_key(
            "mount",
            format!("mount '{bad}' is not an absolute path"),
        ));
    }
    let free = match r.free {
        Some(_) if inodes => {
            return Err(at_key("free", "`free` applies to disk checks, not inodes"));
        }
        Some(f) => Some(
            Levels::parse(
                f.warn.as_ref(),
                f.crit.as_ref(),
                Direction::Below,
                Unit::Bytes,
                ("warn", "crit"),
            )
            .map_err(|e| Invalid(e.0.replacen('\u{1}', "\u{1}free.", 1)))?,
        ),
        None => None,
    };
    let levels = if free.is_some() && r.warn.is_none() && r.crit.is_none() {
        None
    } else {
        Some(percent_levels(r.warn, r.crit, (80.0, 90.0))?)
    };
    Ok(Disk {
        mounts,
        levels,
        free,
        timeout: r.timeout.unwrap_or(Duration::secs(5)),
    })
}

/// The schema of `inodes:`: a disk check without `free`.
struct Inodes;

impl schemars::JsonSchema for Inodes {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Inodes".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut s = RawDisk::json_schema(g);
        if let Some(p) = s.get_mut("properties").and_then(|p| p.as_object_mut()) {
            p.remove("free");
        }
        s.insert(
            "description".into(),
            "Percent of inodes used, of one mount, a list, or every real one.".into(),
        );
        s
    }
}

struct DiskUsed(Disk);
impl<'de> Deserialize<'de> for DiskUsed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        disk(RawDisk::deserialize(d)?, false)
            .map(DiskUsed)
            .map_err(de::Error::custom)
    }
}
struct InodesUsed(Disk);
impl<'de> Deserialize<'de> for InodesUsed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        disk(RawDisk::deserialize(d)?, true)
            .map(InodesUsed)
            .map_err(de::Error::custom)
    }
}

/// Load averages over 1, 5 and 15 minutes.
#[derive(Debug, Clone)]
pub struct Load {
    pub levels: [Levels; 3],
    pub per_cpu: bool,
}

enum RawTriple {
    One(Raw),
    Three(Vec<Raw>),
}

impl<'de> Deserialize<'de> for RawTriple {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> de::Visitor<'de> for V {
            type Value = RawTriple;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(
                    f,
                    "{} or a list of three, for 1, 5 and 15 minutes",
                    crate::check::threshold::EXPECTED
                )
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<RawTriple, E> {
                RawVisitor.visit_f64(n).map(RawTriple::One)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<RawTriple, E> {
                RawVisitor.visit_i64(n).map(RawTriple::One)
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<RawTriple, E> {
                RawVisitor.visit_u64(n).map(RawTriple::One)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<RawTriple, E> {
                RawVisitor.visit_str(s).map(RawTriple::One)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<RawTriple, A::Error> {
                Deserialize::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(RawTriple::Three)
            }
        }
        d.deserialize_any(V)
    }
}

impl schemars::JsonSchema for RawTriple {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "LoadLevels".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let one = super::threshold::Kind::Number.reference(g);
        schemars::json_schema!({
            "description": "One threshold for the 1, 5 and 15 minute averages, or three.",
            "anyOf": [one.clone(), { "type": "array", "items": one, "minItems": 3, "maxItems": 3 }],
            "examples": [4, [5, 4, 3]],
        })
    }
}

/// Load averages over 1, 5 and 15 minutes.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Load")]
struct RawLoad {
    /// WARNING above (with neither `warn` nor `crit` given, per CPU: 3, 2.5, 2).
    warn: Option<RawTriple>,
    /// CRITICAL above (with neither given, per CPU: 5, 4, 3).
    crit: Option<RawTriple>,
    /// The thresholds are per CPU (default: yes with the default thresholds, else no).
    per_cpu: Option<bool>,
}

crate::playbook::schema::schema_as!(Load, RawLoad);

fn triple(t: Option<RawTriple>, key: &str) -> Result<[Option<Raw>; 3], Invalid> {
    Ok(match t {
        None => [None, None, None],
        Some(RawTriple::One(r)) => [Some(r.clone()), Some(r.clone()), Some(r)],
        Some(RawTriple::Three(v)) if v.len() == 3 => {
            let mut it = v.into_iter().map(Some);
            [
                it.next().flatten(),
                it.next().flatten(),
                it.next().flatten(),
            ]
        }
        Some(RawTriple::Three(v)) => {
            return Err(at_key(
                key,
                with_hint(
                    format!("load `{key}` has {} values", v.len()),
                    "give one value, or three: [1min, 5min, 15min]",
                ),
            ));
        }
    })
}

impl<'de> Deserialize<'de> for Load {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawLoad::deserialize(d)?;
        let defaults = r.warn.is_none() && r.crit.is_none();
        let per_cpu = r.per_cpu.unwrap_or(defaults);
        let (warn, crit) = if defaults {
            let n = |v: [f64; 3]| v.map(|x| Some(Raw::Number(x)));
            (n([3.0, 2.5, 2.0]), n([5.0, 4.0, 3.0]))
        } else {
            (
                triple(r.warn, "warn").map_err(de::Error::custom)?,
                triple(r.crit, "crit").map_err(de::Error::custom)?,
            )
        };
        let mut levels = vec![];
        for i in 0..3 {
            levels.push(
                Levels::parse(
                    warn[i].as_ref(),
                    crit[i].as_ref(),
                    Direction::Above,
                    Unit::Number,
                    ("warn", "crit"),
                )
                .map_err(de::Error::custom)?,
            );
        }
        let levels: [Levels; 3] = levels
            .try_into()
            .map_err(|_| de::Error::custom("three load levels"))?;
        Ok(Load { levels, per_cpu })
    }
}

/// How many processes with this name run; tend itself never counts.
#[derive(Debug, Clone)]
pub struct Process {
    pub name: String,
    pub levels: Levels,
}

/// How many processes with this name run; tend itself never counts.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Process")]
struct RawProcess {
    /// The process name (as `ps -e` shows it).
    #[schemars(example = &"nginx")]
    name: String,
    /// CRITICAL below this many (default, with no thresholds at all: 1).
    #[schemars(example = 1)]
    min: Option<u64>,
    /// CRITICAL above this many.
    #[schemars(example = 64)]
    max: Option<u64>,
    /// WARNING outside this range (a plain number: below it).
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::number")]
    warn: Option<Raw>,
    /// CRITICAL outside this range, instead of `min`/`max`.
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::number")]
    crit: Option<Raw>,
}

crate::playbook::schema::schema_as!(Process, RawProcess);

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawProcess::deserialize(d)?;
        if r.name.trim().is_empty() {
            return Err(de::Error::custom(at_key("name", "process `name` is empty")));
        }
        if r.crit.is_some() && (r.min.is_some() || r.max.is_some()) {
            return Err(de::Error::custom(at_key(
                "crit",
                "give either `min`/`max` or a `crit` range, not both",
            )));
        }
        if let (Some(min), Some(max)) = (r.min, r.max)
            && min > max
        {
            return Err(de::Error::custom(at_key(
                "min",
                format!("min ({min}) is greater than max ({max})"),
            )));
        }
        // min/max are the critical range: below min (it died) or above max (it forked away).
        let crit = match (&r.crit, r.min, r.max) {
            (Some(c), _, _) => Some(c.clone()),
            (None, None, None) if r.warn.is_none() => Some(Raw::Text("1:".into())),
            (None, None, None) => None,
            (None, min, max) => Some(Raw::Text(format!(
                "{}:{}",
                min.unwrap_or(0),
                max.map(|m| m.to_string()).unwrap_or_default()
            ))),
        };
        let levels = Levels::parse(
            r.warn.as_ref(),
            crit.as_ref(),
            Direction::Below,
            Unit::Number,
            ("warn", "crit"),
        )
        .map_err(de::Error::custom)?;
        Ok(Process {
            name: r.name,
            levels,
        })
    }
}

#[derive(Debug, Clone)]
pub struct FileAge {
    pub path: String,
    pub levels: Levels,
}

/// How long ago a file was last modified: a backup, a heartbeat.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "FileAge")]
struct RawFileAge {
    /// The file.
    #[schemars(example = &"/var/backups/db/latest.dump")]
    path: String,
    /// CRITICAL when older than this (the same as `crit`); a duration, a plain number is
    /// seconds.
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::seconds")]
    max_age: Option<Raw>,
    /// WARNING when older than this.
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::seconds")]
    warn: Option<Raw>,
    /// CRITICAL when older than this.
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::seconds")]
    crit: Option<Raw>,
}

crate::playbook::schema::schema_as!(FileAge, RawFileAge);

impl<'de> Deserialize<'de> for FileAge {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawFileAge::deserialize(d)?;
        if r.max_age.is_some() && r.crit.is_some() {
            return Err(de::Error::custom(at_key(
                "max_age",
                "`max_age` is the critical age: give it or `crit`, not both",
            )));
        }
        let crit = r.max_age.or(r.crit);
        if crit.is_none() && r.warn.is_none() {
            return Err(de::Error::custom(with_hint(
                "file_age needs `max_age` (or `warn`/`crit`)",
                "e.g. max_age: 26h",
            )));
        }
        let levels = Levels::parse(
            r.warn.as_ref(),
            crit.as_ref(),
            Direction::Above,
            Unit::Seconds,
            ("warn", "max_age"),
        )
        .map_err(de::Error::custom)?;
        Ok(FileAge {
            path: r.path,
            levels,
        })
    }
}

/// `prometheus: { url, query, warn, crit, timeout }`: a query's value against thresholds (Nagios
/// ranges, as every check's), so the queries a deploy's analysis uses serve as standing checks.
#[derive(Debug, Clone)]
pub struct PromCheck {
    pub url: String,
    pub query: String,
    pub levels: Levels,
    pub timeout: Duration,
}

/// A PromQL query's value against thresholds.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PrometheusCheck")]
struct RawPromCheck {
    /// Prometheus's address.
    #[schemars(example = &"http://prometheus.internal:9090")]
    url: String,
    /// An instant query with one result.
    #[schemars(example = &"sum(rate(http_requests_total{code=~\"5..\"}[5m])) / sum(rate(http_requests_total[5m]))")]
    query: String,
    /// WARNING above (or outside this range).
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::number")]
    warn: Option<Raw>,
    /// CRITICAL above (or outside this range).
    #[serde(default)]
    #[schemars(schema_with = "super::threshold::number")]
    crit: Option<Raw>,
    /// How long the query may take (default 10s).
    timeout: Option<Duration>,
}

crate::playbook::schema::schema_as!(PromCheck, RawPromCheck);

impl<'de> Deserialize<'de> for PromCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawPromCheck::deserialize(d)?;
        if r.warn.is_none() && r.crit.is_none() {
            return Err(de::Error::custom(with_hint(
                "a prometheus check needs `warn` or `crit` (or both)",
                "e.g. warn: 0.05, crit: 0.2 (above is bad); a range like \"10:\" alerts below 10",
            )));
        }
        if r.timeout.is_some_and(|t| t.0.is_zero()) {
            return Err(de::Error::custom(at_key(
                "timeout",
                "a timeout of 0s fails every query",
            )));
        }
        crate::analysis::balanced(&r.query).map_err(|e| de::Error::custom(at_key("query", e)))?;
        let levels = Levels::parse(
            r.warn.as_ref(),
            r.crit.as_ref(),
            Direction::Above,
            Unit::Number,
            ("warn", "crit"),
        )
        .map_err(de::Error::custom)?;
        Ok(PromCheck {
            url: r.url,
            query: r.query,
            levels,
            timeout: r.timeout.unwrap_or(Duration::secs(10)),
        })
    }
}
