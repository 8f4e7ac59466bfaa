/* demi_init and demi_fini: configuration, runtime and libOS start-up and teardown for the calling thread. */
#include <demi/fini.h>
#include <demi/libos.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../libos/libos.h"
#include "../runtime/log.h"
#include "api.h"

DEMI_EXPORT int demi_init(const struct demi_args *args)
{
	if (!args)
		return EINVAL;
	if (rt_self())
		return EEXIST;
	struct demi_config cfg;
	config_defaults(&cfg);
	if (config_load(&cfg, getenv("CONFIG_PATH")) < 0)
		return EINVAL;
	log_init(cfg.log_level);
	const struct libos_ops *libos = libos_find(cfg.libos);
	if (!libos) {
		fprintf(stderr, "demi: unknown LIBOS '%s' (built in: %s)\n", cfg.libos, libos_names());
		return EINVAL;
	}
	struct rt *rt;
	int err = rt_create(&cfg, &rt);
	if (err)
		return api_err(err);
	err = libos->init(rt, &rt->libos_state);
	if (err) {
		log_error("libOS %s failed to start: %s", libos->name, strerror(-err));
		rt_destroy(rt);
		return api_err(err);
	}
	rt->libos = libos;
	log_info("libOS %s started", libos->name);
	return 0;
}

DEMI_EXPORT int demi_fini(void)
{
	API_RT(rt);
	rt_destroy(rt); /* what the thread's exit would do; rt_self() is NULL after */
	return 0;
}
