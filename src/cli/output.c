/* output.c - az's output formats over a cf_val result, and small shared formatting helpers.
 *
 * Map: format names - json (Python json.dumps(indent=2, sort_keys=True, ensure_ascii=False))
 * - table (knack's _TableOutput + tabulate "simple": headers from the top-level scalar keys,
 * a dash rule, left-aligned cells, two-space gaps, trailing blanks stripped) - tsv (knack's
 * _TsvOutput) - the resourceGroup transform - ISO-8601 times.
 *
 * Python-isms reproduced on purpose: str(True) is "True" in table and tsv cells but a bare
 * top-level boolean prints "true" in tsv; a null inside a tsv row prints "None". */
#include "base/cf.h"
#include "cli/cli.h"

bool cf_cli_fmt_parse(const char *s, enum cf_cli_fmt *out)
{
    static const struct {
        const char *name;
        enum cf_cli_fmt f;
    } names[] = {{"json", CF_FMT_JSON}, {"jsonc", CF_FMT_JSONC}, {"table", CF_FMT_TABLE},
                 {"tsv", CF_FMT_TSV},   {"none", CF_FMT_NONE}};
    for (size_t i = 0; i < CF_ARRAY_LEN(names); i++) {
        if (strcasecmp(s, names[i].name) == 0) {
            *out = names[i].f;
            return true;
        }
    }
    return false;
}

/* ---- helpers ---- */

/* Object keys in print order: sorted (byte order = code point order) unless ordered. */
static size_t *key_order(const struct cf_val *o, bool sorted)
{
    size_t *idx = malloc((o->n ? o->n : 1) * sizeof(*idx));
    if (!idx)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        idx[i] = i;
    if (sorted) {
        /* Insertion sort: objects are small. */
        for (size_t i = 1; i < o->n; i++) {
            size_t k = idx[i], j = i;
            while (j > 0 && strcmp(o->keys[idx[j - 1]], o->keys[k]) > 0) {
                idx[j] = idx[j - 1];
                j--;
            }
            idx[j] = k;
        }
    }
    return idx;
}

static cf_err put_json_string(struct cf_buf *b, const char *s, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    cf_err err = cf_buf_putc(b, '"');
    size_t start = 0;
    for (size_t i = 0; i < n && !err; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[7];
        const char *rep = NULL;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        err = cf_buf_append(b, s + start, i - start);
        switch (c) {
        case '"': rep = "\\\""; break;
        case '\\': rep = "\\\\"; break;
        case '\n': rep = "\\n"; break;
        case '\r': rep = "\\r"; break;
        case '\t': rep = "\\t"; break;
        case '\b': rep = "\\b"; break;
        case '\f': rep = "\\f"; break;
        default:
            esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hx[c >> 4]; esc[5] = hx[c & 15]; esc[6] = '\0';
            rep = esc;
        }
        if (!err)
            err = cf_buf_puts(b, rep);
        start = i + 1;
    }
    if (!err)
        err = cf_buf_append(b, s + start, n - start);
    if (!err)
        err = cf_buf_putc(b, '"');
    return err;
}

static cf_err indent(struct cf_buf *b, int level)
{
    cf_err err = cf_buf_putc(b, '\n');
    for (int i = 0; i < level && !err; i++)
        err = cf_buf_puts(b, "  ");
    return err;
}

