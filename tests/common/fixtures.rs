//! Test data made through the Swift API: logins to the other tempauth
//! accounts, bulk uploads of many small objects through the bulk
//! middleware, and scratch containers that are deleted when dropped.

use std::time::Duration;

use reqwest::Method;

use super::tarball::Tarball;
use super::SwiftApi;

/// Objects per archive: the bulk middleware stores the members of one
/// archive one after another, so several smaller archives sent at once keep
/// the proxy and the object server busy.
const OBJECTS_PER_ARCHIVE: usize = 2_500;

/// Archives uploaded at the same time. The shared cluster serves other test
/// runs too, so this stays at the number `scripts/seed` uses.
const PARALLEL_ARCHIVES: usize = 4;

/// Swift's default `max_deletes_per_request` for `?bulk-delete`.
const DELETES_PER_REQUEST: usize = 10_000;

/// Bulk requests run as long as the cluster needs for thousands of objects,
/// far beyond the 60 s that `SwiftApi` allows an ordinary request.
const BULK_TIMEOUT: Duration = Duration::from_secs(900);

/// Logs in with a tempauth (Swift v1) env file of `scripts/swift-up`, such
/// as `tempauth-test2` or `tempauth-reseller`.
pub fn login(credentials_name: &str) -> SwiftApi {
    super::cluster::TempauthUser::from_env_file(credentials_name).login()
}

/// POSTs metadata headers to an account URL (`storage_url`) with `api`'s
/// token and returns the status. A reseller admin may POST to any account.
pub fn post_account(api: &SwiftApi, storage_url: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = api
        .http
        .post(storage_url)
        .header("X-Auth-Token", &api.token);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    match request.send() {
        Ok(response) => response.status().as_u16(),
        Err(error) => {
            eprintln!("POST {storage_url} failed: {error}");
            0
        }
    }
}

/// HEAD of the account: its `X-Account-*` headers, lower-cased names.
pub fn account_headers(api: &SwiftApi) -> reqwest::header::HeaderMap {
    let response = api
        .http
        .head(&api.storage_url)
        .header("X-Auth-Token", &api.token)
        .send()
        .unwrap();
    assert!(
        response.status().is_success(),
        "HEAD {}: {}",
        api.storage_url,
        response.status()
    );
    response.headers().clone()
}

/// Returns the account listing: one JSON row per container with the
/// `count` and `bytes` that the account database last received. The error
/// is the HTTP status, so that a caller can log in again after a 401.
pub fn account_listing(api: &SwiftApi) -> Result<Vec<serde_json::Value>, u16> {
    let response = api
        .http
        .get(&api.storage_url)
        .header("X-Auth-Token", &api.token)
        .query(&[("format", "json")])
        .send()
        .unwrap();
    if !response.status().is_success() {
        return Err(response.status().as_u16());
    }
    Ok(response.json().unwrap())
}

/// Uploads `(name, content)` pairs into an existing container through
/// `?extract-archive=tar`, several archives at a time, and checks that
/// every object was created.
pub fn upload_objects(api: &SwiftApi, container: &str, objects: &[(String, Vec<u8>)]) {
    let archives: Vec<(Vec<u8>, usize)> = objects
        .chunks(OBJECTS_PER_ARCHIVE)
        .map(|chunk| {
            let mut tarball = Tarball::new();
            for (name, content) in chunk {
                tarball.add(name, content);
            }
            let count = tarball.len();
            (tarball.finish(), count)
        })
        .collect();

    for batch in archives.chunks(PARALLEL_ARCHIVES) {
        std::thread::scope(|scope| {
            for (archive, count) in batch {
                scope.spawn(move || extract_archive(api, container, archive, *count));
            }
        });
    }
}

/// Uploads one archive, up to three times: a busy cluster fails single
/// objects with 503, and a second upload rewrites the same objects.
fn extract_archive(api: &SwiftApi, container: &str, archive: &[u8], count: usize) {
    let mut summary = serde_json::Value::Null;
    for _attempt in 0..3 {
        summary = extract_archive_once(api, container, archive);
        if summary["Number Files Created"].as_u64() == Some(count as u64) {
            return;
        }
        eprintln!("bulk upload into {container} incomplete, uploading again: {summary}");
    }
    panic!("bulk upload into {container} did not create {count} objects: {summary}");
}

