//! Swift v1 authentication, as served by tempauth, swauth and providers that
//! copied them: `GET auth_url` with the credentials in headers, and the token
//! and storage URL in the response headers.

use std::time::{Duration, SystemTime};

use log::warn;
use reqwest::blocking::{Client, Response};
use reqwest::header::HeaderValue;
use secrecy::{ExposeSecret, SecretString};

use super::request::{invalid, send, Target};
use super::{AuthError, AuthToken, Authenticator};

/// Swift v1 credentials and the client that sends them.
#[derive(Debug)]
pub struct V1Auth {
    http: Client,
    auth_url: String,
    /// `account:user`.
    user: String,
    key: SecretString,
}

impl V1Auth {
    pub fn new(http: Client, auth_url: String, user: String, key: SecretString) -> V1Auth {
        V1Auth {
            http,
            auth_url,
            user,
            key,
        }
    }

    fn read_token(&self, response: &Response) -> Result<AuthToken, AuthError> {
        // tempauth sends both token headers, but some providers send only one.
        let token = self
            .header(response, "X-Auth-Token")
            .or_else(|| self.header(response, "X-Storage-Token"))
            .ok_or_else(|| invalid(&self.auth_url, "X-Auth-Token header missing"))?;
        let storage_url = self
            .header(response, "X-Storage-Url")
            .ok_or_else(|| invalid(&self.auth_url, "X-Storage-Url header missing"))?;

        Ok(AuthToken {
            token: SecretString::from(token),
            storage_url,
            expires_at: self.expiry(response),
        })
    }

    fn header(&self, response: &Response, name: &str) -> Option<String> {
        let value = response.headers().get(name)?.to_str().ok()?.trim();
        (!value.is_empty()).then(|| value.to_string())
    }

    /// Reads `X-Auth-Token-Expires`, the token lifetime in seconds from now.
    /// An invalid value is ignored, like an invalid Keystone expiry, so the
    /// token is renewed when Swift rejects it.
    fn expiry(&self, response: &Response) -> Option<SystemTime> {
        let text = self.header(response, "X-Auth-Token-Expires")?;
        // `try_from_secs_f64` rejects negative, infinite and NaN values, and
        // `checked_add` a lifetime too large for the clock.
        let expiry = text
            .parse::<f64>()
            .ok()
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
            .and_then(|lifetime| SystemTime::now().checked_add(lifetime));
        if expiry.is_none() {
            warn!(
                "ignoring the invalid X-Auth-Token-Expires {text:?} from {}, so the token will be renewed only when Swift rejects it",
                self.auth_url
            );
        }
        expiry
    }
}

impl Authenticator for V1Auth {
    fn authenticate(&self) -> Result<AuthToken, AuthError> {
        let request = self
            .http
            .get(&self.auth_url)
            .header("X-Auth-User", &self.user);
        let request = match HeaderValue::from_str(self.key.expose_secret()) {
            Ok(mut key) => {
                key.set_sensitive(true);
                request.header("X-Auth-Key", key)
            }
            // NOTE: reqwest reports the invalid value (a control character)
            // when sending, so the user sees Unreachable with "builder error":
            // AuthError has no variant for invalid configuration.
            Err(_) => request.header("X-Auth-Key", self.key.expose_secret()),
        };
        let target = Target {
            method: "GET",
            url: &self.auth_url,
            user: &format!("{:?}", self.user),
        };

        let response = send(request, &target)?;
        self.read_token(&response)
    }

