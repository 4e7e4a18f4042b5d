package server

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"net/netip"
	"sync"
	"time"

	"github.com/valyala/fasthttp"
)

// oneshotTTL is how long a token from /access/oneshot_token stays valid.
const oneshotTTL = 5 * time.Second

// authorizer decides whether a request may reach a handler: loopback and
// trusted_clients addresses may; others need the API key (X-Api-Key header,
// or access_token in the query for browsers opening a websocket) or a
// one-shot token (?token=) fetched by an authorized client.
type authorizer struct {
	apiKey   []byte
	trusted  []netip.Prefix
	loopback []netip.Prefix

	mu      sync.Mutex
	oneshot map[string]time.Time
	now     func() time.Time
}

func newAuthorizer(key string, trusted, loopback []netip.Prefix) *authorizer {
	return &authorizer{apiKey: []byte(key), trusted: trusted, loopback: loopback, oneshot: map[string]time.Time{}, now: time.Now}
}

func (a *authorizer) trustedAddr(ip netip.Addr) bool {
	for _, p := range a.loopback {
		if p.Contains(ip) {
			return true
		}
	}
	for _, p := range a.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

func (a *authorizer) keyOK(k []byte) bool {
	return len(a.apiKey) > 0 && len(k) > 0 && subtle.ConstantTimeCompare(k, a.apiKey) == 1
}

// check returns nil when the request is authorized, else a 401.
func (a *authorizer) check(ctx *fasthttp.RequestCtx) *Error {
	if a.trustedAddr(remoteAddr(ctx)) {
		return nil
	}
	if a.keyOK(ctx.Request.Header.Peek("X-Api-Key")) || a.keyOK(ctx.QueryArgs().Peek("access_token")) {
		return nil
	}
	if tok := ctx.QueryArgs().Peek("token"); len(tok) > 0 && a.useOneshot(string(tok)) {
		return nil
	}
	return Errorf(fasthttp.StatusUnauthorized,
		"Unauthorized: %s is not a trusted client. Send the API key in the X-Api-Key header (run 'moonrelay show-api-key' on the printer's host), or add this address to [authorization] trusted_clients",
		remoteAddr(ctx))
}

// newOneshot returns a random token usable once within oneshotTTL.
func (a *authorizer) newOneshot() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	now := a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	for t, exp := range a.oneshot {
		if now.After(exp) {
			delete(a.oneshot, t)
		}
	}
	a.oneshot[tok] = now.Add(oneshotTTL)
	return tok
}

func (a *authorizer) useOneshot(tok string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.oneshot[tok]
	if !ok {
		return false
	}
	delete(a.oneshot, tok)
	return !a.now().After(exp)
}

// NewAPIKey returns a new random API key: 32 lower-case hex characters, the
// form Moonraker uses.
func NewAPIKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
