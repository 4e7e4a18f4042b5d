package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/valyala/fasthttp"
)

// Handler serves one endpoint call and returns the value placed under
// "result", or an error (an [*Error] chooses the status).
type Handler func(ctx context.Context, r *Request) (any, error)

// Endpoint is one registration: it becomes the HTTP route and the JSON-RPC
// method(s) together.
type Endpoint struct {
	// Path is the HTTP path, e.g. "/server/notifiers/list". Router
	// parameters such as "{root}" or "{path:*}" become arguments.
	Path string
	// Methods lists the HTTP methods; empty means GET.
	Methods []string
	// Handler serves the call on every transport.
	Handler Handler
	// Raw, when set, serves HTTP without the envelope and without argument
	// parsing (uploads, downloads, OctoPrint routes). Auth and CORS still
	// apply. Raw endpoints have no JSON-RPC method unless Handler is set too.
	Raw fasthttp.RequestHandler
	// RPCNames overrides the generated JSON-RPC method names, one per entry
	// of Methods. Use "-" to give a method no RPC name.
	RPCNames []string
	// MaxBodySize limits the request body in bytes; 0 means the server's
	// default for API calls.
	MaxBodySize int64
}

// methods returns the endpoint's HTTP methods, upper-cased, GET by default.
func (e *Endpoint) methods() []string {
	if len(e.Methods) == 0 {
		return []string{http.MethodGet}
	}
	out := make([]string, len(e.Methods))
	for i, m := range e.Methods {
		out[i] = strings.ToUpper(m)
	}
	return out
}

// RPCName returns the JSON-RPC method name Moonraker derives from an HTTP
// path: "/server/notifiers/list" → "server.notifiers.list"; when the path
// has several methods, the last segment is prefixed with the lower-cased
// method: "server.spoolman.get_spool_id".
func RPCName(path, method string, multi bool) string {
	name := strings.ReplaceAll(strings.Trim(path, "/"), "/", ".")
	if !multi {
		return name
	}
	i := strings.LastIndexByte(name, '.')
	return name[:i+1] + strings.ToLower(method) + "_" + name[i+1:]
}

// rpcTarget is what a JSON-RPC method name resolves to.
type rpcTarget struct {
	ep     *Endpoint
	method string
}

// validate checks an endpoint before it is registered.
func (e *Endpoint) validate() error {
	if !strings.HasPrefix(e.Path, "/") {
		return fmt.Errorf("endpoint path %q must start with /", e.Path)
	}
	if e.Handler == nil && e.Raw == nil {
		return fmt.Errorf("endpoint %s has no handler", e.Path)
	}
	if len(e.RPCNames) > 0 && len(e.RPCNames) != len(e.methods()) {
		return fmt.Errorf("endpoint %s: %d RPC names for %d methods", e.Path, len(e.RPCNames), len(e.methods()))
	}
	return nil
}
