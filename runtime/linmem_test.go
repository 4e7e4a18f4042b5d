package runtime

import (
	"bytes"
	"testing"
)

// TestZeroFrom: whatever pages of the range were written (or never
// touched), zeroFrom leaves every byte from off to size zero and the bytes
// before off alone, for the mapped and the slice memory.
func TestZeroFrom(t *testing.T) {
	const size = 1 << 20
	for _, tc := range []struct {
		name   string
		off    uint64
		writes []uint64 // offsets (>= off) written with 0xAA before zeroFrom
	}{
		{"page aligned, some pages written", 256 << 10, []uint64{256 << 10, 300 << 10, size - 1}},
		{"mid-page start", 256<<10 + 100, []uint64{256<<10 + 100, 256<<10 + 4000, 512 << 10}},
		{"nothing written", 128 << 10, nil},
		{"everything written", 64 << 10, func() []uint64 {
			var w []uint64
			for o := uint64(64 << 10); o < size; o += 512 {
				w = append(w, o)
			}
			return w
		}()},
		{"empty range", size, nil},
	} {
		for _, kind := range []string{"mapped", "slice"} {
			t.Run(tc.name+"/"+kind, func(t *testing.T) {
				var m linearMemory = &sliceMemory{}
				if kind == "mapped" {
					m = newLinearMemory(size, 4*size)
				}
				defer m.Free()
				b := m.Reallocate(size)
				if len(b) != size {
					t.Fatalf("Reallocate gave %d bytes", len(b))
				}
				for i := range b[:tc.off] {
					b[i] = 0x55
				}
				for _, o := range tc.writes {
					b[o] = 0xAA
				}
				if err := m.zeroFrom(tc.off, size); err != nil {
					t.Fatal(err)
				}
				if i := bytes.IndexFunc(b[tc.off:], func(r rune) bool { return r != 0 }); i >= 0 {
					t.Fatalf("byte %d not zero after zeroFrom", tc.off+uint64(i))
				}
				if bytes.Count(b[:tc.off], []byte{0x55}) != int(tc.off) {
					t.Fatal("bytes before off changed")
				}
				// Growing keeps the contents (no copy for mapped memory).
				g := m.Reallocate(2 * size)
				if len(g) != 2*size || (tc.off > 0 && g[0] != 0x55) {
					t.Fatalf("grown memory lost its contents")
				}
			})
		}
	}
}
