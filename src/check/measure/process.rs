//! Counting processes by name straight from /proc: one small read per process. (sysinfo also
//! lists every thread and parses status and stat for each process; a count needs none of it.)

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;

/// Processes whose name (or, for names longer than the kernel's 15 bytes, argv[0]'s basename)
/// is `name`, excluding this process.
pub fn count(name: &str) -> Result<u64, super::Unmeasured> {
    let me = std::process::id().to_string();
    let long = name.len() > 15;
    let entries = std::fs::read_dir("/proc")
        .map_err(|e| format!("cannot list processes: {}", crate::sys::describe_io(&e)))?;
    let mut n = 0;
    for entry in entries.flatten() {
        let pid = entry.file_name();
        if !pid.as_bytes().iter().all(u8::is_ascii_digit) || pid == OsStr::new(&me) {
            continue;
        }
        // A process that exits while we look is simply not counted.
        let mut buf = [0u8; 64];
        let Ok(len) = File::open(entry.path().join("comm")).and_then(|mut f| f.read(&mut buf))
        else {
            continue;
        };
        let comm = &buf[..len];
        let comm = comm.strip_suffix(b"\n").unwrap_or(comm);
        let hit = if long {
            comm == &name.as_bytes()[..15]
                && std::fs::read(entry.path().join("cmdline")).is_ok_and(|cmd| {
                    let argv0 = cmd.split(|b| *b == 0).next().unwrap_or_default();
                    argv0.rsplit(|b| *b == b'/').next() == Some(name.as_bytes())
                })
        } else {
            comm == name.as_bytes()
        };
        n += u64::from(hit);
    }
    Ok(n)
}
