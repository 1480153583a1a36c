//! Password hashes for `auth = "password"`: PBKDF2-HMAC-SHA256 (ring), stored as
//! `pbkdf2-sha256$<iterations>$<salt, base64>$<hash, base64>`, and the users file that holds
//! them (one `name:hash` a line; blank lines and `#` comments ignored).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};

const SCHEME: &str = "pbkdf2-sha256";
/// Iterations for new hashes (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
pub const DEFAULT_ITERATIONS: u32 = 600_000;
const HASH_LEN: usize = 32;

/// Why a password hash cannot be made ([`PasswordHash::new`]) or its stored form is not one
/// ([`PasswordHash::parse`]). No variant holds the password or the hash's text.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// An iteration count of 0 was asked for.
    #[error("iterations must be at least 1")]
    ZeroIterations,
    /// The system gave no random bytes for the salt (ring's error says nothing more).
    #[error("no random numbers for the salt")]
    NoRandomSalt,
    /// Not four `$`-separated parts.
    #[error("expected {SCHEME}$<iterations>$<salt>$<hash>")]
    Malformed,
    /// The first part names another scheme.
    #[error("unknown hash scheme {scheme:?} (expected {SCHEME})")]
    UnknownScheme {
        /// The scheme the stored form names.
        scheme: String,
    },
    /// The iteration count is not a positive number.
    #[error("the iteration count is not a positive number")]
    BadIterations,
    /// The salt is not base64.
    #[error("the salt is not base64")]
    SaltNotBase64(#[source] base64::DecodeError),
    /// The hash is not base64.
    #[error("the hash is not base64")]
    HashNotBase64(#[source] base64::DecodeError),
    /// The hash is not [`HASH_LEN`] bytes.
    #[error("the hash has the wrong length")]
    WrongLength {
        /// How many bytes it has.
        len: usize,
    },
}

/// Why the users file cannot be read. Messages name the file and line, never a password.
#[derive(Debug, thiserror::Error)]
pub enum UsersFileError {
    /// The file cannot be read.
    #[error("users_file: cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        source: std::io::Error,
    },
    /// A line is not `name:hash` (or `name:hash:role`).
    #[error("users_file {} line {line}: expected name:hash", path.display())]
    MalformedLine {
        /// The file.
        path: PathBuf,
        /// The line's number, from 1.
        line: usize,
    },
    /// A line's hash is not a password hash.
    #[error("users_file {} line {line} ({user}): {source}", path.display())]
    BadHash {
        /// The file.
        path: PathBuf,
        /// The line's number, from 1.
        line: usize,
        /// The user name the line gives.
        user: String,
        /// What is wrong with the hash.
        source: HashError,
    },
}

/// A stored password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl PasswordHash {
    /// Hashes `password` with a fresh random salt.
    pub fn new(password: &str, iterations: u32) -> Result<PasswordHash, HashError> {
        let iterations = NonZeroU32::new(iterations).ok_or(HashError::ZeroIterations)?;
        let mut salt = vec![0u8; 16];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| HashError::NoRandomSalt)?;
        let mut hash = vec![0u8; HASH_LEN];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            password.as_bytes(),
            &mut hash,
        );
        Ok(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }

    /// Whether `password` matches (constant-time comparison).
    pub fn verify(&self, password: &str) -> bool {
        pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            self.iterations,
            &self.salt,
            password.as_bytes(),
            &self.hash,
        )
        .is_ok()
    }

    /// Parses the stored form.
    pub fn parse(text: &str) -> Result<PasswordHash, HashError> {
        let parts: Vec<&str> = text.trim().split('$').collect();
        let [scheme, iterations, salt, hash] = parts.as_slice() else {
            return Err(HashError::Malformed);
        };
        if *scheme != SCHEME {
            return Err(HashError::UnknownScheme {
                scheme: scheme.to_string(),
            });
        }
        let iterations = iterations
            .parse::<u32>()
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or(HashError::BadIterations)?;
        let decode = |part: &str| STANDARD_NO_PAD.decode(part.trim_end_matches('='));
        let salt = decode(salt).map_err(HashError::SaltNotBase64)?;
        let hash = decode(hash).map_err(HashError::HashNotBase64)?;
        if hash.len() != HASH_LEN {
            return Err(HashError::WrongLength { len: hash.len() });
        }
        Ok(PasswordHash {
            iterations,
            salt,
            hash,
        })
    }
}

impl std::fmt::Display for PasswordHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{SCHEME}${}${}${}",
            self.iterations,
            STANDARD_NO_PAD.encode(&self.salt),
            STANDARD_NO_PAD.encode(&self.hash)
        )
    }
}

