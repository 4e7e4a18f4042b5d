package klippy

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

var (
	// ErrNotConnected is returned (wrapped) by requests made while there is
	// no connection to Klippy, and by requests whose connection was lost
	// before Klippy replied.
	ErrNotConnected = errors.New("not connected to Klippy")
	// ErrNotReady matches, through errors.Is, a Klippy error reply given
	// while Klippy was not in the ready state (startup, error or shutdown):
	// the request failed because of the printer's state, not the request.
	ErrNotReady = errors.New("not ready (Klippy is starting up, in error or shut down)")
	// ErrClosed is returned (wrapped) by requests made after Close.
	ErrClosed = errors.New("klippy client closed")
)

// Error is an error reply from Klippy: {"error": {"error":
// "WebRequestError", "message": ...}}. For gcode/script it carries the
// G-code error, e.g. "Must home axis first: 10.000 0.000 0.000 [0.000]".
type Error struct {
	// Method is the request's method, e.g. "gcode/script".
	Method string
	// Message is Klippy's message, unchanged.
	Message string
	// State is Klippy's state when the reply arrived.
	State State
}

// Error returns "klippy: METHOD: MESSAGE".
func (e *Error) Error() string { return "klippy: " + e.Method + ": " + e.Message }

// Is reports whether target is ErrNotReady and Klippy was not ready when it
// refused the request.
func (e *Error) Is(target error) bool {
	return target == ErrNotReady && e.State != StateReady
}

// dialError turns a failed connect into a sentence a printer owner can act on.
func dialError(path string, err error) string {
	var hint string
	switch {
	case errors.Is(err, fs.ErrNotExist):
		hint = "no such file — is Klipper running, and does [klippy] uds_address match its -a option?"
	case errors.Is(err, syscall.ECONNREFUSED):
		hint = "connection refused — the socket file exists but nothing listens on it; is Klipper running?"
	case errors.Is(err, fs.ErrPermission):
		hint = "permission denied — run moonrelay as the user that runs Klipper, or give it access to the socket"
	default:
		hint = err.Error()
	}
	return fmt.Sprintf("klippy: cannot connect to %s: %s", path, hint)
}
