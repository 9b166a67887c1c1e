//! `tend history`: what ran, when, and how it ended; `tend history show RUN` for one timeline.

use crate::cli::{HistoryArgs, HistoryCommand, Output};
use crate::config::Config;
use crate::error::{Error, Exit};
use crate::journal;
use crate::report::{format_ms, format_plain};

pub fn run(cfg: &Config, args: &HistoryArgs) -> Result<Exit, Error> {
    let state = &cfg.state;
    if let Some(HistoryCommand::Show { run_id }) = &args.show {
        return show(cfg, state, run_id);
    }
    let runs = journal::list(state, args.kind.as_deref(), args.limit as usize);
    if cfg.output == Output::Json {
        for r in &runs {
            outln!("{}", serde_json::to_string(r).unwrap_or_default());
        }
        return Ok(Exit::OK);
    }
    if runs.is_empty() {
        eprintln!("no runs recorded in {}", state.join("journal").display());
        return Ok(Exit::OK);
    }
    let name_w = runs
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    outln!(
        "{:<20}  {:<8}  {:<name_w$}  {:<20}  {:>8}  STATUS",
        "RUN",
        "KIND",
        "NAME",
        "STARTED",
        "TOOK"
    );
    for r in &runs {
        let took = r.elapsed_ms.map(format_ms).unwrap_or_else(|| "-".into());
        let status = match r.exit_code {
            Some(code) => format!("{} (exit {code})", r.status),
            None => r.status.clone(),
        };
        let started = r.started.get(..19).unwrap_or(&r.started).replace('T', " ");
        outln!(
            "{:<20}  {:<8}  {:<name_w$}  {:<20}  {:>8}  {status}",
            r.run,
            r.kind,
            crate::report::printable(&r.name),
            started,
            took
        );
    }
    Ok(Exit::OK)
}

fn show(cfg: &Config, state: &std::path::Path, run_id: &str) -> Result<Exit, Error> {
    let Some(records) = journal::show(state, run_id) else {
        return Err(Error::Usage(format!(
            "no run '{run_id}' in {}\n  hint: `tend history` lists the runs it knows",
            state.join("journal").display()
        )));
    };
    for r in &records {
        if cfg.output == Output::Json {
            outln!("{}", serde_json::to_string(r).unwrap_or_default());
        } else {
            outln!("{}", crate::report::printable(&format_plain(r)));
        }
    }
    Ok(Exit::OK)
}
