package notifier

import (
	"context"
	"maps"

	"github.com/moonrelay/moonrelay/host/server"
)

// Register adds the notifier endpoints.
func (m *Manager) Register(s *server.Server) error {
	for _, e := range []server.Endpoint{
		{Path: "/server/notifiers/list", Handler: m.handleList},
		{Path: "/server/notifiers/history", Handler: m.handleHistory},
		{Path: "/server/notifiers/render", Methods: []string{"POST"}, Handler: m.handleRender},
		{Path: "/debug/notifiers/test", Methods: []string{"POST"}, Handler: m.handleTest},
	} {
		if err := s.Register(e); err != nil {
			return err
		}
	}
	return nil
}

// listItem is one notifier in server.notifiers.list, in Moonraker's key
// order. The url is the template as written, never the rendered secret.
type listItem struct {
	Name       string   `json:"name"`
	URL        string   `json:"url"`
	Title      *string  `json:"title"`
	Body       *string  `json:"body"`
	BodyFormat *string  `json:"body_format"`
	Events     []string `json:"events"`
	Attach     *string  `json:"attach"`
}

func (m *Manager) handleList(context.Context, *server.Request) (any, error) {
	out := make([]listItem, 0, len(m.order))
	for _, name := range m.order {
		n := m.notifiers[name]
		out = append(out, listItem{
			Name: name, URL: n.set.URL, Title: n.set.Title, Body: n.set.Body,
			BodyFormat: n.set.BodyFormat, Events: append([]string{}, n.set.events...), Attach: n.set.Attach,
		})
	}
	return map[string]any{"notifiers": out}, nil
}

func (m *Manager) lookup(r *server.Request) (*notifier, error) {
	name, err := r.String("name")
	if err != nil {
		return nil, err
	}
	n, ok := m.notifiers[name]
	if !ok {
		return nil, server.NotFound("Notifier '%s' not found", name)
	}
	return n, nil
}

func (m *Manager) handleHistory(_ context.Context, r *server.Request) (any, error) {
	limit, err := r.IntOr("limit", 20)
	if err != nil {
		return nil, err
	}
	if limit < 1 || limit > 50 {
		return nil, server.BadRequest("limit must be from 1 to 50")
	}
	names := m.order
	if r.Has("name") {
		n, err := m.lookup(r)
		if err != nil {
			return nil, err
		}
		names = []string{n.name}
	}
	out := map[string][]Delivery{}
	for _, name := range names {
		out[name] = m.historyOf(name, int(limit))
	}
	return map[string]any{"history": out}, nil
}

// defaultStats is an empty print_stats, as Klipper reports when idle.
func defaultStats() map[string]any {
	return map[string]any{
		"filename": "", "total_duration": 0.0, "print_duration": 0.0, "filament_used": 0.0,
		"state": "standby", "message": "", "info": map[string]any{"total_layer": nil, "current_layer": nil},
	}
}

// firstEvent is the event a test or preview uses: the notifier's first.
func firstEvent(n *notifier) string {
	if len(n.set.events) > 0 {
		return n.set.events[0]
	}
	return "started"
}

// handleRender previews a notifier without sending: url (secrets masked),
// title, body and attachments for an event and print_stats.
func (m *Manager) handleRender(_ context.Context, r *server.Request) (any, error) {
	n, err := m.lookup(r)
	if err != nil {
		return nil, err
	}
	event, err := r.StringOr("event", firstEvent(n))
	if err != nil {
		return nil, err
	}
	stats := defaultStats()
	ps, err := r.ObjectOr("print_stats", nil)
	if err != nil {
		return nil, err
	}
	maps.Copy(stats, ps)
	message, err := r.StringOr("message", "")
	if err != nil {
		return nil, err
	}
	args := []any{stats, stats}
	if event == "remote_action" {
		args = []any{}
	}
	out, rerr := m.render(n, m.vars(event, args, message, map[string]any{"progress": 0}), nil)
	if rerr != nil {
		return nil, server.BadRequest("%s: %v", n.name, rerr)
	}
	return map[string]any{
		"name": n.name, "event": event, "url": n.masked, "transport": n.guest.Name,
		"title": out.title, "body": out.body, "attachments": nonNil(out.attach), "problems": nonNil(out.problems),
	}, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// handleTest is debug.notifiers.test: it sends one notification with the
// notifier's first event and the printer's print_stats (filename forced to
// notifier_test.gcode), as Moonraker does.
func (m *Manager) handleTest(ctx context.Context, r *server.Request) (any, error) {
	n, err := m.lookup(r)
	if err != nil {
		return nil, err
	}
	stats := defaultStats()
	if m.d.Printer != nil {
		if st, _, err := m.d.Printer.QueryObjects(ctx, map[string][]string{"print_stats": nil}); err == nil {
			maps.Copy(stats, st["print_stats"])
		}
	}
	stats["filename"] = "notifier_test.gcode"
	m.notifyEvent(n, firstEvent(n), []any{stats, stats}, "", nil)
	return map[string]any{"status": "success", "stats": stats}, nil
}
