package store_test

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/moonrelay/moonrelay/host/store"
)

// items lists a queue's ids and values in ForEach order.
func items(t *testing.T, q *store.Queue) (ids []uint64, values []string) {
	t.Helper()
	err := q.ForEach(func(id uint64, v []byte) error {
		ids = append(ids, id)
		values = append(values, string(v))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, values
}

func TestQueue(t *testing.T) {
	path := filepath.Join(t.TempDir(), "moonrelay.db")
	s, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	q := s.Queue("outbox")

	steps := []struct {
		name       string
		do         func() error
		wantIDs    []uint64
		wantValues []string
	}{
		{"empty", func() error { return nil }, nil, nil},
		{"append three", func() error {
			for i, v := range []string{"a", "b", "c"} {
				id, err := q.Append([]byte(v))
				if err != nil {
					return err
				}
				if id != uint64(i+1) {
					return fmt.Errorf("Append(%q) id = %d, want %d", v, id, i+1)
				}
			}
			return nil
		}, []uint64{1, 2, 3}, []string{"a", "b", "c"}},
		{"replace", func() error { return q.Replace(2, []byte("b, attempt 2")) },
			[]uint64{1, 2, 3}, []string{"a", "b, attempt 2", "c"}},
		{"delete", func() error { return q.Delete(1) }, []uint64{2, 3}, []string{"b, attempt 2", "c"}},
		{"delete missing", func() error { return q.Delete(1) }, []uint64{2, 3}, []string{"b, attempt 2", "c"}},
		{"replace deleted", func() error {
			if err := q.Replace(1, []byte("back")); !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("Replace(deleted) = %v, want ErrNotFound", err)
			}
			return nil
		}, []uint64{2, 3}, []string{"b, attempt 2", "c"}},
		{"ids grow after deleting all", func() error {
			for _, id := range []uint64{2, 3} {
				if err := q.Delete(id); err != nil {
					return err
				}
			}
			id, err := q.Append([]byte("d"))
			if id != 4 {
				return fmt.Errorf("Append id = %d, %v; want 4", id, err)
			}
			return err
		}, []uint64{4}, []string{"d"}},
		{"ids grow across reopen", func() error {
			if err := s.Close(); err != nil {
				return err
			}
			if s, err = store.Open(path); err != nil {
				return err
			}
			q = s.Queue("outbox")
			id, err := q.Append([]byte("e"))
			if id != 5 {
				return fmt.Errorf("Append id = %d, %v; want 5", id, err)
			}
			return err
		}, []uint64{4, 5}, []string{"d", "e"}},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if err := st.do(); err != nil {
				t.Fatal(err)
			}
			ids, values := items(t, q)
			if !slices.Equal(ids, st.wantIDs) || !slices.Equal(values, st.wantValues) {
				t.Errorf("items = %v %q, want %v %q", ids, values, st.wantIDs, st.wantValues)
			}
		})
	}
}

func TestQueue_Get(t *testing.T) {
	s := openTemp(t)
	q := s.Queue("outbox")
	if _, err := q.Append([]byte("first")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id     uint64
		want   string
		wantOK bool
	}{
		{1, "first", true},
		{0, "", false},
		{2, "", false},
	}
	for _, tc := range tests {
		got, ok, err := q.Get(tc.id)
		if err != nil || ok != tc.wantOK || string(got) != tc.want {
			t.Errorf("Get(%d) = %q, %v, %v; want %q, %v, nil", tc.id, got, ok, err, tc.want, tc.wantOK)
		}
	}
	if _, ok, err := s.Queue("none").Get(1); ok || err != nil {
		t.Errorf("Get on a missing queue = %v, %v; want false, nil", ok, err)
	}
}

func TestQueue_Trim(t *testing.T) {
	tests := []struct {
		name        string
		items, keep int
		wantDeleted int
		wantIDs     []uint64
	}{
		{"keep fewer", 5, 2, 3, []uint64{4, 5}},
		{"keep all", 3, 3, 0, []uint64{1, 2, 3}},
		{"keep more", 2, 10, 0, []uint64{1, 2}},
		{"keep none", 3, 0, 3, nil},
		{"negative keep", 2, -1, 2, nil},
		{"empty queue", 0, 1, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTemp(t)
			q := s.Queue("history/phone")
			for range tc.items {
				if _, err := q.Append([]byte("delivery")); err != nil {
					t.Fatal(err)
				}
			}
			deleted, err := q.Trim(tc.keep)
			if err != nil || deleted != tc.wantDeleted {
				t.Errorf("Trim(%d) = %d, %v; want %d, nil", tc.keep, deleted, err, tc.wantDeleted)
			}
			if ids, _ := items(t, q); !slices.Equal(ids, tc.wantIDs) {
				t.Errorf("ids = %v, want %v", ids, tc.wantIDs)
			}
		})
	}

	t.Run("ring in one Update", func(t *testing.T) {
		s := openTemp(t)
		for i := range 10 {
			err := s.Update(func(tx *store.Tx) error {
				q := tx.Queue("history/phone")
				if _, err := q.Append(fmt.Appendf(nil, "delivery %d", i)); err != nil {
					return err
				}
				_, err := q.Trim(3)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		ids, values := items(t, s.Queue("history/phone"))
		if want := []uint64{8, 9, 10}; !slices.Equal(ids, want) {
			t.Errorf("ids = %v, want %v", ids, want)
		}
		if want := []string{"delivery 7", "delivery 8", "delivery 9"}; !slices.Equal(values, want) {
			t.Errorf("values = %q, want %q", values, want)
		}
	})
}

func TestQueue_ForEach(t *testing.T) {
	s := openTemp(t)
	q := s.Queue("outbox")
	for _, v := range []string{"a", "b", "c"} {
		if _, err := q.Append([]byte(v)); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("fn may delete as it delivers", func(t *testing.T) {
		var delivered []string
		err := q.ForEach(func(id uint64, v []byte) error {
			delivered = append(delivered, string(v))
			return q.Delete(id)
		})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"a", "b", "c"}; !slices.Equal(delivered, want) {
			t.Errorf("delivered %q, want %q", delivered, want)
		}
		if ids, _ := items(t, q); len(ids) != 0 {
			t.Errorf("ids left = %v, want none", ids)
		}
	})

	t.Run("error stops and is returned unchanged", func(t *testing.T) {
		for range 2 {
			if _, err := q.Append([]byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		errStop := errors.New("stop")
		calls := 0
		if err := q.ForEach(func(uint64, []byte) error { calls++; return errStop }); err != errStop || calls != 1 {
			t.Errorf("ForEach = %v after %d calls, want errStop after 1", err, calls)
		}
	})

	t.Run("name shared with a namespace", func(t *testing.T) {
		if err := s.Namespace("mixed").Put("name", []byte("v")); err != nil {
			t.Fatal(err)
		}
		err := s.Queue("mixed").ForEach(func(uint64, []byte) error { return nil })
		if err == nil {
			t.Error("ForEach over string keys succeeded, want an error")
		}
	})
}
