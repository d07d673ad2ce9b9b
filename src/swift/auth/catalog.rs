//! Picks the object-store endpoint from a Keystone service catalog.
//!
//! The v2.0 and v3 catalogs differ in shape only, so both are first flattened
//! into a list of `Endpoint`s and one set of rules chooses among them. The
//! rules never guess between regions. With no region configured, a catalog
//! whose object-store endpoints span several regions is an error that lists
//! them, because taking the first one would mount whichever region the
//! identity service happens to list first.

use log::warn;
use serde_json::Value;

use super::request::{field, invalid};
use super::{AuthError, EndpointFilter, Interface};

/// The v2.0 fields, one per interface, that hold an endpoint URL.
const V2_INTERFACES: [Interface; 3] = [Interface::Public, Interface::Internal, Interface::Admin];

/// One object-store endpoint from a catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// `None` when the catalog gives the endpoint no region.
    pub region: Option<String>,
    pub interface: Interface,
    pub url: String,
}

impl Endpoint {
    /// Formats the `region/interface` pair shown in `AuthError::NoEndpoint`.
    fn label(&self) -> String {
        let region = self.region.as_deref().unwrap_or("(no region)");
        format!("{region}/{}", self.interface)
    }
}

/// Lists the object-store endpoints of a v2.0 token response, whose catalog
/// is `access.serviceCatalog`. Each v2.0 endpoint entry carries one URL per
/// interface (`publicURL`, `internalURL`, `adminURL`).
pub fn from_v2(body: &Value, url: &str) -> Result<Vec<Endpoint>, AuthError> {
    let mut endpoints = Vec::new();
    for service in object_store_services(body, "access.serviceCatalog", url)? {
        for entry in endpoint_entries(service) {
            let region = non_empty_str(entry, "region");
            for interface in V2_INTERFACES {
                if let Some(endpoint_url) = non_empty_str(entry, interface.v2_field()) {
                    endpoints.push(Endpoint {
                        region: region.clone(),
                        interface,
                        url: endpoint_url,
                    });
                }
            }
        }
    }
    Ok(endpoints)
}

/// Lists the object-store endpoints of a v3 token response, whose catalog is
/// `token.catalog`. The region is `region_id`, or the older `region` field
/// that Keystone still sends beside it.
pub fn from_v3(body: &Value, url: &str) -> Result<Vec<Endpoint>, AuthError> {
    let mut endpoints = Vec::new();
    for service in object_store_services(body, "token.catalog", url)? {
        for entry in endpoint_entries(service) {
            let interface = entry
                .get("interface")
                .and_then(Value::as_str)
                .and_then(Interface::parse);
            let endpoint_url = non_empty_str(entry, "url");
            // An entry without a known interface or a URL cannot be used.
            let (Some(interface), Some(endpoint_url)) = (interface, endpoint_url) else {
                continue;
            };
            endpoints.push(Endpoint {
                region: non_empty_str(entry, "region_id")
                    .or_else(|| non_empty_str(entry, "region")),
                interface,
                url: endpoint_url,
            });
        }
    }
    Ok(endpoints)
}

/// Chooses the endpoint URL that `filter` selects. `url` is the identity
/// service request, named in errors.
///
/// A configured region must match exactly. Without one, the endpoints of the
/// requested interface must all be in the same region.
pub fn select(
    endpoints: &[Endpoint],
    filter: &EndpointFilter,
    url: &str,
) -> Result<String, AuthError> {
    let candidates: Vec<&Endpoint> = endpoints
        .iter()
        .filter(|endpoint| endpoint.interface == filter.interface)
        .collect();
    let matching: Vec<&Endpoint> = match &filter.region {
        Some(region) => candidates
            .into_iter()
            .filter(|endpoint| endpoint.region.as_deref() == Some(region.as_str()))
            .collect(),
        None if distinct(candidates.iter().map(|endpoint| &endpoint.region)).len() == 1 => {
            candidates
        }
        None => Vec::new(),
    };

    let Some(chosen) = matching.first() else {
        return Err(no_endpoint(endpoints, filter, url));
    };
    let urls = distinct(matching.iter().map(|endpoint| &endpoint.url));
    if urls.len() > 1 {
        warn!(
            "the catalog of {url} has {} object-store URLs for {}, so using the first one: {}",
            urls.len(),
            chosen.label(),
            chosen.url
        );
    }
    Ok(chosen.url.clone())
}

