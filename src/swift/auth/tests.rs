//! Tests of the types and the factory in `auth/mod.rs`.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use super::test_server::client;
use super::*;

const SECRET: &str = "do-not-print-me";

fn secret() -> SecretString {
    SecretString::from(SECRET)
}

fn endpoint() -> EndpointFilter {
    EndpointFilter {
        region: Some("RegionOne".to_string()),
        interface: Interface::Public,
    }
}

fn assert_hidden(value: &impl fmt::Debug) {
    let text = format!("{value:?}");
    assert!(!text.contains(SECRET), "{text}");
}

#[test]
fn debug_hides_v1_key() {
    assert_hidden(&AuthConfig::V1 {
        auth_url: "http://127.0.0.1:8080/auth/v1.0".to_string(),
        user: "test:tester".to_string(),
        key: secret(),
    });
}

#[test]
fn debug_hides_v2_password() {
    assert_hidden(&AuthConfig::KeystoneV2 {
        auth_url: "http://127.0.0.1:5000/v2.0".to_string(),
        username: "demo".to_string(),
        password: secret(),
        tenant: NameOrId::Name("demo".to_string()),
        endpoint: endpoint(),
    });
}

#[test]
fn debug_hides_v3_password() {
    assert_hidden(&AuthConfig::KeystoneV3 {
        auth_url: "http://127.0.0.1:5000/v3".to_string(),
        identity: V3Identity::Password {
            user: NameOrId::Name("demo".to_string()),
            user_domain: Some(NameOrId::Id("default".to_string())),
            password: secret(),
        },
        project: Some(V3Project {
            project: NameOrId::Name("demo".to_string()),
            domain: Some(NameOrId::Id("default".to_string())),
        }),
        endpoint: endpoint(),
    });
}

#[test]
fn debug_hides_v3_app_secret() {
    assert_hidden(&AuthConfig::KeystoneV3 {
        auth_url: "http://127.0.0.1:5000/v3".to_string(),
        identity: V3Identity::ApplicationCredential {
            credential: NameOrId::Id("ac1".to_string()),
            user: None,
            user_domain: None,
            secret: secret(),
        },
        project: None,
        endpoint: endpoint(),
    });
}

#[test]
fn debug_hides_preauth_token() {
    assert_hidden(&AuthConfig::PreAuthenticated {
        token: secret(),
        storage_url: "http://127.0.0.1:8080/v1/AUTH_test".to_string(),
    });
}

#[test]
fn debug_hides_auth_token() {
    assert_hidden(&AuthToken {
        token: secret(),
        storage_url: "http://127.0.0.1:8080/v1/AUTH_test".to_string(),
        expires_at: None,
    });
}

#[test]
fn describe_hides_secrets() {
    let configs = [
        AuthConfig::V1 {
            auth_url: "http://127.0.0.1:8080/auth/v1.0".to_string(),
            user: "test:tester".to_string(),
            key: secret(),
        },
        AuthConfig::PreAuthenticated {
            token: secret(),
            storage_url: "http://127.0.0.1:8080/v1/AUTH_test".to_string(),
        },
    ];
    for config in configs {
        let text = authenticator(config, client(Duration::from_secs(1)), None).describe();
        assert!(!text.contains(SECRET), "{text}");
    }
}

#[test]
fn override_replaces_storage_url() {
    let config = AuthConfig::PreAuthenticated {
        token: secret(),
        storage_url: "http://wrong/v1/AUTH_test".to_string(),
    };
    let override_url = "http://right/v1/AUTH_test".to_string();
    let auth = authenticator(
        config,
        client(Duration::from_secs(1)),
        Some(override_url.clone()),
    );
    let token = auth.authenticate().unwrap();
    assert_eq!(token.storage_url, override_url);
}

#[test]
fn override_keeps_token() {
    let config = AuthConfig::PreAuthenticated {
        token: secret(),
        storage_url: "http://wrong/v1/AUTH_test".to_string(),
    };
    let auth = authenticator(
        config,
        client(Duration::from_secs(1)),
        Some("http://right".to_string()),
    );
    let token = auth.authenticate().unwrap();
    assert_eq!(token.token.expose_secret(), SECRET);
}

#[test]
fn override_keeps_can_renew() {
    let config = AuthConfig::PreAuthenticated {
        token: secret(),
        storage_url: "http://wrong/v1/AUTH_test".to_string(),
    };
    let auth = authenticator(
        config,
        client(Duration::from_secs(1)),
        Some("http://right".to_string()),
    );
    assert!(!auth.can_renew());
}

#[test]
fn interface_parse_v2_spelling() {
    assert_eq!(Interface::parse("internalURL"), Some(Interface::Internal));
}

#[test]
fn interface_parse_unknown() {
    assert_eq!(Interface::parse("private"), None);
}
