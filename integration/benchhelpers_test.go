package integration

import (
	"net"
	"os/exec"
	"testing"

	"github.com/moonrelay/moonrelay/runtime/transporttest"
)

func guestWasmPath(tb testing.TB) string { return transporttest.Guest(tb, "../guests/examples/echo") }

func freePortB(tb testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func startProcessB(tb testing.TB, bin string, args ...string) *exec.Cmd {
	c := exec.Command(bin, args...)
	if err := c.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Process.Kill(); _, _ = c.Process.Wait() })
	return c
}
