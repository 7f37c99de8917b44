//! CPU time and resident memory of the measured processes, read from `/proc`: a process's
//! `stat` (utime + stime, all its threads, live and exited) and `status` (VmRSS), summed over
//! a process and its descendants (nginx's master and workers).

use std::fs;
use std::io;

/// Clock ticks per second in `/proc/<pid>/stat` (`USER_HZ`, fixed at 100 by the Linux ABI
/// on every mainstream architecture).
pub const CLK_TCK: u64 = 100;

/// A set of processes measured together: the roots given and all their descendants at the
/// time of the call.
#[derive(Debug, Clone, Default)]
pub struct ProcSet {
    roots: Vec<u32>,
}

impl ProcSet {
    /// Processes rooted at `roots`.
    pub fn new(roots: Vec<u32>) -> ProcSet {
        ProcSet { roots }
    }

    /// The processes the set was made of (without descendants).
    pub fn roots(&self) -> &[u32] {
        &self.roots
    }

    /// The roots and their descendants, now.
    pub fn pids(&self) -> Vec<u32> {
        if self.roots.is_empty() {
            return Vec::new();
        }
        let parents = parent_map();
        let mut out = self.roots.clone();
        let mut i = 0;
        while i < out.len() {
            let pid = out[i];
            for &(child, parent) in &parents {
                if parent == pid && !out.contains(&child) {
                    out.push(child);
                }
            }
            i += 1;
        }
        out
    }
}

/// CPU time of processes, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTime {
    /// In user space.
    pub user_us: u64,
    /// In the kernel on their behalf.
    pub sys_us: u64,
}

impl CpuTime {
    /// User plus system time.
    pub fn total_us(self) -> u64 {
        self.user_us + self.sys_us
    }

    /// The time spent between `earlier` and `self`.
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user_us: self.user_us.saturating_sub(earlier.user_us),
            sys_us: self.sys_us.saturating_sub(earlier.sys_us),
        }
    }
}

/// CPU time (user and system) in microseconds, summed over `pids`.
pub fn cpu_of(pids: &[u32]) -> io::Result<CpuTime> {
    let mut total = CpuTime::default();
    for &pid in pids {
        let (user, sys) = cpu_ticks(pid)?;
        total.user_us += user * (1_000_000 / CLK_TCK);
        total.sys_us += sys * (1_000_000 / CLK_TCK);
    }
    Ok(total)
}

/// CPU time of one thread (`tid`) of process `pid`.
pub fn cpu_of_thread(pid: u32, tid: u32) -> io::Result<CpuTime> {
    let text = fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat"))?;
    let (user, sys) = ticks_of(&text, pid)?;
    Ok(CpuTime {
        user_us: user * (1_000_000 / CLK_TCK),
        sys_us: sys * (1_000_000 / CLK_TCK),
    })
}

/// Resident memory in KiB, summed over `pids`.
pub fn rss_kib_of(pids: &[u32]) -> io::Result<u64> {
    let mut total = 0;
    for &pid in pids {
        total += rss_kib(pid)?;
    }
    Ok(total)
}

/// The fields of `/proc/<pid>/stat` after the command name, which may hold spaces.
fn stat_fields(pid: u32) -> io::Result<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    fields_of(&text, pid)
}

fn fields_of(text: &str, pid: u32) -> io::Result<Vec<String>> {
    let after = text
        .rfind(')')
        .map(|i| &text[i + 1..])
        .ok_or_else(|| io::Error::other(format!("unexpected /proc/{pid}/stat")))?;
    Ok(after.split_whitespace().map(str::to_string).collect())
}

/// (utime, stime) of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> io::Result<(u64, u64)> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    ticks_of(&text, pid)
}

/// (utime, stime) from the text of a `stat` file.
fn ticks_of(text: &str, pid: u32) -> io::Result<(u64, u64)> {
    // Fields after ')': state(3) ppid(4) ... utime(14) stime(15), so utime is index 11.
    let fields = fields_of(text, pid)?;
    let field = |i: usize| -> io::Result<u64> {
        fields
            .get(i)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| io::Error::other(format!("no field {i} in /proc/{pid}/stat")))
    };
    Ok((field(11)?, field(12)?))
}

/// Resident set size of a process in KiB (`VmRSS`).
pub fn rss_kib(pid: u32) -> io::Result<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status"))?;
    text.lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

/// (pid, parent pid) of every process.
fn parent_map() -> Vec<(u32, u32)> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        // A process may exit between listing and reading: skip it.
        if let Ok(fields) = stat_fields(pid)
            && let Some(ppid) = fields.get(1).and_then(|f| f.parse().ok())
        {
            out.push((pid, ppid));
        }
    }
    out
}

/// The machine's idle and total CPU time so far, in clock ticks (the `cpu` line of
/// `/proc/stat`; idle includes iowait).
fn machine_ticks() -> io::Result<(u64, u64)> {
    let text = fs::read_to_string("/proc/stat")?;
    let line = text
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| io::Error::other("/proc/stat has no cpu line"))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|t| t.parse().ok())
        .collect();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    Ok((idle, ticks.iter().sum()))
}

/// Waits until the machine is quiet: the share of CPU time spent idle over `sample` is at
/// least `idle`, or `limit` has passed. Returns the last idle share seen, if `/proc/stat`
/// could be read.
pub async fn wait_for_quiet(
    idle: f64,
    sample: std::time::Duration,
    limit: std::time::Duration,
) -> Option<f64> {
    let deadline = std::time::Instant::now() + limit;
    loop {
        let before = machine_ticks().ok()?;
        tokio::time::sleep(sample).await;
        let after = machine_ticks().ok()?;
        let total = after.1.saturating_sub(before.1);
        let share = if total == 0 {
            1.0
        } else {
            after.0.saturating_sub(before.0) as f64 / total as f64
        };
        if share >= idle || std::time::Instant::now() >= deadline {
            return Some(share);
        }
    }
}

/// The soft limit on open files of this process (`Max open files` in `/proc/self/limits`).
pub fn open_files_limit() -> Option<u64> {
    let text = fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// How many established TCP connections have local port `port` (a server's accepted
/// connections), from `/proc/net/tcp` and `/proc/net/tcp6`; 0 when they cannot be read.
pub fn established_on(port: u16) -> u64 {
    let want = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| fs::read_to_string(path).ok())
        .map(|text| {
            text.lines()
                .skip(1)
                .filter(|line| {
                    let mut fields = line.split_whitespace();
                    let local = fields.nth(1).unwrap_or_default();
                    // `st` is the fourth field; 01 is ESTABLISHED.
                    let state = fields.nth(1).unwrap_or_default();
                    local.ends_with(&want) && state == "01"
                })
                .count() as u64
        })
        .sum()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn own_process_has_cpu_and_memory() {
        let me = ProcSet::new(vec![std::process::id()]);
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(rss_kib_of(&me.pids()).unwrap() > 0);
        let cpu = cpu_of(&me.pids()).unwrap();
        let me_id = std::process::id();
        assert!(cpu_of_thread(me_id, me_id).unwrap().total_us() <= cpu.total_us());
        assert!(cpu.since(CpuTime::default()).total_us() == cpu.total_us());
        assert!(open_files_limit().unwrap() > 0);
        let (idle, total) = machine_ticks().unwrap();
        assert!(total >= idle && total > 0);
    }
}
