package integration

import (
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
// demo-sized config stays under 20 MB resident.
func TestIdleRSS(t *testing.T) {
	cmd, _, _, _ := startBinary(t, "")
	time.Sleep(500 * time.Millisecond)
	kib := rssKiB(t, cmd.Process.Pid)
	t.Logf("idle RSS: %.1f MiB", float64(kib)/1024)
	if kib > 20*1024 {
		t.Errorf("idle RSS %.1f MiB, want <= 20 MiB", float64(kib)/1024)
	}
}