static cf_err json_value(struct cf_buf *b, const struct cf_val *v, int level)
{
    char t[40];
    cf_err err = CF_OK;

    switch (v->type) {
    case CF_VAL_NULL: return cf_buf_puts(b, "null");
    case CF_VAL_BOOL: return cf_buf_puts(b, v->b ? "true" : "false");
    case CF_VAL_INT: return cf_buf_printf(b, "%lld", (long long)v->i);
    case CF_VAL_REAL:
        cf_val_fmt_real(v->d, t, sizeof(t));
        return cf_buf_puts(b, t);
    case CF_VAL_STR: return put_json_string(b, v->s, v->slen);
    case CF_VAL_ARR:
        if (v->n == 0)
            return cf_buf_puts(b, "[]");
        err = cf_buf_putc(b, '[');
        for (size_t i = 0; i < v->n && !err; i++) {
            if (i)
                err = cf_buf_putc(b, ',');
            if (!err)
                err = indent(b, level + 1);
            if (!err)
                err = json_value(b, v->items[i], level + 1);
        }
        if (!err)
            err = indent(b, level);
        return err ? err : cf_buf_putc(b, ']');
    case CF_VAL_OBJ: {
        size_t *ord;
        if (v->n == 0)
            return cf_buf_puts(b, "{}");
        ord = key_order(v, true);
        if (!ord)
            return CF_ENOMEM;
        err = cf_buf_putc(b, '{');
        for (size_t i = 0; i < v->n && !err; i++) {
            if (i)
                err = cf_buf_putc(b, ',');
            if (!err)
                err = indent(b, level + 1);
            if (!err)
                err = put_json_string(b, v->keys[ord[i]], strlen(v->keys[ord[i]]));
            if (!err)
                err = cf_buf_puts(b, ": ");
            if (!err)
                err = json_value(b, v->items[ord[i]], level + 1);
        }
        free(ord);
        if (!err)
            err = indent(b, level);
        return err ? err : cf_buf_putc(b, '}');
    }
    }
    return CF_EINVAL;
}

static cf_err py_str(struct cf_buf *b, const struct cf_val *v);

/* Python's repr() of a string, as it appears inside a printed list or dict. */
static cf_err py_repr_str(struct cf_buf *b, const char *s, size_t n)
{
    char q = memchr(s, '\'', n) && !memchr(s, '"', n) ? '"' : '\'';
    cf_err err = cf_buf_putc(b, q);
    for (size_t i = 0; i < n && !err; i++) {
        char c = s[i];
        if (c == '\\' || c == q)
            err = cf_buf_putc(b, '\\') ? CF_ENOMEM : cf_buf_putc(b, c);
        else if (c == '\n')
            err = cf_buf_puts(b, "\\n");
        else if (c == '\r')
            err = cf_buf_puts(b, "\\r");
        else if (c == '\t')
            err = cf_buf_puts(b, "\\t");
        else if ((unsigned char)c < 0x20)
            err = cf_buf_printf(b, "\\x%02x", (unsigned char)c);
        else
            err = cf_buf_putc(b, c);
    }
    return err ? err : cf_buf_putc(b, q);
}

/* Python's repr() of a value inside a container (str() of a list or dict uses it). */
static cf_err py_repr(struct cf_buf *b, const struct cf_val *v)
{
    cf_err err = CF_OK;
    if (v->type == CF_VAL_STR)
        return py_repr_str(b, v->s, v->slen);
    if (v->type == CF_VAL_ARR || v->type == CF_VAL_OBJ) {
        bool arr = v->type == CF_VAL_ARR;
        err = cf_buf_putc(b, arr ? '[' : '{');
        for (size_t i = 0; i < v->n && !err; i++) {
            if (i)
                err = cf_buf_puts(b, ", ");
            if (!err && !arr) {
                err = py_repr_str(b, v->keys[i], strlen(v->keys[i]));
                if (!err)
                    err = cf_buf_puts(b, ": ");
            }
            if (!err)
                err = py_repr(b, v->items[i]);
        }
        return err ? err : cf_buf_putc(b, arr ? ']' : '}');
    }
    return py_str(b, v);
}

/* Python's str() of a value, as table and tsv cells show it. */
static cf_err py_str(struct cf_buf *b, const struct cf_val *v)
{
    char t[40];
    switch (v->type) {
    case CF_VAL_NULL: return cf_buf_puts(b, "None");
    case CF_VAL_BOOL: return cf_buf_puts(b, v->b ? "True" : "False");
    case CF_VAL_INT: return cf_buf_printf(b, "%lld", (long long)v->i);
    case CF_VAL_REAL:
        cf_val_fmt_real(v->d, t, sizeof(t));
        return cf_buf_puts(b, t);
    case CF_VAL_STR: return cf_buf_append(b, v->s, v->slen);
    case CF_VAL_ARR:
    case CF_VAL_OBJ: return py_repr(b, v);
    }
    return CF_EINVAL;
}

/* ---- tsv ---- */

static cf_err tsv_cell(struct cf_buf *b, const struct cf_val *v)
{
    if (v->type == CF_VAL_ARR)
        return cf_buf_printf(b, "%zu", v->n);
    if (v->type == CF_VAL_OBJ)
        return CF_OK;
    return py_str(b, v);
}

