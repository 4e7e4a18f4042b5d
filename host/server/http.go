package server

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/valyala/fasthttp"
)

const contentTypeJSON = "application/json; charset=UTF-8"

// serveHTTP is the outermost handler: CORS, then authorization, then routing.
func (s *Server) serveHTTP(ctx *fasthttp.RequestCtx) {
	if origin := ctx.Request.Header.Peek("Origin"); len(origin) > 0 {
		if s.originAllowed(string(origin)) {
			h := &ctx.Response.Header
			h.Set("Access-Control-Allow-Origin", string(origin))
			h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
			h.Set("Access-Control-Allow-Headers", "Origin, Accept, Content-Type, X-Requested-With, X-CRSF-Token, Authorization, X-Access-Token, X-Api-Key")
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Vary", "Origin")
			if ctx.IsOptions() {
				ctx.SetStatusCode(fasthttp.StatusNoContent)
				return
			}
		}
	}
	if err := s.auth.check(ctx); err != nil {
		writeError(ctx, err)
		return
	}
	s.router.Handler(ctx)
}

// originAllowed matches an Origin against [authorization] cors_domains.
func (s *Server) originAllowed(origin string) bool {
	for _, pat := range s.opts.CorsDomains {
		if ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(origin)); ok {
			return true
		}
		// "*.local" style patterns without a scheme match any scheme.
		if !strings.Contains(pat, "://") {
			if i := strings.Index(origin, "://"); i >= 0 {
				if ok, _ := path.Match(strings.ToLower(pat), strings.ToLower(origin[i+3:])); ok {
					return true
				}
			}
		}
	}
	return false
}

// sameHost reports whether an Origin names the host the request was sent to.
func sameHost(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, host)
}

// httpHandler adapts an endpoint to fasthttp for one HTTP method.
func (s *Server) httpHandler(ep *Endpoint, method string) fasthttp.RequestHandler {
	if ep.Raw != nil {
		return ep.Raw
	}
	limit := ep.MaxBodySize
	if limit <= 0 {
		limit = s.opts.MaxBodySize
	}
	return func(ctx *fasthttp.RequestCtx) {
		args, err := httpArgs(ctx, limit)
		if err != nil {
			writeError(ctx, err)
			return
		}
		req := Request{
			Method:     method,
			Path:       ep.Path,
			Args:       args,
			Transport:  TransportHTTP,
			RemoteAddr: remoteAddr(ctx),
			HTTP:       ctx,
		}
		res, herr := s.call(ep, &req)
		if herr != nil {
			writeError(ctx, herr)
			return
		}
		writeResult(ctx, res)
	}
}

// call runs a handler, turning a panic into a 500 and logging server errors.
func (s *Server) call(ep *Endpoint, req *Request) (res any, err *Error) {
	defer func() {
		if v := recover(); v != nil {
			s.log.Error("handler panic", "path", ep.Path, "transport", req.Transport.String(), "panic", fmt.Sprint(v))
			res, err = nil, &Error{Code: fasthttp.StatusInternalServerError, Message: "Internal Server Error"}
		}
	}()
	out, herr := ep.Handler(s.ctx, req)
	if herr != nil {
		e := asError(herr)
		if e.Code >= 500 {
			s.log.Error("request failed", "path", ep.Path, "transport", req.Transport.String(), "err", herr)
		}
		return nil, e
	}
	return out, nil
}

func remoteAddr(ctx *fasthttp.RequestCtx) netip.Addr {
	if a, ok := netip.AddrFromSlice(ctx.RemoteIP()); ok {
		return a.Unmap()
	}
	return netip.Addr{}
}

