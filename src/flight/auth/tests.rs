//! Tests of the authenticator: basic credentials (padded and unpadded), tokens, refusals.

use super::*;
use crate::flight::password::PasswordHash;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

fn password_auth() -> (Authenticator, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users");
    let hash = PasswordHash::new("s3cret", 100).unwrap();
    std::fs::write(&path, format!("alice:{hash}\nbob:{hash}:analyst\n")).unwrap();
    let mut config = Config::new("h", 5432, "d", "u");
    config.auth = AuthMode::Password;
    config.users_file = Some(path);
    (Authenticator::new(&config).unwrap(), dir)
}

#[test]
fn set_up_errors_keep_their_words_and_source() {
    use std::error::Error as _;

    let mut config = Config::new("h", 5432, "d", "u");
    config.auth = AuthMode::Password;
    let err = Authenticator::new(&config).err().expect("no users_file");
    assert!(matches!(err, AuthSetupError::NoUsersFile));
    assert_eq!(err.to_string(), "auth = \"password\" needs users_file");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users");
    std::fs::write(&path, "alice\n").unwrap();
    config.users_file = Some(path.clone());
    let err = Authenticator::new(&config).err().expect("a bad users_file");
    assert_eq!(
        err.to_string(),
        format!("users_file {} line 1: expected name:hash", path.display())
    );
    assert!(matches!(
        err,
        AuthSetupError::UsersFile(UsersFileError::MalformedLine { line: 1, .. })
    ));

    config.users_file = Some(dir.path().join("missing"));
    let err = Authenticator::new(&config)
        .err()
        .expect("a missing users_file");
    // Transparent: the source is the io::Error the users file error keeps.
    assert!(
        err.source()
            .is_some_and(|s| s.downcast_ref::<std::io::Error>().is_some())
    );
}

fn with_auth(value: &str) -> MetadataMap {
    let mut metadata = MetadataMap::new();
    metadata.insert("authorization", value.parse().unwrap());
    metadata
}

#[test]
fn handshake_answers_a_token_that_later_calls_use() {
    let (auth, _dir) = password_auth();
    let basic = format!("Basic {}", STANDARD.encode("alice:s3cret"));
    let caller = auth.handshake_caller(&with_auth(&basic)).unwrap();
    let bearer = auth.issue_token(&caller).unwrap();
    assert!(bearer.starts_with("Bearer "));
    let alice = Identity("alice".into());
    assert_eq!(auth.authorize(&with_auth(&bearer)).unwrap().identity, alice);
    assert_eq!(auth.authorize(&with_auth(&basic)).unwrap().identity, alice);
    assert_eq!(auth.role_of(&alice), None);
    assert_eq!(auth.role_of(&Identity("bob".into())), Some("analyst"));
    assert_eq!(auth.mapped_roles(), vec!["analyst".to_string()]);
}

#[test]
fn postgres_tokens_carry_the_password_encrypted() {
    let mut config = Config::new("h", 5432, "d", "u");
    config.auth = AuthMode::Postgres;
    config.ticket_secret = Some(SecretString::from("shared"));
    let auth = Authenticator::new(&config).unwrap();
    let basic = format!("Basic {}", STANDARD.encode("role:pg-pw-123"));
    let caller = auth.handshake_caller(&with_auth(&basic)).unwrap();
    let bearer = auth.issue_token(&caller).unwrap();
    assert!(!bearer.contains("pg-pw-123"));
    let sealed = URL_SAFE_NO_PAD.decode(&bearer["Bearer ".len()..]).unwrap();
    assert!(
        !sealed.windows(9).any(|w| w == b"pg-pw-123"),
        "password in clear"
    );
    // Another instance with the same secret opens it.
    let again = Authenticator::new(&config).unwrap();
    let caller = again.authorize(&with_auth(&bearer)).unwrap();
    assert_eq!(caller.identity, Identity("role".into()));
    assert_eq!(caller.pg_password.unwrap().expose_secret(), "pg-pw-123");
}

#[test]
fn wrong_missing_and_forged_credentials_are_unauthenticated() {
    let (auth, _dir) = password_auth();
    for header in [
        format!("Basic {}", STANDARD.encode("alice:wrong")),
        format!("Basic {}", STANDARD.encode("mallory:s3cret")),
        "Basic !!!".to_string(),
        "Bearer abc".to_string(),
        format!("Bearer {}", URL_SAFE_NO_PAD.encode(b"forged")),
    ] {
        let status = auth.authorize(&with_auth(&header)).unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated, "{header}");
    }
    assert_eq!(
        auth.authorize(&MetadataMap::new()).unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
}

/// The passwords of the ADBC regression: `user:password` of every length modulo 3 (the Go
/// client sends them unpadded), non-ASCII, and a colon inside the password.
const PASSWORDS: [(&str, &str); 7] = [
    ("u0", "ab3"),
    ("u1", "abc!"),
    ("u2", "abc-def"),
    ("u3", "Alice-s3cret-Pw!"),
    ("u4", "pässwörd-€"),
    ("u5", "a:b:c"),
    ("u6", "日本語のパスワード"),
];

