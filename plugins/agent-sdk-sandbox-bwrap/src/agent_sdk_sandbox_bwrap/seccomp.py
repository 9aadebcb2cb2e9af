"""A seccomp filter for sandboxed code, built as a classic BPF program (no libseccomp).

bubblewrap loads it with ``--seccomp FD`` just before it executes the sandboxed command; the
filter is inherited by every descendant and cannot be removed. It is a *denylist* on top of
what the namespaces already prevent: system calls that have been the way out of containers
(ptrace, io_uring, bpf, mount, keyrings, new namespaces...) fail with ``EPERM``. ``clone3`` fails
with ``ENOSYS`` instead, because its flags live in memory a filter cannot read; C libraries then
fall back to ``clone``, whose namespace flags the filter does check.

Only the native ABI may be used: on x86_64 a call through the i386 (``int 0x80``) or x32 ABI
kills the process, since those number system calls differently and would bypass the list.
"""

from __future__ import annotations

import errno
import platform
import struct
import sys

__all__ = ["DENIED_SYSCALLS", "SeccompUnsupportedError", "build_filter", "supported_arch"]

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6];
_OFFSET_NR = 0
_OFFSET_ARCH = 4
_OFFSET_ARG0_LOW = 16  # low 32 bits of args[0] on little-endian machines

_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x45  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06  # BPF_RET | BPF_K

_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
_RET_ALLOW = 0x7FFF0000

_X32_SYSCALL_BIT = 0x40000000
# CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID
# | CLONE_NEWNET: clone() may not create namespaces (CLONE_NEWTIME is a clone3/unshare flag).
_CLONE_NEW_NAMESPACES = 0x7E020000

# The denied calls, by name, with why. Numbers per architecture below.
DENIED_SYSCALLS: dict[str, str] = {
    "ptrace": "inspect or control another process",
    "process_vm_readv": "read another process's memory",
    "process_vm_writev": "write another process's memory",
    "pidfd_getfd": "steal another process's file descriptors",
    "kcmp": "compare kernel objects of other processes",
    "io_uring_setup": "io_uring (a large, often-exploited kernel surface)",
    "io_uring_enter": "io_uring",
    "io_uring_register": "io_uring",
    "bpf": "load eBPF programs",
    "perf_event_open": "performance counters (kernel information leaks)",
    "userfaultfd": "user page-fault handling (used to win kernel races)",
    "mount": "mount file systems",
    "umount2": "unmount file systems",
    "pivot_root": "change the root file system",
    "chroot": "change the root directory",
    "open_tree": "new mount API",
    "move_mount": "new mount API",
    "fsopen": "new mount API",
    "fsconfig": "new mount API",
    "fsmount": "new mount API",
    "fspick": "new mount API",
    "mount_setattr": "new mount API",
    "unshare": "create namespaces (new user namespaces in particular)",
    "setns": "enter other namespaces",
    "keyctl": "kernel keyrings (shared secrets)",
    "add_key": "kernel keyrings",
    "request_key": "kernel keyrings",
    "open_by_handle_at": "open files by handle, bypassing path checks",
    "name_to_handle_at": "file handles",
    "fanotify_init": "file-system wide monitoring",
    "quotactl": "disk quotas",
    "quotactl_fd": "disk quotas",
    "kexec_load": "load a new kernel",
    "kexec_file_load": "load a new kernel",
    "init_module": "load kernel modules",
    "finit_module": "load kernel modules",
    "delete_module": "unload kernel modules",
    "reboot": "reboot",
    "swapon": "swap",
    "swapoff": "swap",
    "acct": "process accounting",
    "syslog": "kernel log",
    "lookup_dcookie": "kernel profiling",
    "settimeofday": "set the clock",
    "clock_settime": "set the clock",
    "clock_adjtime": "adjust the clock",
    "adjtimex": "adjust the clock",
    "vhangup": "hang up the terminal",
}

