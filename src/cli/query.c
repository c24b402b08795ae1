/* query.c - the JMESPath subset behind `--query`: a lexer, a Pratt parser with JMESPath's
 * binding powers (so projections stop and continue exactly where the spec says), and a tree
 * interpreter over struct cf_val.
 *
 * Map: tokens (lex) - AST nodes - parser (nud/led, projection rhs) - interpreter - functions.
 * Supported: identifiers (bare and "quoted"), '.', [n], [a:b:c], [*], [], [?cond], *,
 * multiselect [a,b] and {k:a}, |, ||, &&, !, == != < <= > >=, @, 'raw', `json` literals,
 * &expref, and the functions listed in fn_table. Semantics follow jmespath.py (what az runs):
 * a projection drops null results; ordering comparisons work on numbers and on strings. */
#include "base/cf.h"
#include "cli/cli.h"

#include <math.h>

/* ---- tokens ---- */
enum tok {
    T_EOF, T_UNQUOTED, T_QUOTED, T_LITERAL, T_NUMBER, T_DOT, T_STAR, T_LBRACKET, T_RBRACKET,
    T_FLATTEN, T_FILTER, T_LBRACE, T_RBRACE, T_LPAREN, T_RPAREN, T_COMMA, T_COLON, T_PIPE, T_OR,
    T_AND, T_NOT, T_EQ, T_NE, T_LT, T_LTE, T_GT, T_GTE, T_CURRENT, T_EXPREF, T__COUNT
};

struct token {
    enum tok t;
    char *text;          /* identifiers */
    struct cf_val *lit;  /* literals */
    int64_t num;
    size_t pos;
};

/* Binding powers, as in the JMESPath reference parser. */
static const int bp[T__COUNT] = {
    [T_PIPE] = 1, [T_OR] = 2, [T_AND] = 3, [T_EQ] = 5, [T_NE] = 5, [T_LT] = 5, [T_LTE] = 5,
    [T_GT] = 5, [T_GTE] = 5, [T_FLATTEN] = 9, [T_STAR] = 20, [T_FILTER] = 21, [T_DOT] = 40,
    [T_NOT] = 45, [T_LBRACE] = 50, [T_LBRACKET] = 55, [T_LPAREN] = 60,
};
#define PROJECTION_STOP 10

/* ---- AST ---- */
enum kind {
    N_IDENTITY, N_CURRENT, N_FIELD, N_SUBEXPR, N_INDEX, N_SLICE, N_INDEX_EXPR, N_PROJECTION,
    N_VALUE_PROJECTION, N_FILTER_PROJECTION, N_FLATTEN, N_MULTI_LIST, N_MULTI_HASH, N_LITERAL,
    N_CMP, N_OR, N_AND, N_NOT, N_PIPE, N_FUNC, N_EXPREF
};

struct qnode {
    enum kind k;
    char *name;           /* FIELD, FUNC */
    struct cf_val *lit;   /* LITERAL */
    enum tok cmp;         /* CMP */
    int64_t idx;          /* INDEX */
    int64_t sl[3];        /* SLICE start, stop, step */
    bool has[3];
    struct qnode **kids;
    char **keys;          /* MULTI_HASH keys, parallel to kids */
    size_t n, cap;
};

struct cf_cli_query {
    struct qnode *root;
};

struct parser {
    const char *src;
    struct token *toks;
    size_t ntoks, cap, i;
    char *err;
    size_t errlen;
    bool failed;
    bool oom;
};

static void perr(struct parser *p, size_t pos, const char *msg)
{
    if (!p->failed && p->err && p->errlen)
        snprintf(p->err, p->errlen, "%s at column %zu in '%s'", msg, pos + 1, p->src);
    p->failed = true;
}

/* ---- lexer ---- */

static bool add_tok(struct parser *p, enum tok t, size_t pos)
{
    if (p->ntoks == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 16;
        struct token *nt = realloc(p->toks, nc * sizeof(*nt));
        if (!nt) {
            p->oom = true;
            perr(p, pos, "out of memory");
            return false;
        }
        p->toks = nt;
        p->cap = nc;
    }
    p->toks[p->ntoks] = (struct token){.t = t, .pos = pos};
    p->ntoks++;
    return true;
}

/* Copies src[a..b) with `\<q>` unescaped to q (raw strings and json literals). */
static char *unescape_quote(const char *s, size_t n, char q)
{
    char *o = malloc(n + 1);
    size_t k = 0;
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && s[i + 1] == q) {
            o[k++] = q;
            i++;
        } else {
            o[k++] = s[i];
        }
    }
    o[k] = '\0';
    return o;
}

/* Finds the closing quote q from s[i] (just past the opening one), honouring backslashes. */
static bool find_close(const char *s, size_t *i, char q)
{
    while (s[*i]) {
        if (s[*i] == '\\' && s[*i + 1]) {
            *i += 2;
            continue;
        }
        if (s[*i] == q)
            return true;
        (*i)++;
    }
    return false;
}

