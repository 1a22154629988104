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

static void emit(const char *fields)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ldZ audit coord: %s\n", stamp, ts.tv_nsec / 1000000, fields);
}

void audit_admin(struct http_req *r, int status)
{
	char client[INET6_ADDRSTRLEN], path[160], method[16], line[512];
	client_address(r->conn, client, sizeof(client));
	safe_copy(r->path, path, sizeof(path));
	safe_copy(r->method, method, sizeof(method));
	snprintf(line, sizeof(line), "event=admin key=%s client=%s method=%s path=%s status=%d",
	         r->key_prefix[0] ? r->key_prefix : "-", client, method, path, status);
	emit(line);
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
	char client[INET6_ADDRSTRLEN], path[160], method[16], line[512];
	client_address(r->conn, client, sizeof(client));
	safe_copy(r->path, path, sizeof(path));
	safe_copy(r->method, method, sizeof(method));
	snprintf(line, sizeof(line),
	         "event=auth_failed kind=%s reason=%s client=%s method=%s path=%s suppressed=%lu",
	         kind, code, client, method, path, suppressed);
	emit(line);
}
