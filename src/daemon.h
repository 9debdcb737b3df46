/* Running in the background the way wireguard-go does: the parent exits 0 only once the
 * child reports that the interface and its control socket are ready. */
#ifndef MYVPN_DAEMON_H
#define MYVPN_DAEMON_H

/* Forks. Returns in the child with a fd to pass to daemon_ready (or -errno); the parent never
 * returns: it exits 0 when the child is ready and 1 if the child dies first. */
int daemon_start(void);
/* Tells the waiting parent that set-up succeeded, and detaches from the terminal: stdin and
 * stdout become /dev/null, and so does stderr unless it is a regular file. */
void daemon_ready(int notify_fd);

#endif
