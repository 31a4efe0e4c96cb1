//! The device controller of cgroup v2: an eBPF program the kernel runs on
//! every `mknod` and `open` of a device node by a process in the cgroup.
//!
//! The program reads `struct bpf_cgroup_dev_ctx { u32 access_type; u32
//! major; u32 minor; }` (the type in the low 16 bits of `access_type`, the
//! access asked for in the high 16) and returns 1 to allow, 0 to refuse.
//! It is built here by hand, one comparison block per rule, loaded with
//! `bpf(BPF_PROG_LOAD)` and attached to the cgroup's directory with
//! `bpf(BPF_PROG_ATTACH)`; the cgroup keeps it until it is removed.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use crate::devices::DeviceRule;
use crate::{Error, Result};

const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;
const DEVCG_DEV_BLOCK: i32 = 1;
const DEVCG_DEV_CHAR: i32 = 2;

/// One eBPF instruction.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    code: u8,
    /// dst in the low nibble, src in the high one.
    regs: u8,
    off: i16,
    imm: i32,
}

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: dst | (src << 4),
        off,
        imm,
    }
}

/// `dst = *(u32 *)(src + off)`
fn load_u32(dst: u8, src: u8, off: i16) -> Insn {
    insn(0x61, dst, src, off, 0)
}
/// `dst &= imm`
fn and(dst: u8, imm: i32) -> Insn {
    insn(0x57, dst, 0, 0, imm)
}
/// `dst >>= imm`
fn shift_right(dst: u8, imm: i32) -> Insn {
    insn(0x77, dst, 0, 0, imm)
}
/// `dst = src`
fn mov(dst: u8, src: u8) -> Insn {
    insn(0xbf, dst, src, 0, 0)
}
/// `dst = imm`
fn mov_imm(dst: u8, imm: i32) -> Insn {
    insn(0xb7, dst, 0, 0, imm)
}
/// `if dst != imm goto +off`
fn jump_ne(dst: u8, imm: i32, off: i16) -> Insn {
    insn(0x55, dst, 0, off, imm)
}
fn exit() -> Insn {
    insn(0x95, 0, 0, 0, 0)
}

fn access_bits(access: &str) -> i32 {
    // BPF_DEVCG_ACC_MKNOD = 1, _READ = 2, _WRITE = 4
    let mut bits = 0;
    for c in access.chars() {
        bits |= match c {
            'm' => 1,
            'r' => 2,
            'w' => 4,
            _ => 0,
        };
    }
    if access.is_empty() { 7 } else { bits }
}

// ANCHOR: program
/// The program for `rules`: r2 = type, r3 = access, r4 = major,
/// r5 = minor; each rule falls through to "allow" only if all its
/// comparisons hold, else jumps to the next rule; the last answer is 0.
pub fn program(rules: &[DeviceRule]) -> Vec<Insn> {
    let mut out = vec![
        load_u32(2, 1, 0),
        and(2, 0xffff),
        load_u32(3, 1, 0),
        shift_right(3, 16),
        load_u32(4, 1, 4),
        load_u32(5, 1, 8),
    ];
    for rule in rules {
        let mut block = Vec::new();
        let kind = if rule.block {
            DEVCG_DEV_BLOCK
        } else {
            DEVCG_DEV_CHAR
        };
        block.push((2, kind));
        if let Some(major) = rule.major {
            block.push((4, major as i32));
        }
        if let Some(minor) = rule.minor {
            block.push((5, minor as i32));
        }
        // Then: (access & !allowed) == 0, and allow.
        let tail = [
            mov(1, 3),
            and(1, !access_bits(&rule.access)),
            jump_ne(1, 0, 2),
            mov_imm(0, 1),
            exit(),
        ];
        let mut left = (block.len() + tail.len()) as i16;
        for (reg, value) in block {
            left -= 1;
            out.push(jump_ne(reg, value, left));
        }
        out.extend(tail);
    }
    out.push(mov_imm(0, 0));
    out.push(exit());
    out
}
// ANCHOR_END: program

fn bpf(command: libc::c_long, attr: &[u64]) -> std::io::Result<i32> {
    // SAFETY: attr is a zero-padded `union bpf_attr` for `command`.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            command,
            attr.as_ptr(),
            std::mem::size_of_val(attr) as u32,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(rc as i32)
    }
}

/// Loads the program for `rules` and attaches it to the cgroup `dir`.
pub fn attach(dir: &Path, rules: &[DeviceRule]) -> Result<()> {
    let fail = |what: &str, e: std::io::Error| {
        Error::engine(format!(
            "{what} (cgroup v2 device rules need bpf): {}",
            ch02_namespaces::io_reason(&e)
        ))
    };
    let insns = program(rules);
    let license = c"GPL";
    // union bpf_attr for BPF_PROG_LOAD: prog_type, insn_cnt, insns,
    // license, then zeros (no log, any kernel version, no flags).
    let mut attr = [0u64; 16];
    attr[0] = BPF_PROG_TYPE_CGROUP_DEVICE as u64 | ((insns.len() as u64) << 32);
    attr[1] = insns.as_ptr() as u64;
    attr[2] = license.as_ptr() as u64;
    let prog = bpf(BPF_PROG_LOAD, &attr).map_err(|e| fail("loading the device program", e))?;
    // SAFETY: a new descriptor, ours alone.
    let prog = unsafe { OwnedFd::from_raw_fd(prog) };
    let cgroup = std::fs::File::open(dir).map_err(|e| fail("opening the cgroup", e))?;
    // BPF_PROG_ATTACH: target_fd, attach_bpf_fd, attach_type, attach_flags.
    let mut attr = [0u64; 16];
    attr[0] = cgroup.as_raw_fd() as u64 | ((prog.as_raw_fd() as u64) << 32);
    attr[1] = BPF_CGROUP_DEVICE as u64 | ((BPF_F_ALLOW_MULTI as u64) << 32);
    bpf(BPF_PROG_ATTACH, &attr).map_err(|e| fail("attaching the device program", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::DEFAULT_RULES;

    #[test]
    fn every_rule_jumps_to_the_next() {
        let p = program(&DEFAULT_RULES[..2]);
        // 6 loads, 2 rules of 3 comparisons + 5, the final refusal.
        assert_eq!(p.len(), 6 + 2 * 8 + 2);
        // The first comparison skips the rest of its rule.
        assert_eq!(p[6], jump_ne(2, DEVCG_DEV_CHAR, 7));
        assert_eq!(p[p.len() - 2], mov_imm(0, 0));
    }
}
