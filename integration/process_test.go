package integration

import (
	"net/http"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func itoa(n int) string { return strconv.Itoa(n) }

// execCmd is a moonrelay child process with its log.
type execCmd struct {
	cmd  *exec.Cmd
	logs *logBuffer
}

func startProcess(t testing.TB, bin string, args ...string) *execCmd {
	t.Helper()
	c := &execCmd{cmd: exec.Command(bin, args...), logs: &logBuffer{}}
	c.cmd.Stderr = c.logs
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.cmd.Process.Kill(); _, _ = c.cmd.Process.Wait() })
	return c
}

func (c *execCmd) kill9(t testing.TB) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = c.cmd.Process.Wait()
}

// waitHTTP waits until base answers /server/info.
func waitHTTP(t testing.TB, base string, c *execCmd) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if resp, err := http.Get(base + "/server/info"); err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("moonrelay did not answer within 30s; logs:\n%s", c.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
