use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXIT_CODES: &str = "\
Exit codes:
  0   success
  1   the job failed, but the system is in a verified state
  2   the job failed and the system is NOT verified: a human is needed now
  64  bad invocation or invalid playbook
  75  another run holds the playbook's lock
  tend check uses the Nagios plugin codes: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN";

/// SRE toil automation: declarative playbooks for deploys, cleanup, failover and checks.
#[derive(Parser, Debug)]
#[command(
    name = "tend",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("TEND_COMMIT"), " ", env!("TEND_BUILD_DATE"), ")"),
    about, after_help = EXIT_CODES, max_term_width = 100)]
pub struct Cli {
    /// How progress and results are shown: auto is human on a terminal, plain otherwise
    #[arg(long, global = true, value_enum, default_value_t = Output::Auto)]
    pub output: Output,

    /// Print only problems (cron mails nothing on success)
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Show each step's output lines
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Never use colour (NO_COLOR is honoured too)
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Where run journals, locks and alert state live [env: TEND_STATE_DIR]
    /// [default: /var/lib/tend for root, else $XDG_STATE_HOME/tend]
    // TEND_STATE_DIR is read in `state_dir`, not by clap: clap counts a value from the
    // environment as given, and its usage lines then show `--state-dir <DIR>` as if required.
    #[arg(long, global = true, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Auto,
    Human,
    Plain,
    Json,
    /// Monitoring Plugins format (tend check only)
    Nagios,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Deploy a release: fetch, stop, migrate, configure, switch, start, verify; on any
    /// failure after stop, roll back to the last verified release and verify it
    Deploy(DeployArgs),
    /// Roll back to the previous (or a given) verified release, and verify it
    Rollback(RollbackArgs),
    /// List a deploy's releases: which is current, which verified, which failed
    Releases(ReleasesArgs),
    /// Show what a playbook would do (steps, rollback, checks), touching nothing
    Plan(PlanArgs),
    /// The DNS failover SOP: probe the servers, fence the failed active, promote the standby,
    /// verify it answers
    Failover(FailoverArgs),
    /// Run threshold checks (CPU, memory, disk, load, processes, probes) with alerts
    #[command(
        after_help = "Exit codes (Nagios plugin codes): 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.\n\
                            With no playbook, checks this machine with a default set."
    )]
    Check(CheckArgs),
    /// Compress, archive and expire files by rule; free a mount below a target
    Cleanup(CleanupArgs),
    /// Rehearse a playbook's failure path for real, timed: a deploy's rollback and back, a
    /// failover and back, the alert path of checks; write the game-day report
    Drill(DrillArgs),
    /// Parse, type-check and template-check playbooks, with no side effects
    Validate(ValidateArgs),
    /// List past runs, or show one run's timeline
    History(HistoryArgs),
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the JSON Schema of a playbook kind (or of any playbook), for editors
    #[command(
        after_help = "In a playbook, `# yaml-language-server: $schema=PATH` points VS Code (YAML \
                      extension) and Neovim (yamlls) at it. The package installs them in \
                      /usr/share/tend/schema/."
    )]
    Schema {
        /// deploy, cleanup, failover or check [default: every kind, picked by `kind:`]
        #[arg(value_enum)]
        kind: Option<PlaybookKind>,
    },
    /// Print the man page (roff)
    #[command(hide = true)]
    Man,
    /// statvfs one path and print the numbers: run by `tend check` as a child process for
    /// network and FUSE filesystems, so a hung mount cannot keep tend from exiting
    #[command(hide = true)]
    Statvfs { path: String },
}

/// A playbook's `kind:`, as `tend schema` takes it.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum PlaybookKind {
    Deploy,
    Cleanup,
    Failover,
    Check,
}

/// Variables given on the command line, on every subcommand that reads a playbook.
#[derive(Args, Debug, Clone, Default)]
pub struct VarArgs {
    /// Set a variable, overriding the playbook's vars (repeatable)
    #[arg(long = "var", value_name = "KEY=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,

    /// Read variables from a YAML file (a mapping), overriding the playbook's vars
    #[arg(long = "vars-file", value_name = "FILE")]
    pub vars_files: Vec<PathBuf>,
}

