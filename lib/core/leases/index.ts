/** The family-neutral lease engine (see engine.ts). */
export { LeaseEngine, endOf, type LeaseEngineOptions, type UndoRequest } from './engine';
export { LEASES_NS, UNDO_NS, LeaseStore } from './lease-store';
export { compareByKey, hasDrift, leaseHasEnded, type DriftReport, type LeaseTimes } from './compare';
export type { Drift, ReconcileOptions } from './reconciler';
export { withoutUndefined } from './undo-gate';
export type { Failure, LeaseFamily, LeaseRecord, LeaseStatus, UndoIntent, UndoWhy } from './types';
