package runtime

// linearMemory is the memory behind a guest instance when the platform can
// map memory (Linux): see linmem_linux.go. Elsewhere instances use a Go
// slice that is copied when it grows (sliceMemory).
//
// Owning the memory buys two things. The guest's whole maximum (its memory
// limit) is reserved up front as address space only, so growing never
// moves or copies the memory. And a restore can clear what a call wrote
// past the snapshot without touching pages the call never used.
type linearMemory interface {
	// Reallocate and Free implement experimental.LinearMemory.
	Reallocate(size uint64) []byte
	Free()
	// zeroFrom makes every byte from off to size read as zero again.
	zeroFrom(off, size uint64) error
	// bytes is the memory at its current length.
	bytes() []byte
	// trim lets the kernel take back the pages a restore left equal to
	// the snapshot image mapped under them; they read the same after. A
	// memory without a mapped image keeps everything.
	trim()
}

// memImage is a snapshot's memory as instances restore from it: a copy
// (copyImage), or on Linux a sealed memfd that instances map copy-on-write
// (memfdImage, linmem_linux.go).
type memImage interface {
	// size is the image's length in bytes.
	size() uint64
	// restoreInto makes the first size() bytes of lin equal the image.
	restoreInto(lin linearMemory) error
	// trim lets the kernel take back pages the host mapped to read the
	// image; it reads them again when needed.
	trim()
	close()
}

// copyImage is a snapshot's memory kept as a Go slice and copied back
// whole on every restore.
type copyImage []byte

func (c copyImage) size() uint64 { return uint64(len(c)) }

func (c copyImage) restoreInto(lin linearMemory) error {
	b := lin.bytes()
	if len(b) < len(c) {
		return errMemoryRange
	}
	copy(b, c)
	return nil
}

func (c copyImage) close() {}

func (c copyImage) trim() {}

// sliceMemory is the fallback memory where none can be mapped: a Go slice,
// copied when it grows, as wazero does by default.
type sliceMemory struct{ b []byte }

// Reallocate implements experimental.LinearMemory.
func (m *sliceMemory) Reallocate(size uint64) []byte {
	if size > uint64(cap(m.b)) {
		m.b = append(m.b[:cap(m.b)], make([]byte, size-uint64(cap(m.b)))...)
	}
	m.b = m.b[:size]
	return m.b
}

// Free implements experimental.LinearMemory.
func (m *sliceMemory) Free() { m.b = nil }

func (m *sliceMemory) bytes() []byte { return m.b }

func (m *sliceMemory) trim() {}

func (m *sliceMemory) zeroFrom(off, size uint64) error {
	if size > uint64(len(m.b)) || off > size {
		return errMemoryRange
	}
	clear(m.b[off:size])
	return nil
}
