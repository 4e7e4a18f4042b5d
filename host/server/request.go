package server

import (
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"

	"github.com/valyala/fasthttp"
)

// Transport tells how a request arrived.
type Transport int

// The transports a request can arrive on.
const (
	TransportHTTP      Transport = iota // a plain HTTP request to the endpoint's path
	TransportWebsocket                  // JSON-RPC over /websocket
	TransportRPCHTTP                    // JSON-RPC over POST /server/jsonrpc
)

// String names the transport for logs.
func (t Transport) String() string {
	switch t {
	case TransportHTTP:
		return "http"
	case TransportWebsocket:
		return "websocket"
	case TransportRPCHTTP:
		return "jsonrpc-http"
	}
	return "unknown"
}

// Request is one call of an endpoint, whatever transport carried it. Its
// arguments are the merged query string, body and path parameters (HTTP) or
// the JSON-RPC params object.
//
// # Notes
//
//   - A Request must not be kept after the handler returns; copy what is needed.
//   - JSON numbers are kept as [json.Number] so that integers and floats
//     convert exactly.
type Request struct {
	// Method is the HTTP method the call stands for (GET, POST, DELETE…);
	// for JSON-RPC it is derived from the method name.
	Method string
	// Path is the endpoint's registered path, e.g. /server/info.
	Path string
	// Args holds the arguments by name.
	Args map[string]any
	// Transport is how the request arrived.
	Transport Transport
	// RemoteAddr is the client's IP address.
	RemoteAddr netip.Addr
	// Conn is the websocket the request arrived on, nil otherwise.
	Conn *Conn
	// HTTP is the raw fasthttp request for HTTP transports, nil otherwise.
	// It is valid only until the handler returns.
	HTTP *fasthttp.RequestCtx
}

// Has reports whether the argument is present (even if null).
func (r *Request) Has(key string) bool {
	_, ok := r.Args[key]
	return ok
}

// Value returns the raw argument value.
func (r *Request) Value(key string) (any, bool) {
	v, ok := r.Args[key]
	return v, ok
}

func missing(key string) *Error { return BadRequest("No data for argument: %s", key) }

func convErr(key, typ string, v any) *Error {
	return BadRequest("Unable to convert argument [%s] to %s: value received: %s", key, typ, describe(v))
}

// describe prints a received value the way a user wrote it.
func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case string:
		return t
	case json.Number:
		return t.String()
	default:
		b, err := json.Marshal(t)
		if err != nil {
			return fmt.Sprint(t)
		}
		return string(b)
	}
}

// String returns a required string argument. Numbers and booleans are
// accepted and formatted, as Moonraker's str() does; null is an error.
func (r *Request) String(key string) (string, error) {
	v, ok := r.Args[key]
	if !ok {
		return "", missing(key)
	}
	return toString(key, v)
}

// StringOr returns a string argument, or def when it is absent.
func (r *Request) StringOr(key, def string) (string, error) {
	v, ok := r.Args[key]
	if !ok {
		return def, nil
	}
	return toString(key, v)
}

// NullableString returns nil when the argument is absent or null.
func (r *Request) NullableString(key string) (*string, error) {
	v, ok := r.Args[key]
	if !ok || v == nil {
		return nil, nil
	}
	s, err := toString(key, v)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

func toString(key string, v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	case bool:
		return strconv.FormatBool(t), nil
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64), nil
	case int:
		return strconv.Itoa(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	}
	return "", convErr(key, "string", v)
}

// Int returns a required integer argument. Like Python's int(): a float is
// truncated, true is 1, a string must hold a whole number.
func (r *Request) Int(key string) (int64, error) {
	v, ok := r.Args[key]
	if !ok {
		return 0, missing(key)
	}
	return toInt(key, v)
}

// IntOr returns an integer argument, or def when it is absent.
func (r *Request) IntOr(key string, def int64) (int64, error) {
	v, ok := r.Args[key]
	if !ok {
		return def, nil
	}
	return toInt(key, v)
}

// NullableInt returns nil when the argument is absent or null.
func (r *Request) NullableInt(key string) (*int64, error) {
	v, ok := r.Args[key]
	if !ok || v == nil {
		return nil, nil
	}
	n, err := toInt(key, v)
	if err != nil {
		return nil, err
	}
	return &n, nil
}

func toInt(key string, v any) (int64, error) {
	switch t := v.(type) {
	case json.Number:
		if n, err := t.Int64(); err == nil {
			return n, nil
		}
		if f, err := t.Float64(); err == nil && !math.IsInf(f, 0) && math.Abs(f) < 1<<63 {
			return int64(f), nil
		}
	case float64:
		if !math.IsNaN(t) && math.Abs(t) < 1<<63 {
			return int64(t), nil
		}
	case int:
		return int64(t), nil
	case int64:
		return t, nil
	case bool:
		if t {
			return 1, nil
		}
		return 0, nil
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, convErr(key, "int", v)
}

// Float returns a required number argument; numeric strings are accepted.
func (r *Request) Float(key string) (float64, error) {
	v, ok := r.Args[key]
	if !ok {
		return 0, missing(key)
	}
	return toFloat(key, v)
}

// FloatOr returns a number argument, or def when it is absent.
func (r *Request) FloatOr(key string, def float64) (float64, error) {
	v, ok := r.Args[key]
	if !ok {
		return def, nil
	}
	return toFloat(key, v)
}

func toFloat(key string, v any) (float64, error) {
	switch t := v.(type) {
	case json.Number:
		if f, err := t.Float64(); err == nil {
			return f, nil
		}
	case float64:
		return t, nil
	case int:
		return float64(t), nil
	case int64:
		return float64(t), nil
	case bool:
		if t {
			return 1, nil
		}
		return 0, nil
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(t), 64); err == nil {
			return f, nil
		}
	}
	return 0, convErr(key, "float", v)
}

// Bool returns a required boolean argument. Only true/false or the strings
// "true"/"false" (any case) are accepted, as in Moonraker.
func (r *Request) Bool(key string) (bool, error) {
	v, ok := r.Args[key]
	if !ok {
		return false, missing(key)
	}
	return toBool(key, v)
}

// BoolOr returns a boolean argument, or def when it is absent.
func (r *Request) BoolOr(key string, def bool) (bool, error) {
	v, ok := r.Args[key]
	if !ok {
		return def, nil
	}
	return toBool(key, v)
}

func toBool(key string, v any) (bool, error) {
	switch t := v.(type) {
	case bool:
		return t, nil
	case string:
		switch strings.ToLower(t) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, convErr(key, "bool", v)
}

// Object returns a required JSON object argument.
func (r *Request) Object(key string) (map[string]any, error) {
	v, ok := r.Args[key]
	if !ok {
		return nil, missing(key)
	}
	return toObject(key, v)
}

// ObjectOr returns an object argument, or def when it is absent or null.
func (r *Request) ObjectOr(key string, def map[string]any) (map[string]any, error) {
	v, ok := r.Args[key]
	if !ok || v == nil {
		return def, nil
	}
	return toObject(key, v)
}

func toObject(key string, v any) (map[string]any, error) {
	switch t := v.(type) {
	case map[string]any:
		return t, nil
	case string:
		// A query string can carry an object as JSON text.
		var m map[string]any
		if err := decodeJSON([]byte(t), &m); err == nil && m != nil {
			return m, nil
		}
	}
	return nil, convErr(key, "object", v)
}
