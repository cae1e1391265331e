/* kv.h: option texts of the plain-call entry points that bindings use ("key=value" pairs, one per line): split
 * and handed to a setter one pair at a time. Internal to the library; it knows no keys. */
#pragma once
#include "relstab/tensor.h"

/* Calls set(ctx, key, value) for each line of text (NULL: none) in order; stops at the first error. A line
 * without '=' is an error naming `what` ("model option 'x' has no value (key=value)"). */
typedef rs_status (*rs_kv_set_fn)(void *ctx, const char *key, const char *value);
rs_status rs_kv_each(const char *text, const char *what, rs_kv_set_fn set, void *ctx);
