/* tsan-glib.c — teaches ThreadSanitizer about GLib's locks.
 *
 * On Linux, GMutex and GCond are built on raw futexes, which TSan cannot
 * see, so every structure they guard looks racy to it. Under
 * -fsanitize=thread this file, linked into the test program, interposes
 * the GLib lock functions (the program's definitions win over
 * libglib's for the library and the tests alike), calls the real ones and
 * tells TSan about the acquire/release they imply. The same goes for
 * GLib's reference counts (grefcount, GArcBox) and g_once: their atomics
 * live inside libglib, which is not instrumented, so a free after the
 * last unref would look like a race with the other threads' last uses.
 * Without TSan this file is empty.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if defined(__SANITIZE_THREAD__)
#define _GNU_SOURCE
#include <dlfcn.h>
#include <glib.h>

/* The build hides symbols by default; these must be seen by libglib's
 * callers in every loaded object. */
#pragma GCC visibility push(default)

void __tsan_acquire (void *addr);
void __tsan_release (void *addr);

typedef void     (*MutexFunc)    (GMutex *);
typedef gboolean (*TrylockFunc)  (GMutex *);
typedef void     (*WaitFunc)     (GCond *, GMutex *);
typedef gboolean (*WaitUntilFunc) (GCond *, GMutex *, gint64);
typedef void     (*RecMutexFunc) (GRecMutex *);
typedef gboolean (*RefDecFunc)   (gatomicrefcount *);
typedef void     (*BoxReleaseFunc) (gpointer, GDestroyNotify);
typedef gboolean (*OnceEnterFunc) (volatile void *);
typedef void     (*OnceLeaveFunc) (volatile void *, gsize);

/* dlsym() may run concurrently on first use; it returns the same value.
 * The cache is read and written atomically: two threads making their
 * first call at once are a data race to TSan otherwise (seen in CI). */
#define REAL(name, type)                                                  \
  static type real_##name##_cached;                                       \
  type real_##name = __atomic_load_n (&real_##name##_cached, __ATOMIC_RELAXED); \
  if (G_UNLIKELY (real_##name == NULL))                                   \
    {                                                                     \
      real_##name = (type) dlsym (RTLD_NEXT, #name);                      \
      __atomic_store_n (&real_##name##_cached, real_##name, __ATOMIC_RELAXED); \
    }

void
g_mutex_lock (GMutex *mutex)
{
  REAL (g_mutex_lock, MutexFunc);
  real_g_mutex_lock (mutex);
  __tsan_acquire (mutex);
}

gboolean
g_mutex_trylock (GMutex *mutex)
{
  REAL (g_mutex_trylock, TrylockFunc);
  if (!real_g_mutex_trylock (mutex))
    return FALSE;
  __tsan_acquire (mutex);
  return TRUE;
}

void
g_mutex_unlock (GMutex *mutex)
{
  REAL (g_mutex_unlock, MutexFunc);
  __tsan_release (mutex);
  real_g_mutex_unlock (mutex);
}

void
g_cond_wait (GCond *cond, GMutex *mutex)
{
  REAL (g_cond_wait, WaitFunc);
  __tsan_release (mutex);
  real_g_cond_wait (cond, mutex);
  __tsan_acquire (mutex);
}

gboolean
g_cond_wait_until (GCond *cond, GMutex *mutex, gint64 end_time)
{
  gboolean signalled;

  REAL (g_cond_wait_until, WaitUntilFunc);
  __tsan_release (mutex);
  signalled = real_g_cond_wait_until (cond, mutex, end_time);
  __tsan_acquire (mutex);
  return signalled;
}

void
g_rec_mutex_lock (GRecMutex *mutex)
{
  REAL (g_rec_mutex_lock, RecMutexFunc);
  real_g_rec_mutex_lock (mutex);
  __tsan_acquire (mutex);
}

void
g_rec_mutex_unlock (GRecMutex *mutex)
{
  REAL (g_rec_mutex_unlock, RecMutexFunc);
  __tsan_release (mutex);
  real_g_rec_mutex_unlock (mutex);
}
gboolean
g_atomic_ref_count_dec (gatomicrefcount *arc)
{
  gboolean last;

  REAL (g_atomic_ref_count_dec, RefDecFunc);
  __tsan_release (arc);
  last = real_g_atomic_ref_count_dec (arc);
  if (last)
    __tsan_acquire (arc);
  return last;
}

/* g_atomic_rc_box_release_full() calls @clear_func synchronously, on this
 * thread: a thread-local slot is enough to pass the real one through. */
static __thread GDestroyNotify box_clear_func;

static void
box_clear_trampoline (gpointer mem_block)
{
  __tsan_acquire (mem_block);
  if (box_clear_func != NULL)
    box_clear_func (mem_block);
}

void
g_atomic_rc_box_release_full (gpointer mem_block, GDestroyNotify clear_func)
{
  GDestroyNotify saved = box_clear_func;

  REAL (g_atomic_rc_box_release_full, BoxReleaseFunc);
  __tsan_release (mem_block);
  box_clear_func = clear_func;
  real_g_atomic_rc_box_release_full (mem_block, box_clear_trampoline);
  box_clear_func = saved;
}

void
g_atomic_rc_box_release (gpointer mem_block)
{
  g_atomic_rc_box_release_full (mem_block, NULL);
}

gboolean
(g_once_init_enter) (volatile void *location)
{
  gboolean mine;

  REAL (g_once_init_enter, OnceEnterFunc);
  mine = real_g_once_init_enter (location);
  __tsan_acquire ((void *) location);
  return mine;
}

void
(g_once_init_leave) (volatile void *location, gsize result)
{
  REAL (g_once_init_leave, OnceLeaveFunc);
  __tsan_release ((void *) location);
  real_g_once_init_leave (location, result);
}

#pragma GCC visibility pop
#else
/* ISO C forbids an empty translation unit. */
typedef int pge_tsan_glib_unused;
#endif
