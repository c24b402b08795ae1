/* Walks the route table and the error map: every route has an operation name and a permission,
 * no two rows of one plane and method share a pattern, and every cf_err is mapped. */
#include "base/cf.h"
#include "api/internal.h"

#include <setjmp.h>
#include <cmocka.h>

static void every_route_is_described(void **state)
{
    (void)state;
    for (size_t i = 0; i < api_routes_count; i++) {
        const struct api_route *r = &api_routes[i];
        assert_non_null(r->handler);
        assert_non_null(r->operation);
        assert_true(strlen(r->operation) > 0);
        assert_non_null(r->permission);
        assert_true(strlen(r->permission) > 0);
        for (size_t j = 0; j < i; j++)
            assert_false(api_routes[j].plane == r->plane && api_routes[j].method == r->method &&
                         strcasecmp(api_routes[j].pattern, r->pattern) == 0);
    }
}

static void every_error_is_mapped(void **state)
{
    (void)state;
    for (int e = 0; e < CF_ERR_COUNT; e++) {
        const struct api_errmap *m = api_errmap_get((cf_err)e);
        assert_true(api_errmap_is_mapped((cf_err)e));
        assert_non_null(m->code);
        assert_true(m->status >= 200 && m->status < 600);
        if (e != CF_OK)
            assert_true(m->status >= 400);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_route_is_described),
        cmocka_unit_test(every_error_is_mapped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
