/* no_nfnetlink CMD ARGS...: runs CMD as on a kernel without nftables' netlink interface
 * (CONFIG_NETFILTER_NETLINK unset): socket(AF_NETLINK, ..., NETLINK_NETFILTER) fails with
 * EPROTONOSUPPORT, the kernel's own answer for a netlink family it does not have. Nothing
 * else changes: the rest of netlink (routes, links, rules) works. A seccomp filter does it,
 * inherited across exec; the test's namespace and the host keep their nftables. */
#include <errno.h>
#include <linux/netlink.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	scmp_filter_ctx ctx;
	int ret;

	if (argc < 2) {
		fprintf(stderr, "usage: no_nfnetlink CMD [ARGS...]\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return 1;
	ret = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPROTONOSUPPORT), SCMP_SYS(socket), 2,
			       SCMP_A0(SCMP_CMP_EQ, AF_NETLINK), SCMP_A2(SCMP_CMP_EQ, NETLINK_NETFILTER));
	if (!ret)
		ret = seccomp_load(ctx);
	seccomp_release(ctx);
	if (ret) {
		fprintf(stderr, "no_nfnetlink: cannot install the filter: %s\n", strerror(-ret));
		return 1;
	}
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no_nfnetlink: %s: %s\n", argv[1], strerror(errno));
	return 127;
}
