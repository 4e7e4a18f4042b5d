package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

func numWorkers() int { return max(1, runtime.GOMAXPROCS(0)) }

// guest is one loaded .wasm file.
type guest struct {
	e      *Engine
	info   GuestInfo
	limits Limits
	pool   *pool
}

// init sets the limits and pool once the manifest is known.
func (g *guest) init() {
	g.limits = g.e.limitsFor(g.info.Name)
	g.pool = &pool{g: g, sem: make(chan struct{}, g.limits.MaxInstances), lastUsed: time.Now()}
}

// instance is one instantiated module. It serves one call at a time and is
// restored to its state after _initialize before every reuse (see
// RATIONALE.md, "Why restore instances to a snapshot after every call?").
type instance struct {
	mod     api.Module
	fns     map[string]api.Function
	out     *outputSink
	globals []api.MutableGlobal
	lin     linearMemory      // nil when wazero allocated the memory
	stop    api.MutableGlobal // mr.stop of an instrumented guest, else nil
	calls   int
}

func (i *instance) fn(name string) api.Function {
	f, ok := i.fns[name]
	if !ok {
		f = i.mod.ExportedFunction(name)
		i.fns[name] = f
	}
	return f
}

// instantiate creates an instance with no file system, no environment, no
// arguments, real clocks, crypto randomness, and stdout and stderr sent to
// the log. With initialize it runs _initialize; without, the caller
// restores a snapshot into it, which is the same state without the work.
func (g *guest) instantiate(ctx context.Context, r wazero.Runtime, cm wazero.CompiledModule, lim Limits, initialize bool, data []dataSegment) (*instance, error) {
	out := &outputSink{guest: g, max: lim.MaxLog}
	var lin linearMemory
	ctx = experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(func(cap, max uint64) experimental.LinearMemory {
		lin = newLinearMemory(cap, max)
		return lin
	}))
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithStdout(out.stream("stdout")).
		WithStderr(out.stream("stderr")).
		WithSysWalltime().
		WithSysNanotime().
		WithNanosleep(sleepSliced).
		WithRandSource(rand.Reader)
	cs := &callState{e: g.e, g: g, export: "_initialize", logger: g.e.logger.With("guest", g.info.Name)}
	out.begin(cs)
	defer out.end()
	mod, err := r.InstantiateModule(withCallState(ctx, cs), cm, cfg)
	if err != nil {
		return nil, g.callError("_initialize", err, out, cs, lim)
	}
	inst := &instance{mod: mod, fns: map[string]api.Function{}, out: out, globals: mutableGlobals(mod), lin: lin}
	if sg, ok := mod.ExportedGlobal(stopExport).(api.MutableGlobal); ok {
		inst.stop = sg
	}
	if initialize {
		mem := mod.Memory()
		for _, d := range data {
			if mem == nil || !mem.Write(d.off, d.data) {
				_ = mod.Close(ctx)
				return nil, g.errorf("_initialize", nil, "data segment at %#x (%d bytes) is outside the guest's memory", d.off, len(d.data))
			}
		}
		if f := mod.ExportedFunction("_initialize"); f != nil {
			if _, err := inst.call(withCallState(ctx, cs), f); err != nil {
				_ = mod.Close(ctx)
				return nil, g.callError("_initialize", err, out, cs, lim)
			}
		}
	}
	return inst, nil
}

// call runs f. When the guest's loops are instrumented (interrupt.go), the
// end of ctx sets the instance's stop global, so running code traps at its
// next loop iteration; the trap is reported as ctx's error. Otherwise
// wazero's own checks close the module when ctx ends.
func (i *instance) call(ctx context.Context, f api.Function, args ...uint64) ([]uint64, error) {
	if i.stop == nil {
		return f.Call(ctx, args...)
	}
	var mu sync.Mutex
	armed, stopped := true, false
	release := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		if armed {
			i.stop.Set(1)
			stopped = true
		}
	})
	res, err := f.Call(ctx, args...)
	release()
	mu.Lock()
	armed = false
	wasStopped := stopped
	mu.Unlock()
	if wasStopped {
		// The instance holds stop = 1: it must not serve again (callers
		// discard instances whose call failed).
		_ = i.mod.CloseWithExitCode(context.Background(), 1)
		if err == nil {
			err = errors.New("stopped")
		}
		return nil, fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	}
	return res, err
}

// sleepSliced sleeps at most 10 ms at a time, so a guest sleeping in
// poll_oneoff returns to compiled code often enough for the deadline check
// to close it.
func sleepSliced(ns int64) { time.Sleep(min(time.Duration(ns), 10*time.Millisecond)) }

