//! A throwaway PostgreSQL cluster for `pgflight demo`: a fresh directory under the system's
//! temp dir, `initdb` with a random SCRAM password, a free port on 127.0.0.1, no Unix socket.
//! As root PostgreSQL runs as the unprivileged `postgres` OS user (it refuses to run as root).
//! Dropping the cluster stops PostgreSQL and removes the directory; a watchdog process does
//! the same should pgflight itself be killed.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::error::DemoError;

/// The superuser the cluster is created with.
pub const SUPERUSER: &str = "postgres";

/// A running throwaway cluster.
pub struct DemoCluster {
    /// Its directory (data, log); removed on drop.
    pub dir: PathBuf,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// The superuser's password (random).
    pub password: String,
    postgres: Child,
}

impl DemoCluster {
    /// Creates and starts a cluster with the server binaries in `bin`.
    pub fn start(bin: &Path) -> Result<DemoCluster, DemoError> {
        let user = unprivileged_user()?;
        let dir = make_dir()?;
        // From here on, a failure removes what was made.
        let mut guard = DirGuard(Some(dir.clone()));
        let password = random_hex(16)?;
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, &password).map_err(DemoError::io("cannot write", &pwfile))?;
        if let Some((uid, gid)) = user {
            chown_tree(&dir, uid, gid)?;
        }
        let data = dir.join("data");
        let out = as_user(Command::new(bin.join("initdb")), user, &dir)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .map_err(|source| DemoError::Spawn {
                command: "initdb".into(),
                source,
            })?;
        let _ = std::fs::remove_file(&pwfile);
        if !out.status.success() {
            return Err(DemoError::CommandFailed {
                command: "initdb".into(),
                status: out.status,
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        let port = free_port()?;
        let settings = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n\
             lc_messages = 'C'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        );
        append(&data.join("postgresql.conf"), &settings)?;
        let log_path = dir.join("postgres.log");
        let log =
            std::fs::File::create(&log_path).map_err(DemoError::io("cannot create", &log_path))?;
        if let Some((uid, gid)) = user {
            chown_tree(&log_path, uid, gid)?;
        }
        let postgres = as_user(Command::new(bin.join("postgres")), user, &dir)
            .arg("-D")
            .arg(&data)
            .stdin(Stdio::null())
            .stdout(
                log.try_clone()
                    .map_err(DemoError::io("cannot reopen", &log_path))?,
            )
            .stderr(log)
            // Its own process group: a Ctrl-C in the terminal reaches pgflight, which then
            // stops PostgreSQL in order.
            .process_group(0)
            .spawn()
            .map_err(DemoError::PostgresSpawn)?;
        let dir = guard.0.take().expect("guarded dir");
        let mut cluster = DemoCluster {
            dir,
            port,
            password,
            postgres,
        };
        spawn_watchdog(&cluster.dir);
        cluster.wait_ready(&log_path)?;
        Ok(cluster)
    }

    fn wait_ready(&mut self, log: &Path) -> Result<(), DemoError> {
        let waited = Duration::from_secs(60);
        let deadline = Instant::now() + waited;
        loop {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            if text.contains("ready to accept connections") {
                return Ok(());
            }
            if let Ok(Some(status)) = self.postgres.try_wait() {
                return Err(DemoError::PostgresExited { status, log: text });
            }
            if Instant::now() > deadline {
                return Err(DemoError::StartTimeout { waited, log: text });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops PostgreSQL (fast shutdown, SIGKILL after 15 s) and removes the directory.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if matches!(self.postgres.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-INT", &self.postgres.id().to_string()])
                .status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while matches!(self.postgres.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.postgres.kill();
            let _ = self.postgres.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Drop for DemoCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Removes a half-made cluster directory.
struct DirGuard(Option<PathBuf>);

impl Drop for DirGuard {
    fn drop(&mut self) {
        if let Some(dir) = self.0.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// As root: (uid, gid) of the `postgres` OS user, which PostgreSQL runs as. Otherwise None.
fn unprivileged_user() -> Result<Option<(u32, u32)>, DemoError> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|source| DemoError::Spawn {
            command: "id".into(),
            source,
        })?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Ok(None);
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let fields: Vec<&str> = passwd
        .lines()
        .find(|l| l.starts_with("postgres:"))
        .ok_or(DemoError::NoPostgresUser)?
        .split(':')
        .collect();
    let parse = |i: usize| fields.get(i).and_then(|f| f.parse::<u32>().ok());
    match (parse(2), parse(3)) {
        (Some(uid), Some(gid)) => Ok(Some((uid, gid))),
        _ => Err(DemoError::PostgresUserUnreadable),
    }
}

fn as_user(mut command: Command, user: Option<(u32, u32)>, cwd: &Path) -> Command {
    command.current_dir(cwd);
    if let Some((uid, gid)) = user {
        command.uid(uid).gid(gid);
    }
    command
}

fn make_dir() -> Result<PathBuf, DemoError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!("pgflight-demo-{}-{nanos}", std::process::id()));
    std::fs::create_dir(&dir).map_err(DemoError::io("cannot create", &dir))?;
    Ok(dir)
}

fn chown_tree(path: &Path, uid: u32, gid: u32) -> Result<(), DemoError> {
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{gid}"))
        .arg(path)
        .status()
        .map_err(|source| DemoError::Spawn {
            command: "chown".into(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(DemoError::ChownFailed {
            path: path.to_path_buf(),
            status,
        })
    }
}

fn append(path: &Path, text: &str) -> Result<(), DemoError> {
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(DemoError::io("cannot write", path))
}

fn free_port() -> Result<u16, DemoError> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(DemoError::NoFreePort)
}

/// `bytes` random bytes from the kernel, as hex.
fn random_hex(bytes: usize) -> Result<String, DemoError> {
    let mut buf = vec![0u8; bytes];
    let urandom = Path::new("/dev/urandom");
    std::fs::File::open(urandom)
        .and_then(|mut f| f.read_exact(&mut buf))
        .map_err(DemoError::io("cannot read", urandom))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A shell loop that waits for this process to end, then stops PostgreSQL and removes the
/// cluster's directory: nothing is left behind even when pgflight is killed with SIGKILL.
/// The pid comes from `postmaster.pid`, so after a clean stop (file and directory gone) it
/// signals nothing.
fn spawn_watchdog(dir: &Path) {
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; \
         pg=$(head -n 1 '{dir}/data/postmaster.pid' 2>/dev/null); \
         if [ -n \"$pg\" ]; then kill -INT $pg 2>/dev/null; \
           for i in $(seq 1 30); do kill -0 $pg 2>/dev/null || break; sleep 0.5; done; \
           kill -KILL $pg 2>/dev/null; fi; \
         [ -d '{dir}' ] && rm -rf '{dir}'",
        me = std::process::id(),
        dir = dir.display()
    );
    // Not waited for: it must outlive this process. Its exit status is of no interest.
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
}
