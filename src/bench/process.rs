//! Child processes the bench measures: the emulator it loads (a process of
//! its own, so that its CPU and memory are not the client's) and the
//! commands whose wall time and peak memory are figures (`ipconform run`,
//! `ipconform lint`, `cargo test`, `cargo nextest`).

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// An `ipconform emulate` serving a world file on a free loopback port;
/// stopped (killed and reaped) and its world file removed when dropped.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    world: PathBuf,
    /// Kept open while it runs: a later write to a closed pipe would end it.
    _stdout: BufReader<ChildStdout>,
}

impl Server {
    /// Writes `world` to a temporary file and serves it with `exe`.
    pub fn start(exe: &Path, name: &str, world: &str) -> Result<Server, String> {
        let path = std::env::temp_dir().join(format!(
            "ipconform-bench-{}-{name}.yaml",
            std::process::id()
        ));
        std::fs::write(&path, world)
            .map_err(|e| format!("failed to write {}: {e}", path.display()))?;
        let mut child = Command::new(exe)
            .args(["emulate", "--listen", "127.0.0.1:0", "--world"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("failed to start {} emulate: {e}", exe.display()))?;
        let (Some(stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("the emulator's output is not piped".into());
        };
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        let _ = stdout.read_line(&mut line);
        // `emulate` prints `listening on http://ADDR` before anything else.
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.parse::<SocketAddr>().ok());
        let Some(addr) = addr else {
            let _ = child.kill();
            let _ = child.wait();
            let mut why = String::new();
            let _ = stderr.read_to_string(&mut why);
            let _ = std::fs::remove_file(&path);
            return Err(format!(
                "the emulator did not start: {}{}",
                line.trim(),
                why.trim()
            ));
        };
        // Drained so that a chatty emulator never blocks on a full pipe.
        std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Ok(Server {
            child,
            addr,
            world: path,
            _stdout: stdout,
        })
    }

    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The emulator's resident memory now, in KiB (Linux; `None` elsewhere).
    pub fn rss_kib(&self) -> Option<u64> {
        proc_status_kib(self.child.id(), "VmRSS:")
    }

    /// The emulator's peak resident memory so far, in KiB.
    pub fn peak_kib(&self) -> Option<u64> {
        proc_status_kib(self.child.id(), "VmHWM:")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.world);
    }
}

fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// How a measured command ended.
#[derive(Debug, Clone, Copy)]
pub struct Exit {
    pub wall: Duration,
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
}

/// Runs `command` (its output discarded) and measures its wall time.
pub fn measure(command: &mut Command) -> Result<Exit, String> {
    measure_within(command, None).map(|(exit, _)| exit)
}

/// Like [`measure`], for a long command: stopped, with everything it
/// started, once it has run for `limit`; `true` then.
pub fn measure_within(
    command: &mut Command,
    limit: Option<Duration>,
) -> Result<(Exit, bool), String> {
    // A group of its own, so that stopping it stops what it started too
    // (cargo runs cargo-nextest, which runs the tests).
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(command, 0);
    let started = Instant::now();
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("failed to start {command:?}: {e}"))?;
    let mut stopped = false;
    let status = loop {
        let Some(limit) = limit else {
            // One blocking wait: the wall time is exact.
            break child.wait();
        };
        // Polled: such commands run for seconds, 10 ms is nothing.
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) if started.elapsed() >= limit && !stopped => {
                stop_group(&mut child);
                stopped = true;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => break Err(e),
        }
    }
    .map_err(|e| format!("failed to wait for {command:?}: {e}"))?;
    Ok((
        Exit {
            wall: started.elapsed(),
            code: status.code(),
        },
        stopped,
    ))
}

#[cfg(unix)]
fn stop_group(child: &mut Child) {
    // SAFETY: a plain syscall; the group is the one made for this child,
    // which is not reaped yet, so its id names nothing else.
    unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
}

#[cfg(not(unix))]
fn stop_group(child: &mut Child) {
    let _ = child.kill();
}

/// The peak memory of `program args`, in KiB, from GNU time, when
/// `/usr/bin/time` is GNU's; `None` otherwise.
///
/// Not from `wait4` or `getrusage(RUSAGE_CHILDREN)`: Linux counts, in a
/// child's peak, the memory of the process that spawned it at the moment
/// of the spawn (the address space it leaves at `exec`), so a child of the
/// bench would report the bench's own size. GNU time spawns from a process
/// of a few hundred KiB.
pub fn peak_rss_kib(program: &Path, args: &[&str], dir: &Path) -> Option<u64> {
    let time = Path::new("/usr/bin/time");
    if !time.is_file() {
        return None;
    }
    let out = std::env::temp_dir().join(format!("ipconform-bench-{}-time", std::process::id()));
    Command::new(time)
        .args(["-f", "%M", "-o"])
        .arg(&out)
        .arg(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    let text = std::fs::read_to_string(&out).ok();
    let _ = std::fs::remove_file(&out);
    // GNU time writes "Command exited with non-zero status N" first when
    // the command fails; the figure is the last line either way.
    text?.lines().last()?.trim().parse().ok()
}

/// Whether `program` runs here (`cargo`, `cargo nextest`).
pub fn available(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
