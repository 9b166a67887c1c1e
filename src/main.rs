/// `print!` to a stdout that may be closed (`tend history | head`): results are the last thing
/// a run writes, and a panic there would turn a finished run, a drill, a deploy, into exit 101.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `println!`, as `out!`.
macro_rules! outln {
    () => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock());
    }};
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

mod action;
mod analysis;
mod check;
mod cleanup;
mod cli;
mod config;
mod crash;
mod deploy;
mod drill;
mod engine;
mod error;
mod failover;
mod fleet;
mod fsutil;
mod history;
mod http;
mod interrupt;
mod inventory;
mod journal;
mod lock;
mod machine;
mod notify;
mod playbook;
mod probe;
mod procs;
mod prometheus;
mod quote;
mod reason;
mod redact;
mod report;
mod schema;
mod sh;
mod sys;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
use config::Config;
use error::{Error, Exit};
use playbook::{Diagnostic, Kind};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    Exit::OK
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
                    outln!("TEND UNKNOWN - {first}");
                    Exit::NAGIOS_UNKNOWN
                }
                _ => Exit::USAGE,
            };
            return code.into();
        }
    };
    interrupt::setup();
    let cfg = Config::from_cli(&cli);
    match run(&cli, &cfg) {
        Ok(exit) => exit.into(),
        // The one place an error is printed.
        Err(e) => {
            eprint!("{}", e.render(cfg.color));
            if let Command::Check(_) = cli.command {
                return check::unknown(&cfg, &e.to_string()).into();
            }
            e.exit().into()
        }
    }
}

fn run(cli: &Cli, cfg: &Config) -> Result<Exit, Error> {
    if cli.output == cli::Output::Nagios && !matches!(cli.command, Command::Check(_)) {
        return Err(Error::Usage(
            "--output nagios is only for `tend check`".into(),
        ));
    }
    match &cli.command {
        Command::Check(args) => check::run(cfg, args),
        Command::Cleanup(args) => cleanup::run(cfg, args),
        Command::Deploy(args) => deploy::run(cfg, args),
        Command::Rollback(args) => deploy::rollback(cfg, args),
        Command::Releases(args) => deploy::releases(cfg, args),
        Command::Plan(args) => plan(cfg, args),
        Command::Drill(args) => drill(cfg, args),
        Command::Failover(args) => failover::run(cfg, args),
        Command::Validate(args) => Ok(validate(cli, cfg, args)),
        Command::History(args) => history::run(cfg, args),
        Command::Completions { shell } => {
            let mut script = vec![];
            clap_complete::generate(*shell, &mut Cli::command(), "tend", &mut script);
            document(&script)
        }
        Command::Statvfs { path } => match check::statvfs(path) {
            Ok(line) => {
                outln!("{line}");
                Ok(Exit::OK)
            }
            // Read by the disk check over a pipe: the answer goes to stdout either way.
            Err(e) => {
                outln!("error: {e}");
                Ok(Exit::FAILED)
            }
        },
        Command::Schema { kind } => {
            use cli::PlaybookKind as Asked;
            let kind = kind.map(|k| match k {
                Asked::Deploy => playbook::Kind::Deploy,
                Asked::Cleanup => playbook::Kind::Cleanup,
                Asked::Failover => playbook::Kind::Failover,
                Asked::Check => playbook::Kind::Check,
            });
            document(schema::text(kind).as_bytes())
        }
        Command::Man => {
            let mut page = vec![];
            clap_mangen::Man::new(Cli::command().version(env!("CARGO_PKG_VERSION")))
                .render(&mut page)
                .map_err(|e| Error::Failed(e.to_string()))?;
            document(&page)
        }
    }
}

/// A file's worth of output (a schema, a man page, a completion script), usually redirected
/// into a file: a write that fails (a full disk) is an error, as a truncated file would pass
/// for a whole one; a reader that stopped early (`| head`) is not.
fn document(bytes: &[u8]) -> Result<Exit, Error> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Failed(format!(
            "cannot write to stdout: {}",
            sys::describe_io(&e)
        ))),
        _ => Ok(Exit::OK),
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

/// Every playbook is checked, and each error printed as it is found: a CI job sees them all.
fn validate(cli: &Cli, cfg: &Config, args: &cli::ValidateArgs) -> Exit {
    let color = cfg.color;
    if !args.strict_host {
        playbook::facts::lenient();
    }
    let mut code = Exit::OK;
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
                    outln!(
                        "ok: {} ({what})",
                        report::printable(&path.display().to_string())
                    );
                }
            }
            Err(d) => {
                playbook::facts::take();
                eprint!("{}", d.render(color));
                code = Exit::USAGE;
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

/// `tend drill`: each kind rehearses its own failure path.
fn drill(cfg: &Config, args: &cli::DrillArgs) -> Result<Exit, Error> {
    let (source, kind) = playbook::kind_of(&args.playbook)?;
    match kind {
        Kind::Deploy => deploy::drill(cfg, source, args),
        Kind::Check => check::drill(cfg, source, args),
        Kind::Failover => failover::drill(cfg, source, args),
        Kind::Cleanup => Err(Error::Usage(format!(
            "{} is a cleanup playbook, which has no failure path to rehearse\n  hint: `tend drill` takes deploy (rollback and back), failover (fail over and back) and check (the alert path) playbooks",
            args.playbook.display()
        ))),
    }
}

fn plan(cfg: &Config, args: &cli::PlanArgs) -> Result<Exit, Error> {
    let (source, kind) = playbook::kind_of(&args.playbook)?;
    match kind {
        Kind::Deploy => deploy::plan(
            cfg,
            source,
            &args.vars,
            args.hosts.limit.as_deref(),
            deploy::Reading {
                offline: args.offline,
                forks: args.forks,
            },
        ),
        Kind::Failover => failover::plan(cfg, source, &args.vars),
        Kind::Cleanup => cleanup::plan(cfg, source, &args.vars),
        Kind::Check => check::plan(cfg, source, &args.vars),
    }
}