static bool lex(struct parser *p)
{
    const char *s = p->src;
    size_t i = 0;

    while (s[i]) {
        char c = s[i];
        size_t start = i;
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            i++;
            continue;
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
            while ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || s[i] == '_' ||
                   (s[i] >= '0' && s[i] <= '9'))
                i++;
            if (!add_tok(p, T_UNQUOTED, start))
                return false;
            p->toks[p->ntoks - 1].text = strndup(s + start, i - start);
            if (!p->toks[p->ntoks - 1].text) {
                p->oom = true;
                return false;
            }
            continue;
        }
        if ((c >= '0' && c <= '9') || (c == '-' && s[i + 1] >= '0' && s[i + 1] <= '9')) {
            char *end;
            long long v = strtoll(s + i, &end, 10);
            i = (size_t)(end - s);
            if (!add_tok(p, T_NUMBER, start))
                return false;
            p->toks[p->ntoks - 1].num = v;
            continue;
        }
        if (c == '"' || c == '\'' || c == '`') {
            size_t j = i + 1;
            struct token *t;
            if (!find_close(s, &j, c)) {
                perr(p, start, "unterminated quote");
                return false;
            }
            if (!add_tok(p, c == '"' ? T_QUOTED : T_LITERAL, start))
                return false;
            t = &p->toks[p->ntoks - 1];
            if (c == '"') {
                struct cf_val *v = NULL;
                if (cf_val_parse(s + i, j + 1 - i, &v) != CF_OK || v->type != CF_VAL_STR) {
                    cf_val_unref(v);
                    perr(p, start, "invalid quoted identifier");
                    return false;
                }
                t->text = strndup(v->s, v->slen);
                cf_val_unref(v);
                if (!t->text) {
                    p->oom = true;
                    return false;
                }
            } else if (c == '\'') {
                char *raw = unescape_quote(s + i + 1, j - i - 1, '\'');
                t->lit = raw ? cf_val_str(raw) : NULL;
                free(raw);
                if (!t->lit) {
                    p->oom = true;
                    return false;
                }
            } else {
                char *raw = unescape_quote(s + i + 1, j - i - 1, '`');
                struct cf_val *v = NULL;
                if (!raw) {
                    p->oom = true;
                    return false;
                }
                if (cf_val_parse(raw, strlen(raw), &v) != CF_OK) {
                    /* Legacy form jmespath.py still accepts: `foo` is the string "foo". */
                    struct cf_buf q;
                    const char *r = raw;
                    while (*r == ' ')
                        r++;
                    cf_buf_init(&q, strlen(raw) + 8);
                    if (cf_buf_printf(&q, "\"%s\"", r) != CF_OK ||
                        cf_val_parse(q.data, q.len, &v) != CF_OK)
                        v = NULL;
                    cf_buf_release(&q);
                }
                free(raw);
                if (!v) {
                    perr(p, start, "invalid JSON literal");
                    return false;
                }
                t->lit = v;
            }
            i = j + 1;
            continue;
        }
        {
            enum tok t = T_EOF;
            size_t len = 1;
            switch (c) {
            case '.': t = T_DOT; break;
            case '*': t = T_STAR; break;
            case ']': t = T_RBRACKET; break;
            case '{': t = T_LBRACE; break;
            case '}': t = T_RBRACE; break;
            case '(': t = T_LPAREN; break;
            case ')': t = T_RPAREN; break;
            case ',': t = T_COMMA; break;
            case ':': t = T_COLON; break;
            case '@': t = T_CURRENT; break;
            case '[':
                if (s[i + 1] == ']') {
                    t = T_FLATTEN;
                    len = 2;
                } else if (s[i + 1] == '?') {
                    t = T_FILTER;
                    len = 2;
                } else {
                    t = T_LBRACKET;
                }
                break;
            case '|':
                t = s[i + 1] == '|' ? T_OR : T_PIPE;
                len = s[i + 1] == '|' ? 2 : 1;
                break;
            case '&':
                t = s[i + 1] == '&' ? T_AND : T_EXPREF;
                len = s[i + 1] == '&' ? 2 : 1;
                break;
            case '!':
                t = s[i + 1] == '=' ? T_NE : T_NOT;
                len = s[i + 1] == '=' ? 2 : 1;
                break;
            case '<':
                t = s[i + 1] == '=' ? T_LTE : T_LT;
                len = s[i + 1] == '=' ? 2 : 1;
                break;
            case '>':
                t = s[i + 1] == '=' ? T_GTE : T_GT;
                len = s[i + 1] == '=' ? 2 : 1;
                break;
            case '=':
                if (s[i + 1] == '=') {
                    t = T_EQ;
                    len = 2;
                    break;
                }
                perr(p, i, "unexpected '=' (use '==')");
                return false;
            default:
                perr(p, i, "unexpected character");
                return false;
            }
            if (!add_tok(p, t, start))
                return false;
            i += len;
        }
    }
    return add_tok(p, T_EOF, i);
}

/* ---- AST helpers ---- */

static void node_free(struct qnode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        node_free(n->kids[i]);
        if (n->keys)
            free(n->keys[i]);
    }
    free(n->kids);
    free(n->keys);
    free(n->name);
    cf_val_unref(n->lit);
    free(n);
}

static struct qnode *mk(struct parser *p, enum kind k)
{
    struct qnode *n = calloc(1, sizeof(*n));
    if (!n) {
        p->oom = true;
        perr(p, 0, "out of memory");
    } else {
        n->k = k;
    }
    return n;
}

/* Adds child c (taking ownership; frees it on failure). */
static bool kid(struct parser *p, struct qnode *n, struct qnode *c)
{
    if (!n || !c) {
        node_free(c);
        return false;
    }
    if (n->n == n->cap) {
        size_t nc = n->cap ? n->cap * 2 : 4;
        struct qnode **nk = realloc(n->kids, nc * sizeof(*nk));
        if (!nk) {
            p->oom = true;
            node_free(c);
            return false;
        }
        n->kids = nk;
        if (n->k == N_MULTI_HASH) {
            char **kk = realloc(n->keys, nc * sizeof(*kk));
            if (!kk) {
                p->oom = true;
                node_free(c);
                return false;
            }
            n->keys = kk;
        }
        n->cap = nc;
    }
    n->kids[n->n++] = c;
    return true;
}

/* A two-child node; frees both children when n cannot be built. */
static struct qnode *mk2(struct parser *p, enum kind k, struct qnode *a, struct qnode *b)
{
    struct qnode *n;
    if (!a || !b) {
        node_free(a);
        node_free(b);
        return NULL;
    }
    n = mk(p, k);
    if (!n) {
        node_free(a);
        node_free(b);
        return NULL;
    }
    if (!kid(p, n, a)) {
        node_free(b);
        node_free(n);
        return NULL;
    }
    if (!kid(p, n, b)) {
        node_free(n);
        return NULL;
    }
    return n;
}

/* ---- parser ---- */

static struct qnode *expression(struct parser *p, int rbp);

static enum tok cur(const struct parser *p)
{
    return p->toks[p->i].t;
}

static enum tok peek(const struct parser *p, size_t k)
{
    return p->i + k < p->ntoks ? p->toks[p->i + k].t : T_EOF;
}

static bool expect(struct parser *p, enum tok t, const char *what)
{
    if (cur(p) != t) {
        perr(p, p->toks[p->i].pos, what);
        return false;
    }
    p->i++;
    return true;
}

