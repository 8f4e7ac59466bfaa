/* The storage queues' configuration keys (storage:): durability and io_uring set-up (doc/storage.md). */
#include "../../runtime/config_schema.h"

static const struct cfg_key keys[] = {
	CFG_ENUM_KEY("storage", "durability", "STORAGE_DURABILITY", storage_durability, "flush|fua|none", "flush",
		     "When a storage push completes (doc/storage.md)."),
	CFG_ENUM_KEY("storage", "sqpoll", "STORAGE_SQPOLL", storage_sqpoll, "auto|on|off", "auto",
		     "io_uring SQPOLL; auto: with 4 CPUs or more."),
	CFG_ENUM_KEY("storage", "direct", "STORAGE_DIRECT", storage_direct, "auto|off", "auto",
		     "O_DIRECT for storage queues."),
	CFG_ENUM_KEY("storage", "submit", "STORAGE_SUBMIT", storage_submit, "eager|batch", "eager",
		     "Submit each request at once, or once a round."),
	CFG_UINT_KEY("storage", "ring_entries", "STORAGE_RING_ENTRIES", storage_ring_entries, 256, 8, 32768, NULL,
		     "io_uring submission-queue size; a power of two (checked when a storage queue opens)."),
};

const struct cfg_table cfg_storage_table = CFG_TABLE("storage", keys);
