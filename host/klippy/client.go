package klippy

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/moonrelay/moonrelay/host/internal/fifo"
)

// State is Klippy's state as the client sees it.
type State string

// Klippy states. Startup, Ready, Error and Shutdown are Klippy's own
// (webhooks.state); Disconnected means there is no connection to it.
const (
	StateDisconnected State = "disconnected"
	StateStartup      State = "startup"
	StateReady        State = "ready"
	StateError        State = "error"
	StateShutdown     State = "shutdown"
)

// Options configures a Client. Only SocketPath is required.
type Options struct {
	// SocketPath is Klippy's API socket, [klippy] uds_address; Klipper
	// creates it with its -a option (usually
	// ~/printer_data/comms/klippy.sock).
	SocketPath string
	// RequestTimeout bounds every request except gcode/script, which may
	// legitimately run for minutes (G28, M109); give those a context
	// deadline if needed. Default 30 s.
	RequestTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the pause between connection
	// attempts; it doubles after each failure. Defaults 250 ms and 4 s.
	ReconnectMin, ReconnectMax time.Duration
	// PollInterval is how often info is polled while Klippy is starting
	// up, as Moonraker does. Default 250 ms.
	PollInterval time.Duration
	// Program and Version identify the client to Klippy (client_info);
	// Klippy writes them to klippy.log. Defaults "moonrelay" and "".
	Program, Version string
	// Logger receives connection and state changes (one line per change)
	// and failures of remote method handlers. Default: discard.
	Logger *slog.Logger
}

// Info is Klippy's reply to the info request.
type Info struct {
	State           State  `json:"state"`
	StateMessage    string `json:"state_message"`
	Hostname        string `json:"hostname"`
	KlipperPath     string `json:"klipper_path"`
	PythonPath      string `json:"python_path"`
	ProcessID       int    `json:"process_id"`
	UserID          int    `json:"user_id"`
	GroupID         int    `json:"group_id"`
	LogFile         string `json:"log_file"`
	ConfigFile      string `json:"config_file"`
	SoftwareVersion string `json:"software_version"`
	CPUInfo         string `json:"cpu_info"`
	// Raw is the whole reply, including fields not listed above.
	Raw json.RawMessage `json:"-"`
}

// RemoteMethod handles a remote method call from Klippy, made by a G-code
// macro with action_call_remote_method("name", key=value, ...). params holds
// the keyword arguments as decoded JSON. Klippy expects no reply, so a
// returned error is only logged.
type RemoteMethod func(ctx context.Context, params map[string]any) error

// Methods used on the wire for pushes to this client; they cannot be
// registered as remote methods.
const (
	statusMethod = "process_status_update"
	outputMethod = "process_gcode_response"
)

// Client is a connection to Klippy's API socket that reconnects forever.
// Create it with New, register remote methods and subscriptions, then
// Start it. All methods are safe for concurrent use.
type Client struct {
	opts Options
	log  *slog.Logger
	dial func(ctx context.Context) (net.Conn, error)

	mu       sync.Mutex
	state    State
	stateMsg string
	stateCh  chan struct{} // closed and replaced on every state change
	info     Info
	cn       *conn
	nextID   int64
	subs     map[*Subscription]struct{}
	cache    map[string]map[string]any
	methods  map[string]RemoteMethod
	started  bool
	closed   bool

	kick    chan struct{}
	remoteQ *fifo.Queue[remoteCall]
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

type conn struct {
	nc      net.Conn
	wmu     sync.Mutex
	pending map[int64]*call // guarded by Client.mu
	lost    bool            // guarded by Client.mu
	done    chan struct{}   // closed when the read loop has finished
}

type call struct {
	method string
	hook   func(json.RawMessage) // runs in the read loop before the reply is returned
	result json.RawMessage
	err    error
	done   chan struct{}
}

type remoteCall struct {
	method string
	params map[string]any
}

// New returns a client for the socket in opts. It does not connect until Start.
func New(opts Options) *Client {
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = 30 * time.Second
	}
	if opts.ReconnectMin <= 0 {
		opts.ReconnectMin = 250 * time.Millisecond
	}
	if opts.ReconnectMax < opts.ReconnectMin {
		opts.ReconnectMax = max(4*time.Second, opts.ReconnectMin)
	}
	if opts.PollInterval <= 0 {
		opts.PollInterval = 250 * time.Millisecond
	}
	if opts.Program == "" {
		opts.Program = "moonrelay"
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Client{
		opts:     opts,
		log:      logger.With("component", "klippy"),
		state:    StateDisconnected,
		stateMsg: "Klippy Disconnected",
		stateCh:  make(chan struct{}),
		subs:     map[*Subscription]struct{}{},
		cache:    map[string]map[string]any{},
		methods:  map[string]RemoteMethod{},
		kick:     make(chan struct{}, 1),
	}
	c.dial = func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", c.opts.SocketPath)
	}
	return c
}

