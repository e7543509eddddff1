//! The parsers of client-supplied credentials and scopes: access tokens, token scopes,
//! robot permission action lists, and the token endpoint's requested scopes.
#![no_main]

use bulwark_auth::Scope;
use bulwark_auth::policy::{RequestedScope, parse_actions};
use bulwark_auth::secret::parse_token;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some((id, secret)) = parse_token(text) {
            assert_eq!(format!("bwk_{id}{secret}"), text);
        }
        if let Ok(scope) = text.parse::<Scope>() {
            let again: Scope = scope.to_string().parse().expect("a printed scope parses");
            assert_eq!(scope, again);
        }
        let _ = parse_actions(text);
        let _ = RequestedScope::parse(text);
    }
});
