package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// Host error codes of http_request, mirrored in guests/sdk.
const (
	codePolicy       = sdk.CodePolicyDenied
	codeTimeout      = sdk.CodeTimeout
	codeTooLarge     = sdk.CodeTooLarge
	codeNetwork      = sdk.CodeNetwork
	codeBadRequest   = sdk.CodeBadRequest
	codeBudget       = sdk.CodeBudgetExhausted
	codeNoCapability = sdk.CodeNoCapability
)

// hostClass says which addresses a host may resolve to.
type hostClass int

const (
	// classService: a manifest host; public addresses only.
	classService hostClass = iota
	// classUser: the notifier URL's host; LAN addresses too, loopback only
	// when the URL names loopback itself, never link-local (metadata).
	classUser
	// classUserLoopback: the notifier URL names a loopback address.
	classUserLoopback
	// classExtra: Limits.ExtraHosts and Call.ExtraHosts; any address.
	classExtra
)

// policyError is a request refused by the network policy.
type policyError struct{ msg string }

func (e *policyError) Error() string { return e.msg }

// callState is what the host imports know about the call in progress.
type callState struct {
	e       *Engine
	g       *guest
	export  string
	logger  *slog.Logger
	lim     Limits
	kvScope string

	allow       map[string]hostClass
	smtpAllow   map[string]hostClass // smtp_send only: the URL's smtp option
	attachments []Attachment

	logUsed   int
	requests  int
	lastResp  []byte
	lastErr   string
	violation string // the first policy refusal; fails the call
	client    *http.Client
	transport *sharedTransport // the engine's, for the allow map as client was made
}

type callStateKey struct{}

func withCallState(ctx context.Context, cs *callState) context.Context {
	return context.WithValue(ctx, callStateKey{}, cs)
}

func callStateFrom(ctx context.Context) *callState {
	cs, _ := ctx.Value(callStateKey{}).(*callState)
	return cs
}

// spendLog takes n bytes from the call's log budget.
func (cs *callState) spendLog(n int) bool {
	max := cs.lim.MaxLog
	if max == 0 {
		max = DefaultMaxLog
	}
	if cs.logUsed >= max {
		return false
	}
	cs.logUsed += n
	if cs.logUsed >= max {
		cs.logger.Warn("guest log limit reached; dropping the rest of this call's output", "limit", max)
	}
	return true
}

// normHost lower-cases a host and drops a trailing dot and IPv6 brackets.
func normHost(h string) string {
	h = strings.TrimSuffix(strings.ToLower(h), ".")
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// allowHosts builds the call's allow list: manifest hosts, the notifier
// URL's host when the manifest sets user_host, and the extra hosts.
func (cs *callState) allowHosts(userURL string, extra []string) {
	cs.allow = map[string]hostClass{}
	for _, h := range cs.g.info.Hosts {
		cs.allow[normHost(h)] = classService
	}
	if cs.g.info.UserHost && userURL != "" {
		if u, err := sdk.ParseURL(userURL); err == nil && u.Host != "" {
			h := normHost(u.Host)
			c := classUser
			if ip, err := netip.ParseAddr(h); (err == nil && ip.Unmap().IsLoopback()) || h == "localhost" {
				c = classUserLoopback
			}
			if _, ok := cs.allow[h]; !ok {
				cs.allow[h] = c
			}
		}
	}
	for _, h := range append(append([]string(nil), cs.lim.ExtraHosts...), extra...) {
		cs.allow[normHost(h)] = classExtra
	}
}

// checkURL refuses URLs whose scheme or host the call may not reach.
func (cs *callState) checkURL(u *url.URL) error {
	if u.Scheme != "http" && u.Scheme != "https" {
		return &policyError{fmt.Sprintf("scheme %q is not allowed (only http and https)", u.Scheme)}
	}
	h := normHost(u.Hostname())
	if _, ok := cs.allow[h]; !ok {
		return &policyError{fmt.Sprintf("host %s is not allowed (allowed: %s)", h, cs.allowedList())}
	}
	return nil
}

func (cs *callState) allowedList() string {
	hs := make([]string, 0, len(cs.allow))
	for h := range cs.allow {
		hs = append(hs, h)
	}
	if len(hs) == 0 {
		return "none"
	}
	sort.Strings(hs)
	return strings.Join(hs, ", ")
}

// addrAllowed says whether a host of class c may be reached at ip.
func addrAllowed(c hostClass, ip netip.Addr) (bool, string) {
	ip = ip.Unmap()
	switch {
	case c == classExtra:
		return true, ""
	case ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast():
		return false, "unspecified or multicast"
	case ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast():
		return false, "link-local"
	case ip.IsLoopback():
		return c == classUserLoopback, "loopback"
	case ip.IsPrivate() || cgnat.Contains(ip):
		return c != classService, "private"
	}
	return true, ""
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// dialPolicy is the fixed network policy a transport dials under: each
// allowed host's class. It is copied from a call's allow map and never
// changes, so a connection pooled by its transport was dialed under exactly
// the rules of every call that may reuse it.
type dialPolicy struct {
	e     *Engine
	allow map[string]hostClass
}

// dialContext resolves the host once, checks every address against the
// host's class and dials the first allowed one: the address checked is the
// address dialed, so a DNS answer that changes cannot slip past.
func (p *dialPolicy) dialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	host = normHost(host)
	class, ok := p.allow[host]
	if !ok {
		return nil, &policyError{fmt.Sprintf("host %s is not allowed", host)}
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else if ips, err = p.e.res.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, err
	}
	var refused []string
	for _, ip := range ips {
		if ok, why := addrAllowed(class, ip); !ok {
			refused = append(refused, ip.String()+" ("+why+")")
			continue
		}
		return p.e.dial(ctx, network, net.JoinHostPort(ip.String(), port))
	}
	if len(refused) == 0 {
		return nil, fmt.Errorf("host %s has no addresses", host)
	}
	return nil, &policyError{fmt.Sprintf("host %s resolves to %s, not allowed for this host", host, strings.Join(refused, ", "))}
}

// httpClient is the call's client: no proxy, every dial and redirect
// checked. Its transport is the engine's for this guest and the call's
// allow map as it is now, so calls with the same policy share idle
// connections and calls with different policies never do. CheckRedirect
// stays the call's own.
func (cs *callState) httpClient() *http.Client {
	if cs.client != nil {
		return cs.client
	}
	p := &dialPolicy{e: cs.e, allow: maps.Clone(cs.allow)}
	cs.transport = cs.e.transports.get(transportKey(cs.g.info.Name, p.allow), func() *http.Transport {
		return newTransport(p)
	})
	cs.client = &http.Client{Transport: cs.transport.tr, CheckRedirect: cs.checkRedirect}
	return cs.client
}

// checkRedirect refuses a redirect past the call's limit or to a URL the
// call may not reach.
func (cs *callState) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) > cs.lim.MaxRedirects || cs.lim.MaxRedirects < 0 {
		return &policyError{fmt.Sprintf("more than %d redirects", max(cs.lim.MaxRedirects, 0))}
	}
	if err := cs.checkURL(req.URL); err != nil {
		return &policyError{fmt.Sprintf("redirect to %s refused: %v", redactURL(req.URL), err)}
	}
	return nil
}

