// SPDX-License-Identifier: GPL-2.0-only
#include "relay_dial.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *dial_run(void *arg)
{
	struct mg_relay_dial *d = arg;
	char b = 1;

	d->rc = mg_relay_client_connect(&d->cc, d->err, sizeof(d->err));
	atomic_store_explicit(&d->over, true, memory_order_release);
	/* The pipe holds far more than one byte: this write cannot block or fail short. */
	if (write(d->done[1], &b, 1) != 1)
		abort();
	return NULL;
}

int mg_relay_dial_start(struct mg_relay_dial *d, const struct mg_netmap_relay *r, void *tls_ctx,
                        const uint8_t sk[32], uint32_t fwmark, int timeout_ms)
{
	int rc;

	d->r = *r;
	snprintf(d->name, sizeof(d->name), "%s", d->r.name);
	/* A copy: the caller may change or wipe its key while the thread reads this one. */
	memcpy(d->sk, sk, sizeof(d->sk));
	d->cc = (struct mg_relay_client_config){
	    .host = d->r.host,
	    .port = d->r.port,
	    .server_name = d->r.server_name[0] ? d->r.server_name : NULL,
	    .tls_ctx = tls_ctx,
	    .private_key = d->sk,
	    .timeout_ms = timeout_ms,
	    .fwmark = fwmark,
	};
	d->rc = NULL;
	d->err[0] = '\0';
	d->t0_ms = now_ms();
	atomic_store(&d->over, false);
	if (pipe2(d->done, O_CLOEXEC | O_NONBLOCK) != 0) {
		mg_log(MG_LOG_WARNING, "relay: cannot dial", "error", strerror(errno), NULL);
		wg_memzero(d->sk, sizeof(d->sk));
		return -1;
	}
	if ((rc = pthread_create(&d->th, NULL, dial_run, d)) != 0) {
		mg_log(MG_LOG_WARNING, "relay: cannot dial", "error", strerror(rc), NULL);
		close(d->done[0]);
		close(d->done[1]);
		wg_memzero(d->sk, sizeof(d->sk));
		return -1;
	}
	d->active = true;
	return 0;
}

int mg_relay_dial_fd(const struct mg_relay_dial *d)
{
	return d->active ? d->done[0] : -1;
}

bool mg_relay_dial_over(const struct mg_relay_dial *d)
{
	return d->active && atomic_load_explicit(&d->over, memory_order_acquire);
}

void mg_relay_dial_join(struct mg_relay_dial *d)
{
	if (!d->active)
		return;
	pthread_join(d->th, NULL);
	close(d->done[0]);
	close(d->done[1]);
	wg_memzero(d->sk, sizeof(d->sk));
	d->active = false;
}

int mg_relay_dial_elapsed_ms(const struct mg_relay_dial *d)
{
	return (int)(now_ms() - d->t0_ms);
}
