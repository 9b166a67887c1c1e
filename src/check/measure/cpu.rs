use std::time::Duration;

use sysinfo::{CpuRefreshKind, RefreshKind, System};

/// Percent of CPU time busy across all CPUs over `sample`.
pub fn busy_percent(sample: Duration) -> Result<f64, super::Unmeasured> {
    let mut sys = System::new_with_specifics(
        RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing().with_usage()),
    )
    .map_err(|e| format!("cannot read CPU statistics: {e}"))?;
    sys.refresh_cpu_usage();
    std::thread::sleep(sample);
    sys.refresh_cpu_usage();
    Ok(f64::from(sys.global_cpu_usage()))
}

pub fn count() -> usize {
    System::new_with_specifics(RefreshKind::nothing().with_cpu(CpuRefreshKind::nothing()))
        .map(|s| s.cpus().len())
        .ok()
        .filter(|n| *n > 0)
        .or_else(|| std::thread::available_parallelism().ok().map(usize::from))
        .unwrap_or(1)
}

pub fn load() -> Result<[f64; 3], super::Unmeasured> {
    let l = System::load_average().map_err(|e| format!("cannot read load average: {e}"))?;
    Ok([l.one, l.five, l.fifteen])
}
