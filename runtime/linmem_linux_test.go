//go:build linux

package runtime

import (
	"bytes"
	"math/rand/v2"
	"os"
	"testing"
)

// TestRestoreImage: after an instance wrote anywhere in its mapped
// snapshot, restoreImage brings back the snapshot's exact bytes, with
// /proc/self/pagemap telling which pages to copy and without it.
func TestRestoreImage(t *testing.T) {
	page := os.Getpagesize()
	const size = 1 << 20
	snap := make([]byte, size)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range snap {
		if (i/page)%3 != 0 { // every third page stays zero: a hole in the memfd
			snap[i] = byte(rng.Uint32())
		}
	}
	for _, pagemap := range []bool{true, false} {
		name := "pagemap"
		if !pagemap {
			name = "no pagemap"
		}
		t.Run(name, func(t *testing.T) {
			img, err := newMemfdImage("test", snap)
			if err != nil {
				t.Skipf("no memfd here: %v", err)
			}
			defer img.close()
			if !pagemap && img.pagemap != nil {
				img.pagemap.Close()
				img.pagemap = nil
			}
			m := newLinearMemory(size, 4*size).(*mappedMemory)
			defer m.Free()
			b := m.Reallocate(size)
			copy(b, "garbage left by instantiation")
			for round := range 4 {
				if err := img.restoreInto(m); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, snap) {
					t.Fatalf("round %d: memory differs from the snapshot after restore", round)
				}
				// A call writes a few pages, zero and non-zero ones, and
				// reads others.
				for i := 0; i < 40; i++ {
					off := rng.IntN(size)
					b[off] ^= 0xFF
					_ = b[rng.IntN(size)]
				}
			}
		})
	}
}
