package store_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/moonrelay/moonrelay/host/store"
)

func TestOpen_createsDirAndFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data", "state")
	path := filepath.Join(dir, "moonrelay.db")
	s, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.Path(); got != path {
		t.Errorf("Path() = %q, want %q", got, path)
	}
	if runtime.GOOS == "windows" {
		return // no Unix permission bits
	}
	for _, tc := range []struct {
		path string
		want os.FileMode
	}{
		{dir, 0o700},
		{filepath.Dir(dir), 0o700},
		{path, 0o600},
	} {
		fi, err := os.Stat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != tc.want {
			t.Errorf("mode of %s = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestOpen_keepsDataAcrossReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "moonrelay.db")
	s, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Namespace("spoolman").Put("active_spool", []byte("7")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, ok, err := s.Namespace("spoolman").Get("active_spool")
	if err != nil || !ok || string(got) != "7" {
		t.Errorf("Get after reopen = %q, %v, %v; want \"7\", true, nil", got, ok, err)
	}
}

func TestOpen_emptyPath(t *testing.T) {
	if _, err := store.Open(""); !errors.Is(err, store.ErrInvalidName) {
		t.Errorf("Open(\"\") error = %v, want ErrInvalidName", err)
	}
}

func TestOpen_lockedInThisProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "moonrelay.db")
	s, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	_, err = store.Open(path, store.WithLockTimeout(100*time.Millisecond))
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second Open error = %v, want ErrLocked", err)
	}
	// Once the first Store is closed, the file is free again.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := store.Open(path, store.WithLockTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	s2.Close()
}

func TestOpen_lockedByAnotherProcess(t *testing.T) {
	path := filepath.Join(t.TempDir(), "moonrelay.db")
	cmd, stdin, stdout := startChild(t, "hold", path)
	if line, err := stdout.ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child said %q, %v; want \"ready\"", line, err)
	}

	const timeout = 300 * time.Millisecond
	start := time.Now()
	_, err := store.Open(path, store.WithLockTimeout(timeout))
	elapsed := time.Since(start)
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("Open error = %v, want ErrLocked", err)
	}
	if elapsed < timeout-100*time.Millisecond || elapsed > timeout+2*time.Second {
		t.Errorf("Open gave up after %s, want about %s", elapsed, timeout)
	}
	msg := err.Error()
	wantParts := []string{"database " + path + " is in use by another moonrelay process", "stop that process"}
	if runtime.GOOS == "linux" {
		wantParts = append(wantParts, fmt.Sprintf("(pid %d,", cmd.Process.Pid))
	}
	for _, want := range wantParts {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}

	// The child closes the store and exits; the lock goes with it.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("child: %v", err)
	}
	s, err := store.Open(path, store.WithLockTimeout(timeout))
	if err != nil {
		t.Fatalf("Open after the child exited: %v", err)
	}
	s.Close()
}

