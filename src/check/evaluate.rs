//! Run every check and turn readings into outcomes. Slow checks (CPU sampling, probes) run in
//! their own threads while the quick ones are read, so a run takes about as long as its slowest
//! check, not the sum.

use std::panic::AssertUnwindSafe;
use std::sync::{OnceLock, mpsc};
use std::time::{Duration, Instant, SystemTime};

use super::measure::{Unmeasured, cpu, disk, memory, process};
use super::spec::{CheckSpec, Disk, FileAge, Load, Process, PromCheck, Usage};
use super::threshold::{Levels, Unit, num, show_value};
use super::verdict::{Perf, Verdict};
use crate::engine::Step;
use crate::machine::Local;
use crate::playbook::units::Size;
use crate::probe::Probe;
use crate::report::{Reporter, Status};

/// A check ready to run: templates rendered.
#[derive(Clone)]
pub struct Resolved {
    pub spec: CheckSpec,
    pub remedy: Option<super::remedy::Remedy>,
    pub name: Option<String>,
    pub probe: Option<Probe>,
    pub path: Option<String>,
    /// A `prometheus` check's URL and query, rendered.
    pub query: Option<(String, String)>,
    pub runbook: Option<String>,
    pub first_steps: Vec<String>,
}

impl Resolved {
    pub fn label(&self) -> String {
        if let Some(n) = &self.name {
            return n.clone();
        }
        match (&self.spec, &self.probe, &self.path) {
            (CheckSpec::Process(p), _, _) => format!("process {}", p.name),
            (CheckSpec::FileAge(_), _, Some(path)) => format!("file_age {path}"),
            (CheckSpec::Probe(_), Some(p), _) => format!("probe {}", p.label()),
            (CheckSpec::Prometheus(_), _, _) => match &self.query {
                Some((_, q)) => format!("prometheus {q}"),
                None => "prometheus".into(),
            },
            (CheckSpec::Disk(d) | CheckSpec::Inodes(d), _, _) => match &d.mounts {
                Some(m) => format!("{} {}", self.spec.kind(), m.join(" ")),
                None => format!("{} (all filesystems)", self.spec.kind()),
            },
            (s, _, _) => s.kind().to_string(),
        }
    }

    fn is_slow(&self) -> bool {
        matches!(
            self.spec,
            CheckSpec::Cpu(_) | CheckSpec::Probe(_) | CheckSpec::Prometheus(_)
        )
    }
}

struct Machine {
    memory: OnceLock<Result<memory::Memory, Unmeasured>>,
}

