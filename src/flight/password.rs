//! Password hashes for `auth = "password"`: PBKDF2-HMAC-SHA256 (ring), stored as
//! `pbkdf2-sha256$<iterations>$<salt, base64>$<hash, base64>`, and the users file that holds
//! them (one `name:hash` a line; blank lines and `#` comments ignored).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use ring::pbkdf2;
use ring::rand::{SecureRandom, SystemRandom};

const SCHEME: &str = "pbkdf2-sha256";
/// Iterations for new hashes (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
pub const DEFAULT_ITERATIONS: u32 = 600_000;
const HASH_LEN: usize = 32;

/// A stored password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordHash {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl PasswordHash {
    /// Hashes `password` with a fresh random salt.
    pub fn new(password: &str, iterations: u32) -> Result<PasswordHash, String> {
        let iterations =
            NonZeroU32::new(iterations).ok_or("iterations must be at least 1".to_string())?;
        let mut salt = vec![0u8; 16];
        SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| "no random numbers for the salt".to_string())?;
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
    pub fn parse(text: &str) -> Result<PasswordHash, String> {
        let parts: Vec<&str> = text.trim().split('$').collect();
        let [scheme, iterations, salt, hash] = parts.as_slice() else {
            return Err(format!("expected {SCHEME}$<iterations>$<salt>$<hash>"));
        };
        if *scheme != SCHEME {
            return Err(format!(
                "unknown hash scheme {scheme:?} (expected {SCHEME})"
            ));
        }
        let iterations = iterations
            .parse::<u32>()
            .ok()
            .and_then(NonZeroU32::new)
            .ok_or("the iteration count is not a positive number")?;
        let decode = |part: &str| STANDARD_NO_PAD.decode(part.trim_end_matches('='));
        let salt = decode(salt).map_err(|_| "the salt is not base64")?;
        let hash = decode(hash).map_err(|_| "the hash is not base64")?;
        if hash.len() != HASH_LEN {
            return Err("the hash has the wrong length".into());
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
pub fn read_users(path: &Path) -> Result<HashMap<String, UserEntry>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("users_file: cannot read {}: {e}", path.display()))?;
    let mut users = HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, hash) = line.split_once(':').ok_or_else(|| {
            format!(
                "users_file {} line {}: expected name:hash",
                path.display(),
                number + 1
            )
        })?;
        let (hash, role) = match hash.split_once(':') {
            Some((hash, role)) if !role.trim().is_empty() => (hash, Some(role.trim().to_string())),
            Some((hash, _)) => (hash, None),
            None => (hash, None),
        };
        let hash = PasswordHash::parse(hash).map_err(|e| {
            format!(
                "users_file {} line {} ({name}): {e}",
                path.display(),
                number + 1
            )
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
        assert!(read_users(&path).unwrap_err().contains("line 1"));
    }
}
