//go:build linux

package runtime

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mappedMemory reserves a guest's maximum memory as one private anonymous
// mapping (no swap reserved, no page used until written). Once restored
// from a memfdImage, its first image-sized part is a private mapping of the
// image's memfd instead: pages only read stay the shared page-cache pages of
// the image, pages written become the instance's own.
type mappedMemory struct {
	mu     sync.Mutex
	buf    []byte // the whole reservation, from unix.Mmap
	size   uint64
	page   uint64
	mapped *memfdImage // the image mapped over buf, or nil
	vec    []byte      // mincore / pagemap scratch
}

// newLinearMemory reserves max bytes of address space (at least cap), or
// returns a sliceMemory when the reservation fails.
func newLinearMemory(capacity, maximum uint64) linearMemory {
	n := max(maximum, capacity)
	if n == 0 || n > 4<<30 {
		return &sliceMemory{}
	}
	buf, err := unix.Mmap(-1, 0, int(n), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return &sliceMemory{}
	}
	return &mappedMemory{buf: buf, page: uint64(os.Getpagesize())}
}

// Reallocate implements experimental.LinearMemory: the reservation never
// moves, so growing is only a longer slice of it.
func (m *mappedMemory) Reallocate(size uint64) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buf == nil || size > uint64(len(m.buf)) {
		return nil
	}
	m.size = size
	return m.buf[:size:size]
}

// Free implements experimental.LinearMemory. wazero calls it when the
// module is closed, never while its code runs (the engine waits for its
// calls before closing runtimes).
func (m *mappedMemory) Free() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buf != nil {
		_ = unix.Munmap(m.buf)
		m.buf = nil
	}
}

func (m *mappedMemory) bytes() []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buf == nil {
		return nil
	}
	return m.buf[:m.size]
}

// trim drops the instance's own copies of image pages (MADV_DONTNEED on
// the private mapping of the image): after a restore they equal the image,
// and dropped they read as the image's shared pages again. The next call
// pays a page fault for each page it writes. Without the image mapped the
// pages would read as zero instead, so then nothing is dropped.
func (m *mappedMemory) trim() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buf == nil || m.mapped == nil {
		return
	}
	_ = unix.Madvise(m.buf[:m.mapped.n], unix.MADV_DONTNEED)
}

// scratch returns m.vec with at least n bytes.
func (m *mappedMemory) scratch(n int) []byte {
	if cap(m.vec) < n {
		m.vec = make([]byte, n)
	}
	return m.vec[:n]
}

// zeroFrom clears [off, size): pages the kernel reports resident are
// cleared in place (no page fault on their next use), every other page is
// dropped with MADV_DONTNEED, which makes it read as zero. What mincore
// reports only chooses between the two; either way the range ends zero.
func (m *mappedMemory) zeroFrom(off, size uint64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buf == nil || size > uint64(len(m.buf)) || off > size {
		return errMemoryRange
	}
	// Clear the partial page at the start by hand.
	start := min((off+m.page-1)/m.page*m.page, size)
	clear(m.buf[off:start])
	if start == size {
		return nil
	}
	end := min((size+m.page-1)/m.page*m.page, uint64(len(m.buf)))
	pages := int((end - start + m.page - 1) / m.page)
	vec := m.scratch(pages)
	if err := mincore(m.buf[start:end], vec); err != nil {
		clear(vec) // unknown: drop everything
	}
	for i := 0; i < pages; {
		j := i
		for j < pages && vec[j]&1 == vec[i]&1 {
			j++
		}
		lo, hi := start+uint64(i)*m.page, min(start+uint64(j)*m.page, end)
		if vec[i]&1 == 1 {
			clear(m.buf[lo:min(hi, size)])
		} else if err := unix.Madvise(m.buf[lo:hi], unix.MADV_DONTNEED); err != nil {
			return fmt.Errorf("dropping grown pages: %w", err)
		}
		i = j
	}
	return nil
}

