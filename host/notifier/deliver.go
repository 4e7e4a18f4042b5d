package notifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/host/store"
	"github.com/moonrelay/moonrelay/runtime"
)

// item is one notification in the outbox, already rendered.
type item struct {
	Event      string    `json:"event"`
	Title      string    `json:"title"`
	Body       string    `json:"body"`
	BodyFormat string    `json:"body_format"`
	Attach     []string  `json:"attach,omitempty"`
	Created    time.Time `json:"created"`
	Attempts   int       `json:"attempts"`
	NextAt     time.Time `json:"next_at"`
	LastError  string    `json:"last_error,omitempty"`
	// Problems are attachment or template problems found so far; the
	// message still goes out.
	Problems []string `json:"problems,omitempty"`
}

// overrides are what the notify remote method may set besides message.
type overrides struct {
	title  *string
	attach []string
}

// notifyEvent renders a notifier's templates for an event and queues it.
func (m *Manager) notifyEvent(n *notifier, event string, args []any, message string, extra map[string]any) {
	m.notifyEventWith(n, event, args, message, extra, nil)
}

// vars builds Moonraker's template context plus moonrelay's additions.
func (m *Manager) vars(event string, args []any, message string, extra map[string]any) map[string]any {
	v := map[string]any{"event_name": event, "event_args": args, "event_message": message, "thumbnail": ""}
	if len(args) > 1 && m.d.Attachments != nil {
		if cur, ok := args[1].(map[string]any); ok {
			if f, _ := cur["filename"].(string); f != "" {
				v["thumbnail"] = m.d.Attachments.Thumbnail(f)
			}
		}
	}
	for k, x := range extra {
		v[k] = x
	}
	return v
}

// rendered is a message ready to queue.
type rendered struct {
	title, body string
	attach      []string
	problems    []string
}

// render applies a notifier's templates. A title or body that fails is an
// error (nothing would make sense to send); a failing attach template only
// drops the attachments, as in Moonraker, and is reported.
func (m *Manager) render(n *notifier, vars map[string]any, o *overrides) (*rendered, error) {
	r := &rendered{body: fmt.Sprint(vars["event_name"])}
	var err error
	if n.body != nil {
		if r.body, err = n.body.Render(vars); err != nil {
			return nil, fmt.Errorf("body template: %w", err)
		}
	}
	if n.title != nil {
		if r.title, err = n.title.Render(vars); err != nil {
			return nil, fmt.Errorf("title template: %w", err)
		}
	}
	if o != nil && o.title != nil {
		r.title = *o.title
	}
	if n.attach != nil {
		a, err := n.attach.Render(vars)
		if err != nil {
			r.problems = append(r.problems, fmt.Sprintf("attach template: %v; sent without attachments", err))
		} else {
			r.attach = splitLines(a)
		}
	}
	if o != nil {
		r.attach = append(r.attach, o.attach...)
	}
	return r, nil
}

// notifyEventWith renders and queues; the outbox write is durable before
// this returns, so the notification survives a crash from here on.
func (m *Manager) notifyEventWith(n *notifier, event string, args []any, message string, extra map[string]any, o *overrides) {
	if p := m.prepare(n, event, args, message, extra, o); p != nil {
		m.enqueueAll([]pending{*p})
	}
}

// pending is a rendered notification for one notifier, not yet queued.
type pending struct {
	n  *notifier
	it item
}

// prepare renders a notifier's message; a template error is logged and
// recorded in the history, and nil returned.
func (m *Manager) prepare(n *notifier, event string, args []any, message string, extra map[string]any, o *overrides) *pending {
	r, err := m.render(n, m.vars(event, args, message, extra), o)
	now := m.d.Now()
	if err != nil {
		m.log.Warn("notification not sent: template error", "notifier", n.name, "event", event, "err", err)
		m.history.add(n.name, Delivery{Time: now, Event: event, Result: "failed", Error: err.Error()})
		return nil
	}
	return &pending{n: n, it: item{Event: event, Title: r.title, Body: r.body, BodyFormat: n.set.bodyFormat,
		Attach: r.attach, Created: now, NextAt: now, Problems: r.problems}}
}