// Start connects in the background and keeps reconnecting until ctx ends
// or Close is called. It returns at once; use WaitReady or a Subscription
// to learn when Klippy is ready.
func (c *Client) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.started {
		return errors.New("klippy: client already started")
	}
	if c.opts.SocketPath == "" {
		return errors.New("klippy: no socket path: set [klippy] uds_address")
	}
	c.started = true
	c.ctx, c.cancel = context.WithCancel(ctx)
	c.remoteQ = fifo.New[remoteCall]()
	c.wg.Add(3)
	go c.run()
	go c.subscribeLoop()
	go c.dispatchRemote()
	return nil
}

// Close disconnects, fails requests in flight with ErrClosed, closes every
// Subscription's channel and waits for the client's goroutines. It is safe
// to call more than once.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cn := c.cn
	cancel := c.cancel
	c.mu.Unlock()
	if cancel != nil {
		cancel()
	}
	if cn != nil {
		cn.nc.Close()
	}
	c.wg.Wait()
	c.mu.Lock()
	subs := c.subs
	c.subs = map[*Subscription]struct{}{}
	c.mu.Unlock()
	for s := range subs {
		s.q.Close()
	}
	if c.remoteQ != nil {
		c.remoteQ.Close()
	}
	return nil
}

// State returns Klippy's current state and its message: Klippy's
// state_message, or why the client is disconnected.
func (c *Client) State() (State, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state, c.stateMsg
}

// KlippyInfo returns the last info reply received while identifying.
func (c *Client) KlippyInfo() Info {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.info
}

// WaitReady blocks until Klippy is ready or ctx ends.
func (c *Client) WaitReady(ctx context.Context) error {
	for {
		c.mu.Lock()
		st, msg, ch := c.state, c.stateMsg, c.stateCh
		c.mu.Unlock()
		if st == StateReady {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("klippy: waiting for Klippy to be ready (now %s: %s): %w", st, firstLine(msg), ctx.Err())
		}
	}
}

// RegisterRemoteMethod makes h handle calls to the remote method name made
// by Klippy macros. It is registered with Klippy each time Klippy becomes
// ready (and at once if it is ready now). Calls run one at a time, in the
// order Klippy sent them, on one goroutine shared by all remote methods:
// a handler that blocks delays the others.
func (c *Client) RegisterRemoteMethod(name string, h RemoteMethod) error {
	if name == "" || name == statusMethod || name == outputMethod {
		return fmt.Errorf("klippy: cannot register remote method %q: reserved name", name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.methods[name]; dup {
		return fmt.Errorf("klippy: remote method %q is already registered", name)
	}
	c.methods[name] = h
	if c.state == StateReady && c.cn != nil {
		cn := c.cn
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			if err := c.registerMethod(cn, name); err != nil {
				c.log.Warn("register remote method with Klippy", "method", name, "err", err)
			}
		}()
	}
	return nil
}

func (c *Client) registerMethod(cn *conn, name string) error {
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.RequestTimeout)
	defer cancel()
	_, err := c.send(ctx, cn, "register_remote_method", map[string]any{
		"response_template": map[string]any{"method": name},
		"remote_method":     name,
	}, nil)
	return err
}

