/* The running daemon's sandbox: no new privileges, and a seccomp allowlist (libseccomp). */
#ifndef MYVPN_SANDBOX_H
#define MYVPN_SANDBOX_H

#include <stddef.h>

/*
 * Sets PR_SET_NO_NEW_PRIVS and installs the allowlist of the syscalls the daemon makes once
 * set-up is done: packet I/O, the event loop, the UAPI and metrics servers, the TCP
 * transport, rebinding, netlink and nftables (reload and teardown), the journal and
 * sd_notify, SIGHUP's re-read of the -c file, and threads (clone only with CLONE_THREAD: no
 * fork, no exec). Anything else kills the whole process (SIGSYS). Call once, after the last
 * set-up step and before the worker threads start: they inherit it. 0 or -errno, with err
 * holding one line.
 */
int sandbox_install(char *err, size_t errlen);

/*
 * Test only (tests/net/t_privileges.sh): when the environment held
 * MYVPN_TEST_FORBIDDEN_SYSCALL=1 at start-up (read by sandbox_read_test_env, called first thing
 * in main), makes a syscall outside the allowlist (ptrace), which must kill the process.
 */
void sandbox_read_test_env(void);
void sandbox_test_forbidden(void);

#endif
