/* Running in the background the way wireguard-go does: the parent exits 0 only once the
 * child reports that the interface and its control socket are ready. */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

int daemon_start(void)
{
	int pipefd[2];
	char ready;
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		close(pipefd[0]);
		setsid();
		return pipefd[1];
	}
	close(pipefd[1]);
	/* EOF without a byte means the child failed; it has printed why on our shared stderr. */
	exit(read(pipefd[0], &ready, 1) == 1 ? 0 : 1);
}

/* A caller reading our output through a pipe (`out=$(myvpn wg0 2>&1)`) waits for its end: a
 * pipe, terminal or socket must not stay open in the daemon. A regular file (`2>>log`) keeps
 * the log lines and blocks nobody. */
static bool keeps_stderr(void)
{
	struct stat st;

	return fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode);
}

void daemon_ready(int notify_fd)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		dup2(null, STDOUT_FILENO);
		if (!keeps_stderr())
			dup2(null, STDERR_FILENO);
		close(null);
	}
	if (write(notify_fd, "1", 1) != 1) {
		/* The parent is gone; nothing is waiting for the answer. */
	}
	close(notify_fd);
}