# Linux system call numbers (arch/x86/entry/syscalls/syscall_64.tbl and asm-generic/unistd.h).
_NUMBERS: dict[str, dict[str, int]] = {
    "x86_64": {
        "ptrace": 101,
        "process_vm_readv": 310,
        "process_vm_writev": 311,
        "pidfd_getfd": 438,
        "kcmp": 312,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "bpf": 321,
        "perf_event_open": 298,
        "userfaultfd": 323,
        "mount": 165,
        "umount2": 166,
        "pivot_root": 155,
        "chroot": 161,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "fspick": 433,
        "mount_setattr": 442,
        "unshare": 272,
        "setns": 308,
        "keyctl": 250,
        "add_key": 248,
        "request_key": 249,
        "open_by_handle_at": 304,
        "name_to_handle_at": 303,
        "fanotify_init": 300,
        "quotactl": 179,
        "quotactl_fd": 443,
        "kexec_load": 246,
        "kexec_file_load": 320,
        "init_module": 175,
        "finit_module": 313,
        "delete_module": 176,
        "reboot": 169,
        "swapon": 167,
        "swapoff": 168,
        "acct": 163,
        "syslog": 103,
        "lookup_dcookie": 212,
        "settimeofday": 164,
        "clock_settime": 227,
        "clock_adjtime": 305,
        "adjtimex": 159,
        "vhangup": 153,
        # checked separately
        "clone": 56,
        "clone3": 435,
    },
    "aarch64": {
        "ptrace": 117,
        "process_vm_readv": 270,
        "process_vm_writev": 271,
        "pidfd_getfd": 438,
        "kcmp": 272,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "bpf": 280,
        "perf_event_open": 241,
        "userfaultfd": 282,
        "mount": 40,
        "umount2": 39,
        "pivot_root": 41,
        "chroot": 51,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "fspick": 433,
        "mount_setattr": 442,
        "unshare": 97,
        "setns": 268,
        "keyctl": 219,
        "add_key": 217,
        "request_key": 218,
        "open_by_handle_at": 265,
        "name_to_handle_at": 264,
        "fanotify_init": 262,
        "quotactl": 60,
        "quotactl_fd": 443,
        "kexec_load": 104,
        "kexec_file_load": 294,
        "init_module": 105,
        "finit_module": 273,
        "delete_module": 106,
        "reboot": 142,
        "swapon": 224,
        "swapoff": 225,
        "acct": 89,
        "syslog": 116,
        "lookup_dcookie": 18,
        "settimeofday": 170,
        "clock_settime": 112,
        "clock_adjtime": 266,
        "adjtimex": 171,
        "vhangup": 58,
        "clone": 220,
        "clone3": 435,
    },
}

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_MACHINE_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}


class SeccompUnsupportedError(Exception):
    """No filter can be built for this machine's architecture."""


def supported_arch(machine: str | None = None) -> str | None:
    """The filter's name for *machine* (default: this one), or ``None`` if unsupported."""
    name = (machine or platform.machine()).lower()
    name = _MACHINE_ALIASES.get(name, name)
    if name in _NUMBERS and sys.byteorder == "little":
        return name
    return None


def _insn(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def build_filter(machine: str | None = None) -> bytes:
    """Return the filter for *machine* (default: this one) as ``struct sock_filter[]`` bytes.

    The bytes are what ``bwrap --seccomp FD`` reads from the descriptor.

    Raises:
        SeccompUnsupportedError: the architecture is not x86_64 or aarch64 (little-endian).
    """
    arch = supported_arch(machine)
    if arch is None:
        found = machine or platform.machine()
        raise SeccompUnsupportedError(
            f"no seccomp filter for architecture {found!r} (supported: x86_64, aarch64)"
        )
    numbers = _NUMBERS[arch]
    deny = _RET_ERRNO | errno.EPERM
    program = [
        _insn(_LD_W_ABS, 0, 0, _OFFSET_ARCH),
        _insn(_JEQ_K, 1, 0, _AUDIT_ARCH[arch]),
        _insn(_RET_K, 0, 0, _RET_KILL_PROCESS),
        _insn(_LD_W_ABS, 0, 0, _OFFSET_NR),
    ]
    if arch == "x86_64":
        # x32 ABI numbers have bit 30 set: refuse them all (the list holds native numbers)
        program += [_insn(_JGE_K, 0, 1, _X32_SYSCALL_BIT), _insn(_RET_K, 0, 0, deny)]
    for name in DENIED_SYSCALLS:
        program += [_insn(_JEQ_K, 0, 1, numbers[name]), _insn(_RET_K, 0, 0, deny)]
    program += [
        _insn(_JEQ_K, 0, 1, numbers["clone3"]),
        _insn(_RET_K, 0, 0, _RET_ERRNO | errno.ENOSYS),
        # clone(flags, ...): refuse any CLONE_NEW* flag in the first argument
        _insn(_JEQ_K, 0, 3, numbers["clone"]),
        _insn(_LD_W_ABS, 0, 0, _OFFSET_ARG0_LOW),
        _insn(_JSET_K, 0, 1, _CLONE_NEW_NAMESPACES),
        _insn(_RET_K, 0, 0, deny),
        _insn(_RET_K, 0, 0, _RET_ALLOW),
    ]
    return b"".join(program)
