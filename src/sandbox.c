/* The running daemon's sandbox: no new privileges, and a seccomp allowlist (libseccomp).
 *
 * The list is by purpose, not by caller: a syscall a library makes only on a rare path (the
 * journal's memfd for a long message, nftables' teardown at exit, a name lookup) is in it,
 * because a missing one kills the daemon at the worst moment. What it leaves out is what an
 * attacker who took over the packet path would want: exec, fork, ptrace, mount, module and
 * key management, setuid and capability changes, and the rest. */
#include "sandbox.h"
#include "log.h"

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const allowed[] = {
	/* files and descriptors: packets, the -c file on SIGHUP, /proc/sys at teardown */
	"read", "write", "readv", "writev", "pread64", "pwrite64", "close", "lseek", "fstat",
	"newfstatat", "statx", "stat", "lstat", "openat", "open", "fcntl", "ioctl", "dup", "dup2",
	"dup3", "pipe2", "getdents64", "readlink", "readlinkat", "access", "faccessat",
	"faccessat2", "unlink", "unlinkat", "ftruncate", "memfd_create",
	/* the event loop and its timers */
	"epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2", "poll",
	"ppoll", "select", "pselect6", "timerfd_create", "timerfd_settime", "timerfd_gettime",
	"eventfd2", "signalfd4", "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
	"gettimeofday", "time",
	/* sockets: UDP and TCP transports, rebinding, UAPI, metrics, netlink, journal, notify */
	"socket", "socketpair", "bind", "connect", "listen", "accept", "accept4", "sendto",
	"recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "setsockopt", "getsockopt",
	"getsockname", "getpeername", "shutdown",
	/* signals, including abort() */
	"rt_sigprocmask", "rt_sigaction", "rt_sigreturn", "sigaltstack", "tgkill", "tkill",
	"restart_syscall",
	/* memory */
	"mmap", "munmap", "mremap", "mprotect", "brk", "madvise", "mlock", /* keys of new peers */
	/* threads (clone is added below, with CLONE_THREAD required) */
	"set_robust_list", "rseq", "futex", "sched_yield", "sched_getaffinity", "getcpu",
	"exit", "exit_group", "prlimit64", "getrlimit", "setrlimit", "getrusage",
	/* identity and the system, as libraries ask for them */
	"getrandom", "uname", "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid",
	"getegid", "getresuid", "getresgid", "getgroups", "sysinfo", "getcwd",
};

static bool test_forbidden;

void sandbox_read_test_env(void)
{
	const char *v = getenv("MYVPN_TEST_FORBIDDEN_SYSCALL");

	test_forbidden = v && !strcmp(v, "1");
}

void sandbox_test_forbidden(void)
{
	if (!test_forbidden)
		return;
	log_warn("MYVPN_TEST_FORBIDDEN_SYSCALL=1: calling ptrace, which the sandbox forbids");
	syscall(SYS_ptrace, 0 /* PTRACE_TRACEME */, 0, 0, 0);
	log_error("still alive after a forbidden syscall: the sandbox is not working");
}

static int add_rules(scmp_filter_ctx ctx)
{
	int ret;

	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		int nr = seccomp_syscall_resolve_name(allowed[i]);

		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture (open, stat, ... on arm64) */
		ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (ret)
			return ret;
	}
	/* Threads only. clone3 passes its flags in memory, out of the filter's reach: ENOSYS
	 * makes glibc's pthread_create fall back to clone. */
	ret = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
			       SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	if (!ret)
		ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	return ret;
}

int sandbox_install(char *err, size_t errlen)
{
	scmp_filter_ctx ctx;
	int ret;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot set no_new_privs: %s", strerror(errno));
		return ret;
	}
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx) {
		snprintf(err, errlen, "cannot create the seccomp filter");
		return -ENOMEM;
	}
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	/* The filter runs on every system call, the data path's included: a binary tree by
	 * syscall number takes about 7 comparisons where a list of 110 takes up to 110. */
	if (!ret)
		ret = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (!ret)
		ret = add_rules(ctx);
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret) {
		snprintf(err, errlen, "cannot install the seccomp filter: %s", strerror(-ret));
		return ret;
	}
	log_debug("sandbox: no_new_privs, and a seccomp allowlist of %zu syscalls",
		  sizeof(allowed) / sizeof(allowed[0]) + 1);
	return 0;
}
