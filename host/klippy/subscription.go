package klippy

import (
	"context"
	"encoding/json"
	"reflect"
	"time"

	"github.com/moonrelay/moonrelay/host/internal/fifo"
)

// UpdateKind says what an Update carries.
type UpdateKind int

const (
	// StateChange: Klippy's state changed (State and Message are set).
	// The first update of every Subscription is a StateChange with the
	// state at the time it was created.
	StateChange UpdateKind = iota
	// Snapshot: Status holds every subscribed field of every subscribed
	// object. It is sent once Klippy is ready, and again after every
	// reconnect, before any Changes.
	Snapshot
	// Changes: Status holds only the subscribed fields that changed since
	// the previous Snapshot or Changes.
	Changes
	// GcodeResponse: Response holds one G-code output line (only for
	// subscriptions made with SubscribeGcodeOutput).
	GcodeResponse
)

// String returns the kind's name.
func (k UpdateKind) String() string {
	switch k {
	case StateChange:
		return "state_change"
	case Snapshot:
		return "snapshot"
	case Changes:
		return "changes"
	case GcodeResponse:
		return "gcode_response"
	}
	return "unknown"
}

// Update is one message on a Subscription.
type Update struct {
	Kind UpdateKind
	// EventTime is Klippy's eventtime of the status (Snapshot, Changes).
	EventTime float64
	// Status maps object name → field → value, decoded from JSON. The maps
	// may be shared with other subscribers: treat them as read-only.
	Status map[string]map[string]any
	// State and Message are set for StateChange.
	State   State
	Message string
	// Response is set for GcodeResponse.
	Response string
	// Received is when the client read the message from the socket.
	Received time.Time
}

// Subscription receives Klippy state changes and status updates for the
// printer objects it asked for. Updates arrive in the order Klippy sent
// them; a slow reader never slows the client or other subscribers, its
// updates wait in an unbounded queue instead.
type Subscription struct {
	c       *Client
	objects map[string][]string
	gcode   bool
	q       *fifo.Queue[Update]
	pending bool // waiting for a Snapshot; guarded by c.mu
	warned  bool // guarded by c.mu
}

// Subscribe asks for status updates of objects: object name → fields, a
// nil list meaning every field, e.g. {"print_stats": nil, "toolhead":
// {"position"}}. All subscriptions are merged into one Klippy subscription;
// each receives only the objects and fields it asked for. Subscribe(nil)
// receives only state changes.
func (c *Client) Subscribe(objects map[string][]string) *Subscription {
	objs := make(map[string][]string, len(objects))
	for k, v := range objects {
		if v != nil {
			v = append([]string{}, v...)
		}
		objs[k] = v
	}
	return c.addSub(&Subscription{c: c, objects: objs, pending: len(objs) > 0})
}

// SubscribeGcodeOutput returns a subscription that receives state changes
// and every line of G-code output (gcode/subscribe_output), such as
// "// Unknown command:\"FOO\"" or "!! Must home axis first".
func (c *Client) SubscribeGcodeOutput() *Subscription {
	return c.addSub(&Subscription{c: c, gcode: true})
}

func (c *Client) addSub(s *Subscription) *Subscription {
	s.q = fifo.New[Update]()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		s.q.Close()
		return s
	}
	c.subs[s] = struct{}{}
	s.deliver(Update{Kind: StateChange, State: c.state, Message: c.stateMsg, Received: time.Now()})
	need := c.state == StateReady && s.pending
	c.mu.Unlock()
	if need {
		c.kickSubscribe()
	}
	return s
}

// Updates returns the channel of updates. It is closed by Close and when
// the client closes.
func (s *Subscription) Updates() <-chan Update { return s.q.Out() }

// Close stops the subscription and closes its channel; queued updates are
// dropped. It is safe to call more than once.
func (s *Subscription) Close() {
	c := s.c
	c.mu.Lock()
	_, live := c.subs[s]
	delete(c.subs, s)
	c.mu.Unlock()
	s.q.Close()
	if live && len(s.objects) > 0 {
		c.kickSubscribe() // shrink the merged subscription
	}
}

// deliver queues u; callers hold c.mu.
func (s *Subscription) deliver(u Update) {
	if u.Received.IsZero() {
		u.Received = time.Now()
	}
	if n := s.q.Push(u); n > 1000 && !s.warned {
		s.warned = true
		s.c.log.Warn("a klippy subscriber is falling behind", "queued", n)
	}
}

// filter returns the part of status this subscription asked for.
func (s *Subscription) filter(status map[string]map[string]any) map[string]map[string]any {
	var out map[string]map[string]any
	for obj, fields := range status {
		want, ok := s.objects[obj]
		if !ok {
			continue
		}
		var sel map[string]any
		if want == nil {
			sel = fields
		} else {
			for _, f := range want {
				if v, ok := fields[f]; ok {
					if sel == nil {
						sel = map[string]any{}
					}
					sel[f] = v
				}
			}
		}
		if len(sel) == 0 {
			continue
		}
		if out == nil {
			out = map[string]map[string]any{}
		}
		out[obj] = sel
	}
	return out
}

