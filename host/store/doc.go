// Package store keeps moonrelay's durable state in one bbolt file: the active
// Spoolman spool, filament usage not yet accepted by Spoolman, the
// notification outbox, the per-guest key/value data of WebAssembly plugins and
// the delivery history of each notifier.
//
// State lives in namespaces (bbolt buckets) addressed by name; a name may be
// nested with "/" ("guest/ntfy"). A [Namespace] maps string keys to bytes or
// JSON; a [Queue] holds items under increasing ids, for the outbox and the
// history rings. [Store.Update] groups writes to several namespaces and queues
// into one atomic commit.
//
// # Durability
//
// A write is on disk when the call that made it returns without error:
// [Namespace.Put], [Namespace.Delete], [Queue.Append] and the other writers
// each commit their own transaction, and [Store.Update] commits once when its
// function returns nil. Every commit is fsync'd (bbolt's NoSync is never set),
// and a commit is atomic: after kill -9 or a power cut the file holds either
// all of a transaction's writes or none of them. The file is checked for
// consistency when it is opened, so damage is reported at start-up, not in
// the middle of a print. RATIONALE.md explains the choices and gives measured
// commit latencies.
//
// # Concurrency
//
// A [Store] and the [Namespace] and [Queue] values it returns are safe for
// concurrent use. Readers run in parallel with each other and with the
// writer, except for a moment while the file grows; writers are serialised,
// one commit at a time. Only one process may open a file: a
// second [Open] of the same path fails with [ErrLocked] after the lock timeout.
//
// # Ordering
//
// [Namespace.ForEach] visits keys in byte order. [Queue.Append] hands out ids
// that only grow, never reused even after the items are deleted or the process
// restarts, and [Queue.ForEach] visits items in id order, which is the order
// they were appended.
package store
