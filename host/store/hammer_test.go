package store_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/moonrelay/moonrelay/host/store"
)

// TestHammer has many goroutines append, put, read and delete at once, and
// checks afterwards that ids are unique and ordered and that every
// goroutine's own keys ended as it left them. Run it with -race.
func TestHammer(t *testing.T) {
	const workers, ops = 16, 30
	s := openTemp(t)
	outbox, kv := s.Queue("outbox"), s.Namespace("guest/hammer")

	var mu sync.Mutex
	appended := map[uint64]string{}
	var wg sync.WaitGroup
	errs := make(chan error, workers+1)
	for w := range workers {
		wg.Go(func() {
			var lastID uint64
			for i := range ops {
				value := fmt.Sprintf("w%d-%d", w, i)
				id, err := outbox.Append([]byte(value))
				if err != nil {
					errs <- err
					return
				}
				if id <= lastID {
					errs <- fmt.Errorf("worker %d: id %d after %d", w, id, lastID)
					return
				}
				lastID = id
				mu.Lock()
				appended[id] = value
				mu.Unlock()

				key := fmt.Sprintf("w%02d-k%02d", w, i)
				if err := kv.Put(key, []byte(value)); err != nil {
					errs <- err
					return
				}
				if got, ok, err := kv.Get(key); err != nil || !ok || string(got) != value {
					errs <- fmt.Errorf("worker %d: Get(%s) = %q, %v, %v right after Put", w, key, got, ok, err)
					return
				}
				if i%2 == 1 {
					if err := kv.Delete(key); err != nil {
						errs <- err
						return
					}
				}
				if i%5 == 0 {
					// Deliver: delete one's own oldest item, in a transaction
					// that also records it.
					err := s.Update(func(tx *store.Tx) error {
						q := tx.Queue("outbox")
						if err := tx.Namespace("delivered").Put(fmt.Sprint(id), nil); err != nil {
							return err
						}
						return q.Delete(id)
					})
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					delete(appended, id)
					mu.Unlock()
				}
			}
		})
	}
	// A reader walks the queue the whole time: ids always ascend.
	done := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			var last uint64
			err := outbox.ForEach(func(id uint64, _ []byte) error {
				if id <= last {
					return fmt.Errorf("reader: id %d after %d", id, last)
				}
				last = id
				return nil
			})
			if err != nil {
				errs <- err
				return
			}
		}
	})
	wg.Wait()
	close(done)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	var ids []uint64
	err := outbox.ForEach(func(id uint64, v []byte) error {
		if want, ok := appended[id]; !ok || string(v) != want {
			t.Errorf("outbox item %d = %q, want %q (present: %v)", id, v, want, ok)
		}
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(appended) {
		t.Errorf("outbox holds %d items, want %d", len(ids), len(appended))
	}
	if !slices.IsSorted(ids) {
		t.Errorf("outbox ids out of order: %v", ids)
	}
	var keys []string
	if err := kv.ForEach(func(k string, _ []byte) error { keys = append(keys, k); return nil }); err != nil {
		t.Fatal(err)
	}
	if want := workers * ops / 2; len(keys) != want {
		t.Errorf("namespace holds %d keys, want %d", len(keys), want)
	}
}

// TestHammer_close closes the store while goroutines are writing: each
// call either succeeds or fails with ErrClosed, and nothing races.
func TestHammer_close(t *testing.T) {
	s, err := store.Open(filepath.Join(t.TempDir(), "moonrelay.db"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	started := make(chan struct{})
	var once sync.Once
	for w := range 8 {
		wg.Go(func() {
			n, q := s.Namespace("n"), s.Queue("q")
			for i := 0; ; i++ {
				err := n.Put(fmt.Sprint(w, i), []byte("v"))
				if err == nil {
					_, err = q.Append([]byte("v"))
				}
				if err == nil {
					_, _, err = n.Get(fmt.Sprint(w, i))
				}
				if errors.Is(err, store.ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("worker %d: %v", w, err)
					return
				}
				if i == 3 {
					once.Do(func() { close(started) })
				}
			}
		})
	}
	<-started
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}
