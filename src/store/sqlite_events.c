/* sqlite_events.c - store_events.h on SQLite (migration "events" in sqlite.c).
 *
 * Map: subscriptions (row <-> record, insert, update, get, list, delete, state), the outbox
 * (add, list, delete), deliveries (add, due, next, update, delete, count), dead letters (add,
 * list), expiry state (due candidates over secrets, keys and certificates; mark; prune).
 *
 * Statements are prepared per call and finalized before returning (as sqlite_locks.c does):
 * the only call on a request's path is cf_store_event_add, and the events module makes it only
 * for vaults that have a subscription, so the data plane of a vault without one pays nothing. */
#include "base/cf.h"

#include "store/sqlite_int.h"
#include "store/store_events.h"

static sqlite3_stmt *prepare(struct cf_store_txn *t, const char *sql, cf_err *err)
{
    return cf_sq_prepare(t, sql, "events prepare", err);
}

/* Runs one change with one int64 parameter. */
static cf_err exec1(struct cf_store_txn *t, const char *sql, int64_t v, const char *what,
                    bool need_row)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    if (!(st = prepare(t, sql, &e)))
        return e;
    sqlite3_bind_int64(st, 1, v);
    return cf_sq_change(t, st, what, need_row);
}

/* ---------------------------------------------------------------- subscriptions */

#define SUB_COLS                                                                                   \
    "id,vault_id,name,name_lc,schema,state,max_attempts,ttl_min,topic,endpoint,types,"             \
    "dead_letter,secret,created,updated"

void cf_rec_event_sub_release(struct cf_rec_event_sub *s)
{
    if (!s)
        return;
    free(s->topic);
    free(s->endpoint);
    free(s->types);
    free(s->dead_letter);
    s->topic = s->endpoint = s->types = s->dead_letter = NULL;
    cf_buf_release(&s->secret);
}

static cf_err sub_from_row(sqlite3_stmt *st, struct cf_rec_event_sub *s)
{
    struct cf_buf secret = s->secret; /* the caller's initialised buffer */
    cf_err e = CF_OK;

    memset(s, 0, sizeof(*s));
    s->secret = secret;
    cf_buf_reset(&s->secret);
    s->id = sqlite3_column_int64(st, 0);
    s->vault_id = sqlite3_column_int64(st, 1);
    cf_sq_col_cpy(st, 2, s->name, sizeof(s->name));
    cf_sq_col_cpy(st, 3, s->name_lc, sizeof(s->name_lc));
    cf_sq_col_cpy(st, 4, s->schema, sizeof(s->schema));
    cf_sq_col_cpy(st, 5, s->state, sizeof(s->state));
    s->max_attempts = sqlite3_column_int(st, 6);
    s->ttl_min = sqlite3_column_int(st, 7);
    s->topic = cf_sq_col_dup(st, 8, &e);
    if (!e)
        s->endpoint = cf_sq_col_dup(st, 9, &e);
    if (!e)
        s->types = cf_sq_col_dup(st, 10, &e);
    if (!e)
        s->dead_letter = cf_sq_col_dup(st, 11, &e);
    if (!e)
        e = cf_buf_append(&s->secret, sqlite3_column_blob(st, 12),
                          (size_t)sqlite3_column_bytes(st, 12));
    s->created = sqlite3_column_int64(st, 13);
    s->updated = sqlite3_column_int64(st, 14);
    if (e) {
        free(s->topic);
        free(s->endpoint);
        free(s->types);
        free(s->dead_letter);
        s->topic = s->endpoint = s->types = s->dead_letter = NULL;
    }
    return e;
}

static void sub_bind(sqlite3_stmt *st, const struct cf_rec_event_sub *s)
{
    sqlite3_bind_int64(st, 1, s->id);
    sqlite3_bind_int64(st, 2, s->vault_id);
    cf_sq_bind_text(st, 3, s->name);
    cf_sq_bind_text(st, 4, s->name_lc);
    cf_sq_bind_text(st, 5, s->schema);
    cf_sq_bind_text(st, 6, s->state);
    sqlite3_bind_int(st, 7, s->max_attempts);
    sqlite3_bind_int(st, 8, s->ttl_min);
    cf_sq_bind_text(st, 9, s->topic ? s->topic : "");
    cf_sq_bind_text(st, 10, s->endpoint ? s->endpoint : "");
    cf_sq_bind_text(st, 11, s->types ? s->types : "");
    cf_sq_bind_text(st, 12, s->dead_letter);
    sqlite3_bind_blob64(st, 13, s->secret.len ? (const void *)s->secret.data : "",
                        (sqlite3_uint64)s->secret.len, SQLITE_STATIC);
    sqlite3_bind_int64(st, 14, s->created);
    sqlite3_bind_int64(st, 15, s->updated);
}

