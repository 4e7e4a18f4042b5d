// Package server is moonrelay's front door: the fasthttp server, the endpoint
// registry, the Moonraker {"result": ...} envelope, JSON-RPC 2.0 over
// /websocket and POST /server/jsonrpc, authorization, CORS and the websocket
// client registry with its notify_* broadcasts.
//
// # One registration, every transport
//
// A component registers an [Endpoint] once — path, HTTP methods, handler —
// and it becomes an HTTP route and a JSON-RPC method named the way Moonraker
// names them: /server/notifiers/list → server.notifiers.list; a path with GET
// and POST → server.spoolman.get_spool_id and server.spoolman.post_spool_id.
// Handlers read typed arguments from a [Request] with Moonraker's conversion
// rules, whatever the transport.
//
// # Guarantees
//
//   - Every error reaches the client in Moonraker's shape: HTTP status plus
//     {"error": {"code", "message"}}, or a JSON-RPC error object. A handler
//     panic becomes a 500 with a plain message; no stack trace leaves the
//     process.
//   - Authorization runs before any handler and before a websocket upgrade.
//   - A broadcast is encoded once and queued to every websocket; a client
//     whose queue is full is disconnected rather than slowing the others.
//   - Endpoints are registered before Start; every other method is safe for
//     concurrent use.
package server
