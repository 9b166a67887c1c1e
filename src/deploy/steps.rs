//! The step lists `plan`, `--dry-run` and the real run all walk, so what `plan` shows is what
//! runs.

use std::path::PathBuf;

use super::configure::Previous;
use super::resolve::{Migration, Phases};
use crate::action::Action;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Fetch,
    Stop(usize),
    Migrate(usize),
    Configure(usize),
    Switch,
    Start(usize),
    Verify(usize),
    /// A `prometheus` analysis of `verify`, once its probes passed.
    Analyze(usize),
    Prune,
}

pub fn forward(p: &Phases) -> Vec<Step> {
    let mut steps = vec![Step::Fetch];
    steps.extend((0..p.stop.len()).map(Step::Stop));
    steps.extend((0..p.migrate.len()).map(Step::Migrate));
    steps.extend((0..p.configure.len()).map(Step::Configure));
    steps.push(Step::Switch);
    steps.extend((0..p.start.len()).map(Step::Start));
    steps.extend((0..p.verify.len()).map(Step::Verify));
    steps.extend((0..p.analyses.len()).map(Step::Analyze));
    steps.push(Step::Prune);
    steps
}

/// The step name shown while it runs and in the journal.
pub fn name(step: Step, p: &Phases) -> String {
    match step {
        Step::Fetch => format!("fetch {}", p.release),
        Step::Stop(i) => format!("stop: {}", p.stop[i].label),
        Step::Migrate(i) => format!("migrate: {}", p.migrate[i].label),
        Step::Configure(i) => format!("configure {}", p.configure[i].shown),
        Step::Switch => format!("switch current → {}", p.release),
        Step::Start(i) => format!("start: {}", p.start[i].label),
        Step::Verify(i) => format!("verify {}", p.verify[i].label()),
        Step::Analyze(i) => format!("verify analysis {}", p.analyses[i].name),
        Step::Prune => "prune old releases".into(),
    }
}

/// What a rollback undoes, newest first, and where it goes back to.
pub struct Rollback<'p> {
    /// Stop commands rendered for the release being left, and where they run.
    pub stop: &'p [Action],
    pub stop_dir: PathBuf,
    /// Migrations to undo, newest first, each with the directory of the release it came from.
    pub downs: Vec<(&'p Migration, PathBuf)>,
    /// Config files to put back, newest change first.
    pub restore: Vec<Previous>,
    /// `None`: there is no verified release to go back to.
    pub target: Option<&'p Phases>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Undo {
    Stop(usize),
    Down(usize),
    Restore,
    Switch,
    Start(usize),
    Verify(usize),
}

impl Rollback<'_> {
    pub fn steps(&self) -> Vec<Undo> {
        let mut steps: Vec<Undo> = (0..self.stop.len()).map(Undo::Stop).collect();
        steps.extend((0..self.downs.len()).map(Undo::Down));
        if !self.restore.is_empty() {
            steps.push(Undo::Restore);
        }
        if let Some(t) = self.target {
            steps.push(Undo::Switch);
            steps.extend((0..t.start.len()).map(Undo::Start));
            steps.extend((0..t.verify.len()).map(Undo::Verify));
        }
        steps
    }

    pub fn name(&self, step: Undo) -> String {
        let target = self.target.map_or("", |t| t.release.as_str());
        match step {
            Undo::Stop(i) => format!("rollback: stop: {}", self.stop[i].label),
            Undo::Down(i) => {
                let m = self.downs[i].0;
                match &m.down {
                    Some(d) => format!("rollback: down: {}", d.label),
                    None => format!("rollback: undo migration {}", m.label),
                }
            }
            Undo::Restore => format!("rollback: restore {}", files(self.restore.len())),
            Undo::Switch => format!("rollback: switch current → {target}"),
            Undo::Start(i) => format!(
                "rollback: start: {}",
                self.target
                    .map_or(String::new(), |t| t.start[i].label.clone())
            ),
            Undo::Verify(i) => format!(
                "rollback: verify {}",
                self.target.map_or(String::new(), |t| t.verify[i].label())
            ),
        }
    }
}

/// "1 config file", "2 config files".
pub fn files(n: usize) -> String {
    format!("{n} config file{}", if n == 1 { "" } else { "s" })
}
