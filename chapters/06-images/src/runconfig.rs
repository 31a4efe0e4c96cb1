//! From image config to process: Docker's rules for Entrypoint and Cmd,
//! Env, WorkingDir and User, with `docker run`'s overrides on top.
//!
//! Pure functions, so chapter 6's `run` and the engine share them and the
//! rules are tested without starting anything.

use crate::error::{Error, Result, engine};
use crate::manifest::ContainerConfig;

/// The PATH Docker gives a container whose image sets none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What the user typed on `run`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--entrypoint`: `Some("")` clears the image's entrypoint.
    pub entrypoint: Option<String>,
    /// The trailing command (replaces Cmd when not empty).
    pub command: Vec<String>,
    /// `-e KEY=VALUE` or `-e KEY` (taken from the caller's environment).
    pub env: Vec<String>,
    /// `-w`.
    pub workdir: Option<String>,
    /// `-u`.
    pub user: Option<String>,
}

/// The process to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunConfig {
    pub argv: Vec<String>,
    pub env: Vec<String>,
    pub workdir: String,
    /// `user[:group]` as written; resolve it with [`resolve_user`].
    pub user: String,
}

// ANCHOR: resolve
/// Applies Docker's rules. `host_env` looks up variables for `-e KEY`.
pub fn resolve(
    image: &ContainerConfig,
    overrides: &Overrides,
    host_env: impl Fn(&str) -> Option<String>,
) -> Result<RunConfig> {
    // --entrypoint replaces the entrypoint *and* drops the image's Cmd.
    let (entrypoint, image_cmd) = match &overrides.entrypoint {
        Some(e) if e.is_empty() => (Vec::new(), Vec::new()),
        Some(e) => (vec![e.clone()], Vec::new()),
        None => (
            image.entrypoint.clone().unwrap_or_default(),
            image.cmd.clone().unwrap_or_default(),
        ),
    };
    let cmd = if overrides.command.is_empty() {
        image_cmd
    } else {
        overrides.command.clone()
    };
    let argv: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
    if argv.is_empty() {
        return Err(Error::invalid("no command specified"));
    }

    let mut env: Vec<String> = image.env.clone().unwrap_or_default();
    for item in &overrides.env {
        let (key, value) = match item.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (item.clone(), host_env(item)),
        };
        if key.is_empty() {
            return Err(Error::invalid(format!(
                "invalid environment variable: {item}"
            )));
        }
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        if let Some(value) = value {
            env.push(format!("{key}={value}"));
        }
    }
    if !env.iter().any(|e| e.starts_with("PATH=")) {
        env.insert(0, format!("PATH={DEFAULT_PATH}"));
    }

    let workdir = overrides
        .workdir
        .clone()
        .or_else(|| image.working_dir.clone().filter(|w| !w.is_empty()))
        .unwrap_or_else(|| "/".to_string());
    if !workdir.starts_with('/') {
        return Err(Error::invalid(format!(
            "the working directory '{workdir}' is invalid, it needs to be an absolute path"
        )));
    }
    let user = overrides
        .user
        .clone()
        .or_else(|| image.user.clone())
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "0".to_string());
    Ok(RunConfig {
        argv,
        env,
        workdir,
        user,
    })
}
// ANCHOR_END: resolve

/// A user resolved against the image's `/etc/passwd` and `/etc/group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups the user is a member of.
    pub groups: Vec<u32>,
    pub home: String,
}

