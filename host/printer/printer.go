// Package printer is the printer link as the API sees it: the Klippy client
// component, the printer.* endpoints frontends and slicers call, and the
// notify_klippy_* and notify_status_update broadcasts.
//
// # Endpoints
//
//	GET  /printer/info               printer.info
//	GET  /printer/objects/list       printer.objects.list
//	GET  /printer/objects/query      printer.objects.query      {objects: {name: [fields] | null}}
//	POST /printer/objects/subscribe  printer.objects.subscribe  (websocket: pushes notify_status_update)
//	POST /printer/gcode/script       printer.gcode.script       {script}
//	POST /printer/print/start        printer.print.start        {filename}
//	POST /printer/print/pause        printer.print.pause
//	POST /printer/print/resume       printer.print.resume
//	POST /printer/print/cancel       printer.print.cancel
//	POST /printer/emergency_stop     printer.emergency_stop
//
// # Guarantees
//
//   - A request while Klippy is not connected fails at once with 503
//     "Klippy Disconnected"; a Klippy error reply becomes a 400 carrying
//     Klippy's message.
//   - A websocket's subscription is replaced by its next subscribe and
//     dropped when the websocket closes.
package printer

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync"

	"github.com/moonrelay/moonrelay/host/klippy"
	"github.com/moonrelay/moonrelay/host/server"
)

// Printer is the component.
type Printer struct {
	client *klippy.Client
	srv    *server.Server
	log    *slog.Logger

	mu     sync.Mutex
	active string // print_stats.filename while printing or paused
	state  string // print_stats.state
	subs   map[*server.Conn]*klippy.Subscription

	wg     sync.WaitGroup
	cancel context.CancelFunc

	checkFile func(name string) error
}

// SetFileCheck sets a check run on a file before a print starts, so that a
// missing file gets a clear error instead of Klipper's "Unable to open
// file". Call it before Start.
func (p *Printer) SetFileCheck(f func(name string) error) { p.checkFile = f }

// New returns the component for an existing client; Start starts the
// client.
func New(client *klippy.Client, srv *server.Server, logger *slog.Logger) *Printer {
	return &Printer{client: client, srv: srv, log: logger.With("component", "klippy_connection"), subs: map[*server.Conn]*klippy.Subscription{}}
}

// Name is the component's name.
func (p *Printer) Name() string { return "klippy_connection" }

// Client returns the Klippy client.
func (p *Printer) Client() *klippy.Client { return p.client }

// Start connects to Klippy and follows its state and print_stats.
func (p *Printer) Start(ctx context.Context) error {
	ctx, p.cancel = context.WithCancel(ctx)
	sub := p.client.Subscribe(map[string][]string{"print_stats": {"state", "filename"}})
	p.srv.SetKlippyStatus(func() (bool, string) {
		st, _ := p.client.State()
		return st != klippy.StateDisconnected, string(st)
	})
	if err := p.client.Start(ctx); err != nil {
		sub.Close()
		return err
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer sub.Close()
		p.follow(ctx, sub)
	}()
	return nil
}

// follow tracks the active file and broadcasts Klippy's state changes.
func (p *Printer) follow(ctx context.Context, sub *klippy.Subscription) {
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
				if u.State != last {
					p.broadcastState(last, u.State)
					last = u.State
				}
				if u.State != klippy.StateReady {
					p.mu.Lock()
					p.active, p.state = "", ""
					p.mu.Unlock()
				}
			case klippy.Snapshot, klippy.Changes:
				if ps, ok := u.Status["print_stats"]; ok {
					p.mu.Lock()
					if s, ok := ps["state"].(string); ok {
						p.state = s
					}
					if f, ok := ps["filename"].(string); ok {
						p.active = f
					}
					p.mu.Unlock()
				}
			}
		}
	}
}

func (p *Printer) broadcastState(from, to klippy.State) {
	switch to {
	case klippy.StateReady:
		_ = p.srv.Broadcast("notify_klippy_ready")
	case klippy.StateShutdown:
		_ = p.srv.Broadcast("notify_klippy_shutdown")
	case klippy.StateDisconnected:
		if from != "" {
			_ = p.srv.Broadcast("notify_klippy_disconnected")
		}
	}
}