// Request sends method with params (any value that encodes to a JSON
// object, or nil) and returns Klippy's result. Errors: ErrNotConnected
// (wrapped) without a connection or when it is lost before the reply;
// *Error for Klippy's error reply; the context's error on timeout or
// cancellation, wrapped so that errors.Is(err, context.DeadlineExceeded)
// works.
func (c *Client) Request(ctx context.Context, method string, params any) (json.RawMessage, error) {
	if method != "gcode/script" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.RequestTimeout)
		defer cancel()
	}
	return c.send(ctx, nil, method, params, nil)
}

// send sends a request on cn (nil: the current connection).
func (c *Client) send(ctx context.Context, cn *conn, method string, params any, hook func(json.RawMessage)) (json.RawMessage, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, fmt.Errorf("klippy: %s: %w", method, ErrClosed)
	}
	if cn == nil {
		cn = c.cn
	}
	if cn == nil || cn.lost {
		c.mu.Unlock()
		return nil, fmt.Errorf("klippy: %s: %w", method, ErrNotConnected)
	}
	c.nextID++
	id := c.nextID
	cl := &call{method: method, hook: hook, done: make(chan struct{})}
	cn.pending[id] = cl
	c.mu.Unlock()
	drop := func() {
		c.mu.Lock()
		delete(cn.pending, id)
		c.mu.Unlock()
	}
	data, err := json.Marshal(struct {
		ID     int64  `json:"id"`
		Method string `json:"method"`
		Params any    `json:"params,omitempty"`
	}{id, method, params})
	if err != nil {
		drop()
		return nil, fmt.Errorf("klippy: %s: encode params: %w", method, err)
	}
	data = append(data, 0x03)
	cn.wmu.Lock()
	_ = cn.nc.SetWriteDeadline(time.Now().Add(c.opts.RequestTimeout))
	_, err = cn.nc.Write(data)
	cn.wmu.Unlock()
	if err != nil {
		drop()
		cn.nc.Close() // the read loop notices and reconnects
		return nil, fmt.Errorf("klippy: %s: %w: %v", method, ErrNotConnected, err)
	}
	select {
	case <-cl.done:
		return cl.result, cl.err
	case <-ctx.Done():
		drop()
		return nil, fmt.Errorf("klippy: %s: no reply from Klippy: %w", method, ctx.Err())
	}
}

// run is the connection loop: connect, identify, serve, and reconnect with
// back-off after any failure, until the client closes.
func (c *Client) run() {
	defer c.wg.Done()
	backoff := c.opts.ReconnectMin
	for c.ctx.Err() == nil {
		nc, err := c.dial(c.ctx)
		if err != nil {
			if c.ctx.Err() != nil {
				return
			}
			c.mu.Lock()
			c.setStateLocked(StateDisconnected, dialError(c.opts.SocketPath, err))
			c.mu.Unlock()
			if !sleepCtx(c.ctx, backoff) {
				return
			}
			backoff = min(backoff*2, c.opts.ReconnectMax)
			continue
		}
		backoff = c.opts.ReconnectMin
		cn := &conn{nc: nc, pending: map[int64]*call{}, done: make(chan struct{})}
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			nc.Close()
			return
		}
		c.cn = cn
		c.setStateLocked(StateStartup, "Connected to Klippy, waiting for it to report its state")
		c.mu.Unlock()
		c.wg.Add(1)
		go c.readLoop(cn)
		c.identify(cn)
		select {
		case <-cn.done:
		case <-c.ctx.Done():
			nc.Close()
			<-cn.done
			return
		}
		if !sleepCtx(c.ctx, c.opts.ReconnectMin) {
			return
		}
	}
}

