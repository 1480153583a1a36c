//! IPC body compression of DoGet streams, opt-in: a client asks with the request header
//! `x-pgflight-compression: zstd|lz4|none` or its session's `compression` option (the header
//! wins). Never by default, since not every Flight client decodes compressed bodies (the JDBC
//! and .NET drivers among them). Each record batch's buffers are compressed (LZ4 frame or
//! Zstandard, Arrow IPC's `BodyCompression`); a buffer that does not shrink is sent as it is.

use arrow::error::ArrowError;
use arrow::ipc::CompressionType;
use arrow::ipc::writer::IpcWriteOptions;
use tonic::metadata::MetadataMap;

use crate::flight::refusal::Refusal;
use crate::flight::session_cookie::SessionState;

/// The request header a client asks for compression with.
pub const HEADER: &str = "x-pgflight-compression";

/// IPC body compressions pgflight offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// LZ4 frame.
    Lz4,
    /// Zstandard.
    Zstd,
}

impl Compression {
    /// `Some(None)` for `none`, `Some(Some(_))` for `lz4` / `zstd` (any case), `None` for
    /// anything else.
    pub fn parse(text: &str) -> Option<Option<Compression>> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Some(None),
            "lz4" | "lz4_frame" => Some(Some(Compression::Lz4)),
            "zstd" => Some(Some(Compression::Zstd)),
            _ => None,
        }
    }

    /// The option's text.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Lz4 => "lz4",
            Compression::Zstd => "zstd",
        }
    }
}

/// The compression a DoGet asks for: its header's, else its session's, else none.
pub fn requested(
    metadata: &MetadataMap,
    session: &SessionState,
) -> Result<Option<Compression>, Refusal> {
    match metadata.get(HEADER) {
        Some(value) => {
            let text = value.to_str().unwrap_or_default();
            Compression::parse(text).ok_or_else(|| Refusal::Compression(text.to_string()))
        }
        None => Ok(session.compression_kind()),
    }
}

/// The IPC write options of a stream with `compression`.
pub fn write_options(compression: Option<Compression>) -> Result<IpcWriteOptions, ArrowError> {
    let kind = compression.map(|c| match c {
        Compression::Lz4 => CompressionType::LZ4_FRAME,
        Compression::Zstd => CompressionType::ZSTD,
    });
    IpcWriteOptions::default().try_with_compression(kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_wins_over_the_session_and_bad_names_are_refused() {
        let mut session = SessionState::empty();
        session.compression = Some("lz4".into());
        let mut metadata = MetadataMap::new();
        assert_eq!(
            requested(&metadata, &session).unwrap(),
            Some(Compression::Lz4)
        );
        assert_eq!(requested(&metadata, &SessionState::empty()).unwrap(), None);
        metadata.insert(HEADER, "ZSTD".parse().unwrap());
        assert_eq!(
            requested(&metadata, &session).unwrap(),
            Some(Compression::Zstd)
        );
        metadata.insert(HEADER, "none".parse().unwrap());
        assert_eq!(requested(&metadata, &session).unwrap(), None);
        metadata.insert(HEADER, "gzip".parse().unwrap());
        assert!(requested(&metadata, &session).is_err());
        assert!(write_options(Some(Compression::Zstd)).is_ok());
        assert!(write_options(Some(Compression::Lz4)).is_ok());
    }
}