/// Returns the catalog's services of type `object-store`.
fn object_store_services<'a>(
    body: &'a Value,
    path: &str,
    url: &str,
) -> Result<Vec<&'a Value>, AuthError> {
    let Some(services) = field(body, path).and_then(Value::as_array) else {
        return Err(invalid(
            url,
            format!(
                "{path} missing (an unscoped token has no catalog, so set a project or tenant)"
            ),
        ));
    };
    let object_stores: Vec<&Value> = services
        .iter()
        .filter(|service| service.get("type").and_then(Value::as_str) == Some("object-store"))
        .collect();
    if !object_stores.is_empty() {
        return Ok(object_stores);
    }

    let types: Vec<&str> = services
        .iter()
        .filter_map(|service| service.get("type").and_then(Value::as_str))
        .collect();
    let types = if types.is_empty() {
        "none".to_string()
    } else {
        types.join(", ")
    };
    Err(invalid(
        url,
        format!("{path} has no object-store service (service types: {types})"),
    ))
}

fn endpoint_entries(service: &Value) -> &[Value] {
    service
        .get("endpoints")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn non_empty_str(entry: &Value, key: &str) -> Option<String> {
    entry
        .get(key)
        .and_then(Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_string)
}

/// Returns the distinct items in their first order of appearance.
fn distinct<T: PartialEq>(items: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen
}

fn no_endpoint(endpoints: &[Endpoint], filter: &EndpointFilter, url: &str) -> AuthError {
    let labels = distinct(endpoints.iter().map(Endpoint::label));
    let available = if labels.is_empty() {
        "none".to_string()
    } else {
        labels.join(", ")
    };
    AuthError::NoEndpoint {
        url: url.to_string(),
        region: filter
            .region
            .clone()
            .unwrap_or_else(|| "(not set)".to_string()),
        interface: filter.interface,
        available,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const URL: &str = "http://127.0.0.1:5000/v3/auth/tokens";

    /// Builds a v3 catalog in a misleading order: RegionOne/public comes first, and
    /// RegionTwo lists admin and internal before public. An identity service
    /// precedes the object store.
    fn v3_body() -> Value {
        json!({"token": {"catalog": [
            {"type": "identity", "endpoints": [
                {"interface": "public", "region_id": "RegionTwo", "url": "https://keystone.two/v3"}
            ]},
            {"type": "object-store", "name": "swift", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "region": "RegionOne", "url": "https://one.public/v1/AUTH_p"},
                {"interface": "admin", "region_id": "RegionTwo", "region": "RegionTwo", "url": "https://two.admin/v1"},
                {"interface": "internal", "region_id": "RegionTwo", "region": "RegionTwo", "url": "https://two.internal/v1/AUTH_p"},
                {"interface": "public", "region_id": "RegionTwo", "region": "RegionTwo", "url": "https://two.public/v1/AUTH_p"}
            ]}
        ]}})
    }

    /// Builds the same catalog in v2.0 form, where one entry contains every interface,
    /// with RegionOne first and with public last in the RegionTwo entry.
    fn v2_body() -> Value {
        json!({"access": {"serviceCatalog": [
            {"type": "identity", "name": "keystone", "endpoints": [
                {"region": "RegionTwo", "publicURL": "https://keystone.two/v2.0"}
            ]},
            {"type": "object-store", "name": "swift", "endpoints": [
                {"region": "RegionOne", "publicURL": "https://one.public/v1/AUTH_p"},
                {"region": "RegionTwo", "adminURL": "https://two.admin/v1",
                 "internalURL": "https://two.internal/v1/AUTH_p",
                 "publicURL": "https://two.public/v1/AUTH_p"}
            ]}
        ]}})
    }

    fn filter(region: Option<&str>, interface: Interface) -> EndpointFilter {
        EndpointFilter {
            region: region.map(str::to_string),
            interface,
        }
    }

    fn select_v3(region: Option<&str>, interface: Interface) -> Result<String, AuthError> {
        let endpoints = from_v3(&v3_body(), URL).unwrap();
        select(&endpoints, &filter(region, interface), URL)
    }

    fn select_v2(region: Option<&str>, interface: Interface) -> Result<String, AuthError> {
        let endpoints = from_v2(&v2_body(), URL).unwrap();
        select(&endpoints, &filter(region, interface), URL)
    }

    fn available(error: AuthError) -> String {
        match error {
            AuthError::NoEndpoint { available, .. } => available,
            other => panic!("expected NoEndpoint, got {other:?}"),
        }
    }

    #[test]
    fn v3_region_two_public() {
        let url = select_v3(Some("RegionTwo"), Interface::Public).unwrap();
        assert_eq!(url, "https://two.public/v1/AUTH_p");
    }

    #[test]
    fn v3_region_two_internal() {
        let url = select_v3(Some("RegionTwo"), Interface::Internal).unwrap();
        assert_eq!(url, "https://two.internal/v1/AUTH_p");
    }

    #[test]
    fn v3_unknown_region_lists_available() {
        let error = select_v3(Some("RegionThree"), Interface::Public).unwrap_err();
        assert_eq!(
            available(error),
            "RegionOne/public, RegionTwo/admin, RegionTwo/internal, RegionTwo/public"
        );
    }

    #[test]
    fn v3_unknown_region_named_in_error() {
        let error = select_v3(Some("RegionThree"), Interface::Public).unwrap_err();
        assert!(error.to_string().contains("region RegionThree"), "{error}");
    }

    #[test]
    fn v3_no_region_several_regions() {
        let error = select_v3(None, Interface::Public).unwrap_err();
        assert!(
            matches!(&error, AuthError::NoEndpoint { region, .. } if region == "(not set)"),
            "{error:?}"
        );
    }

    #[test]
    fn v3_no_region_one_region() {
        // Only RegionTwo has an internal endpoint.
        let url = select_v3(None, Interface::Internal).unwrap();
        assert_eq!(url, "https://two.internal/v1/AUTH_p");
    }

    #[test]
    fn v3_region_falls_back_to_region_field() {
        let body = json!({"token": {"catalog": [{"type": "object-store", "endpoints": [
            {"interface": "public", "region": "Old", "url": "https://old/v1"}
        ]}]}});
        let endpoints = from_v3(&body, URL).unwrap();
        let url = select(&endpoints, &filter(Some("Old"), Interface::Public), URL).unwrap();
        assert_eq!(url, "https://old/v1");
    }

    #[test]
    fn v3_missing_object_store() {
        let body = json!({"token": {"catalog": [{"type": "identity", "endpoints": []}]}});
        let error = from_v3(&body, URL).unwrap_err();
        assert!(
            matches!(&error, AuthError::InvalidResponse { what, .. } if what.contains("no object-store service")),
            "{error:?}"
        );
    }

    #[test]
    fn v3_missing_catalog() {
        let error = from_v3(&json!({"token": {}}), URL).unwrap_err();
        assert!(
            error.to_string().contains("token.catalog missing"),
            "{error}"
        );
    }

    #[test]
    fn v2_region_two_public() {
        let url = select_v2(Some("RegionTwo"), Interface::Public).unwrap();
        assert_eq!(url, "https://two.public/v1/AUTH_p");
    }

    #[test]
    fn v2_region_two_internal() {
        let url = select_v2(Some("RegionTwo"), Interface::Internal).unwrap();
        assert_eq!(url, "https://two.internal/v1/AUTH_p");
    }

    #[test]
    fn v2_unknown_region_lists_available() {
        let error = select_v2(Some("RegionThree"), Interface::Public).unwrap_err();
        assert_eq!(
            available(error),
            "RegionOne/public, RegionTwo/public, RegionTwo/internal, RegionTwo/admin"
        );
    }

    #[test]
    fn v2_no_region_several_regions() {
        let error = select_v2(None, Interface::Public).unwrap_err();
        assert!(
            matches!(&error, AuthError::NoEndpoint { region, .. } if region == "(not set)"),
            "{error:?}"
        );
    }

    #[test]
    fn v2_no_region_one_region() {
        let url = select_v2(None, Interface::Admin).unwrap();
        assert_eq!(url, "https://two.admin/v1");
    }

    #[test]
    fn v2_missing_object_store() {
        let body = json!({"access": {"serviceCatalog": [{"type": "compute", "endpoints": []}]}});
        let error = from_v2(&body, URL).unwrap_err();
        assert!(
            matches!(&error, AuthError::InvalidResponse { what, .. } if what.contains("no object-store service (service types: compute)")),
            "{error:?}"
        );
    }

    #[test]
    fn v2_endpoint_without_region() {
        let body = json!({"access": {"serviceCatalog": [{"type": "object-store", "endpoints": [
            {"publicURL": "https://only/v1/AUTH_p"}
        ]}]}});
        let endpoints = from_v2(&body, URL).unwrap();
        let url = select(&endpoints, &filter(None, Interface::Public), URL).unwrap();
        assert_eq!(url, "https://only/v1/AUTH_p");
    }

    #[test]
    fn missing_interface_lists_available() {
        let body = json!({"access": {"serviceCatalog": [{"type": "object-store", "endpoints": [
            {"region": "SBG1", "publicURL": "https://sbg/v1/AUTH_p"}
        ]}]}});
        let endpoints = from_v2(&body, URL).unwrap();
        let error =
            select(&endpoints, &filter(Some("SBG1"), Interface::Internal), URL).unwrap_err();
        assert_eq!(available(error), "SBG1/public");
    }

    #[test]
    fn empty_object_store_lists_none() {
        let body = json!({"token": {"catalog": [{"type": "object-store", "endpoints": []}]}});
        let endpoints = from_v3(&body, URL).unwrap();
        let error = select(&endpoints, &filter(None, Interface::Public), URL).unwrap_err();
        assert_eq!(available(error), "none");
    }
}
