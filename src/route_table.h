/* Routing table names, as `ip route ... table NAME` reads them: a number, or a name from
 * iproute2's rt_tables files. */
#ifndef MYVPN_ROUTE_TABLE_H
#define MYVPN_ROUTE_TABLE_H

#include <stdint.h>

enum { ROUTE_TABLE_MAIN = 254 }; /* RT_TABLE_MAIN */

/* The table id a name in rt_tables format text ("ID NAME" lines, '#' comments) gives
 * (pure): 0, or -ENOENT. */
int route_table_find(const char *text, const char *name, uint32_t *id);

/* The id of name: a decimal number (1 to 2^32-1), main, local, default, or a name from
 * /etc/iproute2/rt_tables, the .conf files of its rt_tables.d, or iproute2's defaults
 * under /usr.
 * 0, or -EINVAL (0 or out of range), or -ENOENT (no such name). */
int route_table_id(const char *name, uint32_t *id);

#endif
