package server

import (
	"errors"
	"fmt"
	"net/http"
)

// Error is an error with the HTTP-style status Moonraker reports for it. A
// handler returns one to choose the status; any other error is a 500.
type Error struct {
	// Code is the HTTP status code, e.g. 400 or 404.
	Code int
	// Message is what the client sees. It should tell a printer owner what
	// is wrong and how to fix it.
	Message string
	// Err is an optional wrapped cause; it is logged, never sent.
	Err error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the wrapped cause.
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given status and formatted message.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadRequest returns a 400 error.
func BadRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, format, args...)
}

// NotFound returns a 404 error.
func NotFound(format string, args ...any) *Error { return Errorf(http.StatusNotFound, format, args...) }

// asError maps any error to the status and message sent to a client.
func asError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: http.StatusInternalServerError, Message: "Internal Server Error: " + err.Error(), Err: err}
}

// JSON-RPC 2.0 error codes.
const (
	rpcParseError     = -32700
	rpcInvalidRequest = -32600
	rpcMethodNotFound = -32601
	rpcInvalidParams  = -32602
)

// rpcCode maps an HTTP-style status to the JSON-RPC code Moonraker sends:
// the status itself, except 404 → -32601 and 401 → -32602.
func rpcCode(status int) int {
	switch status {
	case http.StatusNotFound:
		return rpcMethodNotFound
	case http.StatusUnauthorized:
		return rpcInvalidParams
	}
	return status
}
