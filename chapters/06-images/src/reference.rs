//! Image references, parsed as Docker parses them.
//!
//! `busybox` means `docker.io/library/busybox:latest`; `team/app:1.2`
//! lives on Docker Hub under `team/`; a first component with a dot, a
//! colon or the name `localhost` is a registry (`127.0.0.1:5000/app`);
//! `@sha256:...` pins the exact manifest, whatever the tag says.

use std::fmt;

use crate::digest::Digest;
use crate::error::{Error, Result};

/// Docker Hub's name in references.
pub const DOCKER_HUB: &str = "docker.io";
/// The host that actually serves Docker Hub's registry API.
pub const DOCKER_HUB_ENDPOINT: &str = "registry-1.docker.io";

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// `docker.io`, or a `host[:port]`.
    pub registry: String,
    /// The repository path, e.g. `library/busybox`.
    pub repository: String,
    /// The tag (`latest` when neither tag nor digest was given).
    pub tag: Option<String>,
    /// The manifest digest, when pinned.
    pub digest: Option<Digest>,
}

// ANCHOR: parse
impl Reference {
    /// Parses `[registry/]repository[:tag][@sha256:digest]`.
    pub fn parse(text: &str) -> Result<Reference> {
        let invalid =
            |why: &str| Error::invalid(format!("invalid reference format {text:?}: {why}"));
        if text.is_empty() {
            return Err(invalid("empty"));
        }
        let (name, digest) = match text.split_once('@') {
            Some((name, digest)) => (name, Some(Digest::parse(digest)?)),
            None => (text, None),
        };
        // A tag is what follows the last ':' after the last '/'.
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
            None => (name, None),
        };
        // The first component is a registry if it looks like a host.
        let (registry, repository) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = match registry.as_str() {
            "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_string(),
            _ => registry,
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        validate_registry(&registry).map_err(|why| invalid(&why))?;
        validate_repository(&repository).map_err(|why| invalid(&why))?;
        if let Some(tag) = tag {
            validate_tag(tag).map_err(|why| invalid(&why))?;
        }
        let tag = match (tag, &digest) {
            (Some(tag), _) => Some(tag.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            registry,
            repository,
            tag,
            digest,
        })
    }
}
// ANCHOR_END: parse

impl Reference {
    /// The host:port to talk to (Docker Hub's API lives elsewhere).
    pub fn endpoint(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_ENDPOINT
        } else {
            &self.registry
        }
    }

    /// What to ask the manifests endpoint for: the digest if pinned.
    pub fn manifest_reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(digest), _) => digest.to_string(),
            (None, Some(tag)) => tag.clone(),
            (None, None) => "latest".to_string(),
        }
    }

    /// The repository as `docker images` shows it: `busybox`, `team/app`,
    /// `127.0.0.1:5000/app`.
    pub fn familiar_name(&self) -> String {
        if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .unwrap_or(&self.repository)
                .to_string()
        } else {
            format!("{}/{}", self.registry, self.repository)
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.familiar_name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn validate_registry(registry: &str) -> std::result::Result<(), String> {
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || registry.starts_with('[') => {
            (host, Some(port))
        }
        _ => (registry, None),
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '[' | ']' | ':'))
    {
        return Err(format!("invalid registry host {registry:?}"));
    }
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return Err(format!("invalid registry port {port:?}"));
    }
    Ok(())
}

fn validate_repository(repository: &str) -> std::result::Result<(), String> {
    if repository.len() > 255 {
        return Err("repository name must not be longer than 255 characters".into());
    }
    for component in repository.split('/') {
        if component.chars().any(|c| c.is_ascii_uppercase()) {
            return Err("repository name must be lowercase".into());
        }
        let ok = !component.is_empty()
            && component.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
            })
            && component.starts_with(|c: char| c.is_ascii_alphanumeric())
            && component.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !ok {
            return Err(format!("invalid repository component {component:?}"));
        }
    }
    Ok(())
}

