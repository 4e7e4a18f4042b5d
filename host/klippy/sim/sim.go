package sim

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"
)

// Options configures a simulated printer. The zero value is usable: no
// gcodes directory, real-time speed, 250 ms status batching, no start-up delay.
type Options struct {
	// GcodesDir is the virtual_sdcard path that SDCARD_PRINT_FILE reads from.
	GcodesDir string
	// Speed is how many simulated seconds pass per real second: 1 runs a
	// print in real time, 1000 runs a one-hour print in 3.6 s. Default 1.
	Speed float64
	// StatusInterval is how often subscribers get status pushes, like
	// Klippy's 250 ms SUBSCRIPTION_REFRESH_TIME. Default 250 ms.
	StatusInterval time.Duration
	// StartupDelay is how long the printer stays in the "startup" state
	// after Start, and after RESTART / FIRMWARE_RESTART. Default 0.
	StartupDelay time.Duration
	// Logger receives the simulator's log lines. Default: discard.
	Logger *slog.Logger
}

// Printer is a simulated Klippy host. Create it with [New], then [Printer.Start]
// or [Printer.Serve] it on a Unix socket. All methods are safe for concurrent use.
type Printer struct {
	opts Options
	log  *slog.Logger

	// gcodeMu is Klippy's gcode mutex: a token that a G-code command holds
	// while it runs. It is a channel so that the print loop can wait for it
	// or for a stop request at the same time.
	gcodeMu chan struct{}

	mu sync.Mutex // guards everything below
	st state

	rbase time.Time
	vbase float64

	conns      map[*simConn]struct{}
	remote     map[string]map[*simConn]map[string]any // method → conn → response template
	outputSubs map[*simConn]map[string]any

	ln         net.Listener
	socketPath string
	ctx        context.Context
	cancel     context.CancelFunc
	wg         sync.WaitGroup
	refusing   bool
	closed     bool
	startupGen int
}

// New returns a simulated printer; it does nothing until Start or Serve.
func New(opts Options) *Printer {
	if opts.Speed <= 0 {
		opts.Speed = 1
	}
	if opts.StatusInterval <= 0 {
		opts.StatusInterval = 250 * time.Millisecond
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Printer{
		opts:       opts,
		log:        logger.With("component", "klippy_sim"),
		gcodeMu:    make(chan struct{}, 1),
		rbase:      time.Now(),
		vbase:      100, // Klippy's eventtime is a monotonic clock well above zero
		conns:      map[*simConn]struct{}{},
		remote:     map[string]map[*simConn]map[string]any{},
		outputSubs: map[*simConn]map[string]any{},
	}
	p.st = newState(opts.GcodesDir)
	return p
}

// EventTime returns the simulator's current eventtime: simulated seconds on
// Klippy's monotonic clock, the value carried by status pushes.
func (p *Printer) EventTime() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.now()
}

// now is the simulated clock; callers hold p.mu or accept a racy-free read of
// immutable fields (rbase, vbase and Speed never change after New).
func (p *Printer) now() float64 {
	return p.vbase + time.Since(p.rbase).Seconds()*p.opts.Speed
}

// Start listens on socketPath (removing a stale socket file first, as Klippy
// does) and serves connections in the background until ctx ends or Close.
func (p *Printer) Start(ctx context.Context, socketPath string) error {
	p.mu.Lock()
	if p.ln != nil || p.closed {
		p.mu.Unlock()
		return errors.New("sim: printer already started or closed")
	}
	p.ctx, p.cancel = context.WithCancel(ctx)
	p.socketPath = socketPath
	p.mu.Unlock()
	if err := p.listen(); err != nil {
		p.cancel()
		return err
	}
	p.mu.Lock()
	p.enterStartupLocked()
	p.mu.Unlock()
	p.wg.Add(2)
	go p.statusLoop()
	go func() {
		defer p.wg.Done()
		<-p.ctx.Done()
		p.shutdownServer()
	}()
	return nil
}

// Serve is Start followed by waiting until ctx ends or Close is called.
func (p *Printer) Serve(ctx context.Context, socketPath string) error {
	if err := p.Start(ctx, socketPath); err != nil {
		return err
	}
	<-p.ctx.Done()
	p.wg.Wait()
	return nil
}

// Close stops serving, closes every connection, stops a running print and
// removes the socket file. It waits for the simulator's goroutines and is
// safe to call more than once.
func (p *Printer) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	cancel := p.cancel
	p.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	p.wg.Wait()
	p.stopPrintForClose()
	return nil
}

