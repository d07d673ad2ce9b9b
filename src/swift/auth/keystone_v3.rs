//! Keystone v3 authentication: `POST {auth_url}/auth/tokens` with a password
//! or an application credential. The token comes back in the
//! `X-Subject-Token` response header, the expiry and catalog in the JSON body.

use log::warn;
use reqwest::blocking::{Client, Response};
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

use super::request::{invalid, optional_expiry, read_json, send, Target};
use super::{
    catalog, AuthError, AuthToken, Authenticator, EndpointFilter, NameOrId, V3Identity, V3Project,
};

/// Keystone v3 credentials and the client that sends them.
#[derive(Debug)]
pub struct KeystoneV3Auth {
    http: Client,
    auth_url: String,
    /// `{auth_url}/auth/tokens`.
    tokens_url: String,
    identity: V3Identity,
    project: Option<V3Project>,
    endpoint: EndpointFilter,
}

impl KeystoneV3Auth {
    /// `auth_url` is the v3 base such as `https://auth.example/v3`, with or
    /// without a trailing slash. It is used as given: a URL without the `/v3`
    /// suffix gets only `/auth/tokens` appended, so a wrong base shows up as
    /// the server's error status.
    ///
    /// An application credential carries its own scope, so `project` is
    /// ignored with one.
    pub fn new(
        http: Client,
        auth_url: String,
        identity: V3Identity,
        project: Option<V3Project>,
        endpoint: EndpointFilter,
    ) -> KeystoneV3Auth {
        let tokens_url = format!("{}/auth/tokens", auth_url.trim_end_matches('/'));
        let project = match identity {
            V3Identity::ApplicationCredential { .. } if project.is_some() => {
                warn!("ignoring the configured project because an application credential carries its own scope");
                None
            }
            _ => project,
        };
        KeystoneV3Auth {
            http,
            auth_url,
            tokens_url,
            identity,
            project,
            endpoint,
        }
    }

    /// Builds the request body. It contains the password or secret, so it
    /// must not be logged.
    fn request_body(&self) -> Value {
        let mut auth = json!({ "identity": identity_json(&self.identity) });
        if let Some(project) = &self.project {
            auth["scope"] = json!({ "project": project_json(project) });
        }
        json!({ "auth": auth })
    }

    fn read_token(&self, response: Response) -> Result<AuthToken, AuthError> {
        let token = response
            .headers()
            .get("X-Subject-Token")
            .and_then(|value| value.to_str().ok())
            .filter(|value| !value.is_empty())
            .map(SecretString::from)
            .ok_or_else(|| invalid(&self.tokens_url, "X-Subject-Token header missing"))?;
        let body = read_json(response, &self.tokens_url)?;
        let expires_at = optional_expiry(&body, "token.expires_at", &self.tokens_url);
        let endpoints = catalog::from_v3(&body, &self.tokens_url)?;
        let storage_url = catalog::select(&endpoints, &self.endpoint, &self.tokens_url)?;

        Ok(AuthToken {
            token,
            storage_url,
            expires_at,
        })
    }

    /// Describes the user, credential and project for `AuthError::Rejected`,
    /// where the text follows the word "user".
    fn principal(&self) -> String {
        let mut text = match &self.identity {
            V3Identity::Password {
                user, user_domain, ..
            } => user_text(user, user_domain.as_ref()),
            V3Identity::ApplicationCredential {
                credential,
                user: None,
                ..
            } => format!("with application credential {credential}"),
            V3Identity::ApplicationCredential {
                credential,
                user: Some(user),
                user_domain,
                ..
            } => format!(
                "{} with application credential {credential}",
                user_text(user, user_domain.as_ref())
            ),
        };
        if let Some(project) = &self.project {
            text.push_str(&format!(", project {}", project.project));
            if let Some(domain) = &project.domain {
                text.push_str(&format!(" in domain {domain}"));
            }
        }
        text
    }
}

impl Authenticator for KeystoneV3Auth {
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
        self.read_token(response)
    }

    fn describe(&self) -> String {
        format!(
            "Keystone v3 at {} as user {}",
            self.auth_url,
            self.principal()
        )
    }
}

fn user_text(user: &NameOrId, domain: Option<&NameOrId>) -> String {
    match domain {
        Some(domain) => format!("{user} in domain {domain}"),
        None => user.to_string(),
    }
}