func TestOpen_corrupt(t *testing.T) {
	const pageSize = 4096 // bbolt's default page size on the platforms we build for
	if os.Getpagesize() != pageSize {
		t.Skipf("page size %d, cases assume %d", os.Getpagesize(), pageSize)
	}
	// validDB writes a database with some data and returns its bytes.
	validDB := func(t *testing.T) []byte {
		path := filepath.Join(t.TempDir(), "valid.db")
		s, err := store.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 200 {
			if err := s.Namespace("n").Put(fmt.Sprintf("key-%03d", i), bytes.Repeat([]byte("v"), 100)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	smash := func(data []byte, off, n int) []byte {
		for i := off; i < off+n && i < len(data); i++ {
			data[i] = 0xA5
		}
		return data
	}
	tests := []struct {
		name string
		file func(t *testing.T) []byte
	}{
		{"text file", func(*testing.T) []byte { return bytes.Repeat([]byte("not a database\n"), 1000) }},
		{"a few bytes", func(*testing.T) []byte { return []byte("moonrelay") }},
		{"both meta pages", func(t *testing.T) []byte {
			d := validDB(t)
			smash(d, 16, 64)
			return smash(d, pageSize+16, 64)
		}},
		{"data pages", func(t *testing.T) []byte {
			d := validDB(t)
			return smash(d, 2*pageSize, len(d))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "moonrelay.db")
			if err := os.WriteFile(path, tc.file(t), 0o600); err != nil {
				t.Fatal(err)
			}
			s, err := store.Open(path, store.WithLockTimeout(100*time.Millisecond))
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded, want ErrCorrupt")
			}
			if !errors.Is(err, store.ErrCorrupt) {
				t.Fatalf("Open error = %v, want ErrCorrupt", err)
			}
			msg := err.Error()
			for _, want := range []string{"database " + path + " is damaged", "mv " + path + " " + path + ".broken"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not contain %q", msg, want)
				}
			}
			// A failed Open leaves the file unlocked: trying again reports
			// the damage again, not a lock held by this process.
			if _, err := store.Open(path, store.WithLockTimeout(100*time.Millisecond)); !errors.Is(err, store.ErrCorrupt) {
				t.Errorf("second Open error = %v, want ErrCorrupt", err)
			}
			// The owner follows the advice, and a new store opens in its
			// place.
			if err := os.Rename(path, path+".broken"); err != nil {
				t.Fatal(err)
			}
			s, err = store.Open(path, store.WithLockTimeout(100*time.Millisecond))
			if err != nil {
				t.Fatalf("Open after moving the file aside: %v", err)
			}
			s.Close()
		})
	}
}

func TestClose_idempotent(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "moonrelay.db"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.Close(); err != nil {
			t.Errorf("Close #%d = %v, want nil", i+1, err)
		}
	}
}

func TestClosedStore(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "moonrelay.db"))
	if err != nil {
		t.Fatal(err)
	}
	n := s.Namespace("n")
	q := s.Queue("q")
	if err := n.Put("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Append([]byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	var v struct{}
	tests := []struct {
		name string
		call func() error
	}{
		{"Namespace.Get", func() error { _, _, err := n.Get("k"); return err }},
		{"Namespace.Put", func() error { return n.Put("k", nil) }},
		{"Namespace.Delete", func() error { return n.Delete("k") }},
		{"Namespace.ForEach", func() error { return n.ForEach(func(string, []byte) error { return nil }) }},
		{"Namespace.GetJSON", func() error { _, err := n.GetJSON("k", &v); return err }},
		{"Namespace.PutJSON", func() error { return n.PutJSON("k", v) }},
		{"Queue.Append", func() error { _, err := q.Append(nil); return err }},
		{"Queue.Get", func() error { _, _, err := q.Get(1); return err }},
		{"Queue.Replace", func() error { return q.Replace(1, nil) }},
		{"Queue.Delete", func() error { return q.Delete(1) }},
		{"Queue.ForEach", func() error { return q.ForEach(func(uint64, []byte) error { return nil }) }},
		{"Queue.Trim", func() error { _, err := q.Trim(0); return err }},
		{"Store.Update", func() error { return s.Update(func(*store.Tx) error { return nil }) }},
		{"Store.View", func() error { return s.View(func(*store.Tx) error { return nil }) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, store.ErrClosed) {
				t.Errorf("error = %v, want ErrClosed", err)
			}
		})
	}
}

