//! A client's gRPC deadline (the `grpc-timeout` request header) as the statement timeout of
//! the reads it starts: PostgreSQL then cancels the statement itself when the deadline passes
//! (no backend left running for a client that gave up), and the client gets
//! DEADLINE_EXCEEDED. Never longer than the configured `statement_timeout`.

use std::time::Duration;

use tonic::Status;
use tonic::metadata::MetadataMap;

use crate::flight::refusal::Refusal;
use crate::flight::status::refusal_status;

/// The header gRPC carries a deadline in.
const HEADER: &str = "grpc-timeout";

/// The time a request may take, from its `grpc-timeout` header (`<1-8 digits><H|M|S|m|u|n>`).
pub fn grpc_timeout(metadata: &MetadataMap) -> Option<Duration> {
    let text = metadata.get(HEADER)?.to_str().ok()?;
    let unit_at = text.len().checked_sub(1)?;
    let (digits, unit) = text.split_at(unit_at);
    if digits.is_empty() || digits.len() > 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(value.saturating_mul(3600)),
        "M" => Duration::from_secs(value.saturating_mul(60)),
        "S" => Duration::from_secs(value),
        "m" => Duration::from_millis(value),
        "u" => Duration::from_micros(value),
        "n" => Duration::from_nanos(value),
        _ => return None,
    })
}

/// The statement timeout of a read the request starts: its deadline, never longer than
/// `configured` (zero: no limit); `None` when the client set no deadline.
pub fn statement_timeout(metadata: &MetadataMap, configured: Duration) -> Option<Duration> {
    let timeout = grpc_timeout(metadata)?;
    Some(match configured.is_zero() {
        true => timeout,
        false => timeout.min(configured),
    })
}

/// `answer`, unless the request's deadline passes first: then DEADLINE_EXCEEDED, and `answer`
/// is dropped (what it held, a pooled connection mid-query included, is let go).
pub async fn within<T>(
    metadata: &MetadataMap,
    answer: impl Future<Output = Result<T, Status>>,
) -> Result<T, Status> {
    match grpc_timeout(metadata) {
        None => answer.await,
        Some(timeout) => tokio::time::timeout(timeout, answer)
            .await
            .unwrap_or_else(|_| Err(refusal_status(&Refusal::Deadline(timeout)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> MetadataMap {
        let mut metadata = MetadataMap::new();
        metadata.insert(HEADER, value.parse().unwrap());
        metadata
    }

    #[test]
    fn grpc_timeouts_parse_by_unit() {
        assert_eq!(grpc_timeout(&with("2S")), Some(Duration::from_secs(2)));
        assert_eq!(
            grpc_timeout(&with("1500m")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(grpc_timeout(&with("3M")), Some(Duration::from_secs(180)));
        assert_eq!(
            grpc_timeout(&with("99999u")),
            Some(Duration::from_micros(99999))
        );
        for bad in ["", "S", "12", "1x", "123456789S", "-1S"] {
            assert_eq!(grpc_timeout(&with(bad)), None, "{bad}");
        }
        assert_eq!(grpc_timeout(&MetadataMap::new()), None);
    }

    #[tokio::test]
    async fn an_answer_later_than_the_deadline_is_deadline_exceeded() {
        let slow = async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok::<_, Status>(1)
        };
        let status = within(&with("50m"), slow).await.unwrap_err();
        assert_eq!(status.code(), tonic::Code::DeadlineExceeded);
        assert_eq!(within(&with("1S"), async { Ok(2) }).await.unwrap(), 2);
        assert_eq!(
            within(&MetadataMap::new(), async { Ok(3) }).await.unwrap(),
            3
        );
    }

    #[test]
    fn never_longer_than_configured() {
        let five = Duration::from_secs(5);
        assert_eq!(statement_timeout(&with("1H"), five), Some(five));
        assert_eq!(
            statement_timeout(&with("200m"), five),
            Some(Duration::from_millis(200))
        );
        assert_eq!(
            statement_timeout(&with("1H"), Duration::ZERO),
            Some(Duration::from_secs(3600))
        );
        assert_eq!(statement_timeout(&MetadataMap::new(), five), None);
    }
}