// allowExtra lets the call reach host at any address (Options.Redirect's
// target). The allow map changes, so the next request takes the transport
// for the new policy.
func (cs *callState) allowExtra(host string) {
	if c, ok := cs.allow[host]; ok && c == classExtra {
		return
	}
	cs.allow[host] = classExtra
	cs.closeHTTP()
}

// closeHTTP ends the call's use of its transport. The idle connections
// stay pooled for later calls with the same policy (an evicted transport's
// are closed); doHTTP closed every response body, so nothing of the call
// is left open.
func (cs *callState) closeHTTP() {
	if cs.transport != nil {
		cs.e.transports.release(cs.transport)
	}
	cs.client, cs.transport = nil, nil
}

// redactURL drops user info and the query, which often hold secrets.
func redactURL(u *url.URL) string {
	c := *u
	c.User, c.RawQuery, c.Fragment = nil, "", ""
	return c.String()
}

// fail records a host error for last_error and returns its code.
func (cs *callState) fail(code int, format string, args ...any) ([]byte, int) {
	cs.lastErr = fmt.Sprintf(format, args...)
	if code == codePolicy && cs.violation == "" {
		cs.violation = cs.lastErr
	}
	return nil, code
}

// doHTTP performs one http_request and returns the packed response or a
// host error code.
func (cs *callState) doHTTP(ctx context.Context, reqJSON, rawBody []byte) ([]byte, int) {
	cs.requests++
	if cs.requests > cs.lim.MaxRequests {
		return cs.fail(codeBudget, "request budget of %d requests per call exhausted", cs.lim.MaxRequests)
	}
	var r sdk.HTTPRequest
	if err := json.Unmarshal(reqJSON, &r); err != nil {
		return cs.fail(codeBadRequest, "request is not valid JSON: %v", err)
	}
	if r.Method == "" {
		r.Method = http.MethodGet
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return cs.fail(codeBadRequest, "bad url: %v", err)
	}
	if err := cs.checkURL(u); err != nil {
		return cs.fail(codePolicy, "%s %s: %v", r.Method, redactURL(u), err)
	}
	origHost := ""
	if to, ok := cs.e.opts.Redirect[normHost(u.Hostname())]; ok {
		if tu, err := url.Parse(to); err == nil {
			origHost = u.Host
			u.Scheme, u.Host = tu.Scheme, tu.Host
			cs.allowExtra(normHost(tu.Hostname()))
		}
	}
	body, contentType, err := cs.requestBody(&r, rawBody)
	if err != nil {
		return cs.fail(codeBadRequest, "%v", err)
	}
	timeout := cs.lim.RequestTimeout
	if r.TimeoutMS > 0 {
		timeout = min(timeout, time.Duration(r.TimeoutMS)*time.Millisecond)
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return cs.fail(codeBadRequest, "%v", err)
	}
	if origHost != "" {
		req.Host = origHost
	}
	for _, h := range r.Headers {
		if !validHeader(h[0], h[1]) {
			return cs.fail(codeBadRequest, "bad header %q", h[0])
		}
		req.Header.Add(h[0], h[1])
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", cs.e.opts.UserAgent)
	}
	resp, err := cs.httpClient().Do(req)
	if err != nil {
		var pe *policyError
		switch {
		case errors.As(err, &pe):
			return cs.fail(codePolicy, "%s %s: %v", r.Method, redactURL(u), pe)
		case rctx.Err() != nil && ctx.Err() == nil:
			return cs.fail(codeTimeout, "%s %s: no answer within %s", r.Method, redactURL(u), timeout)
		default:
			return cs.fail(codeNetwork, "%s %s: %v", r.Method, redactURL(u), unwrapURLError(err))
		}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, cs.lim.MaxResponseBody+1))
	if err != nil {
		if rctx.Err() != nil && ctx.Err() == nil {
			return cs.fail(codeTimeout, "%s %s: body not read within %s", r.Method, redactURL(u), timeout)
		}
		return cs.fail(codeNetwork, "%s %s: reading body: %v", r.Method, redactURL(u), err)
	}
	if int64(len(data)) > cs.lim.MaxResponseBody {
		return cs.fail(codeTooLarge, "%s %s: response body over the %d-byte limit", r.Method, redactURL(u), cs.lim.MaxResponseBody)
	}
	headers := map[string]string{}
	for k, vs := range resp.Header {
		headers[strings.ToLower(k)] = strings.Join(vs, ", ")
	}
	head, _ := json.Marshal(struct {
		Status  int               `json:"status"`
		Headers map[string]string `json:"headers"`
	}{resp.StatusCode, headers})
	cs.lastResp = packResponse(head, data)
	return cs.lastResp, resp.StatusCode
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func validHeader(name, value string) bool {
	if name == "" || strings.ContainsAny(value, "\r\n\x00") {
		return false
	}
	for _, c := range name {
		if c <= ' ' || c >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", c) {
			return false
		}
	}
	return true
}