// httpArgs merges query arguments, the body (JSON or form) and router path
// parameters, in that order of precedence (later wins), as Moonraker does.
func httpArgs(ctx *fasthttp.RequestCtx, limit int64) (map[string]any, *Error) {
	args := make(map[string]any)
	var qerr *Error
	ctx.QueryArgs().VisitAll(func(k, v []byte) {
		if qerr != nil {
			return
		}
		key, val, err := queryValue(string(k), string(v))
		if err != nil {
			qerr = err
			return
		}
		args[key] = val
	})
	if qerr != nil {
		return nil, qerr
	}
	ct := ctx.Request.Header.ContentType()
	isJSON := bytes.HasPrefix(ct, []byte("application/json"))
	isForm := bytes.HasPrefix(ct, []byte("application/x-www-form-urlencoded"))
	if isJSON || isForm {
		body, err := readBody(ctx, limit)
		if err != nil {
			return nil, err
		}
		if isJSON && len(bytes.TrimSpace(body)) > 0 {
			var v any
			if jerr := decodeJSON(body, &v); jerr != nil {
				return nil, BadRequest("The request body is not valid JSON: %s", jsonErrText(jerr))
			}
			m, ok := v.(map[string]any)
			if !ok {
				return nil, BadRequest("The request body must be a JSON object of arguments")
			}
			for k, v := range m {
				args[k] = v
			}
		} else if isForm {
			var fa fasthttp.Args
			fa.ParseBytes(body)
			fa.VisitAll(func(k, v []byte) { args[string(k)] = string(v) })
		}
	} else if n := ctx.Request.Header.ContentLength(); int64(n) > limit {
		return nil, tooLarge(ctx, limit)
	}
	ctx.VisitUserValues(func(k []byte, v any) {
		if s, ok := v.(string); ok {
			args[string(k)] = PathParam(s)
		}
	})
	return args, nil
}

// queryValue applies Moonraker's "key:type" hints (int, float, bool, json).
func queryValue(key, val string) (string, any, *Error) {
	i := strings.LastIndexByte(key, ':')
	if i < 0 {
		return key, val, nil
	}
	name, hint := key[:i], key[i+1:]
	var out any
	var err error
	switch hint {
	case "int":
		out, err = strconv.ParseInt(val, 10, 64)
	case "float":
		out, err = strconv.ParseFloat(val, 64)
	case "bool":
		switch strings.ToLower(val) {
		case "true":
			out = true
		case "false":
			out = false
		default:
			err = errors.New("not true or false")
		}
	case "json":
		err = decodeJSON([]byte(val), &out)
	default:
		return key, val, nil
	}
	if err != nil {
		return "", nil, convErr(name, hint, val)
	}
	return name, out, nil
}

// drainLimit is how much of an oversized body is read and discarded so that
// the client sees the 413 instead of a connection reset.
const drainLimit = 16 << 20

func tooLarge(ctx *fasthttp.RequestCtx, limit int64) *Error {
	DrainTooLarge(ctx)
	return Errorf(fasthttp.StatusRequestEntityTooLarge, "Request body is larger than the %s this endpoint accepts", formatSize(limit))
}

// readBody reads the request body up to limit bytes (streamed bodies
// included) and answers 413 beyond it.
func readBody(ctx *fasthttp.RequestCtx, limit int64) ([]byte, *Error) {
	if n := ctx.Request.Header.ContentLength(); int64(n) > limit {
		return nil, tooLarge(ctx, limit)
	}
	if !ctx.Request.IsBodyStream() {
		return ctx.Request.Body(), nil
	}
	body, err := io.ReadAll(io.LimitReader(ctx.RequestBodyStream(), limit+1))
	if err != nil {
		return nil, BadRequest("Could not read the request body: %v", err)
	}
	if int64(len(body)) > limit {
		return nil, tooLarge(ctx, limit)
	}
	return body, nil
}

func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// decodeJSON decodes with numbers kept as json.Number.
func decodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// jsonErrText rewords encoding/json errors without Go type names.
func jsonErrText(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return "expected a JSON object, got " + te.Value
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return "the JSON text ends too early"
	}
	return err.Error()
}

// encBuf is a pooled buffer with its own encoder, so that the envelope path
// does not allocate an encoder per response.
type encBuf struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var encPool = sync.Pool{New: func() any {
	b := &encBuf{}
	b.enc = json.NewEncoder(&b.buf)
	b.enc.SetEscapeHTML(false)
	return b
}}

func getEncBuf() *encBuf {
	b := encPool.Get().(*encBuf)
	b.buf.Reset()
	return b
}