static cf_err tsv_row(struct cf_buf *b, const struct cf_val *v)
{
    cf_err err = CF_OK;
    if (v->type == CF_VAL_OBJ) {
        size_t *ord = key_order(v, !v->ordered);
        if (!ord)
            return CF_ENOMEM;
        for (size_t i = 0; i < v->n && !err; i++) {
            if (i)
                err = cf_buf_putc(b, '\t');
            if (!err)
                err = tsv_cell(b, v->items[ord[i]]);
        }
        free(ord);
    } else if (v->type == CF_VAL_ARR) {
        for (size_t i = 0; i < v->n && !err; i++) {
            if (i)
                err = cf_buf_putc(b, '\t');
            if (!err)
                err = tsv_cell(b, v->items[i]);
        }
    } else if (v->type == CF_VAL_BOOL) {
        err = cf_buf_puts(b, v->b ? "true" : "false");
    } else {
        err = py_str(b, v);
    }
    return err ? err : cf_buf_putc(b, '\n');
}

/* ---- table ---- */

struct table {
    char **headers;
    size_t ncols, capcols;
    /* rows[r][c]: cell text or NULL (missing) */
    char ***rows;
    size_t nrows;
};

static void table_free(struct table *t)
{
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++)
            free(t->rows[r][c]);
        free(t->rows[r]);
    }
    free(t->rows);
    for (size_t c = 0; c < t->ncols; c++)
        free(t->headers[c]);
    free(t->headers);
}

/* Column index of header h, adding it (and widening every row) when new; -1 on ENOMEM. */
static long table_col(struct table *t, const char *h)
{
    for (size_t c = 0; c < t->ncols; c++)
        if (strcmp(t->headers[c], h) == 0)
            return (long)c;
    if (t->ncols == t->capcols) {
        size_t nc = t->capcols ? t->capcols * 2 : 8;
        char **nh = realloc(t->headers, nc * sizeof(*nh));
        if (!nh)
            return -1;
        t->headers = nh;
        for (size_t r = 0; r < t->nrows; r++) {
            char **nr = realloc(t->rows[r], nc * sizeof(*nr));
            if (!nr)
                return -1;
            for (size_t c = t->capcols; c < nc; c++)
                nr[c] = NULL;
            t->rows[r] = nr;
        }
        t->capcols = nc;
    }
    t->headers[t->ncols] = strdup(h);
    if (!t->headers[t->ncols])
        return -1;
    return (long)t->ncols++;
}

static cf_err table_add_row(struct table *t)
{
    char ***nr = realloc(t->rows, (t->nrows + 1) * sizeof(*nr));
    size_t cap = t->capcols ? t->capcols : 8;
    if (!nr)
        return CF_ENOMEM;
    t->rows = nr;
    t->rows[t->nrows] = calloc(cap, sizeof(char *));
    if (!t->rows[t->nrows])
        return CF_ENOMEM;
    if (!t->capcols) {
        /* Reserve the column array so rows and headers agree on capacity. */
        t->headers = calloc(cap, sizeof(char *));
        if (!t->headers) {
            free(t->rows[t->nrows]);
            return CF_ENOMEM;
        }
        t->capcols = cap;
    }
    t->nrows++;
    return CF_OK;
}

/* Sets cell (last row, header h) to the str() of v (NULL v = missing, printed blank). */
static cf_err table_set(struct table *t, const char *h, const struct cf_val *v, bool blank_falsy)
{
    long c = table_col(t, h);
    struct cf_buf b;
    cf_err err = CF_OK;
    if (c < 0)
        return CF_ENOMEM;
    if (!v || v->type == CF_VAL_NULL) {
        if (!blank_falsy)
            return CF_OK;
        v = NULL;
    } else if (blank_falsy && !cf_val_truthy(v)) {
        v = NULL;
    }
    cf_buf_init(&b, SIZE_MAX / 2);
    if (v)
        err = py_str(&b, v);
    else
        err = cf_buf_puts(&b, " ");
    if (err) {
        cf_buf_wipe(&b);
        return err;
    }
    free(t->rows[t->nrows - 1][c]);
    t->rows[t->nrows - 1][c] = cf_buf_detach(&b, NULL);
    if (!t->rows[t->nrows - 1][c])
        t->rows[t->nrows - 1][c] = strdup("");
    return t->rows[t->nrows - 1][c] ? CF_OK : CF_ENOMEM;
}

