//! Keystone v2.0 password authentication: `POST {auth_url}/tokens` with the
//! user, password and tenant in a JSON body. The token and the service
//! catalog come back in the JSON response under `access`.

use reqwest::blocking::Client;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::request::{optional_expiry, read_json, required_str, send, Target};
use super::{catalog, AuthError, AuthToken, Authenticator, EndpointFilter, NameOrId};

/// Keystone v2.0 credentials and the client that sends them.
#[derive(Debug)]
pub struct KeystoneV2Auth {
    http: Client,
    auth_url: String,
    /// `{auth_url}/tokens`.
    tokens_url: String,
    username: String,
    password: SecretString,
    tenant: NameOrId,
    endpoint: EndpointFilter,
}

impl KeystoneV2Auth {
    /// `auth_url` is the v2.0 base such as `https://auth.example/v2.0`, with
    /// or without a trailing slash.
    pub fn new(
        http: Client,
        auth_url: String,
        username: String,
        password: SecretString,
        tenant: NameOrId,
        endpoint: EndpointFilter,
    ) -> KeystoneV2Auth {
        let tokens_url = format!("{}/tokens", auth_url.trim_end_matches('/'));
        KeystoneV2Auth {
            http,
            auth_url,
            tokens_url,
            username,
            password,
            tenant,
            endpoint,
        }
    }

    /// Builds the request body. It contains the password, so it must not be
    /// logged.
    fn request_body(&self) -> Value {
        let mut auth = json!({
            "passwordCredentials": {
                "username": self.username,
                "password": self.password.expose_secret(),
            }
        });
        match &self.tenant {
            NameOrId::Name(name) => auth["tenantName"] = json!(name),
            NameOrId::Id(id) => auth["tenantId"] = json!(id),
        }
        json!({ "auth": auth })
    }

    fn read_token(&self, body: &Value) -> Result<AuthToken, AuthError> {
        let token = required_str(body, "access.token.id", &self.tokens_url)?;
        let expires_at = optional_expiry(body, "access.token.expires", &self.tokens_url);
        let endpoints = catalog::from_v2(body, &self.tokens_url)?;
        let storage_url = catalog::select(&endpoints, &self.endpoint, &self.tokens_url)?;

        Ok(AuthToken {
            token: SecretString::from(token),
            storage_url,
            expires_at,
        })
    }

    /// Describes the user and tenant for `AuthError::Rejected` and `describe`.
    fn principal(&self) -> String {
        format!("{:?} in tenant {}", self.username, self.tenant)
    }
}

impl Authenticator for KeystoneV2Auth {
    fn authenticate(&self) -> Result<AuthToken, AuthError> {
        let request = self
            .http
            .post(&self.tokens_url)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(self.request_body().to_string());
        let target = Target {
            method: "POST",
            url: &self.tokens_url,
            user: &self.principal(),
        };

        let response = send(request, &target)?;
        let body = read_json(response, &self.tokens_url)?;
        self.read_token(&body)
    }

