//! Runs inside a jail: reports the root, breaks out, reports it again, and
//! optionally execs a command in whatever root it reached.
//!
//! `ch01-chroot run <fixture> /chroot-escape ls /` lists the host's `/`.

use ch01_chroot::escape::{break_out, dir_identity};
use ch01_chroot::exec::exec_command;

fn main() {
    let show = |label: &str| match dir_identity("/") {
        Ok((dev, ino)) => println!("{label}.root.id: {dev}:{ino}"),
        Err(e) => println!("{label}.root.id: unreadable ({e})"),
    };
    show("before");
    match break_out() {
        Ok(()) => println!("escape: chroot, chdir(\"..\") x N, chroot(\".\") succeeded"),
        Err(e) => println!("escape: failed: {}", e.desc()),
    }
    show("after");
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if !argv.is_empty() {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        let err = match exec_command(&argv) {
            Ok(never) => match never {},
            Err(err) => err,
        };
        eprintln!("chroot-escape: {err}");
        std::process::exit(err.code);
    }
}
