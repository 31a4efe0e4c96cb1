//! Chapter 6: OCI images.
//!
//! An image is a graph addressed by content: an index names manifests by
//! digest, a manifest names a config and layers by digest, and every layer
//! is a tar archive of one filesystem change. This library parses image
//! references, speaks the OCI distribution API to a registry (with the
//! Bearer token dance), keeps what it pulls in a content-addressed store,
//! unpacks layers safely into directories that overlay can stack (chapter
//! 4), and turns an image config plus `docker run` overrides into the
//! argv, environment, working directory and user of a container, which
//! `run` starts on the layers through the previous chapter.

pub mod auth;
pub mod cli;
pub mod digest;
pub mod error;
pub mod manifest;
pub mod platform;
pub mod progress;
pub mod pull;
pub mod reference;
pub mod registry;
pub mod run;
pub mod runconfig;
pub mod store;
pub mod unpack;
pub mod user;

pub use error::{Error, Result};
