//! A throwaway PostgreSQL cluster started from installed server binaries: free port, SCRAM
//! passwords, TLS with certificates made for the run, `pg_hba.conf` lines for every sslmode
//! and for client-certificate login. As root, PostgreSQL runs as the `postgres` OS user.
//! A watchdog process stops the server and removes its files when the test process exits.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pgflight::config::{Config, SslMode};
use secrecy::SecretString;

use super::certs::Certs;

/// The superuser's password.
pub const SUPERUSER_PASSWORD: &str = "super-secret-pw";
/// The password of every other password role.
pub const ROLE_PASSWORD: &str = "role-secret-pw";
/// The read-only role pgflight serves as in tests ([`Cluster::config`]): it may SELECT every
/// table the superuser creates in a test database (default privileges set by
/// [`Cluster::create_db`]), and nothing more.
pub const READER: &str = "reader";

/// A running cluster.
pub struct Cluster {
    /// TCP port on 127.0.0.1 (and 127.0.0.2).
    pub port: u16,
    /// TLS material.
    pub certs: Certs,
    /// `server_version_num`.
    pub version_num: i32,
    /// The cluster's directory (data, logs, certificates).
    pub dir: PathBuf,
    bin: PathBuf,
    user: Option<(u32, u32)>,
    next_db: AtomicUsize,
}

/// Where the PostgreSQL server binaries are: `PG_BIN`, `pg_config --bindir`, or the newest
/// `/usr/lib/postgresql/*/bin` (the same search `pgflight demo` makes, without its download).
pub fn find_bin() -> PathBuf {
    match pgflight::demo::binaries::installed() {
        Ok(Some(found)) => found.bin,
        Ok(None) => panic!(
            "No PostgreSQL server binaries found. Install them (Debian/Ubuntu: `apt-get install -y postgresql`), \
             or point PG_BIN at a directory holding initdb and postgres (see scripts/pg-versions.sh)."
        ),
        Err(err) => panic!("{err}"),
    }
}

