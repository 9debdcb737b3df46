/* The control plane of an encrypted interface: the UAPI socket (so `wg` works), rebinding the
 * UDP socket and SO_MARK on request, and stopping when the link or the socket goes away. */
#ifndef MYVPN_CONTROL_H
#define MYVPN_CONTROL_H

#include "device.h"
#include "uapi_server.h"
#include "wg.h"

struct mnl_socket;

struct control {
	struct device *dev;
	struct worker *worker;
	struct wg_device *wg;
	struct uapi_server uapi;
	struct mnl_socket *link_watch;
	struct loop_source link_source;
	uint32_t fwmark;
	bool uapi_open;
};

/* Opens the socket /var/run/wireguard/IFNAME.sock and the link watch. read_only: a plaintext
 * interface, which `wg show` and `myvpn show` can see but `wg set` cannot change. Returns 0
 * or -errno with a one-line message in err. */
int control_open(struct control *c, struct device *dev, struct worker *w, struct wg_device *wg,
		 bool read_only, char *err, size_t errlen);
void control_close(struct control *c);
/* Marks the UDP socket's packets (FwMark, as wg-quick uses for policy routing). 0 or -errno. */
int control_set_fwmark(struct control *c, uint32_t fwmark);

#endif