static struct qnode *parse_index_expression(struct parser *p)
{
    /* At a number or ':' after '['. */
    if (peek(p, 1) == T_COLON || cur(p) == T_COLON) {
        struct qnode *n = mk(p, N_SLICE);
        int part = 0;
        if (!n)
            return NULL;
        while (cur(p) != T_RBRACKET && part < 3) {
            if (cur(p) == T_COLON) {
                part++;
                p->i++;
            } else if (cur(p) == T_NUMBER) {
                n->sl[part] = p->toks[p->i].num;
                n->has[part] = true;
                p->i++;
            } else {
                perr(p, p->toks[p->i].pos, "invalid slice");
                node_free(n);
                return NULL;
            }
        }
        if (part > 2 || (n->has[2] && n->sl[2] == 0)) {
            perr(p, p->toks[p->i].pos, "invalid slice");
            node_free(n);
            return NULL;
        }
        if (!expect(p, T_RBRACKET, "expected ']'")) {
            node_free(n);
            return NULL;
        }
        return n;
    } else {
        struct qnode *n = mk(p, N_INDEX);
        if (!n)
            return NULL;
        n->idx = p->toks[p->i].num;
        p->i++;
        if (!expect(p, T_RBRACKET, "expected ']'")) {
            node_free(n);
            return NULL;
        }
        return n;
    }
}

static struct qnode *parse_dot_rhs(struct parser *p, int rbp);

static struct qnode *parse_projection_rhs(struct parser *p, int rbp)
{
    enum tok t = cur(p);
    if (bp[t] < PROJECTION_STOP)
        return mk(p, N_IDENTITY);
    if (t == T_LBRACKET || t == T_FILTER)
        return expression(p, rbp);
    if (t == T_DOT) {
        p->i++;
        return parse_dot_rhs(p, rbp);
    }
    perr(p, p->toks[p->i].pos, "syntax error after projection");
    return NULL;
}

static struct qnode *parse_multiselect_list(struct parser *p)
{
    struct qnode *n = mk(p, N_MULTI_LIST);
    if (!n)
        return NULL;
    for (;;) {
        if (!kid(p, n, expression(p, 0)))
            goto fail;
        if (cur(p) == T_RBRACKET)
            break;
        if (!expect(p, T_COMMA, "expected ',' or ']'"))
            goto fail;
    }
    p->i++;
    return n;
fail:
    node_free(n);
    return NULL;
}

static struct qnode *parse_multiselect_hash(struct parser *p)
{
    struct qnode *n = mk(p, N_MULTI_HASH);
    if (!n)
        return NULL;
    for (;;) {
        char *key;
        if (cur(p) != T_UNQUOTED && cur(p) != T_QUOTED) {
            perr(p, p->toks[p->i].pos, "expected a key name");
            goto fail;
        }
        key = strdup(p->toks[p->i].text);
        if (!key) {
            p->oom = true;
            goto fail;
        }
        p->i++;
        if (!expect(p, T_COLON, "expected ':'")) {
            free(key);
            goto fail;
        }
        if (!kid(p, n, expression(p, 0))) {
            free(key);
            goto fail;
        }
        n->keys[n->n - 1] = key;
        if (cur(p) == T_RBRACE)
            break;
        if (!expect(p, T_COMMA, "expected ',' or '}'"))
            goto fail;
    }
    p->i++;
    return n;
fail:
    /* Invariant: keys[i] is set for every child i < n (set right after kid() succeeds). */
    node_free(n);
    return NULL;
}

static struct qnode *parse_dot_rhs(struct parser *p, int rbp)
{
    enum tok t = cur(p);
    if (t == T_UNQUOTED || t == T_QUOTED || t == T_STAR)
        return expression(p, rbp);
    if (t == T_LBRACKET) {
        p->i++;
        return parse_multiselect_list(p);
    }
    if (t == T_LBRACE) {
        p->i++;
        return parse_multiselect_hash(p);
    }
    perr(p, p->toks[p->i].pos, "expected an identifier, '*', '[' or '{' after '.'");
    return NULL;
}

/* index_expression(left, right), or a projection when right is a slice. */
static struct qnode *project_if_slice(struct parser *p, struct qnode *left, struct qnode *right)
{
    bool slice = right && right->k == N_SLICE;
    struct qnode *ie = mk2(p, N_INDEX_EXPR, left, right);
    if (!ie || !slice)
        return ie;
    return mk2(p, N_PROJECTION, ie, parse_projection_rhs(p, bp[T_STAR]));
}

static struct qnode *nud(struct parser *p, struct token *t)
{
    struct qnode *n;
    switch (t->t) {
    case T_LITERAL:
        n = mk(p, N_LITERAL);
        if (n)
            n->lit = cf_val_ref(t->lit);
        return n;
    case T_UNQUOTED:
    case T_QUOTED:
        if (t->t == T_QUOTED && cur(p) == T_LPAREN) {
            perr(p, t->pos, "quoted identifier cannot be a function name");
            return NULL;
        }
        n = mk(p, N_FIELD);
        if (n) {
            n->name = strdup(t->text);
            if (!n->name) {
                p->oom = true;
                node_free(n);
                return NULL;
            }
        }
        return n;
    case T_STAR:
        return mk2(p, N_VALUE_PROJECTION, mk(p, N_IDENTITY),
                   parse_projection_rhs(p, bp[T_STAR]));
    case T_FILTER: {
        struct qnode *cond = expression(p, 0), *right, *fp;
        if (!cond || !expect(p, T_RBRACKET, "expected ']'")) {
            node_free(cond);
            return NULL;
        }
        right = cur(p) == T_FLATTEN ? mk(p, N_IDENTITY) : parse_projection_rhs(p, bp[T_FILTER]);
        fp = mk2(p, N_FILTER_PROJECTION, mk(p, N_IDENTITY), right);
        if (!kid(p, fp, cond)) {
            node_free(fp);
            return NULL;
        }
        return fp;
    }
    case T_LBRACE: return parse_multiselect_hash(p);
    case T_LPAREN:
        n = expression(p, 0);
        if (n && !expect(p, T_RPAREN, "expected ')'")) {
            node_free(n);
            return NULL;
        }
        return n;
    case T_FLATTEN: {
        struct qnode *f = mk(p, N_FLATTEN);
        if (!kid(p, f, mk(p, N_IDENTITY))) {
            node_free(f);
            return NULL;
        }
        return mk2(p, N_PROJECTION, f, parse_projection_rhs(p, bp[T_FLATTEN]));
    }
    case T_NOT:
        n = mk(p, N_NOT);
        if (!kid(p, n, expression(p, bp[T_NOT]))) {
            node_free(n);
            return NULL;
        }
        return n;
    case T_LBRACKET:
        if (cur(p) == T_NUMBER || cur(p) == T_COLON)
            return project_if_slice(p, mk(p, N_IDENTITY), parse_index_expression(p));
        if (cur(p) == T_STAR && peek(p, 1) == T_RBRACKET) {
            p->i += 2;
            return mk2(p, N_PROJECTION, mk(p, N_IDENTITY), parse_projection_rhs(p, bp[T_STAR]));
        }
        return parse_multiselect_list(p);
    case T_CURRENT: return mk(p, N_CURRENT);
    case T_EXPREF:
        n = mk(p, N_EXPREF);
        if (!kid(p, n, expression(p, 0))) {
            node_free(n);
            return NULL;
        }
        return n;
    default:
        perr(p, t->pos, t->t == T_EOF ? "unexpected end of expression" : "unexpected token");
        return NULL;
    }
}

