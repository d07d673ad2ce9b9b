//! A Keystone v2.0 identity service for tests, since the local Keystone 22
//! (`POST /v2.0/tokens` returns 404) no longer serves v2.0. It responds to
//! `POST /v2.0/tokens` in the format of the v2.0 provider guides (OVH's
//! "Managing tokens"): a request with `passwordCredentials` and `tenantName`
//! or `tenantId`, a response with `access.token` (`id`, `expires`,
//! `issued_at`, `tenant`), `access.serviceCatalog` and `access.user`.
//!
//! The token it hands out is a real tempauth token of the local cluster, so
//! the storage URLs in its catalog work against the real Swift. The catalog
//! is built per test, for example with decoy endpoints that count requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::cluster::{ports, TempauthUser};
use super::http_server::{forward, Request, Response, TestServer};

type CatalogBuilder = Arc<dyn Fn(&str) -> Value + Send + Sync>;

/// What the fake accepts and returns.
pub struct V2Options {
    pub username: String,
    pub password: String,
    pub tenant_name: String,
    pub tenant_id: String,
    /// The tempauth user whose token is handed out.
    pub tempauth: TempauthUser,
    /// Token lifetime written to `access.token.expires`.
    pub lifetime: Duration,
    /// Delay before each response, so that concurrent requests pile up behind
    /// one authentication.
    pub delay: Duration,
    /// Builds `access.serviceCatalog` from the real storage URL of the
    /// tempauth user.
    pub catalog: CatalogBuilder,
}

impl V2Options {
    /// Accepts user `v2user` in tenant `v2tenant` (id `v2tenant-id`) and
    /// hands out `test:tester`'s token valid for one hour.
    pub fn new(catalog: impl Fn(&str) -> Value + Send + Sync + 'static) -> V2Options {
        V2Options {
            username: "v2user".to_string(),
            password: super::unique_name("v2-password"),
            tenant_name: "v2tenant".to_string(),
            tenant_id: "v2tenant-id".to_string(),
            tempauth: TempauthUser::from_env_file("tempauth"),
            lifetime: Duration::from_secs(3600),
            delay: Duration::ZERO,
            catalog: Arc::new(catalog),
        }
    }
}

/// A running fake v2.0 service.
pub struct FakeKeystoneV2 {
    server: TestServer,
    issued: Arc<Mutex<Vec<String>>>,
    pub username: String,
    pub password: String,
    pub tenant_name: String,
    pub tenant_id: String,
}

impl FakeKeystoneV2 {
    pub fn start(options: V2Options) -> FakeKeystoneV2 {
        let issued = Arc::new(Mutex::new(Vec::new()));
        let username = options.username.clone();
        let password = options.password.clone();
        let tenant_name = options.tenant_name.clone();
        let tenant_id = options.tenant_id.clone();
        let server = {
            let issued = issued.clone();
            TestServer::start(move |request| {
                std::thread::sleep(options.delay);
                if request.method != "POST" || request.path() != "/v2.0/tokens" {
                    return Response::text(404, "text/plain", "not found");
                }
                answer_token_request(request, &options, &issued)
            })
        };
        FakeKeystoneV2 {
            server,
            issued,
            username,
            password,
            tenant_name,
            tenant_id,
        }
    }

    /// The v2.0 base URL, for `OS_AUTH_URL`.
    pub fn auth_url(&self) -> String {
        format!("{}/v2.0", self.server.url())
    }

    /// OpenStack RC variables for this service, with the tenant by name.
    pub fn env(&self) -> HashMap<String, String> {
        HashMap::from([
            ("OS_AUTH_URL".to_string(), self.auth_url()),
            ("OS_USERNAME".to_string(), self.username.clone()),
            ("OS_PASSWORD".to_string(), self.password.clone()),
            ("OS_TENANT_NAME".to_string(), self.tenant_name.clone()),
        ])
    }

    /// Number of `POST /v2.0/tokens` received, accepted or not.
    pub fn token_requests(&self) -> usize {
        self.server.count_of("POST", "/v2.0/tokens")
    }

    /// Every request received.
    pub fn requests(&self) -> Vec<Request> {
        self.server.requests()
    }

    /// Every token handed out, oldest first.
    pub fn issued_tokens(&self) -> Vec<String> {
        self.issued.lock().unwrap().clone()
    }
}

