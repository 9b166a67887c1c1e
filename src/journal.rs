//! The run journal: every event of every run, as JSON lines in one file per UTC day under
//! `<state>/journal/`. `tend history` reads it back; it is the raw material of an incident review.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::report::{Event, Record, Sink};

/// Days of journal kept, and its size at most; older day files are removed when a new day's
/// file is started.
const KEEP_DAYS: u64 = 90;
const KEEP_BYTES: u64 = 256 << 20;

/// A sink: it records every event of the run it was opened for.
pub struct Journal {
    inner: std::sync::Mutex<Inner>,
}

struct Inner {
    file: File,
    broken: bool,
    /// The file ends inside a line a killed run left: the next line starts a new one first.
    torn: bool,
}

fn dir(state: &Path) -> PathBuf {
    state.join("journal")
}

fn day(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()[..10].to_string()
}

/// Run ids sort by time and name their journal file: `20261126-052016-a3f9`.
pub fn new_run_id() -> String {
    let now = SystemTime::now();
    let ts = humantime::format_rfc3339_seconds(now).to_string();
    let digits: String = ts.chars().filter(|c| c.is_ascii_digit()).collect();
    let nanos = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let salt = (nanos ^ std::process::id().rotate_left(16)) & 0xffff;
    format!("{}-{}-{salt:04x}", &digits[..8], &digits[8..14])
}

impl Journal {
    pub fn open(state: &Path, run_id: &str) -> io::Result<Journal> {
        let dir = dir(state);
        crate::fsutil::ensure_dir(&dir)?;
        let day = format!("{}-{}-{}", &run_id[..4], &run_id[4..6], &run_id[6..8]);
        let path = dir.join(format!("{day}.jsonl"));
        let new = !path.exists();
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&path)?;
        if new {
            prune(&dir);
        }
        // A run killed mid-line (or a full disk) leaves a line without its end: this run's
        // first line must not be glued onto it.
        let torn = match file.metadata()?.len() {
            0 => false,
            len => {
                let mut last = [0u8];
                std::os::unix::fs::FileExt::read_exact_at(&file, &mut last, len - 1).is_ok()
                    && last[0] != b'\n'
            }
        };
        Ok(Journal {
            inner: std::sync::Mutex::new(Inner {
                file,
                broken: false,
                torn,
            }),
        })
    }
}

impl Sink for Journal {
    fn record(&self, record: &Record) {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .append(record);
    }

    fn sync(&self) {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        // Said like a failed append: the run's record may be lost to a crash.
        if !inner.broken
            && let Err(e) = inner.file.sync_data()
        {
            eprintln!("tend: warning: cannot flush the run journal to disk: {e}");
        }
    }
}

impl Inner {
    fn append(&mut self, record: &Record) {
        if self.broken {
            return;
        }
        if let Ok(mut line) = serde_json::to_vec(record) {
            line.push(b'\n');
            if std::mem::take(&mut self.torn) {
                line.insert(0, b'\n');
            }
            // One write per line with O_APPEND: concurrent runs never interleave inside a line.
            if let Err(e) = self.file.write_all(&line) {
                self.broken = true;
                eprintln!("tend: warning: cannot write the run journal: {e}");
            }
        }
    }
}

/// Drop day files older than KEEP_DAYS, then the oldest while the journal is over KEEP_BYTES
/// (a check every minute writes a few MB a day). Today's file is never removed.
fn prune(dir: &Path) {
    let cutoff = day(SystemTime::now() - Duration::from_secs(KEEP_DAYS * 86400));
    let mut files: Vec<(String, PathBuf, u64)> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().to_string();
                    let d = name
                        .strip_suffix(".jsonl")
                        .filter(|d| d.len() == 10)?
                        .to_string();
                    Some((d, e.path(), e.metadata().map_or(0, |m| m.len())))
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    let mut total: u64 = files.iter().map(|f| f.2).sum();
    let newest = files.len().saturating_sub(1);
    for (i, (d, path, len)) in files.iter().enumerate() {
        if i < newest
            && (d.as_str() < cutoff.as_str() || total > KEEP_BYTES)
            && fs::remove_file(path).is_ok()
        {
            total -= len;
        }
    }
}

