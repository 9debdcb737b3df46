/* The -t hook: a user-given shell command that configures the interface. */
#include "hook.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int hook_expand(const char *template, const char *ifname, char *out, size_t outlen)
{
	size_t used = 0, name_len = strlen(ifname);

	for (const char *p = template; *p; p++) {
		const char *piece = p;
		size_t len = 1;

		if (p[0] == '%' && p[1] == 's') {
			piece = ifname;
			len = name_len;
			p++;
		}
		if (used + len >= outlen)
			return -ENAMETOOLONG;
		memcpy(out + used, piece, len);
		used += len;
	}
	out[used] = '\0';
	return 0;
}

int hook_run(const char *command)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}
