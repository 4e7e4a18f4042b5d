//go:build !linux

package runtime

// newLinearMemory: only Linux maps memory; elsewhere a Go slice.
func newLinearMemory(cap, max uint64) linearMemory { return &sliceMemory{} }

// newMemImage: without memfd the snapshot is a copy.
func newMemImage(name string, mem []byte) memImage { return copyImage(append([]byte(nil), mem...)) }