cf_err cf_store_event_sub_insert(struct cf_store_txn *t, const struct cf_rec_event_sub *s,
                                 int64_t *id)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = prepare(t,
                 "INSERT INTO event_subs(vault_id,name,name_lc,schema,state,max_attempts,ttl_min,"
                 "topic,endpoint,types,dead_letter,secret,created,updated) VALUES(?2,?3,?4,?5,?6,"
                 "?7,?8,?9,?10,?11,?12,?13,?14,?15)",
                 &e);
    if (!st)
        return e;
    sub_bind(st, s);
    e = cf_sq_change(t, st, "event sub insert", false);
    if (!e && id)
        *id = sqlite3_last_insert_rowid(CF_SQ_DB(t));
    return e;
}

cf_err cf_store_event_sub_update(struct cf_store_txn *t, const struct cf_rec_event_sub *s)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable)
        return CF_EINVAL;
    st = prepare(t,
                 "UPDATE event_subs SET name=?3,schema=?5,state=?6,max_attempts=?7,ttl_min=?8,"
                 "topic=?9,endpoint=?10,types=?11,dead_letter=?12,secret=?13,updated=?15 "
                 "WHERE id=?1",
                 &e);
    if (!st)
        return e;
    sub_bind(st, s);
    return cf_sq_change(t, st, "event sub update", true);
}

/* One record into *one (CF_ENOTFOUND when none), or every row to cb. Finalizes st. */
static cf_err sub_rows(struct cf_store_txn *t, sqlite3_stmt *st, struct cf_rec_event_sub *one,
                       cf_store_event_sub_cb cb, void *arg)
{
    struct cf_rec_event_sub s;
    bool any = false;
    cf_err e = CF_OK;
    int rc;

    memset(&s, 0, sizeof(s));
    cf_buf_init(&s.secret, 4096);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        any = true;
        if (one) {
            e = sub_from_row(st, one);
            break;
        }
        if ((e = sub_from_row(st, &s)) != CF_OK)
            break;
        e = cb(&s, arg);
        cf_rec_event_sub_release(&s);
        cf_buf_init(&s.secret, 4096);
        if (e)
            break;
    }
    if (!e && rc != SQLITE_ROW && rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, "event sub read");
    if (!e && one && !any)
        e = CF_ENOTFOUND;
    cf_rec_event_sub_release(&s);
    sqlite3_finalize(st);
    return e;
}

cf_err cf_store_event_sub_get(struct cf_store_txn *t, int64_t vault_id, const char *name_lc,
                              struct cf_rec_event_sub *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st =
        prepare(t, "SELECT " SUB_COLS " FROM event_subs WHERE vault_id=?1 AND name_lc=?2", &e);

    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, vault_id);
    cf_sq_bind_text(st, 2, name_lc);
    return sub_rows(t, st, out, NULL, NULL);
}

cf_err cf_store_event_sub_get_id(struct cf_store_txn *t, int64_t id, struct cf_rec_event_sub *out)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = prepare(t, "SELECT " SUB_COLS " FROM event_subs WHERE id=?1", &e);

    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, id);
    return sub_rows(t, st, out, NULL, NULL);
}

cf_err cf_store_event_sub_list(struct cf_store_txn *t, int64_t vault_id, cf_store_event_sub_cb cb,
                               void *arg)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = prepare(t,
                               "SELECT " SUB_COLS " FROM event_subs WHERE ?1=0 OR vault_id=?1 "
                               "ORDER BY name_lc, vault_id",
                               &e);

    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, vault_id);
    return sub_rows(t, st, NULL, cb, arg);
}

cf_err cf_store_event_sub_delete(struct cf_store_txn *t, int64_t id)
{
    /* deliveries and dead letters go by ON DELETE CASCADE */
    return exec1(t, "DELETE FROM event_subs WHERE id=?1", id, "event sub delete", true);
}