static size_t text_width(const char *s, size_t n)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++)
        w += ((unsigned char)s[i] & 0xC0) != 0x80;
    return w;
}

/* tabulate strips each cell and splits it into lines. */
static void cell_trim(const char *s, const char **p, size_t *n)
{
    size_t a = 0, z = s ? strlen(s) : 0;
    while (a < z && (s[a] == ' ' || s[a] == '\t' || s[a] == '\n' || s[a] == '\r'))
        a++;
    while (z > a && (s[z - 1] == ' ' || s[z - 1] == '\t' || s[z - 1] == '\n' || s[z - 1] == '\r'))
        z--;
    *p = s ? s + a : "";
    *n = z - a;
}

/* Line k (0-based) of cell text [p, p+n): sets *lp, *ln; false when there is no such line. */
static bool cell_line(const char *p, size_t n, size_t k, const char **lp, size_t *ln)
{
    size_t i = 0;
    while (k > 0) {
        const char *nl = memchr(p + i, '\n', n - i);
        if (!nl)
            return false;
        i = (size_t)(nl - p) + 1;
        k--;
    }
    {
        const char *nl = memchr(p + i, '\n', n - i);
        *lp = p + i;
        *ln = nl ? (size_t)(nl - (p + i)) : n - i;
    }
    return true;
}

static size_t cell_lines(const char *p, size_t n)
{
    size_t l = 1;
    for (size_t i = 0; i < n; i++)
        l += p[i] == '\n';
    return l;
}

static cf_err emit_line(struct cf_buf *b, struct cf_buf *line)
{
    while (line->len && line->data[line->len - 1] == ' ')
        line->len--;
    if (line->data)
        line->data[line->len] = '\0';
    if (cf_buf_append(b, line->data ? line->data : "", line->len) != CF_OK)
        return CF_ENOMEM;
    cf_buf_reset(line);
    return cf_buf_putc(b, '\n');
}

static cf_err pad(struct cf_buf *line, const char *s, size_t n, size_t width, bool last)
{
    cf_err err = cf_buf_append(line, s, n);
    for (size_t w = text_width(s, n); !err && w < width; w++)
        err = cf_buf_putc(line, ' ');
    if (!err && !last)
        err = cf_buf_puts(line, "  ");
    return err;
}

static cf_err table_print(struct cf_buf *b, const struct table *t)
{
    size_t *w;
    struct cf_buf line;
    cf_err err = CF_OK;

    if (t->ncols == 0)
        return cf_buf_putc(b, '\n');
    w = calloc(t->ncols, sizeof(*w));
    if (!w)
        return CF_ENOMEM;
    for (size_t c = 0; c < t->ncols; c++) {
        w[c] = text_width(t->headers[c], strlen(t->headers[c])) + 2;
        for (size_t r = 0; r < t->nrows; r++) {
            const char *p, *lp;
            size_t n, ln;
            cell_trim(t->rows[r][c], &p, &n);
            for (size_t k = 0; cell_line(p, n, k, &lp, &ln); k++)
                w[c] = CF_MAX(w[c], text_width(lp, ln));
        }
    }
    cf_buf_init(&line, SIZE_MAX / 2);
    for (size_t c = 0; c < t->ncols && !err; c++)
        err = pad(&line, t->headers[c], strlen(t->headers[c]), w[c], c + 1 == t->ncols);
    if (!err)
        err = emit_line(b, &line);
    for (size_t c = 0; c < t->ncols && !err; c++) {
        for (size_t k = 0; k < w[c] && !err; k++)
            err = cf_buf_putc(&line, '-');
        if (!err && c + 1 < t->ncols)
            err = cf_buf_puts(&line, "  ");
    }
    if (!err)
        err = emit_line(b, &line);
    for (size_t r = 0; r < t->nrows && !err; r++) {
        size_t height = 1;
        for (size_t c = 0; c < t->ncols; c++) {
            const char *p;
            size_t n;
            cell_trim(t->rows[r][c], &p, &n);
            height = CF_MAX(height, cell_lines(p, n));
        }
        for (size_t k = 0; k < height && !err; k++) {
            for (size_t c = 0; c < t->ncols && !err; c++) {
                const char *p, *lp = "";
                size_t n, ln = 0;
                cell_trim(t->rows[r][c], &p, &n);
                if (!cell_line(p, n, k, &lp, &ln)) {
                    lp = "";
                    ln = 0;
                }
                err = pad(&line, lp, ln, w[c], c + 1 == t->ncols);
            }
            if (!err)
                err = emit_line(b, &line);
        }
    }
    cf_buf_wipe(&line);
    free(w);
    return err;
}