/// Builds `auth.identity`.
fn identity_json(identity: &V3Identity) -> Value {
    match identity {
        V3Identity::Password {
            user,
            user_domain,
            password,
        } => {
            let mut user = entity_json(user, user_domain.as_ref());
            user["password"] = json!(password.expose_secret());
            json!({ "methods": ["password"], "password": { "user": user } })
        }
        V3Identity::ApplicationCredential {
            credential,
            user,
            user_domain,
            secret,
        } => {
            let mut credential_json = entity_json(credential, None);
            credential_json["secret"] = json!(secret.expose_secret());
            // Keystone finds a credential by its id alone, but a name is
            // unique only among the credentials of one user.
            if let (NameOrId::Name(_), Some(user)) = (credential, user) {
                credential_json["user"] = entity_json(user, user_domain.as_ref());
            }
            json!({
                "methods": ["application_credential"],
                "application_credential": credential_json,
            })
        }
    }
}

/// Builds `auth.scope.project`.
fn project_json(project: &V3Project) -> Value {
    entity_json(&project.project, project.domain.as_ref())
}

/// Builds `{"id": ..}`, or `{"name": .., "domain": ..}` for a user or project
/// given by name. Keystone requires the domain only with a name: ids are
/// unique across domains, so the domain is left out with an id.
fn entity_json(entity: &NameOrId, domain: Option<&NameOrId>) -> Value {
    match entity {
        NameOrId::Id(id) => json!({ "id": id }),
        NameOrId::Name(name) => {
            let mut value = json!({ "name": name });
            if let Some(domain) = domain {
                value["domain"] = entity_json(domain, None);
            }
            value
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use secrecy::ExposeSecret;

    use super::super::test_server::{client, response, FakeServer};
    use super::super::Interface;
    use super::*;

    const PASSWORD: &str = "v3-secret-password";
    const SECRET: &str = "v3-application-secret";
    const TOKEN: &str = "gAAAAABv3token";

    fn name(text: &str) -> NameOrId {
        NameOrId::Name(text.to_string())
    }

    fn id(text: &str) -> NameOrId {
        NameOrId::Id(text.to_string())
    }

    fn password(user: NameOrId, user_domain: Option<NameOrId>) -> V3Identity {
        V3Identity::Password {
            user,
            user_domain,
            password: SecretString::from(PASSWORD),
        }
    }

    fn application_credential(
        credential: NameOrId,
        user: Option<NameOrId>,
        user_domain: Option<NameOrId>,
    ) -> V3Identity {
        V3Identity::ApplicationCredential {
            credential,
            user,
            user_domain,
            secret: SecretString::from(SECRET),
        }
    }

    fn project(project: NameOrId, domain: Option<NameOrId>) -> Option<V3Project> {
        Some(V3Project { project, domain })
    }

    fn auth(auth_url: &str, identity: V3Identity, project: Option<V3Project>) -> KeystoneV3Auth {
        KeystoneV3Auth::new(
            client(Duration::from_secs(5)),
            auth_url.to_string(),
            identity,
            project,
            EndpointFilter {
                region: Some("RegionOne".to_string()),
                interface: Interface::Public,
            },
        )
    }

    fn body(identity: V3Identity, project: Option<V3Project>) -> Value {
        auth("http://x/v3", identity, project).request_body()
    }

    fn demo_auth(auth_url: &str) -> KeystoneV3Auth {
        auth(
            auth_url,
            password(name("demo"), Some(name("Default"))),
            project(name("demo"), Some(name("Default"))),
        )
    }

    fn catalog_body(catalog: Value) -> String {
        json!({"token": {
            "methods": ["password"],
            "expires_at": "2030-01-01T00:00:00.000000Z",
            "issued_at": "2029-12-31T23:00:00.000000Z",
            "project": {"id": "p1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
            "catalog": catalog
        }})
        .to_string()
    }

    fn success_body() -> String {
        catalog_body(json!([
            {"type": "identity", "name": "keystone", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "url": "http://127.0.0.1:5000/v3"}
            ]},
            {"type": "object-store", "name": "swift", "endpoints": [
                {"interface": "admin", "region_id": "RegionOne", "url": "http://127.0.0.1:8080/v1"},
                {"interface": "public", "region_id": "RegionOne", "url": "http://127.0.0.1:8080/v1/AUTH_p1"}
            ]}
        ]))
    }

    fn success_response() -> String {
        response(
            "201 Created",
            &[
                ("Content-Type", "application/json"),
                ("X-Subject-Token", TOKEN),
            ],
            &success_body(),
        )
    }

    #[test]
    fn body_password_user_id_project_id() {
        let expected = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {"id": "u1", "password": PASSWORD}}},
            "scope": {"project": {"id": "p1"}}
        }});
        assert_eq!(
            body(password(id("u1"), None), project(id("p1"), None)),
            expected
        );
    }

    #[test]
    fn body_password_names_domain_names() {
        let expected = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "demo", "domain": {"name": "Default"}, "password": PASSWORD
            }}},
            "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}
        }});
        let identity = password(name("demo"), Some(name("Default")));
        assert_eq!(
            body(identity, project(name("demo"), Some(name("Default")))),
            expected
        );
    }

    #[test]
    fn body_password_names_domain_ids() {
        let expected = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": "demo", "domain": {"id": "default"}, "password": PASSWORD
            }}},
            "scope": {"project": {"name": "demo", "domain": {"id": "d2"}}}
        }});
        let identity = password(name("demo"), Some(id("default")));
        assert_eq!(
            body(identity, project(name("demo"), Some(id("d2")))),
            expected
        );
    }

    #[test]
    fn body_password_id_ignores_domain() {
        let expected = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {"id": "u1", "password": PASSWORD}}},
            "scope": {"project": {"id": "p1"}}
        }});
        let identity = password(id("u1"), Some(name("Default")));
        assert_eq!(
            body(identity, project(id("p1"), Some(name("Default")))),
            expected
        );
    }

    #[test]
    fn body_password_unscoped() {
        let expected = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {"id": "u1", "password": PASSWORD}}}
        }});
        assert_eq!(body(password(id("u1"), None), None), expected);
    }

    #[test]
    fn body_app_credential_id() {
        let expected = json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": "ac1", "secret": SECRET}
        }}});
        let identity = application_credential(id("ac1"), None, None);
        assert_eq!(body(identity, None), expected);
    }

    #[test]
    fn body_app_credential_ignores_project() {
        let expected = json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"id": "ac1", "secret": SECRET}
        }}});
        let identity = application_credential(id("ac1"), Some(name("demo")), None);
        assert_eq!(body(identity, project(id("p1"), None)), expected);
    }

    #[test]
    fn body_app_credential_name_user_id() {
        let expected = json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {"name": "backup", "secret": SECRET, "user": {"id": "u1"}}
        }}});
        let identity = application_credential(name("backup"), Some(id("u1")), None);
        assert_eq!(body(identity, None), expected);
    }

    #[test]
    fn body_app_credential_name_user_name() {
        let expected = json!({"auth": {"identity": {
            "methods": ["application_credential"],
            "application_credential": {
                "name": "backup",
                "secret": SECRET,
                "user": {"name": "demo", "domain": {"name": "Default"}}
            }
        }}});
        let identity =
            application_credential(name("backup"), Some(name("demo")), Some(name("Default")));
        assert_eq!(body(identity, None), expected);
    }

    #[test]
    fn tokens_url_trailing_slash() {
        assert_eq!(
            demo_auth("http://x/v3/").tokens_url,
            "http://x/v3/auth/tokens"
        );
    }

    #[test]
    fn tokens_url_bare_host() {
        assert_eq!(
            demo_auth("http://x:5000").tokens_url,
            "http://x:5000/auth/tokens"
        );
    }

    #[test]
    fn v3_success_token() {
        let server = FakeServer::respond_once(success_response());
        let url = format!("{}/v3", server.base_url);
        let token = demo_auth(&url).authenticate().unwrap();
        assert_eq!(token.token.expose_secret(), TOKEN);
    }

    #[test]
    fn v3_success_storage_url() {
        let server = FakeServer::respond_once(success_response());
        let url = format!("{}/v3", server.base_url);
        let token = demo_auth(&url).authenticate().unwrap();
        assert_eq!(token.storage_url, "http://127.0.0.1:8080/v1/AUTH_p1");
    }

    #[test]
    fn v3_success_expiry() {
        let server = FakeServer::respond_once(success_response());
        let url = format!("{}/v3", server.base_url);
        let token = demo_auth(&url).authenticate().unwrap();
        // 2030-01-01T00:00:00Z
        let expected = UNIX_EPOCH + Duration::from_secs(1_893_456_000);
        assert_eq!(token.expires_at, Some(expected));
    }

    #[test]
    fn v3_request_sent() {
        let server = FakeServer::respond_once(success_response());
        let url = format!("{}/v3/", server.base_url);
        let auth = demo_auth(&url);
        auth.authenticate().unwrap();
        let request = server.request();
        let body: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(request.request_line, "POST /v3/auth/tokens HTTP/1.1");
        assert_eq!(request.header("Content-Type"), Some("application/json"));
        assert_eq!(body, auth.request_body());
    }

    #[test]
    fn v3_missing_subject_token() {
        let server = FakeServer::respond_once(response("201 Created", &[], &success_body()));
        let url = format!("{}/v3", server.base_url);
        let error = demo_auth(&url).authenticate().unwrap_err();
        assert!(
            matches!(&error, AuthError::InvalidResponse { what, .. } if what == "X-Subject-Token header missing"),
            "{error:?}"
        );
    }

    #[test]
    fn v3_rejected_names_url_and_user() {
        let server = FakeServer::respond_once(response(
            "401 Unauthorized",
            &[("Content-Type", "application/json")],
            r#"{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}"#,
        ));
        let url = format!("{}/v3", server.base_url);
        let error = demo_auth(&url).authenticate().unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, AuthError::Rejected { status: 401, .. }),
            "{error:?}"
        );
        assert!(message.contains(&format!("{url}/auth/tokens")), "{message}");
        assert!(
            message.contains(r#"user name "demo" in domain name "Default""#),
            "{message}"
        );
        assert!(!message.contains(PASSWORD), "{message}");
    }

    #[test]
    fn v3_html_error_shortened() {
        let page = format!(
            "<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n<body><h1>Internal Server Error</h1><p>{}</p></body></html>",
            "The server encountered an internal error. ".repeat(20)
        );
        let server = FakeServer::respond_once(response(
            "500 Internal Server Error",
            &[("Content-Type", "text/html")],
            &page,
        ));
        let url = format!("{}/v3", server.base_url);
        let error = demo_auth(&url).authenticate().unwrap_err();
        let AuthError::Status { status, body, .. } = error else {
            panic!("expected Status, got {error:?}");
        };
        assert_eq!(status, 500);
        assert!(
            body.starts_with("500 Internal Server Error Internal Server Error"),
            "{body}"
        );
        assert!(body.chars().count() <= 201, "{body}");
        assert!(!body.contains('<'), "{body}");
    }

    #[test]
    fn v3_malformed_json() {
        let server = FakeServer::respond_once(response(
            "201 Created",
            &[("X-Subject-Token", TOKEN)],
            r#"{"token": {"expires_at": "#,
        ));
        let url = format!("{}/v3", server.base_url);
        let error = demo_auth(&url).authenticate().unwrap_err();
        assert!(
            matches!(&error, AuthError::InvalidResponse { what, .. } if what.starts_with("the body is not JSON")),
            "{error:?}"
        );
    }

    #[test]
    fn v3_catalog_without_object_store() {
        let body = catalog_body(json!([
            {"type": "identity", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "url": "http://127.0.0.1:5000/v3"}
            ]}
        ]));
        let server = FakeServer::respond_once(response(
            "201 Created",
            &[("X-Subject-Token", TOKEN)],
            &body,
        ));
        let url = format!("{}/v3", server.base_url);
        let error = demo_auth(&url).authenticate().unwrap_err();
        assert!(
            matches!(&error, AuthError::InvalidResponse { what, .. } if what.contains("no object-store service")),
            "{error:?}"
        );
    }

    #[test]
    fn v3_timeout_is_unreachable() {
        let base_url = FakeServer::silent();
        let auth = KeystoneV3Auth::new(
            client(Duration::from_secs(1)),
            format!("{base_url}/v3"),
            password(id("u1"), None),
            project(id("p1"), None),
            EndpointFilter {
                region: None,
                interface: Interface::Public,
            },
        );
        let error = auth.authenticate().unwrap_err();
        assert!(matches!(error, AuthError::Unreachable { .. }), "{error:?}");
    }

    #[test]
    fn v3_debug_hides_password() {
        let text = format!("{:?}", demo_auth("http://x/v3"));
        assert!(!text.contains(PASSWORD), "{text}");
    }

    #[test]
    fn v3_debug_hides_secret() {
        let auth = auth(
            "http://x/v3",
            application_credential(id("ac1"), None, None),
            None,
        );
        let text = format!("{auth:?}");
        assert!(!text.contains(SECRET), "{text}");
    }

    #[test]
    fn v3_describe_app_credential() {
        let auth = auth(
            "http://x/v3",
            application_credential(id("ac1"), None, None),
            None,
        );
        assert_eq!(
            auth.describe(),
            r#"Keystone v3 at http://x/v3 as user with application credential id "ac1""#
        );
    }

    #[test]
    fn v3_describe_password() {
        assert_eq!(
            demo_auth("http://x/v3").describe(),
            r#"Keystone v3 at http://x/v3 as user name "demo" in domain name "Default", project name "demo" in domain name "Default""#
        );
    }
}