static struct qnode *led(struct parser *p, struct token *t, struct qnode *left)
{
    switch (t->t) {
    case T_DOT:
        if (cur(p) != T_STAR) {
            struct qnode *right = parse_dot_rhs(p, bp[T_DOT]);
            if (!right) {
                node_free(left);
                return NULL;
            }
            if (left->k == N_SUBEXPR) {
                if (!kid(p, left, right)) {
                    node_free(left);
                    return NULL;
                }
                return left;
            }
            return mk2(p, N_SUBEXPR, left, right);
        }
        p->i++;
        return mk2(p, N_VALUE_PROJECTION, left, parse_projection_rhs(p, bp[T_DOT]));
    case T_PIPE: return mk2(p, N_PIPE, left, expression(p, bp[T_PIPE]));
    case T_OR: return mk2(p, N_OR, left, expression(p, bp[T_OR]));
    case T_AND: return mk2(p, N_AND, left, expression(p, bp[T_AND]));
    case T_LPAREN: {
        struct qnode *f;
        if (left->k != N_FIELD) {
            perr(p, t->pos, "invalid function name");
            node_free(left);
            return NULL;
        }
        f = mk(p, N_FUNC);
        if (!f) {
            node_free(left);
            return NULL;
        }
        f->name = left->name;
        left->name = NULL;
        node_free(left);
        while (cur(p) != T_RPAREN) {
            if (!kid(p, f, expression(p, 0))) {
                node_free(f);
                return NULL;
            }
            if (cur(p) == T_COMMA)
                p->i++;
            else if (cur(p) != T_RPAREN) {
                perr(p, p->toks[p->i].pos, "expected ',' or ')'");
                node_free(f);
                return NULL;
            }
        }
        p->i++;
        return f;
    }
    case T_FILTER: {
        struct qnode *cond = expression(p, 0), *right, *fp;
        if (!cond || !expect(p, T_RBRACKET, "expected ']'")) {
            node_free(cond);
            node_free(left);
            return NULL;
        }
        right = cur(p) == T_FLATTEN ? mk(p, N_IDENTITY) : parse_projection_rhs(p, bp[T_FILTER]);
        fp = mk2(p, N_FILTER_PROJECTION, left, right);
        if (!kid(p, fp, cond)) {
            node_free(fp);
            return NULL;
        }
        return fp;
    }
    case T_FLATTEN: {
        struct qnode *f = mk(p, N_FLATTEN);
        if (!kid(p, f, left)) {
            node_free(f);
            return NULL;
        }
        return mk2(p, N_PROJECTION, f, parse_projection_rhs(p, bp[T_FLATTEN]));
    }
    case T_EQ:
    case T_NE:
    case T_LT:
    case T_LTE:
    case T_GT:
    case T_GTE: {
        struct qnode *c = mk2(p, N_CMP, left, expression(p, bp[t->t]));
        if (c)
            c->cmp = t->t;
        return c;
    }
    case T_LBRACKET:
        if (cur(p) == T_NUMBER || cur(p) == T_COLON)
            return project_if_slice(p, left, parse_index_expression(p));
        if (cur(p) == T_STAR && peek(p, 1) == T_RBRACKET) {
            p->i += 2;
            return mk2(p, N_PROJECTION, left, parse_projection_rhs(p, bp[T_STAR]));
        }
        perr(p, p->toks[p->i].pos, "expected a number, ':' or '*' after '['");
        node_free(left);
        return NULL;
    default:
        perr(p, t->pos, "unexpected token");
        node_free(left);
        return NULL;
    }
}

static struct qnode *expression(struct parser *p, int rbp)
{
    struct token *t;
    struct qnode *left;

    if (p->failed)
        return NULL;
    t = &p->toks[p->i];
    if (t->t != T_EOF)
        p->i++;
    left = nud(p, t);
    while (left && !p->failed && rbp < bp[cur(p)]) {
        t = &p->toks[p->i];
        p->i++;
        left = led(p, t, left);
    }
    if (p->failed) {
        node_free(left);
        return NULL;
    }
    return left;
}

cf_err cf_cli_query_compile(const char *expr, struct cf_cli_query **out, char *err, size_t errlen)
{
    struct parser p = {.src = expr, .err = err, .errlen = errlen};
    struct qnode *root = NULL;
    cf_err rc = CF_EINVAL;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!lex(&p))
        goto done;
    root = expression(&p, 0);
    if (!root)
        goto done;
    if (cur(&p) != T_EOF) {
        perr(&p, p.toks[p.i].pos, "unexpected token");
        goto done;
    }
    *out = calloc(1, sizeof(**out));
    if (!*out) {
        p.oom = true;
        goto done;
    }
    (*out)->root = root;
    root = NULL;
    rc = CF_OK;
done:
    if (rc != CF_OK && p.oom)
        rc = CF_ENOMEM;
    if (rc != CF_OK && err && errlen && !err[0])
        snprintf(err, errlen, "invalid expression '%s'", expr);
    node_free(root);
    for (size_t i = 0; i < p.ntoks; i++) {
        free(p.toks[i].text);
        cf_val_unref(p.toks[i].lit);
    }
    free(p.toks);
    return rc;
}

void cf_cli_query_free(struct cf_cli_query *q)
{
    if (!q)
        return;
    node_free(q->root);
    free(q);
}

/* ---- interpreter ---- */

struct ev {
    char *err;
    size_t errlen;
    cf_err rc;
};

static struct cf_val *eval(struct ev *e, const struct qnode *n, struct cf_val *v);

