package notifier

import (
	"context"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/moonrelay/moonrelay/host/jobstate"
	"github.com/moonrelay/moonrelay/host/klippy"
	"github.com/moonrelay/moonrelay/host/server"
)

// startEvents follows job events and Klippy's state and progress.
func (m *Manager) startEvents(ctx context.Context) {
	if m.d.Jobs != nil {
		sub := m.d.Jobs.Subscribe()
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			defer sub.Close()
			for {
				select {
				case <-ctx.Done():
					return
				case ev, ok := <-sub.Events():
					if !ok {
						return
					}
					m.onJobEvent(ev)
				}
			}
		}()
	}
	if m.d.Printer != nil {
		sub := m.d.Printer.Subscribe(map[string][]string{"print_stats": nil, "virtual_sdcard": {"progress"}})
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			defer sub.Close()
			m.followPrinter(ctx, sub)
		}()
	}
}

// onJobEvent fans one job event out to the notifiers that want it.
func (m *Manager) onJobEvent(ev jobstate.Event) {
	if ev.Name == jobstate.EventStandby {
		return
	}
	var todo []*notifier
	for _, name := range m.order {
		n := m.notifiers[name]
		if !n.set.subscribed(ev.Name) {
			continue
		}
		if n.set.MinPause > 0 && (ev.Name == jobstate.EventPaused || ev.Name == jobstate.EventResumed) {
			m.debouncePause(n, ev)
			continue
		}
		if ev.Name != jobstate.EventPaused && ev.Name != jobstate.EventResumed {
			m.flushPause(n)
		}
		todo = append(todo, n)
	}
	m.enqueueAll(m.prepareAll(todo, ev.Name, []any{ev.Prev, ev.Curr}))
}

// prepareAll renders the messages of several notifiers for one event, on
// every core (each renders its own templates into its own context; the
// event's arguments are only read), and returns them in notifier order.
func (m *Manager) prepareAll(ns []*notifier, event string, args []any) []pending {
	out := make([]*pending, len(ns))
	workers := min(len(ns), runtime.GOMAXPROCS(0))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(workers-1, 0) {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(ns); i = int(next.Add(1) - 1) {
				out[i] = m.prepare(ns[i], event, args, "", nil, nil)
			}
		})
	}
	for i := int(next.Add(1) - 1); i < len(ns); i = int(next.Add(1) - 1) {
		out[i] = m.prepare(ns[i], event, args, "", nil, nil)
	}
	wg.Wait()
	batch := make([]pending, 0, len(ns))
	for _, p := range out {
		if p != nil {
			batch = append(batch, *p)
		}
	}
	return batch
}

// debouncePause holds a paused event for min_pause: a resume within that
// time cancels both (timelapse parking, filament swaps by macro); otherwise
// paused is sent late and the resume that follows is sent too.
func (m *Manager) debouncePause(n *notifier, ev jobstate.Event) {
	n.pauseMu.Lock()
	defer n.pauseMu.Unlock()
	args := []any{ev.Prev, ev.Curr}
	switch ev.Name {
	case jobstate.EventPaused:
		if n.pauseTimer != nil {
			n.pauseTimer.Stop()
		}
		n.pausedAt, n.pausedArgs = m.d.Now(), args
		n.pauseTimer = time.AfterFunc(n.set.MinPause, func() { m.sendHeldPause(n) })
	case jobstate.EventResumed:
		if n.pauseTimer != nil && n.pauseTimer.Stop() {
			n.pauseTimer, n.pausedArgs = nil, nil
			m.log.Debug("short pause not notified", "notifier", n.name, "seconds", m.d.Now().Sub(n.pausedAt).Seconds())
			return
		}
		m.notifyEvent(n, jobstate.EventResumed, args, "", nil)
	}
}

// sendHeldPause sends the paused event held by debouncePause, once.
func (m *Manager) sendHeldPause(n *notifier) {
	n.pauseMu.Lock()
	args := n.pausedArgs
	n.pauseTimer, n.pausedArgs = nil, nil
	n.pauseMu.Unlock()
	if args != nil {
		m.notifyEvent(n, jobstate.EventPaused, args, "", nil)
	}
}

// flushPause sends a held paused event at once, before the job's end.
func (m *Manager) flushPause(n *notifier) {
	n.pauseMu.Lock()
	t := n.pauseTimer
	n.pauseMu.Unlock()
	if t != nil && t.Stop() {
		m.sendHeldPause(n)
	}
}

