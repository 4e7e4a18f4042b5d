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
}

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

func (m *sliceMemory) zeroFrom(off, size uint64) error {
	if size > uint64(len(m.b)) || off > size {
		return errMemoryRange
	}
	clear(m.b[off:size])
	return nil
}
