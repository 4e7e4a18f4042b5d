// Package app assembles a running moonrelay from a loaded config: the data
// folder, logging, the API key, the durable store, the HTTP server and the
// components, started front to back and closed back to front.
//
// # Guarantees
//
//   - New either returns a ready App or releases everything it opened.
//   - Close stops accepting requests, closes websockets with 1001, closes
//     components in reverse order and the store last, so a write made by a
//     component while it closes is still saved. It is safe to call twice.
//   - A component section that fails to load is skipped and reported in
//     server.info warnings; only a bad listen address, data folder or store
//     stops start-up.
package app
