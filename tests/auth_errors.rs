//! Broken identity services seen through the real binary: each response
//! makes `swiftmount` exit with status 1 before mounting, with one error line
//! that names the URL and what was wrong or missing. The parsing itself has
//! unit tests in `src/swift/auth/`, so these check what the user sees.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::http_server::{Request, Response, SilentServer, TestServer};
use common::mount_checks::{run_to_exit, Exit};
use serde_json::json;

const PASSWORD: &str = "errors-test-password";
const TOKEN: &str = "errors-test-token";

/// Maximum run time of one case. Every case ends in well under a second,
/// except the timeout case, which its 2 s read timeout bounds.
const RUN_LIMIT: Duration = Duration::from_secs(30);

fn v2_env(server_url: &str) -> HashMap<String, String> {
    HashMap::from([
        ("OS_AUTH_URL".to_string(), format!("{server_url}/v2.0")),
        ("OS_USERNAME".to_string(), "erroruser".to_string()),
        ("OS_PASSWORD".to_string(), PASSWORD.to_string()),
        ("OS_TENANT_NAME".to_string(), "errortenant".to_string()),
    ])
}

fn v3_env(server_url: &str) -> HashMap<String, String> {
    HashMap::from([
        ("OS_AUTH_URL".to_string(), format!("{server_url}/v3")),
        ("OS_USERNAME".to_string(), "erroruser".to_string()),
        ("OS_PASSWORD".to_string(), PASSWORD.to_string()),
        ("OS_PROJECT_NAME".to_string(), "errorproject".to_string()),
    ])
}

/// A v2.0 token response with `catalog` as `access.serviceCatalog`.
fn v2_token(catalog: serde_json::Value) -> Response {
    Response::json(
        200,
        &json!({"access": {
            "token": {"id": TOKEN, "expires": "2099-01-01T00:00:00Z"},
            "serviceCatalog": catalog,
            "user": {"id": "u1", "name": "erroruser"},
        }}),
    )
}

/// A v3 token response with `catalog` as `token.catalog`.
fn v3_token(catalog: serde_json::Value) -> Response {
    Response::json(
        201,
        &json!({"token": {
            "methods": ["password"],
            "expires_at": "2099-01-01T00:00:00.000000Z",
            "catalog": catalog,
        }}),
    )
    .with_header("X-Subject-Token", TOKEN)
}

/// Runs `swiftmount` against a server answering every request with
/// `response`, and checks what every case shares: exit status 1, nothing
/// mounted, one error line naming `url_part`, and no secret in the output.
fn run_against(
    env_for: fn(&str) -> HashMap<String, String>,
    response: Response,
    url_part: &str,
) -> Exit {
    let server = TestServer::start(move |_: &Request| response.clone());
    let exit = run_to_exit(&env_for(&server.url()), &[], RUN_LIMIT);
    assert_eq!(exit.code, Some(1), "stderr: {}", exit.stderr);
    assert!(!exit.mounted, "mounted despite a broken identity service");
    assert!(
        exit.error_line()
            .contains(&format!("{}{url_part}", server.url())),
        "URL not named: {}",
        exit.stderr
    );
    assert!(
        !exit.stderr.contains(PASSWORD),
        "password in: {}",
        exit.stderr
    );
    assert!(!exit.stderr.contains(TOKEN), "token in: {}", exit.stderr);
    exit
}

