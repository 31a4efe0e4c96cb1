//! Building overlay's mount options, and the limits on them.
//!
//! `mount(2)` hands a filesystem its options as one string of at most a
//! page (4096 bytes, including the final NUL). Overlay lists its lower
//! directories *topmost first*, separated by `:`, so a long stack of long
//! paths does not fit. Docker's overlay2 driver keeps short links to every
//! layer (`l/<id>`) and mounts from that directory with relative names;
//! this module does the same with links named `0`, `1`, ... in a `l/`
//! directory next to the container's `upper` and `work`.

use std::path::{Path, PathBuf};

use crate::Error;

/// The most lower directories overlay stacks (the kernel's `OVL_MAX_STACK`).
pub const MAX_LOWERS: usize = 500;

/// The size of the option string `mount(2)` accepts: one page, NUL included.
pub const MAX_OPTIONS_LEN: usize = 4096 - 1;

/// Options every mount gets: no inode index, no redirects, no metadata-only
/// copy-up, so the upper directory holds whole files and plain directories
/// that `diff` and `commit` can read as they are.
pub const FIXED_OPTIONS: &str = "index=off,redirect_dir=off,metacopy=off";

/// The directory (inside the container's) holding the short layer links.
pub const LINK_DIR: &str = "l";

// ANCHOR: mount_options
/// The data string for `mount -t overlay`: lowers come lowest first and are
/// listed topmost first, as overlay wants them.
pub fn mount_options(lowers: &[PathBuf], upper: &Path, work: &Path) -> String {
    let lowerdir: Vec<String> = lowers
        .iter()
        .rev()
        .map(|p| escape(&p.to_string_lossy()))
        .collect();
    format!(
        "lowerdir={},upperdir={},workdir={},{FIXED_OPTIONS}",
        lowerdir.join(":"),
        escape(&upper.to_string_lossy()),
        escape(&work.to_string_lossy()),
    )
}
// ANCHOR_END: mount_options

/// Overlay splits options on `,` and lower directories on `:`; a backslash
/// keeps either inside a path.
pub fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, ',' | ':' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

// ANCHOR: check_layer_count
/// Refuses a stack overlay cannot mount, before anything is created.
pub fn check_layer_count(lowers: usize) -> Result<(), Error> {
    match lowers {
        0 => Err(Error::invalid(
            "no lower directory: a container needs a root filesystem",
        )),
        n if n > MAX_LOWERS => Err(Error::invalid(format!(
            "too many layers: {n} lower directories, overlay stacks at most {MAX_LOWERS}; \
             commit or flatten some of them"
        ))),
        _ => Ok(()),
    }
}
// ANCHOR_END: check_layer_count

/// How a stack will be mounted: with absolute paths when they fit in a
/// page, otherwise from inside the container's directory through the
/// short links `l/0`, `l/1`, ... (lowest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountPlan {
    Absolute(String),
    Relative {
        /// The directory to mount from (the container's).
        from: PathBuf,
        /// `(link, target)` pairs to create under `from` first.
        links: Vec<(PathBuf, PathBuf)>,
        options: String,
    },
}

/// Chooses between absolute paths and short relative links.
pub fn plan(lowers: &[PathBuf], upper: &Path, work: &Path, dir: &Path) -> Result<MountPlan, Error> {
    check_layer_count(lowers.len())?;
    let absolute = mount_options(lowers, upper, work);
    if absolute.len() <= MAX_OPTIONS_LEN {
        return Ok(MountPlan::Absolute(absolute));
    }
    let links: Vec<(PathBuf, PathBuf)> = lowers
        .iter()
        .enumerate()
        .map(|(i, target)| (Path::new(LINK_DIR).join(i.to_string()), target.clone()))
        .collect();
    let short: Vec<PathBuf> = links.iter().map(|(link, _)| link.clone()).collect();
    let relative = |p: &Path| {
        p.strip_prefix(dir)
            .map(Path::to_path_buf)
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let options = mount_options(&short, &relative(upper), &relative(work));
    if options.len() > MAX_OPTIONS_LEN {
        return Err(Error::invalid(format!(
            "too many layers: the mount options for {} lower directories take {} bytes, \
             more than the {MAX_OPTIONS_LEN} a mount accepts",
            lowers.len(),
            options.len()
        )));
    }
    Ok(MountPlan::Relative {
        from: dir.to_path_buf(),
        links,
        options,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(names: &[&str]) -> Vec<PathBuf> {
        names.iter().map(PathBuf::from).collect()
    }

    #[test]
    fn lowers_are_listed_topmost_first() {
        let opts = mount_options(
            &paths(&["/layers/base", "/layers/app"]),
            Path::new("/c/upper"),
            Path::new("/c/work"),
        );
        assert_eq!(
            opts,
            "lowerdir=/layers/app:/layers/base,upperdir=/c/upper,workdir=/c/work,\
             index=off,redirect_dir=off,metacopy=off"
        );
    }

    #[test]
    fn separators_in_paths_are_escaped() {
        assert_eq!(escape("/a:b,c\\d"), "/a\\:b\\,c\\\\d");
        let opts = mount_options(&paths(&["/x:y"]), Path::new("/u"), Path::new("/w"));
        assert!(opts.starts_with("lowerdir=/x\\:y,"), "{opts}");
    }

    #[test]
    fn layer_count_limits() {
        assert_eq!(check_layer_count(0).unwrap_err().code, 125);
        assert!(check_layer_count(1).is_ok());
        assert!(check_layer_count(MAX_LOWERS).is_ok());
        let err = check_layer_count(MAX_LOWERS + 1).unwrap_err();
        assert_eq!(err.code, 125);
        assert_eq!(
            err.message,
            "too many layers: 501 lower directories, overlay stacks at most 500; \
             commit or flatten some of them"
        );
    }

    #[test]
    fn short_stacks_mount_with_absolute_paths() {
        let dir = Path::new("/var/lib/berth-ch04/containers/abc");
        let plan = plan(
            &paths(&["/l1", "/l2"]),
            &dir.join("upper"),
            &dir.join("work"),
            dir,
        );
        assert!(matches!(plan, Ok(MountPlan::Absolute(_))), "{plan:?}");
    }

    #[test]
    fn long_stacks_mount_through_short_links() {
        let dir = Path::new("/var/lib/berth-ch04/containers/abc");
        let lowers: Vec<PathBuf> = (0..MAX_LOWERS)
            .map(|i| PathBuf::from(format!("/var/lib/berth-ch04/layers/{i:064}")))
            .collect();
        let MountPlan::Relative {
            from,
            links,
            options,
        } = plan(&lowers, &dir.join("upper"), &dir.join("work"), dir).unwrap()
        else {
            panic!("500 long paths cannot fit in a page");
        };
        assert_eq!(from, dir);
        assert_eq!(links.len(), MAX_LOWERS);
        assert_eq!(links[0], (PathBuf::from("l/0"), lowers[0].clone()));
        assert!(options.starts_with("lowerdir=l/499:l/498:"), "{options}");
        assert!(
            options.contains(":l/0,upperdir=upper,workdir=work,"),
            "{options}"
        );
        assert!(options.len() <= MAX_OPTIONS_LEN, "{}", options.len());
    }

    #[test]
    fn too_many_layers_are_refused_before_planning() {
        let dir = Path::new("/c");
        let lowers = vec![PathBuf::from("/l"); MAX_LOWERS + 1];
        let err = plan(&lowers, &dir.join("upper"), &dir.join("work"), dir).unwrap_err();
        assert!(err.message.starts_with("too many layers: 501"), "{err}");
    }
}
