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
    /// Peak resident memory of the process itself (not its children's
    /// children), in KiB; `None` where the OS does not say.
    pub max_rss_kib: Option<u64>,
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
}

/// Runs `command` (its output discarded) and measures its wall time and,
/// on Unix, its own peak memory, from `wait4`: per child, where
/// `getrusage(RUSAGE_CHILDREN)` would give the largest of every child so far.
pub fn measure(command: &mut Command) -> Result<Exit, String> {
    let started = Instant::now();
    let mut child = spawn_quiet(command)?;
    wait(&mut child, started, None).map(|(exit, _)| exit)
}

/// Like [`measure`], for a long command: stopped, with everything it
/// started, once it has run for `limit`; `true` then.
pub fn measure_within(command: &mut Command, limit: Duration) -> Result<(Exit, bool), String> {
    // A group of its own, so that stopping it stops what it started too
    // (cargo runs cargo-nextest, which runs the tests).
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(command, 0);
    let started = Instant::now();
    let mut child = spawn_quiet(command)?;
    wait(&mut child, started, Some(limit))
}

fn spawn_quiet(command: &mut Command) -> Result<Child, String> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("failed to start {command:?}: {e}"))
}

#[cfg(unix)]
fn wait(
    child: &mut Child,
    started: Instant,
    limit: Option<Duration>,
) -> Result<(Exit, bool), String> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data that wait4 fills in; zeroed is a
    // valid value of it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let mut stopped = false;
    let reaped = loop {
        // Polled when there is a limit (such commands run for seconds, so
        // 10 ms of granularity is nothing); else one blocking wait, exact.
        let flags = if limit.is_some() && !stopped {
            libc::WNOHANG
        } else {
            0
        };
        // SAFETY: `pid` is our own child, not yet reaped (std reaps only
        // in `wait`/`try_wait`, never called on it); the pointers are to
        // live locals of the right types.
        let r = unsafe { libc::wait4(pid, &mut status, flags, &mut usage) };
        if r == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        if r != 0 {
            break r;
        }
        if limit.is_some_and(|l| started.elapsed() >= l) {
            // SAFETY: a plain syscall on the process group this function
            // made for its own child, which is not reaped yet.
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            stopped = true;
        } else {
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let wall = started.elapsed();
    if reaped != pid {
        return Err(format!(
            "failed to wait for process {pid}: {}",
            std::io::Error::last_os_error()
        ));
    }
    // Linux reports KiB; macOS and the BSDs bytes.
    let rss = usage.ru_maxrss.max(0) as u64;
    let rss = if cfg!(any(target_os = "macos", target_os = "ios")) {
        rss / 1024
    } else {
        rss
    };
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Ok((
        Exit {
            wall,
            max_rss_kib: Some(rss),
            code,
        },
        stopped,
    ))
}

#[cfg(not(unix))]
fn wait(
    child: &mut Child,
    started: Instant,
    limit: Option<Duration>,
) -> Result<(Exit, bool), String> {
    let mut stopped = false;
    let status = loop {
        match limit {
            None => break child.wait(),
            Some(l) => match child.try_wait() {
                Ok(Some(status)) => break Ok(status),
                Ok(None) if started.elapsed() >= l && !stopped => {
                    let _ = child.kill();
                    stopped = true;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                Err(e) => break Err(e),
            },
        }
    }
    .map_err(|e| format!("failed to wait for the process: {e}"))?;
    Ok((
        Exit {
            wall: started.elapsed(),
            max_rss_kib: None,
            code: status.code(),
        },
        stopped,
    ))
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
