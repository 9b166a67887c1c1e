//! The `kind: deploy` playbook.

use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::action::{ActionItem, string_or_map};
use crate::playbook::diagnostic::{at_key, with_hint};
use crate::probe::ProbeSpec;

crate::playbook!(
    Deploy,
    pub struct DeployPlaybook {
        pub deploy: DeploySpec,
        pub hosts: Option<Vec<crate::inventory::HostSpec>>,
        /// An Ansible YAML inventory, relative to the playbook.
        pub inventory: Option<String>,
        #[allow(dead_code)]
        pub ssh: Option<crate::machine::ssh::SshSpec>,
        /// What `tend drill` may do with it.
        pub drill: Option<crate::drill::DrillSpec>,
    }
);

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct DeploySpec {
    pub root: String,
    pub release: String,
    pub keep_releases: Option<usize>,
    pub fetch: FetchSpec,
    #[serde(default)]
    pub stop: Vec<ActionItem>,
    #[serde(default)]
    pub migrate: Vec<MigrationItem>,
    #[serde(default)]
    pub configure: Vec<ConfigSpec>,
    #[serde(default)]
    pub start: Vec<ActionItem>,
    #[serde(default)]
    pub verify: Vec<ProbeSpec>,
    pub rollout: Option<RolloutSpec>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RolloutSpec {
    pub batches: Vec<crate::inventory::Batch>,
    /// Failed hosts a batch may have before the rollout stops (default 0).
    #[serde(default)]
    pub max_failures: usize,
    #[serde(default)]
    pub on_failure: OnFailure,
    /// Waited after a batch passed its analysis, before the next batch starts.
    pub pause: Option<crate::playbook::units::Duration>,
    /// Run over each batch once it is deployed: the next starts only when they pass.
    #[serde(default)]
    pub analysis: Vec<crate::analysis::AnalysisItem>,
}

#[derive(Deserialize, Debug, Clone, Copy, Default, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Every host switched in this run goes back to its own last verified release.
    #[default]
    RollbackAll,
    RollbackBatch,
    Halt,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct FetchSpec {
    pub url: Option<String>,
    pub path: Option<String>,
    pub sha256: Option<String>,
    /// Leading path components dropped from every entry (`app-v2/bin/app` -> `bin/app`).
    #[serde(default)]
    pub strip_components: usize,
    /// `hosts`: each host downloads the `url:` itself and checks the `sha256` there (`local`,
    /// the default for fetching: once, here, then streamed to the hosts).
    pub on: Option<crate::action::On>,
    /// Refuse an artifact that unpacks to more than this (default: 50 times its own size, at
    /// most 10 GiB): a small tar.gz can inflate until the disk is full.
    pub max_unpacked_size: Option<crate::playbook::units::Size>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct MigrationSpec {
    pub name: Option<String>,
    pub run: String,
    pub down: Option<String>,
    /// The previous release runs fine on the migrated schema, so no `down` is needed.
    #[serde(default)]
    pub backward_compatible: bool,
    pub timeout: Option<crate::playbook::units::Duration>,
}

#[derive(Debug, Clone)]
pub struct MigrationItem(pub MigrationSpec);

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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    template: String,
    dest: String,
    mode: Option<serde_yaml::Value>,
}

impl<'de> Deserialize<'de> for ConfigSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = RawConfig::deserialize(d)?;
        let mode = match &r.mode {
            None => 0o644,
            Some(v) => parse_mode(v).map_err(|m| de::Error::custom(at_key("mode", m)))?,
        };
        Ok(ConfigSpec {
            template: r.template,
            dest: r.dest,
            mode,
        })
    }
}

/// `"0640"`, or `0640` (which YAML reads as the number 640): octal digits either way.
fn parse_mode(v: &serde_yaml::Value) -> Result<u32, crate::playbook::Invalid> {
    let text = match v {
        serde_yaml::Value::String(s) => s.clone(),
        serde_yaml::Value::Number(n) => n.to_string(),
        _ => String::new(),
    };
    let digits = text.trim_start_matches("0o");
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
    fn modes_are_octal_whether_quoted_or_not() {
        let v = |s: &str| serde_yaml::from_str::<serde_yaml::Value>(s).unwrap();
        assert_eq!(parse_mode(&v("\"0640\"")), Ok(0o640));
        assert_eq!(parse_mode(&v("0640")), Ok(0o640));
        assert_eq!(parse_mode(&v("600")), Ok(0o600));
        assert!(parse_mode(&v("\"0695\"")).is_err());
        assert!(parse_mode(&v("99999")).is_err());
        assert!(parse_mode(&v("rw-r--r--")).is_err());
    }
}
