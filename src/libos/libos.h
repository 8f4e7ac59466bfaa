/*
 * The registry of the libOSes built into this library. The table each one
 * fills in, struct libos_ops, is the runtime's (src/runtime/libos_ops.h).
 */
#ifndef DEMI_LIBOS_LIBOS_H
#define DEMI_LIBOS_LIBOS_H

#include "../runtime/libos_ops.h"

/* The libOS called `name`, or NULL. */
const struct libos_ops *libos_find(const char *name);
/* Comma-separated names of the libOSes built in, for error messages. */
const char *libos_names(void);

#endif