cf_err cf_store_event_sub_set_state(struct cf_store_txn *t, int64_t id, const char *state,
                                    int64_t updated)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable || !state)
        return CF_EINVAL;
    if (!(st = prepare(t, "UPDATE event_subs SET state=?2, updated=?3 WHERE id=?1", &e)))
        return e;
    sqlite3_bind_int64(st, 1, id);
    cf_sq_bind_text(st, 2, state);
    sqlite3_bind_int64(st, 3, updated);
    return cf_sq_change(t, st, "event sub state", true);
}

/* ---------------------------------------------------------------- outbox */

void cf_rec_event_release(struct cf_rec_event *ev)
{
    if (!ev)
        return;
    free(ev->subject);
    free(ev->data);
    ev->subject = ev->data = NULL;
}

cf_err cf_store_event_add(struct cf_store_txn *t, const struct cf_rec_event *ev)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable || !ev)
        return CF_EINVAL;
    st = prepare(t,
                 "INSERT INTO event_outbox(event_id,vault_id,type,subject,data,time_ms) "
                 "VALUES(?1,?2,?3,?4,?5,?6)",
                 &e);
    if (!st)
        return e;
    cf_sq_bind_text(st, 1, ev->event_id);
    sqlite3_bind_int64(st, 2, ev->vault_id);
    cf_sq_bind_text(st, 3, ev->type);
    cf_sq_bind_text(st, 4, ev->subject ? ev->subject : "");
    cf_sq_bind_text(st, 5, ev->data ? ev->data : "{}");
    sqlite3_bind_int64(st, 6, ev->time_ms);
    return cf_sq_change(t, st, "event add", false);
}

cf_err cf_store_event_outbox_list(struct cf_store_txn *t, size_t max, cf_store_event_cb cb,
                                  void *arg)
{
    struct cf_rec_event ev;
    cf_err e = CF_OK;
    sqlite3_stmt *st;
    int rc;

    st = prepare(t,
                 "SELECT id,event_id,vault_id,type,subject,data,time_ms FROM event_outbox "
                 "ORDER BY id LIMIT ?1",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)CF_MIN(max, (size_t)INT32_MAX));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&ev, 0, sizeof(ev));
        ev.seq = sqlite3_column_int64(st, 0);
        cf_sq_col_cpy(st, 1, ev.event_id, sizeof(ev.event_id));
        ev.vault_id = sqlite3_column_int64(st, 2);
        cf_sq_col_cpy(st, 3, ev.type, sizeof(ev.type));
        ev.subject = cf_sq_col_dup(st, 4, &e);
        if (!e)
            ev.data = cf_sq_col_dup(st, 5, &e);
        ev.time_ms = sqlite3_column_int64(st, 6);
        if (!e)
            e = cb(&ev, arg);
        cf_rec_event_release(&ev);
        if (e)
            break;
    }
    if (!e && rc != SQLITE_ROW && rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, "event outbox read");
    sqlite3_finalize(st);
    return e;
}

cf_err cf_store_event_outbox_delete(struct cf_store_txn *t, int64_t upto)
{
    return exec1(t, "DELETE FROM event_outbox WHERE id<=?1", upto, "event outbox delete", false);
}

/* ---------------------------------------------------------------- deliveries */

#define DEL_COLS "id,sub_id,event_id,type,body,publish_ms,attempts,next_ms,last_outcome,last_ms"

void cf_rec_event_delivery_release(struct cf_rec_event_delivery *d)
{
    if (!d)
        return;
    free(d->body);
    d->body = NULL;
}

cf_err cf_store_event_delivery_add(struct cf_store_txn *t, const struct cf_rec_event_delivery *d)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable || !d)
        return CF_EINVAL;
    st = prepare(t,
                 "INSERT INTO event_deliveries(sub_id,event_id,type,body,publish_ms,attempts,"
                 "next_ms,last_outcome,last_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, d->sub_id);
    cf_sq_bind_text(st, 2, d->event_id);
    cf_sq_bind_text(st, 3, d->type);
    cf_sq_bind_text(st, 4, d->body ? d->body : "{}");
    sqlite3_bind_int64(st, 5, d->publish_ms);
    sqlite3_bind_int(st, 6, d->attempts);
    sqlite3_bind_int64(st, 7, d->next_ms);
    cf_sq_bind_text(st, 8, d->last_outcome);
    sqlite3_bind_int64(st, 9, d->last_ms);
    return cf_sq_change(t, st, "event delivery add", false);
}

