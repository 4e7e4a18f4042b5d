// Package sdk is the Go package a moonrelay guest imports: it declares the
// guest's manifest, registers its handler and talks to the host.
//
// A guest is an ordinary Go main package built with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o ntfy.wasm ./guests/transports/ntfy
//
// It registers itself from init and leaves main empty:
//
//	func init() {
//		sdk.RegisterTransport(sdk.Manifest{Name: "ntfy", Version: "1.0.0", Schemes: []string{"ntfy", "ntfys"}, UserHost: true}, ntfy{})
//	}
//
//	func main() {}
//
// The SDK owns every WebAssembly export of the guest (mr_abi, mr_alloc,
// mr_describe, mr_validate, mr_send, mr_hook; see runtime/RATIONALE.md), so a
// guest author only writes Send (and optionally Validate) for a transport, or
// Handle for a Spoolman hook.
//
// # Host calls
//
// [HTTP], [SMTP], [Log], [Attachment], [KVGet], [KVSet] and [Now] call the host
// module "moonrelay". The host enforces the network policy: only the notifier
// URL's own host (when the manifest sets UserHost) and the hosts listed in
// Manifest.Hosts are reachable (for SMTP also the URL's ?smtp= host),
// redirects are followed only within them, and requests and responses are
// size- and time-limited. SMTP needs the "smtp" capability in the manifest. In a non-wasm build
// (unit tests of a guest's pure code) the host calls return [ErrNoHost].
//
// # Pure helpers
//
// [ParseURL] parses Apprise-style notification URLs, and [Sent], [Retry],
// [Fail] and [FailPermanent] build send results. They work in every build.
//
// # Concurrency
//
// A guest instance serves one call at a time; the SDK keeps its buffers in
// package variables and is not safe for concurrent use by goroutines the
// guest starts itself.
package sdk
