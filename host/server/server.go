package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fasthttp/router"
	"github.com/fasthttp/websocket"
	"github.com/valyala/fasthttp"
)

// APIVersion is the Moonraker API version moonrelay implements.
var apiVersion = [3]int{1, 5, 0}

// Options configure a Server. The zero value of each field means its
// documented default.
type Options struct {
	// Host and Port are the listen address (default 127.0.0.1:7125).
	// Port -1 picks a free port (tests).
	Host string
	Port int
	// Logger receives the server's logs (default slog.Default()).
	Logger *slog.Logger
	// Version is reported as moonraker_version in server.info.
	Version string
	// APIKey authorizes clients that are neither loopback nor trusted.
	APIKey string
	// TrustedClients are addresses allowed without an API key.
	TrustedClients []netip.Prefix
	// Loopback are the addresses treated as this machine and always
	// trusted (default 127.0.0.0/8 and ::1).
	Loopback []netip.Prefix
	// CorsDomains are the allowed browser origins, with * wildcards.
	CorsDomains []string
	// Debug enables /debug/* endpoints and debug.* methods.
	Debug bool
	// MaxBodySize limits API request bodies (default 1 MiB).
	MaxBodySize int64
	// MaxUploadSize limits endpoints that stream uploads (default 1 GiB).
	MaxUploadSize int64
	// MaxWebsocketMessage limits one incoming websocket message (default
	// 4 MiB); a larger one closes the connection with 1009.
	MaxWebsocketMessage int64
	// WebsocketQueue is how many outgoing messages may wait for a slow
	// client before it is disconnected (default 1024).
	WebsocketQueue int
	// PingInterval is the websocket keepalive period (default 30 s); a
	// client that answers no ping within two periods is dropped.
	PingInterval time.Duration
	// WriteTimeout bounds one websocket write (default 10 s).
	WriteTimeout time.Duration
}

func (o *Options) defaults() {
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.Port == 0 {
		o.Port = 7125
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.Loopback == nil {
		o.Loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	if o.MaxBodySize <= 0 {
		o.MaxBodySize = 1 << 20
	}
	if o.MaxUploadSize <= 0 {
		o.MaxUploadSize = 1 << 30
	}
	if o.MaxWebsocketMessage <= 0 {
		o.MaxWebsocketMessage = 4 << 20
	}
	if o.WebsocketQueue <= 0 {
		o.WebsocketQueue = 1024
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 30 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
}

// KlippyStatus reports the printer link for server.info.
type KlippyStatus func() (connected bool, state string)

// Server is moonrelay's HTTP and JSON-RPC server.
type Server struct {
	opts   Options
	log    *slog.Logger
	router *router.Router
	http   *fasthttp.Server
	ws     websocket.FastHTTPUpgrader
	auth   *authorizer

	rpc     map[string]rpcTarget
	started atomic.Bool

	ctx    context.Context // cancelled at shutdown; handlers run under it
	cancel context.CancelFunc

	ln   net.Listener
	addr string

	connMu  sync.Mutex
	conns   map[int64]*Conn
	nextID  atomic.Int64
	wsCount atomic.Int64
	wg      sync.WaitGroup

	infoMu      sync.RWMutex
	components  []string
	failed      []string
	warnings    []string
	directories []string
	klippy      KlippyStatus
	configView  func() any
}

// New returns a Server with the core endpoints registered. It does not
// listen until Start.
func New(opts Options) *Server {
	opts.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		opts:   opts,
		log:    opts.Logger.With("component", "server"),
		router: router.New(),
		rpc:    make(map[string]rpcTarget),
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[int64]*Conn),
		klippy: func() (bool, string) { return false, "disconnected" },
	}
	s.auth = newAuthorizer(opts.APIKey, opts.TrustedClients, opts.Loopback)
	s.router.RedirectTrailingSlash = false
	s.router.RedirectFixedPath = false
	s.router.HandleMethodNotAllowed = true
	s.router.HandleOPTIONS = false
	s.router.NotFound = func(ctx *fasthttp.RequestCtx) {
		writeError(ctx, &Error{Code: fasthttp.StatusNotFound, Message: "Not Found"})
	}
	s.router.MethodNotAllowed = func(ctx *fasthttp.RequestCtx) {
		writeError(ctx, &Error{Code: fasthttp.StatusMethodNotAllowed, Message: "Method Not Allowed"})
	}
	s.router.PanicHandler = func(ctx *fasthttp.RequestCtx, v any) {
		s.log.Error("handler panic", "path", string(ctx.Path()), "panic", fmt.Sprint(v))
		writeError(ctx, &Error{Code: fasthttp.StatusInternalServerError, Message: "Internal Server Error"})
	}
	s.ws = websocket.FastHTTPUpgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		// Browsers send Origin; CORS rules decide, as for HTTP.
		CheckOrigin: func(ctx *fasthttp.RequestCtx) bool {
			origin := string(ctx.Request.Header.Peek("Origin"))
			return origin == "" || sameHost(origin, string(ctx.Host())) || s.originAllowed(origin)
		},
	}
	s.http = &fasthttp.Server{
		Handler:                      s.serveHTTP,
		Name:                         "moonrelay",
		StreamRequestBody:            true,
		DisablePreParseMultipartForm: true,
		// With StreamRequestBody this is only how much of a body is read
		// before the handler runs; limits are enforced per endpoint.
		MaxRequestBodySize: int(opts.MaxBodySize),
		ReadTimeout:        60 * time.Second,
		IdleTimeout:        60 * time.Second,
		CloseOnShutdown:    true,
		// Websockets close their own connections (see Conn.closeWith);
		// without this, closing a hijacked connection is a no-op.
		KeepHijackedConns:     true,
		NoDefaultServerHeader: false,
		Logger:                fasthttpLogger{s.log},
	}
	s.registerCore()
	return s
}

