mod action;
mod check;
mod cleanup;
mod cli;
mod crash;
mod deploy;
mod failover;
mod fsutil;
mod history;
mod interrupt;
mod inventory;
mod journal;
mod lock;
mod notify;
mod playbook;
mod probe;
mod procs;
mod quote;
mod redact;
mod report;
mod run;
mod sys;
mod target;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
use playbook::{Diagnostic, Kind};

/// Exit codes: the interface cron jobs and CI depend on (DESIGN.md section 1).
pub mod exit {
    pub const OK: i32 = 0;
    pub const FAILED: i32 = 1;
    pub const NOT_VERIFIED: i32 = 2;
    pub const USAGE: i32 = 64;
    pub const LOCKED: i32 = 75;
    pub const NAGIOS_UNKNOWN: i32 = 3;
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    exit::OK
                }
                // Nagios reads anything above 3 as UNKNOWN anyway, but say it properly, with a
                // status line on stdout, which is all Nagios shows.
                _ if std::env::args_os().any(|a| a == "check") => {
                    let text = e.to_string();
                    let first = text
                        .lines()
                        .next()
                        .unwrap_or("invalid arguments")
                        .trim_start_matches("error: ");
                    println!("TEND UNKNOWN - {first}");
                    exit::NAGIOS_UNKNOWN
                }
                _ => exit::USAGE,
            };
            return ExitCode::from(code as u8);
        }
    };
    interrupt::setup();
    ExitCode::from(run(&cli) as u8)
}

fn run(cli: &Cli) -> i32 {
    if cli.output == cli::Output::Nagios && !matches!(cli.command, Command::Check(_)) {
        eprintln!("tend: --output nagios is only for `tend check`");
        return exit::USAGE;
    }
    match &cli.command {
        Command::Check(args) => check::run(cli, args),
        Command::Cleanup(args) => cleanup::run(cli, args),
        Command::Deploy(args) => deploy::run(cli, args),
        Command::Rollback(args) => deploy::rollback(cli, args),
        Command::Releases(args) => deploy::releases(cli, args),
        Command::Plan(args) => plan(cli, args),
        Command::Failover(args) => failover::run(cli, args),
        Command::Validate(args) => validate(cli, args),
        Command::History(args) => history::run(cli, args),
        Command::Completions { shell } => {
            clap_complete::generate(*shell, &mut Cli::command(), "tend", &mut std::io::stdout());
            exit::OK
        }
        Command::Statvfs { path } => match check::statvfs(path) {
            Ok(line) => {
                println!("{line}");
                exit::OK
            }
            Err(e) => {
                println!("error: {e}");
                exit::FAILED
            }
        },
        Command::Man => {
            match clap_mangen::Man::new(Cli::command().version(env!("CARGO_PKG_VERSION")))
                .render(&mut std::io::stdout())
            {
                Ok(()) => exit::OK,
                Err(e) => {
                    eprintln!("tend: {e}");
                    exit::FAILED
                }
            }
        }
    }
}

/// What `tend validate` puts where a variable given at run time goes, tried in turn until the
/// field it lands in takes one: a sha256, release name or number; an absolute path; a URL; a
/// host and port; an IP address.
const STAND_INS: &[&str] = &[
    "0000000000000000000000000000000000000000000000000000000000000000",
    "/0000",
    "http://127.0.0.1/0000",
    "127.0.0.1:1",
    "127.0.0.1",
];

fn validate(cli: &Cli, args: &cli::ValidateArgs) -> i32 {
    let color = report::color_enabled(cli.no_color, std::io::stderr().is_terminal());
    if !args.strict_host {
        playbook::facts::lenient();
    }
    let mut code = exit::OK;
    for path in &args.playbooks {
        match validate_one(path, args) {
            Ok(what) => {
                // A stand-in missing here says nothing of the machine the playbook is for.
                for w in playbook::facts::take() {
                    if !STAND_INS.iter().any(|s| w.contains(&format!("'{s}'"))) {
                        eprintln!("warning: {w}");
                    }
                }
                if !cli.quiet {
                    println!("ok: {} ({what})", path.display());
                }
            }
            Err(d) => {
                playbook::facts::take();
                eprint!("{}", d.render(color));
                code = exit::USAGE;
            }
        }
    }
    code
}

