package runtime

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/guests/sdk"
	"github.com/moonrelay/moonrelay/runtime/internal/wasmbuild"
)

var benchReq = sdk.SendRequest{URL: "echo://x/", Title: "Print complete", Body: "benchy.gcode finished in 1h02m", Notifier: "phone", Event: "complete"}

// BenchmarkCall measures one Send to the echo guest on a warm instance:
// the whole round trip (input encoding, mr_alloc, mr_send with the guest's
// JSON work, result decoding), an upper bound of the host's overhead.
func BenchmarkCall(b *testing.B) {
	e := newEngine(b, Options{}, map[string]string{"echo": guestWasm(b, echoDir)})
	ctx := context.Background()
	if _, err := e.Send(ctx, "echo", benchReq, Call{Scope: "s"}); err != nil {
		b.Fatal(err)
	}
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, err := e.Send(ctx, "echo", benchReq, Call{Scope: "s"}); err != nil {
			b.Fatal(err)
		}
		durs = append(durs, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkCallHTTP measures one Send to the echo guest that POSTs the
// body to a loopback net/http server (echo's http=yes): BenchmarkCall plus
// one http_request, including whatever it costs to get a connection.
func BenchmarkCallHTTP(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, "ok")
	}))
	b.Cleanup(srv.Close)
	e := newEngine(b, Options{}, map[string]string{"echo": guestWasm(b, echoDir)})
	ctx := context.Background()
	req := benchReq
	req.URL = "echo://" + strings.TrimPrefix(srv.URL, "http://") + "/hook?http=yes"
	send := func() {
		res, err := e.Send(ctx, "echo", req, Call{Scope: "s"})
		if err != nil {
			b.Fatal(err)
		}
		if !res.OK {
			b.Fatalf("send failed: %+v", res)
		}
	}
	send()
	durs := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		send()
		durs = append(durs, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(durs)
	b.ReportMetric(float64(durs[len(durs)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(durs[len(durs)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkThroughput runs 1000 calls per iteration, one after another or
// all at once, spread over 8 scopes as 8 notifiers would, and reports
// calls/s; anon-code keeps the machine code in anonymous memory.
func BenchmarkThroughput(b *testing.B) {
	for _, mode := range []string{"sequential", "concurrent", "sequential-anon-code", "concurrent-anon-code"} {
		b.Run(mode+"-1000", func(b *testing.B) {
			anon := strings.HasSuffix(mode, "-anon-code")
			e := newEngine(b, Options{KeepCodeAnonymous: anon}, map[string]string{"echo": guestWasm(b, echoDir)})
			ctx := context.Background()
			b.ResetTimer()
			t0 := time.Now()
			for range b.N {
				var wg sync.WaitGroup
				for i := range 1000 {
					call := func() {
						if _, err := e.Send(ctx, "echo", benchReq, Call{Scope: "s" + strconv.Itoa(i%8)}); err != nil {
							b.Error(err)
						}
					}
					if strings.HasPrefix(mode, "sequential") {
						call()
					} else {
						wg.Go(call)
					}
				}
				wg.Wait()
			}
			b.ReportMetric(float64(b.N*1000)/time.Since(t0).Seconds(), "calls/s")
		})
	}
}

// echoCopies builds n copies of echo named echo00…, linked into one dir.
// Their sources go to build/testguests/testdata/ (git-ignored, skipped by
// ./... patterns) inside the module, so they import guests/sdk like echo
// does; wasmbuild caches the builds.
func echoCopies(b testing.TB, n int) string {
	root, err := wasmbuild.ModuleRoot()
	if err != nil {
		b.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, echoDir, "main.go"))
	if err != nil {
		b.Fatal(err)
	}
	files := map[string]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 2)
	for i := range n {
		name := fmt.Sprintf("echo%02d", i)
		dir := filepath.Join("build", "testguests", "testdata", name) // testdata: ./... skips it
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			b.Fatal(err)
		}
		copySrc := strings.Replace(string(src), `const name = "echo"`, `const name = "`+name+`"`, 1)
		if err := os.WriteFile(filepath.Join(root, dir, "main.go"), []byte(copySrc), 0o644); err != nil {
			b.Fatal(err)
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			p := guestWasm(b, dir)
			mu.Lock()
			files[name] = p
			mu.Unlock()
		})
	}
	wg.Wait()
	return guestDir(b, files)
}

// BenchmarkColdStart20 starts an engine with 20 guests on a warm
// compilation cache: LoadDir alone (manifests cached) and LoadDir plus Warm
// (every guest compiled from the cache and instantiated).
func BenchmarkColdStart20(b *testing.B) {
	dir := echoCopies(b, 20)
	ctx := context.Background()
	start := func(warm bool) {
		e, err := New(ctx, Options{CacheDir: testCacheDir(b), Logger: quietLogger()})
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close(ctx)
		if err := e.LoadDir(ctx, dir); err != nil {
			b.Fatal(err)
		}
		if warm {
			if err := e.Warm(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	start(true) // fill the caches
	for _, warm := range []bool{false, true} {
		name := "LoadDir"
		if warm {
			name = "LoadDir+Warm"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				start(warm)
			}
		})
	}
}

// BenchmarkFirstCall times a guest's first call after it was loaded (or
// unloaded when idle): compiled from the disk cache, instantiated, warmed,
// snapshotted, and the call itself; then, once its code was moved to a
// file in the background (or not, anon-code), its second call, which
// brings in from the file the code pages it runs.
func BenchmarkFirstCall(b *testing.B) {
	ctx := context.Background()
	file := guestWasm(b, echoDir)
	for _, anon := range []bool{false, true} {
		b.Run(codeVariant(anon), func(b *testing.B) {
			e := newEngine(b, Options{IdleUnload: -1, KeepCodeAnonymous: anon}, map[string]string{"echo": file})
			g := e.guests["echo"]
			var first, second time.Duration
			for range b.N {
				g.pool.unloadIfIdle(ctx, 0, time.Now())
				for _, d := range []*time.Duration{&first, &second} {
					t0 := time.Now()
					if _, err := e.Send(ctx, "echo", benchReq, Call{Scope: "s"}); err != nil {
						b.Fatal(err)
					}
					*d += time.Since(t0)
					e.codeJobs.Wait() // the code's move to a file, in the background
				}
			}
			b.ReportMetric(float64(first.Microseconds())/float64(b.N)/1000, "first-ms")
			b.ReportMetric(float64(second.Microseconds())/float64(b.N)/1000, "second-ms")
		})
	}
}

// BenchmarkCallAfterTrim times a call on a guest trimmed after being idle
// (IdleTrim): it pays a page fault for each page it touches again.
func BenchmarkCallAfterTrim(b *testing.B) {
	ctx := context.Background()
	e := newEngine(b, Options{IdleUnload: -1, IdleTrim: -1}, map[string]string{"echo": guestWasm(b, echoDir)})
	p := e.guests["echo"].pool
	if _, err := e.Send(ctx, "echo", benchReq, Call{Scope: "s"}); err != nil {
		b.Fatal(err)
	}
	e.codeJobs.Wait()
	var d time.Duration
	for range b.N {
		if !p.trimIfIdle(0, time.Now()) {
			b.Fatal("not trimmed")
		}
		t0 := time.Now()
		if _, err := e.Send(ctx, "echo", benchReq, Call{Scope: "s"}); err != nil {
			b.Fatal(err)
		}
		d += time.Since(t0)
	}
	b.ReportMetric(float64(d.Microseconds())/float64(b.N)/1000, "ms/call")
}

// BenchmarkMemoryPerGuest reports the resident memory 20 guests add: loaded
// (manifests read, nothing compiled), used (compiled, warmed, two calls
// each, instances idle), after the idle trim (IdleTrim), and after the idle
// unload released them. The
// anon-code variant keeps machine code in anonymous memory (the baseline
// for file-backed code, internals.go).
func BenchmarkMemoryPerGuest(b *testing.B) {
	dir := echoCopies(b, 20)
	send := func(ctx context.Context, e *Engine, g GuestInfo) error {
		req := benchReq
		req.URL = g.Name + "://x/"
		_, err := e.Send(ctx, g.Name, req, Call{Scope: "s"})
		return err
	}
	for _, anon := range []bool{false, true} {
		b.Run(codeVariant(anon), func(b *testing.B) { benchMemoryPerGuest(b, dir, anon, send) })
	}
}

// BenchmarkMemoryPerTransport is BenchmarkMemoryPerGuest for the built-in
// guests of make (MOONRELAY_GUESTS): each sends once to a host its policy
// refuses, so the call runs the transport's URL parsing, message building
// and request, but nothing leaves the machine.
func BenchmarkMemoryPerTransport(b *testing.B) {
	dir := os.Getenv("MOONRELAY_GUESTS")
	if dir == "" {
		b.Skip("MOONRELAY_GUESTS is not set: run make bench")
	}
	send := func(ctx context.Context, e *Engine, g GuestInfo) error {
		req := benchReq
		req.URL = g.Schemes[0] + "://user:secret@" + warmUpHost + "/a/b?to=someone"
		_, _ = e.Send(ctx, g.Name, req, Call{Scope: "s"})
		return nil
	}
	for _, anon := range []bool{false, true} {
		b.Run(codeVariant(anon), func(b *testing.B) { benchMemoryPerGuest(b, dir, anon, send) })
	}
}

func codeVariant(anon bool) string {
	if anon {
		return "anon-code"
	}
	return "file-code"
}

func benchMemoryPerGuest(b *testing.B, dir string, anon bool, send func(context.Context, *Engine, GuestInfo) error) {
	ctx := context.Background()
	settle := func() int64 {
		// wazero frees machine code in finalizers: let them run.
		goruntime.GC()
		time.Sleep(50 * time.Millisecond)
		goruntime.GC()
		debug.FreeOSMemory()
		return rss(b)
	}
	for range b.N {
		before := settle()
		e, err := New(ctx, Options{CacheDir: testCacheDir(b), Logger: quietLogger(), IdleUnload: -1, KeepCodeAnonymous: anon})
		if err != nil {
			b.Fatal(err)
		}
		if err := e.LoadDir(ctx, dir); err != nil {
			b.Fatal(err)
		}
		loaded := settle()
		guests := e.Guests()
		n := float64(len(guests))
		for _, g := range guests {
			if err := send(ctx, e, g); err != nil {
				b.Fatal(err)
			}
		}
		e.codeJobs.Wait()
		for _, g := range guests { // a call on the file-backed code
			if err := send(ctx, e, g); err != nil {
				b.Fatal(err)
			}
		}
		used := settle()
		for _, g := range e.order {
			g.pool.trimIfIdle(0, time.Now())
		}
		trimmed := settle()
		for _, g := range e.order {
			if !g.pool.unloadIfIdle(ctx, 0, time.Now()) {
				b.Fatalf("%s not unloaded", g.info.Name)
			}
		}
		unloaded := settle()
		b.ReportMetric(float64(loaded-before)/n/(1<<20), "MiB-loaded/guest")
		b.ReportMetric(float64(used-before)/n/(1<<20), "MiB-used/guest")
		b.ReportMetric(float64(trimmed-before)/n/(1<<20), "MiB-idle-trimmed/guest")
		b.ReportMetric(float64(unloaded-before)/n/(1<<20), "MiB-unloaded/guest")
		e.Close(ctx)
	}
}

// rss reads the process's resident set size from /proc.
func rss(b *testing.B) int64 {
	data, err := os.ReadFile(filepath.Join("/proc", "self", "statm"))
	if err != nil {
		b.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(data))
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}
