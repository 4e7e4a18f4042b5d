//go:build linux

package runtime

import (
	"fmt"
	"os"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mappedMemory reserves a guest's maximum memory as one private anonymous
// mapping (no swap reserved, no page used until written).
type mappedMemory struct {
	mu   sync.Mutex
	buf  []byte // the whole reservation, from unix.Mmap
	vec  []byte // mincore scratch
	page uint64
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
	start := (off + m.page - 1) / m.page * m.page
	if start > size {
		start = size
	}
	clear(m.buf[off:start])
	if start == size {
		return nil
	}
	end := (size + m.page - 1) / m.page * m.page // the reservation is page-aligned
	pages := int((end - start) / m.page)
	if cap(m.vec) < pages {
		m.vec = make([]byte, pages)
	}
	vec := m.vec[:pages]
	if err := mincore(m.buf[start:end], vec); err != nil {
		clear(vec) // unknown: drop everything
	}
	for i := 0; i < pages; {
		j := i
		for j < pages && vec[j]&1 == vec[i]&1 {
			j++
		}
		lo, hi := start+uint64(i)*m.page, min(start+uint64(j)*m.page, size)
		if vec[i]&1 == 1 {
			clear(m.buf[lo:hi])
		} else if err := unix.Madvise(m.buf[lo:start+uint64(j)*m.page], unix.MADV_DONTNEED); err != nil {
			return fmt.Errorf("dropping grown pages: %w", err)
		}
		i = j
	}
	return nil
}

// mincore fills vec with one byte per page of b, bit 0 set when resident.
func mincore(b, vec []byte) error {
	_, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(unsafe.Pointer(unsafe.SliceData(vec))))
	if e != 0 {
		return e
	}
	return nil
}