static void everr(struct ev *e, cf_err rc, const char *fmt, ...) CF_PRINTF(3, 4);
static void everr(struct ev *e, cf_err rc, const char *fmt, ...)
{
    va_list ap;
    if (e->rc != CF_OK)
        return;
    e->rc = rc;
    if (e->err && e->errlen) {
        va_start(ap, fmt);
        vsnprintf(e->err, e->errlen, fmt, ap);
        va_end(ap);
    }
}

/* Wraps a constructor result: records ENOMEM for NULL. */
static struct cf_val *chk(struct ev *e, struct cf_val *v)
{
    if (!v)
        everr(e, CF_ENOMEM, "out of memory");
    return v;
}

static bool is_null(const struct cf_val *v)
{
    return !v || v->type == CF_VAL_NULL;
}

static bool is_number(const struct cf_val *v)
{
    return v && (v->type == CF_VAL_INT || v->type == CF_VAL_REAL);
}

static double num(const struct cf_val *v)
{
    return v->type == CF_VAL_INT ? (double)v->i : v->d;
}

/* Collects eval(rhs, elem) for each element, dropping nulls. */
static struct cf_val *project(struct ev *e, const struct qnode *rhs, struct cf_val **items,
                              size_t n)
{
    struct cf_val *out = chk(e, cf_val_arr());
    for (size_t i = 0; out && i < n && e->rc == CF_OK; i++) {
        struct cf_val *r = eval(e, rhs, items[i]);
        if (!r)
            break;
        if (is_null(r))
            cf_val_unref(r);
        else if (cf_val_push(out, r) != CF_OK)
            everr(e, CF_ENOMEM, "out of memory");
    }
    return out;
}

static int64_t clamp_slice(int64_t v, int64_t len, bool neg_step)
{
    if (v < 0) {
        v += len;
        if (v < 0)
            v = neg_step ? -1 : 0;
    } else if (v >= len) {
        v = neg_step ? len - 1 : len;
    }
    return v;
}

static int cmp_vals(const struct cf_val *a, const struct cf_val *b, bool *ok)
{
    *ok = true;
    if (is_number(a) && is_number(b)) {
        double x = num(a), y = num(b);
        return x < y ? -1 : (x > y ? 1 : 0);
    }
    if (a && b && a->type == CF_VAL_STR && b->type == CF_VAL_STR) {
        size_t m = CF_MIN(a->slen, b->slen);
        int c = memcmp(a->s, b->s, m);
        if (c)
            return c < 0 ? -1 : 1;
        return a->slen < b->slen ? -1 : (a->slen > b->slen ? 1 : 0);
    }
    *ok = false;
    return 0;
}

static struct cf_val *call_function(struct ev *e, const struct qnode *n, struct cf_val *v);

static struct cf_val *eval(struct ev *e, const struct qnode *n, struct cf_val *v)
{
    struct cf_val *base, *out;

    if (e->rc != CF_OK)
        return NULL;
    switch (n->k) {
    case N_IDENTITY:
    case N_CURRENT: return cf_val_ref(v);
    case N_LITERAL: return cf_val_ref(n->lit);
    case N_FIELD: {
        struct cf_val *f = cf_val_get(v, n->name);
        return f ? cf_val_ref(f) : chk(e, cf_val_null());
    }
    case N_SUBEXPR:
    case N_INDEX_EXPR:
    case N_PIPE:
        base = cf_val_ref(v);
        for (size_t i = 0; base && i < n->n; i++) {
            struct cf_val *next = eval(e, n->kids[i], base);
            cf_val_unref(base);
            base = next;
        }
        return base;
    case N_INDEX: {
        int64_t i = n->idx;
        if (!v || v->type != CF_VAL_ARR)
            return chk(e, cf_val_null());
        if (i < 0)
            i += (int64_t)v->n;
        if (i < 0 || i >= (int64_t)v->n)
            return chk(e, cf_val_null());
        return cf_val_ref(v->items[i]);
    }
    case N_SLICE: {
        int64_t len, step, start, stop;
        if (!v || v->type != CF_VAL_ARR)
            return chk(e, cf_val_null());
        len = (int64_t)v->n;
        step = n->has[2] ? n->sl[2] : 1;
        if (step > 0) {
            start = n->has[0] ? clamp_slice(n->sl[0], len, false) : 0;
            stop = n->has[1] ? clamp_slice(n->sl[1], len, false) : len;
        } else {
            start = n->has[0] ? clamp_slice(n->sl[0], len, true) : len - 1;
            stop = n->has[1] ? clamp_slice(n->sl[1], len, true) : -1;
        }
        out = chk(e, cf_val_arr());
        for (int64_t i = start; out && (step > 0 ? i < stop : i > stop); i += step) {
            if (cf_val_push(out, cf_val_ref(v->items[i])) != CF_OK) {
                everr(e, CF_ENOMEM, "out of memory");
                break;
            }
        }
        return out;
    }
    case N_PROJECTION:
        base = eval(e, n->kids[0], v);
        if (!base)
            return NULL;
        if (base->type != CF_VAL_ARR) {
            cf_val_unref(base);
            return chk(e, cf_val_null());
        }
        out = project(e, n->kids[1], base->items, base->n);
        cf_val_unref(base);
        return out;
    case N_VALUE_PROJECTION:
        base = eval(e, n->kids[0], v);
        if (!base)
            return NULL;
        if (base->type != CF_VAL_OBJ) {
            cf_val_unref(base);
            return chk(e, cf_val_null());
        }
        out = project(e, n->kids[1], base->items, base->n);
        cf_val_unref(base);
        return out;
    case N_FILTER_PROJECTION:
        base = eval(e, n->kids[0], v);
        if (!base)
            return NULL;
        if (base->type != CF_VAL_ARR) {
            cf_val_unref(base);
            return chk(e, cf_val_null());
        }
        out = chk(e, cf_val_arr());
        for (size_t i = 0; out && i < base->n && e->rc == CF_OK; i++) {
            struct cf_val *c = eval(e, n->kids[2], base->items[i]), *r;
            bool keep = cf_val_truthy(c);
            cf_val_unref(c);
            if (!keep)
                continue;
            r = eval(e, n->kids[1], base->items[i]);
            if (r && !is_null(r)) {
                if (cf_val_push(out, r) != CF_OK)
                    everr(e, CF_ENOMEM, "out of memory");
            } else {
                cf_val_unref(r);
            }
        }
        cf_val_unref(base);
        return out;
    case N_FLATTEN:
        base = eval(e, n->kids[0], v);
        if (!base)
            return NULL;
        if (base->type != CF_VAL_ARR) {
            cf_val_unref(base);
            return chk(e, cf_val_null());
        }
        out = chk(e, cf_val_arr());
        for (size_t i = 0; out && i < base->n; i++) {
            struct cf_val *el = base->items[i];
            if (el->type == CF_VAL_ARR) {
                for (size_t k = 0; k < el->n; k++)
                    if (cf_val_push(out, cf_val_ref(el->items[k])) != CF_OK)
                        everr(e, CF_ENOMEM, "out of memory");
            } else if (cf_val_push(out, cf_val_ref(el)) != CF_OK) {
                everr(e, CF_ENOMEM, "out of memory");
            }
        }
        cf_val_unref(base);
        return out;
    case N_MULTI_LIST:
        if (is_null(v))
            return chk(e, cf_val_null());
        out = chk(e, cf_val_arr());
        for (size_t i = 0; out && i < n->n && e->rc == CF_OK; i++) {
            struct cf_val *r = eval(e, n->kids[i], v);
            if (r && cf_val_push(out, r) != CF_OK)
                everr(e, CF_ENOMEM, "out of memory");
        }
        return out;
    case N_MULTI_HASH:
        if (is_null(v))
            return chk(e, cf_val_null());
        out = chk(e, cf_val_obj());
        if (out)
            out->ordered = true;
        for (size_t i = 0; out && i < n->n && e->rc == CF_OK; i++) {
            struct cf_val *r = eval(e, n->kids[i], v);
            if (r && cf_val_set(out, n->keys[i], r) != CF_OK)
                everr(e, CF_ENOMEM, "out of memory");
        }
        return out;
    case N_CMP: {
        struct cf_val *a = eval(e, n->kids[0], v), *b = eval(e, n->kids[1], v);
        bool ok;
        int c;
        out = NULL;
        if (a && b) {
            if (n->cmp == T_EQ || n->cmp == T_NE) {
                bool eq = cf_val_equal(a, b);
                out = chk(e, cf_val_bool(n->cmp == T_EQ ? eq : !eq));
            } else {
                c = cmp_vals(a, b, &ok);
                if (!ok)
                    out = chk(e, cf_val_null());
                else
                    out = chk(e, cf_val_bool(n->cmp == T_LT    ? c < 0
                                             : n->cmp == T_LTE ? c <= 0
                                             : n->cmp == T_GT  ? c > 0
                                                               : c >= 0));
            }
        }
        cf_val_unref(a);
        cf_val_unref(b);
        return out;
    }
    case N_OR:
        base = eval(e, n->kids[0], v);
        if (!base || cf_val_truthy(base))
            return base;
        cf_val_unref(base);
        return eval(e, n->kids[1], v);
    case N_AND:
        base = eval(e, n->kids[0], v);
        if (!base || !cf_val_truthy(base))
            return base;
        cf_val_unref(base);
        return eval(e, n->kids[1], v);
    case N_NOT: {
        bool t;
        base = eval(e, n->kids[0], v);
        if (!base)
            return NULL;
        /* jmespath.py: !0 is false (0 is not falsy in JMESPath). */
        t = cf_val_truthy(base) || (is_number(base) && num(base) == 0);
        cf_val_unref(base);
        return chk(e, cf_val_bool(!t));
    }
    case N_FUNC: return call_function(e, n, v);
    case N_EXPREF:
        everr(e, CF_EINVAL, "an expression reference (&) is only valid as a function argument");
        return NULL;
    }
    return NULL;
}

