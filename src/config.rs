//! The global flags, read once: how output looks, how much of it, where state lives. Every job
//! takes a `&Config` instead of the parsed command line.

use std::io::IsTerminal;
use std::path::PathBuf;

use crate::cli::{Cli, Output};
use crate::report::{Options, Style};

pub struct Config {
    pub output: Output,
    /// How events look on stderr.
    pub report: Options,
    /// Colour on stderr (diagnostics) and on stdout (tables).
    pub color: bool,
    pub stdout_color: bool,
    pub stdout_tty: bool,
    pub quiet: bool,
    /// Run journals, locks and alert state.
    pub state: PathBuf,
}

impl Config {
    pub fn from_cli(cli: &Cli) -> Self {
        let tty = std::io::stderr().is_terminal();
        let stdout_tty = std::io::stdout().is_terminal();
        let style = match cli.output {
            Output::Human => Style::Human,
            Output::Json => Style::Json,
            Output::Plain | Output::Nagios => Style::Plain,
            Output::Auto if tty => Style::Human,
            Output::Auto => Style::Plain,
        };
        let color = color_enabled(cli.no_color, tty);
        Config {
            output: cli.output,
            report: Options {
                style,
                quiet: cli.quiet,
                verbose: cli.verbose > 0,
                color,
                steps: true,
            },
            color,
            stdout_color: color_enabled(cli.no_color, stdout_tty),
            stdout_tty,
            quiet: cli.quiet,
            state: crate::sys::state_dir(cli.state_dir.as_deref()),
        }
    }

    pub fn json(&self) -> bool {
        self.output == Output::Json
    }
}

fn color_enabled(no_color: bool, tty: bool) -> bool {
    tty && !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