func (p *Printer) listen() error {
	_ = os.Remove(p.socketPath)
	ln, err := net.Listen("unix", p.socketPath)
	if err != nil {
		return fmt.Errorf("sim: listen on %s: %w", p.socketPath, err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Add(1)
	go p.acceptLoop(ln)
	return nil
}

func (p *Printer) acceptLoop(ln net.Listener) {
	defer p.wg.Done()
	for {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		c := &simConn{p: p, nc: nc}
		p.mu.Lock()
		if p.closed || p.ln != ln {
			p.mu.Unlock()
			nc.Close()
			continue
		}
		p.conns[c] = struct{}{}
		p.mu.Unlock()
		p.wg.Add(1)
		go c.readLoop()
	}
}

func (p *Printer) shutdownServer() {
	p.mu.Lock()
	ln := p.ln
	p.ln = nil
	conns := p.takeConnsLocked()
	p.mu.Unlock()
	if ln != nil {
		ln.Close()
	}
	for _, c := range conns {
		c.nc.Close()
	}
}

func (p *Printer) takeConnsLocked() []*simConn {
	var out []*simConn
	for c := range p.conns {
		out = append(out, c)
	}
	p.conns = map[*simConn]struct{}{}
	p.remote = map[string]map[*simConn]map[string]any{}
	p.outputSubs = map[*simConn]map[string]any{}
	return out
}

// DropConnections closes every client connection at once, as when the API
// socket breaks. The printer keeps its state and a running print goes on;
// clients may reconnect immediately.
func (p *Printer) DropConnections() {
	p.mu.Lock()
	conns := p.takeConnsLocked()
	p.mu.Unlock()
	for _, c := range conns {
		c.nc.Close()
	}
}

// RefuseConnections closes every connection and the listening socket for d,
// so that clients fail to connect, then listens again.
func (p *Printer) RefuseConnections(d time.Duration) {
	p.mu.Lock()
	if p.refusing || p.ln == nil {
		p.mu.Unlock()
		return
	}
	p.refusing = true
	ln := p.ln
	p.ln = nil
	conns := p.takeConnsLocked()
	ctx := p.ctx
	p.mu.Unlock()
	ln.Close()
	for _, c := range conns {
		c.nc.Close()
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		p.refusing = false
		p.mu.Unlock()
		if err := p.listen(); err != nil {
			p.log.Warn("listen again after refusing connections", "err", err)
		}
	}()
}

// Restart simulates the RESTART command: the print in progress is lost,
// every connection is closed, the printer spends StartupDelay in "startup"
// and comes back "ready" with fresh state.
func (p *Printer) Restart() {
	p.stopPrintForClose()
	p.mu.Lock()
	conns := p.takeConnsLocked()
	p.st = newState(p.opts.GcodesDir)
	p.enterStartupLocked()
	p.mu.Unlock()
	for _, c := range conns {
		c.nc.Close()
	}
}

// enterStartupLocked puts the printer in "startup" for StartupDelay.
func (p *Printer) enterStartupLocked() {
	p.startupGen++
	if p.opts.StartupDelay <= 0 {
		p.st.setReady()
		return
	}
	p.st.klState, p.st.stateMsg = "startup", messageStartup
	gen := p.startupGen
	time.AfterFunc(p.opts.StartupDelay, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.startupGen == gen && p.st.klState == "startup" {
			p.st.setReady()
		}
	})
}

// FailPrintAt makes the current or next print fail with message once
// virtual_sdcard progress reaches fraction (0..1), as when a command in the
// file raises an error: print_stats goes to "error" with that message.
func (p *Printer) FailPrintAt(fraction float64, message string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.failAt, p.st.failMsg = fraction, message
}

// DropConnectionsAt closes every client connection once the print reaches
// fraction (0..1) of the file; the print itself continues.
func (p *Printer) DropConnectionsAt(fraction float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.st.dropAt = fraction
}

// ---- connections -------------------------------------------------------

type simConn struct {
	p   *Printer
	nc  net.Conn
	wmu sync.Mutex

	// guarded by p.mu
	sub      map[string][]string
	subOrder []string
	tmpl     map[string]any
	lastSent map[string]map[string]any
}

func (c *simConn) send(v any) {
	data, err := json.Marshal(v)
	if err != nil {
		c.p.log.Error("encode message", "err", err)
		return
	}
	data = append(data, 0x03)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.nc.Write(data); err != nil {
		c.nc.Close()
	}
}

func (c *simConn) readLoop() {
	defer c.p.wg.Done()
	defer func() {
		c.nc.Close()
		c.p.mu.Lock()
		delete(c.p.conns, c)
		for _, m := range c.p.remote {
			delete(m, c)
		}
		delete(c.p.outputSubs, c)
		c.p.mu.Unlock()
	}()
	sc := bufio.NewScanner(c.nc)
	sc.Buffer(make([]byte, 64*1024), 20<<20)
	sc.Split(splitETX)
	var wg sync.WaitGroup
	defer wg.Wait()
	for sc.Scan() {
		var req struct {
			ID     any            `json:"id"`
			Method any            `json:"method"`
			Params map[string]any `json:"params"`
		}
		if err := json.Unmarshal(sc.Bytes(), &req); err != nil {
			c.p.log.Warn("decode request", "err", err)
			continue
		}
		method, ok := req.Method.(string)
		if !ok {
			continue
		}
		if req.Params == nil {
			req.Params = map[string]any{}
		}
		// Klippy runs each request as its own reactor callback, so a slow
		// gcode/script does not hold up an objects/query behind it.
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.p.handle(c, method, req.Params)
			if req.ID == nil {
				return
			}
			if err != nil {
				c.send(map[string]any{"id": req.ID, "error": map[string]any{"error": "WebRequestError", "message": err.Error()}})
				return
			}
			if res == nil {
				res = map[string]any{}
			}
			c.send(map[string]any{"id": req.ID, "result": res})
		}()
	}
}