func (c *Client) kickSubscribe() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// subscribeLoop sends the merged objects/subscribe whenever the set of
// subscriptions changes or Klippy becomes ready; one request at a time.
func (c *Client) subscribeLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-c.kick:
		}
		if err := c.resubscribe(); err != nil && c.ctx.Err() == nil {
			c.log.Warn("subscribe to Klippy objects", "err", err)
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				if sleepCtx(c.ctx, time.Second) {
					c.kickSubscribe()
				}
			}()
		}
	}
}

func (c *Client) resubscribe() error {
	c.mu.Lock()
	cn := c.cn
	if c.state != StateReady || cn == nil {
		c.mu.Unlock()
		return nil
	}
	union := map[string][]string{"webhooks": {"state", "state_message"}}
	var snap []*Subscription
	for s := range c.subs {
		for obj, fields := range s.objects {
			prev, seen := union[obj]
			switch {
			case !seen:
				union[obj] = fields
			case prev == nil || fields == nil:
				union[obj] = nil
			default:
				union[obj] = mergeFields(prev, fields)
			}
		}
		if s.pending {
			snap = append(snap, s)
		}
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.RequestTimeout)
	defer cancel()
	_, err := c.send(ctx, cn, "objects/subscribe", map[string]any{
		"objects":           union,
		"response_template": map[string]any{"method": statusMethod},
	}, func(raw json.RawMessage) { c.subscribed(raw, snap) })
	return err
}

func mergeFields(a, b []string) []string {
	out := append([]string{}, a...)
	for _, f := range b {
		found := false
		for _, g := range a {
			if f == g {
				found = true
				break
			}
		}
		if !found {
			out = append(out, f)
		}
	}
	return out
}

type statusParams struct {
	EventTime float64                   `json:"eventtime"`
	Status    map[string]map[string]any `json:"status"`
}

// subscribed handles the objects/subscribe reply in the read loop, so that
// it is ordered before the pushes that follow it: subscriptions waiting for
// a Snapshot get one, the others get what changed since the cached values.
func (c *Client) subscribed(raw json.RawMessage, snap []*Subscription) {
	var r statusParams
	if err := json.Unmarshal(raw, &r); err != nil {
		c.log.Warn("undecodable objects/subscribe reply", "err", err)
		return
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if wh, ok := r.Status["webhooks"]; ok {
		c.applyWebhooksLocked(wh)
	}
	diff := map[string]map[string]any{}
	for obj, fields := range r.Status {
		cached := c.cache[obj]
		for k, v := range fields {
			if cv, ok := cached[k]; ok && !reflect.DeepEqual(cv, v) {
				if diff[obj] == nil {
					diff[obj] = map[string]any{}
				}
				diff[obj][k] = v
			}
		}
	}
	for s := range c.subs {
		if s.pending {
			continue
		}
		if st := s.filter(diff); st != nil {
			s.deliver(Update{Kind: Changes, EventTime: r.EventTime, Status: st, Received: now})
		}
	}
	c.cache = make(map[string]map[string]any, len(r.Status))
	for obj, fields := range r.Status {
		cp := make(map[string]any, len(fields))
		for k, v := range fields {
			cp[k] = v
		}
		c.cache[obj] = cp
	}
	for _, s := range snap {
		if _, live := c.subs[s]; !live || !s.pending {
			continue
		}
		s.pending = false
		st := s.filter(r.Status)
		if st == nil {
			st = map[string]map[string]any{}
		}
		for obj := range s.objects {
			if _, ok := st[obj]; !ok {
				st[obj] = map[string]any{}
			}
		}
		s.deliver(Update{Kind: Snapshot, EventTime: r.EventTime, Status: st, Received: now})
	}
}

// handleStatus fans a status push out to the subscriptions; it runs in the
// read loop.
func (c *Client) handleStatus(raw json.RawMessage) {
	var p statusParams
	if err := json.Unmarshal(raw, &p); err != nil {
		c.log.Warn("undecodable status update from Klippy", "err", err)
		return
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	// A state change is delivered before the status that carried it.
	if wh, ok := p.Status["webhooks"]; ok {
		c.applyWebhooksLocked(wh)
	}
	for obj, fields := range p.Status {
		cached := c.cache[obj]
		if cached == nil {
			cached = map[string]any{}
			c.cache[obj] = cached
		}
		for k, v := range fields {
			cached[k] = v
		}
	}
	for s := range c.subs {
		if s.pending || len(s.objects) == 0 {
			continue
		}
		if st := s.filter(p.Status); st != nil {
			s.deliver(Update{Kind: Changes, EventTime: p.EventTime, Status: st, Received: now})
		}
	}
}

func (c *Client) applyWebhooksLocked(wh map[string]any) {
	msg := c.stateMsg
	if m, ok := wh["state_message"].(string); ok {
		msg = m
	}
	st := c.state
	if s, ok := wh["state"].(string); ok && c.state != StateDisconnected {
		st = State(s)
	}
	if st == StateStartup && c.state != StateStartup {
		return // identify owns the startup → ready transition
	}
	c.setStateLocked(st, msg)
}

func (c *Client) handleOutput(line string) {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for s := range c.subs {
		if s.gcode {
			s.deliver(Update{Kind: GcodeResponse, Response: line, Received: now})
		}
	}
}