/// (uid, gid) of the `postgres` OS user, when running as root.
fn postgres_user() -> Option<(u32, u32)> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let line = passwd.lines().find(|l| l.starts_with("postgres:")).unwrap_or_else(|| {
        panic!("running as root, but there is no `postgres` OS user to run PostgreSQL as (useradd --system postgres)")
    });
    let fields: Vec<&str> = line.split(':').collect();
    Some((fields[2].parse().unwrap(), fields[3].parse().unwrap()))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn run_as(program: &Path, user: Option<(u32, u32)>, cwd: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(cwd);
    if let Some((uid, gid)) = user {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

impl Cluster {
    /// Creates and starts a new cluster, then creates the test roles.
    pub async fn start() -> Cluster {
        let bin = find_bin();
        let user = postgres_user();
        let dir = tempfile::Builder::new()
            .prefix("pgflight-test-")
            .tempdir()
            .unwrap()
            .keep();
        let data = dir.join("data");
        let certs = Certs::generate(&dir);
        let pwfile = dir.join("pwfile");
        std::fs::write(&pwfile, SUPERUSER_PASSWORD).unwrap();
        if let Some((uid, gid)) = user {
            let status = Command::new("chown")
                .arg("-R")
                .arg(format!("{uid}:{gid}"))
                .arg(&dir)
                .status()
                .unwrap();
            assert!(status.success(), "chown of {} failed", dir.display());
        }
        let out = run_as(&bin.join("initdb"), user, &dir)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1,127.0.0.2'\nunix_socket_directories = ''\n\
             max_connections = 200\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\nssl_ca_file = '{}'\n\
             lc_messages = 'C'\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
             shared_buffers = 64MB\n",
            certs.server_cert.display(),
            certs.server_key.display(),
            certs.ca.display()
        );
        append(&data.join("postgresql.conf"), &conf);
        std::fs::write(
            data.join("pg_hba.conf"),
            "hostnossl all sslonly 0.0.0.0/0 reject\n\
             hostssl all certuser 127.0.0.1/32 cert\n\
             host all all 127.0.0.0/8 scram-sha-256\n",
        )
        .unwrap();
        if let Some((uid, gid)) = user {
            Command::new("chown")
                .arg(format!("{uid}:{gid}"))
                .arg(data.join("pg_hba.conf"))
                .status()
                .unwrap();
        }
        let mut cluster = Cluster {
            port,
            certs,
            version_num: 0,
            dir,
            bin,
            user,
            next_db: AtomicUsize::new(0),
        };
        cluster.run_postgres();
        spawn_watchdog(&cluster.dir);
        let admin = cluster.admin("postgres").await;
        let setup = format!(
            "CREATE ROLE {READER} LOGIN PASSWORD '{ROLE_PASSWORD}';
             CREATE ROLE sslonly LOGIN PASSWORD '{ROLE_PASSWORD}';
             CREATE ROLE certuser LOGIN;
             CREATE ROLE tokyo LOGIN PASSWORD '{ROLE_PASSWORD}';
             ALTER ROLE tokyo SET timezone = 'Asia/Tokyo';
             ALTER ROLE tokyo SET datestyle = 'SQL, DMY';"
        );
        admin.batch_execute(&setup).await.unwrap();
        let row = admin
            .query_one("SELECT current_setting('server_version_num')::int", &[])
            .await
            .unwrap();
        cluster.version_num = row.get(0);
        cluster
    }

    /// Starts the postmaster and waits until it accepts connections.
    #[expect(
        clippy::zombie_processes,
        reason = "PostgreSQL outlives this call; the watchdog stops it when the tests end"
    )]
    fn run_postgres(&self) {
        let log_path = self.dir.join("postgres.log");
        let log_offset = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0) as usize;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .unwrap();
        run_as(&self.bin.join("postgres"), self.user, &self.dir)
            .arg("-D")
            .arg(self.dir.join("data"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        wait_ready(&log_path, self.port, log_offset);
    }

    /// A cluster of a test's own that counts statements with pg_stat_statements (every
    /// statement, nested ones too); each database made by [`Cluster::create_db`] needs
    /// `CREATE EXTENSION pg_stat_statements`.
    pub async fn start_with_statement_stats() -> Cluster {
        let cluster = Cluster::start().await;
        let conf = cluster.dir.join("data").join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str(
            "\nshared_preload_libraries = 'pg_stat_statements'\npg_stat_statements.track = 'all'\n\
             pg_stat_statements.track_planning = on\n",
        );
        std::fs::write(&conf, text).unwrap();
        cluster.stop();
        cluster.start_again();
        cluster
    }

    /// A cluster of a test's own with `wal_level = logical` (change data capture), the reader
    /// role given REPLICATION, and `synchronous_commit = on`: a change read includes only
    /// flushed (durable) transactions, so a test that reads right after a commit needs it.
    pub async fn start_logical() -> Cluster {
        let cluster = Cluster::start().await;
        let conf = cluster.dir.join("data").join("postgresql.conf");
        let mut text = std::fs::read_to_string(&conf).unwrap();
        text.push_str("\nwal_level = logical\nmax_replication_slots = 20\nmax_wal_senders = 20\nsynchronous_commit = on\n");
        std::fs::write(&conf, text).unwrap();
        cluster.stop();
        cluster.start_again();
        cluster
            .admin("postgres")
            .await
            .batch_execute(&format!("ALTER ROLE {READER} REPLICATION"))
            .await
            .unwrap();
        cluster
    }

    /// Stops PostgreSQL (fast shutdown: sessions are terminated) and waits until it is down
    /// (its `postmaster.pid` removed). Only for a cluster of the test's own
    /// ([`Cluster::start`]), never the shared one.
    pub fn stop(&self) {
        let pid_file = self.dir.join("data").join("postmaster.pid");
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let pid = pid.lines().next().unwrap().trim().to_string();
        Command::new("kill").args(["-INT", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while pid_file.exists() {
            assert!(Instant::now() < deadline, "PostgreSQL did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts a stopped cluster again on the same port.
    pub fn start_again(&self) {
        self.run_postgres();
    }

    /// A superuser client (read-write, no TLS) on `database`, for fixtures and assertions.
    pub async fn admin(&self, database: &str) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user("postgres")
            .password(SUPERUSER_PASSWORD)
            .dbname(database)
            .application_name("pgflight-test-admin")
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("admin connection to {database}: {e}"));
        tokio::spawn(connection);
        client
    }

    /// Creates a fresh database for one test, in which [`READER`] may use every schema and
    /// SELECT every table, view and sequence the superuser creates (default privileges).
    pub async fn create_db(&self, prefix: &str) -> String {
        let n = self.next_db.fetch_add(1, Ordering::SeqCst);
        let name = format!("{prefix}_{}_{n}", std::process::id());
        let admin = self.admin("postgres").await;
        admin
            .batch_execute(&format!("CREATE DATABASE \"{name}\""))
            .await
            .unwrap();
        self.admin(&name)
            .await
            .batch_execute(&format!(
                "ALTER DEFAULT PRIVILEGES GRANT USAGE ON SCHEMAS TO {READER};
                 ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO {READER};
                 ALTER DEFAULT PRIVILEGES GRANT SELECT ON SEQUENCES TO {READER};"
            ))
            .await
            .unwrap();
        name
    }

    /// A fresh database with `sql` run in it, and its superuser client.
    pub async fn fixture(&self, prefix: &str, sql: &str) -> (String, tokio_postgres::Client) {
        let db = self.create_db(prefix).await;
        let admin = self.admin(&db).await;
        admin
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("fixture SQL for {db}: {e}"));
        (db, admin)
    }

    /// pgflight configuration for the read-only role [`READER`] on `database`, without TLS.
    pub fn config(&self, database: &str) -> Config {
        let mut config = Config::new("127.0.0.1", self.port, database, READER);
        config.password = Some(SecretString::from(ROLE_PASSWORD));
        config.sslmode = SslMode::Disable;
        config
    }

    /// pgflight configuration for the superuser on `database`, without TLS, with
    /// `allow_superuser` (for tests of what only a superuser may do, and of the refusal).
    pub fn superuser_config(&self, database: &str) -> Config {
        let mut config = self.config(database);
        config.username = "postgres".into();
        config.password = Some(SecretString::from(SUPERUSER_PASSWORD));
        config.allow_superuser = true;
        config
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

/// Waits until the server log, past byte `offset`, says that it accepts connections.
fn wait_ready(log: &Path, port: u16, offset: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read(log).unwrap_or_default();
        let text = String::from_utf8_lossy(text.get(offset..).unwrap_or_default()).to_string();
        if text.contains("ready to accept connections") {
            return;
        }
        assert!(
            Instant::now() < deadline && !text.contains("database system is shut down"),
            "PostgreSQL on port {port} did not start; its log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A shell loop that waits for this test process to end, then stops PostgreSQL (the pid in
/// `postmaster.pid`, which survives restarts; fast shutdown, SIGKILL after 10 s) and removes
/// the cluster's directory.
#[expect(
    clippy::zombie_processes,
    reason = "the watchdog must outlive the test process"
)]
fn spawn_watchdog(dir: &Path) {
    let script = format!(
        "while kill -0 {me} 2>/dev/null; do sleep 0.5; done; \
         pg=$(head -n 1 '{dir}/data/postmaster.pid' 2>/dev/null); \
         if [ -n \"$pg\" ]; then kill -INT $pg 2>/dev/null; \
           for i in $(seq 1 20); do kill -0 $pg 2>/dev/null || break; sleep 0.5; done; \
           kill -KILL $pg 2>/dev/null; fi; rm -rf '{dir}'",
        me = std::process::id(),
        dir = dir.display()
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
}