// Close stops following and closes the client.
func (p *Printer) Close() error {
	if p.cancel != nil {
		p.cancel()
	}
	p.wg.Wait()
	p.mu.Lock()
	for c, s := range p.subs {
		s.Close()
		delete(p.subs, c)
	}
	p.mu.Unlock()
	return p.client.Close()
}

// ActiveFile returns the file being printed or paused, or "".
func (p *Printer) ActiveFile() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == "printing" || p.state == "paused" {
		return p.active
	}
	return ""
}

// StartPrint starts printing a gcodes-relative file.
func (p *Printer) StartPrint(ctx context.Context, filename string) error {
	return apiError(p.client.StartPrint(ctx, filename))
}

// apiError maps Klippy errors to the statuses Moonraker uses.
func apiError(err error) error {
	if err == nil {
		return nil
	}
	var ke *klippy.Error
	switch {
	case errors.Is(err, klippy.ErrNotConnected), errors.Is(err, klippy.ErrClosed):
		return &server.Error{Code: http.StatusServiceUnavailable, Message: "Klippy Disconnected: moonrelay is not connected to Klipper; check that Klipper runs and [klippy] uds_address", Err: err}
	case errors.As(err, &ke):
		return &server.Error{Code: http.StatusBadRequest, Message: ke.Message, Err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &server.Error{Code: http.StatusGatewayTimeout, Message: "Klippy did not answer in time", Err: err}
	}
	return err
}

// Register adds the printer endpoints.
func (p *Printer) Register(s *server.Server) error {
	ok := func(f func(context.Context) error) server.Handler {
		return func(ctx context.Context, _ *server.Request) (any, error) {
			if err := f(ctx); err != nil {
				return nil, apiError(err)
			}
			return "ok", nil
		}
	}
	eps := []server.Endpoint{
		{Path: "/printer/info", Handler: p.info},
		{Path: "/printer/objects/list", Handler: p.objectsList},
		{Path: "/printer/objects/query", Methods: []string{"GET", "POST"}, Handler: p.objectsQuery, RPCNames: []string{"printer.objects.query", "-"}},
		{Path: "/printer/objects/subscribe", Methods: []string{"POST"}, Handler: p.objectsSubscribe},
		{Path: "/printer/gcode/script", Methods: []string{"POST"}, Handler: p.gcodeScript},
		{Path: "/printer/print/start", Methods: []string{"POST"}, Handler: p.printStart},
		{Path: "/printer/print/pause", Methods: []string{"POST"}, Handler: ok(p.client.PausePrint)},
		{Path: "/printer/print/resume", Methods: []string{"POST"}, Handler: ok(p.client.ResumePrint)},
		{Path: "/printer/print/cancel", Methods: []string{"POST"}, Handler: ok(p.client.CancelPrint)},
		{Path: "/printer/emergency_stop", Methods: []string{"POST"}, Handler: ok(p.client.EmergencyStop)},
	}
	for _, e := range eps {
		if err := s.Register(e); err != nil {
			return err
		}
	}
	return nil
}

func (p *Printer) info(ctx context.Context, _ *server.Request) (any, error) {
	raw, err := p.client.Request(ctx, "info", map[string]any{})
	if err != nil {
		return nil, apiError(err)
	}
	return raw, nil
}

func (p *Printer) objectsList(ctx context.Context, _ *server.Request) (any, error) {
	objs, err := p.client.ListObjects(ctx)
	if err != nil {
		return nil, apiError(err)
	}
	return map[string]any{"objects": objs}, nil
}

// objectArgs reads the objects to query: JSON-RPC {"objects": {"toolhead":
// ["position"], "webhooks": null}}, or HTTP query ?toolhead=position,extruder&webhooks.
func objectArgs(r *server.Request) (map[string][]string, error) {
	out := map[string][]string{}
	if raw, ok := r.Args["objects"]; ok {
		m, ok := raw.(map[string]any)
		if !ok {
			return nil, server.BadRequest("objects must be an object of printer object names to lists of fields (or null for all fields)")
		}
		for name, v := range m {
			fields, err := fieldList(name, v)
			if err != nil {
				return nil, err
			}
			out[name] = fields
		}
		return out, nil
	}
	for name, v := range r.Args {
		if name == "connection_id" {
			continue
		}
		fields, err := fieldList(name, v)
		if err != nil {
			return nil, err
		}
		out[name] = fields
	}
	if len(out) == 0 {
		return nil, server.BadRequest("No printer objects named: e.g. ?print_stats&toolhead=position")
	}
	return out, nil
}

func fieldList(name string, v any) ([]string, error) {
	switch t := v.(type) {
	case nil:
		return nil, nil
	case string:
		if t == "" {
			return nil, nil
		}
		return strings.Split(t, ","), nil
	case []any:
		fields := make([]string, 0, len(t))
		for _, f := range t {
			s, ok := f.(string)
			if !ok {
				return nil, server.BadRequest("objects[%s]: field names must be text", name)
			}
			fields = append(fields, s)
		}
		return fields, nil
	}
	return nil, server.BadRequest("objects[%s]: give a list of field names or null", name)
}

func (p *Printer) objectsQuery(ctx context.Context, r *server.Request) (any, error) {
	objs, err := objectArgs(r)
	if err != nil {
		return nil, err
	}
	status, et, err := p.client.QueryObjects(ctx, objs)
	if err != nil {
		return nil, apiError(err)
	}
	return map[string]any{"eventtime": et, "status": status}, nil
}

// objectsSubscribe replaces the websocket's subscription and answers with
// the current values; later changes arrive as notify_status_update.
func (p *Printer) objectsSubscribe(ctx context.Context, r *server.Request) (any, error) {
	objs, err := objectArgs(r)
	if err != nil {
		return nil, err
	}
	status, et, err := p.client.QueryObjects(ctx, objs)
	if err != nil {
		return nil, apiError(err)
	}
	conn := r.Conn
	if conn == nil {
		// Over HTTP there is nowhere to push: answer like a query.
		return map[string]any{"eventtime": et, "status": status}, nil
	}
	sub := p.client.Subscribe(objs)
	p.mu.Lock()
	old := p.subs[conn]
	p.subs[conn] = sub
	p.mu.Unlock()
	if old != nil {
		old.Close()
	} else {
		conn.OnClose(func() {
			p.mu.Lock()
			s := p.subs[conn]
			delete(p.subs, conn)
			p.mu.Unlock()
			if s != nil {
				s.Close()
			}
		})
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for u := range sub.Updates() {
			if u.Kind == klippy.Changes && len(u.Status) > 0 {
				if err := conn.Notify("notify_status_update", u.Status, u.EventTime); err != nil {
					p.log.Warn("status update not sent", "err", err)
				}
			}
		}
	}()
	return map[string]any{"eventtime": et, "status": status}, nil
}

func (p *Printer) gcodeScript(ctx context.Context, r *server.Request) (any, error) {
	script, err := r.String("script")
	if err != nil {
		return nil, err
	}
	if err := p.client.GcodeScript(ctx, script); err != nil {
		return nil, apiError(err)
	}
	return "ok", nil
}

func (p *Printer) printStart(ctx context.Context, r *server.Request) (any, error) {
	name, err := r.String("filename")
	if err != nil {
		return nil, err
	}
	name = strings.TrimPrefix(name, "/")
	if strings.HasPrefix(name, "gcodes/") {
		name = strings.TrimPrefix(name, "gcodes/")
	}
	if strings.Contains(name, "..") {
		return nil, server.BadRequest("Invalid filename %q", name)
	}
	if p.checkFile != nil {
		if err := p.checkFile(name); err != nil {
			return nil, err
		}
	}
	if err := p.client.StartPrint(ctx, name); err != nil {
		return nil, apiError(err)
	}
	return "ok", nil
}