fn validate_tag(tag: &str) -> std::result::Result<(), String> {
    let ok = (1..=128).contains(&tag.len())
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid tag {tag:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    fn parts(text: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        (
            r.registry,
            r.repository,
            r.tag,
            r.digest.map(|d| d.to_string()),
        )
    }

    #[test]
    fn normalises_like_docker() {
        let cases: &[(&str, &str, &str, Option<&str>, bool)] = &[
            (
                "busybox",
                "docker.io",
                "library/busybox",
                Some("latest"),
                false,
            ),
            (
                "busybox:1.36",
                "docker.io",
                "library/busybox",
                Some("1.36"),
                false,
            ),
            (
                "library/busybox",
                "docker.io",
                "library/busybox",
                Some("latest"),
                false,
            ),
            ("team/app:v1", "docker.io", "team/app", Some("v1"), false),
            (
                "docker.io/busybox",
                "docker.io",
                "library/busybox",
                Some("latest"),
                false,
            ),
            (
                "index.docker.io/busybox",
                "docker.io",
                "library/busybox",
                Some("latest"),
                false,
            ),
            ("localhost/app", "localhost", "app", Some("latest"), false),
            (
                "localhost:5000/app:x",
                "localhost:5000",
                "app",
                Some("x"),
                false,
            ),
            (
                "127.0.0.1:5000/busybox:layers",
                "127.0.0.1:5000",
                "busybox",
                Some("layers"),
                false,
            ),
            (
                "ghcr.io/org/team/app:1",
                "ghcr.io",
                "org/team/app",
                Some("1"),
                false,
            ),
            ("quay.io/a/b", "quay.io", "a/b", Some("latest"), false),
            (
                "my-registry.local:443/a_b/c.d-e",
                "my-registry.local:443",
                "a_b/c.d-e",
                Some("latest"),
                false,
            ),
            ("[::1]:5000/app", "[::1]:5000", "app", Some("latest"), false),
            ("busybox@DIGEST", "docker.io", "library/busybox", None, true),
            (
                "busybox:1.36@DIGEST",
                "docker.io",
                "library/busybox",
                Some("1.36"),
                true,
            ),
            (
                "127.0.0.1:5000/app@DIGEST",
                "127.0.0.1:5000",
                "app",
                None,
                true,
            ),
        ];
        for (text, registry, repository, tag, digest) in cases {
            let text = text.replace("DIGEST", D);
            let got = parts(&text);
            assert_eq!(got.0, *registry, "{text}");
            assert_eq!(got.1, *repository, "{text}");
            assert_eq!(got.2.as_deref(), *tag, "{text}");
            assert_eq!(got.3.is_some(), *digest, "{text}");
        }
    }

    #[test]
    fn refuses_bad_references() {
        let cases = [
            "",
            "Busybox",
            "busybox:",
            "busybox:-x",
            "busybox:a/b",
            "bad..//x",
            "/busybox",
            "busybox/",
            "-busybox",
            "busybox@sha256:123",
            "busybox@md5:abc",
            "127.0.0.1:port/app",
            "a//b",
            "busybox:tag with space",
        ];
        for text in cases {
            let err = Reference::parse(text).expect_err(text);
            assert_eq!(err.code, 125, "{text}");
        }
        let long = format!("a/{}", "b".repeat(300));
        assert!(Reference::parse(&long).is_err());
        let e = Reference::parse("Busybox").unwrap_err();
        assert!(e.message.contains("must be lowercase"), "{e}");
    }

    #[test]
    fn endpoints_and_names() {
        let r = Reference::parse("busybox").unwrap();
        assert_eq!(r.endpoint(), "registry-1.docker.io");
        assert_eq!(r.familiar_name(), "busybox");
        assert_eq!(r.to_string(), "busybox:latest");
        assert_eq!(r.manifest_reference(), "latest");
        let r = Reference::parse(&format!("127.0.0.1:5000/app@{D}")).unwrap();
        assert_eq!(r.endpoint(), "127.0.0.1:5000");
        assert_eq!(r.familiar_name(), "127.0.0.1:5000/app");
        assert_eq!(r.manifest_reference(), D);
        let r = Reference::parse("team/app:v2").unwrap();
        assert_eq!(r.to_string(), "team/app:v2");
    }
}