// identify sends info with client_info, polls info until Klippy leaves
// startup, then registers remote methods, subscribes to G-code output and
// (re)subscribes every Subscription, as Moonraker does.
func (c *Client) identify(cn *conn) {
	identified := false
	for {
		select {
		case <-cn.done:
			return
		default:
		}
		params := map[string]any{}
		if !identified {
			params["client_info"] = map[string]any{"program": c.opts.Program, "version": c.opts.Version}
		}
		ctx, cancel := context.WithTimeout(c.ctx, c.opts.RequestTimeout)
		raw, err := c.send(ctx, cn, "info", params, nil)
		cancel()
		var info Info
		if err == nil {
			err = json.Unmarshal(raw, &info)
		}
		if err != nil || info.State == "" {
			if c.ctx.Err() != nil {
				return
			}
			c.log.Debug("Klippy info request failed; Klippy may have had an error at startup, see klippy.log", "err", err)
			if !c.sleepConn(cn, c.opts.PollInterval) {
				return
			}
			continue
		}
		identified = true
		info.Raw = raw
		c.mu.Lock()
		c.info = info
		if info.State == StateStartup {
			c.setStateLocked(StateStartup, info.StateMessage)
			c.mu.Unlock()
			if !c.sleepConn(cn, c.opts.PollInterval) {
				return
			}
			continue
		}
		methods := make([]string, 0, len(c.methods))
		for name := range c.methods {
			methods = append(methods, name)
		}
		c.mu.Unlock()
		if info.State != StateReady {
			// Only webhooks: Klippy has no printer objects to offer until a
			// restart, which reconnects.
			ctx, cancel := context.WithTimeout(c.ctx, c.opts.RequestTimeout)
			_, err := c.send(ctx, cn, "objects/subscribe", map[string]any{
				"objects":           map[string]any{"webhooks": nil},
				"response_template": map[string]any{"method": statusMethod},
			}, nil)
			cancel()
			if err != nil {
				c.log.Debug("subscribe to webhooks", "err", err)
			}
			c.mu.Lock()
			c.setStateLocked(info.State, info.StateMessage)
			c.mu.Unlock()
			return
		}
		for _, name := range methods {
			if err := c.registerMethod(cn, name); err != nil {
				c.log.Warn("register remote method with Klippy", "method", name, "err", err)
			}
		}
		ctx, cancel = context.WithTimeout(c.ctx, c.opts.RequestTimeout)
		_, err = c.send(ctx, cn, "gcode/subscribe_output", map[string]any{
			"response_template": map[string]any{"method": outputMethod},
		}, nil)
		cancel()
		if err != nil {
			c.log.Debug("subscribe to G-code output", "err", err)
		}
		c.mu.Lock()
		if c.cn == cn && !cn.lost {
			c.setStateLocked(StateReady, info.StateMessage)
		}
		c.mu.Unlock()
		c.kickSubscribe()
		return
	}
}

