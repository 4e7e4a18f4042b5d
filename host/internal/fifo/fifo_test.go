package fifo

import (
	"testing"
	"time"
)

// TestQueue: pushes never block however slow the reader, values come out
// in order, and Close drops the backlog, closes Out and makes Push refuse.
func TestQueue(t *testing.T) {
	q := New[int]()
	for i := range 1000 { // nobody reads yet: must not block
		if n := q.Push(i); n != i+1 && n != i { // one may already sit in the goroutine
			t.Fatalf("push %d reported backlog %d", i, n)
		}
	}
	for want := range 1000 {
		select {
		case got := <-q.Out():
			if got != want {
				t.Fatalf("got %d, want %d", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("value %d never arrived", want)
		}
	}
	q.Push(1)
	q.Push(2)
	q.Close()
	q.Close() // twice is fine
	for range q.Out() {
	} // closed: the loop ends
	if n := q.Push(3); n != -1 {
		t.Fatalf("push after close = %d, want -1", n)
	}
}
