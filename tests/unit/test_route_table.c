/* Unit tests for routing table names: rt_tables text, numbers, the names every system has. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "route_table.h"

#include <errno.h>

static const char rt_tables[] =
	"#\n# reserved values\n#\n255\tlocal\n254\tmain\n253\tdefault\n0\tunspec\n"
	"  100   vpn  # trailing words are ignored\n"
	"0x1f4 hexed\n"
	"#200 commented\n"
	"300\n"
	"010 octal-looking\n"
	"notanumber name\n"
	"4294967296 toolarge\n";

static void find_in_text(void **state)
{
	uint32_t id = 0;

	assert_int_equal(route_table_find(rt_tables, "vpn", &id), 0);
	assert_int_equal(id, 100);
	assert_int_equal(route_table_find(rt_tables, "hexed", &id), 0);
	assert_int_equal(id, 500);
	assert_int_equal(route_table_find(rt_tables, "octal-looking", &id), 0);
	assert_int_equal(id, 10); /* decimal, as ip reads it */
	assert_int_equal(route_table_find(rt_tables, "main", &id), 0);
	assert_int_equal(id, 254);
	for (const char **name = (const char *[]){ "commented", "name", "toolarge", "vp", "", NULL };
	     *name; name++)
		assert_int_equal(route_table_find(rt_tables, *name, &id), -ENOENT);
	assert_int_equal(route_table_find("", "vpn", &id), -ENOENT);
	assert_int_equal(route_table_find("7 last-line-without-newline", "last-line-without-newline", &id), 0);
	assert_int_equal(id, 7);
}

static void numbers_and_builtins(void **state)
{
	uint32_t id = 0;

	assert_int_equal(route_table_id("1234", &id), 0);
	assert_int_equal(id, 1234);
	assert_int_equal(route_table_id("4294967295", &id), 0);
	assert_int_equal(id, UINT32_MAX);
	assert_int_equal(route_table_id("main", &id), 0);
	assert_int_equal(id, 254);
	assert_int_equal(route_table_id("local", &id), 0);
	assert_int_equal(id, 255);
	assert_int_equal(route_table_id("default", &id), 0);
	assert_int_equal(id, 253);
	assert_int_equal(route_table_id("0", &id), -EINVAL);
	assert_int_equal(route_table_id("4294967296", &id), -EINVAL);
	assert_int_equal(route_table_id("12x", &id), -EINVAL);
	assert_int_equal(route_table_id("no-table-has-this-name", &id), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(find_in_text),
		cmocka_unit_test(numbers_and_builtins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
