//! The `drill:` key of deploy, failover and check playbooks.

use serde::{Deserialize, Serialize};

use crate::playbook::units::Duration;

/// What `tend drill` may do with the playbook.
#[derive(Deserialize, schemars::JsonSchema, Debug, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct DrillSpec {
    /// `tend drill` runs without `--yes`: this playbook's owners agreed to rehearse on it.
    #[serde(default)]
    pub allowed: bool,
    /// The longest each leg may take (default 5m): "every rollback within 5 minutes".
    pub rollback_budget: Option<Duration>,
    /// How a failover drill takes the active down (failover playbooks only).
    pub method: Option<Method>,
    /// `method: stop_command`: what stops the active's service (`{{ active.name }}` is it).
    pub stop_command: Option<crate::action::ActionItem>,
    /// What brings a server the drill took down back (`{{ active.name }}` is it): needed to
    /// fail back, and to leave both servers as they were.
    pub restore: Option<crate::action::ActionItem>,
}

#[derive(
    Deserialize, Serialize, schemars::JsonSchema, Debug, Clone, Copy, PartialEq, Eq, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The playbook's own `fence` action, run on the healthy active.
    #[default]
    Fence,
    /// The active server's `stop_command`.
    StopCommand,
}
