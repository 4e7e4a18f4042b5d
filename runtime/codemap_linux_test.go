//go:build linux

package runtime

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// codeMappings lists the executable file mappings of code files in dir
// found in /proc/self/maps, one entry per mapping.
func codeMappings(t *testing.T, dir string) []string {
	t.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		t.Skipf("no /proc/self/maps: %v", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) >= 6 && fs[1] == "r-xp" && filepath.Dir(fs[5]) == dir && strings.HasSuffix(fs[5], ".code") {
			out = append(out, fs[5])
		}
	}
	return out
}

func countOf(list []string, s string) (n int) {
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// TestFileBackedCode: a used guest's machine code runs from a read-only
// mapping of a file in the cache's code folder; a damaged file is
// rewritten before it is mapped, never run; and KeepCodeAnonymous leaves
// the code where wazero put it.
func TestFileBackedCode(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Options{IdleUnload: -1}, map[string]string{"echo": guestWasm(t, echoDir)})
	dir := e.codeDir()
	if why := unsuitableCodeDir(dir); why != "" {
		t.Skipf("code files are not used here (TestUnsuitableCodeDir): %s", why)
	}
	before := codeMappings(t, dir)
	send := func(e *Engine) {
		t.Helper()
		res, err := e.Send(ctx, "echo", benchReq, Call{Scope: "s"})
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK || !strings.Contains(res.Info, benchReq.Title) {
			t.Fatalf("echo answered %+v", res)
		}
		e.codeJobs.Wait() // the move to a file runs in the background
	}
	send(e)
	after := codeMappings(t, dir)
	var path string
	for _, p := range after {
		if countOf(after, p) > countOf(before, p) {
			path = p
		}
	}
	if path == "" {
		t.Fatalf("no new code file mapping under %s after a call; mappings before %v, after %v", dir, before, after)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(good) < minFileBackedCode || len(good)%os.Getpagesize() != 0 {
		t.Fatalf("code file %s is %d bytes; want whole pages, at least %d", path, len(good), minFileBackedCode)
	}
	send(e) // still runs after the first call

	t.Run("damaged file is rewritten", func(t *testing.T) {
		// Replace it the way a crash or a bad disk might leave it, through
		// a rename: other test processes may have the old file mapped.
		bad := append([]byte(nil), good...)
		for i := 0; i < len(bad); i += 4096 {
			bad[i] ^= 0xFF
		}
		tmp := path + ".damaged"
		if err := os.WriteFile(tmp, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		g := e.guests["echo"]
		if !g.pool.unloadIfIdle(ctx, 0, time.Now()) {
			t.Fatal("echo not unloaded")
		}
		send(e) // compiles again and maps the code again
		now, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(now) != string(good) {
			t.Fatal("the damaged code file was not rewritten")
		}
	})

	t.Run("KeepCodeAnonymous", func(t *testing.T) {
		n := countOf(codeMappings(t, dir), path)
		anon := newEngine(t, Options{IdleUnload: -1, KeepCodeAnonymous: true}, map[string]string{"echo": guestWasm(t, echoDir)})
		send(anon)
		if m := countOf(codeMappings(t, dir), path); m != n {
			t.Fatalf("mappings of %s went from %d to %d with KeepCodeAnonymous", path, n, m)
		}
	})
}

// TestPruneCode: code files unused for longer than the limit go, recent
// ones stay.
func TestPruneCode(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for name, age := range map[string]time.Duration{"old.code": 40 * 24 * time.Hour, "new.code": time.Hour, ".code-tmp": 40 * 24 * time.Hour} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	pruneCode(dir, codeMaxAge, now)
	left, _ := filepath.Glob(filepath.Join(dir, "*"))
	dot, _ := filepath.Glob(filepath.Join(dir, ".*"))
	left = append(left, dot...)
	if len(left) != 1 || filepath.Base(left[0]) != "new.code" {
		t.Fatalf("after pruning: %v; want only new.code", left)
	}
}

// TestUnsuitableCodeDir: code files are not written to tmpfs, where they
// would save nothing; a folder that does not exist yet is judged by its
// parent.
func TestUnsuitableCodeDir(t *testing.T) {
	var st unix.Statfs_t
	if err := unix.Statfs("/dev/shm", &st); err != nil || st.Type != unix.TMPFS_MAGIC {
		t.Skip("no tmpfs at /dev/shm")
	}
	if why := unsuitableCodeDir("/dev/shm/moonrelay-not-there/code"); !strings.Contains(why, "tmpfs") {
		t.Errorf("/dev/shm/…: %q; want a tmpfs refusal", why)
	}
	if _, err := fileBackCode("/dev/shm/moonrelay-not-there", make([]byte, 1)); err == nil || !strings.Contains(err.Error(), "tmpfs") {
		t.Errorf("fileBackCode on tmpfs: %v; want a tmpfs refusal", err)
	}
	dir := t.TempDir()
	if err := unix.Statfs(dir, &st); err == nil && st.Type != unix.TMPFS_MAGIC && st.Type != unix.RAMFS_MAGIC && st.Flags&unix.ST_NOEXEC == 0 {
		if why := unsuitableCodeDir(dir); why != "" {
			t.Errorf("%s refused: %s", dir, why)
		}
	}
}

// TestRestoreCode: when mapping the file over the code fails, restoreCode
// puts the same bytes back in anonymous memory, read-only and executable.
func TestRestoreCode(t *testing.T) {
	page := os.Getpagesize()
	region, err := unix.Mmap(-1, 0, 4*page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.MunmapPtr(unsafe.Pointer(&region[0]), uintptr(len(region)))
	want := make([]byte, len(region))
	for i := range want {
		want[i] = byte(i * 7)
	}
	f, err := os.CreateTemp(t.TempDir(), "code")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(want); err != nil {
		t.Fatal(err)
	}
	// As after a failed MAP_FIXED that removed the old pages: nothing.
	if err := unix.Munmap(region); err != nil {
		t.Fatal(err)
	}
	if err := restoreCode(int(f.Fd()), region); err != nil {
		t.Fatal(err)
	}
	if string(region) != string(want) {
		t.Fatal("restored code differs from the file")
	}
	maps, _ := os.ReadFile("/proc/self/maps")
	start := fmt.Sprintf("%x-", uintptr(unsafe.Pointer(&region[0])))
	found := false
	for _, l := range strings.Split(string(maps), "\n") {
		if strings.HasPrefix(l, start) {
			found = true
			if f := strings.Fields(l); len(f) < 2 || f[1] != "r-xp" {
				t.Fatalf("restored region mapped %q; want r-xp", l)
			}
		}
	}
	if !found {
		t.Fatal("restored region not in /proc/self/maps")
	}
}
