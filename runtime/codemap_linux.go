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
// file read-only over code's pages. An existing file is mapped only after
// it read back equal byte for byte, so a damaged cache file, or one of
// another module whose checksums collide, is replaced, not run. (The name
// only finds the file, the comparison is the check: CRCs take 1.2 ms for
// 14 MiB here, SHA-256 8.8 ms.) Pages the kernel reads again later, after
// reclaiming them, are not checked again: like wazero's own cache, the
// folder must stay private to moonrelay's user and its files unchanged
// (they are written read-only and replaced only by rename).
//
// code must stay mapped by wazero for the duration: the caller holds an
// instance of its module. It returns the file's path.
func fileBackCode(dir string, code []byte) (string, error) {
	if why := unsuitableCodeDir(dir); why != "" {
		return "", errors.New(why)
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
	fd := int(f.Fd())
	// A trial mapping where the kernel likes: a file system that refuses
	// executable mappings, or any other mmap failure, shows here, before
	// anything of wazero's is touched.
	trial, err := unix.Mmap(fd, 0, n, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE)
	if err != nil {
		return "", fmt.Errorf("mapping %s: %w", path, err)
	}
	_ = unix.Munmap(trial)
	if _, err := unix.MmapPtr(fd, 0, unsafe.Pointer(&code[0]), uintptr(n),
		unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
		// The kernel may have removed the old pages before failing. Put
		// the code back from the file (equal to it, checked above); if
		// even that fails the next call would jump into nothing.
		if rerr := restoreCode(fd, region); rerr != nil {
			panic(fmt.Sprintf("moonrelay: mapping %s over a guest's machine code failed (%v) and restoring the code failed (%v); stopping rather than running missing code", path, err, rerr))
		}
		return "", fmt.Errorf("mapping %s over the machine code: %w", path, err)
	}
	// Keep what is resident close to the code calls run. A fault maps what
	// the page cache holds around the faulting page: on ext4, the large
	// folios the write or readahead left, ~270 KiB per fault. With the
	// file's cached pages dropped (those no mapping uses) and readahead
	// told the access is random, a fault brings in ~64 KiB (the kernel
	// still reads ahead a little for executable mappings). Measured for
	// the 18 transports: 4.7 instead of 5.3 MiB of code each. The price is
	// disk reads while a guest's first calls bring in their pages.
	_ = unix.Madvise(region, unix.MADV_RANDOM)
	_ = unix.Fadvise(fd, 0, 0, unix.FADV_DONTNEED)
	// Touching the file's time keeps it from the cache's pruning.
	now := time.Now()
	_ = os.Chtimes(path, now, now)
	return path, nil
}

// restoreCode maps fresh anonymous memory over region and fills it from
// the code file, read-only and executable again as wazero left it.
func restoreCode(fd int, region []byte) error {
	if _, err := unix.MmapPtr(-1, 0, unsafe.Pointer(&region[0]), uintptr(len(region)),
		unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_FIXED); err != nil {
		return err
	}
	if err := preadFull(fd, region, 0); err != nil {
		return err
	}
	return unix.Mprotect(region, unix.PROT_READ|unix.PROT_EXEC)
}

// unsuitableCodeDir says why code files in dir would not work or not
// help, or "" when they would.
func unsuitableCodeDir(dir string) string {
	var st unix.Statfs_t
	for d := dir; ; d = filepath.Dir(d) {
		if err := unix.Statfs(d, &st); err == nil {
			break
		}
		if d == filepath.Dir(d) {
			return ""
		}
	}
	switch {
	case st.Type == unix.TMPFS_MAGIC || st.Type == unix.RAMFS_MAGIC:
		// The file's pages would be memory nobody can reclaim, as much
		// of it as the anonymous pages: only RSS would look smaller.
		return dir + " is on an in-memory file system (tmpfs): a code file there saves no memory"
	case st.Flags&unix.ST_NOEXEC != 0:
		return dir + " is on a file system mounted noexec: code cannot run from files there"
	}
	return ""
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// openSame opens path when its content equals want, read with pread (an
// I/O error is an error here, where a read through a mapping would be a
// SIGBUS).
func openSame(path string, want []byte) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	if fi, err := f.Stat(); err != nil || fi.Size() != int64(len(want)) {
		f.Close()
		return nil, errors.New("size differs")
	}
	buf := make([]byte, 256<<10)
	for off := 0; off < len(want); off += len(buf) {
		chunk := buf[:min(len(buf), len(want)-off)]
		if err := preadFull(int(f.Fd()), chunk, int64(off)); err != nil || !bytes.Equal(chunk, want[off:off+len(chunk)]) {
			f.Close()
			return nil, errors.New("content differs")
		}
	}
	return f, nil
}

// preadFull fills b from fd at off.
func preadFull(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := unix.Pread(fd, b, off)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			return errors.New("unexpected end of file")
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
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
	if err == nil {
		err = tmp.Chmod(0o400) // never rewritten in place, not even by us
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