fn many_users_auth() -> (Authenticator, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users");
    let mut text = String::new();
    for (user, password) in PASSWORDS {
        text += &format!("{user}:{}\n", PasswordHash::new(password, 10).unwrap());
    }
    std::fs::write(&path, text).unwrap();
    let mut config = Config::new("h", 5432, "d", "u");
    config.auth = AuthMode::Password;
    config.users_file = Some(path);
    (Authenticator::new(&config).unwrap(), dir)
}

#[test]
fn basic_credentials_are_accepted_padded_and_unpadded() {
    let (auth, _dir) = many_users_auth();
    let lengths: std::collections::BTreeSet<usize> = PASSWORDS
        .iter()
        .map(|(u, p)| (u.len() + 1 + p.len()) % 3)
        .collect();
    assert_eq!(lengths.len(), 3, "every length modulo 3");
    for (user, password) in PASSWORDS {
        let plain = format!("{user}:{password}");
        for encoded in [STANDARD.encode(&plain), STANDARD_NO_PAD.encode(&plain)] {
            for scheme in ["Basic", "basic"] {
                let header = format!("{scheme} {encoded}");
                let caller = auth.handshake_caller(&with_auth(&header)).unwrap();
                assert_eq!(caller.identity, Identity(user.into()), "{header}");
                assert_eq!(
                    auth.authorize(&with_auth(&header)).unwrap().identity.0,
                    user
                );
            }
        }
        let wrong = STANDARD_NO_PAD.encode(format!("{user}:{password}x"));
        let status = auth
            .handshake_caller(&with_auth(&format!("Basic {wrong}")))
            .unwrap_err();
        assert_eq!(status.code(), tonic::Code::Unauthenticated);
    }
}

#[test]
fn empty_passwords_and_names_are_refused_in_every_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users");
    std::fs::write(&path, format!("e:{}\n", PasswordHash::new("", 10).unwrap())).unwrap();
    let mut config = Config::new("h", 5432, "d", "u");
    config.auth = AuthMode::Password;
    config.users_file = Some(path);
    let password = Authenticator::new(&config).unwrap();
    config.auth = AuthMode::Postgres;
    let postgres = Authenticator::new(&config).unwrap();
    for auth in [&password, &postgres] {
        for plain in ["e:", "e", ":", ":pw", ""] {
            for encoded in [STANDARD.encode(plain), STANDARD_NO_PAD.encode(plain)] {
                let header = format!("Basic {encoded}");
                let status = auth.handshake_caller(&with_auth(&header)).unwrap_err();
                assert_eq!(status.code(), tonic::Code::Unauthenticated, "{plain:?}");
                assert!(auth.authorize(&with_auth(&header)).is_err(), "{plain:?}");
            }
        }
    }
}

#[test]
fn malformed_base64_is_refused() {
    let (auth, _dir) = many_users_auth();
    let good = STANDARD.encode("u1:abc!");
    for encoded in [
        format!("{good}!"),
        format!("{good}{good}"),
        "dTE6YWJjIQ=x".to_string(),
        "@@@@".to_string(),
    ] {
        let header = format!("Basic {encoded}");
        assert!(auth.authorize(&with_auth(&header)).is_err(), "{header}");
    }
}

#[test]
fn a_token_from_before_a_restart_says_to_log_in_again() {
    let (before, dir) = password_auth();
    let basic = format!("Basic {}", STANDARD.encode("alice:s3cret"));
    let caller = before.handshake_caller(&with_auth(&basic)).unwrap();
    let bearer = before.issue_token(&caller).unwrap();
    // A restart without ticket_secret: a new random key.
    let (after, _dir2) = password_auth();
    let status = after.authorize(&with_auth(&bearer)).unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    assert!(
        status.message().contains("restarted"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("log in again"),
        "{}",
        status.message()
    );
    assert!(
        status.message().contains("ticket_secret"),
        "{}",
        status.message()
    );
    // With ticket_secret set, tokens survive the restart.
    let mut config = Config::new("h", 5432, "d", "u");
    config.ticket_secret = Some(SecretString::from("kept"));
    let first = Authenticator::new(&config).unwrap();
    let token = first
        .issue_token(&Caller {
            identity: Identity("alice".into()),
            pg_password: None,
        })
        .unwrap();
    config.auth = AuthMode::Password;
    config.users_file = Some(dir.path().join("users"));
    let restarted = Authenticator::new(&config).unwrap();
    assert_eq!(
        restarted.authorize(&with_auth(&token)).unwrap().identity.0,
        "alice"
    );
    config.ticket_secret = Some(SecretString::from("changed"));
    let changed = Authenticator::new(&config).unwrap();
    let status = changed.authorize(&with_auth(&token)).unwrap_err();
    assert!(
        status.message().contains("ticket_secret"),
        "{}",
        status.message()
    );
}
