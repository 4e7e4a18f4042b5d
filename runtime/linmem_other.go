//go:build !linux

package runtime

// newLinearMemory: only Linux maps memory; elsewhere a Go slice.
func newLinearMemory(cap, max uint64) linearMemory { return &sliceMemory{} }