// enqueueAll writes the notifications of one event to their outboxes in
// one transaction (one fsync however many notifiers), then wakes their
// workers.
func (m *Manager) enqueueAll(ps []pending) {
	if len(ps) == 0 {
		return
	}
	// Deliveries finished since the last write ride along: no fsync of
	// their own.
	fs := m.takeFinished()
	err := m.d.Store.Update(func(tx *store.Tx) error {
		if err := m.writeFinished(tx, fs); err != nil {
			return err
		}
		for i := range ps {
			b, err := json.Marshal(&ps[i].it)
			if err != nil {
				return err
			}
			if _, err := tx.Queue(ps[i].n.queue.Name()).Append(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		m.putBackFinished(fs)
	}
	for _, p := range ps {
		if err != nil {
			m.log.Error("notification lost: the outbox could not be written", "notifier", p.n.name, "event", p.it.Event, "err", err)
			m.history.add(p.n.name, Delivery{Time: m.d.Now(), Event: p.it.Event, Result: "failed", Error: "outbox: " + err.Error()})
			continue
		}
		select {
		case p.n.wake <- struct{}{}:
		default:
		}
	}
}

// worker delivers one notifier's outbox in order until ctx ends.
func (m *Manager) worker(ctx context.Context, n *notifier) {
	failing := false
	// after is the last item handed to the committer: it stays in the
	// outbox until the committer's transaction, and must not be sent again.
	var after uint64
	for {
		id, it, ok := m.head(n, after)
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-n.wake:
				continue
			}
		}
		now := m.d.Now()
		if wait := it.NextAt.Sub(now); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			continue
		}
		if (n.set.MaxAttempts > 0 && it.Attempts >= n.set.MaxAttempts) || now.Sub(it.Created) > n.set.MaxAge {
			m.finish(n, id, it, "dropped", fmt.Sprintf("gave up after %d attempts over %s: %s", it.Attempts, now.Sub(it.Created).Round(time.Second), it.LastError), "")
			after = id
			continue
		}
		res, problems := m.deliver(ctx, n, it)
		if ctx.Err() != nil {
			return // shutting down: the item stays queued for the next start
		}
		it.Attempts++
		it.Problems = append(it.Problems, problems...)
		switch {
		case res.sent:
			if failing {
				m.log.Info("notifications are getting through again", "notifier", n.name, "after_attempts", it.Attempts)
				failing = false
			}
			m.finish(n, id, it, "sent", "", res.info)
			after = id
		case res.permanent:
			m.log.Warn("notification failed", "notifier", n.name, "event", it.Event, "err", res.err)
			m.finish(n, id, it, "failed", res.err, res.info)
			after = id
		default:
			if !failing {
				m.log.Warn("notification not delivered, will retry", "notifier", n.name, "event", it.Event, "err", res.err)
				failing = true
			}
			it.LastError = res.err
			delay := m.backoff(it.Attempts)
			if res.retryAfter > 0 {
				delay = res.retryAfter
			}
			it.NextAt = m.d.Now().Add(delay)
			b, _ := json.Marshal(it)
			if err := n.queue.Replace(id, b); err != nil {
				m.log.Error("outbox update failed", "notifier", n.name, "err", err)
			}
		}
	}
}

func (m *Manager) backoff(attempt int) time.Duration {
	d := m.d.Backoff
	for i := 1; i < attempt && d < m.d.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, m.d.MaxBackoff)
}

// head returns the oldest queued item of a notifier with an id above after.
func (m *Manager) head(n *notifier, after uint64) (uint64, *item, bool) {
	var id uint64
	var it *item
	stop := errors.New("stop")
	err := n.queue.ForEach(func(qid uint64, v []byte) error {
		if qid <= after {
			return nil
		}
		var x item
		if err := json.Unmarshal(v, &x); err != nil {
			m.log.Error("unreadable outbox entry dropped", "notifier", n.name, "id", qid, "err", err)
			_ = n.queue.Delete(qid)
			return nil
		}
		id, it = qid, &x
		return stop
	})
	if err != nil && !errors.Is(err, stop) {
		m.log.Error("outbox read failed", "notifier", n.name, "err", err)
	}
	return id, it, it != nil
}

// finished is a delivery whose outbox item the committer removes.
type finished struct {
	n  *notifier
	id uint64
	d  Delivery
}

// finish records a delivery's outcome and returns at once: the worker goes
// on with its next item while the removal from the outbox and the history
// entry wait to be written with the next outbox write (the next event's
// enqueue) or by the committer at most commitLinger later. One fsync then
// covers a whole burst of notifiers, and an event never waits behind the
// bookkeeping of the last one. A crash before that write sends the message
// again at the next start: at least once, never lost.
func (m *Manager) finish(n *notifier, id uint64, it *item, result, errText, info string) {
	d := Delivery{
		Notifier: n.name, Time: m.d.Now(), Event: it.Event, Result: result, Attempts: it.Attempts,
		Error: errText, Info: info, Problems: it.Problems, Title: it.Title, Queued: it.Created,
	}
	if result == "dropped" {
		m.log.Warn("notification dropped", "notifier", n.name, "event", it.Event, "err", errText)
	}
	m.finMu.Lock()
	m.fin = append(m.fin, finished{n: n, id: id, d: d})
	m.finMu.Unlock()
	select {
	case m.finWake <- struct{}{}:
	default:
	}
}

