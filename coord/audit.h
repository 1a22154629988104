/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The audit trail: one key=value line on stderr for every admin request (who, from where, what,
 * with what result) and for failed authentications. Written whatever log_level says. The format
 * is in docs/coord-admin.md.
 */
#ifndef MESHGATE_COORD_AUDIT_H
#define MESHGATE_COORD_AUDIT_H

#include "http.h"

/* An admin request was answered with status. */
void audit_admin(struct http_req *r, int status);
/* A request's key or credential was refused; at most AUDIT_FAIL_BURST lines per second. */
void audit_auth_failed(struct http_req *r, const char *kind, const char *code);

#define AUDIT_FAIL_BURST 10

#endif
