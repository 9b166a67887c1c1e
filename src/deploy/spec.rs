//! The `kind: deploy` playbook.

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::action::{ActionItem, string_or_map};
use crate::playbook::diagnostic::{at_key, with_hint};
use crate::probe::ProbeSpec;

crate::playbook!(
    Deploy,
    fleet,
    /// `tend deploy`: fetch, stop, migrate, configure, switch, start, verify; a failure after
    /// stop rolls back to the last verified release and verifies it.
    pub struct DeployPlaybook {
        /// What is deployed, where, and the steps.
        pub deploy: DeploySpec,
        /// What `tend drill` may do with it.
        pub drill: Option<crate::drill::DrillSpec>,
    }
);

#[derive(Deserialize, schemars::JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
pub struct DeploySpec {
    /// The deploy's directory: `releases/<release>/`, the `current` link, the journal.
    #[schemars(example = &"/srv/shop")]
    pub root: String,
    /// The release's name, usually from `--var version=...`.
    #[schemars(example = &"{{ version }}")]
    pub release: String,
    /// Verified releases kept for rollback (default 5).
    #[schemars(range(min = 1), example = 5)]
    pub keep_releases: Option<usize>,
    /// Where the release's artifact comes from.
    pub fetch: FetchSpec,
    /// Commands that stop the running release.
    #[serde(default)]
    pub stop: Vec<ActionItem>,
    /// Schema migrations, each run once, in order; `down` undoes one on rollback.
    #[serde(default)]
    pub migrate: Vec<MigrationItem>,
    /// Templates rendered into the release (or anywhere) before it starts.
    #[serde(default)]
    pub configure: Vec<ConfigSpec>,
    /// Commands that start the new release.
    #[serde(default)]
    pub start: Vec<ActionItem>,
    /// Probes that must pass for the release to count as verified.
    #[serde(default)]
    pub verify: Vec<ProbeSpec>,
    /// A fleet deploy in batches, with the analysis that gates each.
    pub rollout: Option<RolloutSpec>,
}

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RolloutSpec {
    /// Batch sizes; the last repeats until every host is in one.
    #[schemars(example = crate::playbook::schema::example_batches())]
    pub batches: Vec<crate::inventory::Batch>,
    /// Failed hosts a batch may have before the rollout stops (default 0).
    #[serde(default)]
    #[schemars(example = 1)]
    pub max_failures: usize,
    /// What a stopped rollout does (default `rollback_all`).
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Waited after a batch passed its analysis, before the next batch starts.
    pub pause: Option<crate::playbook::units::Duration>,
    /// Run over each batch once it is deployed: the next starts only when they pass.
    #[serde(default)]
    pub analysis: Vec<crate::analysis::AnalysisItem>,
}

#[derive(Deserialize, schemars::JsonSchema, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Every host switched in this run goes back to its own last verified release.
    #[default]
    RollbackAll,
    /// Only the failed batch's hosts go back; earlier batches keep the new release.
    RollbackBatch,
    /// Nothing goes back: the rollout stops where it is, for a human to decide.
    Halt,
}

/// The artifact: a tar.gz (or directory) from `url` or `path`, checked against `sha256`.
#[derive(Deserialize, schemars::JsonSchema, Debug)]
#[serde(deny_unknown_fields)]
#[schemars(transform = url_or_path)]
pub struct FetchSpec {
    /// Downloaded over HTTP(S).
    #[schemars(example = &"https://artifacts.example.com/shop/{{ version }}.tar.gz")]
    pub url: Option<String>,
    /// A file or directory on this machine.
    #[schemars(example = &"/var/artifacts/shop-{{ version }}.tar.gz")]
    pub path: Option<String>,
    /// The artifact's SHA-256 (hex); a mismatch stops the deploy before anything changes.
    #[schemars(example = &"{{ sha256 }}")]
    pub sha256: Option<String>,
    /// Leading path components dropped from every entry (`app-v2/bin/app` -> `bin/app`).
    #[serde(default)]
    #[schemars(example = 1)]
    pub strip_components: usize,
    /// `hosts`: each host downloads the `url:` itself and checks the `sha256` there (`local`,
    /// the default for fetching: once, here, then streamed to the hosts).
    pub on: Option<crate::action::On>,
    /// Refuse an artifact that unpacks to more than this (default: 50 times its own size, at
    /// most 10 GiB): a small tar.gz can inflate until the disk is full.
    pub max_unpacked_size: Option<crate::playbook::units::Size>,
}

/// `fetch` reads exactly one of them.
fn url_or_path(s: &mut schemars::Schema) {
    crate::playbook::schema::exactly_one_of(s, &["url", "path"]);
}