static cf_err capitalized(char *out, size_t n, const char *k)
{
    if (snprintf(out, n, "%s", k) >= (int)n)
        return CF_ETOOBIG;
    if (out[0] >= 'a' && out[0] <= 'z')
        out[0] = (char)(out[0] - 'a' + 'A');
    return CF_OK;
}

static cf_err table_item(struct table *t, const struct cf_val *item, bool sort_keys)
{
    cf_err err = table_add_row(t);
    char h[256];

    if (err)
        return err;
    if (item->type == CF_VAL_OBJ) {
        size_t *ord = key_order(item, sort_keys && !item->ordered);
        if (!ord)
            return CF_ENOMEM;
        for (size_t i = 0; i < item->n && !err; i++) {
            const char *k = item->keys[ord[i]];
            const struct cf_val *v = item->items[ord[i]];
            if (!strcmp(k, "id") || !strcmp(k, "type") || !strcmp(k, "etag"))
                continue;
            if (v->type == CF_VAL_NULL || v->type == CF_VAL_ARR || v->type == CF_VAL_OBJ)
                continue;
            err = capitalized(h, sizeof(h), k);
            if (!err)
                err = table_set(t, h, v, false);
        }
        free(ord);
    } else if (item->type == CF_VAL_ARR) {
        for (size_t i = 0; i < item->n && !err; i++) {
            snprintf(h, sizeof(h), "Column%zu", i + 1);
            err = table_set(t, h, item->items[i], false);
        }
    } else {
        err = table_set(t, "Result", item, false);
    }
    return err;
}

static cf_err render_table(struct cf_buf *out, const struct cf_val *v, bool query_active,
                           const struct cf_cli_col *cols)
{
    struct table t = {0};
    const struct cf_val *const *items;
    const struct cf_val *single[1] = {v};
    size_t n;
    cf_err err = CF_OK;
    bool use_cols = cols && !query_active;

    if (v->type == CF_VAL_ARR) {
        items = (const struct cf_val *const *)v->items;
        n = v->n;
    } else {
        items = single;
        n = 1;
    }
    for (size_t i = 0; i < n && !err; i++) {
        if (use_cols) {
            err = table_add_row(&t);
            for (const struct cf_cli_col *c = cols; !err && c->header; c++) {
                err = table_set(&t, c->header, cf_val_path(items[i], c->path), c->blank_falsy);
            }
        } else {
            err = table_item(&t, items[i], !query_active);
        }
    }
    if (!err && n > 0)
        err = table_print(out, &t);
    else if (!err)
        err = cf_buf_putc(out, '\n');
    table_free(&t);
    return err;
}

cf_err cf_cli_render(struct cf_buf *out, const struct cf_val *v, enum cf_cli_fmt fmt,
                     bool query_active, const struct cf_cli_col *cols, char *err, size_t errlen)
{
    cf_err rc = CF_OK;

    if (err && errlen)
        err[0] = '\0';
    if (!v || v->type == CF_VAL_NULL || fmt == CF_FMT_NONE)
        return CF_OK;
    switch (fmt) {
    case CF_FMT_JSON:
    case CF_FMT_JSONC:
    case CF_FMT_YAML:
        rc = json_value(out, v, 0);
        if (!rc)
            rc = cf_buf_putc(out, '\n');
        break;
    case CF_FMT_TSV:
        if (v->type == CF_VAL_ARR) {
            for (size_t i = 0; i < v->n && !rc; i++)
                rc = tsv_row(out, v->items[i]);
        } else {
            rc = tsv_row(out, v);
        }
        break;
    case CF_FMT_TABLE: rc = render_table(out, v, query_active, cols); break;
    case CF_FMT_NONE: break;
    }
    if (rc && err && errlen)
        snprintf(err, errlen, "%s", rc == CF_ENOMEM ? "out of memory" : "output too large");
    return rc;
}

