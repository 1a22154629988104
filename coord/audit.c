// SPDX-License-Identifier: GPL-2.0-only
/*
 * Audit lines. Values that come from the client (the path) are reduced to a safe alphabet so a
 * line cannot be forged or split by a crafted URL. Failed authentications are rate-limited
 * because a client can cause any number of them; the lines left out are counted in the next
 * one that is written.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "audit.h"
#include "log.h"

static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t fail_second;
static unsigned fail_count;
static unsigned long fail_suppressed;

static void client_address(struct MHD_Connection *conn, char *out, size_t len)
{
	snprintf(out, len, "-");
	const union MHD_ConnectionInfo *ci =
	    conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	if (sa == NULL)
		return;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out,
		          (socklen_t)len);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
		          out, (socklen_t)len);
}

static void safe_copy(const char *in, char *out, size_t len)
{
	size_t j = 0;
	for (; in != NULL && *in != '\0' && j + 1 < len; in++) {
		unsigned char ch = (unsigned char)*in;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		          (ch >= '0' && ch <= '9') || strchr("/-_.:", ch) != NULL;
		out[j++] = ok ? (char)ch : '?';
	}
	out[j] = '\0';
}

void audit_admin(struct http_req *r, int status)
{
	char client[INET6_ADDRSTRLEN], path[160], method[16];
	struct mg_log_line l;
	client_address(r->conn, client, sizeof(client));
	safe_copy(r->path, path, sizeof(path));
	safe_copy(r->method, method, sizeof(method));
	mg_log_begin_always(&l, MG_LOG_NOTICE, "audit");
	mg_log_str(&l, "event", "admin");
	mg_log_str(&l, "key", r->key_prefix[0] ? r->key_prefix : "-");
	mg_log_str(&l, "client", client);
	mg_log_str(&l, "method", method);
	mg_log_str(&l, "path", path);
	mg_log_i64(&l, "status", status);
	mg_log_end(&l);
}

void audit_auth_failed(struct http_req *r, const char *kind, const char *code)
{
	time_t now = time(NULL);
	unsigned long suppressed = 0;
	pthread_mutex_lock(&fail_lock);
	if (now != fail_second) {
		fail_second = now;
		fail_count = 0;
	}
	bool write = fail_count < AUDIT_FAIL_BURST;
	if (write) {
		fail_count++;
		suppressed = fail_suppressed;
		fail_suppressed = 0;
	} else {
		fail_suppressed++;
	}
	pthread_mutex_unlock(&fail_lock);
	if (!write)
		return;
	char client[INET6_ADDRSTRLEN], path[160], method[16];
	struct mg_log_line l;
	client_address(r->conn, client, sizeof(client));
	safe_copy(r->path, path, sizeof(path));
	safe_copy(r->method, method, sizeof(method));
	mg_log_begin_always(&l, MG_LOG_NOTICE, "audit");
	mg_log_str(&l, "event", "auth_failed");
	mg_log_str(&l, "kind", kind);
	mg_log_str(&l, "reason", code);
	mg_log_str(&l, "client", client);
	mg_log_str(&l, "method", method);
	mg_log_str(&l, "path", path);
	mg_log_u64(&l, "suppressed", suppressed);
	mg_log_end(&l);
}