// invoke writes input into the guest through mr_alloc, calls export and
// copies out its packed (ptr<<32 | len) result.
func (i *instance) invoke(ctx context.Context, g *guest, export string, input []byte, maxResult int) ([]byte, error) {
	mem := i.mod.Memory()
	var args []uint64
	if export != "mr_describe" {
		res, err := i.call(ctx, i.fn("mr_alloc"), uint64(len(input)))
		if err != nil {
			return nil, err
		}
		ptr := uint32(res[0])
		if !mem.Write(ptr, input) {
			return nil, g.errorf(export, nil, "mr_alloc(%d) returned %#x, outside the guest's memory", len(input), ptr)
		}
		args = []uint64{uint64(ptr), uint64(len(input))}
	}
	res, err := i.call(ctx, i.fn(export), args...)
	if err != nil {
		return nil, err
	}
	ptr, n := uint32(res[0]>>32), uint32(res[0])
	if int64(n) > int64(maxResult) {
		return nil, g.errorf(export, nil, "result of %d bytes is over the %d-byte limit", n, maxResult)
	}
	b, ok := mem.Read(ptr, n)
	if !ok {
		return nil, g.errorf(export, nil, "result (ptr %#x, len %d) is outside the guest's memory", ptr, n)
	}
	return bytes.Clone(b), nil
}

func (g *guest) errorf(export string, err error, format string, args ...any) *Error {
	return &Error{Guest: g.info.Name, File: g.info.File, Export: export, Reason: fmt.Sprintf(format, args...), Err: err}
}

// pool keeps a guest's compiled module and ready instances.
type pool struct {
	g   *guest
	sem chan struct{} // one token per live instance in a call

	compileMu sync.Mutex
	rt        wazero.Runtime
	cm        wazero.CompiledModule
	cmErr     error
	data      []dataSegment // moved out of the module; nil once snapshotted

	mu     sync.Mutex
	closed bool
	snap   *snapshot // state after _initialize, taken from the first instance
	// codePending is an instance of the module whose machine code is still
	// to move to a file, after the next successful call (put).
	codePending api.Module
	fresh       *instance   // never used by a call
	idle        []*instance // restored to snap after their last call; oldest first
	refilling   bool
	lastUsed    time.Time // last get or put; unloadIfIdle compares with it
	trimmed     bool      // trimIfIdle ran since lastUsed
}

// compiled returns the compiled module, compiling it on first use (guests
// whose manifest came from the cache).
func (p *pool) compiled(ctx context.Context) (wazero.Runtime, wazero.CompiledModule, error) {
	p.compileMu.Lock()
	defer p.compileMu.Unlock()
	if p.cm != nil || p.cmErr != nil {
		return p.rt, p.cm, p.cmErr
	}
	g := p.g
	bin, err := os.ReadFile(g.info.File)
	if err == nil && sha256hex(bin) != g.info.SHA256 {
		err = fmt.Errorf("%s: file changed since it was loaded; restart to load it again", g.info.File)
	}
	if err != nil {
		p.cmErr = err
		return nil, nil, err
	}
	// Compiling is the guest's cost, not the call's: it gets its own
	// deadline, so a short call deadline does not fail every first call.
	cctx, cancel := context.WithTimeout(g.e.bgCtx, loadTimeout)
	defer cancel()
	p.rt, p.cm, p.data, p.cmErr = g.e.compile(cctx, g.info.File, bin, g.limits.Memory, false)
	return p.rt, p.cm, p.cmErr
}

// warm compiles the guest and makes its fresh instance.
func (p *pool) warm(ctx context.Context) error {
	p.mu.Lock()
	ready := p.fresh != nil
	p.mu.Unlock()
	if ready {
		return nil
	}
	inst, err := p.newInstance(ctx)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fresh == nil && !p.closed {
		p.fresh = inst
		return nil
	}
	return inst.mod.Close(ctx)
}

