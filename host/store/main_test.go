package store_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/moonrelay/moonrelay/host/store"
)

// The test binary doubles as the child process of the crash and lock tests:
// with childEnv set, TestMain runs the child's job instead of the tests.
const (
	childEnv      = "MOONRELAY_STORE_TEST_CHILD" // "write" or "hold"
	childPathEnv  = "MOONRELAY_STORE_TEST_PATH"
	childStartEnv = "MOONRELAY_STORE_TEST_START"
)

func TestMain(m *testing.M) {
	switch os.Getenv(childEnv) {
	case "":
		os.Exit(m.Run())
	case "write":
		start, _ := strconv.Atoi(os.Getenv(childStartEnv))
		os.Exit(childWrite(os.Getenv(childPathEnv), start))
	case "hold":
		os.Exit(childHold(os.Getenv(childPathEnv)))
	default:
		fmt.Fprintf(os.Stderr, "unknown %s=%q\n", childEnv, os.Getenv(childEnv))
		os.Exit(2)
	}
}

// childWrite writes crashOp(i) for i = start, start+1, … until it is killed,
// printing "i id" on stdout only after the write returned.
func childWrite(path string, start int) int {
	s, err := store.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for i := start; ; i++ {
		id, err := crashOp(s, i)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		// One write(2) per line: a pipe never splits it.
		if _, err := fmt.Fprintf(os.Stdout, "%d %d\n", i, id); err != nil {
			return 1
		}
	}
}

// childHold opens the store, says "ready" and keeps it open until stdin
// closes.
func childHold(path string) int {
	s, err := store.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startChild runs this test binary as a child doing job on the store at
// path. The child's stderr goes to the test log when the test ends.
func startChild(t *testing.T, job, path string, extraEnv ...string) (cmd *exec.Cmd, stdin io.WriteCloser, stdout *bufio.Reader) {
	t.Helper()
	cmd = exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+job, childPathEnv+"="+path)
	cmd.Env = append(cmd.Env, extraEnv...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if stderr.Len() > 0 {
			t.Logf("child %s stderr:\n%s", job, stderr.String())
		}
	})
	return cmd, stdin, bufio.NewReader(out)
}

// openTemp opens a fresh store in a temporary directory, closed when the test
// ends.
func openTemp(t testing.TB, opts ...store.Option) *store.Store {
	t.Helper()
	s, err := store.Open(t.TempDir()+"/moonrelay.db", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}
