//! A finished `tend` run, asserted the way a user reads it:
//! `env.tend().args([...]).run().code(1).stderr_has("...")`. A failed assertion shows the
//! whole run: its exit code, stdout and stderr.

use std::process::Output;

pub struct Run {
    pub out: Output,
}

pub trait Runs {
    /// Run to the end and keep what it printed.
    fn run(&mut self) -> Run;
}

impl Runs for assert_cmd::Command {
    fn run(&mut self) -> Run {
        Run {
            out: self.output().expect("tend runs"),
        }
    }
}

impl Run {
    /// A run already finished (a helper's `Output`).
    pub fn of(out: &Output) -> Run {
        Run { out: out.clone() }
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    pub fn exit(&self) -> Option<i32> {
        self.out.status.code()
    }

    #[track_caller]
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\n--- exit {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.exit(),
            self.stdout(),
            self.stderr()
        )
    }

    #[track_caller]
    pub fn code(&self, want: i32) -> &Self {
        if self.exit() != Some(want) {
            self.fail(&format!("expected exit {want}"));
        }
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, want: &str) -> &Self {
        if !self.stdout().contains(want) {
            self.fail(&format!("stdout lacks {want:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stderr_has(&self, want: &str) -> &Self {
        if !self.stderr().contains(want) {
            self.fail(&format!("stderr lacks {want:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stdout_lacks(&self, unwanted: &str) -> &Self {
        if self.stdout().contains(unwanted) {
            self.fail(&format!("stdout has {unwanted:?}"));
        }
        self
    }

    #[track_caller]
    pub fn stderr_lacks(&self, unwanted: &str) -> &Self {
        if self.stderr().contains(unwanted) {
            self.fail(&format!("stderr has {unwanted:?}"));
        }
        self
    }

    /// Exactly this on stdout: for output that is a contract (a plan, a Nagios line, JSON).
    #[track_caller]
    pub fn stdout_is(&self, want: &str) -> &Self {
        let got = self.stdout();
        if got != want {
            self.fail(&format!("stdout is not exactly:\n{want}"));
        }
        self
    }

    /// Exactly this on stderr.
    #[track_caller]
    pub fn stderr_is(&self, want: &str) -> &Self {
        let got = self.stderr();
        if got != want {
            self.fail(&format!("stderr is not exactly:\n{want}"));
        }
        self
    }
}