func (p *pool) newInstance(ctx context.Context) (*instance, error) {
	r, cm, err := p.compiled(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	snap := p.snap
	p.mu.Unlock()
	if snap != nil {
		// Every instance after the first starts as the snapshot: no
		// _initialize, no warm-up, its memory mapped from the snapshot.
		inst, err := p.g.instantiate(ctx, r, cm, p.g.limits, false, nil)
		if err != nil {
			return nil, err
		}
		if err := snap.restore(ctx, inst); err != nil {
			_ = inst.mod.Close(ctx)
			return nil, p.g.errorf("_initialize", err, "restoring a new instance to the snapshot: %v", err)
		}
		return inst, nil
	}
	p.compileMu.Lock()
	data := p.data
	p.compileMu.Unlock()
	inst, err := p.g.instantiate(ctx, r, cm, p.g.limits, true, data)
	if err != nil {
		return nil, err
	}
	// The first instance is warmed with a synthetic call before the
	// snapshot, so that lazily built state every call needs (encoding/json's
	// type caches, the first heap spans) is part of the snapshot instead of
	// being rebuilt after every reset: ~0.2 ms per call instead of ~2.7 ms.
	if !p.warmUp(ctx, inst) {
		// A guest that fails its warm-up is snapshotted cold instead.
		_ = inst.mod.Close(ctx)
		if inst, err = p.g.instantiate(ctx, r, cm, p.g.limits, true, data); err != nil {
			return nil, err
		}
	}
	snap, err = takeSnapshot(p.g.info.Name, inst)
	if err != nil {
		_ = inst.mod.Close(ctx)
		return nil, p.g.errorf("_initialize", err, "snapshot after _initialize: %v", err)
	}
	// Install the snapshot, unless another instance's came first or the
	// guest was unloaded meanwhile (the next load takes its own then).
	p.compileMu.Lock()
	current := p.cm == cm
	p.mu.Lock()
	installed := current && p.snap == nil
	stale := !current // this instance's own snapshot, closed after use
	switch {
	case installed:
		p.snap = snap
		// The machine code moves to file-backed pages (internals.go) after
		// the first call that succeeds on it (put): after _initialize and
		// the warm-up, whose code (the Go runtime's start-up, every
		// package's init, first-use setup) calls do not run again, and
		// not during the first call, which it would slow down.
		p.codePending = inst.mod
	case current:
		snap.close()
		snap = p.snap
	}
	p.mu.Unlock()
	if current {
		// Later instances start from the snapshot: the data segments are
		// no longer needed (a reload after IdleUnload reads them again).
		p.data = nil
	}
	p.compileMu.Unlock()
	// Restoring right away maps the image over the instance's memory
	// (Linux), so even the first instance keeps only what calls write.
	err = snap.restore(ctx, inst)
	if stale {
		snap.close() // the instance keeps its mapping of it
	}
	if err != nil {
		_ = inst.mod.Close(ctx)
		return nil, p.g.errorf("_initialize", err, "restoring to the snapshot: %v", err)
	}
	return inst, nil
}

// warmUpHost is the synthetic notifier URL host of the warm-up call; it is
// never allowed, so the warm-up cannot reach any network.
const warmUpHost = "warm-up.invalid"

// warmUp runs mr_validate and mr_send of a transport once with synthetic,
// secret-free input and no network, KV or attachments, ignoring the
// result. What a guest keeps from it is only this synthetic data. It
// reports false when the guest trapped, so the instance must not be kept.
func (p *pool) warmUp(ctx context.Context, inst *instance) bool {
	g := p.g
	if g.info.Kind != sdk.KindTransport || len(g.info.Schemes) == 0 {
		return true
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u := g.info.Schemes[0] + "://" + warmUpHost + "/warm/up"
	lim := g.limits
	for _, call := range []struct {
		export string
		in     any
	}{
		{"mr_validate", sdk.ValidateRequest{URL: u}},
		{"mr_send", sdk.SendRequest{URL: u, Title: "warm-up", Body: "warm-up", BodyFormat: "text", NotifyType: "info", Notifier: "warm-up", Event: "warm-up"}},
	} {
		in, _ := json.Marshal(call.in)
		cs := &callState{e: g.e, g: g, export: call.export, lim: lim, kvScope: "\x00warm-up",
			logger: slog.New(slog.DiscardHandler), allow: map[string]hostClass{}}
		inst.out.begin(cs)
		_, err := inst.invoke(withCallState(ctx, cs), g, call.export, in, lim.MaxResult)
		inst.out.end()
		cs.closeHTTP()
		if err != nil || inst.mod.IsClosed() {
			return false
		}
	}
	// mr_settle (optional) lets the guest collect the warm-up's garbage
	// before the snapshot, so calls start with heap room to spare.
	if f := inst.mod.ExportedFunction("mr_settle"); f != nil {
		if _, err := inst.call(ctx, f); err != nil || inst.mod.IsClosed() {
			return false
		}
	}
	return true
}

// get returns an instance: an idle one (restored after its last call), else
// the fresh one (refilled in the background), else a new one. It waits for
// a free slot when MaxInstances are busy.
func (p *pool) get(ctx context.Context, export string) (*instance, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, p.g.errorf(export, ctx.Err(), "waiting for a free instance: %v", ctx.Err())
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.sem
		return nil, ErrClosed
	}
	p.lastUsed, p.trimmed = time.Now(), false
	if n := len(p.idle); n > 0 {
		inst := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return inst, nil
	}
	inst := p.fresh
	p.fresh = nil
	p.mu.Unlock()
	if inst != nil {
		p.refill()
		return inst, nil
	}
	inst, err := p.newInstance(ctx)
	if err != nil {
		<-p.sem
		return nil, err
	}
	return inst, nil
}

// refill makes a new fresh instance in the background.
func (p *pool) refill() {
	e := p.g.e
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refilling || p.closed {
		return
	}
	e.mu.Lock()
	closed := e.closed
	if !closed {
		e.bg.Add(1)
	}
	e.mu.Unlock()
	if closed {
		return
	}
	p.refilling = true
	go func() {
		defer e.bg.Done()
		ctx, cancel := context.WithTimeout(e.bgCtx, loadTimeout)
		defer cancel()
		inst, err := p.newInstance(ctx)
		p.mu.Lock()
		p.refilling = false
		if err == nil && p.fresh == nil && !p.closed {
			p.fresh, inst = inst, nil
		}
		p.mu.Unlock()
		if err != nil && e.bgCtx.Err() == nil {
			e.logger.Warn("guest instance refill failed", "guest", p.g.info.Name, "err", err)
		}
		if inst != nil {
			_ = inst.mod.Close(ctx)
		}
	}()
}

// maxCallsPerInstance retires an instance after this many calls, bounding
// the garbage and state a long-lived instance can accumulate.
const maxCallsPerInstance = 1000

// put takes back a healthy instance: it is restored to the snapshot taken
// after _initialize (a memory copy, well under a millisecond for a Go
// guest) and becomes idle, ready for any call. Restoring here rather than in
// the background means the next call finds it ready instead of paying for
// a new instance.
func (p *pool) put(ctx context.Context, inst *instance) {
	defer func() { <-p.sem }()
	inst.calls++
	p.mu.Lock()
	snap := p.snap
	p.mu.Unlock()
	if snap == nil || inst.calls >= maxCallsPerInstance || p.grownTooFar(snap, inst) {
		_ = inst.mod.Close(ctx)
		return
	}
	if err := snap.restore(ctx, inst); err != nil {
		p.g.e.logger.Warn("guest instance could not be reset; closed", "guest", p.g.info.Name, "err", err)
		_ = inst.mod.Close(ctx)
		return
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = inst.mod.Close(ctx)
		return
	}
	p.idle = append(p.idle, inst)
	p.lastUsed, p.trimmed = time.Now(), false
	code := p.codePending
	p.codePending = nil
	var evict *instance
	if len(p.idle) > p.g.limits.MaxIdle {
		evict, p.idle = p.idle[0], p.idle[1:]
	}
	p.mu.Unlock()
	if evict != nil {
		_ = evict.mod.Close(ctx)
	}
	if code != nil {
		p.g.e.fileBackCodeLater(p.g.info.Name, code)
	}
}

// grownTooFar reports whether inst's memory grew past half of the room
// between the snapshot and the memory limit. A restored instance keeps its
// grown size (wasm memories cannot shrink) while the guest's allocator is
// back to believing in the snapshot's size, so it grows again by what the
// next call needs; retiring at half keeps room for any call that fits in a
// new instance.
func (p *pool) grownTooFar(snap *snapshot, inst *instance) bool {
	size := uint64(inst.mod.Memory().Size())
	limit := (p.g.limits.Memory + 65535) &^ 65535
	base := snap.size()
	return size > base+(limit-min(limit, base))/2
}

// trimIfIdle lets the kernel take back the memory of the guest's idle
// instances and snapshot that equals the snapshot image (linearMemory.trim,
// memImage.trim) when no call has used the guest for idle. The guest stays
// loaded; its next call pays a page fault for each page it touches again.
// It reports whether it trimmed.
func (p *pool) trimIfIdle(idle time.Duration, now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.trimmed || p.snap == nil || now.Sub(p.lastUsed) < idle {
		return false
	}
	// Instances in idle and fresh are in no call; p.mu keeps them there.
	for _, inst := range append(p.idle[:len(p.idle):len(p.idle)], p.fresh) {
		if inst != nil && inst.lin != nil {
			inst.lin.trim()
		}
	}
	p.snap.img.trim()
	p.trimmed = true
	return true
}

// unloadIfIdle releases the compiled module, every instance and the
// snapshot when no call has used the guest for idle and none is running;
// the next call compiles again from the disk cache. It reports whether it
// unloaded. (Lock order as in newInstance: compileMu, then mu.)
func (p *pool) unloadIfIdle(ctx context.Context, idle time.Duration, now time.Time) bool {
	p.compileMu.Lock()
	defer p.compileMu.Unlock()
	if p.cm == nil {
		return false
	}
	p.mu.Lock()
	if p.closed || p.refilling || len(p.sem) > 0 || now.Sub(p.lastUsed) < idle {
		p.mu.Unlock()
		return false
	}
	insts := append(p.idle, p.fresh)
	p.idle, p.fresh = nil, nil
	snap := p.snap
	p.snap, p.codePending = nil, nil
	p.mu.Unlock()
	for _, inst := range insts {
		if inst != nil {
			_ = inst.mod.Close(ctx)
		}
	}
	snap.close()
	_ = p.cm.Close(ctx)
	p.cm, p.rt, p.data = nil, nil, nil
	return true
}

// discard closes an instance after a failed call.
func (p *pool) discard(ctx context.Context, inst *instance) {
	defer func() { <-p.sem }()
	_ = inst.mod.Close(ctx)
}

// close closes every idle instance and the compiled module.
func (p *pool) close(ctx context.Context) {
	p.mu.Lock()
	p.closed = true
	insts := append(p.idle, p.fresh)
	p.idle, p.fresh = nil, nil
	snap := p.snap
	p.snap, p.codePending = nil, nil
	p.mu.Unlock()
	var errs []error
	for _, inst := range insts {
		if inst != nil {
			errs = append(errs, inst.mod.Close(ctx))
		}
	}
	snap.close()
	p.compileMu.Lock()
	if p.cm != nil {
		errs = append(errs, p.cm.Close(ctx))
	}
	p.compileMu.Unlock()
	if err := errors.Join(errs...); err != nil {
		p.g.e.logger.Debug("closing guest", "guest", p.g.info.Name, "err", err)
	}
}

// outputSink sends a guest's stdout and stderr to the log, line by line,
// within the call's log budget, and keeps the start of stderr for error
// messages (a Go panic or "fatal error: out of memory" is printed there).
type outputSink struct {
	guest *guest
	max   int
	mu    sync.Mutex
	cs    *callState
	buf   map[string]*bytes.Buffer
	errs  bytes.Buffer // stderr of the current call, first 8 KiB
}

type sinkStream struct {
	s    *outputSink
	name string
}

func (s *outputSink) stream(name string) *sinkStream { return &sinkStream{s: s, name: name} }

func (s *outputSink) begin(cs *callState) {
	s.mu.Lock()
	s.cs = cs
	s.errs.Reset()
	s.mu.Unlock()
}

// end flushes partial lines and detaches the call.
func (s *outputSink) end() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, b := range s.buf {
		if b.Len() > 0 {
			s.logLine(name, b.String())
			b.Reset()
		}
	}
	s.cs = nil
}

