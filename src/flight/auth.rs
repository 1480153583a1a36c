//! Who is calling. The identity travels in the request's extensions from the point where it is
//! established to the handlers that bind tickets to it.

use tonic::Request;

/// The caller's identity: the authenticated user name, or empty with `auth = "none"`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity(pub String);

/// The identity of `request` (anonymous when none was established).
pub fn identity_of<T>(request: &Request<T>) -> Identity {
    request
        .extensions()
        .get::<Identity>()
        .cloned()
        .unwrap_or_default()
}
