/* TEMPORARY compile stub */
#include "config.h"
#include "transaction-private.h"
void pge_transaction_submit (PgeTransaction *tx, PgeJob *job) { (void) tx; pge_job_fail (job, PGE_ERROR_FAILED, "x"); }
PgeTransaction *pge_transaction_try_ref (PgeTransaction *tx) { return tx; }
void pge_transaction_unref (PgeTransaction *tx) { (void) tx; }