/// One playbook: a variable nobody defined gets a stand-in and is named as required at run
/// time (unless `--vars-complete`), so a CI job can check a playbook whose values come later.
fn validate_one(path: &std::path::Path, args: &cli::ValidateArgs) -> Result<String, Diagnostic> {
    let (source, kind) = playbook::kind_of(path)?;
    // Each variable assumed, with the stand-in it has now.
    let mut assumed: Vec<(String, usize)> = vec![];
    for _ in 0..64 {
        playbook::facts::take();
        let values: Vec<(String, String)> = assumed
            .iter()
            .map(|(name, i)| (name.clone(), STAND_INS[*i].to_string()))
            .collect();
        let mut vars = args.vars.clone();
        vars.vars.extend(
            values
                .iter()
                .filter(|(name, _)| !name.starts_with("env."))
                .cloned(),
        );
        playbook::facts::stand_ins(values);
        let result = match kind {
            Kind::Check => check::validate(source.clone(), &vars),
            Kind::Cleanup => cleanup::validate(source.clone(), &vars),
            Kind::Deploy => deploy::validate(source.clone(), &vars),
            Kind::Failover => failover::validate(source.clone(), &vars),
        };
        let names = |assumed: &[(String, usize)]| {
            assumed
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let d = match result {
            Ok(what) if assumed.is_empty() => return Ok(what),
            Ok(what) => {
                let when = if kind == Kind::Deploy {
                    "deploy"
                } else {
                    "run"
                };
                return Ok(format!(
                    "{what}; required at {when} time: {}",
                    names(&assumed)
                ));
            }
            Err(d) => d,
        };
        if !d.missing.is_empty() {
            if args.vars_complete
                || d.missing.iter().any(|m| {
                    m.trim_start_matches("env.").contains('.')
                        || assumed.iter().any(|(a, _)| a == m)
                })
            {
                return Err(d);
            }
            assumed.extend(d.missing.iter().map(|m| (m.clone(), 0)));
            continue;
        }
        // Refused where a stand-in went: try the next kind of value there.
        let line = d
            .source
            .as_ref()
            .zip(d.span)
            .and_then(|(s, span)| s.text.lines().nth(span.line - 1).map(str::to_string))
            .unwrap_or_default();
        let mut moved = false;
        for (name, i) in &mut assumed {
            if line.contains(name.as_str()) && *i + 1 < STAND_INS.len() {
                *i += 1;
                moved = true;
            }
        }
        if !moved {
            return Err(if assumed.is_empty() {
                d
            } else {
                d.hint(format!(
                    "checked with a stand-in for what is required at run time ({}): give it with --var to check the real value",
                    names(&assumed)
                ))
            });
        }
    }
    Err(Diagnostic::in_file(
        &source,
        "too many variables given at run time to check",
    ))
}

fn plan(cli: &Cli, args: &cli::PlanArgs) -> i32 {
    let color = report::color_enabled(cli.no_color, std::io::stderr().is_terminal());
    match playbook::kind_of(&args.playbook) {
        Ok((source, Kind::Deploy)) => {
            deploy::plan(cli, source, &args.vars, args.hosts.limit.as_deref())
        }
        Ok((source, Kind::Failover)) => failover::plan(cli, source, &args.vars),
        Ok((_, Kind::Cleanup)) => {
            eprintln!(
                "tend: for a cleanup playbook, `tend cleanup --dry-run {}` lists every action",
                args.playbook.display()
            );
            exit::USAGE
        }
        Ok((source, other)) => {
            let d = Diagnostic::in_file(
                &source,
                format!("`tend plan` does not plan {other} playbooks yet"),
            );
            eprint!("{}", d.render(color));
            exit::USAGE
        }
        Err(d) => {
            eprint!("{}", d.render(color));
            exit::USAGE
        }
    }
}
