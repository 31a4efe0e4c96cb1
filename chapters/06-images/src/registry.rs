//! A client for the OCI distribution API, the HTTP API registries speak.
//!
//! `GET /v2/` says whether we may talk and how to authenticate;
//! `GET /v2/<name>/manifests/<tag|digest>` returns an index or a manifest;
//! `GET /v2/<name>/blobs/<digest>` returns a config or a layer, often by a
//! redirect to a storage host, which must never see our token.

use std::io::Read;
use std::time::Duration;

use ureq::Agent;
use ureq::http::Response;

use crate::auth::{self, Challenge, Credentials};
use crate::digest::Digest;
use crate::error::{Error, Result, engine};
use crate::manifest::ACCEPT;
use crate::reference::Reference;

/// Manifests larger than this are refused (real ones are a few KiB).
pub const MAX_MANIFEST: u64 = 4 << 20;
const MAX_REDIRECTS: usize = 5;

/// How to reach registries.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Registries (`host[:port]`) that may be spoken to over plain HTTP.
    pub insecure_registries: Vec<String>,
    /// Credentials to use instead of `~/.docker/config.json`.
    pub credentials: Option<Credentials>,
}

/// Plain HTTP only for loopback and registries named insecure.
pub fn scheme_for(registry: &str, options: &Options) -> &'static str {
    let host = registry
        .rsplit_once(':')
        .filter(|(h, _)| !h.is_empty() && (!registry.starts_with('[') || h.ends_with(']')))
        .map_or(registry, |(h, _)| h);
    let loopback = matches!(host, "localhost" | "127.0.0.1" | "[::1]");
    if loopback || options.insecure_registries.iter().any(|r| r == registry) {
        "http"
    } else {
        "https"
    }
}

/// An authenticated conversation with one repository of one registry.
pub struct Session {
    agent: Agent,
    base: String,
    repository: String,
    authorization: Option<String>,
    display: String,
}

/// A response that is not a success, as one message.
fn status_error(what: &str, response: &mut Response<ureq::Body>) -> crate::Error {
    let status = response.status();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 << 10)
        .read_to_string()
        .unwrap_or_default();
    // Registries answer with {"errors":[{"code":"MANIFEST_UNKNOWN","message":...}]}
    let detail = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| {
            let e = v.get("errors")?.get(0)?;
            Some(format!(
                "{}: {}",
                e.get("code")?
                    .as_str()?
                    .to_ascii_lowercase()
                    .replace('_', " "),
                e.get("message")?.as_str()?
            ))
        })
        .unwrap_or_else(|| format!("HTTP {status}"));
    match status.as_u16() {
        404 => Error::not_found(format!("{what}: {detail}")),
        _ => engine(format!("{what}: {detail}")),
    }
}

