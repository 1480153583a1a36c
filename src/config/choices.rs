//! The closed sets of words some configuration keys accept (`sslmode`, `log_level`, `auth`, …).
//!
//! Each is an enum spelled in kebab-case in every source (file, environment, flags), matched
//! without regard to ASCII case, and listed in order in its `NAMES` for error messages.

use std::fmt;

/// A closed set of words, for the generic value getter.
pub(crate) trait Choice: Sized {
    /// Every accepted spelling.
    const NAMES: &'static [&'static str];
    /// Parses a spelling, ignoring ASCII case.
    fn from_name(name: &str) -> Option<Self>;
}

/// Defines a configuration enum: serde and clap spellings, `NAMES`, `as_str`, `from_name`.
macro_rules! choice {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, Default,
            serde::Serialize, serde::Deserialize, clap::ValueEnum,
        )]
        pub enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] #[value(name = $text)] $variant ),+
        }

        impl $name {
            /// Every accepted spelling, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            /// The spelling used in configuration files.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text ),+
                }
            }

            /// Parses a spelling, ignoring ASCII case; `None` if it is not one of [`Self::NAMES`].
            pub fn from_name(name: &str) -> Option<Self> {
                let name = name.trim();
                $( if name.eq_ignore_ascii_case($text) { return Some(Self::$variant); } )+
                None
            }
        }

        impl Choice for $name {
            const NAMES: &'static [&'static str] = $name::NAMES;

            fn from_name(name: &str) -> Option<Self> {
                $name::from_name(name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

choice! {
    /// libpq's `sslmode` for the connection to PostgreSQL. The default is `prefer`, libpq's own
    /// (the seed connector's README names both `prefer` and `require`; pgflight takes libpq's).
    pub enum SslMode {
        /// Plain TCP, never TLS.
        Disable = "disable",
        /// TLS when the server offers it, otherwise plain TCP; the certificate is not checked.
        #[default]
        Prefer = "prefer",
        /// TLS or fail; the certificate is not checked (as in libpq).
        Require = "require",
        /// TLS, and the server's certificate chain must lead to `sslrootcert`.
        VerifyCa = "verify-ca",
        /// As `verify-ca`, and the certificate must also name the host connected to.
        VerifyFull = "verify-full",
    }
}

impl SslMode {
    /// Whether this mode checks the server's certificate (and so needs `sslrootcert`).
    pub fn verifies_certificate(self) -> bool {
        matches!(self, Self::VerifyCa | Self::VerifyFull)
    }
}

choice! {
    /// The most detailed level of log events written (`log_level`).
    pub enum LogLevel {
        /// Errors only.
        Error = "error",
        /// Errors and warnings.
        Warn = "warn",
        /// Start-up, shutdown and one line per request (the default).
        #[default]
        Info = "info",
        /// Also the SQL sent to PostgreSQL and pool events.
        Debug = "debug",
        /// Everything.
        Trace = "trace",
    }
}

choice! {
    /// How log events are written (`log_format`).
    pub enum LogFormat {
        /// Human-readable lines (the default).
        #[default]
        Text = "text",
        /// One JSON object per line, for log collectors.
        Json = "json",
    }
}

choice! {
    /// Who may use the Flight SQL endpoint (`auth`); see DESIGN.md, "Security".
    pub enum AuthMode {
        /// Anyone who reaches the port reads as the configured PostgreSQL user (the default).
        #[default]
        None = "none",
        /// Handshake basic credentials checked against configured users, answered with a token.
        Password = "password",
        /// The client's credentials are PostgreSQL's own; queries run as that role.
        Postgres = "postgres",
    }
}

choice! {
    /// What a `numeric` NaN or ±Infinity becomes in an Arrow decimal column (`numeric_nan`).
    pub enum NumericNan {
        /// The request fails with an error naming the column (the default).
        #[default]
        Error = "error",
        /// The value becomes null.
        Null = "null",
    }
}

choice! {
    /// How PostgreSQL arrays are delivered (`arrays`).
    pub enum ArrayFormat {
        /// Arrow `List<element>`, nested for multi-dimensional arrays (the default).
        #[default]
        List = "list",
        /// A JSON string, as the seed connector did.
        Json = "json",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_ignore_case() {
        for name in SslMode::NAMES {
            assert_eq!(SslMode::from_name(name).unwrap().as_str(), *name);
        }
        assert_eq!(SslMode::from_name("Verify-Full"), Some(SslMode::VerifyFull));
        assert_eq!(SslMode::from_name("verify"), None);
        assert_eq!(SslMode::default(), SslMode::Prefer);
        assert_eq!(LogLevel::default(), LogLevel::Info);
        assert_eq!(AuthMode::default(), AuthMode::None);
        assert_eq!(NumericNan::default(), NumericNan::Error);
        assert_eq!(ArrayFormat::default(), ArrayFormat::List);
        assert_eq!(LogFormat::default(), LogFormat::Text);
    }

    #[test]
    fn serde_uses_kebab_case() {
        #[derive(serde::Deserialize)]
        struct Holder {
            mode: SslMode,
        }
        use figment::providers::{Format, Toml};
        let holder: Holder = Toml::from_str("mode = \"verify-ca\"").unwrap();
        assert_eq!(holder.mode, SslMode::VerifyCa);
    }
}