#[test]
fn v2_malformed_json() {
    let response = Response::text(200, "application/json", r#"{"access": {"token": "#);
    let exit = run_against(v2_env, response, "/v2.0/tokens");
    let line = exit.error_line();
    assert!(
        line.contains("invalid answer from identity service"),
        "{line}"
    );
    assert!(line.contains("the body is not JSON"), "{line}");
}

#[test]
fn v2_html_error_page() {
    let page = "<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title>\
        <style>h1 { color: red }</style></head>\n<body><h1>Bad Gateway</h1>\n\
        <p>The proxy server received an invalid response.</p></body></html>";
    let exit = run_against(
        v2_env,
        Response::text(502, "text/html", page),
        "/v2.0/tokens",
    );
    let line = exit.error_line();
    assert!(line.contains("answered HTTP 502"), "{line}");
    assert!(
        line.contains("502 Bad Gateway Bad Gateway The proxy server received an invalid response."),
        "{line}"
    );
    assert!(!line.contains('<'), "HTML tags in: {line}");
}

#[test]
fn v2_html_page_with_200() {
    let page = "<html><body><h1>Welcome to the captive portal</h1></body></html>";
    let exit = run_against(
        v2_env,
        Response::text(200, "text/html", page),
        "/v2.0/tokens",
    );
    let line = exit.error_line();
    assert!(line.contains("the body is not JSON"), "{line}");
    assert!(!line.contains("captive"), "body echoed in: {line}");
}

#[test]
fn v2_missing_token_id() {
    let response = Response::json(
        200,
        &json!({"access": {"token": {"expires": "2099-01-01T00:00:00Z"}}}),
    );
    let exit = run_against(v2_env, response, "/v2.0/tokens");
    let line = exit.error_line();
    assert!(line.contains("access.token.id missing"), "{line}");
}

#[test]
fn v2_catalog_without_object_store() {
    let catalog = json!([{"type": "identity", "name": "keystone", "endpoints": [
        {"region": "RegionOne", "publicURL": "http://127.0.0.1:1/v2.0"}
    ]}]);
    let exit = run_against(v2_env, v2_token(catalog), "/v2.0/tokens");
    let line = exit.error_line();
    assert!(
        line.contains(
            "access.serviceCatalog has no object-store service (service types: identity)"
        ),
        "{line}"
    );
}

#[test]
fn v2_endpoint_without_interface() {
    let catalog = json!([{"type": "object-store", "name": "swift", "endpoints": [
        {"region": "RegionOne", "publicURL": "http://127.0.0.1:1/v1/AUTH_x"}
    ]}]);
    let server = TestServer::start(move |_| v2_token(catalog.clone()));
    let mut env = v2_env(&server.url());
    env.insert("OS_INTERFACE".into(), "internal".into());
    let exit = run_to_exit(&env, &[], RUN_LIMIT);

    let line = exit.error_line();
    assert_eq!(exit.code, Some(1), "stderr: {}", exit.stderr);
    assert!(!exit.mounted);
    assert!(
        line.contains("no object-store endpoint for region (not set) and interface internal"),
        "{line}"
    );
    assert!(line.contains("available: RegionOne/public"), "{line}");
    assert!(line.contains("OS_INTERFACE"), "{line}");
}

#[test]
fn v2_identity_never_answers() {
    let server = SilentServer::start();
    let env = v2_env(&server.url());
    let exit = run_to_exit(
        &env,
        &["--connect-timeout", "1", "--read-timeout", "2"],
        RUN_LIMIT,
    );

    let line = exit.error_line();
    assert_eq!(exit.code, Some(1), "stderr: {}", exit.stderr);
    assert!(!exit.mounted);
    assert!(
        line.contains(&format!(
            "cannot reach the identity service at {}/v2.0/tokens",
            server.url()
        )),
        "{line}"
    );
    assert!(line.contains("timed out"), "{line}");
}

#[test]
fn v3_malformed_json() {
    let response = Response::text(201, "application/json", "{\"token\": [1, 2,")
        .with_header("X-Subject-Token", TOKEN);
    let exit = run_against(v3_env, response, "/v3/auth/tokens");
    let line = exit.error_line();
    assert!(line.contains("the body is not JSON"), "{line}");
}

#[test]
fn v3_missing_subject_token() {
    let catalog = json!([{"type": "object-store", "endpoints": [
        {"interface": "public", "region_id": "RegionOne", "url": "http://127.0.0.1:1/v1/AUTH_x"}
    ]}]);
    let response = Response::json(
        201,
        &json!({"token": {"expires_at": "2099-01-01T00:00:00Z", "catalog": catalog}}),
    );
    let exit = run_against(v3_env, response, "/v3/auth/tokens");
    let line = exit.error_line();
    assert!(line.contains("X-Subject-Token header missing"), "{line}");
}

#[test]
fn v3_catalog_without_object_store() {
    let catalog = json!([{"type": "identity", "endpoints": [
        {"interface": "public", "region_id": "RegionOne", "url": "http://127.0.0.1:1/v3"}
    ]}]);
    let exit = run_against(v3_env, v3_token(catalog), "/v3/auth/tokens");
    let line = exit.error_line();
    assert!(
        line.contains("token.catalog has no object-store service (service types: identity)"),
        "{line}"
    );
}

#[test]
fn v3_endpoint_without_interface() {
    let catalog = json!([{"type": "object-store", "endpoints": [
        {"interface": "admin", "region_id": "RegionOne", "url": "http://127.0.0.1:1/v1"},
        {"interface": "internal", "region_id": "RegionOne", "url": "http://127.0.0.1:1/v1/AUTH_x"}
    ]}]);
    let exit = run_against(v3_env, v3_token(catalog), "/v3/auth/tokens");
    let line = exit.error_line();
    assert!(
        line.contains("no object-store endpoint for region (not set) and interface public"),
        "{line}"
    );
    assert!(
        line.contains("available: RegionOne/admin, RegionOne/internal"),
        "{line}"
    );
}