func putEncBuf(b *encBuf) {
	if b.buf.Cap() <= 1<<20 {
		encPool.Put(b)
	}
}

// encodeValue appends v's JSON (without the encoder's newline).
func (b *encBuf) encodeValue(v any) error {
	if err := b.enc.Encode(v); err != nil {
		return err
	}
	b.buf.Truncate(b.buf.Len() - 1)
	return nil
}

// writeResult writes {"result": v}. A GET answer carries an Etag (SHA-1 of
// the body, as Moonraker's Tornado does) and honours If-None-Match.
func writeResult(ctx *fasthttp.RequestCtx, v any) {
	b := getEncBuf()
	defer putEncBuf(b)
	b.buf.WriteString(`{"result":`)
	if err := b.encodeValue(v); err != nil {
		writeError(ctx, &Error{Code: fasthttp.StatusInternalServerError, Message: "Internal Server Error: the result could not be encoded as JSON"})
		return
	}
	b.buf.WriteByte('}')
	ctx.SetContentType(contentTypeJSON)
	if ctx.IsGet() {
		sum := sha1.Sum(b.buf.Bytes())
		var tag [2 + 2*sha1.Size]byte
		tag[0], tag[len(tag)-1] = '"', '"'
		hex.Encode(tag[1:], sum[:])
		ctx.Response.Header.SetBytesV("Etag", tag[:])
		if inm := ctx.Request.Header.Peek("If-None-Match"); len(inm) > 0 && bytes.Equal(inm, tag[:]) {
			ctx.SetStatusCode(fasthttp.StatusNotModified)
			return
		}
	}
	ctx.SetBody(b.buf.Bytes())
}

// writeError writes Moonraker's error envelope with the status as code. The
// reason phrase carries the message, as Moonraker's does, when it is plain
// single-line text.
func writeError(ctx *fasthttp.RequestCtx, err *Error) {
	b := getEncBuf()
	defer putEncBuf(b)
	b.buf.WriteString(`{"error":{"code":`)
	b.buf.WriteString(strconv.Itoa(err.Code))
	b.buf.WriteString(`,"message":`)
	_ = b.encodeValue(err.Message)
	b.buf.WriteString(`}}`)
	ctx.Response.Header.Del("Etag")
	ctx.SetStatusCode(err.Code)
	if reasonOK(err.Message) {
		ctx.Response.Header.SetStatusMessage([]byte(err.Message))
	}
	ctx.SetContentType(contentTypeJSON)
	ctx.SetBody(b.buf.Bytes())
}

func reasonOK(s string) bool {
	if s == "" || len(s) > 200 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// PathParam decodes a router path parameter, which arrives still
// percent-encoded ("b%C3%A9nchy.gcode" → "bénchy.gcode").
func PathParam(v string) string {
	if d, err := url.PathUnescape(v); err == nil {
		return d
	}
	return v
}

// DrainTooLarge reads and discards up to 16 MiB of an oversized body so
// that the client sees the 413 rather than a connection reset, and marks the
// connection to be closed.
func DrainTooLarge(ctx *fasthttp.RequestCtx) {
	ctx.SetConnectionClose()
	if ctx.Request.IsBodyStream() {
		_, _ = io.Copy(io.Discard, io.LimitReader(ctx.RequestBodyStream(), drainLimit))
	}
}

// WriteError writes err in Moonraker's error envelope; for raw handlers.
func WriteError(ctx *fasthttp.RequestCtx, err error) { writeError(ctx, asError(err)) }

// WriteJSON writes v as a JSON body with the given status, without the
// {"result": ...} envelope; for raw handlers (uploads, OctoPrint).
func WriteJSON(ctx *fasthttp.RequestCtx, status int, v any) {
	b := getEncBuf()
	defer putEncBuf(b)
	if err := b.encodeValue(v); err != nil {
		writeError(ctx, &Error{Code: fasthttp.StatusInternalServerError, Message: "Internal Server Error: the result could not be encoded as JSON"})
		return
	}
	ctx.SetStatusCode(status)
	ctx.SetContentType(contentTypeJSON)
	ctx.SetBody(b.buf.Bytes())
}
