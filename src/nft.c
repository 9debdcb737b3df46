/* nftables through libnftables: each call is one batch, which the kernel commits whole. */
#include "nft.h"

#include <errno.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* nft's message, first line only, without its "Error: " prefix. */
static void first_line(const char *msg, char *err, size_t errlen)
{
	size_t len;

	if (!msg || !*msg)
		msg = "nftables refused the ruleset";
	if (!strncmp(msg, "Error: ", 7))
		msg += 7;
	len = strcspn(msg, "\n");
	snprintf(err, errlen, "nftables: %.*s", (int)len, msg);
}

/* libnftables exits the whole process when it cannot open its netlink socket (a kernel
 * without nfnetlink): open one first, so that a missing nftables is an error the caller
 * reports and unwinds. */
static int kernel_support(char *err, size_t errlen)
{
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER), ret;

	if (fd >= 0) {
		close(fd);
		return 0;
	}
	ret = -errno;
	if (err)
		snprintf(err, errlen, "nftables unavailable: no netfilter netlink socket: %s",
			 strerror(-ret));
	return ret;
}

static int run(const char *cmd, char *out, size_t outlen, char *err, size_t errlen)
{
	struct nft_ctx *nft;
	int ret = kernel_support(err, errlen);

	if (ret)
		return ret;
	nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (!nft) {
		snprintf(err, errlen, "nftables: cannot create a context");
		return -ENOMEM;
	}
	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	ret = nft_run_cmd_from_buffer(nft, cmd) ? -EINVAL : 0;
	if (ret && err)
		first_line(nft_ctx_get_error_buffer(nft), err, errlen);
	if (!ret && out)
		snprintf(out, outlen, "%s", nft_ctx_get_output_buffer(nft));
	nft_ctx_free(nft);
	return ret;
}

int nft_apply(const char *ruleset, char *err, size_t errlen)
{
	return run(ruleset, NULL, 0, err, errlen);
}

int nft_list(const char *command, char *out, size_t outlen)
{
	return run(command, out, outlen, NULL, 0) ? -ENOENT : 0;
}

/* "add table" makes an empty one when it is missing, so the delete never fails for that
 * reason, and both happen in one transaction. */
int nft_delete_table(const char *family, const char *name, char *err, size_t errlen)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "add table %s %s\ndelete table %s %s\n", family, name, family,
		 name);
	return nft_apply(cmd, err, errlen);
}