/* ---- functions ---- */

static const char *type_name(const struct cf_val *v)
{
    switch (v ? v->type : CF_VAL_NULL) {
    case CF_VAL_NULL: return "null";
    case CF_VAL_BOOL: return "boolean";
    case CF_VAL_INT:
    case CF_VAL_REAL: return "number";
    case CF_VAL_STR: return "string";
    case CF_VAL_ARR: return "array";
    case CF_VAL_OBJ: return "object";
    }
    return "null";
}

static void type_error(struct ev *e, const char *fn, const struct cf_val *v, const char *expected)
{
    everr(e, CF_EINVAL,
          "In function %s(), invalid type for value, expected one of: [%s], received: \"%s\"",
          fn, expected, type_name(v));
}

struct sort_item {
    struct cf_val *key;
    struct cf_val *val;
    size_t idx;
};

static int sort_cmp(const void *a, const void *b)
{
    const struct sort_item *x = a, *y = b;
    bool ok;
    int c = cmp_vals(x->key, y->key, &ok);
    if (c)
        return c;
    return x->idx < y->idx ? -1 : (x->idx > y->idx ? 1 : 0); /* stable */
}

/* Sorts arr by key expression kexpr (NULL = the elements themselves). */
static struct cf_val *sort_array(struct ev *e, const char *fn, struct cf_val *arr,
                                 const struct qnode *kexpr)
{
    struct sort_item *it = calloc(arr->n ? arr->n : 1, sizeof(*it));
    struct cf_val *out = NULL;
    const char *kind = NULL;

    if (!it)
        return chk(e, NULL);
    for (size_t i = 0; i < arr->n; i++) {
        it[i].val = arr->items[i];
        it[i].idx = i;
        it[i].key = kexpr ? eval(e, kexpr, arr->items[i]) : cf_val_ref(arr->items[i]);
        if (!it[i].key)
            goto done;
        if (!is_number(it[i].key) && it[i].key->type != CF_VAL_STR) {
            type_error(e, fn, it[i].key, "number, string");
            goto done;
        }
        if (kind && strcmp(kind, type_name(it[i].key)) != 0) {
            type_error(e, fn, it[i].key, kind);
            goto done;
        }
        kind = type_name(it[i].key);
    }
    qsort(it, arr->n, sizeof(*it), sort_cmp);
    out = chk(e, cf_val_arr());
    for (size_t i = 0; out && i < arr->n; i++)
        if (cf_val_push(out, cf_val_ref(it[i].val)) != CF_OK)
            everr(e, CF_ENOMEM, "out of memory");
done:
    for (size_t i = 0; i < arr->n; i++)
        cf_val_unref(it[i].key);
    free(it);
    return out;
}