    fn describe(&self) -> String {
        format!("Swift v1 auth at {} as user {:?}", self.auth_url, self.user)
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use secrecy::ExposeSecret;

    use super::super::test_server::{client, response, FakeServer};
    use super::*;

    const KEY: &str = "v1-secret-key";

    fn auth(url: String, timeout: Duration) -> V1Auth {
        V1Auth::new(
            client(timeout),
            url,
            "test:tester".to_string(),
            SecretString::from(KEY),
        )
    }

    fn success_response() -> String {
        response(
            "200 OK",
            &[
                ("X-Auth-Token", "AUTH_tk123"),
                ("X-Storage-Token", "AUTH_tk123"),
                ("X-Storage-Url", "http://127.0.0.1:8080/v1/AUTH_test"),
                ("X-Auth-Token-Expires", "3600"),
            ],
            "",
        )
    }

    #[test]
    fn v1_success_token() {
        let server = FakeServer::respond_once(success_response());
        let url = format!("{}/auth/v1.0", server.base_url);
        let token = auth(url, Duration::from_secs(5)).authenticate().unwrap();
        assert_eq!(token.token.expose_secret(), "AUTH_tk123");
    }

    #[test]
    fn v1_success_storage_url() {
        let server = FakeServer::respond_once(success_response());
        let url = format!("{}/auth/v1.0", server.base_url);
        let token = auth(url, Duration::from_secs(5)).authenticate().unwrap();
        assert_eq!(token.storage_url, "http://127.0.0.1:8080/v1/AUTH_test");
    }

    #[test]
    fn v1_success_expiry() {
        let server = FakeServer::respond_once(success_response());
        let url = format!("{}/auth/v1.0", server.base_url);
        let before = SystemTime::now();
        let token = auth(url, Duration::from_secs(5)).authenticate().unwrap();
        let lifetime = token.expires_at.unwrap().duration_since(before).unwrap();
        assert!(
            lifetime >= Duration::from_secs(3600) && lifetime < Duration::from_secs(3610),
            "{lifetime:?}"
        );
    }

    #[test]
    fn v1_request_headers() {
        let server = FakeServer::respond_once(success_response());
        let url = format!("{}/auth/v1.0", server.base_url);
        auth(url, Duration::from_secs(5)).authenticate().unwrap();
        let request = server.request();
        assert_eq!(request.request_line, "GET /auth/v1.0 HTTP/1.1");
        assert_eq!(request.header("X-Auth-User"), Some("test:tester"));
        assert_eq!(request.header("X-Auth-Key"), Some(KEY));
    }

    #[test]
    fn v1_storage_token_only() {
        let server = FakeServer::respond_once(response(
            "204 No Content",
            &[
                ("X-Storage-Token", "AUTH_tk456"),
                ("X-Storage-Url", "http://swift/v1/AUTH_a"),
            ],
            "",
        ));
        let token = auth(server.base_url.clone(), Duration::from_secs(5))
            .authenticate()
            .unwrap();
        assert_eq!(token.token.expose_secret(), "AUTH_tk456");
    }

    #[test]
    fn v1_no_expiry_header() {
        let server = FakeServer::respond_once(response(
            "200 OK",
            &[
                ("X-Auth-Token", "t"),
                ("X-Storage-Url", "http://swift/v1/AUTH_a"),
            ],
            "",
        ));
        let token = auth(server.base_url.clone(), Duration::from_secs(5))
            .authenticate()
            .unwrap();
        assert_eq!(token.expires_at, None);
    }

    #[test]
    fn v1_huge_expiry_ignored() {
        let server = FakeServer::respond_once(response(
            "200 OK",
            &[
                ("X-Auth-Token", "t"),
                ("X-Storage-Url", "http://swift/v1/AUTH_a"),
                ("X-Auth-Token-Expires", "1e300"),
            ],
            "",
        ));
        let token = auth(server.base_url.clone(), Duration::from_secs(5))
            .authenticate()
            .unwrap();
        assert_eq!(token.expires_at, None);
    }

    #[test]
    fn v1_missing_storage_url() {
        let server = FakeServer::respond_once(response("200 OK", &[("X-Auth-Token", "t")], ""));
        let error = auth(server.base_url.clone(), Duration::from_secs(5))
            .authenticate()
            .unwrap_err();
        assert!(
            matches!(&error, AuthError::InvalidResponse { what, .. } if what == "X-Storage-Url header missing"),
            "{error:?}"
        );
    }

    #[test]
    fn v1_rejected_names_url_and_user() {
        let server = FakeServer::respond_once(response("401 Unauthorized", &[], "Unauthorized"));
        let url = format!("{}/auth/v1.0", server.base_url);
        let error = auth(url.clone(), Duration::from_secs(5))
            .authenticate()
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, AuthError::Rejected { status: 401, .. }),
            "{error:?}"
        );
        assert!(message.contains(&url), "{message}");
        assert!(message.contains("test:tester"), "{message}");
        assert!(!message.contains(KEY), "{message}");
    }

    #[test]
    fn v1_timeout_is_unreachable() {
        let url = FakeServer::silent();
        let error = auth(url, Duration::from_secs(1))
            .authenticate()
            .unwrap_err();
        assert!(matches!(error, AuthError::Unreachable { .. }), "{error:?}");
    }

    #[test]
    fn v1_debug_hides_key() {
        let text = format!(
            "{:?}",
            auth("http://127.0.0.1:1".to_string(), Duration::from_secs(1))
        );
        assert!(!text.contains(KEY), "{text}");
    }
}