impl Machine {
    fn memory(&self) -> Result<&memory::Memory, Unmeasured> {
        self.memory
            .get_or_init(memory::read)
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// Run every check; a slow one still running at `deadline` is given up as UNKNOWN (its
/// thread is left behind and its step processes killed) so that a hung probe cannot hold the
/// whole run, and the checks that did answer still report and alert.
pub fn run_all(checks: &[Resolved], reporter: &Reporter, deadline: Duration) -> Vec<Verdict> {
    let until = Instant::now() + deadline;
    let machine = Machine {
        memory: OnceLock::new(),
    };
    let begin = |c: &Resolved| Step::begin(reporter, &c.label());
    let mut results: Vec<Option<Vec<Verdict>>> = vec![None; checks.len()];
    let (tx, rx) = mpsc::channel();
    let mut pending = vec![];
    for (i, c) in checks.iter().enumerate().filter(|(_, c)| c.is_slow()) {
        let started = begin(c);
        let (c, tx) = (c.clone(), tx.clone());
        // Not scoped: a thread stuck past the deadline must not keep the run waiting for it.
        std::thread::spawn(move || {
            let machine = Machine {
                memory: OnceLock::new(),
            };
            let outs = std::panic::catch_unwind(AssertUnwindSafe(|| evaluate(&c, &machine)))
                .unwrap_or_else(|_| {
                    vec![Verdict::unknown(
                        c.label(),
                        c.spec.kind(),
                        "the check crashed",
                    )]
                });
            let _ = tx.send((i, outs));
        });
        pending.push((i, started));
    }
    for (i, c) in checks.iter().enumerate().filter(|(_, c)| !c.is_slow()) {
        let started = begin(c);
        results[i] = Some(finish(c, evaluate(c, &machine), started));
    }
    while !pending.is_empty() {
        let Ok((i, outs)) = rx.recv_timeout(until.saturating_duration_since(Instant::now())) else {
            break;
        };
        if let Some(at) = pending.iter().position(|(p, _)| *p == i) {
            let (_, started) = pending.swap_remove(at);
            results[i] = Some(finish(&checks[i], outs, started));
        }
    }
    if !pending.is_empty() {
        crate::procs::stop_all();
    }
    for (i, started) in pending {
        let c = &checks[i];
        let why = format!(
            "still running after {}, given up (--timeout)",
            humantime::format_duration(deadline)
        );
        let outs = vec![Verdict::unknown(c.label(), c.spec.kind(), why)];
        results[i] = Some(finish(c, outs, started));
    }
    results
        .into_iter()
        .enumerate()
        .flat_map(|(i, outs)| {
            outs.into_iter().flatten().map(move |mut v| {
                v.item = i;
                v
            })
        })
        .collect()
}

/// A check's outcomes with what its playbook entry adds, reported as its step's end.
fn finish(c: &Resolved, mut outs: Vec<Verdict>, step: Step) -> Vec<Verdict> {
    let single = outs.len() == 1;
    for o in &mut outs {
        if o.runbook.is_none() {
            o.runbook = c.runbook.clone();
        }
        if o.first_steps.is_empty() {
            o.first_steps = c.first_steps.clone();
        }
        if let Some(n) = &c.name
            && single
        {
            o.name = n.clone();
        }
    }
    let message = match outs.as_slice() {
        [one] => one.summary.clone(),
        many => many
            .iter()
            .map(|o| format!("{} {}", o.name, o.summary))
            .collect::<Vec<_>>()
            .join(", "),
    };
    step.end(super::verdict::overall(&outs), message);
    outs
}

fn evaluate(c: &Resolved, m: &Machine) -> Vec<Verdict> {
    let label = c.label();
    match &c.spec {
        CheckSpec::Cpu(cpu) => vec![match cpu::busy_percent(cpu.sample.0) {
            Ok(v) => percent(
                label,
                "cpu",
                "cpu",
                v,
                &cpu.levels,
                format!("{}% busy", num(v)),
                format!("{}% busy over {}", num(v), cpu.sample),
            ),
            Err(e) => Verdict::unknown(label, "cpu", e),
        }],
        CheckSpec::Memory(u) => vec![mem(label, u, m)],
        CheckSpec::Swap(u) => vec![swap(label, u, m)],
        CheckSpec::Disk(d) => disks(d, false),
        CheckSpec::Inodes(d) => disks(d, true),
        CheckSpec::Load(l) => vec![load(label, l)],
        CheckSpec::Process(p) => vec![procs(label, p)],
        CheckSpec::FileAge(f) => vec![file_age(label, f, c.path.as_deref().unwrap_or(&f.path))],
        CheckSpec::Probe(_) => vec![probe(label, c.probe.as_ref())],
        CheckSpec::Prometheus(q) => vec![prometheus(label, q, c.query.as_ref())],
    }
}

fn perf(
    label: &str,
    value: f64,
    uom: &str,
    levels: &Levels,
    min: Option<f64>,
    max: Option<f64>,
) -> Perf {
    let (warn, crit) = levels.perf();
    Perf {
        label: label.to_string(),
        value,
        uom: uom.to_string(),
        warn,
        crit,
        min,
        max,
    }
}

fn percent(
    name: String,
    kind: &'static str,
    perf_label: &str,
    v: f64,
    levels: &Levels,
    summary: String,
    detail: String,
) -> Verdict {
    Verdict {
        host: String::new(),
        name,
        kind: kind.into(),
        status: levels.status(v),
        summary,
        detail,
        thresholds: levels.describe(),
        perf: vec![perf(
            perf_label,
            round2(v),
            "%",
            levels,
            Some(0.0),
            Some(100.0),
        )],
        runbook: None,
        first_steps: vec![],
        item: 0,
        remedy: None,
    }
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn mem(name: String, u: &Usage, m: &Machine) -> Verdict {
    match m.memory() {
        Err(e) => Verdict::unknown(name, "memory", e),
        Ok(mem) => {
            let used = mem.total.saturating_sub(mem.available);
            let pct = used as f64 * 100.0 / mem.total as f64;
            let scope = if mem.cgroup { " (container limit)" } else { "" };
            let detail = format!(
                "{} of {} in use{scope}, {} available",
                Size(used),
                Size(mem.total),
                Size(mem.available)
            );
            percent(
                name,
                "memory",
                "memory",
                pct,
                &u.levels,
                format!("{}% used", num(round2(pct))),
                detail,
            )
        }
    }
}

fn swap(name: String, u: &Usage, m: &Machine) -> Verdict {
    match m.memory() {
        Err(e) => Verdict::unknown(name, "swap", e),
        Ok(mem) if mem.swap_total == 0 => {
            let mut o = percent(
                name,
                "swap",
                "swap",
                0.0,
                &u.levels,
                "no swap configured".into(),
                "no swap configured".into(),
            );
            o.status = Status::Ok;
            o
        }
        Ok(mem) => {
            let pct = mem.swap_used as f64 * 100.0 / mem.swap_total as f64;
            let detail = format!(
                "{} of {} swap in use",
                Size(mem.swap_used),
                Size(mem.swap_total)
            );
            percent(
                name,
                "swap",
                "swap",
                pct,
                &u.levels,
                format!("{}% used", num(round2(pct))),
                detail,
            )
        }
    }
}

fn normalize(path: &str) -> String {
    let t = path.trim_end_matches('/');
    if t.is_empty() {
        "/".into()
    } else {
        t.to_string()
    }
}

fn disks(d: &Disk, inodes: bool) -> Vec<Verdict> {
    let kind = if inodes { "inodes" } else { "disk" };
    let all = match disk::mounts() {
        Ok(m) => m,
        Err(e) => return vec![Verdict::unknown(kind.into(), kind, e)],
    };
    let targets: Vec<String> = match &d.mounts {
        Some(list) => list.iter().map(|p| normalize(p)).collect(),
        None => match disk::real_mounts() {
            Ok(m) => m.into_iter().map(|m| m.path).collect(),
            Err(e) => return vec![Verdict::unknown(kind.into(), kind, e)],
        },
    };
    targets
        .into_iter()
        .map(|path| {
            let name = format!("{kind} {path}");
            let Some(mount) = all.iter().rev().find(|m| m.path == path) else {
                let why = if std::path::Path::new(&path).exists() {
                    format!("{path} is not mounted (it is a directory on its parent filesystem)")
                } else {
                    format!("{path} is not mounted and does not exist")
                };
                return Verdict::failed(name, kind, Status::Critical, why);
            };
            match disk::statvfs(&path, &mount.fstype, d.timeout.0) {
                Err(e) => Verdict::unknown(name, kind, e),
                Ok(u) if inodes => inode_outcome(name, &path, &u, d),
                Ok(u) => disk_outcome(name, &path, &u, d),
            }
        })
        .collect()
}

fn disk_outcome(name: String, path: &str, u: &disk::Usage, d: &Disk) -> Verdict {
    let pct = u.used_percent();
    let detail = format!(
        "{} of {} used, {} free",
        Size(u.used),
        Size(u.total),
        Size(u.avail)
    );
    let mut status = Status::Ok;
    let mut perfs = vec![];
    let mut thresholds = vec![];
    let mut summary = format!("{}% used", num(pct.ceil()));
    if let Some(levels) = &d.levels {
        status = levels.status(pct);
        perfs.push(perf(
            &format!("disk_{path}"),
            pct.ceil(),
            "%",
            levels,
            Some(0.0),
            Some(100.0),
        ));
        thresholds.push(levels.describe());
    }
    if let Some(free) = &d.free {
        let s = free.status(u.avail as f64);
        if super::verdict::severity(s) > super::verdict::severity(status) {
            status = s;
            summary = format!("{} free", Size(u.avail));
        }
        perfs.push(perf(
            &format!("disk_free_{path}"),
            u.avail as f64,
            "B",
            free,
            Some(0.0),
            Some(u.total as f64),
        ));
        thresholds.push(format!("free: {}", free.describe()));
        if d.levels.is_none() {
            summary = format!("{} free", Size(u.avail));
        }
    }
    Verdict {
        host: String::new(),
        name,
        kind: "disk".into(),
        status,
        summary,
        detail,
        thresholds: thresholds.join("; "),
        perf: perfs,
        runbook: None,
        first_steps: vec![],
        item: 0,
        remedy: None,
    }
}

fn inode_outcome(name: String, path: &str, u: &disk::Usage, d: &Disk) -> Verdict {
    let Some(levels) = &d.levels else {
        return Verdict::unknown(name, "inodes", "no thresholds");
    };
    if u.files == 0 {
        let mut o = percent(
            name,
            "inodes",
            &format!("inodes_{path}"),
            0.0,
            levels,
            "no inode limit".into(),
            "this filesystem allocates inodes dynamically".into(),
        );
        o.status = Status::Ok;
        return o;
    }
    let used = u.files.saturating_sub(u.files_free);
    let pct = used as f64 * 100.0 / u.files as f64;
    let detail = format!("{used} of {} inodes used", u.files);
    percent(
        name,
        "inodes",
        &format!("inodes_{path}"),
        pct,
        levels,
        format!("{}% inodes used", num(round2(pct))),
        detail,
    )
}

fn load(name: String, l: &Load) -> Verdict {
    let raw = match cpu::load() {
        Ok(v) => v,
        Err(e) => return Verdict::unknown(name, "load", e),
    };
    let cpus = if l.per_cpu { cpu::count() } else { 1 };
    let vals = raw.map(|v| round2(v / cpus as f64));
    let statuses: Vec<Status> = (0..3).map(|i| l.levels[i].status(vals[i])).collect();
    let status = statuses
        .iter()
        .copied()
        .max_by_key(|s| super::verdict::severity(*s))
        .unwrap_or(Status::Ok);
    let per = if l.per_cpu {
        format!(" per CPU ({cpus} CPUs)")
    } else {
        String::new()
    };
    let summary = format!("{}, {}, {}{per}", num(vals[0]), num(vals[1]), num(vals[2]));
    let detail = format!(
        "1, 5 and 15 minute load average {}, {}, {}",
        num(raw[0]),
        num(raw[1]),
        num(raw[2])
    );
    let labels = ["load1", "load5", "load15"];
    let perfs = (0..3)
        .map(|i| perf(labels[i], vals[i], "", &l.levels[i], Some(0.0), None))
        .collect();
    let thresholds = ["1m", "5m", "15m"]
        .iter()
        .zip(&l.levels)
        .map(|(w, lv)| format!("{w}: {}", lv.describe()))
        .collect::<Vec<_>>()
        .join("; ");
    Verdict {
        host: String::new(),
        name,
        kind: "load".into(),
        status,
        summary,
        detail,
        thresholds,
        perf: perfs,
        runbook: None,
        first_steps: vec![],
        item: 0,
        remedy: None,
    }
}

fn procs(name: String, p: &Process) -> Verdict {
    match process::count(&p.name) {
        Err(e) => Verdict::unknown(name, "process", e),
        Ok(n) => {
            let plural = if n == 1 { "" } else { "es" };
            Verdict {
                host: String::new(),
                name,
                kind: "process".into(),
                status: p.levels.status(n as f64),
                summary: format!("{n} process{plural}"),
                detail: format!("{n} process{plural} named {}", p.name),
                thresholds: p.levels.describe(),
                perf: vec![perf(
                    &format!("procs_{}", p.name),
                    n as f64,
                    "",
                    &p.levels,
                    Some(0.0),
                    None,
                )],
                runbook: None,
                first_steps: vec![],
                item: 0,
                remedy: None,
            }
        }
    }
}

/// The most series a `prometheus` check puts in its perfdata.
const PERF_SERIES: usize = 50;

/// The query's value against the levels; several series: the worst decides, each one's value
/// is in the perfdata.
fn prometheus(name: String, q: &PromCheck, query: Option<&(String, String)>) -> Verdict {
    use crate::prometheus::{self, Sample};
    let Some((url, query)) = query else {
        return Verdict::unknown(name, "prometheus", "query not resolved");
    };
    let sample = match prometheus::query(url, query, q.timeout.0) {
        Ok(s) => s,
        Err(why) => return Verdict::unknown(name, "prometheus", why),
    };
    let series: Vec<(String, f64)> = match sample {
        Sample::Scalar(v) => vec![(String::new(), v)],
        Sample::Vector(v) => v,
    };
    if series.is_empty() {
        return Verdict::unknown(
            name,
            "prometheus",
            "the query selected no series (a label that matches nothing, or a target not scraped)",
        );
    }
    if let Some((labels, v)) = series.iter().find(|(_, v)| !v.is_finite()) {
        return Verdict::unknown(
            name,
            "prometheus",
            format!(
                "the query's value is {} {labels}",
                crate::report::number(*v)
            )
            .trim_end()
            .to_string(),
        );
    }
    let worst = series
        .iter()
        .max_by_key(|(_, v)| super::verdict::severity(q.levels.status(*v)))
        .cloned()
        .unwrap_or_default();
    let shown =
        |(labels, v): &(String, f64)| format!("{} {labels}", num(*v)).trim_end().to_string();
    let summary = if series.len() == 1 {
        shown(&worst)
    } else {
        format!("{}, the worst of {} series", shown(&worst), series.len())
    };
    Verdict {
        host: String::new(),
        kind: "prometheus".into(),
        status: q.levels.status(worst.1),
        summary: summary.clone(),
        detail: format!("{summary} from {query}"),
        thresholds: q.levels.describe(),
        // A query over thousands of series is for Prometheus's own graphs: the perfdata keeps
        // the first ones.
        perf: series
            .iter()
            .take(PERF_SERIES)
            .map(|(labels, v)| {
                let label = match series.len() {
                    1 => name.clone(),
                    _ => format!("{name}_{}", prometheus::label_values(labels)),
                };
                perf(&label, *v, "", &q.levels, None, None)
            })
            .collect(),
        runbook: None,
        first_steps: vec![],
        item: 0,
        remedy: None,
        name,
    }
}

fn file_age(name: String, f: &FileAge, path: &str) -> Verdict {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Verdict::failed(
                name,
                "file_age",
                Status::Critical,
                format!("{path} does not exist"),
            );
        }
        Err(e) => {
            return Verdict::unknown(
                name,
                "file_age",
                format!("cannot stat {path}: {}", crate::sys::describe_io(&e)),
            );
        }
    };
    let mtime = meta.modified().unwrap_or(SystemTime::UNIX_EPOCH);
    let age = SystemTime::now().duration_since(mtime).unwrap_or_default();
    let secs = age.as_secs() as f64;
    let shown = show_value(secs, Unit::Seconds);
    Verdict {
        host: String::new(),
        name,
        kind: "file_age".into(),
        status: f.levels.status(secs),
        summary: format!("modified {shown} ago"),
        detail: format!(
            "{path} last modified {} ({shown} ago)",
            humantime::format_rfc3339_seconds(mtime)
        ),
        thresholds: f.levels.describe(),
        perf: vec![perf(
            &format!("age_{path}"),
            secs,
            "s",
            &f.levels,
            Some(0.0),
            None,
        )],
        runbook: None,
        first_steps: vec![],
        item: 0,
        remedy: None,
    }
}

fn probe(name: String, p: Option<&Probe>) -> Verdict {
    let Some(p) = p else {
        return Verdict::unknown(name, "probe", "probe not resolved");
    };
    let v = p.run(&Local);
    let plugin = matches!(p.kind, crate::probe::Kind::Command { plugin: true, .. });
    let status = match (plugin, v.healthy, v.code) {
        (_, true, _) => Status::Ok,
        (false, false, _) => Status::Critical,
        (true, false, Some(1)) => Status::Warning,
        (true, false, Some(2)) => Status::Critical,
        // 3, anything else, a timeout or a plugin that could not start: Nagios says UNKNOWN.
        (true, false, _) => Status::Unknown,
    };
    let attempts = if v.attempts > 1 {
        format!(" after {} attempts", v.attempts)
    } else {
        String::new()
    };
    let mut perf = if plugin {
        Perf::parse_all(&v.perfdata)
    } else {
        vec![]
    };
    perf.push(Perf {
        label: format!("time_{name}"),
        value: v.latency.as_secs_f64(),
        uom: "s".into(),
        warn: String::new(),
        crit: String::new(),
        min: Some(0.0),
        max: None,
    });
    Verdict {
        host: String::new(),
        kind: "probe".into(),
        status,
        summary: v.detail.clone(),
        detail: format!(
            "{} in {}{attempts}",
            v.detail,
            crate::report::format_ms(v.latency.as_millis() as u64)
        ),
        thresholds: if plugin {
            "the plugin's exit code: 1 warning, 2 critical, 3 unknown".into()
        } else {
            "critical when the probe fails".into()
        },
        perf,
        name,
        runbook: None,
        first_steps: vec![],
        item: 0,
        remedy: None,
    }
}
