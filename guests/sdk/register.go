package sdk

import (
	"encoding/json"
	"fmt"
	"slices"
)

// Transport delivers messages for the schemes in its manifest.
type Transport interface {
	// Send delivers one message. It runs with a deadline enforced by the
	// host; report failures through the result, not by panicking.
	Send(req *SendRequest) SendResult
}

// Validator is implemented by transports that check a notifier URL more
// thoroughly than the default (scheme known, URL parses).
type Validator interface {
	Validate(req *ValidateRequest) ValidateResult
}

// TransportFunc adapts a function to [Transport].
type TransportFunc func(req *SendRequest) SendResult

// Send calls f.
func (f TransportFunc) Send(req *SendRequest) SendResult { return f(req) }

// Hook handles Spoolman events.
type Hook interface {
	Handle(req *HookRequest) HookResult
}

// registration is the guest's one registered handler. It is the SDK's only
// package-level state besides the ABI buffers, written once from init.
var registration struct {
	manifest  Manifest
	transport Transport
	hook      Hook
}

// RegisterTransport registers the guest's transport; call it once, from init.
// It sets m.Kind to KindTransport and adds "http" to m.Capabilities. It
// panics when called twice, which fails the guest at load.
func RegisterTransport(m Manifest, t Transport) {
	m.Kind = KindTransport
	if !slices.Contains(m.Capabilities, "http") {
		m.Capabilities = append(m.Capabilities, "http")
	}
	register(m, t, nil)
}

// RegisterHook registers the guest's Spoolman hook; call it once, from init.
func RegisterHook(m Manifest, h Hook) {
	m.Kind = KindSpoolmanHook
	register(m, nil, h)
}

func register(m Manifest, t Transport, h Hook) {
	if registration.transport != nil || registration.hook != nil {
		panic("sdk: guest registered twice")
	}
	if t == nil && h == nil {
		panic("sdk: nil handler")
	}
	registration.manifest, registration.transport, registration.hook = m, t, h
}

// Describe returns the manifest JSON the guest reports from mr_describe.
func describe() []byte {
	b, err := json.Marshal(registration.manifest)
	if err != nil {
		return []byte(`{}`)
	}
	return b
}

// handleSend decodes a SendRequest, calls the transport and encodes the
// result. Errors in the envelope become failed results.
func handleSend(in []byte) []byte {
	var res SendResult
	var req SendRequest
	switch {
	case registration.transport == nil:
		res = FailPermanent("guest is not a transport")
	case !decodeSendRequest(in, &req) && func() bool { req = SendRequest{}; return json.Unmarshal(in, &req) != nil }():
		res = FailPermanent("guest could not decode the send request")
	default:
		res = registration.transport.Send(&req)
		if res.Status == "" {
			res.Status = StatusFailed
			if res.OK {
				res.Status = StatusSent
			}
		}
	}
	return appendSendResult(nil, res)
}

// handleValidate decodes a ValidateRequest and calls the transport's
// Validate, or the default check.
func handleValidate(in []byte) []byte {
	var req ValidateRequest
	var res ValidateResult
	if err := json.Unmarshal(in, &req); err != nil {
		res = ValidateResult{Error: "guest could not decode the validate request"}
	} else if v, ok := registration.transport.(Validator); ok {
		res = v.Validate(&req)
	} else {
		res = DefaultValidate(registration.manifest, req.URL)
	}
	b, _ := json.Marshal(res)
	return b
}

// handleHook decodes a HookRequest and calls the hook.
func handleHook(in []byte) []byte {
	var req HookRequest
	var res HookResult
	switch {
	case registration.hook == nil:
		res = HookResult{Error: "guest is not a spoolman hook"}
	case json.Unmarshal(in, &req) != nil:
		res = HookResult{Error: "guest could not decode the hook request"}
	default:
		res = registration.hook.Handle(&req)
	}
	b, _ := json.Marshal(res)
	return b
}

// DefaultValidate is the check used when a transport has no Validate: the
// URL parses and its scheme is one of the manifest's. Hosts lists the URL's
// host when m.UserHost is set, then m.Hosts.
func DefaultValidate(m Manifest, rawURL string) ValidateResult {
	u, err := ParseURL(rawURL)
	if err != nil {
		return ValidateResult{Error: err.Error()}
	}
	if !slices.Contains(m.Schemes, u.Scheme) && !matchesNative(m.NativeURLs, rawURL) {
		return ValidateResult{Error: fmt.Sprintf("scheme %q is not handled by %s", u.Scheme, m.Name)}
	}
	var hosts []string
	if m.UserHost && u.Host != "" {
		hosts = append(hosts, u.Host)
	}
	hosts = append(hosts, m.Hosts...)
	return ValidateResult{OK: true, Hosts: hosts, RedactedURL: u.Redacted()}
}

func matchesNative(prefixes []string, raw string) bool {
	for _, p := range prefixes {
		if len(raw) >= len(p) && raw[:len(p)] == p {
			return true
		}
	}
	return false
}