cf_err cf_store_event_delivery_due(struct cf_store_txn *t, int64_t now_ms, size_t max,
                                   cf_store_event_delivery_cb cb, void *arg)
{
    struct cf_rec_event_delivery d;
    cf_err e = CF_OK;
    sqlite3_stmt *st;
    int rc;

    st = prepare(t,
                 "SELECT " DEL_COLS " FROM event_deliveries WHERE next_ms<=?1 "
                 "ORDER BY next_ms, id LIMIT ?2",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, now_ms);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)CF_MIN(max, (size_t)INT32_MAX));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&d, 0, sizeof(d));
        d.id = sqlite3_column_int64(st, 0);
        d.sub_id = sqlite3_column_int64(st, 1);
        cf_sq_col_cpy(st, 2, d.event_id, sizeof(d.event_id));
        cf_sq_col_cpy(st, 3, d.type, sizeof(d.type));
        d.body = cf_sq_col_dup(st, 4, &e);
        d.publish_ms = sqlite3_column_int64(st, 5);
        d.attempts = sqlite3_column_int(st, 6);
        d.next_ms = sqlite3_column_int64(st, 7);
        cf_sq_col_cpy(st, 8, d.last_outcome, sizeof(d.last_outcome));
        d.last_ms = sqlite3_column_int64(st, 9);
        if (!e)
            e = cb(&d, arg);
        cf_rec_event_delivery_release(&d);
        if (e)
            break;
    }
    if (!e && rc != SQLITE_ROW && rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, "event delivery read");
    sqlite3_finalize(st);
    return e;
}

cf_err cf_store_event_delivery_next(struct cf_store_txn *t, int64_t *next_ms)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = prepare(t, "SELECT min(next_ms) FROM event_deliveries", &e);
    int rc;

    if (!st)
        return e;
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        *next_ms = sqlite3_column_int64(st, 0);
    else if (rc == SQLITE_ROW)
        e = CF_ENOTFOUND;
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "event delivery next");
    sqlite3_finalize(st);
    return e;
}

cf_err cf_store_event_delivery_update(struct cf_store_txn *t,
                                      const struct cf_rec_event_delivery *d)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable || !d)
        return CF_EINVAL;
    st = prepare(t,
                 "UPDATE event_deliveries SET attempts=?2,next_ms=?3,last_outcome=?4,last_ms=?5 "
                 "WHERE id=?1",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, d->id);
    sqlite3_bind_int(st, 2, d->attempts);
    sqlite3_bind_int64(st, 3, d->next_ms);
    cf_sq_bind_text(st, 4, d->last_outcome);
    sqlite3_bind_int64(st, 5, d->last_ms);
    return cf_sq_change(t, st, "event delivery update", true);
}

cf_err cf_store_event_delivery_delete(struct cf_store_txn *t, int64_t id)
{
    return exec1(t, "DELETE FROM event_deliveries WHERE id=?1", id, "event delivery delete", true);
}

/* One count(*) with one int64 parameter. */
static cf_err count1(struct cf_store_txn *t, const char *sql, int64_t v, int64_t *n)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st = prepare(t, sql, &e);
    int rc;

    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, v);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *n = sqlite3_column_int64(st, 0);
    else
        e = cf_sq_err(CF_SQ_DB(t), rc, "events count");
    sqlite3_finalize(st);
    return e;
}

cf_err cf_store_event_delivery_count(struct cf_store_txn *t, int64_t sub_id, int64_t *n)
{
    return count1(t, "SELECT count(*) FROM event_deliveries WHERE sub_id=?1", sub_id, n);
}

/* ---------------------------------------------------------------- dead letters */

void cf_rec_event_deadletter_release(struct cf_rec_event_deadletter *d)
{
    if (!d)
        return;
    free(d->body);
    d->body = NULL;
}

