/* Routing table names: iproute2's rt_tables files, read the way `ip` reads them. */
#include "route_table.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The files `ip` reads, in its order: the local ones before the distribution's defaults. */
static const char *const table_dirs[] = { "/etc/iproute2", "/usr/share/iproute2", "/usr/lib/iproute2" };

enum { TABLE_FILE_MAX = 65536 };

/* Whether one line ("ID NAME", ID decimal or 0x hex as ip reads it, then anything) names
 * name; *id is its id then. */
static bool line_names(const char *line, const char *name, uint32_t *id)
{
	char word[64];
	unsigned long long n;
	char *end;

	while (isspace((unsigned char)*line))
		line++;
	if (!isdigit((unsigned char)*line))
		return false; /* a comment, an empty line, or not "ID NAME" */
	errno = 0;
	n = line[0] == '0' && (line[1] == 'x' || line[1] == 'X') ? strtoull(line + 2, &end, 16)
								 : strtoull(line, &end, 10);
	if (errno || n > UINT32_MAX || !isspace((unsigned char)*end))
		return false;
	if (sscanf(end, "%63s", word) != 1 || strcmp(word, name))
		return false;
	*id = (uint32_t)n;
	return true;
}

int route_table_find(const char *text, const char *name, uint32_t *id)
{
	char line[256];

	while (*text) {
		size_t len = strcspn(text, "\n");

		if (len < sizeof(line)) {
			memcpy(line, text, len);
			line[len] = '\0';
			if (line_names(line, name, id))
				return 0;
		}
		text += len + (text[len] == '\n');
	}
	return -ENOENT;
}

static int find_in_file(const char *path, const char *name, uint32_t *id)
{
	FILE *f = fopen(path, "re");
	char *text;
	size_t len;
	int ret = -ENOENT;

	if (!f)
		return -ENOENT;
	text = malloc(TABLE_FILE_MAX + 1);
	if (text) {
		len = fread(text, 1, TABLE_FILE_MAX, f);
		text[len] = '\0';
		ret = route_table_find(text, name, id);
		free(text);
	}
	fclose(f);
	return ret;
}

static bool is_conf(const char *file)
{
	size_t len = strlen(file);

	return len > 5 && !strcmp(file + len - 5, ".conf");
}

static int find_in_dir(const char *dir, const char *name, uint32_t *id)
{
	char path[512];
	struct dirent *e;
	DIR *d;
	int ret;

	snprintf(path, sizeof(path), "%s/rt_tables", dir);
	if (!find_in_file(path, name, id))
		return 0;
	snprintf(path, sizeof(path), "%s/rt_tables.d", dir);
	d = opendir(path);
	if (!d)
		return -ENOENT;
	ret = -ENOENT;
	while (ret && (e = readdir(d))) {
		if (!is_conf(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/rt_tables.d/%s", dir, e->d_name);
		ret = find_in_file(path, name, id);
	}
	closedir(d);
	return ret;
}

int route_table_id(const char *name, uint32_t *id)
{
	static const struct { const char *name; uint32_t id; } builtin[] = {
		{ "default", 253 }, { "main", ROUTE_TABLE_MAIN }, { "local", 255 },
	};
	unsigned long long n;
	char *end;

	if (isdigit((unsigned char)name[0])) {
		errno = 0;
		n = strtoull(name, &end, 10);
		if (*end || errno || n == 0 || n > UINT32_MAX)
			return -EINVAL;
		*id = (uint32_t)n;
		return 0;
	}
	for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++)
		if (!strcmp(name, builtin[i].name)) {
			*id = builtin[i].id;
			return 0;
		}
	for (size_t i = 0; i < sizeof(table_dirs) / sizeof(table_dirs[0]); i++)
		if (!find_in_dir(table_dirs[i], name, id))
			return 0;
	return -ENOENT;
}
