// Package klippy is moonrelay's client for Klippy's API socket (Klipper's
// host process, [klippy] uds_address): requests, one merged status
// subscription fanned out to many in-process subscribers, G-code output,
// remote methods called by Klipper macros, and reconnection forever.
//
// # Protocol
//
// Messages are JSON objects, each followed by the byte 0x03, on a Unix
// stream socket (klippy/webhooks.py). Requests are {"id", "method",
// "params"}; replies are {"id", "result"} or {"id", "error": {"error":
// "WebRequestError", "message"}}. Status pushes and remote method calls
// have no id: {"method": <the response_template method>, "params": ...}.
//
// # Life cycle
//
// New (no side effects) → RegisterRemoteMethod, Subscribe → Start(ctx) →
// … → Close. On each connection the client sends info with client_info,
// polls info every PollInterval while Klippy reports "startup", and once
// it is ready registers the remote methods, subscribes to G-code output
// and sends one objects/subscribe with the union of every Subscription's
// objects (webhooks always included, to follow Klippy's state), as
// Moonraker's klippy_connection does. A lost connection is retried after
// ReconnectMin, doubling to ReconnectMax, forever.
//
// # Guarantees
//
//   - A lost connection fails every request in flight at once with an
//     error matching ErrNotConnected, and moves the state to
//     "disconnected".
//   - A Klippy error reply is an *Error carrying Klippy's message
//     unchanged; it matches ErrNotReady when Klippy was not ready.
//   - Each Subscription receives, in the order Klippy sent them: a
//     StateChange with the current state first; a Snapshot of all its
//     fields after every (re)connection once Klippy is ready; then Changes
//     holding only its own objects and fields that changed. A state change
//     carried by a status push is delivered before that push's Changes.
//     Updates wait in a per-subscription unbounded queue: a slow
//     subscriber never delays the socket or the other subscribers.
//   - Remote method handlers run one at a time in arrival order.
//   - Nothing outlives Close; every method is safe for concurrent use.
//
// # Example
//
//	c := klippy.New(klippy.Options{SocketPath: sock, Logger: logger})
//	_ = c.RegisterRemoteMethod("notify", func(ctx context.Context, p map[string]any) error {
//		return notifiers.Fire(ctx, p["name"], p["message"])
//	})
//	sub := c.Subscribe(map[string][]string{"print_stats": nil, "toolhead": {"position"}})
//	if err := c.Start(ctx); err != nil { … }
//	defer c.Close()
//	for u := range sub.Updates() { … }
//
// # Log lines
//
// One line per change, never per retry: "klippy state changed" (state,
// message), "still disconnected from Klippy" when the reason changes,
// "register remote method with Klippy" and "remote method from Klippy
// failed" (method, err), "a klippy subscriber is falling behind" (queued).
package klippy
