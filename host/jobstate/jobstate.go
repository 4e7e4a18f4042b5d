package jobstate

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/moonrelay/moonrelay/host/internal/fifo"
)

// Event names, as Moonraker's job_state sends them (job_state:<name>).
const (
	EventStarted   = "started"
	EventPaused    = "paused"
	EventResumed   = "resumed"
	EventComplete  = "complete"
	EventError     = "error"
	EventCancelled = "cancelled"
	EventStandby   = "standby"
)

// Event is one job event with the print_stats before and after the update
// that caused it. Prev and Curr are private copies, shared by every
// subscriber: treat them as read-only.
type Event struct {
	// Name is one of the Event* constants.
	Name string
	// Prev is print_stats as last known before the update.
	Prev map[string]any
	// Curr is Prev merged with the update. For an inferred "started",
	// Curr["state"] is the real new state (e.g. "complete").
	Curr map[string]any
}

// Tracker turns print_stats updates into job events. The zero value is not
// usable; create one with New. All methods are safe for concurrent use.
type Tracker struct {
	log *slog.Logger

	mu     sync.Mutex
	last   map[string]any
	known  bool // a baseline has been stored
	silent bool // after KlippyLost: apply updates without events until Init
	subs   map[*Subscription]struct{}
	closed bool
}

// New returns a tracker with no baseline: the first Init or Update is
// stored silently.
func New(logger *slog.Logger) *Tracker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Tracker{log: logger.With("component", "job_state"), subs: map[*Subscription]struct{}{}}
}

// Init stores print_stats as the baseline without any event, as Moonraker
// does when Klippy becomes ready (the objects/subscribe reply). Call it
// with every Snapshot.
func (t *Tracker) Init(ps map[string]any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.last = clone(ps)
	t.known, t.silent = true, false
	if st, ok := t.last["state"].(string); ok {
		t.log.Info("job state initialized", "state", st)
	}
}

// Update applies a print_stats update (only the fields that changed) and
// publishes the events it implies, following Moonraker's job_state rules
// (see the package documentation). Without a baseline it acts as Init.
func (t *Tracker) Update(ps map[string]any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.known {
		t.last = clone(ps)
		t.known = true
		return
	}
	newState, hasState := ps["state"].(string)
	if t.silent || !hasState {
		// Copy on write: t.last may be the Curr of a published event.
		t.last = clone(t.last)
		merge(t.last, ps)
		return
	}
	prev := clone(t.last)
	oldState, _ := prev["state"].(string)
	curr := clone(prev)
	merge(curr, ps)
	t.last = curr
	if newState == oldState {
		return
	}
	switch {
	case !known(newState):
		t.log.Warn("unknown print_stats state", "state", newState)
	case isIdle(oldState):
		switch newState {
		case "printing":
			t.publish(EventStarted, prev, curr)
		case "standby":
			t.publish(EventStandby, prev, curr)
		default:
			t.log.Info("job start inferred", "from", oldState, "to", newState)
			t.publish(EventStarted, prev, curr)
			t.publish(newState, prev, curr)
		}
	case newState == "printing":
		if resumed(prev, curr) {
			t.publish(EventResumed, prev, curr)
		} else {
			t.publish(EventStarted, prev, curr)
		}
	default:
		t.publish(newState, prev, curr)
	}
}

// KlippyLost records that Klippy went away (reason, e.g. "Klippy
// disconnected" or "Klippy shut down") with an optional detail such as
// Klippy's shutdown message. If a job was printing or paused it publishes
// an "error" event whose Curr has state "error" and a message like
// "Klippy disconnected during the print of benchy.gcode". Later updates
// are applied silently until the next Init.
func (t *Tracker) KlippyLost(reason, detail string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.known || t.silent {
		t.silent = t.known
		return
	}
	t.silent = true
	st, _ := t.last["state"].(string)
	if st != "printing" && st != "paused" {
		return
	}
	msg := reason + " during a print"
	if fn, _ := t.last["filename"].(string); fn != "" {
		msg = reason + " during the print of " + fn
	}
	if detail != "" {
		msg += ": " + detail
	}
	prev := clone(t.last)
	curr := clone(prev)
	curr["state"], curr["message"] = "error", msg
	t.last = curr
	t.log.Warn("job lost with Klippy", "message", msg)
	t.publish(EventError, prev, curr)
}

// Last returns a copy of the last known print_stats.
func (t *Tracker) Last() map[string]any {
	t.mu.Lock()
	defer t.mu.Unlock()
	return clone(t.last)
}

// Close closes every subscription's channel. Later updates publish nothing.
func (t *Tracker) Close() {
	t.mu.Lock()
	subs := t.subs
	t.subs = map[*Subscription]struct{}{}
	t.closed = true
	t.mu.Unlock()
	for s := range subs {
		s.q.Close()
	}
}

// publish queues an event to every subscriber; callers hold t.mu, which
// keeps the order the same for everyone.
func (t *Tracker) publish(name string, prev, curr map[string]any) {
	fn, _ := curr["filename"].(string)
	t.log.Info("job event", "event", name, "filename", fn)
	ev := Event{Name: name, Prev: prev, Curr: curr}
	for s := range t.subs {
		if n := s.q.Push(ev); n > 1000 && !s.warned {
			s.warned = true
			t.log.Warn("a job event subscriber is falling behind", "queued", n)
		}
	}
}

// Subscription receives job events in the order they happened.
type Subscription struct {
	t      *Tracker
	q      *fifo.Queue[Event]
	warned bool // guarded by t.mu
}

// Subscribe returns a subscription to every event published from now on.
// Events wait in an unbounded queue, so a slow subscriber never blocks the
// tracker or other subscribers.
func (t *Tracker) Subscribe() *Subscription {
	s := &Subscription{t: t, q: fifo.New[Event]()}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		s.q.Close()
		return s
	}
	t.subs[s] = struct{}{}
	return s
}

// Events returns the channel of events; Close (or Tracker.Close) closes it.
func (s *Subscription) Events() <-chan Event { return s.q.Out() }

// Close stops the subscription; queued events are dropped.
func (s *Subscription) Close() {
	s.t.mu.Lock()
	delete(s.t.subs, s)
	s.t.mu.Unlock()
	s.q.Close()
}

func isIdle(state string) bool {
	switch state {
	case "standby", "complete", "cancelled", "error", "":
		return true
	}
	return false
}

func known(state string) bool {
	switch state {
	case "standby", "printing", "paused", "complete", "cancelled", "error":
		return true
	}
	return false
}

// resumed is Moonraker's _check_resumed: same file, and the job's clock
// kept running (total_duration grew), so this is the paused job going on.
func resumed(prev, curr map[string]any) bool {
	if prev["state"] != "paused" || fmt.Sprint(prev["filename"]) != fmt.Sprint(curr["filename"]) {
		return false
	}
	a, okA := number(prev["total_duration"])
	b, okB := number(curr["total_duration"])
	return okA && okB && a < b
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func merge(dst, src map[string]any) {
	for k, v := range src {
		dst[k] = v
	}
}
