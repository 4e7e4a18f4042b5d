//go:build linux

package runtime

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"
	"unsafe"
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

// ownedPages counts the pages of inst's memory image range that are its
// own (written, not the snapshot's shared pages).
func ownedPages(t *testing.T, p *pool, inst *instance) int {
	t.Helper()
	m, ok := inst.lin.(*mappedMemory)
	img, ok2 := p.snap.img.(*memfdImage)
	if !ok || !ok2 || img.pagemap == nil {
		t.Skip("no mapped memory, memfd image or pagemap here")
	}
	page := uint64(os.Getpagesize())
	vec := make([]byte, 8*img.n/page)
	if !img.owned(uintptr(unsafe.Pointer(&m.bytes()[0])), page, vec) {
		t.Skip("pagemap unreadable")
	}
	n := 0
	for i := range int(img.n / page) {
		if pageOwned(vec, i) {
			n++
		}
	}
	return n
}

// TestIdleTrim: trimming an idle guest drops its instance's own pages
// (they read as the snapshot's again), runs once per idle spell, and the
// next calls answer exactly as before it.
func TestIdleTrim(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, Options{IdleUnload: -1, IdleTrim: -1}, map[string]string{"echo": guestWasm(t, echoDir)})
	send := func() string {
		t.Helper()
		res, err := e.Send(ctx, "echo", benchReq, Call{Scope: "s"})
		if err != nil || !res.OK {
			t.Fatalf("send: %+v %v", res, err)
		}
		return res.Info
	}
	want := send()
	p := e.guests["echo"].pool
	p.mu.Lock()
	inst := p.idle[0]
	p.mu.Unlock()
	before := ownedPages(t, p, inst)
	if before == 0 {
		t.Fatal("a call left no pages of its own: nothing to trim, the test proves nothing")
	}
	if p.trimIfIdle(time.Hour, time.Now()) {
		t.Fatal("trimmed a guest used just now")
	}
	if !p.trimIfIdle(0, time.Now()) {
		t.Fatal("idle guest not trimmed")
	}
	if after := ownedPages(t, p, inst); after != 0 {
		t.Fatalf("%d of %d own pages left after the trim", after, before)
	}
	if p.trimIfIdle(0, time.Now()) {
		t.Fatal("trimmed twice in one idle spell")
	}
	for range 3 {
		if got := send(); got != want {
			t.Fatalf("after the trim echo answered %q, before %q", got, want)
		}
	}
	if !p.trimIfIdle(0, time.Now()) {
		t.Fatal("not trimmed again after new calls")
	}
}