/* ---- resourceGroup transform ---- */

/* "/subscriptions/S/resourceGroups/RG/providers/P/T/N": the RG of an id with >= 9 parts. */
static bool rg_of_id(const char *id, char *rg, size_t n)
{
    const char *parts[10];
    size_t lens[10], np = 0;
    const char *p = id;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t l = slash ? (size_t)(slash - p) : strlen(p);
        if (np < 10) {
            parts[np] = p;
            lens[np] = l;
        }
        np++;
        if (!slash)
            break;
        p = slash + 1;
    }
    if (np < 9 || lens[3] != 14 || strncasecmp(parts[3], "resourcegroups", 14) != 0)
        return false;
    snprintf(rg, n, "%.*s", (int)lens[4], parts[4]);
    return true;
}

cf_err cf_cli_add_resource_group(struct cf_val *v)
{
    cf_err err = CF_OK;
    if (!v)
        return CF_OK;
    if (v->type == CF_VAL_ARR) {
        for (size_t i = 0; i < v->n && !err; i++)
            err = cf_cli_add_resource_group(v->items[i]);
    } else if (v->type == CF_VAL_OBJ) {
        bool has = false;
        struct cf_val *id = cf_val_get(v, "id");
        char rg[256];
        for (size_t i = 0; i < v->n; i++)
            if (strcasecmp(v->keys[i], "resourcegroup") == 0)
                has = true;
        if (!has && id && id->type == CF_VAL_STR && rg_of_id(id->s, rg, sizeof(rg)))
            err = cf_val_set(v, "resourceGroup", cf_val_str(rg));
        for (size_t i = 0; i < v->n && !err; i++)
            if (strcmp(v->keys[i], "sourceVault") != 0)
                err = cf_cli_add_resource_group(v->items[i]);
    }
    return err;
}

/* ---- times ---- */

void cf_cli_iso_time(int64_t unix_s, char out[40])
{
    struct tm tm;
    time_t t = (time_t)unix_s;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, 40, "%lld", (long long)unix_s);
        return;
    }
    /* Years past 9999 cannot be shown by Python either; clamp to keep the field widths. */
    if (tm.tm_year > 9999 - 1900 || tm.tm_year < 1 - 1900) {
        snprintf(out, 40, "%lld", (long long)unix_s);
        return;
    }
    snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d+00:00", (tm.tm_year + 1900) % 10000,
             (tm.tm_mon + 1) % 100, tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100);
}

static bool digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool cf_cli_parse_time(const char *s, int64_t *out)
{
    int Y, M, D, h = 0, m = 0, sec = 0, oh = 0, om = 0;
    int sign = 0;
    struct tm tm = {0};
    const char *p = s;

    if (!s || strlen(s) < 10 || !digits(p, 4, &Y) || p[4] != '-' || !digits(p + 5, 2, &M) ||
        p[7] != '-' || !digits(p + 8, 2, &D))
        return false;
    p += 10;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(p, 2, &h) || p[2] != ':' || !digits(p + 3, 2, &m))
            return false;
        p += 5;
        if (*p == ':') {
            if (!digits(p + 1, 2, &sec))
                return false;
            p += 3;
            if (*p == '.' || *p == ',') {
                p++;
                if (*p < '0' || *p > '9')
                    return false;
                while (*p >= '0' && *p <= '9')
                    p++;
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            sign = *p == '+' ? 1 : -1;
            if (!digits(p + 1, 2, &oh))
                return false;
            p += 3;
            if (*p == ':')
                p++;
            if (!digits(p, 2, &om))
                return false;
            p += 2;
        }
    }
    if (*p != '\0' || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
        return false;
    tm.tm_year = Y - 1900;
    tm.tm_mon = M - 1;
    tm.tm_mday = D;
    tm.tm_hour = h;
    tm.tm_min = m;
    tm.tm_sec = sec;
    *out = (int64_t)timegm(&tm) - (int64_t)sign * (oh * 3600 + om * 60);
    return true;
}
