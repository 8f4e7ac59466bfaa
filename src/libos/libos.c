/* Registry of the libOSes built into this library, looked up by name at demi_init. */
#include "libos.h"

#include <string.h>

extern const struct libos_ops catnap_libos;
extern const struct libos_ops catmem_libos;
#ifdef DEMI_HAVE_CATPOWDER /* needs the inetstack: see src/meson.build */
extern const struct libos_ops catpowder_libos;
#endif
#ifdef DEMI_HAVE_CATNIP /* needs DPDK (libdpdk): see src/meson.build */
extern const struct libos_ops catnip_libos;
#endif

static const struct libos_ops *const all[] = {
	&catnap_libos,
	&catmem_libos,
#ifdef DEMI_HAVE_CATPOWDER
	&catpowder_libos,
#endif
#ifdef DEMI_HAVE_CATNIP
	&catnip_libos,
#endif
};

const struct libos_ops *libos_find(const char *name)
{
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i]->name, name) == 0)
			return all[i];
	return NULL;
}

const char *libos_names(void)
{
	return "catnap, catmem"
#ifdef DEMI_HAVE_CATPOWDER
	       ", catpowder"
#endif
#ifdef DEMI_HAVE_CATNIP
	       ", catnip"
#endif
		;
}