// commitLinger is how long finished deliveries may wait for an enqueue to
// carry them before the committer writes them itself.
const commitLinger = 50 * time.Millisecond

// takeFinished returns the finished deliveries not yet written.
func (m *Manager) takeFinished() []finished {
	m.finMu.Lock()
	defer m.finMu.Unlock()
	f := m.fin
	m.fin = nil
	return f
}

// putBackFinished returns deliveries whose write failed to the front of
// the pending list.
func (m *Manager) putBackFinished(f []finished) {
	m.finMu.Lock()
	defer m.finMu.Unlock()
	m.fin = append(f, m.fin...)
}

// writeFinished removes the items from their outboxes and appends their
// history entries within tx.
func (m *Manager) writeFinished(tx *store.Tx, fs []finished) error {
	for _, f := range fs {
		if err := tx.Queue(f.n.queue.Name()).Delete(f.id); err != nil {
			return err
		}
		if err := m.history.addTx(tx, f.n.name, f.d); err != nil {
			return err
		}
	}
	return nil
}

// pendingHistory returns the finished, not yet written deliveries of a
// notifier, newest first, so the history shows them at once.
func (m *Manager) pendingHistory(name string) []Delivery {
	m.finMu.Lock()
	defer m.finMu.Unlock()
	var out []Delivery
	for i := len(m.fin) - 1; i >= 0; i-- {
		if m.fin[i].n.name == name {
			d := m.fin[i].d
			d.Notifier = name
			out = append(out, d)
		}
	}
	return out
}

// committer writes finished deliveries that no enqueue carried within
// commitLinger, until stop is closed; then it writes what is left.
func (m *Manager) committer(stop <-chan struct{}) {
	defer close(m.committerDone)
	for {
		select {
		case <-m.finWake:
		case <-stop:
			m.flushFinished()
			return
		}
		t := time.NewTimer(commitLinger)
		select {
		case <-t.C:
		case <-stop:
			t.Stop()
		}
		m.flushFinished()
	}
}

// flushFinished writes every pending finished delivery in one transaction.
func (m *Manager) flushFinished() {
	fs := m.takeFinished()
	if len(fs) == 0 {
		return
	}
	if err := m.d.Store.Update(func(tx *store.Tx) error { return m.writeFinished(tx, fs) }); err != nil {
		m.log.Error("outbox update failed; these notifications may be sent again at the next start", "count", len(fs), "err", err)
	}
}

// outcome is one delivery attempt's result.
type outcome struct {
	sent, permanent bool
	err, info       string
	retryAfter      time.Duration
}

// deliver makes one attempt: format conversion, title merge, attachments,
// then the guest's Send.
func (m *Manager) deliver(ctx context.Context, n *notifier, it *item) (outcome, []string) {
	g := n.guest
	native := n.native
	title, body := it.Title, convert(it.Body, it.BodyFormat, native)
	if g.NoTitle {
		body = mergeTitle(title, body, it.BodyFormat, native)
		title = ""
	}
	// Over-long titles and bodies go as they are (Apprise's default
	// overflow=upstream): the service decides.
	atts, problems := m.fetchAttachments(ctx, g, it.Attach)
	req := sdk.SendRequest{
		URL: n.url, Title: title, Body: body, BodyFormat: it.BodyFormat, NotifyType: "info",
		Notifier: n.name, Event: it.Event, Now: m.d.Now().Unix(),
	}
	for i, a := range atts {
		req.Attachments = append(req.Attachments, sdk.AttachmentInfo{ID: uint32(i + 1), Name: a.Name, MIME: a.MIME, Size: int64(len(a.Data))})
	}
	res, err := m.d.Guests.Send(ctx, g.Name, req, runtime.Call{
		Scope:       "notifier." + n.name,
		Attachments: atts,
		ExtraHosts:  m.d.ExtraHosts,
		Logger:      m.log.With("notifier", n.name),
	})
	if err != nil {
		return outcome{err: err.Error()}, problems
	}
	o := outcome{sent: res.OK || res.Status == sdk.StatusSent, permanent: res.Permanent, err: res.Error, info: res.Info}
	if res.RetryAfterS > 0 {
		o.retryAfter = time.Duration(res.RetryAfterS) * time.Second
	}
	if !o.sent && o.err == "" {
		o.err = strings.TrimSpace("the service did not accept the message " + res.Status)
	}
	return o, problems
}