static struct cf_val *call_function(struct ev *e, const struct qnode *n, struct cf_val *v)
{
    struct cf_val *a[3] = {NULL, NULL, NULL}, *out = NULL;
    const char *f = n->name;
    size_t want;
    static const struct {
        const char *name;
        size_t nargs; /* SIZE_MAX: variadic >= 1 */
    } table[] = {
        {"length", 1}, {"contains", 2}, {"starts_with", 2}, {"ends_with", 2}, {"join", 2},
        {"keys", 1}, {"values", 1}, {"sort", 1}, {"sort_by", 2}, {"reverse", 1},
        {"to_string", 1}, {"to_number", 1}, {"to_array", 1}, {"type", 1},
        {"not_null", SIZE_MAX}, {"max", 1}, {"min", 1}, {"sum", 1}, {"avg", 1}, {"abs", 1},
        {"max_by", 2}, {"min_by", 2}, {"floor", 1}, {"ceil", 1},
    };
    size_t ti;

    for (ti = 0; ti < CF_ARRAY_LEN(table); ti++)
        if (strcmp(table[ti].name, f) == 0)
            break;
    if (ti == CF_ARRAY_LEN(table)) {
        everr(e, CF_EINVAL, "Unknown function: %s()", f);
        return NULL;
    }
    want = table[ti].nargs;
    if (want == SIZE_MAX) {
        /* not_null: first non-null argument. */
        if (n->n == 0) {
            everr(e, CF_EINVAL, "Expected at least 1 argument for function not_null(), received 0");
            return NULL;
        }
        for (size_t i = 0; i < n->n; i++) {
            struct cf_val *r = eval(e, n->kids[i], v);
            if (!r)
                return NULL;
            if (!is_null(r))
                return r;
            cf_val_unref(r);
        }
        return chk(e, cf_val_null());
    }
    if (n->n != want) {
        everr(e, CF_EINVAL, "Expected %zu argument%s for function %s(), received %zu", want,
              want == 1 ? "" : "s", f, n->n);
        return NULL;
    }
    /* Evaluate arguments; an expref stays unevaluated (sort_by, max_by, min_by). */
    for (size_t i = 0; i < n->n; i++) {
        if (n->kids[i]->k == N_EXPREF)
            continue;
        a[i] = eval(e, n->kids[i], v);
        if (!a[i])
            goto done;
    }