func (s *outputSink) stderr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.errs.String()
}

// Write implements io.Writer.
func (w *sinkStream) Write(p []byte) (int, error) {
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if w.name == "stderr" && s.errs.Len() < 8<<10 {
		s.errs.Write(p[:min(len(p), 8<<10-s.errs.Len())])
	}
	if s.buf == nil {
		s.buf = map[string]*bytes.Buffer{}
	}
	b := s.buf[w.name]
	if b == nil {
		b = &bytes.Buffer{}
		s.buf[w.name] = b
	}
	b.Write(p)
	for {
		line, _, ok := bytes.Cut(b.Bytes(), []byte{'\n'})
		if !ok {
			break
		}
		s.logLine(w.name, string(line))
		b.Next(len(line) + 1)
	}
	if b.Len() > 4<<10 {
		s.logLine(w.name, b.String())
		b.Reset()
	}
	return len(p), nil
}

// logLine logs one line of guest output; s.mu is held.
func (s *outputSink) logLine(stream, line string) {
	cs := s.cs
	if cs == nil || !cs.spendLog(len(line)) {
		return
	}
	level := slog.LevelInfo
	if stream == "stderr" {
		level = slog.LevelWarn
	}
	cs.logger.Log(context.Background(), level, line, "stream", stream)
}