// ANCHOR: connect
impl Session {
    /// Checks `/v2/` and, when challenged, obtains a token for pulling.
    pub fn connect(reference: &Reference, options: &Options) -> Result<Session> {
        let agent: Agent = Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .max_redirects_will_error(false)
            .timeout_connect(Some(Duration::from_secs(15)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .timeout_recv_body(Some(Duration::from_secs(600)))
            .user_agent("berth-ch06/0.1")
            .build()
            .into();
        let base = format!(
            "{}://{}",
            scheme_for(reference.endpoint(), options),
            reference.endpoint()
        );
        let mut session = Session {
            agent,
            base,
            repository: reference.repository.clone(),
            authorization: None,
            display: reference.registry.clone(),
        };
        let mut response = session.send(&format!("{}/v2/", session.base), &[], None)?;
        match response.status().as_u16() {
            200..=299 => Ok(session),
            401 => {
                let header = response
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let challenge = auth::parse_challenge(&header).ok_or_else(|| {
                    engine(format!(
                        "{}: 401 without a usable WWW-Authenticate",
                        session.display
                    ))
                })?;
                let credentials = options
                    .credentials
                    .clone()
                    .or_else(|| load_credentials(&reference.registry));
                session.authorization = Some(session.authenticate(&challenge, credentials)?);
                Ok(session)
            }
            _ => Err(status_error(&session.display, &mut response)),
        }
    }

    /// Answers a challenge with an `Authorization` header value.
    fn authenticate(
        &self,
        challenge: &Challenge,
        credentials: Option<Credentials>,
    ) -> Result<String> {
        match challenge.scheme.as_str() {
            "basic" => credentials.map(|c| c.basic_header()).ok_or_else(|| {
                engine(format!(
                    "{}: authentication required (no credentials)",
                    self.display
                ))
            }),
            "bearer" => {
                let realm = challenge.params.get("realm").ok_or_else(|| {
                    engine(format!("{}: Bearer challenge without realm", self.display))
                })?;
                let mut url = format!(
                    "{realm}{}scope=repository:{}:pull",
                    if realm.contains('?') { '&' } else { '?' },
                    self.repository
                );
                if let Some(service) = challenge.params.get("service") {
                    url.push_str(&format!("&service={service}"));
                }
                let basic = credentials.map(|c| c.basic_header());
                let mut response = self.send(&url, &[], basic.as_deref())?;
                if !response.status().is_success() {
                    return Err(status_error(
                        &format!("{}: token request", self.display),
                        &mut response,
                    ));
                }
                let body = response
                    .body_mut()
                    .with_config()
                    .limit(1 << 20)
                    .read_to_string()
                    .map_err(|e| engine(format!("{}: reading token: {e}", self.display)))?;
                let json: serde_json::Value = serde_json::from_str(&body).map_err(|e| {
                    engine(format!("{}: invalid token response: {e}", self.display))
                })?;
                let token = json
                    .get("token")
                    .or_else(|| json.get("access_token"))
                    .and_then(|t| t.as_str())
                    .ok_or_else(|| {
                        engine(format!("{}: token response without token", self.display))
                    })?;
                Ok(format!("Bearer {token}"))
            }
            other => Err(engine(format!(
                "{}: unsupported authentication scheme {other:?}",
                self.display
            ))),
        }
    }
}
// ANCHOR_END: connect

/// Credentials for `registry` from the user's Docker config, if any.
fn load_credentials(registry: &str) -> Option<Credentials> {
    let text = std::fs::read_to_string(auth::docker_config_path()?).ok()?;
    auth::credentials_from_config(&text, registry)
}

/// Resolves a `Location` header against the URL that answered.
fn resolve_location(current: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        return location.to_string();
    }
    let (scheme, rest) = current.split_once("://").unwrap_or(("http", current));
    let authority = rest.split('/').next().unwrap_or(rest);
    if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let dir = current.rsplit_once('/').map_or(current, |(d, _)| d);
        format!("{dir}/{location}")
    }
}

fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split(['/', '?']).next().unwrap_or(rest)
}

// ANCHOR: redirects
impl Session {
    /// GET with our own redirect handling: the `Authorization` header goes
    /// only to the host that asked for it, never to a storage host.
    fn send(
        &self,
        url: &str,
        accept: &[&str],
        authorization: Option<&str>,
    ) -> Result<Response<ureq::Body>> {
        let origin = authority(url).to_string();
        let mut url = url.to_string();
        for _ in 0..=MAX_REDIRECTS {
            let mut request = self.agent.get(&url);
            if !accept.is_empty() {
                request = request.header("Accept", accept.join(", "));
            }
            if let Some(value) = authorization
                && authority(&url) == origin
            {
                request = request.header("Authorization", value);
            }
            let response = request
                .call()
                .map_err(|e| engine(format!("{}: {e}", self.display)))?;
            if !response.status().is_redirection() {
                return Ok(response);
            }
            let location = response
                .headers()
                .get("location")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| engine(format!("{}: redirect without Location", self.display)))?;
            url = resolve_location(&url, location);
        }
        Err(engine(format!("{}: too many redirects", self.display)))
    }
}
// ANCHOR_END: redirects

