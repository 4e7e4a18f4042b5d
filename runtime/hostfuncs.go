package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"unicode/utf8"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// hostModule is the name of the module the host exports to guests.
const hostModule = "moonrelay"

// hostSigs are the signatures of the host's imports, checked at load.
var hostSigs = map[string]sig{
	"log":             {[]api.ValueType{i32, i32, i32}, nil},
	"now":             {nil, []api.ValueType{i64}},
	"http_request":    {[]api.ValueType{i32, i32, i32, i32, i32, i32}, []api.ValueType{i64}},
	"http_last":       {[]api.ValueType{i32, i32}, []api.ValueType{i32}},
	"last_error":      {[]api.ValueType{i32, i32}, []api.ValueType{i32}},
	"attachment_read": {[]api.ValueType{i32, i64, i32, i32}, []api.ValueType{i32}},
	"kv_get":          {[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
	"kv_set":          {[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
	"smtp_send":       {[]api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}},
}

// Return values of attachment_read, kv_get and kv_set below zero.
const (
	resultMissing int32 = -1 // no such key or attachment
	resultError   int32 = -2 // host failure or limit; reason from last_error
)

// i32Result encodes a signed i32 result on the wasm stack.
func i32Result(v int32) uint64 { return uint64(uint32(v)) }

// maxLogLine caps one log import message, in bytes.
const maxLogLine = 4 << 10

// maxKVKey caps a kv key, in bytes.
const maxKVKey = 256

// hostFault is a guest's misuse of an import (a pointer outside its
// memory); it fails the call.
type hostFault struct{ msg string }

func (f *hostFault) Error() string { return f.msg }

// instantiateHostModule defines the moonrelay module in r. Each function
// finds its call's state in the context.
func instantiateHostModule(ctx context.Context, r wazero.Runtime, e *Engine) error {
	b := r.NewHostModuleBuilder(hostModule)
	def := func(name string, fn api.GoModuleFunc) {
		s := hostSigs[name]
		b.NewFunctionBuilder().WithGoModuleFunction(fn, s.params, s.results).WithName(name).Export(name)
	}
	def("log", hostLog)
	def("now", func(ctx context.Context, _ api.Module, stack []uint64) {
		stack[0] = uint64(e.clock().UnixNano())
	})
	def("http_request", hostHTTPRequest)
	def("http_last", hostHTTPLast)
	def("last_error", hostLastError)
	def("attachment_read", hostAttachmentRead)
	def("kv_get", hostKVGet)
	def("kv_set", hostKVSet)
	def("smtp_send", hostSMTPSend)
	if _, err := b.Instantiate(ctx); err != nil {
		return fmt.Errorf("runtime: host module: %w", err)
	}
	return nil
}

// read returns guest memory [ptr, ptr+n) or panics with a hostFault naming
// the import and argument; the call then fails.
func read(m api.Module, fn, what string, ptr, n uint32) []byte {
	b, ok := m.Memory().Read(ptr, n)
	if !ok {
		panic(&hostFault{fmt.Sprintf("%s.%s: %s (ptr %#x, len %d) is outside the guest's memory", hostModule, fn, what, ptr, n)})
	}
	return b
}

// writeIfFits copies src to guest memory [out, out+outCap) when it fits and
// returns len(src): the guest grows its buffer and asks again otherwise.
func writeIfFits(m api.Module, fn string, out, outCap uint32, src []byte) uint32 {
	if uint32(len(src)) <= outCap {
		copy(read(m, fn, "out", out, uint32(len(src))), src)
	}
	return uint32(len(src))
}

// hostLog is moonrelay.log: one line to the server log.
//
//	log(level u32, msg_ptr u32, msg_len u32)
//
// level is 0 debug, 1 info, 2 warn, 3 error (higher is error). The message
// is logged with the guest's and the call's logger keys, cut at 4 KiB, and
// dropped once the call's log budget (Limits.MaxLog) is spent.
func hostLog(ctx context.Context, m api.Module, stack []uint64) {
	level, ptr, n := uint32(stack[0]), uint32(stack[1]), uint32(stack[2])
	msg := read(m, "log", "msg", ptr, n)
	if len(msg) > maxLogLine {
		msg = msg[:maxLogLine]
	}
	cs := callStateFrom(ctx)
	if cs == nil || !cs.spendLog(len(msg)) {
		return
	}
	l := slog.LevelError
	switch level {
	case 0:
		l = slog.LevelDebug
	case 1:
		l = slog.LevelInfo
	case 2:
		l = slog.LevelWarn
	}
	cs.logger.Log(ctx, l, string(msg))
}

// hostHTTPRequest is moonrelay.http_request: one HTTP request under the
// call's network policy.
//
//	http_request(req_ptr, req_len, body_ptr, body_len, out_ptr, out_cap u32) u64
//
// req is JSON (sdk.HTTPRequest): {method, url, headers: [[name, value]…],
// timeout_ms, body_attachment?, multipart?}. The body is the raw bytes at
// body_ptr unless body_attachment or multipart is set.
//
// The result packs code<<32 | needed. code is the HTTP status, or a host
// error ≥ 600 whose reason last_error returns:
//
//	601 policy denied: scheme, host, resolved address or redirect not allowed
//	602 timeout: the request took longer than min(timeout_ms, RequestTimeout)
//	603 too large: the response body is over MaxResponseBody
//	604 network: DNS, connect, TLS or protocol failure
//	605 bad request: malformed JSON, body over MaxRequestBody, bad attachment
//	606 budget exhausted: more than MaxRequests requests in this call
//
// For a status, the response is written to out when needed ≤ out_cap, as a
// 4-byte little-endian head length H, H bytes of head JSON {"status": 200,
// "headers": {"lower-case-name": "v1, v2"}}, then the raw body; when it
// does not fit nothing is written, and http_last copies it later. Example:
// a 200 response of 512 bytes in total returns 200<<32 | 512 =
// 0x000000c8_00000200.
func hostHTTPRequest(ctx context.Context, m api.Module, stack []uint64) {
	reqJSON := read(m, "http_request", "req", uint32(stack[0]), uint32(stack[1]))
	body := read(m, "http_request", "body", uint32(stack[2]), uint32(stack[3]))
	out, outCap := uint32(stack[4]), uint32(stack[5])
	cs := callStateFrom(ctx)
	if cs == nil {
		stack[0] = uint64(codeNoCapability) << 32
		return
	}
	resp, code := cs.doHTTP(ctx, reqJSON, body)
	if code >= 600 {
		stack[0] = uint64(code) << 32
		return
	}
	stack[0] = uint64(code)<<32 | uint64(writeIfFits(m, "http_request", out, outCap, resp))
}

// hostHTTPLast is moonrelay.http_last: copy the last response again.
//
//	http_last(out_ptr, out_cap u32) u32
//
// Writes the last http_request response (same layout) when it fits and
// returns its length; 0 when this call made no successful request.
func hostHTTPLast(ctx context.Context, m api.Module, stack []uint64) {
	var last []byte
	if cs := callStateFrom(ctx); cs != nil {
		last = cs.lastResp
	}
	stack[0] = uint64(writeIfFits(m, "http_last", uint32(stack[0]), uint32(stack[1]), last))
}

// hostLastError is moonrelay.last_error: why the last import failed.
//
//	last_error(out_ptr, out_cap u32) u32
//
// Writes the UTF-8 reason of the last host error code or negative result
// of this call when it fits, and returns its length (0 when none).
func hostLastError(ctx context.Context, m api.Module, stack []uint64) {
	var msg string
	if cs := callStateFrom(ctx); cs != nil {
		msg = cs.lastErr
	}
	stack[0] = uint64(writeIfFits(m, "last_error", uint32(stack[0]), uint32(stack[1]), []byte(msg)))
}

// hostAttachmentRead is moonrelay.attachment_read: bytes of an attachment
// the host fetched before the call.
//
//	attachment_read(id u32, offset u64, buf_ptr u32, buf_cap u32) i32
//
// Reads up to buf_cap bytes at offset of attachment id (as listed in the
// request, from 1) into buf and returns the count; 0 at the end; -1 when
// there is no such attachment; -2 on a read error (see last_error).
func hostAttachmentRead(ctx context.Context, m api.Module, stack []uint64) {
	id, off := uint32(stack[0]), int64(stack[1])
	buf := read(m, "attachment_read", "buf", uint32(stack[2]), uint32(stack[3]))
	cs := callStateFrom(ctx)
	if cs == nil || id == 0 || int(id) > len(cs.attachments) || off < 0 {
		stack[0] = i32Result(resultMissing)
		return
	}
	n, err := cs.attachments[id-1].reader().ReadAt(buf, off)
	if err != nil && !errors.Is(err, io.EOF) {
		cs.lastErr = fmt.Sprintf("attachment %d: %v", id, err)
		stack[0] = i32Result(resultError)
		return
	}
	stack[0] = i32Result(int32(n))
}

// hostKVGet is moonrelay.kv_get: read a value of the guest's store.
//
//	kv_get(key_ptr, key_len, buf_ptr, buf_cap u32) i32
//
// The key (at most 256 bytes) is scoped to this guest and the call's
// scope. Returns -1 when the key is missing, -2 on a store error (see
// last_error), else the value's length, writing it to buf only if it fits.
func hostKVGet(ctx context.Context, m api.Module, stack []uint64) {
	key := read(m, "kv_get", "key", uint32(stack[0]), uint32(stack[1]))
	out, outCap := uint32(stack[2]), uint32(stack[3])
	cs := callStateFrom(ctx)
	if cs == nil {
		stack[0] = i32Result(resultError)
		return
	}
	k, ok := cs.kvKey(key)
	if !ok {
		stack[0] = i32Result(resultError)
		return
	}
	v, found, err := cs.e.kv.Get(ctx, cs.g.info.Name, k)
	switch {
	case err != nil:
		cs.lastErr = "kv_get: " + err.Error()
		stack[0] = i32Result(resultError)
	case !found:
		stack[0] = i32Result(resultMissing)
	default:
		stack[0] = uint64(writeIfFits(m, "kv_get", out, outCap, v))
	}
}

// hostKVSet is moonrelay.kv_set: store a value in the guest's store.
//
//	kv_set(key_ptr, key_len, val_ptr, val_len u32) i32
//
// Returns 0, or -2 when the key or value is over its cap (256 bytes,
// Limits.MaxKVValue) or the store failed (see last_error).
func hostKVSet(ctx context.Context, m api.Module, stack []uint64) {
	key := read(m, "kv_set", "key", uint32(stack[0]), uint32(stack[1]))
	val := read(m, "kv_set", "val", uint32(stack[2]), uint32(stack[3]))
	cs := callStateFrom(ctx)
	if cs == nil {
		stack[0] = i32Result(resultError)
		return
	}
	k, ok := cs.kvKey(key)
	if !ok {
		stack[0] = i32Result(resultError)
		return
	}
	if len(val) > cs.lim.MaxKVValue {
		cs.lastErr = fmt.Sprintf("kv_set: value of %d bytes is over the %d-byte limit", len(val), cs.lim.MaxKVValue)
		stack[0] = i32Result(resultError)
		return
	}
	if err := cs.e.kv.Set(ctx, cs.g.info.Name, k, append([]byte(nil), val...)); err != nil {
		cs.lastErr = "kv_set: " + err.Error()
		stack[0] = i32Result(resultError)
		return
	}
	stack[0] = 0
}

// hostSMTPSend is moonrelay.smtp_send: deliver one e-mail through an SMTP
// server, for guests whose manifest lists the "smtp" capability.
//
//	smtp_send(req_ptr, req_len, msg_ptr, msg_len u32) u32
//
// req is JSON (sdk.SMTPRequest): {host, port, tls: "none"|"starttls"|
// "implicit", username, password, from, to: [addr…], timeout_ms}; port 0
// means 25, 587 or 465 by tls. msg is the complete RFC 5322 message
// (headers, blank line, body; CRLF line ends), sent as the DATA as is
// (dot-stuffed by the host) and capped at Limits.MaxRequestBody. The host
// connects to host:port only when the host is allowed for this call: the
// call's allow list (manifest hosts, the notifier URL's host when the
// manifest sets user_host), plus for user_host guests the host named by the
// URL's "smtp" option, with the same address rules as http_request. It then
// runs EHLO, STARTTLS or implicit TLS (certificates verified), AUTH when
// username and password are set (CRAM-MD5, PLAIN or LOGIN, the first the
// server offers, in that order), MAIL FROM, RCPT TO for each address (a
// refused address is skipped while another is accepted), DATA and QUIT,
// all within min(timeout_ms, RequestTimeout). Each smtp_send counts as one
// request of the call's MaxRequests.
//
// The result is 250 when the server accepted the message; otherwise the
// SMTP reply code that refused it (421, 454, 535, 550, …) or a host error,
// and last_error returns the reason, e.g. "AUTH: 535 5.7.8 Username and
// Password not accepted":
//
//	601 policy denied: the host is not allowed (fails the call, as for HTTP)
//	602 timeout: no complete conversation within the timeout
//	604 network: DNS, connect, TLS or protocol failure
//	605 bad request: malformed JSON, no host or recipient, bad tls value,
//	    an address with CR, LF or angle brackets, message over the cap
//	606 budget exhausted: more than MaxRequests requests in this call
//	607 no capability: the manifest does not list "smtp"
//
// Example: a message accepted by the server returns 250 = 0x000000fa.
func hostSMTPSend(ctx context.Context, m api.Module, stack []uint64) {
	reqJSON := read(m, "smtp_send", "req", uint32(stack[0]), uint32(stack[1]))
	msg := read(m, "smtp_send", "msg", uint32(stack[2]), uint32(stack[3]))
	cs := callStateFrom(ctx)
	if cs == nil {
		stack[0] = uint64(codeNoCapability)
		return
	}
	stack[0] = uint64(uint32(cs.doSMTP(ctx, reqJSON, msg)))
}

// kvKey scopes a guest's key: "<scope>/<key>".
func (cs *callState) kvKey(key []byte) (string, bool) {
	if len(key) == 0 || len(key) > maxKVKey || !utf8.Valid(key) {
		cs.lastErr = fmt.Sprintf("kv: key must be 1-%d bytes of UTF-8", maxKVKey)
		return "", false
	}
	return cs.kvScope + "/" + string(key), true
}

// packResponse prefixes head with its little-endian length and appends body.
func packResponse(head, body []byte) []byte {
	out := make([]byte, 4, 4+len(head)+len(body))
	binary.LittleEndian.PutUint32(out, uint32(len(head)))
	return append(append(out, head...), body...)
}