// progressState tracks per-job thresholds for progress and layer events.
type progressState struct {
	file      string
	nextPct   int
	nextLayer int
}

// followPrinter turns Klippy state changes into klippy_shutdown and
// klippy_disconnected events, and progress into progress and layer events.
func (m *Manager) followPrinter(ctx context.Context, sub *klippy.Subscription) {
	stats := map[string]any{}
	var last klippy.State
	for {
		select {
		case <-ctx.Done():
			return
		case u, ok := <-sub.Updates():
			if !ok {
				return
			}
			switch u.Kind {
			case klippy.StateChange:
				switch {
				case u.State == klippy.StateShutdown && last != klippy.StateShutdown:
					m.fireAll("klippy_shutdown", []any{stats, stats}, u.Message)
				case u.State == klippy.StateDisconnected && last != "" && last != klippy.StateDisconnected:
					m.fireAll("klippy_disconnected", []any{stats, stats}, "moonrelay lost its connection to Klippy")
				}
				last = u.State
			case klippy.Snapshot, klippy.Changes:
				prev := maps.Clone(stats)
				if ps, ok := u.Status["print_stats"]; ok {
					for k, v := range ps {
						stats[k] = v
					}
				}
				pct := -1.0
				if vs, ok := u.Status["virtual_sdcard"]; ok {
					if p, ok := vs["progress"].(float64); ok {
						pct = p * 100
					}
				}
				m.checkProgress(prev, maps.Clone(stats), pct)
			}
		}
	}
}

// checkProgress fires progress and layer events when a print crosses the
// next threshold of a notifier's interval.
func (m *Manager) checkProgress(prev, curr map[string]any, pct float64) {
	if s, _ := curr["state"].(string); s != "printing" {
		return
	}
	file, _ := curr["filename"].(string)
	layer := -1
	if info, ok := curr["info"].(map[string]any); ok {
		if l, ok := info["current_layer"].(float64); ok {
			layer = int(l)
		}
	}
	for _, name := range m.order {
		n := m.notifiers[name]
		ps := &n.progress
		if ps.file != file {
			*ps = progressState{file: file, nextPct: n.set.ProgressInterval, nextLayer: n.set.LayerInterval}
		}
		if n.set.ProgressInterval > 0 && n.set.subscribed("progress") && pct >= 0 && int(pct) >= ps.nextPct && ps.nextPct < 100 {
			reached := int(pct) / n.set.ProgressInterval * n.set.ProgressInterval
			ps.nextPct = reached + n.set.ProgressInterval
			m.notifyEvent(n, "progress", []any{prev, curr}, "", map[string]any{"progress": reached})
		}
		if n.set.LayerInterval > 0 && n.set.subscribed("layer") && layer >= ps.nextLayer && layer > 0 {
			reached := layer / n.set.LayerInterval * n.set.LayerInterval
			ps.nextLayer = reached + n.set.LayerInterval
			m.notifyEvent(n, "layer", []any{prev, curr}, "", map[string]any{"progress": int(max(pct, 0)), "layer": reached})
		}
	}
}

// fireAll sends an event to every notifier subscribed to it.
func (m *Manager) fireAll(event string, args []any, message string) {
	for _, name := range m.order {
		n := m.notifiers[name]
		if n.set.subscribed(event) {
			m.notifyEvent(n, event, args, message, nil)
		}
	}
}

// remoteNotify is the notify remote method Klipper macros call:
// action_call_remote_method("notify", name="phone", message="…",
// title="…", attach="…"). It fires regardless of the notifier's events.
func (m *Manager) remoteNotify(_ context.Context, params map[string]any) error {
	name, _ := params["name"].(string)
	n, ok := m.notifiers[name]
	if !ok {
		return server.NotFound("Notifier '%s' not found", name)
	}
	message := stringParam(params["message"])
	override := &overrides{}
	if t, ok := params["title"]; ok {
		s := stringParam(t)
		override.title = &s
	}
	if a := stringParam(params["attach"]); a != "" {
		override.attach = splitLines(a)
	}
	m.notifyEventWith(n, "remote_action", []any{}, message, nil, override)
	return nil
}

func stringParam(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	default:
		return fmt.Sprint(t)
	}
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