/// A schema migration: run once, recorded; `down` undoes it on rollback.
#[derive(Deserialize, schemars::JsonSchema, Debug, Clone)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Migration")]
pub struct MigrationSpec {
    /// Its identity in the journal (default: the command).
    #[schemars(example = &"0042-add-orders-index")]
    pub name: Option<String>,
    /// The command that migrates (run in the new release's directory).
    #[schemars(example = &"./bin/migrate up 42")]
    pub run: String,
    /// The command that undoes it, run when a rollback crosses it.
    #[schemars(example = &"./bin/migrate down 42")]
    pub down: Option<String>,
    /// The previous release runs fine on the migrated schema, so no `down` is needed.
    #[serde(default)]
    pub backward_compatible: bool,
    /// How long it may take (default 5m).
    pub timeout: Option<crate::playbook::units::Duration>,
}

#[derive(Debug, Clone)]
pub struct MigrationItem(pub MigrationSpec);

crate::playbook::schema::schema_string_or!(
    MigrationItem,
    "MigrationItem",
    MigrationSpec,
    crate::action::command(),
    "A migration command, or `{ name, run, down, backward_compatible, timeout }`",
    [{ "name": "0042-add-orders-index", "run": "./bin/migrate up 42", "down": "./bin/migrate down 42" }]
);

impl<'de> Deserialize<'de> for MigrationItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        string_or_map(d, |run| MigrationSpec {
            name: None,
            run,
            down: None,
            backward_compatible: false,
            timeout: None,
        })
        .map(MigrationItem)
    }
}

#[derive(Debug, Clone)]
pub struct ConfigSpec {
    /// A minijinja template, relative to the playbook's directory.
    pub template: String,
    /// Relative to `deploy.root`, or absolute.
    pub dest: String,
    pub mode: u32,
}

/// A template rendered to a file, atomically.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Configure")]
struct RawConfig {
    /// A minijinja template, relative to the playbook's directory.
    #[schemars(example = &"templates/app.env.j2")]
    template: String,
    /// Relative to `deploy.root`, or absolute.
    #[schemars(example = &"shared/app.env")]
    dest: String,
    /// Octal, quoted or not (default "0644"); read as written, so `0o640`, `0640` and
    /// `"0640"` are all 0640.
    #[schemars(with = "Option<Mode>")]
    mode: Option<String>,
}

crate::playbook::schema::schema_as!(ConfigSpec, RawConfig);

/// A file mode as the schema shows it.
struct Mode;

crate::playbook::schema::schema_written!(inline Mode, "Mode", {
    "anyOf": [
        { "type": "string", "pattern": "^(0o)?\\+?[0-7]+$" },
        { "type": "integer", "minimum": 0, "maximum": 7777 },
    ],
    "examples": ["0640", "0600"],
});

impl<'de> Deserialize<'de> for ConfigSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawConfig::deserialize(d)?;
        let mode = match &r.mode {
            None => 0o644,
            Some(text) => parse_mode(text).map_err(|m| de::Error::custom(at_key("mode", m)))?,
        };
        Ok(ConfigSpec {
            template: r.template,
            dest: r.dest,
            mode,
        })
    }
}

/// `"0640"`, `0640` or `0o640`, as written: a YAML reader would make `0o640` the number 416 (and
/// `0640` the number 640), whose digits read as octal are another mode.
fn parse_mode(text: &str) -> Result<u32, crate::playbook::Invalid> {
    let digits = text.strip_prefix("0o").unwrap_or(text);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 && !digits.is_empty() => Ok(m),
        _ => Err(with_hint(
            format!("invalid file mode '{text}'"),
            "a mode is octal, like \"0640\" or \"0600\"",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_mode;

    #[test]
    fn modes_are_octal_as_written_quoted_or_not() {
        let mode = |yaml: &str| {
            serde_yaml::from_str::<super::RawConfig>(&format!(
                "{{ template: t, dest: d, mode: {yaml} }}"
            ))
            .map_err(|e| e.to_string())
            .and_then(|r| parse_mode(&r.mode.unwrap()).map_err(|e| e.0))
        };
        assert_eq!(mode("\"0640\""), Ok(0o640));
        assert_eq!(mode("0640"), Ok(0o640));
        assert_eq!(mode("0o640"), Ok(0o640));
        assert_eq!(mode("\"0o640\""), Ok(0o640));
        assert_eq!(mode("600"), Ok(0o600));
        assert!(mode("\"0695\"").is_err());
        assert!(mode("99999").is_err());
        assert!(mode("rw-r--r--").is_err());
        assert!(mode("0x1a4").is_err());
    }
}
