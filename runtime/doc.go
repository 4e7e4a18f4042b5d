// Package runtime runs moonrelay's WebAssembly guests (notification
// transports and Spoolman hooks) on wazero, sandboxed and size- and
// time-limited. It knows nothing about notifiers or Spoolman: callers hand
// it a request and a [Call] and get a typed result or an [*Error].
//
// # Life cycle
//
//	e, err := runtime.New(ctx, runtime.Options{CacheDir: dataPath + "/cache/wasm"})
//	defer e.Close(ctx)
//	err = e.LoadDir(ctx, builtinDir, dataPath+"/plugins") // every *.wasm; errors name the files
//	go e.Warm(ctx)                                        // optional: compile before first use
//	g, ok := e.ForURL("ntfy://ntfy.sh/topic")
//	res, err := e.Send(ctx, g.Name, sdk.SendRequest{URL: …, Body: …}, runtime.Call{Scope: "notifier.phone"})
//
// # Guarantees
//
//   - Isolation: a guest has no file system, sockets, environment or
//     arguments; it reaches the network only through the moonrelay
//     http_request import, under the policy of [Limits] (allowed hosts,
//     address classes checked at dial time, redirects re-checked, size caps,
//     timeouts, a request budget per call).
//   - Instances are reused only by calls with the same scope (and, for
//     Send, the same URL), so one notifier's data or credentials never
//     reach another's call. An instance is closed after any failed call.
//   - Each call has a deadline (Limits.CallTimeout) that closes the module
//     when it passes; the error then answers errors.Is(err,
//     context.DeadlineExceeded). Memory is capped per instance.
//   - A failed call never affects the engine: the next call gets a healthy
//     instance.
//
// # Concurrency
//
// An Engine is safe for concurrent use. Calls to one guest run in parallel
// up to Limits.MaxInstances; more wait. Close waits for background work.
//
// The guest ABI and the reasons behind it are in RATIONALE.md.
package runtime
