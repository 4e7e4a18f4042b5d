package runtime

import (
	"errors"
	"fmt"
)

// ErrUnknownGuest is returned when no loaded guest has the requested name.
var ErrUnknownGuest = errors.New("unknown guest")

// ErrClosed is returned by calls on a closed Engine.
var ErrClosed = errors.New("runtime: engine closed")

// Error is a failed guest call: a trap, timeout, panic, memory exhaustion,
// malformed result or misuse of a host import. The server keeps running and
// the next call gets a healthy instance.
//
// errors.Is(err, context.DeadlineExceeded) is true when the call's deadline
// closed the module, and errors.Is(err, context.Canceled) when the caller's
// context was canceled, as with wazero's sys.ExitError.
type Error struct {
	// Guest is the guest's name, File the .wasm it was loaded from.
	Guest string
	File  string
	// Export is the export being called, e.g. "mr_send".
	Export string
	// Reason says what the guest did, for the owner.
	Reason string
	// Err is the underlying error (a wazero *sys.ExitError for a closed
	// module, a trap error with its wasm stack trace), or nil.
	Err error
}

// Error formats as "file: export: reason".
func (e *Error) Error() string { return fmt.Sprintf("%s: %s: %s", e.File, e.Export, e.Reason) }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }
