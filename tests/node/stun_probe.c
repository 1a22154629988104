// SPDX-License-Identifier: GPL-2.0-only
/*
 * The node STUN client from the command line, for the interop and NAT scripts:
 *   stun_probe [-b LOCAL] [-t MS] query SERVER
 *   stun_probe [-b LOCAL] [-t MS] detect SERVER1 SERVER2
 * prints key=value lines (local=, mapped=, mapping=) and exits 0, or 1 with the reason.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "stun.h"

static int open_socket(const char *bind_to, int family)
{
	struct mg_sockaddr b = {0};
	struct sockaddr_storage ss = {0};
	socklen_t sl;
	int fd;

	if (bind_to && mg_sockaddr_parse(bind_to, &b) != 0) {
		/* A port of 0 is not a valid endpoint for the parser: accept "ADDR:0" too. */
		char tmp[80];
		snprintf(tmp, sizeof(tmp), "%s", bind_to);
		char *c = strrchr(tmp, ':');
		if (!c || strcmp(c, ":0") != 0)
			return -1;
		strcpy(c, ":1");
		if (mg_sockaddr_parse(tmp, &b) != 0)
			return -1;
		b.port = 0;
	}
	if (b.family)
		family = b.family;
	fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (family == 4) {
		struct sockaddr_in *s = (struct sockaddr_in *)&ss;
		s->sin_family = AF_INET;
		s->sin_port = htons(b.port);
		memcpy(&s->sin_addr, b.addr, 4);
		sl = sizeof(*s);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(b.port);
		memcpy(&s6->sin6_addr, b.addr, 16);
		sl = sizeof(*s6);
	}
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(int argc, char **argv)
{
	const char *bind_to = NULL;
	int timeout = 3000, o, fd;
	char err[256], s1[MG_SOCKADDR_STRLEN], s2[MG_SOCKADDR_STRLEN];
	struct mg_sockaddr srv[2];

	while ((o = getopt(argc, argv, "b:t:")) != -1) {
		if (o == 'b')
			bind_to = optarg;
		else if (o == 't')
			timeout = atoi(optarg);
		else
			return 2;
	}
	argc -= optind;
	argv += optind;
	if (sodium_init() < 0 || argc < 2)
		return 2;
	for (int i = 1; i < argc && i < 3; i++)
		if (mg_sockaddr_parse(argv[i], &srv[i - 1]) != 0) {
			fprintf(stderr, "stun_probe: bad server address %s\n", argv[i]);
			return 2;
		}
	if ((fd = open_socket(bind_to, srv[0].family)) < 0) {
		fprintf(stderr, "stun_probe: cannot bind %s\n", bind_to ? bind_to : "(any)");
		return 1;
	}
	if (strcmp(argv[0], "query") == 0 && argc == 2) {
		struct mg_stun_query q = {.timeout_ms = timeout};
		if (mg_stun_query(fd, &srv[0], &q, err, sizeof(err)) != 0) {
			fprintf(stderr, "stun_probe: %s\n", err);
			return 1;
		}
		mg_sockaddr_format(&q.mapped, s1, sizeof(s1));
		printf("mapped=%s\nrtt_ms=%d\nsent=%u\n", s1, q.rtt_ms, q.sent);
		if (q.msg.has_origin) {
			mg_sockaddr_format(&q.msg.origin, s2, sizeof(s2));
			printf("response_origin=%s\n", s2);
		}
		return 0;
	}
	if (strcmp(argv[0], "detect") == 0 && argc == 3) {
		struct mg_nat_report r;
		int ret = mg_nat_detect(fd, srv, timeout, &r, err, sizeof(err));
		mg_sockaddr_format(&r.local, s1, sizeof(s1));
		printf("local=%s\n", s1);
		for (int i = 0; i < 2; i++) {
			mg_sockaddr_format(&r.mapped[i], s2, sizeof(s2));
			printf("mapped%d=%s\n", i + 1, r.answered[i] ? s2 : "(none)");
		}
		printf("mapping=%s\nhard=%s\n", mg_nat_mapping_str(r.mapping),
		       r.hard ? "yes" : "no");
		if (ret != 0)
			fprintf(stderr, "stun_probe: %s\n", err);
		return ret ? 1 : 0;
	}
	return 2;
}
