package runtime

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/moonrelay/moonrelay/runtime/internal/wasmbuild"
)

// builds memoizes wasmbuild.Build within one test binary.
var builds sync.Map // key string -> *buildResult

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// guestWasm returns the .wasm of a guest directory: from MOONRELAY_GUESTS
// (set by `make test`) for guests/ directories, else built and cached by
// wasmbuild.
func guestWasm(tb testing.TB, dir string) string {
	tb.Helper()
	if d := os.Getenv("MOONRELAY_GUESTS"); d != "" && filepath.Dir(filepath.Dir(dir)) == "guests" {
		p := filepath.Join(d, filepath.Base(dir)+".wasm")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	v, _ := builds.LoadOrStore(dir, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() { r.path, r.err = wasmbuild.Build(dir) })
	if r.err != nil {
		tb.Fatal(r.err)
	}
	return r.path
}

// testCacheDir is the compilation cache shared by test runs, so only the
// first run compiles.
func testCacheDir(tb testing.TB) string {
	tb.Helper()
	d, err := wasmbuild.CacheDir()
	if err != nil {
		tb.Fatal(err)
	}
	return filepath.Join(d, "wazero")
}

// guestDir links the given guests into a fresh directory as <name>.wasm.
func guestDir(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	for name, src := range files {
		if err := os.Symlink(src, filepath.Join(dir, name+".wasm")); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// newEngine starts an engine on the shared cache with the guests loaded,
// closed at cleanup.
func newEngine(tb testing.TB, opts Options, files map[string]string) *Engine {
	tb.Helper()
	if opts.CacheDir == "" {
		opts.CacheDir = testCacheDir(tb)
	}
	if opts.Logger == nil {
		opts.Logger = quietLogger()
	}
	ctx := context.Background()
	e, err := New(ctx, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = e.Close(ctx) })
	if err := e.LoadDir(ctx, guestDir(tb, files)); err != nil {
		tb.Fatal(err)
	}
	return e
}

const (
	echoDir    = "guests/examples/echo"
	hostileDir = "runtime/testdata/hostile"
	garbageDir = "runtime/testdata/garbage"
)

// quietLogger drops guest logs in tests that do not look at them.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