    fn describe(&self) -> String {
        format!(
            "Keystone v2.0 at {} as user {}",
            self.auth_url,
            self.principal()
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use secrecy::ExposeSecret;

    use super::super::test_server::{client, response, FakeServer};
    use super::super::Interface;
    use super::*;

    const PASSWORD: &str = "v2-secret-password";

    fn auth(auth_url: String, tenant: NameOrId) -> KeystoneV2Auth {
        KeystoneV2Auth::new(
            client(Duration::from_secs(5)),
            auth_url,
            "demo".to_string(),
            SecretString::from(PASSWORD),
            tenant,
            EndpointFilter {
                region: Some("SBG1".to_string()),
                interface: Interface::Public,
            },
        )
    }

    fn tenant_name() -> NameOrId {
        NameOrId::Name("361868".to_string())
    }

    fn success_body() -> String {
        json!({"access": {
            "token": {
                "id": "a4331ec98754472032f031e18b16bd00",
                "expires": "2015-10-02T14:53:15Z",
                "issued_at": "2015-10-01T14:53:15.072501",
                "tenant": {"id": "9eaff0", "name": "361868", "enabled": true}
            },
            "serviceCatalog": [{
                "type": "object-store",
                "name": "swift",
                "endpoints": [{
                    "region": "SBG1",
                    "publicURL": "https://storage.sbg1.example/v1/AUTH_9eaff0",
                    "internalURL": "https://internal.sbg1.example/v1/AUTH_9eaff0",
                    "adminURL": "https://admin.sbg1.example/v1"
                }],
                "endpoints_links": []
            }],
            "user": {"id": "u1", "name": "demo"}
        }})
        .to_string()
    }

    fn ok_json(body: &str) -> String {
        response("200 OK", &[("Content-Type", "application/json")], body)
    }

    #[test]
    fn body_tenant_name() {
        let body = auth("http://x/v2.0".to_string(), tenant_name()).request_body();
        let expected = json!({"auth": {
            "tenantName": "361868",
            "passwordCredentials": {"username": "demo", "password": PASSWORD}
        }});
        assert_eq!(body, expected);
    }

    #[test]
    fn body_tenant_id() {
        let tenant = NameOrId::Id("9eaff0".to_string());
        let body = auth("http://x/v2.0".to_string(), tenant).request_body();
        let expected = json!({"auth": {
            "tenantId": "9eaff0",
            "passwordCredentials": {"username": "demo", "password": PASSWORD}
        }});
        assert_eq!(body, expected);
    }

    #[test]
    fn tokens_url_trailing_slash() {
        let auth = auth("http://x/v2.0/".to_string(), tenant_name());
        assert_eq!(auth.tokens_url, "http://x/v2.0/tokens");
    }

    #[test]
    fn v2_success_token() {
        let server = FakeServer::respond_once(ok_json(&success_body()));
        let url = format!("{}/v2.0", server.base_url);
        let token = auth(url, tenant_name()).authenticate().unwrap();
        assert_eq!(
            token.token.expose_secret(),
            "a4331ec98754472032f031e18b16bd00"
        );
    }

    #[test]
    fn v2_success_storage_url() {
        let server = FakeServer::respond_once(ok_json(&success_body()));
        let url = format!("{}/v2.0", server.base_url);
        let token = auth(url, tenant_name()).authenticate().unwrap();
        assert_eq!(
            token.storage_url,
            "https://storage.sbg1.example/v1/AUTH_9eaff0"
        );
    }

    #[test]
    fn v2_success_expiry() {
        let server = FakeServer::respond_once(ok_json(&success_body()));
        let url = format!("{}/v2.0", server.base_url);
        let token = auth(url, tenant_name()).authenticate().unwrap();
        // 2015-10-02T14:53:15Z
        let expected = UNIX_EPOCH + Duration::from_secs(1_443_797_595);
        assert_eq!(token.expires_at, Some(expected));
    }

    #[test]
    fn v2_request_sent() {
        let server = FakeServer::respond_once(ok_json(&success_body()));
        let url = format!("{}/v2.0/", server.base_url);
        auth(url, tenant_name()).authenticate().unwrap();
        let request = server.request();
        let body: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(request.request_line, "POST /v2.0/tokens HTTP/1.1");
        assert_eq!(request.header("Content-Type"), Some("application/json"));
        assert_eq!(body["auth"]["tenantName"], "361868");
    }

    #[test]
    fn v2_rejected_names_url_and_user() {
        let server = FakeServer::respond_once(response(
            "401 Unauthorized",
            &[("Content-Type", "application/json")],
            r#"{"error": {"message": "The request you have made requires authentication.", "code": 401}}"#,
        ));
        let url = format!("{}/v2.0", server.base_url);
        let error = auth(url.clone(), tenant_name()).authenticate().unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, AuthError::Rejected { status: 401, .. }),
            "{error:?}"
        );
        assert!(message.contains(&format!("{url}/tokens")), "{message}");
        assert!(message.contains("\"demo\""), "{message}");
        assert!(!message.contains(PASSWORD), "{message}");
    }

    #[test]
    fn v2_missing_token_id() {
        let body = json!({"access": {"token": {"expires": "2015-10-02T14:53:15Z"}}}).to_string();
        let server = FakeServer::respond_once(ok_json(&body));
        let error = auth(server.base_url.clone(), tenant_name())
            .authenticate()
            .unwrap_err();
        assert!(
            matches!(&error, AuthError::InvalidResponse { what, .. } if what == "access.token.id missing"),
            "{error:?}"
        );
    }

    #[test]
    fn v2_debug_hides_password() {
        let text = format!("{:?}", auth("http://x/v2.0".to_string(), tenant_name()));
        assert!(!text.contains(PASSWORD), "{text}");
    }

    #[test]
    fn v2_describe_hides_password() {
        let text = auth("http://x/v2.0".to_string(), tenant_name()).describe();
        assert!(!text.contains(PASSWORD), "{text}");
    }
}
