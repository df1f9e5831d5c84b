/* tsan-glib.c — teaches ThreadSanitizer about GLib's locks.
 *
 * On Linux, GMutex and GCond are built on raw futexes, which TSan cannot
 * see, so every structure they guard looks racy to it. Under
 * -fsanitize=thread this file, linked into the test program, interposes
 * the GLib lock functions (the program's definitions win over
 * libglib's for the library and the tests alike), calls the real ones and
 * tells TSan about the acquire/release they imply. Without TSan it is
 * empty.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#if defined(__SANITIZE_THREAD__)
#define _GNU_SOURCE
#include <dlfcn.h>
#include <glib.h>

void __tsan_acquire (void *addr);
void __tsan_release (void *addr);

typedef void     (*MutexFunc)    (GMutex *);
typedef gboolean (*TrylockFunc)  (GMutex *);
typedef void     (*WaitFunc)     (GCond *, GMutex *);
typedef gboolean (*WaitUntilFunc) (GCond *, GMutex *, gint64);
typedef void     (*RecMutexFunc) (GRecMutex *);

/* dlsym() may run concurrently on first use; it returns the same value. */
#define REAL(name, type)                                     \
  static type real_##name;                                   \
  if (G_UNLIKELY (real_##name == NULL))                      \
    real_##name = (type) dlsym (RTLD_NEXT, #name)

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
#else
/* ISO C forbids an empty translation unit. */
typedef int pge_tsan_glib_unused;
#endif
