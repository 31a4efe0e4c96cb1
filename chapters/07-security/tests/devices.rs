//! The cgroup v2 device program on its own: a cgroup with only the BPF
//! program of `devices_bpf` attached (on a hybrid host the v1 devices
//! controller of this cgroup allows everything), and a shell moved into it.
//! This is all a pure cgroup v2 host has to stop `mknod` and `open`.

use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::process::Command;

use ch03_cgroups::Cgroup;
use ch03_cgroups::layout::Layout;
use ch07_security::devices::DeviceRule;
use lab::privileged::require_root;

#[test]
fn the_v2_program_allows_only_its_rules() {
    if !require_root() {
        return;
    }
    let layout = Layout::detect().unwrap();
    let unified = layout
        .unified
        .clone()
        .expect("no cgroup v2 hierarchy on this host");
    let cgroup =
        Cgroup::create_in(&layout, &format!("berth/devtest{}", std::process::id())).unwrap();
    let dir = cgroup
        .dirs()
        .iter()
        .find(|(h, _)| *h == unified)
        .map(|(_, d)| d.clone())
        .unwrap();
    let null = DeviceRule {
        block: false,
        major: Some(1),
        minor: Some(3),
        access: "rw".into(),
    };
    ch07_security::devices_bpf::attach(&dir, &[null]).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let procs = CString::new(dir.join("cgroup.procs").display().to_string()).unwrap();
    let mut shell = Command::new("/bin/busybox");
    shell.current_dir(tmp.path()).args([
        "sh",
        "-c",
        "cat /dev/null && echo null: opened; \
         head -c1 /dev/zero >/dev/null 2>&1 && echo zero: opened || echo zero: refused; \
         mknod n c 1 3 2>/dev/null && echo mknod: made || echo mknod: refused",
    ]);
    // SAFETY: between fork and exec: open, write and close only.
    unsafe {
        shell.pre_exec(move || {
            // "0": the writing process itself joins the cgroup.
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(fd);
            Ok(())
        });
    }
    let out = shell.output().unwrap();
    cgroup.remove().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        text,
        "null: opened\nzero: refused\nmknod: refused\n",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
