/* Thread-exit teardown of the runtime; apart from rt.c because <pthread.h> declares libc's sched_yield. */
#include <pthread.h>

/* From rt.h, which cannot be included here: its sched.h has a sched_yield of its own. */
struct rt;
void rt_destroy(struct rt *rt);
void rt_destroy_at_thread_exit(struct rt *rt);

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
