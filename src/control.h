/* The control plane of an interface: the UAPI socket (so `wg` works), rebinding the UDP
 * sockets and SO_MARK on request, and stopping when the link or the socket goes away. Runs on
 * the engine's control thread. */
#ifndef MYVPN_CONTROL_H
#define MYVPN_CONTROL_H

#include "device.h"
#include "engine.h"
#include "uapi_server.h"
#include "wg.h"

struct mnl_socket;
struct plain_tunnel;

struct control {
	struct device *dev;
	struct engine *engine;
	struct wg_device *wg;
	struct uapi_server uapi;
	struct mnl_socket *link_watch;
	struct loop_source link_source;
	struct stats stats; /* the last sum, for stats=1 */
	uint32_t fwmark;
	bool offload;       /* new sockets try UDP GSO/GRO too */
	/* The router's mapping of our ports, or NULL: shown by stats=1, told of a new listen
	 * port. Set by the caller after portmap_start. */
	struct portmap *portmap;
	/* A plaintext interface's tunnel, whose remote stats=1 shows; NULL for an encrypted one.
	 * Set by the caller after control_open. */
	struct plain_tunnel *plain;
	bool uapi_open;
};

/* Opens the socket /var/run/wireguard/IFNAME.sock and the link watch. read_only: a plaintext
 * interface, which `wg show` and `myvpn show` can see but `wg set` cannot change. Returns 0
 * or -errno with a one-line message in err. */
int control_open(struct control *c, struct device *dev, struct engine *e, struct wg_device *wg,
		 bool read_only, bool offload, char *err, size_t errlen);
void control_close(struct control *c);
/* Applies a set request as `wg set` would (rebinding, SO_MARK, workers excluded only while
 * the changes apply): 0 or -errno, and then nothing changed. Control thread only. */
int control_apply(struct control *c, const char *text, size_t len, struct uapi_set_result *res);
/* The UDP port bound now. */
uint16_t control_listen_port(struct control *c);
/* The Prometheus exposition of the interface (metrics.h), appended to out: 0 or -errno. Control
 * thread only. ctx is the control. */
int control_metrics(void *ctx, struct uapi_buf *out);
/* Marks the UDP sockets' packets (FwMark, as wg-quick uses for policy routing). 0 or -errno. */
int control_set_fwmark(struct control *c, uint32_t fwmark);

#endif