#[derive(Args, Debug, Clone, Default)]
pub struct LockArgs {
    /// Wait this long for another run's lock instead of exiting with 75 (e.g. 30s); for
    /// `check`, for another run to finish updating the alert state (default 30s)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait_lock: Option<std::time::Duration>,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Playbook of kind: check (default: a built-in set for this machine)
    pub playbook: Option<PathBuf>,

    /// Also write the results as a node_exporter textfile, atomically
    #[arg(long, value_name = "PATH")]
    pub prom_file: Option<PathBuf>,

    /// Evaluate and print, but send no alert and record no alert state
    #[arg(long)]
    pub no_notify: bool,

    /// Evaluate only: run no check's `remedy:`
    #[arg(long)]
    pub no_remedy: bool,

    /// Give up on checks still running after this long: they are UNKNOWN
    /// [default: the playbook's `timeout:`, else 60s]
    #[arg(long, value_name = "DURATION", value_parser = parse_deadline)]
    pub timeout: Option<std::time::Duration>,

    /// Across hosts, `--output nagios` prints a line per host, tab-separated for
    /// send_nsca/Icinga passive checks (HOST, SERVICE, CODE, OUTPUT), instead of one line for
    /// the fleet
    #[arg(long)]
    pub per_host: bool,

    #[command(flatten)]
    pub hosts: HostArgs,

    #[command(flatten)]
    pub forks: ForkArgs,

    /// Run as the controller's part on a host: the playbook comes on stdin, resolved
    #[arg(long, hide = true)]
    pub from_controller: bool,

    #[command(flatten)]
    pub vars: VarArgs,

    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Args, Debug, Default)]
pub struct CleanupArgs {
    /// Playbook of kind: cleanup
    #[arg(required_unless_present = "from_controller")]
    pub playbook: Option<PathBuf>,

    /// List every action with the bytes it would reclaim; touch nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Files compressed or archived at once [default: the number of CPUs (each host's own,
    /// across hosts)]
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,

    #[command(flatten)]
    pub hosts: HostArgs,

    #[command(flatten)]
    pub forks: ForkArgs,

    /// Run as the controller's part on a host: the playbook comes on stdin, resolved
    #[arg(long, hide = true)]
    pub from_controller: bool,

    #[command(flatten)]
    pub vars: VarArgs,

    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Args, Debug)]
pub struct DeployArgs {
    /// Playbook of kind: deploy
    pub playbook: PathBuf,

    /// Show the steps and the rollback plan (= `tend plan`); touch nothing
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub hosts: HostArgs,

    #[command(flatten)]
    pub forks: ForkArgs,

    #[command(flatten)]
    pub vars: VarArgs,

    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Args, Debug, Clone, Copy, Default)]
pub struct ForkArgs {
    /// Hosts worked on at once [default: 20]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub forks: Option<u16>,
}

impl ForkArgs {
    pub fn get(self) -> usize {
        usize::from(self.forks.unwrap_or(20))
    }
}

#[derive(Args, Debug, Clone, Default)]
pub struct HostArgs {
    /// Only these hosts or inventory groups (comma-separated)
    #[arg(long, value_name = "HOST,...")]
    pub limit: Option<String>,
}

#[derive(Args, Debug)]
pub struct RollbackArgs {
    /// Playbook of kind: deploy
    pub playbook: PathBuf,

    /// The release to go back to [default: the last verified release before the current one]
    #[arg(long, value_name = "RELEASE")]
    pub to: Option<String>,

    #[command(flatten)]
    pub hosts: HostArgs,

    #[command(flatten)]
    pub forks: ForkArgs,

    #[command(flatten)]
    pub vars: VarArgs,

    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Args, Debug)]
pub struct ReleasesArgs {
    /// Playbook of kind: deploy
    pub playbook: PathBuf,

    #[command(flatten)]
    pub hosts: HostArgs,

    #[command(flatten)]
    pub forks: ForkArgs,

    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Args, Debug)]
pub struct PlanArgs {
    /// Playbook to plan (any kind: deploy, failover, cleanup or check)
    pub playbook: PathBuf,