cf_err cf_store_event_deadletter_add(struct cf_store_txn *t,
                                     const struct cf_rec_event_deadletter *d)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;

    if (!t->writable || !d)
        return CF_EINVAL;
    st = prepare(t,
                 "INSERT INTO event_deadletters(sub_id,event_id,type,body,reason,attempts,"
                 "last_outcome,publish_ms,last_ms) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, d->sub_id);
    cf_sq_bind_text(st, 2, d->event_id);
    cf_sq_bind_text(st, 3, d->type);
    cf_sq_bind_text(st, 4, d->body ? d->body : "{}");
    cf_sq_bind_text(st, 5, d->reason);
    sqlite3_bind_int(st, 6, d->attempts);
    cf_sq_bind_text(st, 7, d->last_outcome);
    sqlite3_bind_int64(st, 8, d->publish_ms);
    sqlite3_bind_int64(st, 9, d->last_ms);
    return cf_sq_change(t, st, "event dead letter add", false);
}

cf_err cf_store_event_deadletter_list(struct cf_store_txn *t, int64_t sub_id, int64_t after,
                                      size_t max, cf_store_event_deadletter_cb cb, void *arg)
{
    struct cf_rec_event_deadletter d;
    cf_err e = CF_OK;
    sqlite3_stmt *st;
    int rc;

    st = prepare(t,
                 "SELECT id,sub_id,event_id,type,body,reason,attempts,last_outcome,publish_ms,"
                 "last_ms FROM event_deadletters WHERE sub_id=?1 AND id>?2 ORDER BY id LIMIT ?3",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, sub_id);
    sqlite3_bind_int64(st, 2, after);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)CF_MIN(max, (size_t)INT32_MAX));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&d, 0, sizeof(d));
        d.id = sqlite3_column_int64(st, 0);
        d.sub_id = sqlite3_column_int64(st, 1);
        cf_sq_col_cpy(st, 2, d.event_id, sizeof(d.event_id));
        cf_sq_col_cpy(st, 3, d.type, sizeof(d.type));
        d.body = cf_sq_col_dup(st, 4, &e);
        cf_sq_col_cpy(st, 5, d.reason, sizeof(d.reason));
        d.attempts = sqlite3_column_int(st, 6);
        cf_sq_col_cpy(st, 7, d.last_outcome, sizeof(d.last_outcome));
        d.publish_ms = sqlite3_column_int64(st, 8);
        d.last_ms = sqlite3_column_int64(st, 9);
        if (!e)
            e = cb(&d, arg);
        cf_rec_event_deadletter_release(&d);
        if (e)
            break;
    }
    if (!e && rc != SQLITE_ROW && rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, "event dead letter read");
    sqlite3_finalize(st);
    return e;
}

/* ---------------------------------------------------------------- expiry state */

/* One SELECT per kind, same columns: kind, object id, vault id, vault name, object name,
 * version, nbf, exp, near done, expired done. ?1 now, ?2 lead, ?3 limit. `near` narrows the
 * near-expiry branch: a key with a rotation policy is left out of it in SQL (not after the
 * LIMIT, where such rows would fill every batch and starve the rest). */
#define EXPIRY_SQL(kind, objs, vers, managed, near)                                                \
    "SELECT " #kind ",o.id,o.vault_id,vt.name,o.name,v.version,v.nbf,v.exp,"                       \
    "coalesce(x.near,0),coalesce(x.expired,0) FROM " objs " o "                                    \
    "JOIN " vers " v ON v.object_id=o.id AND v.seq=o.latest_seq "                                  \
    "JOIN vaults vt ON vt.id=o.vault_id AND vt.deleted=0 "                                         \
    "LEFT JOIN event_expiry x ON x.kind=" #kind " AND x.object_id=o.id AND x.version=v.version "   \
    "WHERE o.deleted=0 AND v.exp>0 " managed "AND ((v.exp<=?1+?2 AND coalesce(x.near,0)=0 " near  \
    ") OR (v.exp<=?1 AND coalesce(x.expired,0)=0))"
#define EXPIRY_NO_POLICY "AND NOT EXISTS(SELECT 1 FROM key_policies p WHERE p.object_id=o.id)"