func TestUpdate(t *testing.T) {
	s := openTemp(t)
	pending, sent := s.Namespace("usage/pending"), s.Namespace("usage/sent")
	if err := pending.Put("spool-7", []byte("12.5")); err != nil {
		t.Fatal(err)
	}

	t.Run("commits every write together", func(t *testing.T) {
		err := s.Update(func(tx *store.Tx) error {
			p, sn := tx.Namespace("usage/pending"), tx.Namespace("usage/sent")
			v, ok, err := p.Get("spool-7")
			if err != nil || !ok {
				return fmt.Errorf("get pending: %v, %v", ok, err)
			}
			if err := sn.Put("spool-7", v); err != nil {
				return err
			}
			if _, err := tx.Queue("history").Append(v); err != nil {
				return err
			}
			return p.Delete("spool-7")
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := pending.Get("spool-7"); ok {
			t.Error("pending still holds spool-7")
		}
		if v, ok, _ := sent.Get("spool-7"); !ok || string(v) != "12.5" {
			t.Errorf("sent spool-7 = %q, %v; want \"12.5\", true", v, ok)
		}
	})

	t.Run("error keeps nothing", func(t *testing.T) {
		errStop := errors.New("stop")
		err := s.Update(func(tx *store.Tx) error {
			if err := tx.Namespace("usage/pending").Put("spool-8", []byte("1")); err != nil {
				return err
			}
			if _, err := tx.Queue("history").Append([]byte("x")); err != nil {
				return err
			}
			return errStop
		})
		if err != errStop {
			t.Fatalf("Update error = %v, want fn's error unchanged", err)
		}
		if _, ok, _ := pending.Get("spool-8"); ok {
			t.Error("spool-8 was written by a failed Update")
		}
		// The rolled-back Append did not use up an id.
		id, err := s.Queue("history").Append([]byte("y"))
		if err != nil || id != 2 {
			t.Errorf("Append after rollback = %d, %v; want 2, nil", id, err)
		}
	})

	t.Run("panic keeps nothing", func(t *testing.T) {
		func() {
			defer func() { _ = recover() }()
			_ = s.Update(func(tx *store.Tx) error {
				_ = tx.Namespace("usage/pending").Put("spool-9", []byte("1"))
				panic("boom")
			})
		}()
		if _, ok, _ := pending.Get("spool-9"); ok {
			t.Error("spool-9 was written by a panicking Update")
		}
		if err := pending.Put("after-panic", nil); err != nil {
			t.Errorf("Put after a panicking Update: %v", err)
		}
	})

	t.Run("value changed after Put inside Update", func(t *testing.T) {
		buf := []byte("before")
		err := s.Update(func(tx *store.Tx) error {
			err := tx.Namespace("n").Put("k", buf)
			copy(buf, "AFTER!")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if v, _, _ := s.Namespace("n").Get("k"); string(v) != "before" {
			t.Errorf("stored %q, want \"before\"", v)
		}
	})

	t.Run("Tx values expire with fn", func(t *testing.T) {
		var kept *store.Namespace
		if err := s.Update(func(tx *store.Tx) error { kept = tx.Namespace("n"); return nil }); err != nil {
			t.Fatal(err)
		}
		if err := kept.Put("late", nil); err == nil {
			t.Error("Put through a finished Tx succeeded")
		}
	})
}

func TestView(t *testing.T) {
	s := openTemp(t)
	if err := s.Namespace("n").Put("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	var got []byte
	err := s.View(func(tx *store.Tx) error {
		v, _, err := tx.Namespace("n").Get("k")
		got = v
		return err
	})
	if err != nil || string(got) != "v" {
		t.Errorf("View Get = %q, %v; want \"v\", nil", got, err)
	}

	writes := []struct {
		name string
		call func(tx *store.Tx) error
	}{
		{"Namespace.Put", func(tx *store.Tx) error { return tx.Namespace("n").Put("k2", nil) }},
		{"Namespace.Delete", func(tx *store.Tx) error { return tx.Namespace("n").Delete("k") }},
		{"Queue.Append", func(tx *store.Tx) error { _, err := tx.Queue("q").Append(nil); return err }},
		{"Queue.Trim", func(tx *store.Tx) error { _, err := tx.Queue("q").Trim(0); return err }},
	}
	for _, tc := range writes {
		t.Run(tc.name+" fails", func(t *testing.T) {
			if err := s.View(tc.call); err == nil {
				t.Error("write in View succeeded")
			}
		})
	}
}