// restoreImage makes the first img.n bytes equal the image. The first time
// it maps the image's memfd over them (MAP_PRIVATE|MAP_FIXED: nothing is
// copied). Later it asks /proc/self/pagemap which pages the instance owns
// (written since, so copied-on-write, or swapped out) and copies the image
// back over those only; every page still mapping the image is unchanged by
// definition. Without pagemap it copies the whole image.
func (m *mappedMemory) restoreImage(img *memfdImage) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buf == nil || img.n > uint64(len(m.buf)) || img.n > m.size {
		return errMemoryRange
	}
	if m.mapped != img {
		if _, err := unix.MmapPtr(img.fd, 0, unsafe.Pointer(&m.buf[0]), uintptr(img.n),
			unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_FIXED); err != nil {
			return fmt.Errorf("mapping the snapshot: %w", err)
		}
		m.mapped = img
		return nil
	}
	pages := int(img.n / m.page)
	vec := m.scratch(8 * pages)
	if !img.owned(uintptr(unsafe.Pointer(&m.buf[0])), m.page, vec) {
		copy(m.buf[:img.n], img.ro)
		return nil
	}
	for i := 0; i < pages; {
		if !pageOwned(vec, i) {
			i++
			continue
		}
		j := i + 1
		for j < pages && pageOwned(vec, j) {
			j++
		}
		lo, hi := uint64(i)*m.page, uint64(j)*m.page
		copy(m.buf[lo:hi], img.ro[lo:hi])
		i = j
	}
	return nil
}

// pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst).
const (
	pmPresent = 1 << 63
	pmSwapped = 1 << 62
	pmFile    = 1 << 61
)

// pageOwned reports whether entry i of a pagemap read is a page that may
// differ from the mapped file: present but not the file's page (written,
// copied on write), or swapped out. Anything unusual counts as owned, so
// the restore errs on the side of copying.
func pageOwned(vec []byte, i int) bool {
	e := binary.LittleEndian.Uint64(vec[8*i:])
	if e&pmPresent != 0 {
		return e&pmFile == 0
	}
	return e&pmSwapped != 0
}

// memfdImage is a snapshot's memory in a sealed, anonymous in-memory file
// (memfd; all-zero pages are left as holes), with one read-only shared
// mapping of it to copy from.
type memfdImage struct {
	fd      int
	n       uint64
	ro      []byte
	pagemap *os.File // /proc/self/pagemap, nil when unreadable
	once    sync.Once
}

// newMemImage writes mem into a sealed memfd; where that is impossible it
// falls back to a copyImage.
func newMemImage(name string, mem []byte) memImage {
	img, err := newMemfdImage(name, mem)
	if err != nil {
		return copyImage(append([]byte(nil), mem...))
	}
	return img
}

func newMemfdImage(name string, mem []byte) (*memfdImage, error) {
	fd, err := unix.MemfdCreate("moonrelay-snapshot-"+name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	fail := func(err error) (*memfdImage, error) { _ = unix.Close(fd); return nil, err }
	if err := unix.Ftruncate(fd, int64(len(mem))); err != nil {
		return fail(err)
	}
	page := os.Getpagesize()
	for off := 0; off < len(mem); off += page {
		p := mem[off:min(off+page, len(mem))]
		if allZero(p) {
			continue
		}
		if _, err := unix.Pwrite(fd, p, int64(off)); err != nil {
			return fail(err)
		}
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS,
		unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		return fail(err)
	}
	ro, err := unix.Mmap(fd, 0, len(mem), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return fail(err)
	}
	img := &memfdImage{fd: fd, n: uint64(len(mem)), ro: ro}
	if f, err := os.Open("/proc/self/pagemap"); err == nil {
		img.pagemap = f
	}
	return img, nil
}

func (img *memfdImage) size() uint64 { return img.n }

// trim unmaps the pages of the read-only mapping restores copied from;
// the memfd keeps them, and the next restore maps them again.
func (img *memfdImage) trim() { _ = unix.Madvise(img.ro, unix.MADV_DONTNEED) }

func (img *memfdImage) restoreInto(lin linearMemory) error {
	if m, ok := lin.(*mappedMemory); ok {
		return m.restoreImage(img)
	}
	b := lin.bytes()
	if uint64(len(b)) < img.n {
		return errMemoryRange
	}
	copy(b, img.ro)
	return nil
}

// owned reads the pagemap entries of the image-sized range at addr into
// vec (8 bytes a page); false when pagemap cannot be read.
func (img *memfdImage) owned(addr uintptr, page uint64, vec []byte) bool {
	if img.pagemap == nil {
		return false
	}
	n, err := img.pagemap.ReadAt(vec, int64(uint64(addr)/page*8))
	return err == nil && n == len(vec)
}

// close releases the file and the read-only mapping; instance mappings of
// the file stay valid until they are unmapped.
func (img *memfdImage) close() {
	img.once.Do(func() {
		_ = unix.Munmap(img.ro)
		_ = unix.Close(img.fd)
		if img.pagemap != nil {
			_ = img.pagemap.Close()
		}
	})
}

// mincore fills vec with one byte per page of b, bit 0 set when resident.
func mincore(b, vec []byte) error {
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if e != 0 {
		return e
	}
	return nil
}

func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
