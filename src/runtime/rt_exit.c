/* Thread-exit teardown of the runtime. */
#include <pthread.h>

#include "rt.h"

static pthread_key_t exit_key;
static pthread_once_t exit_once = PTHREAD_ONCE_INIT;

/* A thread that exits with a runtime gets it torn down: sockets closed, memory returned. */
static void on_thread_exit(void *arg)
{
	rt_destroy(arg);
}

static void make_exit_key(void)
{
	pthread_key_create(&exit_key, on_thread_exit);
}

void rt_destroy_at_thread_exit(struct rt *rt)
{
	pthread_once(&exit_once, make_exit_key);
	pthread_setspecific(exit_key, rt);
}
