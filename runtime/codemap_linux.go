//go:build linux

package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// minFileBackedCode is the smallest machine code worth a file: below it
// the anonymous pages cost less than the file and the mapping.
const minFileBackedCode = 256 << 10

// fileBackCode writes code (wazero's machine code of one module, see
// internals.go) to dir, named by two CRC-32s and its length, and maps that
// file read-only over code's pages. An existing file is used only after it
// compared equal byte for byte, so a damaged cache file, or one of another
// module whose checksums collide, is replaced, never run. (The name only
// finds the file, the comparison is the check: CRCs take 1.2 ms for 14 MiB
// here, SHA-256 8.8 ms.) code must stay mapped by wazero for the duration
// (its module is open and the caller holds an instance of it). It returns
// the file's path.
func fileBackCode(dir string, code []byte) (string, error) {
	if inMemoryFS(dir) {
		// The file's pages would be memory that no one can reclaim, as
		// much of it as the anonymous pages: only RSS would look smaller.
		return "", fmt.Errorf("%s is on an in-memory file system (tmpfs): a code file there saves no memory", dir)
	}
	page := os.Getpagesize()
	start := uintptr(unsafe.Pointer(&code[0]))
	if start%uintptr(page) != 0 {
		return "", fmt.Errorf("machine code at %#x is not page-aligned", start)
	}
	// The mapping wazero made covers whole pages; so does the file.
	n := (len(code) + page - 1) / page * page
	region := unsafe.Slice(&code[0], n)
	name := fmt.Sprintf("%08x%08x-%d.code", crc32.Checksum(region, castagnoli), crc32.ChecksumIEEE(region), n)
	path := filepath.Join(dir, name)
	f, err := openSame(path, region)
	if err != nil {
		if f, err = writeCode(dir, path, region); err != nil {
			return "", err
		}
	}
	defer f.Close()
	_, err = unix.MmapPtr(int(f.Fd()), 0, unsafe.Pointer(&code[0]), uintptr(n),
		unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_FIXED)
	if err != nil {
		return "", fmt.Errorf("mapping %s over the machine code: %w", path, err)
	}
	// Keep what is resident close to the code calls run. A fault maps what
	// the page cache holds around the faulting page: on ext4, the large
	// folios the write or readahead left, ~270 KiB per fault. With the
	// file's cached pages dropped (those no mapping uses) and readahead
	// told the access is random, a fault brings in ~64 KiB (the kernel
	// still reads ahead a little for executable mappings). Measured for
	// the 18 transports: 4.7 instead of 5.3 MiB of code each. The price is
	// a disk read per fault until the pages are cached again: ~20 ms on a
	// guest's first call after it was loaded.
	_ = unix.Madvise(region, unix.MADV_RANDOM)
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	// Touching the file's time keeps it from the cache's pruning.
	now := time.Now()
	_ = os.Chtimes(path, now, now)
	return path, nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// inMemoryFS reports whether dir (or, before it exists, its parent) is on
// tmpfs or ramfs, whose pages are memory, not a disk's cache.
func inMemoryFS(dir string) bool {
	var st unix.Statfs_t
	for d := dir; ; d = filepath.Dir(d) {
		if err := unix.Statfs(d, &st); err == nil {
			return st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC
		}
		if d == filepath.Dir(d) {
			return false
		}
	}
}

// openSame opens path when its content equals want. It compares through
// a read-only mapping of the file: no copy of its pages.
func openSame(path string, want []byte) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != int64(len(want)) {
		f.Close()
		return nil, errors.New("size differs")
	}
	got, err := unix.Mmap(int(f.Fd()), 0, len(want), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		f.Close()
		return nil, err
	}
	same := bytes.Equal(got, want)
	_ = unix.Munmap(got)
	if !same {
		f.Close()
		return nil, errors.New("content differs")
	}
	return f, nil
}

// writeCode writes content to path through a temporary file and a rename:
// a mapped file is never rewritten in place, so code already mapped from an
// older file with that name keeps its pages.
func writeCode(dir, path string, content []byte) (*os.File, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".code-*")
	if err != nil {
		return nil, err
	}
	// Synced so that its page cache is clean and can be dropped (see
	// fileBackCode).
	_, err = tmp.Write(content)
	if err == nil {
		err = tmp.Sync()
	}
	if err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return nil, err
	}
	return tmp, nil
}

// pruneCode removes code files in dir not used for maxAge: left by guests
// that changed or are gone.
func pruneCode(dir string, maxAge time.Duration, now time.Time) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && now.Sub(fi.ModTime()) > maxAge {
			// A file still mapped by a running process keeps its pages.
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}
