// Package jobstate turns Klipper's print_stats updates into job events —
// started, paused, resumed, complete, error, cancelled, standby — exactly
// as Moonraker's job_state component does (../shared/spec/job-events.md),
// and publishes each with the print_stats before and after.
//
// # Rules
//
// The first print_stats (Init, or an Update without a baseline) is stored
// silently. On each Update whose state differs from the last known one,
// with "idle" meaning standby, complete, cancelled or error:
//
//	idle → printing                                 started
//	idle → standby                                  standby
//	idle → paused, complete, cancelled, error       started (inferred), then that state
//	printing → paused                               paused
//	paused → printing, same file, total_duration up resumed
//	paused → printing, otherwise                    started (a new job)
//	printing/paused → complete, cancelled, error    that state
//	printing/paused → standby                       standby
//
// Curr is Prev merged with the update; for an inferred started, Curr's
// state is the real new state.
//
// Beyond Moonraker: KlippyLost (Klippy disconnected, shut down or in
// error) while a job is printing or paused publishes "error" with Curr
// state "error" and a message such as "Klippy disconnected during the
// print of benchy.gcode" or "Klippy shut down during the print of
// benchy.gcode: Shutdown due to M112 command". Updates after that are
// applied silently until the next Init (the snapshot after reconnecting),
// so the owner never gets a spurious "started" for a job that was already
// reported lost. If only the socket broke and Klippy kept printing, the
// job's later completion is reported normally.
//
// # Guarantees
//
//   - Every subscriber receives every event published after it subscribed,
//     in the same order, through its own unbounded queue: a slow subscriber
//     never blocks the tracker or the others.
//   - Events are published synchronously by Update/KlippyLost: when they
//     return, the events are queued.
//   - All methods are safe for concurrent use.
//
// # Use with host/klippy
//
//	tr := jobstate.New(logger)
//	events := tr.Subscribe()
//	go jobstate.Follow(ctx, klippyClient, tr)
//	for ev := range events.Events() { … ev.Name, ev.Prev, ev.Curr … }
//
// Log lines: "job state initialized" (state), "job event" (event,
// filename), "job start inferred" (from, to), "job lost with Klippy"
// (message).
package jobstate
