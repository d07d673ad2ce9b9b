//! A Keystone v3 identity service for tests that need a catalog the real
//! Keystone does not have. It responds to `POST /v3/auth/tokens` of one
//! password user with status 201, the token in `X-Subject-Token`, and
//! `token.expires_at` and `token.catalog` in the body, as Keystone v3 does.
//! The token is a real tempauth token of the local cluster, so storage URLs
//! in the catalog work against the real Swift.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::cluster::TempauthUser;
use super::fake_keystone_v2::DecoyUrls;
use super::http_server::{Request, Response, TestServer};

/// A running fake v3 service that accepts user `v3user` in domain
/// `Default` with a random password, scoped to project `v3project`.
pub struct FakeKeystoneV3 {
    server: TestServer,
    pub password: String,
}

impl FakeKeystoneV3 {
    /// Starts the service. `catalog` builds `token.catalog` from the real
    /// storage URL of `test:tester`, whose token is handed out.
    pub fn start(catalog: impl Fn(&str) -> Value + Send + Sync + 'static) -> FakeKeystoneV3 {
        let password = super::unique_name("v3-password");
        let accepted = password.clone();
        let tempauth = TempauthUser::from_env_file("tempauth");
        let server = TestServer::start(move |request| {
            if request.method != "POST" || request.path() != "/v3/auth/tokens" {
                return Response::text(404, "text/plain", "not found");
            }
            if !password_matches(request, &accepted) {
                return Response::json(
                    401,
                    &json!({"error": {
                        "code": 401,
                        "title": "Unauthorized",
                        "message": "The request you have made requires authentication.",
                    }}),
                );
            }
            let (token, storage_url) = tempauth.token();
            let now = chrono::Utc::now();
            let expires = now + chrono::Duration::from_std(Duration::from_secs(3600)).unwrap();
            Response::json(
                201,
                &json!({"token": {
                    "methods": ["password"],
                    "user": {"id": "v3user-id", "name": "v3user", "domain": {"id": "default", "name": "Default"}},
                    "project": {"id": "v3project-id", "name": "v3project", "domain": {"id": "default", "name": "Default"}},
                    "roles": [{"id": "member-role-id", "name": "member"}],
                    "audit_ids": ["fake-audit-id"],
                    "issued_at": now.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                    "expires_at": expires.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
                    "catalog": catalog(&storage_url),
                }}),
            )
            .with_header("X-Subject-Token", &token)
        });
        FakeKeystoneV3 { server, password }
    }

    /// OpenStack RC variables for this service, with names and domain names.
    pub fn env(&self) -> HashMap<String, String> {
        HashMap::from([
            (
                "OS_AUTH_URL".to_string(),
                format!("{}/v3", self.server.url()),
            ),
            ("OS_USERNAME".to_string(), "v3user".to_string()),
            ("OS_PASSWORD".to_string(), self.password.clone()),
            ("OS_PROJECT_NAME".to_string(), "v3project".to_string()),
            ("OS_USER_DOMAIN_NAME".to_string(), "Default".to_string()),
            ("OS_PROJECT_DOMAIN_NAME".to_string(), "Default".to_string()),
        ])
    }

    /// Number of `POST /v3/auth/tokens` received, accepted or not.
    pub fn token_requests(&self) -> usize {
        self.server.count_of("POST", "/v3/auth/tokens")
    }
}

fn password_matches(request: &Request, password: &str) -> bool {
    let Some(body) = request.json() else {
        return false;
    };
    let user = &body["auth"]["identity"]["password"]["user"];
    user["name"] == "v3user" && user["password"] == password
}

/// Builds a v3 object-store catalog listing, in this order: RegionOne public (503),
/// RegionTwo admin (503), RegionTwo internal (a forwarding decoy), and last
/// RegionTwo public, the real `storage_url`.
pub fn misleading_catalog_v3(decoys: &DecoyUrls, storage_url: &str) -> Value {
    let account_path = reqwest::Url::parse(storage_url).unwrap().path().to_string();
    let endpoint = |interface: &str, region: &str, url: String| {
        json!({
            "id": format!("{region}-{interface}"),
            "interface": interface,
            "region_id": region,
            "region": region,
            "url": url,
        })
    };
    json!([
        {
            "type": "object-store",
            "name": "swift",
            "id": "swift-service-id",
            "endpoints": [
                endpoint("public", "RegionOne", format!("{}{account_path}", decoys.unavailable)),
                endpoint("admin", "RegionTwo", format!("{}{account_path}", decoys.admin)),
                endpoint("internal", "RegionTwo", format!("{}{account_path}", decoys.internal)),
                endpoint("public", "RegionTwo", storage_url.to_string()),
            ],
        },
        {
            "type": "identity",
            "name": "keystone",
            "id": "keystone-service-id",
            "endpoints": [endpoint("public", "RegionOne", "http://127.0.0.1:1/v3".to_string())],
        }
    ])
}