// requestBody returns the body to send: raw, one attachment or a multipart
// form, within MaxRequestBody.
func (cs *callState) requestBody(r *sdk.HTTPRequest, raw []byte) ([]byte, string, error) {
	limit := cs.lim.MaxRequestBody
	switch {
	case len(r.Multipart) > 0:
		var buf bytes.Buffer
		w := multipart.NewWriter(&buf)
		for _, p := range r.Multipart {
			if p.Attachment == nil {
				if err := w.WriteField(p.Name, p.Value); err != nil {
					return nil, "", err
				}
				continue
			}
			a, err := cs.attachment(*p.Attachment)
			if err != nil {
				return nil, "", err
			}
			h := textproto.MIMEHeader{}
			fn := p.Filename
			if fn == "" {
				fn = a.Name
			}
			h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%s; filename=%s`, strconv.Quote(p.Name), strconv.Quote(fn)))
			ct := p.ContentType
			if ct == "" {
				ct = a.MIME
			}
			if ct == "" {
				ct = "application/octet-stream"
			}
			h.Set("Content-Type", ct)
			pw, err := w.CreatePart(h)
			if err != nil {
				return nil, "", err
			}
			if _, err := io.Copy(pw, io.NewSectionReader(a.reader(), 0, limit+1)); err != nil {
				return nil, "", fmt.Errorf("attachment %d: %w", *p.Attachment, err)
			}
			if int64(buf.Len()) > limit {
				break
			}
		}
		if err := w.Close(); err != nil {
			return nil, "", err
		}
		if int64(buf.Len()) > limit {
			return nil, "", fmt.Errorf("request body over the %d-byte limit", limit)
		}
		return buf.Bytes(), w.FormDataContentType(), nil
	case r.BodyAttachment != nil:
		a, err := cs.attachment(*r.BodyAttachment)
		if err != nil {
			return nil, "", err
		}
		b, err := io.ReadAll(io.NewSectionReader(a.reader(), 0, limit+1))
		if err != nil {
			return nil, "", fmt.Errorf("attachment %d: %w", *r.BodyAttachment, err)
		}
		if int64(len(b)) > limit {
			return nil, "", fmt.Errorf("request body over the %d-byte limit", limit)
		}
		return b, "", nil
	default:
		if int64(len(raw)) > limit {
			return nil, "", fmt.Errorf("request body over the %d-byte limit", limit)
		}
		return raw, "", nil
	}
}

func (cs *callState) attachment(id uint32) (*Attachment, error) {
	if id == 0 || int(id) > len(cs.attachments) {
		return nil, fmt.Errorf("no attachment %d", id)
	}
	return &cs.attachments[id-1], nil
}