    if (!strcmp(f, "length")) {
        if (a[0]->type == CF_VAL_STR) {
            /* Code points, not bytes. */
            int64_t cnt = 0;
            for (size_t i = 0; i < a[0]->slen; i++)
                cnt += ((unsigned char)a[0]->s[i] & 0xC0) != 0x80;
            out = chk(e, cf_val_int(cnt));
        } else if (a[0]->type == CF_VAL_ARR || a[0]->type == CF_VAL_OBJ) {
            out = chk(e, cf_val_int((int64_t)a[0]->n));
        } else {
            type_error(e, f, a[0], "string, array, object");
        }
    } else if (!strcmp(f, "contains")) {
        if (a[0]->type == CF_VAL_STR) {
            if (a[1]->type != CF_VAL_STR) {
                out = chk(e, cf_val_bool(false));
            } else {
                out = chk(e, cf_val_bool(memmem(a[0]->s, a[0]->slen, a[1]->s, a[1]->slen) !=
                                         NULL));
            }
        } else if (a[0]->type == CF_VAL_ARR) {
            bool found = false;
            for (size_t i = 0; i < a[0]->n && !found; i++)
                found = cf_val_equal(a[0]->items[i], a[1]);
            out = chk(e, cf_val_bool(found));
        } else {
            type_error(e, f, a[0], "array, string");
        }
    } else if (!strcmp(f, "starts_with") || !strcmp(f, "ends_with")) {
        if (a[0]->type != CF_VAL_STR || a[1]->type != CF_VAL_STR) {
            type_error(e, f, a[0]->type != CF_VAL_STR ? a[0] : a[1], "string");
        } else {
            bool r = a[1]->slen <= a[0]->slen;
            if (r && f[0] == 's')
                r = memcmp(a[0]->s, a[1]->s, a[1]->slen) == 0;
            else if (r)
                r = memcmp(a[0]->s + a[0]->slen - a[1]->slen, a[1]->s, a[1]->slen) == 0;
            out = chk(e, cf_val_bool(r));
        }
    } else if (!strcmp(f, "join")) {
        if (a[0]->type != CF_VAL_STR || a[1]->type != CF_VAL_ARR) {
            type_error(e, f, a[0]->type != CF_VAL_STR ? a[0] : a[1],
                       a[0]->type != CF_VAL_STR ? "string" : "array-string");
        } else {
            struct cf_buf b;
            cf_buf_init(&b, SIZE_MAX / 2);
            for (size_t i = 0; i < a[1]->n && e->rc == CF_OK; i++) {
                if (a[1]->items[i]->type != CF_VAL_STR) {
                    type_error(e, f, a[1]->items[i], "array-string");
                    break;
                }
                if ((i && cf_buf_append(&b, a[0]->s, a[0]->slen) != CF_OK) ||
                    cf_buf_append(&b, a[1]->items[i]->s, a[1]->items[i]->slen) != CF_OK)
                    everr(e, CF_ENOMEM, "out of memory");
            }
            if (e->rc == CF_OK)
                out = chk(e, cf_val_strn(b.data ? b.data : "", b.len));
            cf_buf_wipe(&b);
        }
    } else if (!strcmp(f, "keys") || !strcmp(f, "values")) {
        if (a[0]->type != CF_VAL_OBJ) {
            type_error(e, f, a[0], "object");
        } else {
            out = chk(e, cf_val_arr());
            for (size_t i = 0; out && i < a[0]->n; i++)
                if (cf_val_push(out, f[0] == 'k' ? cf_val_str(a[0]->keys[i])
                                                 : cf_val_ref(a[0]->items[i])) != CF_OK)
                    everr(e, CF_ENOMEM, "out of memory");
        }
    } else if (!strcmp(f, "sort")) {
        if (a[0]->type != CF_VAL_ARR)
            type_error(e, f, a[0], "array-number, array-string");
        else
            out = sort_array(e, f, a[0], NULL);
    } else if (!strcmp(f, "sort_by") || !strcmp(f, "max_by") || !strcmp(f, "min_by")) {
        if (a[0]->type != CF_VAL_ARR) {
            type_error(e, f, a[0], "array");
        } else if (n->kids[1]->k != N_EXPREF) {
            everr(e, CF_EINVAL, "In function %s(), expected an expression reference (&)", f);
        } else {
            struct cf_val *sorted = sort_array(e, f, a[0], n->kids[1]->kids[0]);
            if (sorted && f[0] == 's') {
                out = sorted;
            } else if (sorted) {
                if (sorted->n == 0)
                    out = chk(e, cf_val_null());
                else
                    out = cf_val_ref(sorted->items[f[1] == 'a' ? sorted->n - 1 : 0]);
                cf_val_unref(sorted);
            }
        }
    } else if (!strcmp(f, "reverse")) {
        if (a[0]->type == CF_VAL_ARR) {
            out = chk(e, cf_val_arr());
            for (size_t i = a[0]->n; out && i > 0; i--)
                if (cf_val_push(out, cf_val_ref(a[0]->items[i - 1])) != CF_OK)
                    everr(e, CF_ENOMEM, "out of memory");
        } else if (a[0]->type == CF_VAL_STR) {
            /* Reverses code points. */
            char *r = malloc(a[0]->slen + 1);
            size_t w = a[0]->slen;
            if (r) {
                for (size_t i = 0; i < a[0]->slen;) {
                    size_t l = 1;
                    while (i + l < a[0]->slen && ((unsigned char)a[0]->s[i + l] & 0xC0) == 0x80)
                        l++;
                    w -= l;
                    memcpy(r + w, a[0]->s + i, l);
                    i += l;
                }
                out = chk(e, cf_val_strn(r, a[0]->slen));
                free(r);
            } else {
                everr(e, CF_ENOMEM, "out of memory");
            }
        } else {
            type_error(e, f, a[0], "string, array");
        }
    } else if (!strcmp(f, "to_string")) {
        if (a[0]->type == CF_VAL_STR) {
            out = cf_val_ref(a[0]);
        } else {
            struct cf_buf b;
            cf_buf_init(&b, SIZE_MAX / 2);
            if (cf_val_dump(a[0], &b) == CF_OK)
                out = chk(e, cf_val_strn(b.data, b.len));
            else
                everr(e, CF_ENOMEM, "out of memory");
            cf_buf_wipe(&b);
        }
    } else if (!strcmp(f, "to_number")) {
        if (is_number(a[0])) {
            out = cf_val_ref(a[0]);
        } else if (a[0]->type == CF_VAL_STR) {
            char *end;
            int64_t iv;
            double d;
            if (cf_str_to_i64((struct cf_str){a[0]->s, a[0]->slen}, &iv)) {
                out = chk(e, cf_val_int(iv));
            } else {
                d = strtod(a[0]->s, &end);
                out = chk(e, (a[0]->slen && *end == '\0' && end != a[0]->s) ? cf_val_real(d)
                                                                              : cf_val_null());
            }
        } else {
            out = chk(e, cf_val_null());
        }
    } else if (!strcmp(f, "to_array")) {
        if (a[0]->type == CF_VAL_ARR) {
            out = cf_val_ref(a[0]);
        } else {
            out = chk(e, cf_val_arr());
            if (out && cf_val_push(out, cf_val_ref(a[0])) != CF_OK)
                everr(e, CF_ENOMEM, "out of memory");
        }
    } else if (!strcmp(f, "type")) {
        out = chk(e, cf_val_str(type_name(a[0])));
    } else if (!strcmp(f, "max") || !strcmp(f, "min")) {
        if (a[0]->type != CF_VAL_ARR) {
            type_error(e, f, a[0], "array-number, array-string");
        } else {
            struct cf_val *s = sort_array(e, f, a[0], NULL);
            if (s) {
                out = s->n ? cf_val_ref(s->items[f[1] == 'a' ? s->n - 1 : 0])
                           : chk(e, cf_val_null());
                cf_val_unref(s);
            }
        }
    } else if (!strcmp(f, "sum") || !strcmp(f, "avg")) {
        if (a[0]->type != CF_VAL_ARR) {
            type_error(e, f, a[0], "array-number");
        } else {
            bool all_int = true;
            int64_t si = 0;
            double sd = 0;
            for (size_t i = 0; i < a[0]->n; i++) {
                struct cf_val *x = a[0]->items[i];
                if (!is_number(x)) {
                    type_error(e, f, x, "array-number");
                    break;
                }
                if (x->type == CF_VAL_INT)
                    si += x->i;
                else
                    all_int = false;
                sd += num(x);
            }
            if (e->rc == CF_OK) {
                if (f[0] == 'a')
                    out = chk(e, a[0]->n ? cf_val_real(sd / (double)a[0]->n) : cf_val_null());
                else
                    out = chk(e, all_int ? cf_val_int(si) : cf_val_real(sd));
            }
        }
    } else if (!strcmp(f, "abs") || !strcmp(f, "floor") || !strcmp(f, "ceil")) {
        if (!is_number(a[0])) {
            type_error(e, f, a[0], "number");
        } else if (a[0]->type == CF_VAL_INT) {
            out = chk(e, cf_val_int(f[0] == 'a' && a[0]->i < 0 ? -a[0]->i : a[0]->i));
        } else {
            double d = a[0]->d;
            if (f[0] == 'a')
                out = chk(e, cf_val_real(d < 0 ? -d : d));
            else
            {
                /* floor/ceil without libm (the CLI does not link it). */
                int64_t t = (int64_t)d;
                if (f[0] == 'f' && (double)t > d)
                    t--;
                else if (f[0] == 'c' && (double)t < d)
                    t++;
                out = chk(e, cf_val_int(t));
            }
        }
    }
done:
    for (size_t i = 0; i < 3; i++)
        cf_val_unref(a[i]);
    if (e->rc != CF_OK) {
        cf_val_unref(out);
        return NULL;
    }
    return out;
}

cf_err cf_cli_query_eval(const struct cf_cli_query *q, struct cf_val *input, struct cf_val **out,
                         char *err, size_t errlen)
{
    struct ev e = {.err = err, .errlen = errlen, .rc = CF_OK};
    struct cf_val *in = input ? cf_val_ref(input) : cf_val_null();
    struct cf_val *r;

    *out = NULL;
    if (err && errlen)
        err[0] = '\0';
    if (!in)
        return CF_ENOMEM;
    r = eval(&e, q->root, in);
    cf_val_unref(in);
    if (e.rc != CF_OK || !r) {
        cf_val_unref(r);
        return e.rc != CF_OK ? e.rc : CF_ENOMEM;
    }
    *out = r;
    return CF_OK;
}
