package klippy_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/host/klippy"
	"github.com/moonrelay/moonrelay/host/klippy/sim"
)

// socketPath returns a short socket path (Unix socket paths are limited to
// 108 bytes, and t.TempDir() can be longer).
func socketPath(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mr")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "k.sock")
}

// startSim starts a simulator on a fresh socket.
func startSim(t testing.TB, opts sim.Options) (*sim.Printer, string) {
	t.Helper()
	if opts.StatusInterval == 0 {
		opts.StatusInterval = 20 * time.Millisecond
	}
	if opts.Speed == 0 {
		opts.Speed = 1000
	}
	path := socketPath(t)
	p := sim.New(opts)
	if err := p.Start(context.Background(), path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, path
}

// startClient connects a client to path and waits until Klippy is ready.
func startClient(t testing.TB, path string, setup func(*klippy.Client)) *klippy.Client {
	t.Helper()
	c := klippy.New(klippy.Options{SocketPath: path, ReconnectMin: 20 * time.Millisecond, ReconnectMax: 100 * time.Millisecond, PollInterval: 20 * time.Millisecond})
	if setup != nil {
		setup(c)
	}
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// next waits for the next update matching keep.
func next(t testing.TB, s *klippy.Subscription, keep func(klippy.Update) bool) klippy.Update {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case u, ok := <-s.Updates():
			if !ok {
				t.Fatal("subscription closed")
			}
			if keep == nil || keep(u) {
				return u
			}
		case <-timeout:
			t.Fatal("timed out waiting for an update")
		}
	}
}

func gcodesDir(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