func splitETX(data []byte, atEOF bool) (int, []byte, error) {
	for i, b := range data {
		if b == 0x03 {
			return i + 1, data[:i], nil
		}
	}
	if atEOF {
		return len(data), nil, io.EOF
	}
	return 0, nil, nil
}

// cmdError is a G-code or webhooks error; its text reaches the client as
// the "message" of a WebRequestError.
type cmdError struct{ msg string }

func (e *cmdError) Error() string { return e.msg }

func cmdErrorf(format string, args ...any) error { return &cmdError{fmt.Sprintf(format, args...)} }

func (p *Printer) handle(c *simConn, method string, params map[string]any) (map[string]any, error) {
	switch method {
	case "info":
		p.mu.Lock()
		defer p.mu.Unlock()
		host, _ := os.Hostname()
		return map[string]any{
			"state": p.st.klState, "state_message": p.st.stateMsg,
			"hostname": host, "klipper_path": "/home/pi/klipper", "python_path": "/home/pi/klippy-env/bin/python",
			"process_id": os.Getpid(), "user_id": os.Getuid(), "group_id": os.Getgid(),
			"log_file": "/home/pi/printer_data/logs/klippy.log", "config_file": "/home/pi/printer_data/config/printer.cfg",
			"software_version": "v0.13.0-moonrelay-sim", "cpu_info": "moonrelay simulator",
		}, nil
	case "list_endpoints":
		return map[string]any{"endpoints": endpoints}, nil
	case "emergency_stop":
		p.shutdown("Shutdown due to webhooks request")
		return nil, nil
	case "register_remote_method":
		tmpl, ok := params["response_template"].(map[string]any)
		if !ok {
			return nil, cmdErrorf("Missing Argument [response_template]")
		}
		name, ok := params["remote_method"].(string)
		if !ok {
			return nil, cmdErrorf("Missing Argument [remote_method]")
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if _, live := p.conns[c]; !live {
			return nil, nil
		}
		if p.remote[name] == nil {
			p.remote[name] = map[*simConn]map[string]any{}
		}
		p.remote[name][c] = tmpl
		return nil, nil
	case "gcode/subscribe_output":
		tmpl, _ := params["response_template"].(map[string]any)
		if tmpl == nil {
			tmpl = map[string]any{}
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		if _, live := p.conns[c]; live {
			p.outputSubs[c] = tmpl
		}
		return nil, nil
	case "gcode/script":
		script, ok := params["script"].(string)
		if !ok {
			return nil, cmdErrorf("Missing Argument [script]")
		}
		return nil, p.runScript(script)
	case "gcode/help":
		return map[string]any{"G1": "Move", "SDCARD_PRINT_FILE": "Loads a SD file and starts the print.  May include files in subdirectories."}, nil
	case "gcode/restart":
		return nil, p.runScript("RESTART")
	case "gcode/firmware_restart":
		return nil, p.runScript("FIRMWARE_RESTART")
	case "pause_resume/pause":
		return nil, p.runScript("PAUSE")
	case "pause_resume/resume":
		return nil, p.runScript("RESUME")
	case "pause_resume/cancel":
		return nil, p.runScript("CANCEL_PRINT")
	case "objects/list":
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.st.klState != "ready" && p.st.klState != "shutdown" {
			return map[string]any{"objects": []string{"webhooks"}}, nil
		}
		return map[string]any{"objects": objectNames}, nil
	case "objects/query", "objects/subscribe":
		objs, ok := params["objects"].(map[string]any)
		if !ok {
			return nil, cmdErrorf("Missing Argument [objects]")
		}
		sub := map[string][]string{}
		var order []string
		for name, v := range objs {
			order = append(order, name)
			if v == nil {
				sub[name] = nil
				continue
			}
			list, ok := v.([]any)
			if !ok {
				return nil, cmdErrorf("Invalid argument")
			}
			fields := []string{}
			for _, f := range list {
				s, ok := f.(string)
				if !ok {
					return nil, cmdErrorf("Invalid argument")
				}
				fields = append(fields, s)
			}
			sub[name] = fields
		}
		sort.Strings(order)
		p.mu.Lock()
		defer p.mu.Unlock()
		now := p.now()
		full := map[string]map[string]any{}
		status := map[string]any{}
		for _, name := range order {
			res := p.statusLocked(name, now)
			full[name] = res
			status[name] = pick(res, sub[name])
		}
		if method == "objects/subscribe" {
			c.sub, c.subOrder = sub, order
			tmpl, _ := params["response_template"].(map[string]any)
			c.tmpl = tmpl
			c.lastSent = map[string]map[string]any{}
			for name, v := range status {
				c.lastSent[name] = v.(map[string]any)
			}
		}
		return map[string]any{"eventtime": now, "status": status}, nil
	}
	return nil, cmdErrorf("webhooks: No registered callback for path '%s'", method)
}

var endpoints = []string{
	"list_endpoints", "info", "emergency_stop", "register_remote_method",
	"gcode/help", "gcode/script", "gcode/restart", "gcode/firmware_restart", "gcode/subscribe_output",
	"objects/list", "objects/query", "objects/subscribe",
	"pause_resume/cancel", "pause_resume/pause", "pause_resume/resume",
}

// pick returns the requested fields of res; nil fields means all of them.
func pick(res map[string]any, fields []string) map[string]any {
	out := map[string]any{}
	if fields == nil {
		for k, v := range res {
			out[k] = v
		}
		return out
	}
	for _, f := range fields {
		if v, ok := res[f]; ok {
			out[f] = v
		} else if len(res) > 0 {
			out[f] = nil
		}
	}
	return out
}

// statusLoop pushes changed fields to each subscribed connection every
// StatusInterval, the way Klippy's QueryStatusHelper does.
func (p *Printer) statusLoop() {
	defer p.wg.Done()
	t := time.NewTicker(p.opts.StatusInterval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
		}
		p.pushStatus()
	}
}

func (p *Printer) pushStatus() {
	type out struct {
		c   *simConn
		msg map[string]any
	}
	var sends []out
	p.mu.Lock()
	now := p.now()
	cache := map[string]map[string]any{}
	for c := range p.conns {
		if c.sub == nil {
			continue
		}
		changed := map[string]any{}
		for _, name := range c.subOrder {
			res, ok := cache[name]
			if !ok {
				res = p.statusLocked(name, now)
				cache[name] = res
			}
			cur := pick(res, c.sub[name])
			last := c.lastSent[name]
			diff := map[string]any{}
			for k, v := range cur {
				if lv, ok := last[k]; !ok || !reflect.DeepEqual(lv, v) {
					diff[k] = v
				}
			}
			if len(diff) > 0 {
				changed[name] = diff
				c.lastSent[name] = cur
			}
		}
		if len(changed) == 0 {
			continue
		}
		msg := map[string]any{}
		for k, v := range c.tmpl {
			msg[k] = v
		}
		msg["params"] = map[string]any{"eventtime": now, "status": changed}
		sends = append(sends, out{c, msg})
	}
	p.mu.Unlock()
	for _, s := range sends {
		s.c.send(s.msg)
	}
}

// respondLocked sends a line of G-code output to every
// gcode/subscribe_output subscriber, in order. Callers hold p.mu.
func (p *Printer) respondLocked(msg string) {
	for c, tmpl := range p.outputSubs {
		out := map[string]any{}
		for k, v := range tmpl {
			out[k] = v
		}
		out["params"] = map[string]any{"response": msg}
		c.send(out)
	}
}

// callRemoteLocked sends a remote method call to every connection that
// registered it, as webhooks.call_remote_method does.
func (p *Printer) callRemoteLocked(method string, kwargs map[string]any) error {
	conns := p.remote[method]
	if len(conns) == 0 {
		delete(p.remote, method)
		return cmdErrorf("Remote method '%s' not registered", method)
	}
	for c, tmpl := range conns {
		out := map[string]any{"params": kwargs}
		for k, v := range tmpl {
			out[k] = v
		}
		c.send(out)
	}
	return nil
}

// round2 rounds like Klippy's heater status (round(temp, 2)).
func round2(v float64) float64 { return math.Round(v*100) / 100 }

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
