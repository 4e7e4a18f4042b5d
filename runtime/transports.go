package runtime

import (
	"container/list"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Bounds of the engine's HTTP connection reuse.
const (
	// maxTransports is how many (guest, policy) transports the engine keeps;
	// the least recently used one beyond it is dropped with its idle
	// connections.
	maxTransports = 64
	// idleConnTimeout closes a pooled connection no call has used for this
	// long.
	idleConnTimeout = 90 * time.Second
	// maxIdleConnsPerHost and maxIdleConns bound the idle connections one
	// transport keeps, per host and in all.
	maxIdleConnsPerHost = DefaultMaxInstances
	maxIdleConns        = 16
)

// transportKey names a guest's dial policy canonically: the guest name and
// every allowed host with its class, hosts sorted, each name quoted so no
// host name can imitate another entry. Two calls get the same key exactly
// when their dials are checked the same way, so only they share a pool.
func transportKey(guest string, allow map[string]hostClass) string {
	hosts := make([]string, 0, len(allow))
	for h := range allow {
		hosts = append(hosts, h)
	}
	slices.Sort(hosts)
	var b strings.Builder
	b.WriteString(strconv.Quote(guest))
	for _, h := range hosts {
		b.WriteByte(' ')
		b.WriteString(strconv.Quote(h))
		b.WriteByte('=')
		b.WriteString(strconv.Itoa(int(allow[h])))
	}
	return b.String()
}

// newTransport returns an HTTP transport whose every dial is checked
// against p: no proxy from the environment, bounded idle connections.
func newTransport(p *dialPolicy) *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            p.dialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    10 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConns:           maxIdleConns,
		MaxIdleConnsPerHost:    maxIdleConnsPerHost,
		IdleConnTimeout:        idleConnTimeout,
	}
}

// sharedTransport is one cached transport and the key of the policy its
// dials are bound to.
type sharedTransport struct {
	key string
	tr  *http.Transport
	// dropped is set, under transportCache.mu, once the cache no longer
	// holds the transport (evicted, or the cache closed): a call releasing
	// it then closes the idle connections it returned meanwhile.
	dropped bool
}

// transportCache keeps the engine's HTTP transports, one per transportKey,
// so calls with the same guest and policy reuse connections. It holds at
// most limit transports and drops the least recently used one beyond that.
type transportCache struct {
	mu     sync.Mutex
	limit  int
	lru    *list.List // of *sharedTransport, most recently used first
	byKey  map[string]*list.Element
	closed bool
}

// newTransportCache returns an empty cache of at most limit transports.
func newTransportCache(limit int) *transportCache {
	return &transportCache{limit: limit, lru: list.New(), byKey: map[string]*list.Element{}}
}

// get returns the transport for key, made by newTr when the cache holds
// none. After close it returns a fresh transport the cache does not keep,
// whose idle connections release closes.
func (c *transportCache) get(key string, newTr func() *http.Transport) *sharedTransport {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return &sharedTransport{key: key, tr: newTr(), dropped: true}
	}
	if el, ok := c.byKey[key]; ok {
		c.lru.MoveToFront(el)
		st := el.Value.(*sharedTransport)
		c.mu.Unlock()
		return st
	}
	st := &sharedTransport{key: key, tr: newTr()}
	c.byKey[key] = c.lru.PushFront(st)
	var evicted []*sharedTransport
	for c.lru.Len() > c.limit {
		evicted = append(evicted, c.remove(c.lru.Back()))
	}
	c.mu.Unlock()
	closeIdle(evicted)
	return st
}

// remove takes el out of the cache and marks its transport dropped; c.mu
// must be held.
func (c *transportCache) remove(el *list.Element) *sharedTransport {
	st := c.lru.Remove(el).(*sharedTransport)
	delete(c.byKey, st.key)
	st.dropped = true
	return st
}

// release ends one call's use of st. A transport still cached keeps its
// idle connections for the next call; a dropped one closes those the call
// returned after it was dropped.
func (c *transportCache) release(st *sharedTransport) {
	c.mu.Lock()
	dropped := st.dropped
	c.mu.Unlock()
	if dropped {
		st.tr.CloseIdleConnections()
	}
}

// close drops every transport and closes their idle connections; later
// gets return transports the cache does not keep.
func (c *transportCache) close() {
	c.mu.Lock()
	c.closed = true
	var all []*sharedTransport
	for c.lru.Len() > 0 {
		all = append(all, c.remove(c.lru.Back()))
	}
	c.mu.Unlock()
	closeIdle(all)
}

// len returns the number of cached transports.
func (c *transportCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func closeIdle(sts []*sharedTransport) {
	for _, st := range sts {
		st.tr.CloseIdleConnections()
	}
}
