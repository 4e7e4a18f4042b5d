package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/moonrelay/moonrelay/guests/sdk"
)

// Engine loads guests and runs their exports. One Engine serves the whole
// server; it is safe for concurrent use.
type Engine struct {
	opts   Options
	logger *slog.Logger
	kv     KV
	clock  func() time.Time
	res    Resolver
	cache  wazero.CompilationCache
	// dial connects to a checked address; tests replace it to observe
	// which address the policy picked without touching the network.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// transports are the guests' HTTP transports by guest and policy, so
	// calls with the same policy reuse connections.
	transports *transportCache

	bgCtx    context.Context
	bgCancel context.CancelFunc
	bg       sync.WaitGroup
	// calls counts calls in flight: Close cancels them (bgCtx) and waits,
	// because closing a runtime frees the memory their code runs in.
	calls sync.WaitGroup
	// codeJobs counts machine code being moved to files (internals.go);
	// codeWarn makes the first failure to do so an info log.
	codeJobs sync.WaitGroup
	codeWarn sync.Once

	mu       sync.Mutex
	closed   bool
	runtimes map[runtimeKey]wazero.Runtime
	guests   map[string]*guest // by manifest name
	order    []*guest          // load order
	schemes  map[string]*guest
}

// GuestInfo describes a loaded guest, for `moonrelay plugins list` and
// server.plugins.list.
type GuestInfo struct {
	sdk.Manifest
	// File is the .wasm path as found by LoadDir, Size its length in bytes
	// and SHA256 its hex digest.
	File   string `json:"file"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// New creates an Engine. It opens the compilation cache but loads no guest;
// call LoadDir next. Close releases everything, also after a failed LoadDir.
func New(ctx context.Context, opts Options) (*Engine, error) {
	e := &Engine{
		opts:     opts,
		logger:   opts.Logger,
		kv:       opts.KV,
		clock:    opts.Clock,
		res:      opts.Resolver,
		runtimes: map[runtimeKey]wazero.Runtime{},
		guests:   map[string]*guest{},
		schemes:  map[string]*guest{},

		transports: newTransportCache(maxTransports),
	}
	e.opts.Limits = opts.Limits.withDefaults(defaultLimits)
	if e.logger == nil {
		e.logger = slog.Default()
	}
	if e.kv == nil {
		e.kv = &MemKV{}
	}
	if e.clock == nil {
		e.clock = time.Now
	}
	if e.res == nil {
		e.res = net.DefaultResolver
	}
	if e.opts.UserAgent == "" {
		e.opts.UserAgent = "moonrelay"
	}
	e.dial = (&net.Dialer{Timeout: 10 * time.Second}).DialContext
	var err error
	if opts.CacheDir != "" {
		if err := os.MkdirAll(filepath.Join(opts.CacheDir, "manifests"), 0o700); err != nil {
			return nil, fmt.Errorf("runtime: cache dir: %w", err)
		}
		e.cache, err = wazero.NewCompilationCacheWithDir(opts.CacheDir)
	} else {
		e.cache = wazero.NewCompilationCache()
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: cache dir %s: %w", opts.CacheDir, err)
	}
	if dir := e.codeDir(); dir != "" {
		pruneCode(dir, codeMaxAge, time.Now())
	}
	e.bgCtx, e.bgCancel = context.WithCancel(context.WithoutCancel(ctx))
	if e.opts.IdleUnload == 0 {
		e.opts.IdleUnload = DefaultIdleUnload
	}
	if e.opts.IdleTrim == 0 {
		e.opts.IdleTrim = DefaultIdleTrim
	}
	if e.opts.IdleUnload > 0 || e.opts.IdleTrim > 0 {
		e.bg.Add(1)
		go e.unloadIdle(e.opts.IdleUnload, e.opts.IdleTrim)
	}
	return e, nil
}

// codeDir is where machine code files live (internals.go), or "" without
// a cache folder.
func (e *Engine) codeDir() string {
	if e.opts.CacheDir == "" {
		return ""
	}
	return filepath.Join(e.opts.CacheDir, "code")
}

// codeMaxAge is how long a machine code file may go unused before a start
// removes it.
const codeMaxAge = 30 * 24 * time.Hour

// fileBackCodeLater moves the machine code of mod's module into
// file-backed pages (internals.go) in the background. Holding mod keeps
// that code mapped until it is done, even if the guest is unloaded
// meanwhile; code running in it meanwhile is not disturbed (the bytes at
// every address stay the same).
func (e *Engine) fileBackCodeLater(name string, mod api.Module) {
	if e.codeDir() == "" || e.opts.KeepCodeAnonymous {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return
	}
	e.codeJobs.Add(1)
	go func() {
		defer e.codeJobs.Done()
		e.fileBackCode(name, mod)
	}()
}

// fileBackCode does the work of fileBackCodeLater. Where it cannot, the
// code stays where wazero put it: only memory is at stake.
func (e *Engine) fileBackCode(name string, mod api.Module) {
	dir := e.codeDir()
	code := moduleCode(mod)
	if len(code) < minFileBackedCode {
		return
	}
	path, err := fileBackCode(dir, code)
	if err != nil {
		// Said once at info level: a plugin in use then costs ~20 MiB
		// instead of ~8, and the owner should learn why.
		level := slog.LevelDebug
		e.codeWarn.Do(func() { level = slog.LevelInfo })
		e.logger.Log(context.Background(), level, "plugin machine code stays in memory, ~20 MiB per plugin in use instead of ~8; set [plugins] code_files = false to stop trying",
			"guest", name, "reason", err.Error())
		return
	}
	e.logger.Debug("guest machine code mapped from file", "guest", name, "file", path, "bytes", len(code))
}

// unloadIdle releases guests that have not been called for idle, and trims
// those not called for trim (pool.trimIfIdle), until the engine closes
// (either duration ≤ 0: never). A guest compiled only to validate a
// notifier URL at start-up, or used once a day, then costs its manifest
// instead of MiBs of machine code.
func (e *Engine) unloadIdle(idle, trim time.Duration) {
	defer e.bg.Done()
	shortest := idle
	if shortest <= 0 || trim > 0 && trim < shortest {
		shortest = trim
	}
	t := time.NewTicker(min(max(shortest/4, 10*time.Millisecond), 30*time.Second))
	defer t.Stop()
	for {
		select {
		case <-e.bgCtx.Done():
			return
		case now := <-t.C:
			e.mu.Lock()
			guests := append([]*guest(nil), e.order...)
			e.mu.Unlock()
			for _, g := range guests {
				if g.pool == nil {
					continue
				}
				if idle > 0 && g.pool.unloadIfIdle(e.bgCtx, idle, now) {
					e.logger.Debug("guest unloaded after being idle", "guest", g.info.Name, "idle", idle)
				} else if trim > 0 && g.pool.trimIfIdle(trim, now) {
					e.logger.Debug("guest trimmed after being idle", "guest", g.info.Name, "idle", trim)
				}
			}
		}
	}
}

// Close stops background work, closes every instance and runtime, the
// guests' idle HTTP connections and the compilation cache. It is safe to
// call twice.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	e.bgCancel()
	e.bg.Wait()
	e.codeJobs.Wait()
	e.calls.Wait()
	e.transports.close()
	var errs []error
	for _, g := range e.order {
		g.pool.close(ctx)
	}
	for _, r := range e.runtimes {
		errs = append(errs, r.Close(ctx))
	}
	errs = append(errs, e.cache.Close(ctx))
	return errors.Join(errs...)
}

// limitsFor returns the effective limits of the named guest.
func (e *Engine) limitsFor(name string) Limits {
	return e.opts.GuestLimits[name].withDefaults(e.opts.Limits)
}

// runtimeKey tells runtimes apart: a memory limit in pages, and whether
// wazero inserts its own termination checks (guests whose loops could not
// be instrumented, see interrupt.go).
type runtimeKey struct {
	pages  uint32
	checks bool
}

// runtimeFor returns the wazero runtime for a memory limit, creating it with
// the WASI and moonrelay host modules on first use. Runtimes share one
// compilation cache, so a guest compiles once per limit class.
func (e *Engine) runtimeFor(ctx context.Context, memory uint64, checks bool) (wazero.Runtime, error) {
	key := runtimeKey{uint32((memory + 65535) / 65536), checks}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil, ErrClosed
	}
	if r, ok := e.runtimes[key]; ok {
		return r, nil
	}
	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(e.cache).
		WithMemoryLimitPages(key.pages).
		WithCloseOnContextDone(checks).
		WithDebugInfoEnabled(false)
	r := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, r); err != nil {
		return nil, errors.Join(fmt.Errorf("runtime: wasi: %w", err), r.Close(ctx))
	}
	if err := instantiateHostModule(ctx, r, e); err != nil {
		return nil, errors.Join(err, r.Close(ctx))
	}
	e.runtimes[key] = r
	return r, nil
}

// Guests lists the loaded guests in load order.
func (e *Engine) Guests() []GuestInfo {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]GuestInfo, 0, len(e.order))
	for _, g := range e.order {
		out = append(out, g.info)
	}
	return out
}

// Guest returns the loaded guest with the given name.
func (e *Engine) Guest(name string) (GuestInfo, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	g, ok := e.guests[name]
	if !ok {
		return GuestInfo{}, false
	}
	return g.info, true
}

// ForURL returns the transport that handles a notifier URL: the one whose
// manifest lists the URL's scheme, else the first whose native URL prefix
// the URL starts with.
func (e *Engine) ForURL(rawURL string) (GuestInfo, bool) {
	scheme, _, ok := strings.Cut(rawURL, "://")
	if !ok {
		return GuestInfo{}, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if g, ok := e.schemes[strings.ToLower(scheme)]; ok {
		return g.info, true
	}
	for _, g := range e.order {
		for _, p := range g.info.NativeURLs {
			if strings.HasPrefix(rawURL, p) {
				return g.info, true
			}
		}
	}
	return GuestInfo{}, false
}

// LoadDir loads every .wasm file in the given directories, in order; a
// directory that does not exist is skipped. Each new guest is compiled in
// parallel, checked (imports, exports and their exact signatures, ABI
// version, manifest) and instantiated once, so a bad guest fails here; a
// guest whose file was already checked in an earlier run (same SHA-256, its
// manifest kept in CacheDir) is only compiled on first use or by Warm.
//
// Good guests are loaded even when others fail. The returned error joins
// one message per refused file, naming it: a failed check, a duplicate
// name, or a URL scheme another guest already claims (naming both files).
func (e *Engine) LoadDir(ctx context.Context, dirs ...string) error {
	var files []string
	var errs []error
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("runtime: %w", err))
			continue
		}
		for _, ent := range entries {
			if !ent.IsDir() && strings.HasSuffix(ent.Name(), ".wasm") {
				files = append(files, filepath.Join(dir, ent.Name()))
			}
		}
	}
	loaded := make([]*guest, len(files))
	loadErrs := make([]error, len(files))
	sem := make(chan struct{}, max(1, min(len(files), numWorkers())))
	var wg sync.WaitGroup
	for i, f := range files {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			loaded[i], loadErrs[i] = e.load(ctx, f)
		})
	}
	wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, g := range loaded {
		if loadErrs[i] != nil {
			errs = append(errs, loadErrs[i])
			continue
		}
		if err := e.claim(g); err != nil {
			errs = append(errs, err)
			g.pool.close(ctx)
		}
	}
	return errors.Join(errs...)
}

// claim registers g under its name and schemes; e.mu is held.
func (e *Engine) claim(g *guest) error {
	if e.closed {
		return ErrClosed
	}
	if other, ok := e.guests[g.info.Name]; ok {
		return fmt.Errorf("%s: guest name %q is already used by %s", g.info.File, g.info.Name, other.info.File)
	}
	for _, s := range g.info.Schemes {
		if other, ok := e.schemes[s]; ok {
			return fmt.Errorf("%s: URL scheme %q is already claimed by %s (guest %q)", g.info.File, s, other.info.File, other.info.Name)
		}
	}
	e.guests[g.info.Name] = g
	for _, s := range g.info.Schemes {
		e.schemes[s] = g
	}
	e.order = append(e.order, g)
	return nil
}

// Warm compiles and instantiates every guest not yet ready, in parallel, so
// no first call pays for it. It may run in its own goroutine: Close cancels
// and waits for it. It returns the joined errors of guests that failed;
// those fail their calls too.
func (e *Engine) Warm(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	e.bg.Add(1) // Close waits for Warm, and cancels it
	gs := slices.Clone(e.order)
	e.mu.Unlock()
	defer e.bg.Done()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(e.bgCtx, cancel)
	defer stop()
	errs := make([]error, len(gs))
	sem := make(chan struct{}, numWorkers())
	var wg sync.WaitGroup
	for i, g := range gs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			errs[i] = g.pool.warm(ctx)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