    #[command(flatten)]
    pub hosts: HostArgs,

    /// A fleet's plan without reading its hosts: each host's rollback target shows as its last
    /// verified release, unnamed
    #[arg(long)]
    pub offline: bool,

    #[command(flatten)]
    pub forks: ForkArgs,

    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Args, Debug)]
pub struct DrillArgs {
    /// Playbook of kind deploy, failover or check
    pub playbook: PathBuf,

    /// Run it though the playbook has no `drill: { allowed: true }`
    #[arg(long)]
    pub yes: bool,

    /// Show the legs the drill would run (read from the hosts' releases); touch nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Write the game-day report (Markdown) to this file, atomically
    #[arg(long, value_name = "FILE.md")]
    pub report: Option<PathBuf>,

    /// Check playbooks: also trip this check (its thresholds set so it fails) and send its
    /// alert for real, so the whole path from evaluation to inbox runs
    #[arg(long, value_name = "CHECK")]
    pub trip: Option<String>,

    #[command(flatten)]
    pub hosts: HostArgs,

    #[command(flatten)]
    pub forks: ForkArgs,

    #[command(flatten)]
    pub vars: VarArgs,

    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Args, Debug)]
pub struct FailoverArgs {
    /// Playbook of kind: failover
    pub playbook: PathBuf,

    /// Probe and show the decision and the steps that would run; change nothing
    #[arg(long, conflicts_with_all = ["watch", "status"])]
    pub dry_run: bool,

    /// Skip the grace period and the hold-down, and probe rounds back to back
    #[arg(long)]
    pub now: bool,

    /// Keep running: probe every `interval` and act as needed (a service, not cron)
    #[arg(long, conflicts_with = "status")]
    pub watch: bool,

    /// Show the last transitions and any failover under way
    #[arg(long)]
    pub status: bool,

    #[command(flatten)]
    pub vars: VarArgs,

    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Playbooks to validate
    #[arg(required = true)]
    pub playbooks: Vec<PathBuf>,

    /// Also refuse what is only true of this machine (a path or mount missing here), as a run
    /// would; without it these are warnings, for playbooks meant for other machines
    #[arg(long)]
    pub strict_host: bool,

    /// Also refuse a variable no one defined; without it, it is named as required at run time
    /// (e.g. a deploy's sha256, given with --var) and checked with a stand-in
    #[arg(long)]
    pub vars_complete: bool,

    #[command(flatten)]
    pub vars: VarArgs,
}

#[derive(Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct HistoryArgs {
    /// Only runs of this kind
    #[arg(long, value_parser = ["deploy", "rollback", "cleanup", "failover", "check", "drill"])]
    pub kind: Option<String>,

    /// How many runs to list, newest first (at least 1)
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,

    #[command(subcommand)]
    pub show: Option<HistoryCommand>,
}

#[derive(Subcommand, Debug)]
pub enum HistoryCommand {
    /// Print one run's timeline
    Show { run_id: String },
}

/// A value on the command line that is not what its flag takes; clap prints it with the flag.
#[derive(Debug, thiserror::Error)]
enum BadValue {
    #[error("expected KEY=VALUE, got '{0}'")]
    Var(String),
    #[error("{0} (expected e.g. 500ms, 30s, 5m)")]
    Duration(humantime::DurationError),
    #[error("'{0}' {1}")]
    TooLong(String, crate::sys::TooLong),
    #[error("a deadline of 0 would give every check up at once")]
    ZeroDeadline,
}

fn parse_var(s: &str) -> Result<(String, String), BadValue> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(BadValue::Var(s.to_string())),
    }
}

fn parse_duration(s: &str) -> Result<std::time::Duration, BadValue> {
    let d = humantime::parse_duration(s).map_err(BadValue::Duration)?;
    crate::sys::longest(d).map_err(|e| BadValue::TooLong(s.to_string(), e))
}

fn parse_deadline(s: &str) -> Result<std::time::Duration, BadValue> {
    match parse_duration(s)? {
        d if d.is_zero() => Err(BadValue::ZeroDeadline),
        d => Ok(d),
    }
}