fn day_files(state: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir(state))
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn read_records(path: &Path) -> Vec<Record> {
    let Ok(f) = File::open(path) else {
        return vec![];
    };
    BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect()
}

#[derive(Serialize, Debug)]
pub struct RunSummary {
    pub run: String,
    pub kind: String,
    pub name: String,
    pub started: String,
    pub host: String,
    pub user: String,
    pub status: String,
    pub exit_code: Option<i32>,
    pub elapsed_ms: Option<u64>,
    pub message: String,
}

/// Runs newest first.
pub fn list(state: &Path, kind: Option<&str>, limit: usize) -> Vec<RunSummary> {
    let mut out = vec![];
    for file in day_files(state).iter().rev() {
        let mut runs: Vec<RunSummary> = vec![];
        let mut index: HashMap<String, usize> = HashMap::new();
        for r in read_records(file) {
            match r.event {
                Event::RunStarted {
                    kind,
                    name,
                    host,
                    user,
                    pid,
                    ..
                } => {
                    index.insert(r.run.clone(), runs.len());
                    let alive = still_running(pid, &r.ts);
                    runs.push(RunSummary {
                        run: r.run,
                        kind,
                        name,
                        started: r.ts,
                        host,
                        user,
                        status: if alive {
                            "running".into()
                        } else {
                            "interrupted".into()
                        },
                        exit_code: None,
                        elapsed_ms: None,
                        message: String::new(),
                    });
                }
                Event::RunFinished {
                    status,
                    exit_code,
                    elapsed_ms,
                    message,
                } => {
                    if let Some(&i) = index.get(&r.run) {
                        let s = &mut runs[i];
                        s.status = status.label().to_string();
                        s.exit_code = Some(exit_code);
                        s.elapsed_ms = Some(elapsed_ms);
                        s.message = message;
                    }
                }
                _ => {}
            }
        }
        for s in runs.into_iter().rev() {
            if kind.is_none_or(|k| s.kind == k) {
                out.push(s);
                if out.len() >= limit {
                    return out;
                }
            }
        }
    }
    out
}

/// Whether the run that started at `since` as `pid` still runs: that pid alive, not a zombie
/// nobody reaped yet, a tend, and not a process that started after the run did (the pid given
/// again after the run died, or after a reboot).
fn still_running(pid: u32, since: &str) -> bool {
    if !crate::lock::pid_alive(pid) {
        return false;
    }
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        // No /proc to ask: the pid is alive, and that is all there is to go by.
        return true;
    };
    // `pid (comm) state ...`: the name may hold spaces and parentheses, so split at the last.
    let Some((head, rest)) = stat.rsplit_once(')') else {
        return true;
    };
    let comm = head.split_once('(').map_or("", |(_, c)| c);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if matches!(fields.first(), Some(&"Z" | &"X")) || !comm.starts_with("tend") {
        return false;
    }
    let started = fields.get(19).and_then(|t| t.parse::<u64>().ok());
    let since = humantime::parse_rfc3339_weak(since).ok();
    match (started, boot_time(), since) {
        (Some(ticks), Some(boot), Some(since)) => {
            let hz = rustix::param::clock_ticks_per_second().max(1);
            boot + Duration::from_millis(ticks * 1000 / hz) <= since + Duration::from_secs(2)
        }
        _ => true,
    }
}

/// When this machine booted, from /proc/stat's `btime`.
fn boot_time() -> Option<SystemTime> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let secs = stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
}

/// Every record of one run, in order. The run id names its day file; a run that crossed midnight
/// kept writing to the file it started in.
pub fn show(state: &Path, run: &str) -> Option<Vec<Record>> {
    if run.len() < 8 || !run[..8].chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let day = format!("{}-{}-{}", &run[..4], &run[4..6], &run[6..8]);
    let records: Vec<Record> = read_records(&dir(state).join(format!("{day}.jsonl")))
        .into_iter()
        .filter(|r| r.run == run)
        .collect();
    (!records.is_empty()).then_some(records)
}