// fasthttpLogger routes fasthttp's own messages to slog at debug level.
type fasthttpLogger struct{ l *slog.Logger }

func (f fasthttpLogger) Printf(format string, args ...any) {
	f.l.Debug(fmt.Sprintf(format, args...))
}

// Register adds an endpoint. Debug endpoints (path /debug/...) are skipped
// unless Options.Debug is set. Register must be called before Start.
func (s *Server) Register(e Endpoint) error {
	if s.started.Load() {
		return fmt.Errorf("register %s: server already started", e.Path)
	}
	if err := e.validate(); err != nil {
		return err
	}
	if isDebugPath(e.Path) && !s.opts.Debug {
		return nil
	}
	ep := e
	methods := ep.methods()
	for i, m := range methods {
		s.router.Handle(m, ep.Path, s.httpHandler(&ep, m))
		if ep.Handler == nil {
			continue
		}
		name := RPCName(ep.Path, m, len(methods) > 1)
		if len(ep.RPCNames) > 0 {
			name = ep.RPCNames[i]
		}
		if name == "-" {
			continue
		}
		if _, dup := s.rpc[name]; dup {
			return fmt.Errorf("JSON-RPC method %s registered twice", name)
		}
		s.rpc[name] = rpcTarget{ep: &ep, method: m}
	}
	return nil
}

// MustRegister is Register for the server's own fixed endpoints and tests;
// it panics on a programming error.
func (s *Server) MustRegister(e Endpoint) {
	if err := s.Register(e); err != nil {
		panic(err)
	}
}

func isDebugPath(p string) bool { return len(p) >= 7 && p[:7] == "/debug/" }

// Start listens and serves in the background until ctx ends or Shutdown.
func (s *Server) Start(ctx context.Context) error {
	port := s.opts.Port
	if port < 0 {
		port = 0
	}
	addr := net.JoinHostPort(s.opts.Host, strconv.Itoa(port))
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another moonrelay or Moonraker running? change [server] port)", addr, err)
	}
	s.ln = ln
	s.addr = ln.Addr().String()
	s.started.Store(true)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.http.Serve(ln); err != nil {
			s.log.Error("http server stopped", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = s.Shutdown(sctx)
		case <-s.ctx.Done():
		}
	}()
	return nil
}

// Addr returns the address the server listens on, e.g. 127.0.0.1:7125.
func (s *Server) Addr() string { return s.addr }

// Context is cancelled when the server shuts down; long handlers may watch it.
func (s *Server) Context() context.Context { return s.ctx }

// Shutdown stops accepting connections, closes every websocket with 1001
// (going away) and waits for in-flight HTTP requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	if !s.started.Load() {
		s.cancel()
		return nil
	}
	s.cancel()
	s.connMu.Lock()
	conns := make([]*Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.connMu.Unlock()
	for _, c := range conns {
		c.closeWith(websocket.CloseGoingAway, "moonrelay is shutting down")
	}
	err := s.http.ShutdownWithContext(ctx)
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		err = errors.Join(err, ctx.Err())
	}
	return err
}

// AddComponent records an enabled component for server.info.
func (s *Server) AddComponent(name string) {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	if !slices.Contains(s.components, name) {
		s.components = append(s.components, name)
	}
}

// FailComponent records a component that failed to load, with a warning.
func (s *Server) FailComponent(name, warning string) {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	if !slices.Contains(s.failed, name) {
		s.failed = append(s.failed, name)
	}
	s.warnings = append(s.warnings, warning)
}

// Warn adds a warning shown in server.info.
func (s *Server) Warn(msg string) {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	s.warnings = append(s.warnings, msg)
}

// AddDirectory records a registered file root for server.info.
func (s *Server) AddDirectory(name string) {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	if !slices.Contains(s.directories, name) {
		s.directories = append(s.directories, name)
	}
}

// SetKlippyStatus sets the function server.info asks for the printer link.
func (s *Server) SetKlippyStatus(f KlippyStatus) {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	s.klippy = f
}

// SetConfigView sets the function that returns the effective config (with
// secrets redacted) for server.config.
func (s *Server) SetConfigView(f func() any) {
	s.infoMu.Lock()
	defer s.infoMu.Unlock()
	s.configView = f
}

// WebsocketCount returns the number of open websockets.
func (s *Server) WebsocketCount() int { return int(s.wsCount.Load()) }