fn answer_token_request(
    request: &Request,
    options: &V2Options,
    issued: &Mutex<Vec<String>>,
) -> Response {
    let Some(body) = request.json() else {
        return Response::json(
            400,
            &json!({"error": {"code": 400, "message": "invalid JSON"}}),
        );
    };
    let auth = &body["auth"];
    let credentials = &auth["passwordCredentials"];
    let user_ok = credentials["username"] == options.username.as_str()
        && credentials["password"] == options.password.as_str();
    let tenant_ok = auth["tenantName"] == options.tenant_name.as_str()
        || auth["tenantId"] == options.tenant_id.as_str();
    if !(user_ok && tenant_ok) {
        return Response::json(
            401,
            &json!({"error": {
                "code": 401,
                "title": "Unauthorized",
                "message": "The request you have made requires authentication.",
            }}),
        );
    }

    let (token, storage_url) = options.tempauth.token();
    issued.lock().unwrap().push(token.clone());
    let now = chrono::Utc::now();
    let expires = now + chrono::Duration::from_std(options.lifetime).unwrap();
    Response::json(
        200,
        &json!({"access": {
            "token": {
                "audit_ids": ["fake-audit-id"],
                "expires": expires.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                "id": token,
                "issued_at": now.format("%Y-%m-%dT%H:%M:%S%.6f").to_string(),
                "tenant": {
                    "description": null,
                    "enabled": true,
                    "id": options.tenant_id,
                    "name": options.tenant_name,
                },
            },
            "serviceCatalog": (options.catalog)(&storage_url),
            "user": {
                "id": "v2user-id",
                "name": options.username,
                "username": options.username,
                "roles": [{"name": "_member_"}],
                "roles_links": [],
            },
            "metadata": {"is_admin": 0, "roles": ["member-role-id"]},
        }}),
    )
}

/// An object-store catalog with one region, `RegionOne`, whose three
/// interfaces all point at `storage_url`.
pub fn single_region_catalog(storage_url: &str) -> Value {
    json!([
        {
            "type": "identity",
            "name": "keystone",
            "endpoints": [{"region": "RegionOne", "publicURL": "http://127.0.0.1:1/v2.0"}],
            "endpoints_links": [],
        },
        {
            "type": "object-store",
            "name": "swift",
            "endpoints": [{
                "region": "RegionOne",
                "publicURL": storage_url,
                "internalURL": storage_url,
                "adminURL": storage_url,
            }],
            "endpoints_links": [],
        }
    ])
}

/// Endpoints that must receive no traffic unless explicitly chosen.
pub struct Decoys {
    /// RegionOne's public endpoint: answers 503 to everything.
    pub unavailable: TestServer,
    /// RegionTwo's admin endpoint: answers 503 to everything.
    pub admin: TestServer,
    /// RegionTwo's internal endpoint: passes requests on to the real tempauth
    /// proxy, so a mount through it works and every request is counted.
    pub internal: TestServer,
}

impl Decoys {
    pub fn start() -> Decoys {
        let unavailable = || Response::text(503, "text/plain", "decoy endpoint");
        let swift = format!("http://127.0.0.1:{}", ports()["TEMPAUTH_PROXY_PORT"]);
        Decoys {
            unavailable: TestServer::start(move |_| unavailable()),
            admin: TestServer::start(move |_| unavailable()),
            internal: TestServer::start(move |request| forward(request, &swift)),
        }
    }

    /// Base URLs of the three decoys, for a catalog builder.
    pub fn urls(&self) -> DecoyUrls {
        DecoyUrls {
            unavailable: self.unavailable.url(),
            admin: self.admin.url(),
            internal: self.internal.url(),
        }
    }
}

/// Base URLs of the `Decoys`, which a catalog builder can capture.
#[derive(Clone)]
pub struct DecoyUrls {
    pub unavailable: String,
    pub admin: String,
    pub internal: String,
}

/// An object-store catalog listing, in this order: RegionOne public (503),
/// RegionTwo admin (503), RegionTwo internal (a forwarding decoy), and last
/// RegionTwo public, the real `storage_url`. Every entry carries one
/// interface, so a client that takes "the first endpoint" or "the first
/// public URL" picks a wrong one.
pub fn misleading_catalog(decoys: &DecoyUrls, storage_url: &str) -> Value {
    let account_path = reqwest::Url::parse(storage_url).unwrap().path().to_string();
    json!([
        {
            "type": "object-store",
            "name": "swift",
            "endpoints": [
                {"region": "RegionOne", "publicURL": format!("{}{account_path}", decoys.unavailable)},
                {"region": "RegionTwo", "adminURL": format!("{}{account_path}", decoys.admin)},
                {"region": "RegionTwo", "internalURL": format!("{}{account_path}", decoys.internal)},
                {"region": "RegionTwo", "publicURL": storage_url},
            ],
            "endpoints_links": [],
        },
        {
            "type": "identity",
            "name": "keystone",
            "endpoints": [{"region": "RegionOne", "publicURL": "http://127.0.0.1:1/v2.0"}],
            "endpoints_links": [],
        }
    ])
}
