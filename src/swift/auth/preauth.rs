//! A token obtained elsewhere (`OS_AUTH_TOKEN` with `OS_STORAGE_URL`). Nothing
//! can renew it, so the second request for a token means the first one was
//! rejected.

use std::sync::atomic::{AtomicBool, Ordering};

use secrecy::SecretString;

use super::{AuthError, AuthToken, Authenticator};

/// A fixed token and storage URL, handed out once.
#[derive(Debug)]
pub struct PreAuthenticated {
    token: SecretString,
    storage_url: String,
    handed_out: AtomicBool,
}

impl PreAuthenticated {
    pub fn new(token: SecretString, storage_url: String) -> PreAuthenticated {
        PreAuthenticated {
            token,
            storage_url,
            handed_out: AtomicBool::new(false),
        }
    }
}

impl Authenticator for PreAuthenticated {
    /// Returns the token on the first call and `TokenExpired` on every later
    /// one: the token manager authenticates once at startup and again only
    /// after Swift has rejected the token.
    fn authenticate(&self) -> Result<AuthToken, AuthError> {
        if self.handed_out.swap(true, Ordering::SeqCst) {
            return Err(AuthError::TokenExpired);
        }
        Ok(AuthToken {
            token: self.token.clone(),
            storage_url: self.storage_url.clone(),
            expires_at: None,
        })
    }

    fn describe(&self) -> String {
        format!("pre-authenticated token for {}", self.storage_url)
    }

    fn can_renew(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    const TOKEN: &str = "preauth-secret-token";
    const STORAGE_URL: &str = "https://swift.example/v1/AUTH_p";

    fn preauth() -> PreAuthenticated {
        PreAuthenticated::new(SecretString::from(TOKEN), STORAGE_URL.to_string())
    }

    #[test]
    fn preauth_first_call_token() {
        let token = preauth().authenticate().unwrap();
        assert_eq!(token.token.expose_secret(), TOKEN);
    }

    #[test]
    fn preauth_first_call_storage_url() {
        let token = preauth().authenticate().unwrap();
        assert_eq!(token.storage_url, STORAGE_URL);
    }

    #[test]
    fn preauth_second_call_expired() {
        let auth = preauth();
        auth.authenticate().unwrap();
        let error = auth.authenticate().unwrap_err();
        assert!(matches!(error, AuthError::TokenExpired), "{error:?}");
    }

    #[test]
    fn preauth_cannot_renew() {
        assert!(!preauth().can_renew());
    }

    #[test]
    fn preauth_debug_hides_token() {
        let text = format!("{:?}", preauth());
        assert!(!text.contains(TOKEN), "{text}");
    }
}