/// One line of the users file.
#[derive(Debug, Clone)]
pub struct UserEntry {
    /// The password hash.
    pub hash: PasswordHash,
    /// The PostgreSQL role the user's statements run as (`SET ROLE`), when the line names one.
    pub role: Option<String>,
}

/// Reads a users file: `name:hash` lines, or `name:hash:role` to run that user's reads as a
/// PostgreSQL role the configured one is a member of.
pub fn read_users(path: &Path) -> Result<HashMap<String, UserEntry>, UsersFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| UsersFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut users = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, hash) = line
            .split_once(':')
            .ok_or_else(|| UsersFileError::MalformedLine {
                path: path.to_path_buf(),
                line: number + 1,
            })?;
        let (hash, role) = match hash.split_once(':') {
            Some((hash, role)) if !role.trim().is_empty() => (hash, Some(role.trim().to_string())),
            Some((hash, _)) => (hash, None),
            None => (hash, None),
        };
        let hash = PasswordHash::parse(hash).map_err(|source| UsersFileError::BadHash {
            path: path.to_path_buf(),
            line: number + 1,
            user: name.to_string(),
            source,
        })?;
        users.insert(name.trim().to_string(), UserEntry { hash, role });
    }
    Ok(users)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_round_trip_through_text() {
        let hash = PasswordHash::new("correct horse", 1000).unwrap();
        assert!(hash.verify("correct horse"));
        assert!(!hash.verify("correct horsE"));
        let parsed = PasswordHash::parse(&hash.to_string()).unwrap();
        assert_eq!(parsed, hash);
        assert!(parsed.verify("correct horse"));
        assert!(!hash.to_string().contains("correct"));
    }

    #[test]
    fn malformed_hashes_are_refused() {
        for bad in [
            "",
            "plain",
            "md5$1$a$b",
            "pbkdf2-sha256$0$AA$AA",
            "pbkdf2-sha256$10$!!$AA",
            "pbkdf2-sha256$10$AA$AA",
        ] {
            assert!(PasswordHash::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn users_files_parse_and_name_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let hash = PasswordHash::new("pw", 100).unwrap();
        let path = dir.path().join("users");
        std::fs::write(
            &path,
            format!("# users\n\nalice:{hash}\nbob:{hash}:Analyst\n"),
        )
        .unwrap();
        let users = read_users(&path).unwrap();
        assert!(users["alice"].hash.verify("pw"));
        assert_eq!(users["alice"].role, None);
        assert_eq!(users["bob"].role.as_deref(), Some("Analyst"));
        std::fs::write(&path, "alice\n").unwrap();
        let err = read_users(&path).unwrap_err();
        assert!(matches!(err, UsersFileError::MalformedLine { line: 1, .. }));
        assert_eq!(
            err.to_string(),
            format!("users_file {} line 1: expected name:hash", path.display())
        );
    }

    #[test]
    fn errors_keep_their_source_and_their_words() {
        use std::error::Error as _;

        assert_eq!(
            PasswordHash::new("pw", 0).unwrap_err().to_string(),
            "iterations must be at least 1"
        );
        let cases = [
            ("plain", "expected pbkdf2-sha256$<iterations>$<salt>$<hash>"),
            (
                "md5$1$a$b",
                "unknown hash scheme \"md5\" (expected pbkdf2-sha256)",
            ),
            (
                "pbkdf2-sha256$0$AA$AA",
                "the iteration count is not a positive number",
            ),
            ("pbkdf2-sha256$10$!!$AA", "the salt is not base64"),
            ("pbkdf2-sha256$10$AA$!!", "the hash is not base64"),
            ("pbkdf2-sha256$10$AA$AA", "the hash has the wrong length"),
        ];
        for (bad, message) in cases {
            assert_eq!(PasswordHash::parse(bad).unwrap_err().to_string(), message);
        }
        assert!(
            PasswordHash::parse("pbkdf2-sha256$10$!!$AA")
                .unwrap_err()
                .source()
                .is_some_and(|s| s.is::<base64::DecodeError>())
        );

        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let err = read_users(&missing).unwrap_err();
        let io = err
            .source()
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .expect("an io::Error source");
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(
            err.to_string(),
            format!("users_file: cannot read {}: {io}", missing.display())
        );

        let path = dir.path().join("users");
        std::fs::write(&path, "# x\ncarol:md5$1$a$b\n").unwrap();
        let err = read_users(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "users_file {} line 2 (carol): unknown hash scheme \"md5\" (expected \
                 pbkdf2-sha256)",
                path.display()
            )
        );
        assert!(matches!(
            err.source().and_then(|s| s.downcast_ref::<HashError>()),
            Some(HashError::UnknownScheme { .. })
        ));
    }
}
