// Package integration holds end-to-end tests: the real moonrelay binary or
// the real assembled app, on loopback, with real clients. Slow tests are
// skipped with -short.
package integration
