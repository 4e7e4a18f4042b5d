package integration

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rssKiB reads a process's resident set size from /proc.
func rssKiB(t testing.TB, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("requires Linux /proc: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}

// TestIdleRSS checks the idle memory target: a started moonrelay with the
// demo-sized config settles under 20 MB resident. Idle is the steady state
// after start-up: the Go runtime returns start-up garbage to the OS in the
// background, so the test samples for up to 5 s and passes at the first
// sample under the target (on a loaded CI machine the first sample, at
// 0.5 s, was 20.3 MiB once; it is ~19 MiB normally).
func TestIdleRSS(t *testing.T) {
	cmd, _, _, _ := startBinary(t, "")
	var samples []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		time.Sleep(500 * time.Millisecond)
		kib := rssKiB(t, cmd.Process.Pid)
		samples = append(samples, fmt.Sprintf("%.1f", float64(kib)/1024))
		if kib <= 20*1024 {
			t.Logf("idle RSS: %s MiB", strings.Join(samples, ", "))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle RSS stayed over 20 MiB for 5 s: %s MiB", strings.Join(samples, ", "))
		}
	}
}
