use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use rustix::process::Signal;

use super::{Exited, Machine};
use crate::sh::{kill_group, spawn};

/// This machine: commands run as `sh -c` children in their own process group, so a timeout
/// stops the whole pipeline, not just the shell.
pub struct Local;

enum Msg {
    Line(String),
    Eof,
    Exit(Option<i32>),
}

fn pump(r: impl Read + Send + 'static, tx: mpsc::Sender<Msg>) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(r);
        let mut buf = Vec::new();
        while let Ok(n) = reader.read_until(b'\n', &mut buf) {
            if n == 0 {
                break;
            }
            let line = String::from_utf8_lossy(&buf)
                .trim_end_matches(['\n', '\r'])
                .to_string();
            if tx.send(Msg::Line(line)).is_err() {
                return;
            }
            buf.clear();
        }
        let _ = tx.send(Msg::Eof);
    });
}

impl Machine for Local {
    fn run(
        &self,
        cmd: &str,
        timeout: Duration,
        on_line: &mut dyn FnMut(&str),
    ) -> io::Result<Exited> {
        let (mut child, _running) = spawn(cmd, None)?;
        crate::crash::during();
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        pump(child.stdout.take().expect("piped"), tx.clone());
        pump(child.stderr.take().expect("piped"), tx.clone());
        std::thread::spawn(move || {
            let code = child
                .wait()
                .ok()
                .and_then(|s| s.code().or_else(|| s.signal().map(|s| 128 + s)));
            let _ = tx.send(Msg::Exit(code));
        });
        let deadline = Instant::now() + timeout;
        let mut timed_out = false;
        let mut interrupted = false;
        let mut exit: Option<Option<i32>> = None;
        let mut open_pipes = 2;
        // After exit, output still in the pipes is drained; a background child that keeps them
        // open (`app &`) must not hold the step, so draining stops shortly after.
        let mut drain_until: Option<Instant> = None;
        while exit.is_none() || open_pipes > 0 {
            let until = drain_until.unwrap_or(deadline);
            // Woken every 50 ms to notice a stop signal: the step is stopped like a timeout.
            let wait = until
                .saturating_duration_since(Instant::now())
                .min(Duration::from_millis(50));
            if !interrupted && !timed_out && exit.is_none() && crate::interrupt::armed() {
                interrupted = true;
                timed_out = true;
                kill_group(pid, Signal::TERM);
                drain_until = Some(Instant::now() + Duration::from_secs(2));
                continue;
            }
            match rx.recv_timeout(wait) {
                Ok(Msg::Line(l)) => on_line(&l),
                Ok(Msg::Eof) => open_pipes -= 1,
                Ok(Msg::Exit(code)) => {
                    exit = Some(code);
                    drain_until = Some(Instant::now() + Duration::from_millis(200));
                }
                Err(_) if exit.is_some() => break,
                Err(_) if Instant::now() < until => {}
                Err(_) if !timed_out => {
                    timed_out = true;
                    kill_group(pid, Signal::TERM);
                    let grace = Instant::now() + Duration::from_secs(2);
                    drain_until = Some(grace);
                }
                Err(_) => {
                    kill_group(pid, Signal::KILL);
                    drain_until = Some(Instant::now() + Duration::from_secs(5));
                }
            }
        }
        if timed_out {
            // The shell may be gone while the rest of its group ignores TERM or is still in its
            // trap: the step is over only when the whole group is, or its `down` could run
            // beside it. What is left after the grace is killed.
            crate::procs::end_groups(&[pid as i32], Duration::from_secs(2));
        }
        let code = if timed_out { None } else { exit.flatten() };
        Ok(Exited {
            code,
            timed_out: timed_out && !interrupted,
            interrupted,
        })
    }

    fn read_file(&self, path: &Path) -> io::Result<Option<(Vec<u8>, u32)>> {
        self.read_file_impl(path)
    }

    fn put_line(&self, path: &Path, line: &str, append: bool) -> io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .mode(0o600)
            .open(path)?;
        f.write_all(format!("{line}\n").as_bytes())
    }

    fn real_path(&self, path: &Path) -> io::Result<std::path::PathBuf> {
        Ok(crate::fsutil::real_path(path))
    }

    fn read_config(&self, dest: &Path, root: Option<&Path>) -> io::Result<super::ConfigDest> {
        self.read_config_impl(dest, root)
    }

    fn write_file(&self, path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
        self.write_file_impl(path, bytes, mode)
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.remove_file_impl(path)
    }

    fn create_dirs(&self, path: &Path, mode: Option<u32>) -> io::Result<()> {
        self.create_dirs_impl(path, mode)
    }

    fn is_dir(&self, path: &Path) -> bool {
        std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
    }

    fn exists(&self, path: &Path) -> bool {
        std::fs::symlink_metadata(path).is_ok()
    }

    fn read_link(&self, path: &Path) -> Option<std::path::PathBuf> {
        self.read_link_impl(path)
    }

    fn replace_symlink(&self, link: &Path, to: &Path) -> io::Result<()> {
        self.replace_symlink_impl(link, to)
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.rename_impl(from, to)
    }

    fn rename_lazy(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }

    fn remove_tree(&self, path: &Path) -> io::Result<()> {
        self.remove_tree_impl(path)
    }

    fn list_dir(&self, path: &Path) -> io::Result<Vec<String>> {
        self.list_dir_impl(path)
    }

    fn unpack(
        &self,
        archive: &mut (dyn Read + Send),
        _len: Option<u64>,
        dest: &Path,
        strip: usize,
        limit: u64,
    ) -> Result<u64, super::UnpackError> {
        self.unpack_impl(archive, dest, strip, limit)
    }

    fn sync_all(&self, path: &Path) -> io::Result<()> {
        self.sync_all_impl(path)
    }
}