cf_err cf_store_expiry_due(struct cf_store_txn *t, int64_t now, int64_t lead_s, size_t max,
                           cf_store_expiry_cb cb, void *arg)
{
    struct cf_rec_expiry x;
    cf_err e = CF_OK;
    sqlite3_stmt *st;
    int rc;

    st = prepare(t,
                 EXPIRY_SQL(0, "secret_objects", "secret_versions", "AND v.managed=0 ", "")
                 " UNION ALL " EXPIRY_SQL(1, "key_objects", "key_versions", "AND v.managed=0 ",
                                          EXPIRY_NO_POLICY)
                 " UNION ALL " EXPIRY_SQL(2, "cert_objects", "cert_versions", "", "")
                 " LIMIT ?3",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, lead_s);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)CF_MIN(max, (size_t)INT32_MAX));
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        memset(&x, 0, sizeof(x));
        x.kind = (enum cf_event_kind)sqlite3_column_int(st, 0);
        x.object_id = sqlite3_column_int64(st, 1);
        x.vault_id = sqlite3_column_int64(st, 2);
        cf_sq_col_cpy(st, 3, x.vault_name, sizeof(x.vault_name));
        cf_sq_col_cpy(st, 4, x.name, sizeof(x.name));
        cf_sq_col_cpy(st, 5, x.version, sizeof(x.version));
        x.nbf = sqlite3_column_int64(st, 6);
        x.exp = sqlite3_column_int64(st, 7);
        x.near_done = sqlite3_column_int(st, 8) != 0;
        x.expired_done = sqlite3_column_int(st, 9) != 0;
        if ((e = cb(&x, arg)) != CF_OK)
            break;
    }
    if (!e && rc != SQLITE_ROW && rc != SQLITE_DONE)
        e = cf_sq_err(CF_SQ_DB(t), rc, "expiry due");
    sqlite3_finalize(st);
    return e;
}

cf_err cf_store_expiry_mark(struct cf_store_txn *t, enum cf_event_kind kind, int64_t object_id,
                            const char *version, bool near, bool expired, bool *was_near,
                            bool *was_expired)
{
    cf_err e = CF_OK;
    sqlite3_stmt *st;
    bool wn = false, we = false;
    int rc;

    if (!t->writable || !version)
        return CF_EINVAL;
    st = prepare(t,
                 "SELECT near,expired FROM event_expiry WHERE kind=?1 AND object_id=?2 AND "
                 "version=?3",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int(st, 1, (int)kind);
    sqlite3_bind_int64(st, 2, object_id);
    cf_sq_bind_text(st, 3, version);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        wn = sqlite3_column_int(st, 0) != 0;
        we = sqlite3_column_int(st, 1) != 0;
    } else if (rc != SQLITE_DONE) {
        e = cf_sq_err(CF_SQ_DB(t), rc, "expiry mark");
    }
    sqlite3_finalize(st);
    if (e)
        return e;
    st = prepare(t,
                 "INSERT INTO event_expiry(kind,object_id,version,near,expired) "
                 "VALUES(?1,?2,?3,?4,?5) ON CONFLICT(kind,object_id,version) DO UPDATE SET "
                 "near=max(near,excluded.near),expired=max(expired,excluded.expired)",
                 &e);
    if (!st)
        return e;
    sqlite3_bind_int(st, 1, (int)kind);
    sqlite3_bind_int64(st, 2, object_id);
    cf_sq_bind_text(st, 3, version);
    sqlite3_bind_int(st, 4, near || wn);
    sqlite3_bind_int(st, 5, expired || we);
    e = cf_sq_change(t, st, "expiry mark", false);
    if (!e && was_near)
        *was_near = wn;
    if (!e && was_expired)
        *was_expired = we;
    return e;
}

cf_err cf_store_expiry_prune(struct cf_store_txn *t)
{
    static const char *const sql[] = {
        "DELETE FROM event_expiry WHERE kind=0 AND NOT EXISTS (SELECT 1 FROM secret_objects o "
        "WHERE o.id=event_expiry.object_id AND "
        "o.latest_version=event_expiry.version)",
        "DELETE FROM event_expiry WHERE kind=1 AND NOT EXISTS (SELECT 1 FROM key_objects o "
        "WHERE o.id=event_expiry.object_id AND "
        "o.latest_version=event_expiry.version)",
        "DELETE FROM event_expiry WHERE kind=2 AND NOT EXISTS (SELECT 1 FROM cert_objects o "
        "WHERE o.id=event_expiry.object_id AND "
        "o.latest_version=event_expiry.version)",
    };
    cf_err e = CF_OK;

    if (!t->writable)
        return CF_EINVAL;
    for (size_t i = 0; i < CF_ARRAY_LEN(sql) && !e; i++) {
        sqlite3_stmt *st = prepare(t, sql[i], &e);
        if (st)
            e = cf_sq_change(t, st, "expiry prune", false);
    }
    return e;
}