impl Session {
    fn get(&self, path: &str, accept: &[&str]) -> Result<Response<ureq::Body>> {
        let url = format!("{}/v2/{}/{path}", self.base, self.repository);
        self.send(&url, accept, self.authorization.as_deref())
    }

    /// Fetches a manifest or index by tag or digest: (media type, bytes,
    /// digest). The digest is checked against the one asked for and the
    /// one the registry announced.
    pub fn manifest(&self, reference: &str) -> Result<(String, Vec<u8>, Digest)> {
        let what = format!("{}/{}:{reference}", self.display, self.repository);
        let mut response = self.get(&format!("manifests/{reference}"), ACCEPT)?;
        if response.status().as_u16() == 404 {
            return Err(Error::not_found(format!(
                "manifest for {what} not found: manifest unknown"
            )));
        }
        if !response.status().is_success() {
            return Err(status_error(&what, &mut response));
        }
        let media_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string())
            .unwrap_or_default();
        let announced = response
            .headers()
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok())
            .map(Digest::parse)
            .transpose()?;
        let mut bytes = Vec::new();
        response
            .body_mut()
            .as_reader()
            .take(MAX_MANIFEST + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| engine(format!("{what}: {e}")))?;
        if bytes.len() as u64 > MAX_MANIFEST {
            return Err(engine(format!(
                "{what}: manifest larger than {MAX_MANIFEST} bytes"
            )));
        }
        let digest = Digest::of(&bytes);
        if let Ok(asked) = Digest::parse(reference)
            && asked != digest
        {
            return Err(engine(format!(
                "{what}: digest mismatch: expected {asked}, got {digest}"
            )));
        }
        if let Some(announced) = announced
            && announced != digest
        {
            return Err(engine(format!(
                "{what}: digest mismatch: registry announced {announced}, content is {digest}"
            )));
        }
        Ok((media_type, bytes, digest))
    }

    /// Opens a blob for streaming; the caller verifies it while reading.
    pub fn blob(&self, digest: &Digest) -> Result<impl Read + Send + 'static> {
        let what = format!("{}/{}@{digest}", self.display, self.repository);
        let mut response = self.get(&format!("blobs/{digest}"), &[])?;
        if response.status().as_u16() == 404 {
            return Err(Error::not_found(format!("blob {what} not found")));
        }
        if !response.status().is_success() {
            return Err(status_error(&what, &mut response));
        }
        Ok(response.into_body().into_reader())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback_and_insecure() {
        let none = Options::default();
        assert_eq!(scheme_for("127.0.0.1:5000", &none), "http");
        assert_eq!(scheme_for("localhost", &none), "http");
        assert_eq!(scheme_for("[::1]:5000", &none), "http");
        assert_eq!(scheme_for("registry-1.docker.io", &none), "https");
        assert_eq!(scheme_for("10.0.0.1:5000", &none), "https");
        let insecure = Options {
            insecure_registries: vec!["10.0.0.1:5000".into()],
            ..Options::default()
        };
        assert_eq!(scheme_for("10.0.0.1:5000", &insecure), "http");
        assert_eq!(scheme_for("10.0.0.1:5001", &insecure), "https");
    }

    #[test]
    fn resolves_redirects() {
        let cur = "http://127.0.0.1:5000/v2/app/blobs/sha256:ab";
        assert_eq!(
            resolve_location(cur, "https://s3.example/x?y"),
            "https://s3.example/x?y"
        );
        assert_eq!(
            resolve_location(cur, "/other"),
            "http://127.0.0.1:5000/other"
        );
        assert_eq!(
            resolve_location(cur, "rel"),
            "http://127.0.0.1:5000/v2/app/blobs/rel"
        );
        assert_eq!(authority("https://s3.example/x?y"), "s3.example");
        assert_eq!(authority("http://127.0.0.1:5000?x"), "127.0.0.1:5000");
    }
}
