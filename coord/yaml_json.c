// SPDX-License-Identifier: GPL-2.0-only
#include "yaml_json.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_yaml.h"

static json_t *scalar_to_json(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;

	if (n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		char *end;
		long long v;

		if (strcmp(s, "true") == 0)
			return json_true();
		if (strcmp(s, "false") == 0)
			return json_false();
		if (strcmp(s, "null") == 0 || strcmp(s, "~") == 0 || *s == '\0')
			return json_null();
		errno = 0;
		v = strtoll(s, &end, 10);
		if (*end == '\0' && errno == 0 && end != s)
			return json_integer(v);
	}
	return json_stringn(s, n->data.scalar.length);
}

/* Recursion is bounded: the loader refused anything nested deeper than CFG_MAX_DEPTH. */
static json_t *node_to_json(yaml_document_t *doc, yaml_node_t *n, char *err, size_t errlen)
{
	json_t *out, *v;

	if (n->type == YAML_SCALAR_NODE) {
		out = scalar_to_json(n);
		if (!out)
			snprintf(err, errlen, "line %lu: strings must be UTF-8",
			         (unsigned long)n->start_mark.line + 1);
		return out;
	}
	out = n->type == YAML_SEQUENCE_NODE ? json_array() : json_object();
	if (!out) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (n->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *it = n->data.sequence.items.start;
		     it < n->data.sequence.items.top; it++) {
			v = node_to_json(doc, yaml_document_get_node(doc, *it), err, errlen);
			if (!v || json_array_append_new(out, v) != 0)
				goto fail;
		}
		return out;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		unsigned long line = k ? (unsigned long)k->start_mark.line + 1 : 0;
		const char *key;

		if (!k || k->type != YAML_SCALAR_NODE) {
			snprintf(err, errlen, "line %lu: keys must be plain strings", line);
			goto fail;
		}
		key = (const char *)k->data.scalar.value;
		if (json_object_get(out, key)) {
			snprintf(err, errlen, "line %lu: duplicate key '%.64s'", line, key);
			goto fail;
		}
		v = node_to_json(doc, yaml_document_get_node(doc, p->value), err, errlen);
		if (!v)
			goto fail;
		if (json_object_set_new(out, key, v) != 0) {
			snprintf(err, errlen, "line %lu: keys must be UTF-8", line);
			goto fail;
		}
	}
	return out;
fail:
	json_decref(out);
	return NULL;
}

json_t *yaml_text_to_json(const char *text, size_t len, char *err, size_t errlen)
{
	char lerr[256];
	struct cfg_loader ld = {.file = "policy", .err = lerr, .errlen = sizeof(lerr)};
	yaml_document_t doc;
	json_t *out;

	lerr[0] = '\0';
	if (cfg_load_buffer(&ld, text, len, &doc) != 0) {
		/* "policy:LINE: what" -> "line LINE: what", as the other policy errors read. */
		const char *rest = strncmp(lerr, "policy:", 7) == 0 ? lerr + 7 : lerr;
		snprintf(err, errlen, "%s%s", isdigit((unsigned char)*rest) ? "line " : "", rest);
		return NULL;
	}
	out = node_to_json(&doc, yaml_document_get_root_node(&doc), err, errlen);
	yaml_document_delete(&doc);
	return out;
}
