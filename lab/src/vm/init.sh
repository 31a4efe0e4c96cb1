#!/usr/bin/busybox sh
# The lab VM's /init (PID 1), written into the initramfs by `cargo lab vm build`.
#
# Kernel command line parameters it reads:
#   lab.share=TAG:PATH   mount the 9p share TAG at PATH (repeatable)
#   lab.run=PATH         run the script PATH with bash, then power off
#                        (without it: an interactive root shell)
#   lab.scratch=PATH     mount a tmpfs at PATH, inside a share (repeatable):
#                        overlayfs cannot put its upper layer on 9p
#   lab.cwd=PATH         where the interactive shell starts
#   lab.tty=ROWSxCOLS    the size of the terminal the shell runs in
# It prints BERTH-LAB-READY when the guest is set up and
# BERTH-LAB-EXIT=<status> just before it powers off.

bb=/usr/bin/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Stage 1: pivot_root(2) refuses to leave the initramfs itself (the rootfs
# mount has no parent), and containers need pivot_root. So bind-mount the
# initramfs onto itself, move that mount over /, chroot into it, and start
# again: the root is now an ordinary mount, with rootfs as its parent.
if [ -z "$LAB_STAGE2" ]; then
    $bb mount --bind / /newroot
    cd /newroot
    $bb mount --move . /
    export LAB_STAGE2=1
    exec $bb chroot . /init
fi

fail() {
    echo "berth-lab: $*"
    echo "BERTH-LAB-EXIT=125"
    $bb poweroff -f
}

$bb mount -t proc proc /proc
$bb mount -t sysfs sysfs /sys
$bb mount -t devtmpfs devtmpfs /dev
$bb mkdir -p /dev/pts /dev/shm /dev/mqueue
$bb mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
$bb mount -t tmpfs -o mode=1777 shm /dev/shm
$bb mount -t mqueue mqueue /dev/mqueue
$bb mount -t tmpfs -o mode=1777 tmp /tmp
$bb mount -t tmpfs -o mode=0755 run /run
$bb chmod 1777 /var/tmp
# Keep kernel messages off the console once booted: they would interleave
# with test output. `dmesg` still has them.
echo 1 > /proc/sys/kernel/printk

# cgroup v2 is the only hierarchy: no v1 controller is ever mounted.
$bb mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup || fail "cannot mount cgroup2"

# Modules: the kernel asks modprobe for anything else on demand.
echo /usr/bin/modprobe > /proc/sys/kernel/modprobe
$bb modprobe -a $(cat /etc/lab/modules) || fail "loading kernel modules failed"

for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
    echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control
done
$bb hostname berth-lab
for ip in /usr/sbin/ip /usr/bin/ip; do [ -x $ip ] && $ip link set lo up && break; done

script=
cwd=/root
for arg in $(cat /proc/cmdline); do
    case "$arg" in
    lab.share=*)
        spec=${arg#lab.share=}
        tag=${spec%%:*}
        dir=${spec#*:}
        $bb mkdir -p "$dir"
        $bb mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose "$tag" "$dir" \
            || fail "cannot mount the 9p share $tag at $dir"
        ;;
    lab.scratch=*)
        dir=${arg#lab.scratch=}
        $bb mkdir -p "$dir" && $bb mount -t tmpfs -o mode=1777 scratch "$dir" \
            || fail "cannot mount a tmpfs at $dir"
        ;;
    lab.cwd=*)
        cwd=${arg#lab.cwd=}
        ;;
    lab.tty=*)
        size=${arg#lab.tty=}
        $bb stty -F /dev/console rows "${size%x*}" cols "${size#*x}" 2>/dev/null
        ;;
    lab.run=*)
        script=${arg#lab.run=}
        ;;
    esac
done

export HOME=/root TERM=${TERM:-linux} BERTH_IN_VM=1
unset LAB_STAGE2
echo "cgroup: v2 ($(cat /sys/fs/cgroup/cgroup.subtree_control))"
echo "BERTH-LAB-READY"

cd "$cwd" 2>/dev/null || cd /root
if [ -n "$script" ]; then
    /usr/bin/bash "$script" < /dev/null
    status=$?
else
    echo "berth-lab: root shell in the VM; \`exit\` (or Ctrl-D) powers it off, Ctrl-A X kills it"
    $bb setsid -c /usr/bin/bash -l
    status=$?
fi
$bb sync
echo "BERTH-LAB-EXIT=$status"
$bb poweroff -f
