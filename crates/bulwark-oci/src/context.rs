//! Who asked, from where, under which request, and when: the facts every operation a request
//! starts receives, so that what it records (outbox events, logs, the coming audit log) names
//! the same caller, address and request id as the HTTP layer saw.

/// The context of one request, built once by the front end after authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// The caller's name as logs and records show it (`anonymous` when none).
    pub actor: String,
    /// The id of the access token the caller presented, if any.
    pub token_id: Option<String>,
    /// The client's address, as the rate limiter keys it (a proxy's forwarded client when
    /// the peer is a trusted proxy).
    pub client_address: String,
    /// The `X-Request-Id` the response carries.
    pub request_id: String,
    /// When the request was accepted, in Unix milliseconds from the registry's one clock:
    /// every step of one request sees the same instant.
    pub at_millis: i64,
}

impl RequestContext {
    /// Work no client asked for (a sweep, a migration, the command line on the store).
    pub fn internal(actor: &str, at_millis: i64) -> Self {
        RequestContext {
            actor: actor.to_owned(),
            token_id: None,
            client_address: "local".to_owned(),
            request_id: String::new(),
            at_millis,
        }
    }
}