/// Resolves `user[:group]` (names or numbers) as Docker does: a numeric
/// user need not exist; a name must; a user's primary group comes from
/// passwd unless a group is given.
pub fn resolve_user(spec: &str, passwd: &str, group: &str) -> Result<User> {
    let (user, group_spec) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let entries: Vec<Vec<&str>> = passwd
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 7)
        .collect();
    let found = entries
        .iter()
        .find(|f| f[0] == user || (user.parse::<u32>().is_ok() && f[2] == user));
    let (uid, mut gid, home, name) = match (found, user.parse::<u32>()) {
        (Some(f), _) => (
            f[2].parse()
                .map_err(|_| engine(format!("invalid uid in passwd for {user}")))?,
            f[3].parse()
                .map_err(|_| engine(format!("invalid gid in passwd for {user}")))?,
            f[5].to_string(),
            Some(f[0]),
        ),
        (None, Ok(uid)) => (uid, 0, "/".to_string(), None),
        (None, Err(_)) => {
            return Err(Error::not_found(format!(
                "unable to find user {user}: no matching entries in passwd file"
            )));
        }
    };
    let groups_table: Vec<Vec<&str>> = group
        .lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .filter(|f| f.len() >= 4)
        .collect();
    if let Some(g) = group_spec {
        gid = match groups_table.iter().find(|f| f[0] == g) {
            Some(f) => f[2]
                .parse()
                .map_err(|_| engine(format!("invalid gid for group {g}")))?,
            None => g.parse().map_err(|_| {
                Error::not_found(format!(
                    "unable to find group {g}: no matching entries in group file"
                ))
            })?,
        };
    }
    let groups = match name {
        Some(name) => groups_table
            .iter()
            .filter(|f| f[3].split(',').any(|m| m == name))
            .filter_map(|f| f[2].parse().ok())
            .collect(),
        None => Vec::new(),
    };
    Ok(User {
        uid,
        gid,
        groups,
        home,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(entrypoint: Option<&[&str]>, cmd: Option<&[&str]>) -> ContainerConfig {
        let v = |a: &[&str]| a.iter().map(|s| s.to_string()).collect();
        ContainerConfig {
            entrypoint: entrypoint.map(v),
            cmd: cmd.map(v),
            env: Some(vec!["PATH=/bin".into(), "A=1".into()]),
            working_dir: Some("/srv".into()),
            user: Some("nobody".into()),
            labels: None,
            exposed_ports: None,
            volumes: None,
        }
    }

    fn run(image: &ContainerConfig, o: Overrides) -> Result<RunConfig> {
        resolve(image, &o, |k| {
            (k == "HOSTVAR").then(|| "from-host".to_string())
        })
    }

    fn argv(r: Result<RunConfig>) -> Vec<String> {
        r.unwrap().argv
    }

    #[test]
    fn entrypoint_and_cmd_rules() {
        let both = image(Some(&["/entry", "-x"]), Some(&["default"]));
        let cmd_only = image(None, Some(&["sh", "-c", "echo hi"]));
        let s = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            argv(run(&both, Overrides::default())),
            s(&["/entry", "-x", "default"])
        );
        let o = Overrides {
            command: s(&["ls"]),
            ..Default::default()
        };
        assert_eq!(argv(run(&both, o.clone())), s(&["/entry", "-x", "ls"]));
        assert_eq!(argv(run(&cmd_only, o)), s(&["ls"]));
        // --entrypoint drops the image's Cmd.
        let o = Overrides {
            entrypoint: Some("/bin/echo".into()),
            ..Default::default()
        };
        assert_eq!(argv(run(&both, o)), s(&["/bin/echo"]));
        let o = Overrides {
            entrypoint: Some("/bin/echo".into()),
            command: s(&["a", "b"]),
            ..Default::default()
        };
        assert_eq!(argv(run(&both, o)), s(&["/bin/echo", "a", "b"]));
        // --entrypoint "" clears it; the trailing command is all that runs.
        let o = Overrides {
            entrypoint: Some(String::new()),
            command: s(&["id"]),
            ..Default::default()
        };
        assert_eq!(argv(run(&both, o)), s(&["id"]));
        let e = run(&image(None, None), Overrides::default()).unwrap_err();
        assert_eq!((e.code, e.message.as_str()), (125, "no command specified"));
    }

    #[test]
    fn env_workdir_user() {
        let img = image(None, Some(&["sh"]));
        let r = run(&img, Overrides::default()).unwrap();
        assert_eq!(r.env, vec!["PATH=/bin", "A=1"]);
        assert_eq!((r.workdir.as_str(), r.user.as_str()), ("/srv", "nobody"));
        let o = Overrides {
            env: vec![
                "A=2".into(),
                "B=x=y".into(),
                "HOSTVAR".into(),
                "MISSING".into(),
            ],
            workdir: Some("/tmp".into()),
            user: Some("1000:1000".into()),
            ..Default::default()
        };
        let r = run(&img, o).unwrap();
        assert_eq!(
            r.env,
            vec!["PATH=/bin", "A=2", "B=x=y", "HOSTVAR=from-host"]
        );
        assert_eq!((r.workdir.as_str(), r.user.as_str()), ("/tmp", "1000:1000"));
        let bare = ContainerConfig {
            cmd: Some(vec!["sh".into()]),
            ..Default::default()
        };
        let r = run(&bare, Overrides::default()).unwrap();
        assert_eq!(r.env, vec![format!("PATH={DEFAULT_PATH}")]);
        assert_eq!((r.workdir.as_str(), r.user.as_str()), ("/", "0"));
        let o = Overrides {
            workdir: Some("relative".into()),
            ..Default::default()
        };
        assert!(run(&bare, o).unwrap_err().message.contains("absolute path"));
    }

    #[test]
    fn resolves_users() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n";
        let group = "root:x:0:\nnogroup:x:65534:\nwheel:x:10:app\napp:x:1000:\n";
        let u = resolve_user("app", passwd, group).unwrap();
        assert_eq!(
            (u.uid, u.gid, u.groups.clone(), u.home.as_str()),
            (1000, 1000, vec![10], "/home/app")
        );
        let u = resolve_user("nobody:wheel", passwd, group).unwrap();
        assert_eq!((u.uid, u.gid), (65534, 10));
        let u = resolve_user("4242:4343", passwd, group).unwrap();
        assert_eq!((u.uid, u.gid), (4242, 4343));
        let u = resolve_user("0", passwd, group).unwrap();
        assert_eq!((u.uid, u.gid, u.home.as_str()), (0, 0, "/root"));
        assert!(
            resolve_user("ghost", passwd, group)
                .unwrap_err()
                .message
                .contains("unable to find user ghost")
        );
        assert!(resolve_user("app:ghosts", passwd, group).is_err());
    }
}