/// Returns the JSON summary of one bulk upload, or the response text as a
/// JSON string when it is not JSON.
fn extract_archive_once(api: &SwiftApi, container: &str, archive: &[u8]) -> serde_json::Value {
    let url = format!("{}?extract-archive=tar", api.url(container));
    let response = api
        .http
        .put(url)
        .header("X-Auth-Token", &api.token)
        .header("Accept", "application/json")
        .timeout(BULK_TIMEOUT)
        .body(archive.to_vec())
        .send()
        .unwrap();
    let status = response.status();
    // The middleware sends spaces while it works, then the JSON summary.
    let text = response.text().unwrap_or_default();
    serde_json::from_str(text.trim())
        .unwrap_or_else(|_| serde_json::Value::String(format!("{status}: {text}")))
}

/// Returns the URL-encoded `/container/object` paths of every object in
/// `container`, page by page, or what was listed before a request failed.
fn object_paths(api: &SwiftApi, container: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut marker = String::new();
    loop {
        let response = api
            .request(Method::GET, container)
            .query(&[("marker", marker.as_str())])
            .send();
        let page = match response.and_then(|response| response.error_for_status()) {
            Ok(response) => response.text().unwrap_or_default(),
            Err(error) => {
                eprintln!("listing {container} for deletion failed: {error}");
                return paths;
            }
        };
        let Some(last) = page.lines().last() else {
            return paths;
        };
        marker = last.to_string();
        for name in page.lines() {
            let encoded = api.url(&format!("{container}/{name}"));
            paths.push(encoded[api.storage_url.len()..].to_string());
        }
    }
}

/// Deletes every object of `container` with `?bulk-delete`, then the
/// container itself. Errors are printed, not raised, because this runs
/// from `Drop` after a test may already have failed.
pub fn delete_container(api: &SwiftApi, container: &str) {
    let paths = object_paths(api, container);
    for chunk in paths.chunks(DELETES_PER_REQUEST) {
        let url = format!("{}?bulk-delete", api.storage_url);
        // The middleware deletes while it sends its response, and stops
        // when the client goes away, so the whole body must be read.
        let result = api
            .http
            .post(url)
            .header("X-Auth-Token", &api.token)
            .header("Accept", "application/json")
            .header("Content-Type", "text/plain")
            .timeout(BULK_TIMEOUT)
            .body(chunk.join("\n"))
            .send()
            .and_then(|response| response.text());
        match result {
            Ok(text) if text.contains("\"Errors\": []") => {}
            Ok(text) => eprintln!("bulk delete in {container}: {}", text.trim()),
            Err(error) => eprintln!("bulk delete in {container} failed: {error}"),
        }
    }
    let status = api
        .request(Method::DELETE, container)
        .send()
        .map(|response| response.status().as_u16());
    if !matches!(status, Ok(204) | Ok(404)) {
        eprintln!("DELETE of container {container}: {status:?}");
    }
}

/// Containers that a test created; dropping this deletes them with their
/// objects, also when the test panics.
pub struct Scratch<'a> {
    api: &'a SwiftApi,
    containers: Vec<String>,
    /// Credentials to log in with again before deleting, for accounts whose
    /// tokens other tests revoke while this one runs.
    relogin: Option<&'static str>,
}

impl<'a> Scratch<'a> {
    pub fn new(api: &'a SwiftApi) -> Scratch<'a> {
        Scratch {
            api,
            containers: Vec::new(),
            relogin: None,
        }
    }

    /// Makes the cleanup log in again with `credentials_name` (see `login`)
    /// instead of reusing `api`'s token.
    pub fn relogin_before_cleanup(mut self, credentials_name: &'static str) -> Scratch<'a> {
        self.relogin = Some(credentials_name);
        self
    }

    /// Creates a container named `base-<pid>-<nanoseconds>` and returns
    /// its name.
    pub fn container(&mut self, base: &str) -> String {
        let name = super::unique_name(base);
        self.create(&name);
        name
    }

    /// Creates a container with exactly this name, such as the
    /// `<name>_segments` companion of a scratch container.
    pub fn create(&mut self, name: &str) {
        self.api.create_container(name);
        self.containers.push(name.to_string());
    }
}

impl Drop for Scratch<'_> {
    fn drop(&mut self) {
        let fresh = self.relogin.map(login);
        let api = fresh.as_ref().unwrap_or(self.api);
        for container in &self.containers {
            delete_container(api, container);
        }
    }
}