func (c *Client) sleepConn(cn *conn, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-cn.done:
	case <-c.ctx.Done():
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// readLoop reads 0x03-terminated JSON messages until the connection fails.
func (c *Client) readLoop(cn *conn) {
	defer c.wg.Done()
	sc := bufio.NewScanner(cn.nc)
	sc.Buffer(make([]byte, 64<<10), 20<<20) // Moonraker's UNIX_BUFFER_LIMIT
	sc.Split(splitETX)
	for sc.Scan() {
		c.handleMessage(cn, sc.Bytes())
	}
	err := sc.Err()
	cn.nc.Close()
	c.connLost(cn, err)
	close(cn.done)
}

func splitETX(data []byte, atEOF bool) (int, []byte, error) {
	for i, b := range data {
		if b == 0x03 {
			return i + 1, data[:i], nil
		}
	}
	if atEOF && len(data) > 0 {
		return len(data), nil, nil // an unterminated tail is dropped
	}
	return 0, nil, nil
}

// connLost fails the requests in flight, marks subscriptions for a fresh
// snapshot and reports the disconnected state.
func (c *Client) connLost(cn *conn, err error) {
	c.mu.Lock()
	cn.lost = true
	pending := cn.pending
	cn.pending = map[int64]*call{}
	if c.cn == cn {
		c.cn = nil
	}
	c.cache = map[string]map[string]any{}
	for s := range c.subs {
		s.pending = len(s.objects) > 0
	}
	msg := "Klippy Disconnected"
	if err != nil {
		msg += ": " + err.Error()
	}
	closed := c.closed
	if !closed {
		c.setStateLocked(StateDisconnected, msg)
	}
	c.mu.Unlock()
	for _, cl := range pending {
		if closed {
			cl.err = fmt.Errorf("klippy: %s: %w", cl.method, ErrClosed)
		} else {
			cl.err = fmt.Errorf("klippy: %s: connection lost before Klippy replied: %w", cl.method, ErrNotConnected)
		}
		close(cl.done)
	}
}

type message struct {
	ID     *int64          `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

func (c *Client) handleMessage(cn *conn, data []byte) {
	var m message
	if err := json.Unmarshal(data, &m); err != nil {
		c.log.Warn("undecodable message from Klippy", "err", err)
		return
	}
	if m.Method != "" {
		switch m.Method {
		case statusMethod:
			c.handleStatus(m.Params)
		case outputMethod:
			var p struct {
				Response string `json:"response"`
			}
			if json.Unmarshal(m.Params, &p) == nil {
				c.handleOutput(p.Response)
			}
		default:
			var params map[string]any
			if len(m.Params) > 0 {
				if err := json.Unmarshal(m.Params, &params); err != nil {
					c.log.Warn("undecodable remote method call from Klippy", "method", m.Method, "err", err)
					return
				}
			}
			c.mu.Lock()
			_, ok := c.methods[m.Method]
			c.mu.Unlock()
			if !ok {
				c.log.Info("Klippy called an unknown remote method", "method", m.Method)
				return
			}
			c.remoteQ.Push(remoteCall{m.Method, params})
		}
		return
	}
	if m.ID == nil {
		return
	}
	c.mu.Lock()
	cl := cn.pending[*m.ID]
	delete(cn.pending, *m.ID)
	state := c.state
	c.mu.Unlock()
	if cl == nil {
		return // the caller gave up waiting
	}
	if len(m.Error) > 0 && string(m.Error) != "null" {
		var e struct {
			Message string `json:"message"`
		}
		msg := "Malformed Klippy Response"
		if json.Unmarshal(m.Error, &e) == nil && e.Message != "" {
			msg = e.Message
		} else if s := strings.Trim(string(m.Error), `"`); s != "" {
			msg = s
		}
		cl.err = &Error{Method: cl.method, Message: msg, State: state}
	} else {
		cl.result = m.Result
		if cl.hook != nil {
			cl.hook(m.Result)
		}
	}
	close(cl.done)
}

func (c *Client) dispatchRemote() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case rc := <-c.remoteQ.Out():
			c.mu.Lock()
			h := c.methods[rc.method]
			c.mu.Unlock()
			if h == nil {
				continue
			}
			if err := h(c.ctx, rc.params); err != nil {
				c.log.Warn("remote method from Klippy failed", "method", rc.method, "err", err)
			}
		}
	}
}

// setStateLocked records a state change, logs it once and tells every
// subscription. Callers hold c.mu.
func (c *Client) setStateLocked(st State, msg string) {
	if st == c.state && msg == c.stateMsg {
		return
	}
	prev := c.state
	c.state, c.stateMsg = st, msg
	close(c.stateCh)
	c.stateCh = make(chan struct{})
	if st != prev {
		switch st {
		case StateDisconnected, StateError, StateShutdown:
			c.log.Warn("klippy state changed", "state", string(st), "message", firstLine(msg))
		default:
			c.log.Info("klippy state changed", "state", string(st))
		}
	} else if st == StateDisconnected {
		c.log.Warn("still disconnected from Klippy", "message", firstLine(msg))
	}
	if st == prev {
		return // only the message changed
	}
	for s := range c.subs {
		s.deliver(Update{Kind: StateChange, State: st, Message: msg})
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
