//! The `pgflight` command: `serve`, `check`, `demo`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use pgflight::config::{AuthMode, Config, ConfigFlags};
use pgflight::{check, demo, server, telemetry};

/// mimalloc: every RPC allocates and frees many small, short-lived values (messages, plans,
/// handles, one-row batches); with mimalloc a prepared point query costs 7–12 % less pgflight CPU
/// than with glibc's allocator, and full scans no more (bench/latency.py, bench/run.py). Built
/// with `no_thp`: mimalloc would otherwise ask for transparent huge pages, and a scan's batch
/// buffers then fault in (and zero) 2 MiB at a time, about 10 % more CPU on a wide table.
/// Where THP is `always` system-wide, `MIMALLOC_ALLOW_THP=0` turns it off for pgflight.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Apache Arrow Flight SQL server in front of PostgreSQL.
#[derive(Parser)]
#[command(name = "pgflight", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve Flight SQL and the HTTP endpoints on `listen`.
    Serve(ConfigFlags),
    /// Connect with the configuration and report what pgflight would serve.
    Check(ConfigFlags),
    /// Start a throwaway PostgreSQL with sample data, serve it, print a Python snippet.
    Demo(demo::DemoArgs),
    /// Read a password from standard input and print its hash for `users_file`
    /// (`name:<hash>` lines, with `auth = "password"`).
    HashPassword(HashPasswordArgs),
}

#[derive(clap::Args)]
struct HashPasswordArgs {
    /// PBKDF2 iterations (more is slower for attackers and for every Handshake).
    #[arg(long, default_value_t = pgflight::flight::password::DEFAULT_ITERATIONS)]
    iterations: u32,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let flags = match &cli.command {
        Command::Serve(flags) | Command::Check(flags) => flags,
        Command::Demo(args) => return demo::run(args, shutdown_signal()),
        Command::HashPassword(args) => return hash_password(args.iterations),
    };
    let config = match Config::load(flags.config.as_deref(), flags) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("pgflight: configuration error: {err}");
            return ExitCode::from(check::exit::CONFIG);
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("pgflight: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match cli.command {
        Command::Serve(_) => runtime.block_on(serve(config)),
        Command::Check(_) => runtime.block_on(async {
            let (text, code) = check::run_check(&config).await;
            print!("{text}");
            ExitCode::from(code)
        }),
        Command::Demo(_) | Command::HashPassword(_) => {
            unreachable!("handled before the configuration is loaded")
        }
    }
}

/// `pgflight hash-password`: one line of standard input (without its newline) → its hash.
fn hash_password(iterations: u32) -> ExitCode {
    let mut line = String::new();
    if let Err(err) = std::io::stdin().read_line(&mut line) {
        eprintln!("pgflight: cannot read the password from standard input: {err}");
        return ExitCode::FAILURE;
    }
    let password = line.trim_end_matches(['\n', '\r']);
    if password.is_empty() {
        eprintln!("pgflight: the password is empty (give it on standard input)");
        return ExitCode::FAILURE;
    }
    match pgflight::flight::password::PasswordHash::new(password, iterations) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("pgflight: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> ExitCode {
    let traces = match telemetry::init_logging(
        config.log_level,
        config.log_format,
        config.otlp_endpoint.as_deref(),
    ) {
        Ok(traces) => traces,
        Err(err) => {
            eprintln!("pgflight: {err}");
            return ExitCode::from(check::exit::CONFIG);
        }
    };
    if config.auth == AuthMode::None
        && config.tls_cert.is_none()
        && !config.listen.ip().is_loopback()
    {
        tracing::warn!(
            listen = %config.listen,
            "auth = \"none\" and no TLS while listening beyond loopback: anyone who reaches this port reads the database as {}",
            config.username
        );
    }
    let listener = match tokio::net::TcpListener::bind(config.listen).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!(listen = %config.listen, error = %err, "cannot listen");
            return ExitCode::FAILURE;
        }
    };
    let code = match server::run(listener, config, shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "pgflight stopped");
            ExitCode::FAILURE
        }
    };
    // The exporter waits for the collector: off the async threads.
    let _ = tokio::task::spawn_blocking(move || traces.shutdown()).await;
    code
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
