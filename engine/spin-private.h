/* spin-private.h — short spins before a thread sleeps.
 *
 * On the machines the engine is written for, a futex sleep and the
 * wake-up that ends it cost two system calls and two context switches,
 * several microseconds; what a thread waits for is often a few hundred
 * nanoseconds away (a lock held for a list operation, the next answer of
 * a pipeline being read). Watching for it a moment first saves that.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

/* Tells the CPU this is a spin: the sibling hyperthread gets the core,
 * and the loop does not flood the memory bus. */
static inline void
pge_cpu_relax (void)
{
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause ();
#elif defined(__aarch64__)
  __asm__ __volatile__ ("yield");
#endif
}

/* How many times pge_mutex_lock_spin() looks before it sleeps: about a
 * microsecond, several times what the locks it serves are held for. */
#define PGE_MUTEX_SPINS 16

/* g_mutex_lock() for a lock held only for short list and counter
 * updates, taken on every query by several threads at once: GMutex
 * sleeps at the first sign of contention, and the holder, running on
 * another core, lets go long before the sleeper could be woken. A holder
 * that was preempted is not waited for long: after PGE_MUTEX_SPINS looks
 * the caller sleeps as before. */
static inline void
pge_mutex_lock_spin (GMutex *mutex)
{
  for (guint i = 0; i < PGE_MUTEX_SPINS; i++)
    {
      if (g_mutex_trylock (mutex))
        return;
      pge_cpu_relax ();
    }
  g_mutex_lock (mutex);
}
