package store_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/host/store"
)

func crashKey(i int) string { return fmt.Sprintf("k%09d", i) }

func crashValue(i int) string {
	// Sizes vary so that pages split and the file grows while we kill it.
	return fmt.Sprintf("value-%d-", i) + strings.Repeat("x", i%700)
}

// crashOp is the i-th write of the crash test child: it cycles through a
// Put, an Append, an Update over two namespaces, and a Delete of the key put
// three writes before. It returns the queue id for an Append, else 0.
func crashOp(s *store.Store, i int) (uint64, error) {
	switch i % 4 {
	case 0:
		return 0, s.Namespace("crash").Put(crashKey(i), []byte(crashValue(i)))
	case 1:
		return s.Queue("crash_queue").Append([]byte(crashValue(i)))
	case 2:
		return 0, s.Update(func(tx *store.Tx) error {
			if err := tx.Namespace("usage/pending").Put(crashKey(i), []byte(crashValue(i))); err != nil {
				return err
			}
			return tx.Namespace("usage/sent").Put(crashKey(i), []byte(crashValue(i)))
		})
	default:
		return 0, s.Namespace("crash").Delete(crashKey(i - 3))
	}
}

// TestCrash kills a writing child process with SIGKILL at a random moment
// and checks that every write it acknowledged survived, that the write in
// flight is there whole or not at all, and that the file is consistent.
func TestCrash(t *testing.T) {
	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	path := filepath.Join(t.TempDir(), "moonrelay.db")
	acked := map[int]uint64{} // op index → queue id (0 unless an Append)
	maybe := map[int]bool{}   // the op in flight at each kill
	for round := range rounds {
		start := round * 1_000_000
		n := runCrashChild(t, path, start, acked)
		maybe[start+n] = true
		t.Logf("round %d: killed after %d acknowledged writes", round+1, n)

		s, err := store.Open(path) // also runs bbolt's consistency check
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round+1, err)
		}
		verifyCrash(t, s, acked, maybe)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			return
		}
	}
}

// runCrashChild starts a writer at op start, kills it after at least 100
// acknowledgements, records every acknowledgement in acked and returns how
// many there were.
func runCrashChild(t *testing.T, path string, start int, acked map[int]uint64) int {
	t.Helper()
	cmd, _, stdout := startChild(t, "write", path, childStartEnv+"="+strconv.Itoa(start))
	lines := make(chan string)
	go func() {
		defer close(lines)
		for {
			line, err := stdout.ReadString('\n')
			if err != nil {
				return // a line without its newline was never acknowledged
			}
			lines <- strings.TrimSuffix(line, "\n")
		}
	}()

	n := 0
	record := func(line string) {
		var i int
		var id uint64
		if _, err := fmt.Sscanf(line, "%d %d", &i, &id); err != nil || i != start+n {
			t.Fatalf("child printed %q, want ack of op %d", line, start+n)
		}
		acked[i] = id
		n++
	}
	deadline := time.After(60 * time.Second)
	for n < 100 {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("child exited after %d acks", n)
			}
			record(line)
		case <-deadline:
			t.Fatalf("only %d acks after 60s", n)
		}
	}
	killAt := time.After(rand.N(100 * time.Millisecond))
	for killed := false; !killed; {
		select {
		case line := <-lines:
			record(line)
		case <-killAt:
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	for line := range lines {
		record(line) // printed before the kill
	}
	_ = cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != -1 {
		t.Fatalf("child exited with code %d, want killed by a signal", code)
	}
	return n
}

func verifyCrash(t *testing.T, s *store.Store, acked map[int]uint64, maybe map[int]bool) {
	t.Helper()
	known := func(i int) bool { _, ok := acked[i]; return ok || maybe[i] }

	// Every acknowledged write is there.
	for i, id := range acked {
		var got []byte
		var ok bool
		var err error
		switch i % 4 {
		case 0:
			got, ok, err = s.Namespace("crash").Get(crashKey(i))
			_, deleted := acked[i+3]
			switch {
			case deleted && ok:
				t.Errorf("op %d: key %s deleted by acknowledged op %d is back", i, crashKey(i), i+3)
				continue
			case deleted || (maybe[i+3] && !ok):
				continue
			}
		case 1:
			got, ok, err = s.Queue("crash_queue").Get(id)
		case 2:
			for _, ns := range []string{"usage/pending", "usage/sent"} {
				got, ok, err = s.Namespace(ns).Get(crashKey(i))
				if err != nil || !ok || string(got) != crashValue(i) {
					t.Errorf("op %d: %s %s = %.20q, %v, %v; want %.20q", i, ns, crashKey(i), got, ok, err, crashValue(i))
				}
			}
			continue
		default:
			continue // checked with its Put
		}
		if err != nil || !ok || string(got) != crashValue(i) {
			t.Errorf("op %d: acknowledged write = %.20q, %v, %v; want %.20q", i, got, ok, err, crashValue(i))
		}
	}

	// Nothing else is there, and Update's two writes landed together.
	check := func(ns string) map[string]bool {
		keys := map[string]bool{}
		err := s.Namespace(ns).ForEach(func(k string, v []byte) error {
			i, err := strconv.Atoi(strings.TrimPrefix(k, "k"))
			if err != nil || !known(i) || string(v) != crashValue(i) {
				t.Errorf("%s: unexpected entry %s = %.20q", ns, k, v)
			}
			keys[k] = true
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	check("crash")
	pending, sent := check("usage/pending"), check("usage/sent")
	for k := range pending {
		if !sent[k] {
			t.Errorf("%s is in usage/pending but not usage/sent: Update was not atomic", k)
		}
	}
	for k := range sent {
		if !pending[k] {
			t.Errorf("%s is in usage/sent but not usage/pending: Update was not atomic", k)
		}
	}

	ackedIDs := map[uint64]bool{}
	for _, id := range acked {
		if id != 0 {
			ackedIDs[id] = true
		}
	}
	unacked := 0
	err := s.Queue("crash_queue").ForEach(func(id uint64, v []byte) error {
		if !ackedIDs[id] {
			unacked++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if unacked > len(maybe) {
		t.Errorf("queue holds %d unacknowledged items, want at most %d (one per kill)", unacked, len(maybe))
	}
}
